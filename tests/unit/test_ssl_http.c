// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the HTTP decoder: HTTP/1 (lengths, chunked, pipelining,
 * bytes split anywhere) and HTTP/2 (frames built with libnghttp2's HPACK
 * deflater, CONTINUATION, the dynamic table across blocks, masking).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "gadgets/ssl/grpc.h"
#include "gadgets/ssl/http.h"

#define MAX_MSGS 16

struct seen {
	int n;
	struct {
		enum http_kind kind;
		int version, status, dir;
		uint32_t stream;
		char method[32], path[256], authority[64], head[1024];
		int64_t body_len;
		bool has_latency;
		uint64_t latency;
	} m[MAX_MSGS];
};

static void collect(void *ctx, const struct http_msg *m)
{
	struct seen *s = ctx;

	if (s->n >= MAX_MSGS)
		return;
	s->m[s->n].kind = m->kind;
	s->m[s->n].version = m->version;
	s->m[s->n].status = m->status;
	s->m[s->n].dir = m->dir;
	s->m[s->n].stream = m->stream_id;
	snprintf(s->m[s->n].method, 32, "%s", m->method ? m->method : "");
	snprintf(s->m[s->n].path, 256, "%s", m->path ? m->path : "");
	snprintf(s->m[s->n].authority, 64, "%s", m->authority ? m->authority : "");
	snprintf(s->m[s->n].head, 1024, "%.*s", (int)m->head_len, m->head);
	s->m[s->n].body_len = m->body_len;
	s->m[s->n].has_latency = m->has_latency;
	s->m[s->n].latency = m->latency_ns;
	s->n++;
}

static void feed(struct http_conn *c, int dir, const char *s, size_t len, uint64_t ts,
		 struct seen *seen)
{
	uint8_t *copy = malloc(len + 1);

	memcpy(copy, s, len);
	http_conn_feed(c, dir, copy, len, ts, false, collect, seen);
	free(copy);
}

static void test_h1_basic(void **state)
{
	struct http_conn *c = http_conn_new();
	struct seen s = {};
	const char *req = "POST /api/v1?x=1 HTTP/1.1\r\nHost: example.com:8443\r\n"
			  "Content-Length: 5\r\n\r\nhello";
	const char *resp = "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc";

	feed(c, 1, req, strlen(req), 1000, &s);
	feed(c, 0, resp, strlen(resp), 5000, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.m[0].kind, HTTP_REQUEST);
	assert_string_equal(s.m[0].method, "POST");
	assert_string_equal(s.m[0].path, "/api/v1?x=1");
	assert_string_equal(s.m[0].authority, "example.com:8443");
	assert_int_equal(s.m[0].body_len, 5);
	assert_int_equal(s.m[0].version, 11);
	assert_int_equal(s.m[1].kind, HTTP_RESPONSE);
	assert_int_equal(s.m[1].status, 201);
	assert_string_equal(s.m[1].method, "POST");
	assert_string_equal(s.m[1].path, "/api/v1?x=1");
	assert_int_equal(s.m[1].body_len, 3);
	assert_true(s.m[1].has_latency);
	assert_int_equal(s.m[1].latency, 4000);
	assert_int_equal(s.m[1].stream, 1);
	assert_false(http_conn_is_h2(c));
	assert_int_equal(http_conn_client_dir(c), 1);
	http_conn_free(c);
}

/* Every split of a keep-alive exchange gives the same messages. */
static void test_h1_chunked_split_pipelined(void **state)
{
	const char *reqs = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\n\r\n";
	const char *resps = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			    "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
			    "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n";
	size_t rl = strlen(resps);

	for (size_t split = 1; split < rl; split += 7) {
		struct http_conn *c = http_conn_new();
		struct seen s = {};

		feed(c, 0, reqs, strlen(reqs), 10, &s);
		feed(c, 1, resps, split, 20, &s);
		feed(c, 1, resps + split, rl - split, 30, &s);
		assert_int_equal(s.n, 4);
		assert_string_equal(s.m[0].path, "/a");
		assert_string_equal(s.m[1].method, "HEAD");
		assert_int_equal(s.m[2].kind, HTTP_RESPONSE);
		assert_int_equal(s.m[2].body_len, 11);
		assert_string_equal(s.m[2].path, "/a");
		/* A response to HEAD has no body, whatever its Content-Length says. */
		assert_int_equal(s.m[3].body_len, 0);
		assert_string_equal(s.m[3].path, "/b");
		assert_int_equal(s.m[3].stream, 2);
		http_conn_free(c);
	}
}

/* A trailer line longer than the line buffer is skipped, wherever the bytes are split. */
static void test_h1_long_trailer_line(void **state)
{
	char resps[512];
	size_t rl;

	rl = snprintf(resps, sizeof(resps),
		      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
		      "X-Trailer: %0200d\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		      7);
	/* It used to spin forever on such a line: fail, do not hang. */
	alarm(10);
	for (size_t split = 1; split < rl; split += 13) {
		struct http_conn *c = http_conn_new();
		struct seen s = {};

		feed(c, 0, "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n", 36, 10, &s);
		feed(c, 1, resps, split, 20, &s);
		feed(c, 1, resps + split, rl - split, 30, &s);
		assert_int_equal(s.n, 4);
		assert_int_equal(s.m[2].body_len, 5);
		assert_int_equal(s.m[3].status, 204);
		assert_int_equal(http_conn_stats(c)->parse_errors, 0);
		http_conn_free(c);
	}
	alarm(0);
}

static void test_h1_not_http(void **state)
{
	struct http_conn *c = http_conn_new();
	struct seen s = {};

	feed(c, 1, "\x16\x03\x01garbage\r\n\r\n", 14, 1, &s);
	feed(c, 1, "GET / HTTP/1.1\r\n\r\n", 18, 2, &s);
	assert_int_equal(s.n, 0);
	assert_int_equal(http_conn_stats(c)->parse_errors, 1);
	http_conn_free(c);
}

/* --- HTTP/2 --------------------------------------------------------------- */

struct h2_writer {
	nghttp2_hd_deflater *def;
	uint8_t buf[8192];
	size_t len;
};

static void frame(struct h2_writer *w, uint8_t type, uint8_t flags, uint32_t sid,
		  const uint8_t *payload, size_t len)
{
	uint8_t *p = w->buf + w->len;

	p[0] = len >> 16;
	p[1] = len >> 8;
	p[2] = len;
	p[3] = type;
	p[4] = flags;
	p[5] = sid >> 24;
	p[6] = sid >> 16;
	p[7] = sid >> 8;
	p[8] = sid;
	if (len)
		memcpy(p + 9, payload, len);
	w->len += 9 + len;
}

#define NV(n, v)                                                                               \
	{                                                                                      \
		(uint8_t *)n, (uint8_t *)v, sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE \
	}

/* A header block, as one HEADERS frame or split into a CONTINUATION. */
static void headers(struct h2_writer *w, uint32_t sid, const nghttp2_nv *nv, size_t n, bool split,
		    bool end_stream)
{
	uint8_t block[2048];
	ssize_t len = nghttp2_hd_deflate_hd(w->def, block, sizeof(block), nv, n);
	uint8_t es = end_stream ? NGHTTP2_FLAG_END_STREAM : 0;

	assert_true(len > 0);
	if (!split) {
		frame(w, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | es, sid, block, len);
		return;
	}
	frame(w, NGHTTP2_HEADERS, es, sid, block, 3);
	frame(w, NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, sid, block + 3, len - 3);
}

static void test_h2_exchange(void **state)
{
	struct h2_writer cli = {}, srv = {};
	const nghttp2_nv req[] = { NV(":method", "GET"), NV(":scheme", "https"),
				   NV(":authority", "localhost:8443"), NV(":path", "/index.html"),
				   NV("user-agent", "test/1.0") };
	const nghttp2_nv req2[] = { NV(":method", "GET"), NV(":scheme", "https"),
				    NV(":authority", "localhost:8443"), NV(":path", "/two"),
				    NV("user-agent", "test/1.0") };
	const nghttp2_nv resp[] = { NV(":status", "404"), NV("content-length", "12") };
	struct http_conn *c = http_conn_new();
	struct seen s = {};

	nghttp2_hd_deflate_new(&cli.def, 4096);
	nghttp2_hd_deflate_new(&srv.def, 4096);
	memcpy(cli.buf, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	cli.len = 24;
	frame(&cli, NGHTTP2_SETTINGS, 0, 0, (const uint8_t *)"\0\3\0\0\0\144", 6);
	headers(&cli, 1, req, 5, false, true);
	headers(&cli, 3, req2, 5, true, true); /* indexed from the dynamic table, split */
	frame(&srv, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
	headers(&srv, 3, resp, 2, false, false);
	frame(&srv, NGHTTP2_DATA, 0, 3, (const uint8_t *)"not found!!\n", 12);
	headers(&srv, 1, resp, 2, true, false);

	/* The client's bytes one at a time: frames and blocks are reassembled. */
	for (size_t i = 0; i < cli.len; i++)
		feed(c, 1, (const char *)cli.buf + i, 1, 100, &s);
	feed(c, 0, (const char *)srv.buf, srv.len, 350, &s);
	assert_true(http_conn_is_h2(c));
	assert_int_equal(s.n, 4);
	assert_int_equal(s.m[0].kind, HTTP_REQUEST);
	assert_int_equal(s.m[0].version, 20);
	assert_int_equal(s.m[0].stream, 1);
	assert_string_equal(s.m[0].method, "GET");
	assert_string_equal(s.m[0].path, "/index.html");
	assert_string_equal(s.m[0].authority, "localhost:8443");
	assert_int_equal(s.m[0].body_len, 0);
	assert_non_null(strstr(s.m[0].head, "user-agent: test/1.0\r\n"));
	assert_string_equal(s.m[1].path, "/two");
	assert_int_equal(s.m[1].stream, 3);
	assert_int_equal(s.m[2].kind, HTTP_RESPONSE);
	assert_int_equal(s.m[2].stream, 3);
	assert_int_equal(s.m[2].status, 404);
	assert_string_equal(s.m[2].path, "/two");
	assert_int_equal(s.m[2].body_len, 12);
	assert_true(s.m[2].has_latency);
	assert_int_equal(s.m[2].latency, 250);
	assert_int_equal(s.m[3].stream, 1);
	assert_string_equal(s.m[3].path, "/index.html");
	assert_int_equal(http_conn_stats(c)->hpack_errors, 0);
	nghttp2_hd_deflate_del(cli.def);
	nghttp2_hd_deflate_del(srv.def);
	http_conn_free(c);
}

/* The server speaks first (its SETTINGS before the client's preface is read). */
static void test_h2_server_first(void **state)
{
	struct h2_writer srv = {}, cli = {};
	const nghttp2_nv req[] = { NV(":method", "POST"), NV(":path", "/p"), NV(":authority", "a"),
				   NV(":scheme", "https") };
	struct http_conn *c = http_conn_new();
	struct seen s = {};

	nghttp2_hd_deflate_new(&cli.def, 4096);
	frame(&srv, NGHTTP2_SETTINGS, 0, 0, (const uint8_t *)"\0\4\0\1\0\0", 6);
	memcpy(cli.buf, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	cli.len = 24;
	headers(&cli, 1, req, 4, false, false);
	feed(c, 1, (const char *)srv.buf, srv.len, 1, &s);
	feed(c, 0, (const char *)cli.buf, cli.len, 2, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.m[0].method, "POST");
	assert_int_equal(s.m[0].dir, 0);
	assert_int_equal(s.m[0].body_len, -1);
	/* The server spoke first, yet the client is the side of the preface. */
	assert_int_equal(http_conn_client_dir(c), 0);
	nghttp2_hd_deflate_del(cli.def);
	http_conn_free(c);
}

/* Masked HPACK literals still decode, to asterisks, in a fresh decoder. */
static void test_h2_redact_in_place(void **state)
{
	struct h2_writer cli = {};
	const nghttp2_nv req[] = {
		NV(":method", "GET"),	    NV(":path", "/x?password=hunter2"),
		NV(":authority", "h"),	    NV("authorization", "Bearer sekrit-123"),
		NV("cookie", "sid=abcdef"), NV("accept", "*/*")
	};
	struct http_conn *c = http_conn_new();
	nghttp2_hd_inflater *inf;
	struct seen s = {};
	uint8_t *buf;
	size_t pos, n = 0;
	char all[1024] = "";

	nghttp2_hd_deflate_new(&cli.def, 4096);
	memcpy(cli.buf, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	cli.len = 24;
	headers(&cli, 1, req, 6, false, true);
	buf = malloc(cli.len);
	memcpy(buf, cli.buf, cli.len);
	http_conn_feed(c, 1, buf, cli.len, 1, true, collect, &s);
	assert_int_equal(s.n, 1);
	/* The decoded view keeps names and the scheme, not the secrets. */
	assert_string_equal(s.m[0].path, "/x?password=*******");
	assert_non_null(strstr(s.m[0].head, "authorization: Bearer **********\r\n"));
	assert_non_null(strstr(s.m[0].head, "cookie: sid=******\r\n"));
	assert_null(strstr(s.m[0].head, "sekrit"));
	assert_null(strstr(s.m[0].head, "abcdef"));
	assert_non_null(strstr(s.m[0].head, "accept: */*"));

	/* The wire bytes: decode them again from scratch. */
	nghttp2_hd_inflate_new(&inf);
	pos = 24 + 9;
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &flags, buf + pos, cli.len - pos, 1);

		assert_true(rv >= 0);
		pos += rv;
		if (flags & NGHTTP2_HD_INFLATE_EMIT) {
			n++;
			strncat(all, (const char *)nv.name, nv.namelen);
			strcat(all, "=");
			strncat(all, (const char *)nv.value, nv.valuelen);
			strcat(all, "\n");
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL)
			break;
	}
	assert_int_equal(n, 6);
	assert_null(strstr(all, "hunter2"));
	assert_null(strstr(all, "sekrit"));
	assert_null(strstr(all, "abcdef"));
	assert_non_null(strstr(all, "accept=*/*"));
	assert_non_null(strstr(all, ":method=GET"));
	nghttp2_hd_inflate_del(inf);
	nghttp2_hd_deflate_del(cli.def);
	free(buf);
	http_conn_free(c);
}

static void test_h2_garbage_block(void **state)
{
	struct h2_writer cli = {};
	struct http_conn *c = http_conn_new();
	struct seen s = {};

	memcpy(cli.buf, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	cli.len = 24;
	/* Index 0 is invalid in HPACK. */
	frame(&cli, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, (const uint8_t *)"\x80\x80", 2);
	feed(c, 1, (const char *)cli.buf, cli.len, 1, &s);
	assert_int_equal(s.n, 0);
	assert_int_equal(http_conn_stats(c)->hpack_errors, 1);
	http_conn_free(c);
}

/* --- gRPC on HTTP/2 frames ---------------------------------------------------------- */

struct grpc_seen {
	struct grpc_conn *g;
	int http; /* events that were not gRPC's */
	int n;
	struct {
		enum proto_kind kind;
		char method[32], service[32], request[64], result[160], code[24], error[64];
		int64_t status, messages, req_messages, bytes;
		uint64_t latency;
	} r[8];
};

static void grpc_collect(void *ctx, const struct proto_msg *m)
{
	struct grpc_seen *s = ctx;

	if (s->n >= 8)
		return;
	s->r[s->n].kind = m->kind;
	snprintf(s->r[s->n].method, 32, "%s", m->method ? m->method : "");
	snprintf(s->r[s->n].service, 32, "%s", m->service ? m->service : "");
	snprintf(s->r[s->n].request, 64, "%s", m->request ? m->request : "");
	snprintf(s->r[s->n].result, 160, "%s", m->result ? m->result : "");
	snprintf(s->r[s->n].code, 24, "%s", m->code ? m->code : "");
	snprintf(s->r[s->n].error, 64, "%s", m->error ? m->error : "");
	s->r[s->n].status = m->status;
	s->r[s->n].messages = m->messages;
	s->r[s->n].req_messages = m->req_messages;
	s->r[s->n].bytes = m->bytes;
	s->r[s->n].latency = m->latency_ns;
	s->n++;
}

static void grpc_http(void *ctx, const struct http_msg *m)
{
	struct grpc_seen *s = ctx;

	if (!grpc_event(s->g, m, grpc_collect, s) &&
	    (m->kind == HTTP_REQUEST || m->kind == HTTP_RESPONSE))
		s->http++;
}

static void test_h2_grpc(void **state)
{
	struct h2_writer cli = {}, srv = {};
	const nghttp2_nv req[] = { NV(":method", "POST"),
				   NV(":scheme", "https"),
				   NV(":path", "/shop.Cart/Add"),
				   NV(":authority", "localhost"),
				   NV("content-type", "application/grpc+proto"),
				   NV("te", "trailers") };
	const nghttp2_nv req3[] = { NV(":method", "POST"), NV(":scheme", "https"),
				    NV(":path", "/shop.Cart/Get"), NV(":authority", "localhost"),
				    NV("content-type", "application/grpc") };
	const nghttp2_nv plain[] = { NV(":method", "GET"), NV(":scheme", "https"),
				     NV(":path", "/index.html"), NV(":authority", "localhost") };
	const nghttp2_nv resp[] = { NV(":status", "200"), NV("content-type", "application/grpc") };
	const nghttp2_nv trailers[] = { NV("grpc-status", "5"),
					NV("grpc-message", "no%20cart%3A 42") };
	const nghttp2_nv only[] = { NV(":status", "200"), NV("content-type", "application/grpc"),
				    NV("grpc-status", "0") };
	/* Messages: 3 bytes, then 0 and 7 bytes, split across frames anywhere. */
	static const uint8_t m1[] = "\0\0\0\0\3abc";
	static const uint8_t m2[] = "\0\0\0\0\0\0\0\0\0\7xyzxyzx";
	struct http_conn *c = http_conn_new();
	struct grpc_seen s = { .g = grpc_new() };

	http_conn_want_frames(c);
	nghttp2_hd_deflate_new(&cli.def, 4096);
	nghttp2_hd_deflate_new(&srv.def, 4096);
	memcpy(cli.buf, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	cli.len = 24;
	frame(&cli, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
	headers(&cli, 1, req, 6, false, false);
	frame(&cli, NGHTTP2_DATA, 0, 1, m1, 4);
	frame(&cli, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1, m1 + 4, 4);
	headers(&cli, 3, req3, 5, false, false);
	frame(&cli, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 3, m1, 8);
	headers(&cli, 5, plain, 4, false, true);
	frame(&srv, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
	headers(&srv, 1, resp, 2, false, false);
	/* A padded DATA frame: pad length 2, then two padding bytes. */
	{
		uint8_t padded[1 + 9 + 2] = { 2 };

		memcpy(padded + 1, m2, 9);
		frame(&srv, NGHTTP2_DATA, NGHTTP2_FLAG_PADDED, 1, padded, sizeof(padded));
	}
	frame(&srv, NGHTTP2_DATA, 0, 1, m2 + 9, 7);
	headers(&srv, 1, trailers, 2, false, true);
	headers(&srv, 3, only, 3, false, true);
	headers(&srv, 5, resp, 2, false, true);

	for (size_t i = 0; i < cli.len; i++)
		http_conn_feed(c, 1, cli.buf + i, 1, 100, false, grpc_http, &s);
	for (size_t i = 0; i < srv.len; i++)
		http_conn_feed(c, 0, srv.buf + i, 1, 400, false, grpc_http, &s);
	assert_int_equal(s.http, 2); /* the GET and its response are plain HTTP */
	assert_int_equal(s.n, 4);
	assert_int_equal(s.r[0].kind, PROTO_REQUEST);
	assert_string_equal(s.r[0].service, "shop.Cart");
	assert_string_equal(s.r[0].method, "Add");
	assert_string_equal(s.r[0].request, "/shop.Cart/Add");
	assert_int_equal(s.r[2].kind, PROTO_RESPONSE);
	assert_string_equal(s.r[2].method, "Add");
	assert_int_equal(s.r[2].status, 5);
	assert_string_equal(s.r[2].code, "NOT_FOUND");
	assert_string_equal(s.r[2].error, "no cart: 42");
	assert_int_equal(s.r[2].req_messages, 1);
	assert_int_equal(s.r[2].messages, 2);
	assert_int_equal(s.r[2].bytes, 7);
	assert_int_equal(s.r[2].latency, 300);
	assert_string_equal(s.r[2].result, "NOT_FOUND; sent 1 (3 bytes); received 2 (0, 7 bytes)");
	assert_string_equal(s.r[3].method, "Get"); /* Trailers-Only */
	assert_int_equal(s.r[3].status, 0);
	assert_string_equal(s.r[3].error, "");
	assert_int_equal(grpc_stats(s.g)->malformed, 0);
	nghttp2_hd_deflate_del(cli.def);
	nghttp2_hd_deflate_del(srv.def);
	grpc_free(s.g);
	http_conn_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_h1_basic),
		cmocka_unit_test(test_h1_chunked_split_pipelined),
		cmocka_unit_test(test_h1_long_trailer_line),
		cmocka_unit_test(test_h1_not_http),
		cmocka_unit_test(test_h2_exchange),
		cmocka_unit_test(test_h2_server_first),
		cmocka_unit_test(test_h2_redact_in_place),
		cmocka_unit_test(test_h2_garbage_block),
		cmocka_unit_test(test_h2_grpc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
