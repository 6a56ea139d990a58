// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gRPC calls from HTTP/2 events (see grpc.h).  Each message of a call is a
 * 5-byte prefix (compressed flag, 32-bit big-endian length) and its bytes,
 * split across DATA frames anywhere: a small reader per direction counts
 * and sizes them without keeping their bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc.h"

#define GRPC_CALLS 64

static const char *const status_names[] = {
	"OK",
	"CANCELLED",
	"UNKNOWN",
	"INVALID_ARGUMENT",
	"DEADLINE_EXCEEDED",
	"NOT_FOUND",
	"ALREADY_EXISTS",
	"PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION",
	"ABORTED",
	"OUT_OF_RANGE",
	"UNIMPLEMENTED",
	"INTERNAL",
	"UNAVAILABLE",
	"DATA_LOSS",
	"UNAUTHENTICATED",
};

/* The length-prefixed messages of one direction of a call. */
struct lp {
	uint8_t hdr[5];
	uint8_t hlen;
	bool bad;
	uint32_t left;
	uint64_t msgs, bytes;
	char sizes[48];
};

struct gcall {
	bool used;
	uint32_t id;
	int req_dir;
	uint64_t ts;
	char path[256], service[160], method[96];
	struct lp lp[2]; /* 0: the client's messages, 1: the server's */
};

struct grpc_conn {
	struct gcall calls[GRPC_CALLS];
	uint64_t ncalls;
	struct proto_stats stats;
};

const char *grpc_status_name(int64_t code)
{
	return code >= 0 && code < (int64_t)(sizeof(status_names) / sizeof(status_names[0]))
		       ? status_names[code]
		       : NULL;
}

static struct gcall *find(struct grpc_conn *g, uint32_t id)
{
	for (int i = 0; i < GRPC_CALLS; i++)
		if (g->calls[i].used && g->calls[i].id == id)
			return &g->calls[i];
	return NULL;
}

static struct gcall *add(struct grpc_conn *g, uint32_t id)
{
	struct gcall *c = find(g, id), *oldest = NULL;

	for (int i = 0; !c && i < GRPC_CALLS; i++) {
		if (!g->calls[i].used) {
			c = &g->calls[i];
			break;
		}
		if (!oldest || g->calls[i].ts < oldest->ts)
			oldest = &g->calls[i];
	}
	if (!c) {
		/* A call that never ends must not pin the table. */
		c = oldest;
		g->stats.evicted++;
	}
	*c = (struct gcall){ .used = true, .id = id };
	return c;
}

static void lp_feed(struct grpc_conn *g, struct lp *lp, const uint8_t *p, size_t n)
{
	while (n && !lp->bad) {
		if (lp->hlen < 5) {
			lp->hdr[lp->hlen++] = *p++;
			n--;
			if (lp->hlen < 5)
				continue;
			if (lp->hdr[0] > 1) {
				/* Only "compressed or not" exists: this is not gRPC framing. */
				lp->bad = true;
				g->stats.malformed++;
				return;
			}
			lp->left = (uint32_t)lp->hdr[1] << 24 | (uint32_t)lp->hdr[2] << 16 |
				   (uint32_t)lp->hdr[3] << 8 | lp->hdr[4];
			lp->msgs++;
			lp->bytes += lp->left;
			if (lp->msgs <= 4) {
				char num[16];

				snprintf(num, sizeof(num), "%s%u", lp->msgs > 1 ? ", " : "",
					 lp->left);
				text_append(lp->sizes, sizeof(lp->sizes), num, strlen(num));
			} else if (lp->msgs == 5) {
				text_append(lp->sizes, sizeof(lp->sizes), ", ...", 5);
			}
			if (!lp->left)
				lp->hlen = 0;
			continue;
		}
		size_t k = lp->left < n ? lp->left : n;

		lp->left -= k;
		p += k;
		n -= k;
		if (!lp->left)
			lp->hlen = 0;
	}
}

/* grpc-message is percent-encoded (PROTOCOL-HTTP2.md): decode it. */
static void percent_decode(char *dst, size_t cap, const char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < cap; i++) {
		unsigned int v;

		if (s[i] == '%' && i + 2 < len && sscanf(s + i + 1, "%2x", &v) == 1) {
			dst[o++] = (char)v;
			i += 2;
		} else {
			dst[o++] = s[i];
		}
	}
	dst[o] = '\0';
}

static void describe(char *buf, size_t cap, const char *what, const struct lp *lp)
{
	size_t n = strlen(buf);

	snprintf(buf + n, cap - n, "; %s %llu%s%s%s", what, (unsigned long long)lp->msgs,
		 lp->msgs ? " (" : "", lp->sizes, lp->msgs ? " bytes)" : "");
}

/* The call is over: trailers (or a Trailers-Only response), or a reset. */
static void finish(struct grpc_conn *g, struct gcall *c, const struct http_msg *m, proto_cb cb,
		   void *ctx)
{
	char result[192], message[256] = "", code[16];
	const char *v, *name;
	size_t len;
	int64_t status = -1;
	struct proto_msg pm;

	if (m->kind == HTTP_RESET) {
		status = 1; /* CANCELLED */
		snprintf(message, sizeof(message), "stream reset by the %s (RST_STREAM %d)",
			 m->dir == c->req_dir ? "client" : "server", m->status);
	} else if ((v = http_head_value(m->head, m->head_len, "grpc-status", &len))) {
		snprintf(code, sizeof(code), "%.*s", (int)(len < 15 ? len : 15), v);
		status = strtoll(code, NULL, 10);
		if ((v = http_head_value(m->head, m->head_len, "grpc-message", &len)))
			percent_decode(message, sizeof(message), v, len);
	} else {
		g->stats.malformed++;
		snprintf(message, sizeof(message), "no grpc-status in the trailers");
	}
	name = grpc_status_name(status);
	snprintf(result, sizeof(result), "%s", name ? name : status < 0 ? "?" : code);
	describe(result, sizeof(result), "sent", &c->lp[0]);
	describe(result, sizeof(result), "received", &c->lp[1]);
	proto_msg_init(&pm, PROTO_RESPONSE, m->dir, m->ts_ns);
	pm.method = c->method;
	pm.service = c->service;
	pm.request = c->path;
	pm.result = result;
	pm.status = status;
	pm.code = name;
	if (status != 0)
		pm.error = message;
	pm.req_messages = c->lp[0].msgs;
	pm.messages = c->lp[1].msgs;
	pm.bytes = c->lp[1].bytes;
	pm.has_latency = m->ts_ns >= c->ts;
	pm.latency_ns = pm.has_latency ? m->ts_ns - c->ts : 0;
	cb(ctx, &pm);
	c->used = false;
}

static void start(struct grpc_conn *g, const struct http_msg *m, proto_cb cb, void *ctx)
{
	struct gcall *c = add(g, m->stream_id);
	const char *slash = strrchr(m->path, '/');
	struct proto_msg pm;

	g->ncalls++;
	c->req_dir = m->dir;
	c->ts = m->ts_ns;
	text_set(c->path, sizeof(c->path), m->path, strlen(m->path));
	/* /package.Service/Method */
	if (slash && m->path[0] == '/' && slash > m->path) {
		text_set(c->service, sizeof(c->service), m->path + 1, slash - m->path - 1);
		text_set(c->method, sizeof(c->method), slash + 1, strlen(slash + 1));
	} else {
		g->stats.malformed++;
	}
	proto_msg_init(&pm, PROTO_REQUEST, m->dir, m->ts_ns);
	pm.method = c->method;
	pm.service = c->service;
	pm.request = c->path;
	cb(ctx, &pm);
}

bool grpc_event(struct grpc_conn *g, const struct http_msg *m, proto_cb cb, void *ctx)
{
	struct gcall *c;

	if (m->version != 20)
		return false;
	if (m->kind == HTTP_REQUEST) {
		if (strncmp(m->content_type, "application/grpc", 16) ||
		    (m->content_type[16] && m->content_type[16] != '+' &&
		     m->content_type[16] != ';'))
			return false;
		start(g, m, cb, ctx);
		return true;
	}
	if (!(c = find(g, m->stream_id)))
		return false;
	switch (m->kind) {
	case HTTP_RESPONSE:
		if (m->end_stream) /* Trailers-Only: an error without messages */
			finish(g, c, m, cb, ctx);
		break;
	case HTTP_DATA:
		lp_feed(g, &c->lp[m->dir != c->req_dir], m->data, m->data_len);
		break;
	case HTTP_TRAILERS:
	case HTTP_RESET:
		finish(g, c, m, cb, ctx);
		break;
	default:
		break;
	}
	return true;
}

struct grpc_conn *grpc_new(void)
{
	return calloc(1, sizeof(struct grpc_conn));
}

void grpc_free(struct grpc_conn *g)
{
	free(g);
}

uint64_t grpc_calls(const struct grpc_conn *g)
{
	return g->ncalls;
}

const struct proto_stats *grpc_stats(const struct grpc_conn *g)
{
	return &g->stats;
}
