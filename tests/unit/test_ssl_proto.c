// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the protocol decoders: PostgreSQL, MySQL/MariaDB and Redis
 * messages built here byte by byte from the protocols' specifications,
 * fed whole and one byte at a time; pairing, errors, masking, detection,
 * and the shared helpers (SQL literals, bounded text, statements).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gadgets/ssl/mysql.h"
#include "gadgets/ssl/pgsql.h"
#include "gadgets/ssl/proto.h"
#include "gadgets/ssl/resp.h"

#define MAX_ROWS 32

struct row {
	enum proto_kind kind;
	int dir;
	char method[32], request[512], key[64], result[192], code[16], error[256];
	int64_t status, rows;
	bool has_latency;
	uint64_t latency;
};

struct seen {
	int n;
	struct row r[MAX_ROWS];
};

static void cp(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s ? s : "");
}

static void collect(void *ctx, const struct proto_msg *m)
{
	struct seen *s = ctx;
	struct row *r;

	if (s->n >= MAX_ROWS)
		return;
	r = &s->r[s->n++];
	r->kind = m->kind;
	r->dir = m->dir;
	cp(r->method, sizeof(r->method), m->method);
	cp(r->request, sizeof(r->request), m->request);
	cp(r->key, sizeof(r->key), m->key);
	cp(r->result, sizeof(r->result), m->result);
	cp(r->code, sizeof(r->code), m->code);
	cp(r->error, sizeof(r->error), m->error);
	r->status = m->status;
	r->rows = m->rows;
	r->has_latency = m->has_latency;
	r->latency = m->latency_ns;
}

/* A byte stream under construction. */
struct buf {
	uint8_t b[4096];
	size_t len;
};

static void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->len + n <= sizeof(b->b));
	memcpy(b->b + b->len, p, n);
	b->len += n;
}

static void put_be32(struct buf *b, uint32_t v)
{
	uint8_t p[4] = { v >> 24, v >> 16, v >> 8, v };

	put(b, p, 4);
}

/* Feed a copy (the decoder may mask it); whole or one byte at a time. */
static void feed(const struct proto_decoder *d, void *c, int dir, struct buf *b, uint64_t ts,
		 bool bytewise, bool redact, struct seen *s)
{
	if (!bytewise) {
		d->feed(c, dir, b->b, b->len, ts, redact, collect, s);
	} else {
		for (size_t i = 0; i < b->len; i++)
			d->feed(c, dir, b->b + i, 1, ts, redact, collect, s);
	}
}

/* --- helpers ---------------------------------------------------------------------- */

static void masked(enum sql_dialect dialect, const char *in, const char *want)
{
	char buf[256];
	struct sql_mask m;
	size_t n = strlen(in);

	/* Split in two anywhere: the state carries over. */
	for (size_t cut = 0; cut <= n; cut++) {
		strcpy(buf, in);
		sql_mask_init(&m, dialect);
		sql_mask_feed(&m, (uint8_t *)buf, cut);
		sql_mask_feed(&m, (uint8_t *)buf + cut, n - cut);
		assert_string_equal(buf, want);
	}
}

static void test_sql_mask(void **state)
{
	masked(SQL_PGSQL, "select 'abc', 1 from t", "select '***', 1 from t");
	masked(SQL_PGSQL, "x = 'it''s' and y='b'", "x = '**''*' and y='*'");
	masked(SQL_PGSQL, "E'a\\'b' -- it's\n'c'", "E'****' -- it's\n'*'");
	masked(SQL_PGSQL, "\"Col'x\" = 'v' /* 'no' */", "\"Col'x\" = '*' /* 'no' */");
	masked(SQL_PGSQL, "$f$ body 'x' $f$ || $$y$$ || $1", "$f$**********$f$ || $$*$$ || $1");
	masked(SQL_PGSQL, "'a\\' || 'b'", "'**' || '*'"); /* standard strings: no escapes */
	masked(SQL_MYSQL, "insert into t values ('p\\'w', \"q\") # 'c'",
	       "insert into t values ('****', \"*\") # 'c'");
}

static void test_text_and_stmts(void **state)
{
	char t[8];
	struct stmt_table *st = calloc(1, sizeof(*st));
	unsigned int mask;
	const char *bad;
	size_t badlen;

	text_set(t, sizeof(t), "abcdefghij", 10);
	assert_string_equal(t, "abcd...");
	text_set(t, sizeof(t), "ab", 2);
	text_append(t, sizeof(t), "cdefgh", 6);
	assert_string_equal(t, "abcd...");
	for (int i = 0; i < STMT_MAX; i++) {
		char name[16];

		snprintf(name, sizeof(name), "s%d", i);
		assert_false(stmt_put(st, name, strlen(name), name, strlen(name)));
	}
	assert_string_equal(stmt_get(st, "s0", 2), "s0"); /* s0 is now the newest */
	assert_true(stmt_put(st, "new", 3, "text", 4));	  /* s1 goes */
	assert_null(stmt_get(st, "s1", 2));
	assert_string_equal(stmt_get(st, "s0", 2), "s0");
	stmt_del(st, "s0", 2);
	assert_null(stmt_get(st, "s0", 2));
	free(st);
	assert_int_equal(proto_parse_list("pg,Redis", &mask, &bad, &badlen), 0);
	assert_int_equal(mask, (1u << PROTO_PGSQL) | (1u << PROTO_REDIS));
	assert_int_equal(proto_parse_list("all", &mask, &bad, &badlen), 0);
	assert_int_equal(mask, PROTO_ALL);
	assert_int_equal(proto_parse_list("http,smtp", &mask, &bad, &badlen), -EINVAL);
	assert_int_equal(badlen, 4);
	assert_memory_equal(bad, "smtp", 4);
	assert_int_equal(proto_parse_list("http,", &mask, &bad, &badlen), -EINVAL);
}

/* --- PostgreSQL ------------------------------------------------------------------- */

static void pg_msg(struct buf *b, char type, const void *body, size_t len)
{
	put(b, &type, 1);
	put_be32(b, len + 4);
	put(b, body, len);
}

static void pg_startup(struct buf *b)
{
	static const char params[] = "user\0alice\0database\0shop\0";

	put_be32(b, 8 + sizeof(params));
	put_be32(b, 3 << 16);
	put(b, params, sizeof(params)); /* the last NUL ends the list */
}

static void pg_ready(struct buf *b)
{
	pg_msg(b, 'Z', "I", 1);
}

static void pg_error(struct buf *b, const char *code, const char *msg)
{
	struct buf e = {};

	put(&e, "SERROR\0VERROR\0C", 15);
	put(&e, code, strlen(code) + 1);
	put(&e, "M", 1);
	put(&e, msg, strlen(msg) + 1);
	put(&e, "", 1);
	pg_msg(b, 'E', e.b, e.len);
}

/* Login, then a simple query, an error, and the extended protocol. */
static void pg_session(bool bytewise)
{
	const struct proto_decoder *d = &pgsql_decoder;
	void *c = d->create();
	struct seen s = {};
	struct buf b = {};
	static const char bind[] = "\0s1\0\0\0\0\1\0\0\0\2"
				   "42"
				   "\0\0";

	pg_startup(&b);
	feed(d, c, 1, &b, 100, bytewise, false, &s);
	assert_int_equal(d->verdict(c), VERDICT_YES);
	assert_int_equal(d->client_dir(c), 1);
	b.len = 0;
	pg_msg(&b, 'R', "\0\0\0\0", 4);
	pg_msg(&b, 'S', "server_version\00015\0", 18);
	pg_msg(&b, 'K', "\0\0\0\1\0\0\0\2", 8);
	pg_ready(&b);
	feed(d, c, 0, &b, 150, bytewise, false, &s);
	b.len = 0;
	pg_msg(&b, 'Q', "select * from t", 16);
	feed(d, c, 1, &b, 200, bytewise, false, &s);
	b.len = 0;
	pg_msg(&b, 'T', "\0\0", 2);
	pg_msg(&b, 'D', "\0\1\0\0\0\1x", 8);
	pg_msg(&b, 'D', "\0\1\0\0\0\1y", 8);
	pg_msg(&b, 'C', "SELECT 2", 9);
	pg_ready(&b);
	feed(d, c, 0, &b, 450, bytewise, false, &s);
	b.len = 0;
	pg_msg(&b, 'Q', "select * from nosuch", 21);
	feed(d, c, 1, &b, 500, bytewise, false, &s);
	b.len = 0;
	pg_error(&b, "42P01", "relation \"nosuch\" does not exist");
	pg_ready(&b);
	feed(d, c, 0, &b, 510, bytewise, false, &s);
	/* Extended: Parse, Bind, Describe, Execute, Sync, then once more by name. */
	b.len = 0;
	pg_msg(&b, 'P', "s1\0select $1::int\0\0\0", 20);
	pg_msg(&b, 'B', bind, sizeof(bind) - 1);
	pg_msg(&b, 'D', "P", 2);
	pg_msg(&b, 'E', "\0\0\0\0", 5);
	pg_msg(&b, 'S', "", 0);
	feed(d, c, 1, &b, 600, bytewise, false, &s);
	b.len = 0;
	pg_msg(&b, '1', "", 0);
	pg_msg(&b, '2', "", 0);
	pg_msg(&b, 'T', "\0\0", 2);
	pg_msg(&b, 'D', "\0\1\0\0\0\00242", 9);
	pg_msg(&b, 'C', "SELECT 1", 9);
	pg_ready(&b);
	feed(d, c, 0, &b, 700, bytewise, false, &s);
	b.len = 0;
	pg_msg(&b, 'B', bind, sizeof(bind) - 1);
	pg_msg(&b, 'E', "\0\0\0\0", 5);
	pg_msg(&b, 'S', "", 0);
	feed(d, c, 1, &b, 800, bytewise, false, &s);
	b.len = 0;
	pg_msg(&b, '2', "", 0);
	pg_error(&b, "22012", "division by zero");
	pg_ready(&b);
	feed(d, c, 0, &b, 900, bytewise, false, &s);

	assert_int_equal(s.n, 10);
	assert_string_equal(s.r[0].method, "startup");
	assert_string_equal(s.r[0].request, "user=alice database=shop");
	assert_int_equal(s.r[1].kind, PROTO_RESPONSE);
	assert_string_equal(s.r[1].result, "OK");
	assert_string_equal(s.r[2].method, "query");
	assert_string_equal(s.r[2].request, "select * from t");
	assert_string_equal(s.r[3].result, "SELECT 2");
	assert_int_equal(s.r[3].rows, 2);
	assert_int_equal(s.r[3].latency, 250);
	assert_int_equal(s.r[3].dir, 0);
	assert_string_equal(s.r[5].code, "42P01");
	assert_string_equal(s.r[5].error, "ERROR: relation \"nosuch\" does not exist");
	assert_string_equal(s.r[6].method, "execute");
	assert_string_equal(s.r[6].request, "select $1::int");
	assert_string_equal(s.r[7].result, "SELECT 1");
	assert_int_equal(s.r[7].latency, 100);
	assert_string_equal(s.r[8].request, "select $1::int"); /* the statement, by name */
	assert_string_equal(s.r[9].method, "execute");
	assert_string_equal(s.r[9].code, "22012");
	assert_int_equal(d->stats(c)->malformed + d->stats(c)->unpaired, 0);
	d->destroy(c);
}

static void test_pg_session(void **state)
{
	pg_session(false);
	pg_session(true);
}

static void test_pg_parse_error_skips_batch(void **state)
{
	const struct proto_decoder *d = &pgsql_decoder;
	void *c = d->create();
	struct seen s = {};
	struct buf b = {};

	pg_startup(&b);
	pg_msg(&b, 'P', "\0selec 1\0\0\0", 11);
	pg_msg(&b, 'B', "\0\0\0\0\0\0\0\0", 8);
	pg_msg(&b, 'E', "\0\0\0\0\0", 5);
	pg_msg(&b, 'S', "", 0);
	feed(d, c, 0, &b, 10, false, false, &s); /* the server's side: requests are reads */
	b.len = 0;
	pg_msg(&b, 'R', "\0\0\0\0", 4);
	pg_ready(&b);
	pg_error(&b, "42601", "syntax error at or near \"selec\"");
	pg_ready(&b);
	feed(d, c, 1, &b, 20, false, false, &s);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.r[1].method, "execute");
	assert_string_equal(s.r[1].request, "selec 1");
	assert_string_equal(s.r[3].method, "parse");
	assert_string_equal(s.r[3].code, "42601");
	assert_string_equal(s.r[4].method, "execute");
	assert_non_null(strstr(s.r[4].error, "not executed"));
	d->destroy(c);
}

static void test_pg_redact(void **state)
{
	const struct proto_decoder *d = &pgsql_decoder;
	void *c = d->create();
	struct seen s = {};
	struct buf b = {};
	static const char bind[] = "\0s\0\0\0\0\2\0\0\0\6hunter\377\377\377\377\0\0";

	pg_startup(&b);
	pg_msg(&b, 'p', "hunter2\0", 8);
	pg_msg(&b, 'Q', "insert into u values ('bob', 'pw1')", 36);
	pg_msg(&b, 'P', "s\0select 'lit' || $1\0\0\0", 24);
	pg_msg(&b, 'B', bind, sizeof(bind) - 1);
	feed(d, c, 1, &b, 1, true, true, &s);
	assert_null(memmem(b.b, b.len, "hunter", 6));
	assert_null(memmem(b.b, b.len, "bob", 3));
	assert_null(memmem(b.b, b.len, "lit", 3));
	assert_non_null(memmem(b.b, b.len, "insert into u values ('***', '***')", 35));
	assert_non_null(memmem(b.b, b.len, "select '***' || $1", 18));
	/* Bind's NULL parameter and its counts stay. */
	assert_non_null(memmem(b.b, b.len, "\0\2\0\0\0\6******\377\377\377\377\0\0", 18));
	assert_string_equal(s.r[1].request, "insert into u values ('***', '***')");
	d->destroy(c);
}

static void test_pg_not_pg(void **state)
{
	const struct proto_decoder *d = &pgsql_decoder;
	struct buf b = {};
	void *c = d->create();
	struct seen s = {};

	put(&b, "GET / HTTP/1.1\r\n\r\n", 18);
	feed(d, c, 1, &b, 1, false, false, &s);
	assert_int_equal(d->verdict(c), VERDICT_NO);
	d->destroy(c);
	/* A server that speaks first is no PostgreSQL server. */
	c = d->create();
	b.len = 0;
	pg_startup(&b);
	d->feed(c, 1, b.b, 4, 1, false, collect, &s);
	d->feed(c, 0, b.b, b.len, 1, false, collect, &s);
	assert_int_equal(d->verdict(c), VERDICT_NO);
	assert_int_equal(s.n, 0);
	d->destroy(c);
}

/* --- MySQL ------------------------------------------------------------------------- */

#define CAPS (0x200u | 0x800u | 0x8000u | 0x80000u | 0x8u)

static void my_pkt(struct buf *b, uint8_t seq, const void *body, size_t len)
{
	uint8_t h[4] = { len, len >> 8, len >> 16, seq };

	put(b, h, 4);
	put(b, body, len);
}

static void my_login(struct buf *b, uint32_t caps)
{
	struct buf p = {};
	uint8_t c4[4] = { caps, caps >> 8, caps >> 16, caps >> 24 };
	uint8_t zeros[23] = {};

	put(&p, c4, 4);
	put(&p, "\0\0\0\1\x21", 5);
	put(&p, zeros, 23);
	put(&p, "root\0", 5);
	put(&p, "\x08scramble", 9);
	put(&p, "shop\0mysql_native_password\0", 27);
	my_pkt(b, 2, p.b, p.len);
}

static void my_eof(struct buf *b, uint8_t seq)
{
	my_pkt(b, seq, "\xfe\0\0\2\0", 5);
}

static void mysql_session(bool bytewise)
{
	const struct proto_decoder *d = &mysql_decoder;
	void *c = d->create();
	struct seen s = {};
	struct buf b = {};

	my_login(&b, CAPS);
	feed(d, c, 1, &b, 100, bytewise, false, &s);
	assert_int_equal(d->verdict(c), VERDICT_YES);
	b.len = 0;
	my_pkt(&b, 3, "\0\0\0\2\0\0\0", 7);
	feed(d, c, 0, &b, 120, bytewise, false, &s);
	b.len = 0;
	my_pkt(&b, 0, "\3select a from t", 16);
	feed(d, c, 1, &b, 200, bytewise, false, &s);
	b.len = 0;
	my_pkt(&b, 1, "\1", 1);
	my_pkt(&b, 2, "\3def\0\0\0\1a\0\x0c\x3f\0\x0b\0\0\0\3\0\0\0\0\0\0", 24);
	my_eof(&b, 3);
	my_pkt(&b, 4, "\0011", 2);
	my_pkt(&b, 5, "\0012", 2);
	my_pkt(&b, 6, "\xfb", 1); /* a NULL column */
	my_eof(&b, 7);
	feed(d, c, 0, &b, 300, bytewise, false, &s);
	b.len = 0;
	my_pkt(&b, 0, "\3select * from nosuch", 21);
	feed(d, c, 1, &b, 400, bytewise, false, &s);
	b.len = 0;
	my_pkt(&b, 1, "\xff\x7a\x04#42S02Table 'shop.nosuch' doesn't exist", 42);
	feed(d, c, 0, &b, 410, bytewise, false, &s);
	/* A prepared statement: one parameter, one column, then executed. */
	b.len = 0;
	my_pkt(&b, 0, "\x16select ? + 1", 13);
	feed(d, c, 1, &b, 500, bytewise, false, &s);
	b.len = 0;
	my_pkt(&b, 1, "\0\7\0\0\0\1\0\1\0\0\0\0", 12);
	my_pkt(&b, 2, "\3def\0\0\0\1?\0\x0c\x3f\0\x0b\0\0\0\3\0\0\0\0\0", 23);
	my_eof(&b, 3);
	my_pkt(&b, 4, "\3def\0\0\0\1x\0\x0c\x3f\0\x0b\0\0\0\3\0\0\0\0\0", 23);
	my_eof(&b, 5);
	feed(d, c, 0, &b, 520, bytewise, false, &s);
	b.len = 0;
	my_pkt(&b, 0, "\x17\7\0\0\0\0\1\0\0\0\0\1\x08\0\x29\0\0\0\0\0\0\0", 22);
	feed(d, c, 1, &b, 600, bytewise, false, &s);
	b.len = 0;
	my_pkt(&b, 1, "\1", 1);
	my_pkt(&b, 2, "\3def\0\0\0\1x\0\x0c\x3f\0\x0b\0\0\0\x08\0\0\0\0\0", 23);
	my_eof(&b, 3);
	my_pkt(&b, 4, "\0\0\x2a\0\0\0\0\0\0\0", 10);
	my_eof(&b, 5);
	feed(d, c, 0, &b, 650, bytewise, false, &s);

	assert_int_equal(s.n, 10);
	assert_string_equal(s.r[0].method, "login");
	assert_string_equal(s.r[0].request, "user=root database=shop");
	assert_string_equal(s.r[1].result, "OK");
	assert_string_equal(s.r[2].method, "query");
	assert_string_equal(s.r[2].request, "select a from t");
	assert_string_equal(s.r[3].result, "3 rows");
	assert_int_equal(s.r[3].rows, 3);
	assert_int_equal(s.r[3].latency, 100);
	assert_int_equal(s.r[5].status, 1146);
	assert_string_equal(s.r[5].code, "42S02");
	assert_string_equal(s.r[5].error, "Table 'shop.nosuch' doesn't exist");
	assert_string_equal(s.r[6].method, "prepare");
	assert_string_equal(s.r[7].result, "statement 7, 1 params, 1 columns");
	assert_string_equal(s.r[8].method, "execute");
	assert_string_equal(s.r[8].request, "select ? + 1");
	assert_string_equal(s.r[9].result, "1 row");
	assert_int_equal(d->stats(c)->malformed + d->stats(c)->unpaired, 0);
	d->destroy(c);
}

static void test_mysql_session(void **state)
{
	mysql_session(false);
	mysql_session(true);
}

/* DEPRECATE_EOF: result sets end with an OK packet whose header is 0xfe. */
static void test_mysql_deprecate_eof_and_redact(void **state)
{
	const struct proto_decoder *d = &mysql_decoder;
	void *c = d->create();
	struct seen s = {};
	struct buf b = {};

	my_login(&b, CAPS | (1u << 24));
	my_pkt(&b, 3, "\x01\x04pw!!", 6); /* a cleartext password over TLS */
	feed(d, c, 1, &b, 1, false, true, &s);
	assert_null(memmem(b.b, b.len, "scramble", 8));
	assert_null(memmem(b.b, b.len, "pw!!", 4));
	assert_non_null(memmem(b.b, b.len, "root", 5));
	b.len = 0;
	my_pkt(&b, 2, "\x01\x04", 2);
	my_pkt(&b, 4, "\0\0\0\2\0\0\0", 7);
	feed(d, c, 0, &b, 2, false, true, &s);
	b.len = 0;
	my_pkt(&b, 0, "\3update u set pw='x\\'y' where n=\"bob\"", 37);
	feed(d, c, 1, &b, 3, false, true, &s);
	assert_non_null(memmem(b.b, b.len, "pw='****' where n=\"***\"", 23));
	b.len = 0;
	my_pkt(&b, 1, "\1", 1);
	my_pkt(&b, 2, "\3def\0\0\0\1a\0\x0c\x3f\0\x0b\0\0\0\3\0\0\0\0\0\0", 24);
	my_pkt(&b, 3, "\0011", 2);
	my_pkt(&b, 4, "\xfe\0\0\2\0\0\0", 7);
	feed(d, c, 0, &b, 4, false, true, &s);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.r[2].request, "update u set pw='****' where n=\"***\"");
	assert_string_equal(s.r[3].result, "1 row");
	d->destroy(c);
}

static void test_mysql_not_mysql(void **state)
{
	const struct proto_decoder *d = &mysql_decoder;
	void *c = d->create();
	struct seen s = {};
	struct buf b = {};

	my_login(&b, 0x200); /* no TLS asked for: not a TLS connection's first packet */
	feed(d, c, 1, &b, 1, false, true, &s);
	assert_int_equal(d->verdict(c), VERDICT_NO);
	assert_non_null(memmem(b.b, b.len, "scramble", 8)); /* not ours: untouched */
	d->destroy(c);
}

/* --- Redis -------------------------------------------------------------------------- */

static void str(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void redis_session(bool bytewise)
{
	const struct proto_decoder *d = &redis_decoder;
	void *c = d->create();
	struct seen s = {};
	struct buf b = {};

	str(&b, "*2\r\n$4\r\nAUTH\r\n$6\r\nsekret\r\n");
	/* Recognised by a call that starts with a whole command; then any split. */
	feed(d, c, 1, &b, 10, false, true, &s);
	assert_int_equal(d->verdict(c), VERDICT_YES);
	assert_null(memmem(b.b, b.len, "sekret", 6));
	b.len = 0;
	str(&b, "+OK\r\n");
	feed(d, c, 0, &b, 20, bytewise, true, &s);
	/* A pipeline: three commands in one write, three replies in one read. */
	b.len = 0;
	str(&b, "*3\r\n$3\r\nset\r\n$1\r\nk\r\n$5\r\nhello\r\n"
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
		"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n");
	feed(d, c, 1, &b, 100, bytewise, true, &s);
	b.len = 0;
	str(&b, "+OK\r\n$5\r\nhello\r\n-ERR value is not an integer or out of range\r\n");
	feed(d, c, 0, &b, 180, bytewise, true, &s);
	/* Nested replies, RESP3 types, an attribute before its reply, a push. */
	b.len = 0;
	str(&b, "*1\r\n$5\r\nHELLO\r\n*2\r\n$4\r\nLPOS\r\n$1\r\nl\r\nPING\r\n");
	feed(d, c, 1, &b, 200, bytewise, true, &s);
	b.len = 0;
	str(&b, "%2\r\n+server\r\n+redis\r\n+nested\r\n*2\r\n*1\r\n:1\r\n$-1\r\n"
		"|1\r\n+ttl\r\n:5\r\n_\r\n"
		">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
		"+PONG\r\n");
	feed(d, c, 0, &b, 260, bytewise, true, &s);

	assert_int_equal(s.n, 15);
	assert_string_equal(s.r[0].method, "AUTH");
	assert_string_equal(s.r[0].request, "AUTH ******");
	assert_string_equal(s.r[0].key, "");
	assert_string_equal(s.r[2].method, "SET");
	assert_string_equal(s.r[2].key, "k");
	assert_string_equal(s.r[2].request, "set k hello");
	assert_string_equal(s.r[5].method, "SET");
	assert_string_equal(s.r[5].result, "OK");
	assert_int_equal(s.r[5].latency, 80);
	assert_string_equal(s.r[6].method, "GET");
	assert_string_equal(s.r[6].result, "\"hello\"");
	assert_string_equal(s.r[7].method, "INCR");
	assert_string_equal(s.r[7].code, "ERR");
	assert_string_equal(s.r[7].error, "ERR value is not an integer or out of range");
	assert_string_equal(s.r[10].method, "PING"); /* inline */
	assert_string_equal(s.r[11].method, "HELLO");
	assert_string_equal(s.r[11].result, "(map of 2)");
	assert_string_equal(s.r[12].method, "LPOS");
	assert_string_equal(s.r[12].result, "(nil)"); /* after its attribute */
	assert_string_equal(s.r[13].method, "push");
	assert_string_equal(s.r[14].method, "PING");
	assert_string_equal(s.r[14].result, "PONG");
	assert_int_equal(d->stats(c)->malformed + d->stats(c)->unpaired, 0);
	d->destroy(c);
}

static void test_redis_session(void **state)
{
	redis_session(false);
	redis_session(true);
}

static void test_redis_masks_and_limits(void **state)
{
	const struct proto_decoder *d = &redis_decoder;
	void *c = d->create();
	struct seen s = {};
	struct buf b = {};

	str(&b, "*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nauth\r\n$5\r\nalice\r\n$6\r\np4ssw0\r\n"
		"*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$11\r\nrequirepass\r\n$4\r\nnewp\r\n"
		"*4\r\n$3\r\nACL\r\n$7\r\nSETUSER\r\n$3\r\nbob\r\n$6\r\n>bobpw\r\n");
	feed(d, c, 1, &b, 1, false, true, &s);
	assert_null(memmem(b.b, b.len, "alice", 5));
	assert_null(memmem(b.b, b.len, "p4ssw0", 6));
	assert_null(memmem(b.b, b.len, "newp", 4));
	assert_null(memmem(b.b, b.len, "bobpw", 5));
	assert_non_null(memmem(b.b, b.len, ">*****", 6));
	assert_non_null(memmem(b.b, b.len, "$3\r\nbob\r\n", 9));
	/* Nesting deeper than the stack is malformed, not a crash. */
	b.len = 0;
	for (int i = 0; i < 40; i++)
		str(&b, "*1\r\n");
	feed(d, c, 0, &b, 2, false, true, &s);
	assert_int_equal(d->stats(c)->malformed, 1);
	assert_false(d->dir_alive(c, 0));
	d->destroy(c);
}

static void test_redis_detection(void **state)
{
	const struct proto_decoder *d = &redis_decoder;
	void *c = d->create();
	struct seen s = {};
	struct buf b = {};

	/* Replies first (a connection seen late): wait for a command. */
	str(&b, "+OK\r\n");
	feed(d, c, 0, &b, 1, false, false, &s);
	assert_int_equal(d->verdict(c), VERDICT_MAYBE);
	b.len = 0;
	str(&b, "*1\r\n$4\r\nPING\r\n");
	feed(d, c, 1, &b, 2, false, false, &s);
	assert_int_equal(d->verdict(c), VERDICT_YES);
	d->destroy(c);
	c = d->create();
	b.len = 0;
	str(&b, "\x16\x03\x01 not resp");
	feed(d, c, 1, &b, 1, false, false, &s);
	assert_int_equal(d->verdict(c), VERDICT_NO);
	d->destroy(c);
	assert_int_equal(s.n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sql_mask),
		cmocka_unit_test(test_text_and_stmts),
		cmocka_unit_test(test_pg_session),
		cmocka_unit_test(test_pg_parse_error_skips_batch),
		cmocka_unit_test(test_pg_redact),
		cmocka_unit_test(test_pg_not_pg),
		cmocka_unit_test(test_mysql_session),
		cmocka_unit_test(test_mysql_deprecate_eof_and_redact),
		cmocka_unit_test(test_mysql_not_mysql),
		cmocka_unit_test(test_redis_session),
		cmocka_unit_test(test_redis_masks_and_limits),
		cmocka_unit_test(test_redis_detection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
