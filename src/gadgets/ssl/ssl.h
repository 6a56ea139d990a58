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
#define SSL_CHUNK 16384
#define SSL_MAX_CHUNKS 128
#define SSL_MAX_DATA (SSL_CHUNK * SSL_MAX_CHUNKS)
#define SSL_DEFAULT_DATA (1024 * 1024)

#include "probes.h"

/* The ssl gadget's --config slots (struct loupe_config): changed by SIGHUP. */
#define SSL_SLOT_SAMPLE 0   /* --sample N */
#define SSL_SLOT_MAX_DATA 1 /* --data-size, --no-data */

/* One operation per probed function (probes.h), then the notices. */
enum ssl_op {
#define SSL_OP_ENUM(lib, func, kind, dir, flags) SSL_OP_##func,
	SSL_ALL_PROBES(SSL_OP_ENUM)
#undef SSL_OP_ENUM
	SSL_OP_EXEC, /* not a call: a process exec'd; user space looks for new libraries */
	SSL_OP_PROC_EXIT, /* not a call: a process with connections exited (conn.c) */
	SSL_OP_MAX,
};

/* The per-function latency slots of --crypto (one per libcrypto row). */
enum ssl_crypto_slot {
#define SSL_CRYPTO_SLOT(lib, func, kind, dir, flags) SSL_CRYPTO_SLOT_##func,
	SSL_LIBCRYPTO_PROBES(SSL_CRYPTO_SLOT)
#undef SSL_CRYPTO_SLOT
	SSL_NR_CRYPTO,
};

enum ssl_dir {
	SSL_DIR_READ = 0,
	SSL_DIR_WRITE,
	SSL_DIR_HANDSHAKE,
	SSL_DIR_CRYPTO,
	SSL_DIR_VERIFY,
	SSL_DIR_NONE,
	SSL_DIR_CERT, /* --certs: certificates, server names, new connections */
};

/*
 * Where an NSS process's libssl3.so is mapped: a PRFileDesc layer whose
 * methods table lies in it is NSS's SSL layer (see ssl.bpf.c).
 */
struct nss_range {
	__u64 lo, hi;
};

/*
 * The socket under a connection, learned from the system calls its library
 * makes inside TLS calls (see ssl.bpf.c).  known 0: not known (yet).
 */
struct ssl_sock {
	__s32 fd;  /* -1: not known (the socket tracepoints do not say) */
	__u8 role; /* SSL_ROLE_*: from SSL_connect/SSL_accept, if the program calls them */
	__u8 known; /* the kernel learned the socket: the tuple holds its addresses */
	__u8 pad[2];
	struct loupe_tuple tuple;
};

enum ssl_role {
	SSL_ROLE_UNKNOWN = 0,
	SSL_ROLE_CLIENT,
	SSL_ROLE_SERVER,
};

/* A Go call in flight, by goroutine (go.bpf.h; go.c forgets those of dead processes). */
struct ssl_go_key {
	__u64 g;
	__u32 tgid;
	__u32 slot;
};

/* Record flags. */
#define SSL_F_LAST 0x1	      /* last record of the call */
#define SSL_F_READ_FAULT 0x2  /* the buffer could not be read: data missing */
#define SSL_F_LEN_UNKNOWN 0x4 /* _ex call: byte count could not be read */
#define SSL_F_CONN_END 0x8    /* a notice: connection conn is over (freed, reset, closed) */

/*
 * --certs: a certificate is a call of its own whose data is its DER bytes, at
 * most SSL_CERT_MAX of them (len says how many it had); ret holds its index in
 * the chain (low 16 bits) and, when the library said, the chain's length
 * (bits 16-31, 0: not known).  At most SSL_CERT_CHAIN of a chain are copied.
 */
#define SSL_CERT_CHUNKS 4
#define SSL_CERT_MAX (SSL_CHUNK * SSL_CERT_CHUNKS)
#define SSL_CERT_CHAIN 8
#define SSL_CERT_NAME_MAX 256 /* a server name (SNI): DNS names are at most 253 bytes */

/* Gadget-defined loss counters (slots from LOUPE_CNT_GADGET). */
enum ssl_counter {
	SSL_CNT_FAILED_IO = LOUPE_CNT_GADGET, /* read/write returned <= 0 */
	SSL_CNT_HANDSHAKE_INCOMPLETE,		/* handshake returned < 0: retry or error */
	SSL_CNT_NSS_PLAIN,			/* NSPR I/O on a non-TLS descriptor, skipped */
	SSL_CNT_NSS_UNKNOWN,			/* NSPR I/O in a process whose libssl3 is unknown */
};

struct ssl_record {
	struct loupe_proc proc;
	__u64 call_id; /* entry time: groups the records of one call */
	__u64 conn;    /* the connection's id (ssl_conns), 0: none; tgid for SSL_OP_EXEC */
	__u64 latency_ns;
	__s64 ret;	 /* raw return value */
	__u64 len;	 /* bytes the call reported */
	__u32 captured;	 /* bytes the whole call carries (<= len) */
	__u32 offset;	 /* of this record's data in the call */
	__u32 chunk_len; /* data bytes following this header */
	__u16 op;	 /* enum ssl_op: the backend follows from it */
	__u8 pad;
	__u8 flags;
	struct ssl_sock sock;
	__u64 handle; /* SSL *, gnutls_session_t, PRFileDesc *, *tls.Conn: reused by allocators */
	__u8 data[];
};

/*
 * A connection, by process and library handle (ssl_conns): an id that no
 * other connection of the run gets, the socket under it, and when it was
 * first seen.  Created at first sight of the handle, deleted when the
 * library frees or resets it, or its process execs or exits.
 */
struct ssl_conn_key {
	__u64 handle;
	__u32 tgid;
	__u32 pad;
};

struct ssl_conn_val {
	__u64 id;
	__u64 born_ns;
	struct ssl_sock sock;
	__u32 active; /* it made a call or used its socket: a reset ends it */
	__u32 pad;
};

#endif /* LOUPE_SSL_H */
