// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Protocol rows and the analyses around the decoders (see decode.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

bool decode_rows(const struct ssl_state *st, enum proto_id p)
{
	return st->protos & (1u << p);
}

bool decode_taken(const struct ssl_conn *conn, enum proto_id p)
{
	return conn->proto_claimed && conn->proto_claimed != 1 + p;
}

void decode_verdict(struct ssl_conn *conn, enum proto_id p, enum proto_verdict v)
{
	if (v == VERDICT_NO)
		conn->proto_rejected |= 1u << p;
	else if (v == VERDICT_YES && !conn->proto_claimed)
		conn->proto_claimed = 1 + p;
}

/* Columns: one line that says what the row is; JSON has it in data too. */
static void summary(char *buf, size_t len, const struct proto_msg *m)
{
	const char *method = m->method ? m->method : "";
	char lat[32] = "";

	buf[0] = '\0';
	if (m->kind == PROTO_REQUEST) {
		/* gRPC: service/method; SQL: query ...; Redis: the command line itself. */
		if (m->service) {
			snprintf(buf, len, "%s/%s", m->service, method);
			return;
		}
		if (!m->request || strncasecmp(m->request, method, strlen(method)))
			snprintf(buf, len, "%s ", method);
		if (m->request)
			text_append(buf, len, m->request, strlen(m->request));
		return;
	}
	if (m->has_latency)
		format_duration(lat, sizeof(lat), m->latency_ns);
	if (m->error)
		snprintf(buf, len, "%s%s%s%s", m->error, m->code && m->code[0] ? " (" : "",
			 m->code ? m->code : "", m->code && m->code[0] ? ")" : "");
	else
		snprintf(buf, len, "%s", m->result ? m->result : "");
	snprintf(buf + strlen(buf), len - strlen(buf), "%s%s%s%s", m->method ? " for " : "", method,
		 lat[0] ? " after " : "", lat);
}

void decode_emit(struct session *s, const struct ssl_record *r, enum proto_id p,
		 const struct proto_msg *m)
{
	struct value v[F_MAX] = {};
	char op[32], text[4608];
	struct row_bufs bufs;

	ssl_row_begin(v, r, &bufs);
	snprintf(op, sizeof(op), "%s-%s", proto_name(p),
		 m->kind == PROTO_REQUEST ? "request" : "response");
	v[F_OPERATION] = val_str(op);
	v[F_PROTO] = val_str(proto_name(p));
	v[F_METHOD] = val_str(m->method);
	v[F_REQUEST] = val_str(m->request);
	v[F_KEY] = val_str(m->key);
	v[F_SERVICE] = val_str(m->service);
	v[F_ERROR] = val_str(m->error ? m->error : "");
	if (m->kind == PROTO_RESPONSE) {
		v[F_RESULT] = val_str(m->result);
		v[F_CODE] = val_str(m->code);
		if (m->status >= 0)
			v[F_STATUS] = val_u64(m->status);
		if (m->rows >= 0)
			v[F_ROWS] = val_u64(m->rows);
		if (m->messages >= 0)
			v[F_MESSAGES] = val_u64(m->messages);
		if (m->req_messages >= 0)
			v[F_REQ_MESSAGES] = val_u64(m->req_messages);
		if (m->bytes >= 0)
			v[F_BODY_LEN] = val_s64(m->bytes);
		if (m->has_latency) {
			v[F_LATENCY] = val_u64(m->latency_ns);
			v[F_RESPONSE_TIME] = val_u64(m->latency_ns);
		}
	}
	summary(text, sizeof(text), m);
	v[F_DATA] = val_bytes(text, strlen(text));
	session_emit(s, v);
}

/* --- the analysis around a decoder --------------------------------------------------- */

struct decode_state {
	const struct proto_decoder *dec;
	bool rows, redact;
	uint64_t conns;	 /* connections recognised */
	uint64_t broken; /* decoding stopped: bytes went missing */
	uint64_t nomem;
	struct proto_stats stats;
};

void decode_row_cb(void *ctx, const struct proto_msg *m)
{
	struct decode_row *rc = ctx;

	if (rc->rows)
		decode_emit(rc->s, rc->r, rc->p, m);
}

bool decode_wanted(const struct ssl_state *st, enum proto_id p)
{
	return decode_rows(st, p) || st->redact;
}

int decode_open(struct session *s, int an, const struct proto_decoder *dec)
{
	struct ssl_state *st = s->state;
	struct decode_state *ds = calloc(1, sizeof(*ds));

	if (!ds)
		return -ENOMEM;
	ds->dec = dec;
	ds->rows = decode_rows(st, dec->id);
	ds->redact = st->redact;
	st->an->priv[an] = ds;
	return 0;
}

/* Forget a connection's decoder, keeping its counts. */
static void drop(struct decode_state *ds, struct ssl_conn *conn, int an)
{
	const struct proto_stats *ps;

	if (!conn->an[an])
		return;
	ps = ds->dec->stats(conn->an[an]);
	ds->stats.malformed += ps->malformed;
	ds->stats.unpaired += ps->unpaired;
	ds->stats.evicted += ps->evicted;
	ds->dec->destroy(conn->an[an]);
	conn->an[an] = NULL;
}

int decode_feed(struct session *s, struct ssl_call *c, int an)
{
	struct ssl_state *st = s->state;
	struct decode_state *ds = st->an->priv[an];
	struct ssl_conn *conn = c->conn;
	enum proto_id p = ds->dec->id;
	struct decode_row ctx = { s, c->r, p, ds->rows };
	enum proto_verdict v;
	void *dc;

	if (!conn || (conn->proto_rejected & (1u << p)))
		return 0;
	if (decode_taken(conn, p) || conn->broken) {
		/* Another protocol's, or bytes went missing: a parser would guess from here. */
		if (conn->broken && conn->proto_claimed == 1 + p && conn->an[an])
			ds->broken++;
		drop(ds, conn, an);
		conn->proto_rejected |= 1u << p;
		return 0;
	}
	if (!(dc = conn->an[an]) && !(dc = conn->an[an] = ds->dec->create())) {
		ds->nomem++;
		conn->proto_rejected |= 1u << p;
		return 0;
	}
	/* The bytes are ours to mask only when redaction made a copy. */
	ds->dec->feed(dc, c->write, (uint8_t *)c->data, c->len, c->r->proc.ts_ns, ds->redact,
		      decode_row_cb, &ctx);
	v = ds->dec->verdict(dc);
	if (v == VERDICT_NO) {
		decode_verdict(conn, p, v);
		drop(ds, conn, an);
		return 0;
	}
	if (v == VERDICT_YES && !conn->proto_claimed) {
		decode_verdict(conn, p, v);
		ds->conns++;
		if (ds->dec->client_dir(dc) >= 0)
			conn->client_dir = ds->dec->client_dir(dc) == 1;
	}
	if (ds->rows && ds->dec->dir_alive(dc, c->write))
		c->decoded = true;
	return 0;
}

void decode_conn_end(struct session *s, struct ssl_conn *conn, int an)
{
	struct ssl_state *st = s->state;

	drop(st->an->priv[an], conn, an);
}

void decode_report(const char *name, const struct proto_stats *ps, uint64_t broken)
{
	if (ps->malformed)
		loupe_warn("%s: %llu connection directions abandoned on bytes that break the "
			   "protocol (shown as raw rows from there)",
			   name, (unsigned long long)ps->malformed);
	if (ps->unpaired)
		loupe_warn("%s: %llu responses or requests could not be paired", name,
			   (unsigned long long)ps->unpaired);
	if (ps->evicted)
		loupe_warn("%s: %llu pending requests or statements forgotten (per-connection "
			   "tables full)",
			   name, (unsigned long long)ps->evicted);
	if (broken)
		loupe_warn("%s: %llu connections no longer decoded after bytes went missing "
			   "(truncated calls)",
			   name, (unsigned long long)broken);
}

void decode_close(struct session *s, int an)
{
	struct ssl_state *st = s->state;
	struct decode_state *ds = st->an->priv[an];

	if (!ds)
		return;
	/* With --redact alone the decoders only mask: their counts are not news. */
	if (ds->rows)
		decode_report(proto_name(ds->dec->id), &ds->stats, ds->broken);
	if (ds->nomem)
		loupe_warn("%s: %llu connections not decoded: out of memory",
			   proto_name(ds->dec->id), (unsigned long long)ds->nomem);
	free(ds);
}
