// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the HTTP decoder's bounds (http.h): hostile bytes make it
 * abandon the direction with a reason, never hold more than the bound, and
 * give every byte back when the connection goes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gadgets/ssl/http.h"

struct count {
	int requests, responses;
};

static void counted(void *ctx, const struct http_msg *m)
{
	struct count *n = ctx;

	if (m->kind == HTTP_REQUEST)
		n->requests++;
	else if (m->kind == HTTP_RESPONSE)
		n->responses++;
}

/* Feed len bytes in calls of `piece` bytes (a copy: the decoder may mask). */
static void feed(struct http_conn *c, int dir, const void *p, size_t len, size_t piece,
		 struct count *n)
{
	for (size_t off = 0; off < len; off += piece) {
		size_t k = len - off < piece ? len - off : piece;
		uint8_t *copy = malloc(k);

		memcpy(copy, (const uint8_t *)p + off, k);
		http_conn_feed(c, dir, copy, k, 1000 + off, false, counted, n);
		free(copy);
	}
}

static void feed_str(struct http_conn *c, int dir, const char *s, struct count *n)
{
	feed(c, dir, s, strlen(s), 4096, n);
}

/* A growing byte string. */
struct buf {
	uint8_t *p;
	size_t len;
};

/* n bytes at the end: from p, or n times the byte *fill when p is NULL. */
static void put_fill(struct buf *b, const void *p, size_t n, const char *fill)
{
	b->p = realloc(b->p, b->len + n);
	if (p)
		memcpy(b->p + b->len, p, n);
	else
		memset(b->p + b->len, *fill, n);
	b->len += n;
}

static void put(struct buf *b, const void *p, size_t n)
{
	put_fill(b, p, n, NULL);
}

static void put_frame(struct buf *b, uint8_t type, uint8_t flags, uint32_t sid, const void *p,
		      size_t n)
{
	uint8_t h[9] = { n >> 16, n >> 8, n, type, flags, sid >> 24, sid >> 16, sid >> 8, sid };

	put(b, h, 9);
	put(b, p, n);
}

static void put_preface(struct buf *b)
{
	put(b, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	put_frame(b, 4, 0, 0, "", 0);
}

/* A literal field, name from static index 58 (user-agent), value of n bytes of ch. */
static void put_literal(struct buf *b, bool indexing, size_t n, char ch)
{
	uint8_t head[8];
	size_t k = 0;

	if (indexing) {
		head[k++] = 0x40 | 58;
	} else {
		head[k++] = 0x0f; /* 4-bit prefix full: 15 + 43 */
		head[k++] = 58 - 15;
	}
	/* value length, 7-bit prefix, no Huffman */
	if (n < 127) {
		head[k++] = n;
	} else {
		size_t v = n - 127;

		head[k++] = 127;
		while (v >= 128) {
			head[k++] = (v & 0x7f) | 0x80;
			v >>= 7;
		}
		head[k++] = v;
	}
	put(b, head, k);
	put_fill(b, NULL, n, &ch);
}

/* GET / on https, :authority h: static references and a literal. */
static const uint8_t get_block[] = { 0x82, 0x84, 0x87, 0x01, 0x01, 'h' };

/* Split block into HEADERS + CONTINUATIONs of 16 KiB. */
static void put_headers(struct buf *b, uint32_t sid, const struct buf *block)
{
	for (size_t off = 0; off < block->len || !off; off += 16384) {
		size_t n = block->len - off < 16384 ? block->len - off : 16384;
		uint8_t flags = off + n >= block->len ? 0x4 : 0;

		put_frame(b, off ? 9 : 1, flags | (off ? 0 : 0x1), sid, block->p + off, n);
		if (!block->len)
			break;
	}
}

static void test_h1_long_line(void **state)
{
	struct http_conn *c = http_conn_new();
	const char *head = "GET /x HTTP/1.1\r\nHost: h\r\nX-Long: ";
	size_t len = 1 << 20;
	char *line = malloc(len);
	struct count n = {};

	memset(line, 'a', len);
	feed_str(c, 1, head, &n);
	feed(c, 1, line, len, 4096, &n);
	assert_string_equal(http_conn_error(c, 1), "head over 65536 bytes");
	assert_false(http_conn_dir_alive(c, 1));
	assert_int_equal(http_conn_verdict(c), 1); /* HTTP, malformed: not another protocol */
	assert_int_equal(http_conn_client_dir(c), 1);
	assert_int_equal(http_conn_stats(c)->over_limit, 1);
	/* Abandoned: its head buffer went back. */
	assert_true(http_conn_held(c) < 4096);
	http_conn_free(c);
	assert_int_equal(http_held_total(), 0);
	free(line);
}

/* 64 KiB of bytes that are not HTTP: not malformed HTTP, another protocol. */
static void test_h1_not_http(void **state)
{
	struct http_conn *c = http_conn_new();
	size_t len = 70000;
	char *p = malloc(len);
	struct count n = {};

	memset(p, 'A', len);
	feed(c, 1, p, len, 4096, &n);
	assert_false(http_conn_dir_alive(c, 1));
	assert_int_equal(http_conn_verdict(c), -1);
	http_conn_free(c);
	free(p);
}

static void test_h1_chunks(void **state)
{
	static const struct {
		const char *body, *error;
	} cases[] = {
		{ "zz\r\n", "invalid chunk size" },
		{ "111111111111111111111\r\n", "invalid chunk size" },
		{ "5x\r\nhello\r\n", "invalid chunk size" },
		{ "-5\r\nhello\r\n", "invalid chunk size" },
		{ "5\r\nhello, world\r\n", "chunk longer than its size" },
		{ "5 ;ext=1\r\nhello\r\n0\r\n\r\n", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_conn *c = http_conn_new();
		struct count n = {};

		feed_str(c, 1, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
			 &n);
		feed_str(c, 1, cases[i].body, &n);
		if (cases[i].error) {
			assert_non_null(http_conn_error(c, 1));
			assert_string_equal(http_conn_error(c, 1), cases[i].error);
			assert_int_equal(n.requests, 0);
		} else {
			assert_null(http_conn_error(c, 1));
			assert_int_equal(n.requests, 1);
		}
		http_conn_free(c);
	}
}

static void test_h1_content_length(void **state)
{
	struct http_conn *c = http_conn_new();
	struct count n = {};

	feed_str(c, 1, "POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\nhello", &n);
	assert_string_equal(http_conn_error(c, 1), "invalid Content-Length");
	http_conn_free(c);
}

/* 10,000 pipelined requests nobody answers: 256 wait, then the direction is abandoned. */
static void test_h1_pipelined(void **state)
{
	struct http_conn *c = http_conn_new();
	struct count n = {};
	char req[64];

	for (int i = 0; i < 10000; i++) {
		snprintf(req, sizeof(req), "GET /%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
		feed_str(c, 1, req, &n);
	}
	assert_int_equal(n.requests, HTTP_MAX_STREAMS);
	assert_string_equal(http_conn_error(c, 1), "more than 256 requests waiting for responses");
	http_conn_free(c);
}

/* Answered, any number goes. */
static void test_h1_answered(void **state)
{
	struct http_conn *c = http_conn_new();
	struct count n = {};

	for (int i = 0; i < 2000; i++) {
		feed_str(c, 1, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", &n);
		feed_str(c, 0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", &n);
	}
	assert_int_equal(n.requests, 2000);
	assert_int_equal(n.responses, 2000);
	assert_null(http_conn_error(c, 1));
	assert_null(http_conn_error(c, 0));
	http_conn_free(c);
}

static void test_h2_invalid_hpack(void **state)
{
	struct http_conn *c = http_conn_new();
	struct buf b = {};
	struct count n = {};

	put_preface(&b);
	put_frame(&b, 1, 0x5, 1, "\x80", 1); /* index 0 does not exist */
	feed(c, 1, b.p, b.len, 4096, &n);
	assert_non_null(http_conn_error(c, 1));
	assert_memory_equal(http_conn_error(c, 1), "invalid HPACK: ", 15);
	assert_int_equal(http_conn_stats(c)->hpack_errors, 1);
	http_conn_free(c);
	assert_int_equal(http_held_total(), 0);
	free(b.p);
}

/* 2 MiB of header block in CONTINUATION frames: abandoned at 64 KiB. */
static void test_h2_huge_block(void **state)
{
	struct http_conn *c = http_conn_new();
	struct buf b = {}, block = {};
	struct count n = {};

	put(&block, get_block, sizeof(get_block));
	put_literal(&block, false, 2 << 20, 'd');
	put_preface(&b);
	put_headers(&b, 1, &block);
	feed(c, 1, b.p, b.len, 16384, &n);
	assert_string_equal(http_conn_error(c, 1), "header block over 65536 bytes");
	assert_int_equal(n.requests, 0);
	assert_true(http_conn_held(c) < 4096);
	http_conn_free(c);
	free(b.p);
	free(block.p);
}

/*
 * A connection whose first block is a GET with one 4000-byte table entry and
 * refs one-byte references to it (4014 bytes decoded each).
 */
static void put_bomb(struct buf *b, int refs)
{
	struct buf block = {};

	put(&block, get_block, sizeof(get_block));
	put_literal(&block, true, 4000, 'e');
	put_fill(&block, NULL, refs, "\xbe");
	put_preface(b);
	put_headers(b, 1, &block);
	free(block.p);
}

/*
 * 60,000 references: 240 MB decoded.  Abandoned at 64 KiB of decoded head; the decoder never held more
 * than the block, the inflater's table and the head.
 */
static void test_h2_hpack_bomb(void **state)
{
	struct http_conn *c = http_conn_new();
	struct buf b = {};
	struct count n = {};

	put_bomb(&b, 60000);
	for (size_t off = 0; off < b.len; off += 4096) {
		feed(c, 1, b.p + off, b.len - off < 4096 ? b.len - off : 4096, 4096, &n);
		assert_true(http_conn_held(c) <= 4 * HTTP_MAX_HEAD);
	}
	assert_string_equal(http_conn_error(c, 1), "decoded header list over 65536 bytes");
	assert_int_equal(n.requests, 0);
	http_conn_free(c);
	assert_int_equal(http_held_total(), 0);
	free(b.p);
}

/* A bomb that stays under the bound decodes. */
static void test_h2_indexed_under_bound(void **state)
{
	struct http_conn *c = http_conn_new();
	struct buf b = {};
	struct count n = {};

	put_bomb(&b, 10);
	feed(c, 1, b.p, b.len, 4096, &n);
	assert_null(http_conn_error(c, 1));
	assert_int_equal(n.requests, 1);
	http_conn_free(c);
	free(b.p);
}

/* 10,000 streams never answered: 256 tracked, then abandoned; held stays small. */
static void test_h2_streams(void **state)
{
	struct http_conn *c = http_conn_new();
	struct buf b = {};
	struct count n = {};

	put_preface(&b);
	for (uint32_t i = 0; i < 10000; i++)
		put_frame(&b, 1, 0x5, 2 * i + 1, get_block, sizeof(get_block));
	feed(c, 1, b.p, b.len, 16384, &n);
	assert_int_equal(n.requests, HTTP_MAX_STREAMS);
	assert_string_equal(http_conn_error(c, 1), "more than 256 requests waiting for responses");
	assert_true(http_conn_held(c) < 1 << 20);
	http_conn_free(c);
	free(b.p);
}

/* When the responses cannot be seen any more, the oldest request is forgotten instead. */
static void test_h2_streams_other_side_dead(void **state)
{
	struct http_conn *c = http_conn_new();
	struct buf b = {}, s = {};
	struct count n = {};

	put_preface(&b);
	for (uint32_t i = 0; i < 1000; i++)
		put_frame(&b, 1, 0x5, 2 * i + 1, get_block, sizeof(get_block));
	put_frame(&s, 4, 0, 0, "", 0);
	put_frame(&s, 1, 0x4, 1, "\x80", 1);
	feed(c, 0, s.p, s.len, 4096, &n);
	assert_non_null(http_conn_error(c, 0));
	feed(c, 1, b.p, b.len, 16384, &n);
	assert_int_equal(n.requests, 1000);
	assert_null(http_conn_error(c, 1));
	http_conn_free(c);
	free(b.p);
	free(s.p);
}

/* Every connection together: at most HTTP_MAX_HELD; then connections are abandoned. */
static void test_budget(void **state)
{
	enum { CONNS = 1100 };
	struct http_conn **c = calloc(CONNS, sizeof(*c));
	const char *head = "GET / HTTP/1.1\r\nX: ";
	size_t len = 60000;
	char *p = malloc(len);
	struct count n = {};
	int spent = 0;

	memset(p, 'a', len);
	for (int i = 0; i < CONNS; i++) {
		c[i] = http_conn_new();
		feed_str(c[i], 1, head, &n);
		feed(c[i], 1, p, len, len, &n);
		assert_true(http_held_total() <= HTTP_MAX_HELD);
		if (http_conn_error(c[i], 1)) {
			assert_string_equal(
				http_conn_error(c[i], 1),
				"the HTTP decoder's memory for all connections is spent");
			spent++;
		}
	}
	assert_true(spent > 0);
	assert_true(spent < CONNS);
	for (int i = 0; i < CONNS; i++)
		http_conn_free(c[i]);
	assert_int_equal(http_held_total(), 0);
	free(c);
	free(p);
}

/* A big head is given back once decoded: an idle connection holds little. */
static void test_trim(void **state)
{
	struct http_conn *c = http_conn_new();
	char *req = malloc(50000);
	struct count n = {};

	memset(req, 'a', 50000);
	memcpy(req, "GET / HTTP/1.1\r\nX: ", 19);
	memcpy(req + 50000 - 4, "\r\n\r\n", 4);
	feed(c, 1, req, 50000, 4096, &n);
	assert_int_equal(n.requests, 1);
	assert_true(http_conn_held(c) < 32768);
	http_conn_free(c);
	free(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_h1_long_line),
		cmocka_unit_test(test_h1_not_http),
		cmocka_unit_test(test_h1_chunks),
		cmocka_unit_test(test_h1_content_length),
		cmocka_unit_test(test_h1_pipelined),
		cmocka_unit_test(test_h1_answered),
		cmocka_unit_test(test_h2_invalid_hpack),
		cmocka_unit_test(test_h2_huge_block),
		cmocka_unit_test(test_h2_hpack_bomb),
		cmocka_unit_test(test_h2_indexed_under_bound),
		cmocka_unit_test(test_h2_streams),
		cmocka_unit_test(test_h2_streams_other_side_dead),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_trim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
