/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the protocol decoders (pgsql.c, mysql.c, resp.c, grpc.c) share, with
 * no dependency on the gadget: the protocols' names, the message they hand
 * to their caller (one shape for every protocol, so one --fields line works
 * for all), bounded text and statement tables, and SQL literal masking.
 *
 * The decoders read attacker-controlled bytes: they never recurse on input,
 * keep a bounded amount of memory per connection (each says how much), and
 * count what they cannot make sense of instead of guessing.
 */
#ifndef LOUPE_SSL_PROTO_H
#define LOUPE_SSL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum proto_id {
	PROTO_HTTP,
	PROTO_GRPC,
	PROTO_PGSQL,
	PROTO_MYSQL,
	PROTO_REDIS,
	PROTO_NR,
};

#define PROTO_ALL ((1u << PROTO_NR) - 1)

/* "http", "grpc", "postgres", "mysql", "redis". */
const char *proto_name(enum proto_id p);

/*
 * --proto LIST: comma-separated names (postgresql/pgsql/pg, mariadb and
 * "all" are accepted too) into a mask; -EINVAL with the bad name in *bad.
 */
int proto_parse_list(const char *list, unsigned int *mask, const char **bad, size_t *bad_len);

/* A detector's verdict on a connection's first bytes. */
enum proto_verdict {
	VERDICT_NO = -1,
	VERDICT_MAYBE = 0, /* not enough bytes yet */
	VERDICT_YES = 1,
};

enum proto_kind {
	PROTO_REQUEST,
	PROTO_RESPONSE,
};

/* A request or a response, as every decoder reports it; NULL/-1: not known. */
struct proto_msg {
	enum proto_kind kind;
	int dir;	      /* the direction it travelled in, as fed */
	uint64_t ts_ns;	      /* when it was complete */
	const char *method;   /* query, execute, SET, the gRPC method... */
	const char *request;  /* the request's text: SQL, a command line, a path */
	const char *key;      /* Redis: the key */
	const char *service;  /* gRPC: the service */
	const char *result;   /* responses: CommandComplete tag, "OK", a reply */
	const char *code;     /* SQLSTATE, gRPC status name, Redis error prefix */
	const char *error;    /* responses: the error message; NULL on success */
	int64_t status;	      /* gRPC status, MySQL error number, -1 */
	int64_t rows;	      /* rows returned or affected, -1 */
	int64_t messages;     /* gRPC: messages the server sent, -1 */
	int64_t req_messages; /* gRPC: messages the client sent, -1 */
	int64_t bytes;	      /* gRPC: bytes of the server's messages, -1 */
	bool has_latency;
	uint64_t latency_ns; /* responses: from the request */
};

typedef void (*proto_cb)(void *ctx, const struct proto_msg *m);

/* A message with nothing known yet. */
void proto_msg_init(struct proto_msg *m, enum proto_kind kind, int dir, uint64_t ts);

/* What a decoder could not decode, per connection. */
struct proto_stats {
	uint64_t malformed; /* bytes that break the protocol: that direction is abandoned */
	uint64_t unpaired;  /* responses without a request, requests never answered */
	uint64_t evicted;   /* requests or statements forgotten: their table was full */
};

/*
 * A decoder of one connection's two directions, fed in call order.  The
 * bytes are the caller's: with redact the decoder masks secrets in them in
 * place (length kept), so the caller must pass a copy it may change.
 */
struct proto_decoder {
	enum proto_id id;
	void *(*create)(void);
	void (*destroy)(void *c);
	void (*feed)(void *c, int dir, uint8_t *data, size_t len, uint64_t ts_ns, bool redact,
		     proto_cb cb, void *ctx);
	/* Is this connection this protocol?  Known after its first bytes. */
	enum proto_verdict (*verdict)(const void *c);
	/* The direction the client speaks in, or -1. */
	int (*client_dir)(const void *c);
	/* Bytes of this direction are still decoded (not abandoned). */
	bool (*dir_alive)(const void *c, int dir);
	const struct proto_stats *(*stats)(const void *c);
};

/* What every decoder's connection starts with: its accessors are shared. */
struct proto_conn {
	enum proto_verdict verdict;
	int client_dir;
	struct proto_stats stats;
};

enum proto_verdict proto_conn_verdict(const void *c);
int proto_conn_client_dir(const void *c);
const struct proto_stats *proto_conn_stats(const void *c);
/*
 * For protocols whose client speaks first: the first direction fed is the
 * client's, and an answer before the client's first message is whole says
 * the connection is not this protocol.  false: do not decode this call.
 */
bool proto_conn_first_speaker(struct proto_conn *pc, int dir, size_t len);

/* --- text -------------------------------------------------------------------- */

/* Text kept for rows: at most cap-1 bytes, "..." marks a cut. */
void text_set(char *dst, size_t cap, const void *src, size_t len);
/* Append, cutting with "..." when full. */
void text_append(char *dst, size_t cap, const void *src, size_t len);

/*
 * Bytes kept from a message being reassembled: the first `max`, the rest
 * only counted (a 1 GB message costs max bytes).
 */
struct keep {
	uint8_t *buf;
	size_t len, cap;
	uint64_t total;
};

int keep_add(struct keep *k, const uint8_t *p, size_t n, size_t max);
void keep_reset(struct keep *k);
void keep_free(struct keep *k);

/* --- prepared statements ------------------------------------------------------ */

#define STMT_MAX 64
#define STMT_NAME 64
#define STMT_TEXT 256

/* Statement names (PostgreSQL) or ids (MySQL) to their text; LRU, bounded. */
struct stmt_table {
	struct stmt {
		bool used;
		uint64_t tick;
		char name[STMT_NAME];
		char text[STMT_TEXT];
	} e[STMT_MAX];
	uint64_t tick;
};

/* Remember; returns true when an older statement was forgotten to make room. */
bool stmt_put(struct stmt_table *t, const char *name, size_t nlen, const char *text, size_t tlen);
const char *stmt_get(struct stmt_table *t, const char *name, size_t nlen);
void stmt_del(struct stmt_table *t, const char *name, size_t nlen);

/* --- SQL literals ------------------------------------------------------------ */

/*
 * Masks the contents of SQL string literals in place, '*' for each byte,
 * fed the statement in pieces (state carries over).  Quotes stay.  Comments
 * are skipped so that a quote in one does not start a literal.
 *   'text' with '' inside, E'..\'..' (PostgreSQL), $tag$..$tag$ (PostgreSQL);
 *   MySQL: 'text' and "text", both with backslash escapes.
 */
enum sql_dialect {
	SQL_PGSQL,
	SQL_MYSQL,
};

struct sql_mask {
	uint8_t dialect, st, prev;
	uint8_t taglen, tagpos;
	char tag[16];
};

void sql_mask_init(struct sql_mask *m, enum sql_dialect d);
/* Returns the number of bytes masked. */
size_t sql_mask_feed(struct sql_mask *m, uint8_t *p, size_t len);

#endif /* LOUPE_SSL_PROTO_H */
