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

enum ssl_op {
	SSL_OP_READ = 0,    /* SSL_read */
	SSL_OP_WRITE,	    /* SSL_write */
	SSL_OP_READ_EX,	    /* SSL_read_ex */
	SSL_OP_WRITE_EX,    /* SSL_write_ex */
	SSL_OP_HANDSHAKE,   /* SSL_do_handshake */
	SSL_OP_GNUTLS_SEND, /* gnutls_record_send */
	SSL_OP_GNUTLS_RECV, /* gnutls_record_recv */
	SSL_OP_PR_WRITE,    /* NSPR PR_Write on an SSL socket */
	SSL_OP_PR_SEND,
	SSL_OP_PR_READ,
	SSL_OP_PR_RECV,
	/* libcrypto latency events (--crypto): no data, ret only. */
	SSL_OP_CRYPTO_FIRST,
	SSL_OP_RSA_SIGN = SSL_OP_CRYPTO_FIRST,
	SSL_OP_RSA_VERIFY,
	SSL_OP_OSSL_ECDSA_SIGN,
	SSL_OP_OSSL_ECDSA_VERIFY,
	SSL_OP_OSSL_ECDH_COMPUTE_KEY,
	SSL_OP_RSA_OSSL_PUBLIC_ENCRYPT,
	SSL_OP_RSA_OSSL_PUBLIC_DECRYPT,
	SSL_OP_RSA_OSSL_PRIVATE_ENCRYPT,
	SSL_OP_RSA_OSSL_PRIVATE_DECRYPT,
	SSL_OP_EVP_PKEY_SIGN,
	SSL_OP_EVP_PKEY_VERIFY,
	SSL_OP_EVP_PKEY_DERIVE,
	SSL_OP_EVP_PKEY_ENCRYPT,
	SSL_OP_EVP_PKEY_DECRYPT,
	SSL_OP_EVP_DIGESTSIGN,
	SSL_OP_EVP_DIGESTSIGNFINAL,
	SSL_OP_EVP_DIGESTVERIFY,
	SSL_OP_EVP_DIGESTVERIFYFINAL,
	SSL_OP_CRYPTO_LAST = SSL_OP_EVP_DIGESTVERIFYFINAL,
	/* Not a call: a process exec'd; user space looks for new libraries. */
	SSL_OP_EXEC,
	/* Certificate verification (--verify): no data, ret is the mode or result. */
	SSL_OP_CTX_SET_VERIFY, /* SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, ...) */
	SSL_OP_SET_VERIFY,     /* SSL_set_verify(ssl, SSL_VERIFY_NONE, ...) */
	SSL_OP_VERIFY_RESULT,  /* SSL_get_verify_result() != X509_V_OK */
	SSL_OP_GNUTLS_VERIFY,  /* gnutls_certificate_verify_peers2/3: *status != 0 */
	SSL_OP_GNUTLS_VERIFY3,
	SSL_OP_MAX,
};

enum ssl_lib {
	SSL_LIB_OPENSSL = 0,
	SSL_LIB_GNUTLS,
	SSL_LIB_NSS,
	SSL_LIB_CRYPTO,
	SSL_LIB_MAX,
};

enum ssl_dir {
	SSL_DIR_READ = 0,
	SSL_DIR_WRITE,
	SSL_DIR_HANDSHAKE,
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
 * makes inside TLS calls (see ssl.bpf.c).  fd -1: not known (yet).
 */
struct ssl_sock {
	__s32 fd;
	__u16 family; /* AF_INET, AF_INET6, or another family: no addresses */
	__u16 lport;  /* host order */
	__u16 rport;
	__u8 role; /* SSL_ROLE_*: from SSL_connect/SSL_accept, if the program calls them */
	__u8 pad;
	__u8 laddr[16]; /* network order; IPv4 in the first 4 bytes */
	__u8 raddr[16];
};

enum ssl_role {
	SSL_ROLE_UNKNOWN = 0,
	SSL_ROLE_CLIENT,
	SSL_ROLE_SERVER,
};

/* Record flags. */
#define SSL_F_LAST 0x1	      /* last record of the call */
#define SSL_F_READ_FAULT 0x2  /* the buffer could not be read: data missing */
#define SSL_F_LEN_UNKNOWN 0x4 /* _ex call: byte count could not be read */

/* Gadget-defined loss counters (slots from LOUPE_CNT_GADGET). */
enum ssl_counter {
	SSL_CNT_SAMPLED_OUT = LOUPE_CNT_GADGET, /* skipped by --sample */
	SSL_CNT_FAILED_IO,			/* read/write returned <= 0 */
	SSL_CNT_HANDSHAKE_INCOMPLETE,		/* handshake returned < 0: retry or error */
	SSL_CNT_NSS_PLAIN,			/* NSPR I/O on a non-TLS descriptor, skipped */
	SSL_CNT_NSS_UNKNOWN,			/* NSPR I/O in a process whose libssl3 is unknown */
};

struct ssl_record {
	struct loupe_proc proc;
	__u64 call_id; /* entry time: groups the records of one call */
	__u64 conn;    /* SSL *, gnutls_session_t or PRFileDesc *; pid for SSL_OP_EXEC */
	__u64 latency_ns;
	__s64 ret;	 /* raw return value */
	__u64 len;	 /* bytes the call reported */
	__u32 captured;	 /* bytes the whole call carries (<= len) */
	__u32 offset;	 /* of this record's data in the call */
	__u32 chunk_len; /* data bytes following this header */
	__u16 op;	 /* enum ssl_op */
	__u8 lib;	 /* enum ssl_lib */
	__u8 flags;
	struct ssl_sock sock;
	__u8 data[];
};

#endif /* LOUPE_SSL_H */
