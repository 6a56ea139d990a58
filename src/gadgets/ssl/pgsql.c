// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * PostgreSQL protocol 3 decoding (see pgsql.h).  Messages are framed per
 * direction (type byte, 32-bit length), their first bytes kept, the rest
 * only counted.  Requests wait in a queue that the backend's replies pop in
 * order, as the server answers them: ParseComplete pops a Parse,
 * BindComplete a Bind, CommandComplete an Execute, ReadyForQuery a Query or
 * a Sync; an ErrorResponse in the extended protocol fails the request at
 * the head and the server skips the rest up to the next Sync.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgsql.h"

#define PG_QUEUE 32
#define PG_KEEP 4096
#define PG_MAX_MSG (1u << 30) /* the server's own limit */
#define PG_PORTALS 4
#define PG_TEXT 256

enum pg_kind {
	PG_STARTUP,
	PG_QUERY,
	PG_PARSE,
	PG_BIND,
	PG_DESCRIBE,
	PG_EXECUTE,
	PG_CLOSE,
	PG_SYNC,
	PG_FUNCTION,
};

static const char *const kind_names[] = {
	[PG_STARTUP] = "startup", [PG_QUERY] = "query",	      [PG_PARSE] = "parse",
	[PG_BIND] = "bind",	  [PG_DESCRIBE] = "describe", [PG_EXECUTE] = "execute",
	[PG_CLOSE] = "close",	  [PG_SYNC] = "sync",	      [PG_FUNCTION] = "function-call",
};

struct pg_item {
	uint8_t kind;
	bool failed;
	uint64_t ts;
	int64_t rows, datarows;
	char text[PG_TEXT];
	char result[128];
	char code[8];
	char error[256];
};

/* Bind's parameter area, walked byte by byte to mask the values only. */
enum bind_st { B_NAMES, B_NFMT, B_FMTS, B_NPARAM, B_PLEN, B_PVAL, B_REST };

struct pg_dir {
	bool dead;
	bool untyped; /* the StartupMessage: no type byte */
	uint8_t hdr[8];
	size_t hlen;
	uint8_t type;
	uint32_t len, got; /* body */
	struct keep body;
	struct sql_mask mask;
	uint32_t nuls; /* NULs seen in the body: where Parse's query and Bind's values are */
	uint8_t bst;
	uint32_t bneed, bacc, bcount;
};

struct pg_conn {
	struct proto_conn pc; /* first: the shared accessors read it */
	struct pg_dir d[2];
	struct pg_item q[PG_QUEUE];
	int qhead, qlen;
	struct stmt_table *stmts;
	struct {
		bool used;
		char name[STMT_NAME];
		char text[PG_TEXT];
	} portals[PG_PORTALS];
	int next_portal;
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* --- the request queue ------------------------------------------------------- */

static struct pg_item *head(struct pg_conn *c)
{
	return c->qlen ? &c->q[c->qhead] : NULL;
}

static void pop(struct pg_conn *c)
{
	c->qhead = (c->qhead + 1) % PG_QUEUE;
	c->qlen--;
}

static struct pg_item *push(struct pg_conn *c, enum pg_kind kind, uint64_t ts, const char *text,
			    size_t tlen)
{
	struct pg_item *it;

	if (c->qlen == PG_QUEUE) {
		/* A server that never answers must not pin the queue. */
		pop(c);
		c->pc.stats.evicted++;
	}
	it = &c->q[(c->qhead + c->qlen++) % PG_QUEUE];
	*it = (struct pg_item){ .kind = kind, .ts = ts, .rows = -1 };
	text_set(it->text, sizeof(it->text), text ? text : "", text ? tlen : 0);
	return it;
}

/* --- rows ---------------------------------------------------------------------- */

struct pg_out {
	int dir;
	uint64_t ts;
	proto_cb cb;
	void *ctx;
};

static void emit_request(const struct pg_out *o, const struct pg_item *it, const char *text)
{
	struct proto_msg m;

	proto_msg_init(&m, PROTO_REQUEST, o->dir, o->ts);
	m.method = kind_names[it->kind];
	m.request = text;
	o->cb(o->ctx, &m);
}

static void emit_response(const struct pg_out *o, struct pg_item *it)
{
	struct proto_msg m;

	proto_msg_init(&m, PROTO_RESPONSE, o->dir, o->ts);
	m.method = kind_names[it->kind];
	m.request = it->text;
	m.result = it->result;
	if (it->failed) {
		m.code = it->code;
		m.error = it->error;
	}
	m.rows = it->rows >= 0 ? it->rows : it->datarows ? it->datarows : -1;
	m.has_latency = o->ts >= it->ts;
	m.latency_ns = m.has_latency ? o->ts - it->ts : 0;
	o->cb(o->ctx, &m);
}

/* --- client messages ----------------------------------------------------------- */

/* The body as a string (keep_add ends it with a NUL). */
static const char *body_str(const struct keep *b)
{
	return b->len ? (const char *)b->buf : "";
}

/* The NUL-terminated string at *pos of body, or NULL; *pos moves past it. */
static const char *cstr(const struct keep *b, size_t *pos, size_t *len)
{
	const char *s;
	const uint8_t *nul;

	if (*pos >= b->len)
		return NULL;
	s = (const char *)b->buf + *pos;
	nul = memchr(b->buf + *pos, 0, b->len - *pos);
	if (!nul)
		return NULL;
	*len = nul - (b->buf + *pos);
	*pos += *len + 1;
	return s;
}

static void portal_set(struct pg_conn *c, const char *name, size_t nlen, const char *text)
{
	int slot = -1;

	for (int i = 0; i < PG_PORTALS && slot < 0; i++)
		if (c->portals[i].used && strlen(c->portals[i].name) == nlen &&
		    !memcmp(c->portals[i].name, name, nlen))
			slot = i;
	if (slot < 0) {
		slot = c->next_portal;
		c->next_portal = (c->next_portal + 1) % PG_PORTALS;
	}
	c->portals[slot].used = true;
	text_set(c->portals[slot].name, STMT_NAME, name, nlen < STMT_NAME ? nlen : STMT_NAME - 1);
	text_set(c->portals[slot].text, PG_TEXT, text, strlen(text));
}

static const char *portal_get(struct pg_conn *c, const char *name, size_t nlen)
{
	for (int i = 0; i < PG_PORTALS; i++)
		if (c->portals[i].used && strlen(c->portals[i].name) == nlen &&
		    !memcmp(c->portals[i].name, name, nlen))
			return c->portals[i].text;
	return "";
}

static void startup_done(struct pg_conn *c, struct pg_dir *d, const struct pg_out *o)
{
	uint32_t code = be32(d->hdr + 4);
	char text[PG_TEXT] = "";
	size_t pos = 0, kl, vl;
	const char *k, *v;

	d->untyped = false;
	if (code >> 16 != 3)
		return; /* CancelRequest: the connection ends here */
	while ((k = cstr(&d->body, &pos, &kl)) && kl && (v = cstr(&d->body, &pos, &vl))) {
		if (text[0])
			text_append(text, sizeof(text), " ", 1);
		text_append(text, sizeof(text), k, kl);
		text_append(text, sizeof(text), "=", 1);
		text_append(text, sizeof(text), v, vl);
	}
	emit_request(o, push(c, PG_STARTUP, o->ts, text, strlen(text)), text);
}

static void client_done(struct pg_conn *c, struct pg_dir *d, const struct pg_out *o)
{
	const struct keep *b = &d->body;
	const char *s1, *s2;
	size_t pos = 0, l1 = 0, l2 = 0;
	struct pg_item *it;

	if (d->untyped) {
		startup_done(c, d, o);
		return;
	}
	switch (d->type) {
	case 'Q':
		s1 = body_str(b);
		it = push(c, PG_QUERY, o->ts, s1, strlen(s1));
		emit_request(o, it, s1);
		break;
	case 'P':
		s1 = cstr(b, &pos, &l1);
		s2 = s1 ? cstr(b, &pos, &l2) : NULL;
		if (!s2) {
			/* A statement longer than we keep: its start is enough. */
			s2 = s1 ? s1 + l1 + 1 : "";
			l2 = strlen(s2);
		}
		if (!c->stmts && !(c->stmts = calloc(1, sizeof(*c->stmts))))
			break;
		if (s1 && stmt_put(c->stmts, s1, l1, s2, l2))
			c->pc.stats.evicted++;
		push(c, PG_PARSE, o->ts, s2, l2);
		break;
	case 'B': {
		const char *text = "";

		s1 = cstr(b, &pos, &l1);
		s2 = s1 ? cstr(b, &pos, &l2) : NULL;
		if (s2 && c->stmts && !(text = stmt_get(c->stmts, s2, l2)))
			text = "";
		if (s1)
			portal_set(c, s1, l1, text);
		push(c, PG_BIND, o->ts, text, strlen(text));
		break;
	}
	case 'D':
	case 'C':
		/* 'S' statement or 'P' portal, then its name. */
		pos = 1;
		s1 = b->len > 1 ? cstr(b, &pos, &l1) : NULL;
		if (d->type == 'C' && s1 && b->buf[0] == 'S' && c->stmts)
			stmt_del(c->stmts, s1, l1);
		push(c, d->type == 'D' ? PG_DESCRIBE : PG_CLOSE, o->ts, NULL, 0);
		break;
	case 'E': {
		const char *text;

		s1 = cstr(b, &pos, &l1);
		text = s1 ? portal_get(c, s1, l1) : "";
		emit_request(o, push(c, PG_EXECUTE, o->ts, text, strlen(text)), text);
		break;
	}
	case 'S':
		push(c, PG_SYNC, o->ts, NULL, 0);
		break;
	case 'F':
		emit_request(o, push(c, PG_FUNCTION, o->ts, NULL, 0), "");
		break;
	default: /* H, X, p, d, c, f: nothing is answered to them alone */
		break;
	}
}

/* --- server messages ----------------------------------------------------------- */

static void parse_error(struct pg_item *it, const struct keep *b)
{
	const char *sev = "", *vsev = NULL, *msg = "";
	size_t pos = 0;

	while (pos < b->len && b->buf[pos]) {
		uint8_t f = b->buf[pos++];
		size_t l;
		const char *v = cstr(b, &pos, &l);

		if (!v)
			break;
		if (f == 'S')
			sev = v;
		else if (f == 'V')
			vsev = v; /* never localized: prefer it */
		else if (f == 'C')
			text_set(it->code, sizeof(it->code), v, l);
		else if (f == 'M')
			msg = v;
	}
	it->failed = true;
	snprintf(it->error, sizeof(it->error), "%s: %s", vsev ? vsev : sev, msg);
}

/* Rows from a CommandComplete tag: its last number (INSERT 0 5, SELECT 5). */
static int64_t tag_rows(const char *tag)
{
	const char *sp = strrchr(tag, ' ');

	if (!sp || sp[1] < '0' || sp[1] > '9')
		return -1;
	return strtoll(sp + 1, NULL, 10);
}

static void add_tag(struct pg_item *it, const char *tag)
{
	int64_t n = tag_rows(tag);

	if (it->result[0])
		text_append(it->result, sizeof(it->result), "; ", 2);
	text_append(it->result, sizeof(it->result), tag, strlen(tag));
	if (n >= 0)
		it->rows = (it->rows < 0 ? 0 : it->rows) + n;
}

/* Pop up to and including the first item of this kind; false if there is none. */
static bool expect(struct pg_conn *c, enum pg_kind kind)
{
	for (int i = 0; i < c->qlen; i++)
		if (c->q[(c->qhead + i) % PG_QUEUE].kind == kind) {
			c->pc.stats.unpaired += i;
			while (i-- >= 0)
				pop(c);
			return true;
		}
	c->pc.stats.unpaired++;
	return false;
}

static void server_error(struct pg_conn *c, const struct keep *b, const struct pg_out *o)
{
	struct pg_item *it = head(c);

	if (!it) {
		struct pg_item orphan = { .kind = PG_QUERY, .ts = o->ts, .rows = -1 };

		/* A FATAL at shutdown, or an answer to a request not seen. */
		parse_error(&orphan, b);
		emit_response(o, &orphan);
		c->pc.stats.unpaired++;
		return;
	}
	parse_error(it, b);
	if (it->kind == PG_QUERY || it->kind == PG_FUNCTION || it->kind == PG_SYNC)
		return; /* its ReadyForQuery follows */
	emit_response(o, it);
	pop(c);
	if (it->kind == PG_STARTUP)
		return;
	/* The server skips everything up to the next Sync. */
	while ((it = head(c)) && it->kind != PG_SYNC) {
		if (it->kind == PG_EXECUTE) {
			it->failed = true;
			snprintf(it->error, sizeof(it->error),
				 "not executed: an earlier message "
				 "of its batch failed");
			emit_response(o, it);
		}
		pop(c);
	}
}

static void server_done(struct pg_conn *c, struct pg_dir *d, const struct pg_out *o)
{
	const struct keep *b = &d->body;
	struct pg_item *it = head(c);

	switch (d->type) {
	case 'E':
		server_error(c, b, o);
		break;
	case 'D':
		if (it && (it->kind == PG_QUERY || it->kind == PG_EXECUTE))
			it->datarows++;
		break;
	case 'C':
	case 'I':
	case 's':
		if (!it || (it->kind != PG_QUERY && it->kind != PG_EXECUTE)) {
			c->pc.stats.unpaired++;
			break;
		}
		add_tag(it, d->type == 'C' ? body_str(b) : d->type == 'I' ? "EMPTY" : "SUSPENDED");
		if (it->kind == PG_EXECUTE) {
			emit_response(o, it);
			pop(c);
		}
		break;
	case '1':
		expect(c, PG_PARSE);
		break;
	case '2':
		expect(c, PG_BIND);
		break;
	case '3':
		expect(c, PG_CLOSE);
		break;
	case 'T':
	case 'n':
		if (it && it->kind == PG_DESCRIBE)
			pop(c);
		break;
	case 'Z':
		/* The end of a Query, a FunctionCall, a Sync, or of the login. */
		while ((it = head(c)) && it->kind != PG_QUERY && it->kind != PG_SYNC &&
		       it->kind != PG_FUNCTION && it->kind != PG_STARTUP) {
			c->pc.stats.unpaired++;
			pop(c);
		}
		if (!it) {
			c->pc.stats.unpaired++;
			break;
		}
		if (it->kind == PG_STARTUP && !it->failed)
			text_set(it->result, sizeof(it->result), "OK", 2);
		if (it->kind != PG_SYNC || it->failed)
			emit_response(o, it);
		pop(c);
		break;
	default: /* R, S, K, N, A, t, V, G, H, W, d, c, v: nothing to pair */
		break;
	}
}

/* --- framing ------------------------------------------------------------------- */

static bool valid_type(uint8_t t, bool client)
{
	return strchr(client ? "QPBDESHCXpdcfF" : "RSKZTDCIEN123ntsGHWdcVAv", t) && t;
}

/* A header is complete: check it; false when this is not PostgreSQL. */
static bool header_done(struct pg_conn *c, struct pg_dir *d, bool client)
{
	uint32_t len, code;

	if (d->untyped) {
		len = be32(d->hdr);
		code = be32(d->hdr + 4);
		/* Protocol 3.x, or a CancelRequest (16 bytes); nothing else starts TLS plaintext. */
		if (!((code >> 16 == 3 && (code & 0xffff) < 16 && len >= 8 && len <= 10000) ||
		      (code == 80877102 && len == 16)))
			return false;
		d->len = len - 8;
	} else {
		d->type = d->hdr[0];
		len = be32(d->hdr + 1);
		if (!valid_type(d->type, client) || len < 4 || len > PG_MAX_MSG)
			return false;
		d->len = len - 4;
	}
	d->got = 0;
	d->nuls = 0;
	d->bst = B_NAMES;
	keep_reset(&d->body);
	sql_mask_init(&d->mask, SQL_PGSQL);
	return true;
}

/* Mask what may be secret in [p, p+n) of a client message's body. */
static void mask_client(struct pg_dir *d, uint8_t *p, size_t n)
{
	switch (d->untyped ? 0 : d->type) {
	case 'Q':
		sql_mask_feed(&d->mask, p, n);
		break;
	case 'P':
		/* name NUL query NUL types: the query only. */
		for (size_t i = 0; i < n; i++) {
			if (d->nuls == 1 && p[i])
				sql_mask_feed(&d->mask, p + i, 1);
			if (!p[i])
				d->nuls++;
		}
		break;
	case 'B':
		for (size_t i = 0; i < n; i++) {
			uint8_t ch = p[i];

			switch (d->bst) {
			case B_NAMES: /* portal NUL statement NUL */
				if (!ch && ++d->nuls == 2) {
					d->bst = B_NFMT;
					d->bneed = 2;
					d->bacc = 0;
				}
				continue;
			case B_PVAL:
				p[i] = '*';
				if (--d->bneed)
					continue;
				d->bst = --d->bcount ? B_PLEN : B_REST;
				d->bneed = 4;
				d->bacc = 0;
				continue;
			case B_REST:
				continue;
			default:
				break;
			}
			/* A big-endian count or length being read. */
			d->bacc = d->bacc << 8 | ch;
			if (--d->bneed)
				continue;
			if (d->bst == B_NFMT) {
				d->bst = d->bacc ? B_FMTS : B_NPARAM;
				d->bneed = d->bacc ? 2 * d->bacc : 2;
			} else if (d->bst == B_FMTS) {
				d->bst = B_NPARAM;
				d->bneed = 2;
			} else if (d->bst == B_NPARAM) {
				d->bcount = d->bacc;
				d->bst = d->bcount ? B_PLEN : B_REST;
				d->bneed = 4;
			} else if (d->bst == B_PLEN) {
				d->bneed = d->bacc;
				/* -1 is NULL; a value runs to its length. */
				if (d->bacc == 0xffffffff || d->bacc == 0) {
					d->bst = --d->bcount ? B_PLEN : B_REST;
					d->bneed = 4;
				} else {
					d->bst = B_PVAL;
				}
			}
			d->bacc = 0;
		}
		break;
	case 'p': /* password, SASL: all of it */
	case 'F': /* function arguments */
		memset(p, '*', n);
		break;
	default:
		break;
	}
}

static void feed_dir(struct pg_conn *c, int dir, uint8_t *data, size_t len, uint64_t ts,
		     bool redact, proto_cb cb, void *ctx)
{
	struct pg_dir *d = &c->d[dir];
	bool client = dir == c->pc.client_dir;
	struct pg_out o = { dir, ts, cb, ctx };

	while (len && !d->dead) {
		size_t hsize = d->untyped ? 8 : 5, n;

		if (d->hlen < hsize) {
			n = hsize - d->hlen < len ? hsize - d->hlen : len;
			memcpy(d->hdr + d->hlen, data, n);
			d->hlen += n;
			data += n;
			len -= n;
			if (d->hlen < hsize)
				break;
			if (!header_done(c, d, client)) {
				d->dead = true;
				if (c->pc.verdict == VERDICT_MAYBE)
					c->pc.verdict = VERDICT_NO;
				else
					c->pc.stats.malformed++;
				break;
			}
			if (d->untyped)
				c->pc.verdict = VERDICT_YES;
		}
		n = d->len - d->got < len ? d->len - d->got : len;
		if (redact && client)
			mask_client(d, data, n);
		/* Bodies of rows and copies are not needed: only counted. */
		if (d->untyped || !(d->type == 'd' || (d->type == 'D' && !client)))
			if (keep_add(&d->body, data, n, PG_KEEP))
				d->dead = true;
		d->got += n;
		data += n;
		len -= n;
		if (d->got == d->len) {
			o.ts = ts;
			if (client)
				client_done(c, d, &o);
			else
				server_done(c, d, &o);
			d->hlen = 0;
		}
	}
}

static void pg_feed(void *cv, int dir, uint8_t *data, size_t len, uint64_t ts, bool redact,
		    proto_cb cb, void *ctx)
{
	struct pg_conn *c = cv;

	bool first = c->pc.client_dir < 0;

	if (!proto_conn_first_speaker(&c->pc, dir, len))
		return;
	/* The client speaks first: its StartupMessage. */
	if (first)
		c->d[dir].untyped = true;
	feed_dir(c, dir, data, len, ts, redact, cb, ctx);
}

static void *pg_new(void)
{
	struct pg_conn *c = calloc(1, sizeof(*c));

	if (c)
		c->pc.client_dir = -1;
	return c;
}

static void pg_free(void *cv)
{
	struct pg_conn *c = cv;

	if (!c)
		return;
	keep_free(&c->d[0].body);
	keep_free(&c->d[1].body);
	free(c->stmts);
	free(c);
}

static bool pg_dir_alive(const void *cv, int dir)
{
	const struct pg_conn *c = cv;

	return c->pc.verdict == VERDICT_YES && !c->d[dir].dead;
}

const struct proto_decoder pgsql_decoder = {
	.id = PROTO_PGSQL,
	.create = pg_new,
	.destroy = pg_free,
	.feed = pg_feed,
	.verdict = proto_conn_verdict,
	.client_dir = proto_conn_client_dir,
	.dir_alive = pg_dir_alive,
	.stats = proto_conn_stats,
};
