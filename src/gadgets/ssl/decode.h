/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the protocol analyses share: which connection is whose (detection
 * by content, per connection), the rows of decoded requests and responses
 * (one set of fields for every protocol), and the analysis around a
 * decoder of proto.h, so that analysis_pgsql.c and its siblings are only
 * their protocol's name.
 *
 * A connection is fed to every decoder asked for until one recognises it
 * (it is then that decoder's alone: conn->proto_claimed) or each has said
 * it is not theirs (conn->proto_rejected).  With --redact the decoders run
 * without rows, to mask what their protocol hides from redact.c's patterns.
 */
#ifndef LOUPE_SSL_DECODE_H
#define LOUPE_SSL_DECODE_H

#include "internal.h"
#include "proto.h"

/* Rows of protocol p are asked for. */
bool decode_rows(const struct ssl_state *st, enum proto_id p);

/* The row of a decoded request or response of protocol p, from the call r. */
void decode_emit(struct session *s, const struct ssl_record *r, enum proto_id p,
		 const struct proto_msg *m);

/* Rows for a decoder's callback (proto_cb): ctx is a struct decode_row. */
struct decode_row {
	struct session *s;
	const struct ssl_record *r;
	enum proto_id p;
	bool rows; /* asked for: without, the decoder only masks */
};

void decode_row_cb(void *ctx, const struct proto_msg *m);

/* Another protocol's analysis decodes this connection. */
bool decode_taken(const struct ssl_conn *conn, enum proto_id p);

/* A decoder's verdict on the connection: claim it or step aside. */
void decode_verdict(struct ssl_conn *conn, enum proto_id p, enum proto_verdict v);

/* The analysis of a decoder: one of AN_* per protocol. */
bool decode_wanted(const struct ssl_state *st, enum proto_id p);
int decode_open(struct session *s, int an, const struct proto_decoder *dec);
int decode_feed(struct session *s, struct ssl_call *c, int an);
void decode_conn_end(struct session *s, struct ssl_conn *conn, int an);
void decode_close(struct session *s, int an);
/* gRPC (analysis_grpc.c): an HTTP/2 event of the connection; true when it was a call's. */
struct http_msg;
bool grpc_on_http(struct session *s, struct ssl_conn *conn, const struct ssl_record *r,
		  const struct http_msg *m);

/* What went wrong, for the warning at exit; nothing when all went well. */
void decode_report(const char *name, const struct proto_stats *st, uint64_t broken);

#define DECODE_ANALYSIS(var, aname, an, proto, decoder)                      \
	static bool var##_wanted(const struct ssl_state *st)                 \
	{                                                                    \
		return decode_wanted(st, proto);                             \
	}                                                                    \
	static int var##_open(struct session *s)                             \
	{                                                                    \
		return decode_open(s, an, &(decoder));                       \
	}                                                                    \
	static int var##_feed(struct session *s, struct ssl_call *c)         \
	{                                                                    \
		return decode_feed(s, c, an);                                \
	}                                                                    \
	static void var##_conn_end(struct session *s, struct ssl_conn *conn) \
	{                                                                    \
		decode_conn_end(s, conn, an);                                \
	}                                                                    \
	static void var##_close(struct session *s)                           \
	{                                                                    \
		decode_close(s, an);                                         \
	}                                                                    \
	const struct ssl_analysis var = {                                    \
		.name = aname,                                               \
		.wanted = var##_wanted,                                      \
		.per_conn = true,                                            \
		.open = var##_open,                                          \
		.feed = var##_feed,                                          \
		.conn_end = var##_conn_end,                                  \
		.close = var##_close,                                        \
	}

#endif /* LOUPE_SSL_DECODE_H */
