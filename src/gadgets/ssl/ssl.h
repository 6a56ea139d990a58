/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Wire format of the ssl gadget, shared by ssl.bpf.c and ssl.c. */
#ifndef LOUPE_SSL_H
#define LOUPE_SSL_H

#include "loupe_types.h"

/*
 * A call's plaintext travels in records of at most SSL_CHUNK bytes; user space
 * joins them back into one event.  SSL_MAX_CHUNKS bounds the kernel loop and
 * so the largest --data-size.
 */
#define SSL_CHUNK	 16384
#define SSL_MAX_CHUNKS	 128
#define SSL_MAX_DATA	 (SSL_CHUNK * SSL_MAX_CHUNKS)
#define SSL_DEFAULT_DATA (1024 * 1024)

enum ssl_op {
	SSL_OP_READ = 0,	/* SSL_read */
	SSL_OP_WRITE,		/* SSL_write */
	SSL_OP_READ_EX,		/* SSL_read_ex */
	SSL_OP_WRITE_EX,	/* SSL_write_ex */
	SSL_OP_HANDSHAKE,	/* SSL_do_handshake */
	SSL_OP_MAX,
};

enum ssl_lib {
	SSL_LIB_OPENSSL = 0,
	SSL_LIB_MAX,
};

enum ssl_dir {
	SSL_DIR_READ = 0,
	SSL_DIR_WRITE,
	SSL_DIR_HANDSHAKE,
};

/* Record flags. */
#define SSL_F_LAST	  0x1	/* last record of the call */
#define SSL_F_READ_FAULT  0x2	/* the buffer could not be read: data missing */
#define SSL_F_LEN_UNKNOWN 0x4	/* _ex call: byte count could not be read */

/* Gadget-defined loss counters (slots from LOUPE_CNT_GADGET). */
enum ssl_counter {
	SSL_CNT_SAMPLED_OUT = LOUPE_CNT_GADGET,	/* skipped by --sample */
	SSL_CNT_FAILED_IO,			/* read/write returned <= 0 */
	SSL_CNT_HANDSHAKE_INCOMPLETE,		/* handshake returned < 0: retry or error */
};

struct ssl_record {
	struct loupe_proc proc;
	__u64 call_id;		/* entry time: groups the records of one call */
	__u64 conn;		/* SSL * */
	__u64 latency_ns;
	__s64 ret;		/* raw return value */
	__u64 len;		/* bytes the call reported */
	__u32 captured;		/* bytes the whole call carries (<= len) */
	__u32 offset;		/* of this record's data in the call */
	__u32 chunk_len;	/* data bytes following this header */
	__u16 op;		/* enum ssl_op */
	__u8 lib;		/* enum ssl_lib */
	__u8 flags;
	__u8 data[];
};

#endif /* LOUPE_SSL_H */
