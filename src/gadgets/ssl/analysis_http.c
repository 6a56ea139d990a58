// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --http: a row per HTTP/1.x or HTTP/2 request and response, decoded by
 * http.c from each connection's two directions.  The decoder also runs for
 * --redact (it masks HPACK literals the patterns cannot see) and --pcap
 * (it tells which side is the client), without rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "http.h"
#include "metrics.h"

struct http_state {
	bool rows, json, redact, grpc;
	struct metric *m_requests, *m_latency; /* --metrics with HTTP decoding */
	uint64_t errors;     /* directions the decoder gave up on */
	uint64_t late_masks; /* HTTP/2 secrets split across calls, already shown */
	uint64_t malformed;  /* directions of HTTP connections abandoned: http-malformed rows */
	uint64_t over_limit; /* of which at a bound of http.h */
	size_t held_peak;    /* the most every connection's decoder held at once, bytes */
};

static bool http_wanted(const struct ssl_state *st)
{
	return decode_rows(st, PROTO_HTTP) || decode_rows(st, PROTO_GRPC) || st->redact ||
	       st->pcap_path;
}

static int http_open(struct session *s)
{
	struct ssl_state *st = s->state;
	struct http_state *hs = calloc(1, sizeof(*hs));

	if (!hs)
		return -ENOMEM;
	hs->rows = decode_rows(st, PROTO_HTTP);
	hs->grpc = decode_rows(st, PROTO_GRPC);
	hs->json = s->json;
	hs->redact = st->redact;
	st->an->priv[AN_HTTP] = hs;
	if (s->metrics && hs->rows) {
		hs->m_requests = metrics_counter(s->metrics, "loupe_http_responses_total",
						 "HTTP responses seen, by method and status",
						 "method,status");
		hs->m_latency = metrics_histogram(
			s->metrics, "loupe_http_response_seconds",
			"time from an HTTP request to its response, by method and status",
			"method,status", metric_latency_buckets, metric_latency_nbuckets);
	}
	return 0;
}

/* A label from a request method: the standard ones, or "other" (a bounded label set). */
static const char *method_label(const char *m)
{
	static const char *const known[] = { "GET",	"HEAD",	   "POST",  "PUT",  "DELETE",
					     "OPTIONS", "PATCH", "CONNECT", "TRACE" };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(m, known[i]))
			return known[i];
	return m[0] ? "other" : "unknown";
}

static void http_count(struct http_state *hs, const struct http_msg *m)
{
	char status[8];

	if (!hs->m_requests || m->kind != HTTP_RESPONSE)
		return;
	snprintf(status, sizeof(status), "%d", m->status >= 100 && m->status <= 999 ? m->status : 0);
	metric_add(hs->m_requests, (const char *const[]){ method_label(m->method), status }, 1);
	if (m->has_latency)
		metric_observe(hs->m_latency,
			       (const char *const[]){ method_label(m->method), status },
			       m->latency_ns / 1e9);
}

static const char *http_version(int v)
{
	return v == 20 ? "HTTP/2" : v == 10 ? "HTTP/1.0" : "HTTP/1.1";
}

#define METHOD_PATH_LEN 2100

struct http_emit_ctx {
	struct session *s;
	struct ssl_conn *conn;
	const struct ssl_record *r;
};

/* Columns: a one-line summary; JSON keeps the head itself (HTTP/2: decoded). */
static void http_summary(char *buf, size_t len, const struct http_msg *m, const char *lat)
{
	if (m->kind == HTTP_REQUEST)
		snprintf(buf, len, "%s %s%s%s %s stream %u", m->method,
			 m->authority[0] ? "https://" : "", m->authority, m->path,
			 http_version(m->version), m->stream_id);
	else
		snprintf(buf, len, "%d for %s %s %s stream %u%s%s", m->status,
			 m->method[0] ? m->method : "?", m->path, http_version(m->version),
			 m->stream_id, lat[0] ? " after " : "", lat);
}

/* One --http row: a request or a response. */
static void emit_http(void *ctx, const struct http_msg *m)
{
	struct http_emit_ctx *hc = ctx;
	struct ssl_state *st = hc->s->state;
	struct http_state *hs = st->an->priv[AN_HTTP];
	struct value v[F_MAX] = {};
	char summary[3072], lat[32] = "", request[METHOD_PATH_LEN];
	struct row_bufs bufs;

	/* gRPC calls are rows of their own; only heads make HTTP rows. */
	if ((hs->grpc && grpc_on_http(hc->s, hc->conn, hc->r, m)) || !hs->rows ||
	    (m->kind != HTTP_REQUEST && m->kind != HTTP_RESPONSE))
		return;
	http_count(hs, m);
	ssl_row_begin(v, hc->r, &bufs);
	v[F_OPERATION] = val_str(m->kind == HTTP_REQUEST ? "http-request" : "http-response");
	v[F_PROTO] = val_str(proto_name(PROTO_HTTP));
	snprintf(request, sizeof(request), "%s %s", m->method, m->path);
	v[F_REQUEST] = val_str(request);
	v[F_HTTP] = val_str(http_version(m->version));
	v[F_METHOD] = val_str(m->method);
	v[F_PATH] = val_str(m->path);
	v[F_AUTHORITY] = val_str(m->authority);
	v[F_STREAM] = val_u64(m->stream_id);
	if (m->body_len >= 0)
		v[F_BODY_LEN] = val_s64(m->body_len);
	if (m->kind == HTTP_RESPONSE) {
		v[F_STATUS] = val_u64(m->status);
		if (m->has_latency) {
			v[F_RESPONSE_TIME] = val_u64(m->latency_ns);
			v[F_LATENCY] = val_u64(m->latency_ns);
			format_duration(lat, sizeof(lat), m->latency_ns);
		}
	}
	v[F_ERROR] = val_str("");
	if (hs->json) {
		v[F_DATA] = val_bytes(m->head, m->head_len);
	} else {
		http_summary(summary, sizeof(summary), m, lat);
		v[F_DATA] = val_bytes(summary, strlen(summary));
	}
	session_emit(hc->s, v);
}

/*
 * A direction of an HTTP connection was abandoned: its row says why (which
 * bound, or what broke), so that the raw rows that follow are explained.
 */
static void emit_malformed(struct session *s, const struct ssl_call *c, struct http_conn *h,
			   const char *why)
{
	struct http_state *hs = ((struct ssl_state *)s->state)->an->priv[AN_HTTP];
	int client = http_conn_client_dir(h);
	const char *side;
	struct value v[F_MAX] = {};
	char error[128], text[256];
	struct row_bufs bufs;

	hs->malformed++;
	if (!hs->rows)
		return;
	ssl_row_begin(v, c->r, &bufs);
	snprintf(error, sizeof(error), "malformed: %s", why);
	if (client < 0)
		side = "peer";
	else
		side = client == c->write ? "client" : "server";
	snprintf(text, sizeof(text), "%s from the %s: %s; not decoded from here, raw rows follow",
		 http_conn_is_h2(h) ? "HTTP/2" : "HTTP/1", side, why);
	v[F_OPERATION] = val_str("http-malformed");
	v[F_PROTO] = val_str(proto_name(PROTO_HTTP));
	if (http_conn_is_h2(h))
		v[F_HTTP] = val_str("HTTP/2");
	v[F_ERROR] = val_str(error);
	v[F_DATA] = val_bytes(text, strlen(text));
	session_emit(s, v);
}

static int http_feed(struct session *s, struct ssl_call *c)
{
	struct ssl_state *st = s->state;
	struct http_state *hs = st->an->priv[AN_HTTP];
	struct http_emit_ctx ctx = { s, c->conn, c->r };
	struct ssl_conn *conn = c->conn;
	struct http_conn *h;
	int client, verdict;
	uint64_t bounds;
	bool alive;

	if (!conn || decode_taken(conn, PROTO_HTTP))
		return 0;
	if (!conn->an[AN_HTTP] && !(conn->an[AN_HTTP] = http_conn_new()))
		return 0; /* out of memory: this connection is not decoded */
	h = conn->an[AN_HTTP];
	if (hs->grpc)
		http_conn_want_frames(h);
	alive = http_conn_dir_alive(h, c->write);
	bounds = http_conn_stats(h)->over_limit;
	/* The bytes are ours to mask only when redaction made a copy. */
	if (!conn->broken)
		http_conn_feed(h, c->write, (uint8_t *)c->data, c->len, c->r->proc.ts_ns,
			       hs->redact, emit_http, &ctx);
	if (http_held_total() > hs->held_peak)
		hs->held_peak = http_held_total();
	/* Abandoned by this call, on a connection that is HTTP (not another protocol). */
	if (alive && !http_conn_dir_alive(h, c->write) && http_conn_verdict(h) > 0 &&
	    http_conn_error(h, c->write)) {
		hs->over_limit += http_conn_stats(h)->over_limit - bounds;
		emit_malformed(s, c, h, http_conn_error(h, c->write));
	}
	/* After a gap every later byte would be parsed at the wrong place. */
	if (c->truncated && !conn->broken)
		hs->errors++;
	client = http_conn_client_dir(h);
	if (client >= 0)
		conn->client_dir = client == 1;
	/* Claimed only when its rows stand for the bytes: HTTP asked for, or gRPC on HTTP/2. */
	verdict = http_conn_verdict(h);
	if (verdict < 0)
		decode_verdict(conn, PROTO_HTTP, VERDICT_NO);
	else if (verdict > 0 && (hs->rows || (hs->grpc && http_conn_is_h2(h))))
		decode_verdict(conn, PROTO_HTTP, VERDICT_YES);
	if (conn->proto_claimed == 1 + PROTO_HTTP && !conn->broken &&
	    http_conn_dir_alive(h, c->write) && (hs->rows || http_conn_is_h2(h)))
		c->decoded = true;
	return 0;
}

static void http_conn_end(struct session *s, struct ssl_conn *conn)
{
	struct ssl_state *st = s->state;
	struct http_state *hs = st->an->priv[AN_HTTP];
	const struct http_stats *stats;

	if (!conn->an[AN_HTTP])
		return;
	stats = http_conn_stats(conn->an[AN_HTTP]);
	/*
	 * Only HTTP's own connections: the others are another protocol's, or
	 * counted as not recognised (analysis.c).
	 */
	if (conn->proto_claimed == 1 + PROTO_HTTP)
		hs->errors += stats->hpack_errors + stats->parse_errors;
	hs->late_masks += stats->late_masks;
	http_conn_free(conn->an[AN_HTTP]);
	conn->an[AN_HTTP] = NULL;
}

static void http_close(struct session *s)
{
	struct ssl_state *st = s->state;
	struct http_state *hs = st->an->priv[AN_HTTP];

	if (!hs)
		return;
	/* Those with an http-malformed row are said just below. */
	if (hs->rows && hs->errors > hs->malformed)
		loupe_warn("%llu HTTP connection directions could not be decoded past malformed "
			   "bytes or bytes missing",
			   (unsigned long long)(hs->errors - hs->malformed));
	if (hs->malformed)
		loupe_warn("%llu HTTP connection directions were malformed or passed a bound of "
			   "the decoder (http-malformed rows say why; their bytes are shown raw)",
			   (unsigned long long)hs->malformed);
	if (hs->redact && hs->late_masks)
		loupe_warn("%llu HTTP/2 header values split across calls were shown unmasked in "
			   "the raw data (the decoded rows are masked)",
			   (unsigned long long)hs->late_masks);
	free(hs);
}

static void http_stats(struct session *s, gadget_stat_fn fn, void *ctx)
{
	struct http_state *hs = ((struct ssl_state *)s->state)->an->priv[AN_HTTP];

	if (!hs)
		return;
	fn("http_malformed", hs->malformed, ctx);
	fn("http_over_limit", hs->over_limit, ctx);
	fn("http_held_peak_bytes", hs->held_peak, ctx);
}

const struct ssl_analysis ssl_analysis_http = {
	.name = "http",
	.wanted = http_wanted,
	.per_conn = true,
	.open = http_open,
	.feed = http_feed,
	.conn_end = http_conn_end,
	.close = http_close,
	.stats = http_stats,
};
