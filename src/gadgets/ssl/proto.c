// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Helpers the protocol decoders share (see proto.h): names, bounded text,
 * kept bytes, statement tables and SQL literal masking.  Pure functions,
 * unit-tested and fuzzed with the decoders.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "proto.h"

static const char *const names[PROTO_NR] = {
	[PROTO_HTTP] = "http",	 [PROTO_GRPC] = "grpc",	  [PROTO_PGSQL] = "postgres",
	[PROTO_MYSQL] = "mysql", [PROTO_REDIS] = "redis",
};

const char *proto_name(enum proto_id p)
{
	return p < PROTO_NR ? names[p] : "?";
}

static const struct {
	const char *name;
	unsigned int mask;
} aliases[] = {
	{ "all", PROTO_ALL },
	{ "http", 1u << PROTO_HTTP },
	{ "grpc", 1u << PROTO_GRPC },
	{ "postgres", 1u << PROTO_PGSQL },
	{ "postgresql", 1u << PROTO_PGSQL },
	{ "pgsql", 1u << PROTO_PGSQL },
	{ "pg", 1u << PROTO_PGSQL },
	{ "mysql", 1u << PROTO_MYSQL },
	{ "mariadb", 1u << PROTO_MYSQL },
	{ "redis", 1u << PROTO_REDIS },
};

int proto_parse_list(const char *list, unsigned int *mask, const char **bad, size_t *bad_len)
{
	const char *p = list;

	*mask = 0;
	for (;;) {
		size_t n = strcspn(p, ",");
		bool found = false;

		for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]) && n; i++) {
			if (strlen(aliases[i].name) == n && !strncasecmp(p, aliases[i].name, n)) {
				*mask |= aliases[i].mask;
				found = true;
			}
		}
		if (!found) {
			*bad = p;
			*bad_len = n;
			return -EINVAL;
		}
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

void proto_msg_init(struct proto_msg *m, enum proto_kind kind, int dir, uint64_t ts)
{
	*m = (struct proto_msg){ .kind = kind,
				 .dir = dir,
				 .ts_ns = ts,
				 .status = -1,
				 .rows = -1,
				 .messages = -1,
				 .req_messages = -1,
				 .bytes = -1 };
}

enum proto_verdict proto_conn_verdict(const void *c)
{
	return ((const struct proto_conn *)c)->verdict;
}

int proto_conn_client_dir(const void *c)
{
	return ((const struct proto_conn *)c)->client_dir;
}

const struct proto_stats *proto_conn_stats(const void *c)
{
	return &((const struct proto_conn *)c)->stats;
}

bool proto_conn_first_speaker(struct proto_conn *pc, int dir, size_t len)
{
	if (!len || dir < 0 || dir > 1 || pc->verdict == VERDICT_NO)
		return false;
	if (pc->client_dir < 0) {
		pc->client_dir = dir;
	} else if (pc->verdict == VERDICT_MAYBE && dir != pc->client_dir) {
		pc->verdict = VERDICT_NO;
		return false;
	}
	return true;
}

/* --- text ---------------------------------------------------------------------- */

void text_set(char *dst, size_t cap, const void *src, size_t len)
{
	dst[0] = '\0';
	text_append(dst, cap, src, len);
}

void text_append(char *dst, size_t cap, const void *src, size_t len)
{
	size_t have = strnlen(dst, cap - 1), room = cap - 1 - have;

	if (len <= room) {
		memcpy(dst + have, src, len);
		dst[have + len] = '\0';
		return;
	}
	memcpy(dst + have, src, room);
	dst[cap - 1] = '\0';
	if (cap >= 4)
		memcpy(dst + cap - 4, "...", 3);
}

int keep_add(struct keep *k, const uint8_t *p, size_t n, size_t max)
{
	size_t take = k->len < max ? max - k->len : 0;

	k->total += n;
	if (take > n)
		take = n;
	if (!take)
		return 0;
	if (grow(&k->buf, &k->cap, k->len + take + 1, 1, 256))
		return -ENOMEM;
	memcpy(k->buf + k->len, p, take);
	k->len += take;
	k->buf[k->len] = '\0'; /* text fields are read as strings */
	return 0;
}

void keep_reset(struct keep *k)
{
	k->len = 0;
	k->total = 0;
}

void keep_free(struct keep *k)
{
	free(k->buf);
	*k = (struct keep){};
}

/* --- statements ---------------------------------------------------------------- */

static struct stmt *stmt_find(struct stmt_table *t, const char *name, size_t nlen)
{
	if (nlen >= STMT_NAME)
		nlen = STMT_NAME - 1;
	for (int i = 0; i < STMT_MAX; i++)
		if (t->e[i].used && strlen(t->e[i].name) == nlen &&
		    !memcmp(t->e[i].name, name, nlen))
			return &t->e[i];
	return NULL;
}

bool stmt_put(struct stmt_table *t, const char *name, size_t nlen, const char *text, size_t tlen)
{
	struct stmt *e = stmt_find(t, name, nlen), *oldest = NULL;
	bool evicted = false;

	for (int i = 0; !e && i < STMT_MAX; i++) {
		if (!t->e[i].used) {
			e = &t->e[i];
			break;
		}
		if (!oldest || t->e[i].tick < oldest->tick)
			oldest = &t->e[i];
	}
	if (!e) {
		e = oldest;
		evicted = true;
	}
	e->used = true;
	e->tick = ++t->tick;
	text_set(e->name, sizeof(e->name), name, nlen < STMT_NAME ? nlen : STMT_NAME - 1);
	text_set(e->text, sizeof(e->text), text, tlen);
	return evicted;
}

const char *stmt_get(struct stmt_table *t, const char *name, size_t nlen)
{
	struct stmt *e = stmt_find(t, name, nlen);

	if (!e)
		return NULL;
	e->tick = ++t->tick;
	return e->text;
}

void stmt_del(struct stmt_table *t, const char *name, size_t nlen)
{
	struct stmt *e = stmt_find(t, name, nlen);

	if (e)
		e->used = false;
}

/* --- SQL literals -------------------------------------------------------------- */

enum {
	S_CODE,
	S_SQ,		 /* '...' */
	S_SQ_BS,	 /* after a backslash in an escaping literal */
	S_SQ_END,	 /* a quote: the end, or the first of '' */
	S_DQ,		 /* MySQL "..." */
	S_DQ_BS,	 /* after a backslash in it */
	S_DQ_END,	 /* a quote: the end, or the first of "" */
	S_IDENT,	 /* PostgreSQL "identifier" */
	S_LINE,		 /* -- comment, MySQL # comment */
	S_BLOCK,	 /* comment */
	S_DTAG,		 /* PostgreSQL $tag$ opening */
	S_DOLLAR,	 /* inside $tag$...$tag$ */
	S_DEND,		 /* a $ inside: maybe the closing tag */
	S_SQ_ESC = 0x80, /* flag on S_SQ/S_SQ_BS/S_SQ_END: backslash escapes */
};

void sql_mask_init(struct sql_mask *m, enum sql_dialect d)
{
	*m = (struct sql_mask){ .dialect = d, .st = S_CODE };
}

static bool tag_char(uint8_t c, bool first)
{
	return isalpha(c) || c == '_' || c >= 0x80 || (!first && isdigit(c));
}

/* One byte outside a literal; may open one. */
static void sql_code(struct sql_mask *m, uint8_t c)
{
	bool my = m->dialect == SQL_MYSQL;

	if (c == '\'') {
		m->st = S_SQ;
		/* MySQL escapes with backslashes by default; PostgreSQL in E'' only. */
		if (my || m->prev == 'E' || m->prev == 'e')
			m->st |= S_SQ_ESC;
	} else if (c == '"') {
		m->st = my ? S_DQ : S_IDENT;
	} else if ((c == '-' && m->prev == '-') || (c == '#' && my)) {
		m->st = S_LINE;
	} else if (c == '*' && m->prev == '/') {
		m->st = S_BLOCK;
	} else if (c == '$' && !my && !tag_char(m->prev, false) && m->prev != '$') {
		m->st = S_DTAG;
		m->taglen = 0;
	}
}

size_t sql_mask_feed(struct sql_mask *m, uint8_t *p, size_t len)
{
	size_t masked = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i], st = m->st & ~S_SQ_ESC, esc = m->st & S_SQ_ESC;

		switch (st) {
		case S_CODE:
			sql_code(m, c);
			break;
		case S_SQ:
			if (c == '\'') {
				m->st = S_SQ_END | esc;
			} else {
				if (c == '\\' && esc)
					m->st = S_SQ_BS | esc;
				p[i] = '*';
				masked++;
			}
			break;
		case S_SQ_BS:
			m->st = S_SQ | esc;
			p[i] = '*';
			masked++;
			break;
		case S_SQ_END:
			if (c == '\'') {
				m->st = S_SQ | esc; /* '' is a quote inside */
			} else {
				m->st = S_CODE;
				m->prev = 0;
				sql_code(m, c);
			}
			break;
		case S_DQ:
			if (c == '"') {
				m->st = S_DQ_END;
			} else {
				if (c == '\\')
					m->st = S_DQ_BS;
				p[i] = '*';
				masked++;
			}
			break;
		case S_DQ_BS:
			m->st = S_DQ;
			p[i] = '*';
			masked++;
			break;
		case S_DQ_END:
			if (c == '"') {
				m->st = S_DQ;
			} else {
				m->st = S_CODE;
				m->prev = 0;
				sql_code(m, c);
			}
			break;
		case S_IDENT:
			if (c == '"')
				m->st = S_CODE;
			break;
		case S_LINE:
			if (c == '\n')
				m->st = S_CODE;
			break;
		case S_BLOCK:
			if (c == '/' && m->prev == '*')
				m->st = S_CODE;
			break;
		case S_DTAG:
			if (c == '$') {
				m->st = S_DOLLAR;
			} else if (tag_char(c, m->taglen == 0) && m->taglen < sizeof(m->tag)) {
				m->tag[m->taglen++] = c;
			} else {
				/* $1, a$b...: not a quote after all. */
				m->st = S_CODE;
				sql_code(m, c);
			}
			break;
		case S_DOLLAR:
			if (c == '$') {
				m->st = S_DEND;
				m->tagpos = 0;
			} else {
				p[i] = '*';
				masked++;
			}
			break;
		case S_DEND:
			if (c == '$' && m->tagpos == m->taglen) {
				m->st = S_CODE;
				c = 0; /* "$$" must not open a new quote */
			} else if (m->tagpos < m->taglen && c == (uint8_t)m->tag[m->tagpos]) {
				m->tagpos++;
			} else {
				/* Not the closing tag: back inside (a '$' starts a new try). */
				m->st = c == '$' ? S_DEND : S_DOLLAR;
				m->tagpos = 0;
				if (c != '$') {
					p[i] = '*';
					masked++;
				}
			}
			break;
		}
		m->prev = c;
	}
	return masked;
}
