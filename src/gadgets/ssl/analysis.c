// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The analyses a run asked for, each fed every call in order: redaction
 * (which changes the bytes the others and the data row see), HTTP, pcap,
 * verification, certificates.  Adding one is a file with a struct
 * ssl_analysis, a line in the enum of internal.h and one here; the backends
 * do not change.
 */
#include <stdlib.h>

#include "internal.h"

static const struct ssl_analysis *const analyses[AN_MAX] = {
	[AN_REDACT] = &ssl_analysis_redact,
	[AN_HTTP] = &ssl_analysis_http,
	[AN_PGSQL] = &ssl_analysis_pgsql,
	[AN_MYSQL] = &ssl_analysis_mysql,
	[AN_REDIS] = &ssl_analysis_redis,
	[AN_GRPC] = &ssl_analysis_grpc,
	[AN_PCAP] = &ssl_analysis_pcap,
	[AN_VERIFY] = &ssl_analysis_verify,
	[AN_CERTS] = &ssl_analysis_certs,
};

#define for_each_active(s, a, i)                            \
	for (int i = 0; i < AN_MAX; i++)                    \
		if (((struct ssl_state *)(s)->state)->an && \
		    ((struct ssl_state *)(s)->state)->an->active[i] && ((a) = analyses[i]))

int analyses_open(struct session *s)
{
	struct ssl_state *st = s->state;
	const struct ssl_analysis *a;
	int err;

	st->an = calloc(1, sizeof(*st->an));
	if (!st->an)
		return -ENOMEM;
	for (int i = 0; i < AN_MAX; i++)
		st->an->active[i] = analyses[i]->wanted(st);
	if (analyses_per_conn(s) && !(st->conns = calloc(SSL_MAX_CONNS, sizeof(*st->conns))))
		return -ENOMEM;
	for_each_active (s, a, i)
		if (a->open && (err = a->open(s)))
			return err;
	return 0;
}

bool analyses_per_conn(const struct session *s)
{
	const struct ssl_analysis *a;

	for_each_active (s, a, i)
		if (a->per_conn)
			return true;
	return false;
}

int analyses_feed(struct session *s, struct ssl_call *c)
{
	struct ssl_state *st = s->state;
	const struct ssl_analysis *a;
	int err;

	if (st->conns && ssl_kind_has_data(c->op->kind) && c->len)
		c->conn = conn_get(s, c->r);
	for_each_active (s, a, i)
		if (a->feed && (err = a->feed(s, c)))
			return err;
	/* Bytes went missing: every parser of this connection would guess from here on. */
	if (c->conn && c->truncated)
		c->conn->broken = true;
	return 0;
}

void analyses_conn_end(struct session *s, struct ssl_conn *c)
{
	const struct ssl_analysis *a;

	struct ssl_state *st = s->state;

	for_each_active (s, a, i)
		if (a->conn_end)
			a->conn_end(s, c);
	/* Its bytes were shown as they are: said at exit. */
	if (st->protos && !c->proto_claimed)
		st->conns_undecoded++;
	c->used = false;
}

void analyses_close(struct session *s)
{
	struct ssl_state *st = s->state;
	const struct ssl_analysis *a;

	if (!st->an)
		return;
	conns_free(s);
	if (st->conns_undecoded)
		loupe_warn("%llu connections were not recognised as any protocol decoded: their "
			   "data is shown as raw rows",
			   (unsigned long long)st->conns_undecoded);
	for_each_active (s, a, i)
		if (a->close)
			a->close(s);
	free(st->an);
	st->an = NULL;
}

void analyses_tick(struct session *s)
{
	const struct ssl_analysis *a;

	for_each_active (s, a, i)
		if (a->tick)
			a->tick(s);
}

void analyses_flush(struct session *s)
{
	const struct ssl_analysis *a;

	for_each_active (s, a, i)
		if (a->flush)
			a->flush(s);
}

void analyses_stats(struct session *s, gadget_stat_fn fn, void *ctx)
{
	const struct ssl_analysis *a;

	for_each_active (s, a, i)
		if (a->stats)
			a->stats(s, fn, ctx);
}
