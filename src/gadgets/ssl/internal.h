/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ssl gadget's user-space half, as its files see each other:
 *
 *   ssl.c            the gadget: options, fields, records back into calls, rows
 *   backend.c        the operations table and the list of backends
 *   openssl.c, gnutls.c, nss.c, libcrypto.c, go.c
 *                    one backend each: its probes (probes.h) and its quirks
 *                    (go.c reads Go executables with src/gobin.c)
 *   discover.c       which files to probe, for every backend: the system's
 *                    libraries, --lib/--bin, running and new processes
 *   conn.c           per-connection state shared by the analyses
 *   analysis_*.c     what is made of the calls: redaction, HTTP rows, pcap,
 *                    verification rows, certificate rows (cert.c decodes them),
 *                    protocol rows (PostgreSQL, MySQL, Redis, gRPC: decode.c,
 *                    their parsers in pgsql.c...)
 *
 * A backend never sees an analysis, and an analysis never sees a backend:
 * both meet in struct ssl_call.
 */
#ifndef LOUPE_SSL_INTERNAL_H
#define LOUPE_SSL_INTERNAL_H

#include "gadget.h"
#include "uprobe.h"
#include "ssl.h"

struct bpf_object;
struct bpf_program;
struct ssl_backend;
struct ssl_conn;
struct pcap_out;

/* --- operations ------------------------------------------------------------------ */

/* What the table in probes.h says of each operation. */
struct ssl_op_info {
	const char *name; /* the function: the operation field */
	const char *lib;  /* the programs' name part (trace_uprobe_<lib>_<func>) */
	enum ssl_dir dir;
	int kind;	    /* SSL_KIND_* */
	unsigned int flags; /* PROBE_* */
	const char *symbol; /* the symbol probed when name is not it (Go), else NULL */
};

extern const struct ssl_op_info ssl_ops[SSL_OP_MAX];

bool ssl_kind_has_data(int kind);
bool ssl_kind_has_return(int kind);
/* The backend an operation belongs to, or NULL (notices). */
const struct ssl_backend *ssl_op_backend(unsigned int op);
/* The operation field: the name, or the symbol from its last '/' (Go). */
const char *ssl_op_name(const struct ssl_op_info *op);
/* The operation's info, or NULL for a number out of range. */
const struct ssl_op_info *ssl_op(unsigned int op);
/* Its entry (or return) program: trace_u[ret]probe_<lib>_<func>; NULL if none. */
struct bpf_program *ssl_prog(struct bpf_object *obj, unsigned int op, bool ret);

/* --- backends -------------------------------------------------------------------- */

struct ssl_state;

/*
 * A TLS implementation: the functions to probe (its rows of probes.h) and
 * what is particular to it.  Every hook may be NULL.
 *
 * Today's backends find their functions as ELF symbols and probe their entry
 * and return.  A backend that cannot (Go: symbols from .gopclntab, no return
 * probes on moving goroutine stacks, one RET probe per return instruction)
 * sets probe_file to do its own finding and attaching, and keeps the same
 * record format: the analyses see its calls like any other.
 */
struct ssl_backend {
	const char *name;	    /* the library field */
	const char *const *sonames; /* file names the dynamic loader would load */
	const enum ssl_op *ops;	    /* its operations, from probes.h */
	size_t nr_ops;
	/* Probed at all in this run (libcrypto: only with --crypto). */
	bool (*enabled)(const struct ssl_state *st);
	/* Which of its CORE functions make a file this backend's (default: any). */
	bool (*usable)(const bool *found_by_op);
	/* A process maps a file probed for this backend (NSS: where libssl3 lies). */
	void (*mapped)(struct session *s, int pid, const struct proc_map *m,
		       const struct lib_entry *e);
	/* The text of a verification event of this backend. */
	void (*verify_text)(const struct ssl_record *r, char *buf, size_t len);
	/*
	 * Find and attach by itself (see above); NULL: ELF symbols, entry and
	 * return.  Returns the functions attached, 0 when the file is not this
	 * backend's (or said why not), or -errno.
	 */
	int (*probe_file)(struct session *s, const char *path, const char *shown);
	/* --bin PATH: is the file this backend's?  0, or -EINVAL after saying why not. */
	int (*check_file)(const char *flag, const char *path);
	/* Called after every poll of the ring buffer: housekeeping. */
	void (*tick)(struct session *s);
};

/* .ops and .nr_ops of a backend, from its rows of probes.h. */
#define SSL_OP_OF(lib, func, kind, dir, flags) SSL_OP_##func,
#define SSL_BACKEND_OPS(rows)                            \
	.ops = (const enum ssl_op[]){ rows(SSL_OP_OF) }, \
	.nr_ops = sizeof((const enum ssl_op[]){ rows(SSL_OP_OF) }) / sizeof(enum ssl_op)

/* Files a backend's probes were found in carry its bit; this one marks an IMAGE probe. */
#define SEEN_IMAGE (1u << 31)

extern const struct ssl_backend ssl_backend_openssl, ssl_backend_gnutls, ssl_backend_nss,
	ssl_backend_libcrypto, ssl_backend_go;
extern const struct ssl_backend *const ssl_backends[];

#define for_each_backend(b, i) for (size_t i = 0; ((b) = ssl_backends[i]) != NULL; i++)

/* --- discovery (discover.c) ---------------------------------------------------------- */

/* A new process whose maps are looked at again a few times while it loads. */
struct watch {
	int pid;
	int round;
	double due;
};

#define MAX_WATCH 1024

struct discovery {
	struct lib_list extra_libs; /* --lib */
	struct lib_list bins;	    /* --bin */
	struct lib_list seen;	    /* every file looked at, probed or not (kind: backends) */
	int probed;		    /* files with at least one probe */
	bool cookies;		    /* bpf_get_attach_cookie is there */
	struct watch watch[MAX_WATCH];
	int nr_watch;
	/* Root directories (containers) whose libraries were probed, by device and inode. */
	struct root_id {
		dev_t dev;
		ino_t ino;
	} *roots;
	size_t nr_roots, cap_roots;
	/* Image layers already looked at (their directory names, the links made
	 * for their files), and when last. */
	struct layer {
		char *path;
		struct link_mark from, to;
		bool gone;
	} *layers;
	size_t nr_layers, cap_layers;
	double layers_scanned;
};

/* --lib/--bin: a file worth probing? 0, or -EINVAL after saying why. */
int discover_check_file(struct session *s, const char *flag, const char *path, bool bin);
/* The system's libraries, --lib, --bin and running processes; -ENOENT: nothing at all. */
int discover_attach(struct session *s);
/* A process exec'd (at exec_ns, boot clock): look at it now and a few times while it loads. */
void discover_watch(struct session *s, int pid, uint64_t exec_ns);
void discover_tick(struct session *s);
void discover_free(struct discovery *d);

/* --- the gadget's state ---------------------------------------------------------- */

#define MAX_PENDING 256

/* A call whose records are still arriving (ssl.c). */
struct pending {
	bool used;
	bool gap;
	struct ssl_record hdr;
	uint8_t *buf;
	size_t len, cap;
};

struct ssl_state {
	/* Options. */
	uint64_t data_size;
	bool no_data, no_reads, no_writes, crypto, no_follow, no_endpoints;
	uint32_t sample;
	bool http, verify, redact;
	const char *pcap_path;
	bool certs, certs_findings_only;
	/* Chosen for this kernel. */
	bool bounded; /* no bpf_loop: the bounded-loop emitter */
	bool sock_hooks; /* endpoints from the socket layer's tracepoints, not every syscall */
	struct discovery disc;
	/* Calls whose records are still arriving. */
	struct pending pending[MAX_PENDING];
	int nr_pending;
	/* --metrics */
	struct metric *m_calls;
	/* Connections and the analyses' shared state. */
	struct ssl_conn *conns;
	uint64_t conns_evicted;
	uint64_t conns_ended, conns_swept; /* retired by the library; by exec or exit */
	struct analysis_state *an;
	/* Protocol rows (decode.c): --decode, --proto, --http; bits 1 << enum proto_id. */
	bool decode;
	unsigned int protos, proto_list;
	bool proto_given;
	uint64_t conns_undecoded; /* not recognised as any protocol asked for */
};

/* --- rows -------------------------------------------------------------------------- */

enum {
	F_LIBRARY = LOUPE_PROC_NR_FIELDS,
	F_OPERATION,
	F_DIRECTION,
	F_LATENCY,
	F_LEN,
	F_CAPTURED,
	F_TRUNCATED,
	F_CONN,
	F_ERROR,
	F_FD,
	F_LOCAL,
	F_REMOTE,
	F_HTTP,
	F_METHOD,
	F_PATH,
	F_AUTHORITY,
	F_STATUS,
	F_STREAM,
	F_RESPONSE_TIME,
	F_BODY_LEN,
	F_VERIFY_RESULT,
	F_DATA,
	/* Decoded protocols (decode.c), shared so that one --fields line fits all. */
	F_PROTO,
	F_REQUEST,
	F_RESULT,
	F_CODE,
	F_KEY,
	F_SERVICE,
	F_ROWS,
	F_MESSAGES,
	F_REQ_MESSAGES,
	F_SNI,
	F_SUBJECT,
	F_ISSUER,
	F_SERIAL,
	F_NOT_BEFORE,
	F_NOT_AFTER,
	F_SANS,
	F_FINGERPRINT,
	F_KEY_TYPE,
	F_KEY_BITS,
	F_SIGNATURE,
	F_CHAIN_LEN,
	F_CHAIN,
	F_FINDINGS,
	F_VERIFICATION,
	F_HANDLE,
	F_MAX,
};

/* Room for the endpoint strings of a row. */
struct row_bufs {
	char local[64], remote[64];
};

/* The columns every row of a call shares: process, library, operation, connection, endpoints. */
void ssl_row_begin(struct value *v, const struct ssl_record *r, struct row_bufs *b);
const char *ssl_dir_name(enum ssl_dir dir);

/* --- connections (conn.c) ---------------------------------------------------------------- */

#define SSL_MAX_CONNS 1024

/*
 * Analyses in the order they see a call: redaction first, it changes the
 * bytes; the protocol decoders mask too, so they come before pcap.
 */
enum {
	AN_REDACT,
	AN_HTTP,
	AN_PGSQL,
	AN_MYSQL,
	AN_REDIS,
	AN_GRPC,
	AN_PCAP,
	AN_VERIFY,
	AN_CERTS,
	AN_MAX,
};

/* A connection as the analyses know it, by process and id (conn.bpf.h). */
struct ssl_conn {
	bool used;
	uint32_t pid;
	uint64_t id;	 /* the record's conn; the handle with CONN_NO_ID when it has none */
	uint64_t handle; /* the library's, for what is set on a handle (verify modes) */
	uint64_t last_ns;
	bool broken;	/* bytes went missing: a parser would guess from here on */
	int client_dir; /* 1: the local writes are the client's; 0: the reads; -1: unknown */
	void *an[AN_MAX];
	uint8_t proto_claimed;	/* 0, or 1 + enum proto_id: that decoder's rows stand for it */
	uint8_t proto_rejected; /* 1 << enum proto_id: not that protocol */
};

/* A record without an id (ssl_conns was full): keyed by its handle, which can mix. */
#define CONN_NO_ID (1ull << 63)

/* The connection of a record, made at first sight; NULL when there is no table. */
struct ssl_conn *conn_get(struct session *s, const struct ssl_record *r);
/* Notices: a connection is over (SSL_F_CONN_END), a process exec'd or exited. */
void conn_notice(struct session *s, const struct ssl_record *r);
void conns_free(struct session *s);

/* --- analyses ---------------------------------------------------------------------------- */

/* One call, whole, as the analyses see it. */
struct ssl_call {
	const struct ssl_record *r;
	const struct ssl_op_info *op;
	const uint8_t *data; /* an analysis may point it at a changed copy (redaction) */
	size_t len;
	bool truncated; /* bytes are missing: --data-size, or records lost */
	bool write;
	struct ssl_conn *conn; /* when an analysis keeps per-connection state */
	bool decoded;	       /* protocol rows stand for its bytes: no data row in columns */
};

struct ssl_analysis {
	const char *name;
	/* Asked for on this command line. */
	bool (*wanted)(const struct ssl_state *st);
	bool per_conn; /* keeps state per connection (conn.c) */
	/* Before anything is loaded: files that cannot be written stop us here. */
	int (*open)(struct session *s);
	/* Every call, in order; returns -ENOMEM when the call cannot be shown. */
	int (*feed)(struct session *s, struct ssl_call *c);
	/* A connection is forgotten: free conn->an[this one]. */
	void (*conn_end)(struct session *s, struct ssl_conn *c);
	/* At exit: report what was not right, free everything. */
	void (*close)(struct session *s);
	/* After every poll of the ring buffer: rows that waited long enough. */
	void (*tick)(struct session *s);
	/* Before the statistics: rows still waiting. */
	void (*flush)(struct session *s);
	/* Its own counters, for the statistics. */
	void (*stats)(struct session *s, gadget_stat_fn fn, void *ctx);
};

extern const struct ssl_analysis ssl_analysis_redact, ssl_analysis_http, ssl_analysis_pcap,
	ssl_analysis_verify, ssl_analysis_certs;
extern const struct ssl_analysis ssl_analysis_pgsql, ssl_analysis_mysql, ssl_analysis_redis,
	ssl_analysis_grpc;

/* The analyses' own state, one struct each, allocated by analysis_open(). */
struct analysis_state {
	bool active[AN_MAX];
	void *priv[AN_MAX];
};

int analyses_open(struct session *s);
int analyses_feed(struct session *s, struct ssl_call *c);
void analyses_conn_end(struct session *s, struct ssl_conn *c);
void analyses_close(struct session *s);
void analyses_tick(struct session *s);
void analyses_flush(struct session *s);
void analyses_stats(struct session *s, gadget_stat_fn fn, void *ctx);
bool analyses_per_conn(const struct session *s);

#endif /* LOUPE_SSL_INTERNAL_H */
