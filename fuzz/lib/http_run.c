// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One connection's calls through the HTTP decoder, as analysis_redact.c and
 * analysis_http.c feed them, with the promises of http.h and redact.h
 * checked (see http_run.h).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gadgets/ssl/http.h"
#include "gadgets/ssl/redact.h"
#include "http_run.h"
#include "expect.h"

struct run {
	int dir;
	unsigned long sum; /* every byte handed over is read */
};

static void on_msg(void *ctx, const struct http_msg *m)
{
	struct run *r = ctx;

	expect(m->kind == HTTP_REQUEST || m->kind == HTTP_RESPONSE);
	expect(m->version == 10 || m->version == 11 || m->version == 20);
	expect(m->dir == r->dir);
	expect(m->body_len >= -1);
	expect(m->method && m->path && m->authority);
	r->sum += strlen(m->method) + strlen(m->path) + strlen(m->authority);
	expect(m->head || !m->head_len);
	for (size_t i = 0; i < m->head_len; i++)
		r->sum += (unsigned char)m->head[i];
}

static void run_once(const struct fuzz_call *calls, size_t n, bool redact)
{
	struct http_conn *c = http_conn_new();
	struct run r = {};

	expect(c);
	for (size_t i = 0; i < n; i++) {
		size_t len = calls[i].len;
		uint8_t *buf = malloc(len ? len : 1), *before = malloc(len ? len : 1);

		expect(buf && before);
		memcpy(buf, calls[i].data, len);
		/* analysis_redact.c masks every call before the decoder sees it. */
		if (redact)
			redact_buffer(buf, len);
		memcpy(before, buf, len);
		r.dir = calls[i].dir;
		http_conn_feed(c, calls[i].dir, buf, len, calls[i].ts_ns, redact, on_msg, &r);
		/* The decoder writes only masks into the caller's bytes, and only with redact. */
		for (size_t k = 0; k < len; k++)
			expect(buf[k] == before[k] ||
			       (redact && (buf[k] == REDACT_CHAR || buf[k] == 0xf9)));
		free(before);
		free(buf);
	}
	http_conn_client_dir(c);
	http_conn_is_h2(c);
	expect(http_conn_stats(c) != NULL);
	http_conn_free(c);
}

void fuzz_http_run(const struct fuzz_call *calls, size_t n)
{
	run_once(calls, n, false);
	run_once(calls, n, true);
}
