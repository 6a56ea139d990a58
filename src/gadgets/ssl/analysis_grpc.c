// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --proto grpc: a row per gRPC request and response.  gRPC rides on the
 * HTTP/2 decoder, which analysis_http.c runs: it hands this analysis every
 * HTTP/2 event (grpc_on_http), and grpc.c makes calls of them.
 */
#include <stdlib.h>

#include "decode.h"
#include "grpc.h"

struct grpc_state {
	uint64_t nomem;
	struct proto_stats stats;
};

static bool grpc_wanted(const struct ssl_state *st)
{
	return decode_rows(st, PROTO_GRPC);
}

static int grpc_open(struct session *s)
{
	struct ssl_state *st = s->state;

	st->an->priv[AN_GRPC] = calloc(1, sizeof(struct grpc_state));
	return st->an->priv[AN_GRPC] ? 0 : -ENOMEM;
}

bool grpc_on_http(struct session *s, struct ssl_conn *conn, const struct ssl_record *r,
		  const struct http_msg *m)
{
	struct ssl_state *st = s->state;
	struct grpc_state *gs = st->an->priv[AN_GRPC];
	struct decode_row ctx = { s, r, PROTO_GRPC, true };

	if (!st->an->active[AN_GRPC])
		return false;
	if (!conn->an[AN_GRPC] && !(conn->an[AN_GRPC] = grpc_new())) {
		gs->nomem++;
		return false;
	}
	return grpc_event(conn->an[AN_GRPC], m, decode_row_cb, &ctx);
}

static void grpc_conn_end(struct session *s, struct ssl_conn *conn)
{
	struct ssl_state *st = s->state;
	struct grpc_state *gs = st->an->priv[AN_GRPC];
	const struct proto_stats *ps;

	if (!conn->an[AN_GRPC])
		return;
	ps = grpc_stats(conn->an[AN_GRPC]);
	gs->stats.malformed += ps->malformed;
	gs->stats.unpaired += ps->unpaired;
	gs->stats.evicted += ps->evicted;
	grpc_free(conn->an[AN_GRPC]);
	conn->an[AN_GRPC] = NULL;
}

static void grpc_close(struct session *s)
{
	struct ssl_state *st = s->state;
	struct grpc_state *gs = st->an->priv[AN_GRPC];

	if (!gs)
		return;
	decode_report("grpc", &gs->stats, 0);
	if (gs->nomem)
		loupe_warn("grpc: %llu connections not decoded: out of memory",
			   (unsigned long long)gs->nomem);
	free(gs);
}

const struct ssl_analysis ssl_analysis_grpc = {
	.name = "grpc",
	.wanted = grpc_wanted,
	.per_conn = true,
	.open = grpc_open,
	.conn_end = grpc_conn_end,
	.close = grpc_close,
};
