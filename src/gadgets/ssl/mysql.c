// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * MySQL/MariaDB protocol decoding (see mysql.h).  Packets are framed per
 * direction (24-bit length, sequence number; a 16 MiB packet continues in
 * the next), their first bytes kept, the rest only counted.  A command
 * starts a sequence at 0; the server's packets are walked by a small state
 * machine per pending command: OK, ERR, EOF, or a result set (column count,
 * definitions, rows, terminator).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql.h"

#define MY_QUEUE 32
#define MY_KEEP 4096
#define MY_TEXT 256

/* Capability flags (the client's HandshakeResponse). */
#define CLIENT_MYSQL (1u << 0)
#define CLIENT_CONNECT_WITH_DB (1u << 3)
#define CLIENT_PROTOCOL_41 (1u << 9)
#define CLIENT_SSL (1u << 11)
#define CLIENT_SECURE_CONNECTION (1u << 15)
#define CLIENT_PLUGIN_AUTH (1u << 19)
#define CLIENT_LENENC_AUTH (1u << 21)
#define CLIENT_DEPRECATE_EOF (1u << 24)
#define CLIENT_QUERY_ATTRIBUTES (1u << 27)
#define MARIADB_CACHE_METADATA (1u << 4) /* extended capabilities, MariaDB only */
#define SERVER_MORE_RESULTS_EXISTS 0x0008

enum {
	COM_QUIT = 0x01,
	COM_INIT_DB = 0x02,
	COM_QUERY = 0x03,
	COM_FIELD_LIST = 0x04,
	COM_STATISTICS = 0x09,
	COM_CHANGE_USER = 0x11,
	COM_STMT_PREPARE = 0x16,
	COM_STMT_EXECUTE = 0x17,
	COM_STMT_SEND_LONG_DATA = 0x18,
	COM_STMT_CLOSE = 0x19,
	COM_LOGIN = 0x100, /* ours: the HandshakeResponse */
};

static const struct {
	int cmd;
	const char *name;
} commands[] = {
	{ COM_LOGIN, "login" },
	{ COM_QUERY, "query" },
	{ COM_STMT_PREPARE, "prepare" },
	{ COM_STMT_EXECUTE, "execute" },
	{ COM_INIT_DB, "init-db" },
	{ COM_FIELD_LIST, "field-list" },
	{ COM_STATISTICS, "statistics" },
	{ COM_CHANGE_USER, "change-user" },
	{ 0x0c, "process-kill" },
	{ 0x0d, "debug" },
	{ 0x0e, "ping" },
	{ 0x1a, "stmt-reset" },
	{ 0x1b, "set-option" },
	{ 0x1f, "reset-connection" },
};

enum phase { PH_LOGIN, PH_AUTH, PH_COMMAND };

/* Where a pending command's response is. */
enum rstate { R_FIRST, R_COLDEFS, R_ROWS, R_SKIP };

struct my_item {
	int cmd;
	uint64_t ts;
	uint8_t rstate;
	bool failed;
	uint64_t left; /* R_COLDEFS, R_SKIP: packets to go */
	int64_t rows;
	char text[MY_TEXT];
	char result[96];
	char code[8];
	char error[256];
	int64_t errnum;
};

struct my_dir {
	bool dead;
	uint8_t hdr[4];
	size_t hlen;
	uint32_t len, got; /* this packet's payload */
	uint8_t seq;
	bool more;    /* the payload continues in the next packet (16 MiB - 1) */
	bool first;   /* this packet starts a payload */
	uint64_t pos; /* in the payload */
	struct keep body;
	struct sql_mask mask;
	int mask_mode;
	bool nul_seen;
};

struct my_conn {
	struct proto_conn pc; /* first: the shared accessors read it */
	enum phase phase;
	uint32_t caps, ext_caps;
	struct my_dir d[2];
	struct my_item q[MY_QUEUE];
	int qhead, qlen;
	struct stmt_table *stmts;
};

static uint32_t le16(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | le16(p + 2) << 16;
}

/* A length-encoded integer at *pos of b; false when it runs past the end. */
static bool lenenc(const struct keep *b, size_t *pos, uint64_t *v)
{
	size_t n;
	uint8_t f;

	if (*pos >= b->len)
		return false;
	f = b->buf[(*pos)++];
	if (f < 0xfb) {
		*v = f;
		return true;
	}
	n = f == 0xfc ? 2 : f == 0xfd ? 3 : f == 0xfe ? 8 : 0;
	if (!n || *pos + n > b->len)
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v |= (uint64_t)b->buf[*pos + i] << (8 * i);
	*pos += n;
	return true;
}

static const char *command_name(int cmd)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].cmd == cmd)
			return commands[i].name;
	return NULL;
}

/* --- the command queue ----------------------------------------------------------- */

static struct my_item *head(struct my_conn *c)
{
	return c->qlen ? &c->q[c->qhead] : NULL;
}

static void pop(struct my_conn *c)
{
	c->qhead = (c->qhead + 1) % MY_QUEUE;
	c->qlen--;
}

static struct my_item *push(struct my_conn *c, int cmd, uint64_t ts, const char *text, size_t tlen)
{
	struct my_item *it;

	if (c->qlen == MY_QUEUE) {
		pop(c);
		c->pc.stats.evicted++;
	}
	it = &c->q[(c->qhead + c->qlen++) % MY_QUEUE];
	*it = (struct my_item){ .cmd = cmd, .ts = ts, .rows = -1, .errnum = -1 };
	text_set(it->text, sizeof(it->text), text, tlen);
	return it;
}

struct my_out {
	int dir;
	uint64_t ts;
	proto_cb cb;
	void *ctx;
};

static void emit_request(const struct my_out *o, const struct my_item *it, const char *text)
{
	struct proto_msg m;

	proto_msg_init(&m, PROTO_REQUEST, o->dir, o->ts);
	m.method = command_name(it->cmd);
	m.request = text;
	o->cb(o->ctx, &m);
}

static void emit_response(const struct my_out *o, const struct my_item *it)
{
	struct proto_msg m;

	proto_msg_init(&m, PROTO_RESPONSE, o->dir, o->ts);
	m.method = command_name(it->cmd);
	m.request = it->text;
	m.result = it->result;
	m.rows = it->rows;
	if (it->failed) {
		m.status = it->errnum;
		m.code = it->code;
		m.error = it->error;
	}
	m.has_latency = o->ts >= it->ts;
	m.latency_ns = m.has_latency ? o->ts - it->ts : 0;
	o->cb(o->ctx, &m);
}

/* --- client packets -------------------------------------------------------------- */

/* The HandshakeResponse41: user and database for the login row. */
static void login(struct my_conn *c, const struct keep *b, const struct my_out *o)
{
	char text[MY_TEXT] = "user=";
	size_t pos = 32, n;
	const uint8_t *nul;
	uint64_t alen;

	c->caps = le32(b->buf);
	if (!(c->caps & CLIENT_MYSQL))
		c->ext_caps = le32(b->buf + 28);
	nul = memchr(b->buf + pos, 0, b->len - pos);
	n = nul ? (size_t)(nul - (b->buf + pos)) : b->len - pos;
	text_append(text, sizeof(text), b->buf + pos, n);
	pos += n + 1;
	/* Skip the authentication data to the database name. */
	if (c->caps & CLIENT_LENENC_AUTH) {
		if (!lenenc(b, &pos, &alen))
			alen = b->len;
	} else if (c->caps & CLIENT_SECURE_CONNECTION) {
		alen = pos < b->len ? b->buf[pos++] : 0;
	} else {
		nul = pos < b->len ? memchr(b->buf + pos, 0, b->len - pos) : NULL;
		alen = nul ? (size_t)(nul - (b->buf + pos)) + 1 : b->len;
	}
	pos = alen <= b->len - (pos < b->len ? pos : b->len) ? pos + alen : b->len;
	if ((c->caps & CLIENT_CONNECT_WITH_DB) && pos < b->len &&
	    (nul = memchr(b->buf + pos, 0, b->len - pos)) && nul > b->buf + pos) {
		text_append(text, sizeof(text), " database=", 10);
		text_append(text, sizeof(text), b->buf + pos, nul - (b->buf + pos));
	}
	emit_request(o, push(c, COM_LOGIN, o->ts, text, strlen(text)), text);
	c->phase = PH_AUTH;
}

static void client_payload(struct my_conn *c, struct my_dir *d, const struct my_out *o)
{
	const struct keep *b = &d->body;
	const uint8_t *p;
	size_t n = b->len ? b->len - 1 : 0;
	struct my_item *it;
	char id[16];
	const char *text;
	int cmd;

	if (c->phase == PH_LOGIN) {
		login(c, b, o);
		return;
	}
	if (c->phase == PH_AUTH || d->seq != 0 || !b->len)
		return; /* auth data, LOCAL INFILE contents */
	cmd = b->buf[0];
	p = b->buf + 1;
	switch (cmd) {
	case COM_QUERY:
		/* MySQL 8 query attributes: counts first; none is "\0\1". */
		if ((c->caps & CLIENT_QUERY_ATTRIBUTES) && n >= 2 && p[0] == 0 && p[1] == 1)
			p += 2, n -= 2;
		/* fallthrough */
	case COM_STMT_PREPARE:
	case COM_INIT_DB:
	case COM_FIELD_LIST:
		n = strnlen((const char *)p, n);
		emit_request(o, push(c, cmd, o->ts, (const char *)p, n), (const char *)p);
		return;
	case COM_STMT_EXECUTE:
		if (n < 4) {
			it = push(c, cmd, o->ts, "", 0);
			break;
		}
		snprintf(id, sizeof(id), "%u", le32(p));
		text = c->stmts ? stmt_get(c->stmts, id, strlen(id)) : NULL;
		text = text ? text : "";
		it = push(c, cmd, o->ts, text, strlen(text));
		break;
	case COM_STMT_CLOSE:
		if (n >= 4 && c->stmts) {
			snprintf(id, sizeof(id), "%u", le32(p));
			stmt_del(c->stmts, id, strlen(id));
		}
		return;
	case COM_QUIT:
	case COM_STMT_SEND_LONG_DATA:
		return; /* no response */
	case COM_CHANGE_USER:
		c->phase = PH_AUTH;
		it = push(c, cmd, o->ts, (const char *)p, strnlen((const char *)p, n));
		break;
	default:
		if (!command_name(cmd)) {
			/* Replication and other rare commands: their answers cannot be walked. */
			d->dead = true;
			c->d[!o->dir].dead = true;
			c->pc.stats.malformed++;
			return;
		}
		it = push(c, cmd, o->ts, "", 0);
		break;
	}
	emit_request(o, it, it->text);
}

/* --- server packets -------------------------------------------------------------- */

static void set_error(struct my_item *it, const struct keep *b)
{
	size_t pos = 3;

	it->failed = true;
	it->errnum = b->len >= 3 ? le16(b->buf + 1) : 0;
	if (b->len >= 9 && b->buf[3] == '#') {
		text_set(it->code, sizeof(it->code), b->buf + 4, 5);
		pos = 9;
	}
	text_set(it->error, sizeof(it->error), pos < b->len ? b->buf + pos : (const uint8_t *)"",
		 pos < b->len ? b->len - pos : 0);
}

/* OK: affected rows and the status flags; true when more results follow. */
static bool ok_packet(struct my_item *it, const struct keep *b)
{
	size_t pos = 1;
	uint64_t affected = 0, id;

	if (lenenc(b, &pos, &affected) && it->cmd != COM_STMT_PREPARE)
		it->rows = (it->rows < 0 ? 0 : it->rows) + affected;
	snprintf(it->result, sizeof(it->result), "OK, %lld row%s affected",
		 (long long)(it->rows < 0 ? 0 : it->rows), it->rows == 1 ? "" : "s");
	if (!lenenc(b, &pos, &id) || pos + 2 > b->len)
		return false;
	return le16(b->buf + pos) & SERVER_MORE_RESULTS_EXISTS;
}

/* The end of a result set (EOF, or OK with 0xfe): done unless more follow. */
static bool end_of_rows(struct my_conn *c, struct my_item *it, const struct keep *b)
{
	bool more;

	if (c->caps & CLIENT_DEPRECATE_EOF) {
		struct my_item tmp = *it;

		more = ok_packet(&tmp, b);
	} else {
		more = b->len >= 5 && (le16(b->buf + 3) & SERVER_MORE_RESULTS_EXISTS);
	}
	it->rstate = R_FIRST;
	snprintf(it->result, sizeof(it->result), "%lld row%s",
		 (long long)(it->rows < 0 ? 0 : it->rows), it->rows == 1 ? "" : "s");
	return !more;
}

static bool is_eof(const struct my_conn *c, const struct my_dir *d)
{
	const struct keep *b = &d->body;

	if (!b->len || b->buf[0] != 0xfe)
		return false;
	return (c->caps & CLIENT_DEPRECATE_EOF) ? b->total < 0xffffff : b->total < 9;
}

/* One server payload for the command at the head; true when its response is whole. */
static bool server_step(struct my_conn *c, struct my_item *it, const struct my_dir *d)
{
	const struct keep *b = &d->body;
	uint8_t first = b->len ? b->buf[0] : 0;
	uint64_t ncols;
	size_t pos = 0;

	switch (it->rstate) {
	case R_SKIP:
		return --it->left == 0;
	case R_COLDEFS:
		if (--it->left)
			return false;
		it->rstate = R_ROWS;
		/* Without DEPRECATE_EOF an EOF ends the definitions: R_ROWS skips it. */
		if (!(c->caps & CLIENT_DEPRECATE_EOF))
			it->left = 1;
		return false;
	case R_ROWS:
		if (first == 0xff) {
			set_error(it, b);
			return true;
		}
		if (is_eof(c, d)) {
			if (it->left) { /* the EOF after the definitions */
				it->left = 0;
				return false;
			}
			return end_of_rows(c, it, b);
		}
		it->rows = (it->rows < 0 ? 0 : it->rows) + 1;
		return false;
	default:
		break;
	}
	/* R_FIRST: the first packet of a response. */
	if (first == 0xff) {
		set_error(it, b);
		return true;
	}
	if (it->cmd == COM_STATISTICS) {
		text_set(it->result, sizeof(it->result), b->buf, b->len);
		return true;
	}
	if (first == 0x00 && it->cmd == COM_STMT_PREPARE && b->len >= 9) {
		char id[16];
		uint32_t cols = le16(b->buf + 5), params = le16(b->buf + 7);
		bool eofs = !(c->caps & CLIENT_DEPRECATE_EOF);

		snprintf(id, sizeof(id), "%u", le32(b->buf + 1));
		if (!c->stmts)
			c->stmts = calloc(1, sizeof(*c->stmts));
		if (c->stmts && stmt_put(c->stmts, id, strlen(id), it->text, strlen(it->text)))
			c->pc.stats.evicted++;
		snprintf(it->result, sizeof(it->result), "statement %s, %u params, %u columns", id,
			 params, cols);
		it->left = params + (params && eofs) + cols + (cols && eofs);
		it->rstate = R_SKIP;
		return it->left == 0;
	}
	if (first == 0x00 && b->len >= 7)
		return !ok_packet(it, b);
	if (first == 0xfe && b->total < 9) /* EOF: COM_SET_OPTION, COM_DEBUG */
		return true;
	if (first == 0xfb) /* LOCAL INFILE: the client sends a file, then the OK */
		return false;
	if (it->cmd == COM_FIELD_LIST) { /* definitions up to an EOF */
		it->rstate = R_ROWS;
		return false;
	}
	/* A result set: its column count, then as many definitions. */
	if (!lenenc(b, &pos, &ncols) || !ncols) {
		it->failed = true;
		text_set(it->error, sizeof(it->error), "undecodable response", 20);
		return true;
	}
	if ((c->ext_caps & MARIADB_CACHE_METADATA) && it->cmd == COM_STMT_EXECUTE && pos < b->len &&
	    !b->buf[pos]) {
		it->rstate = R_ROWS; /* metadata not sent again */
		return false;
	}
	snprintf(it->result, sizeof(it->result), "%llu columns", (unsigned long long)ncols);
	if (it->rows < 0)
		it->rows = 0;
	it->rstate = R_COLDEFS;
	it->left = ncols;
	return false;
}

static void server_payload(struct my_conn *c, struct my_dir *d, const struct my_out *o)
{
	const struct keep *b = &d->body;
	struct my_item *it = head(c);
	uint8_t first = b->len ? b->buf[0] : 0;

	if (!it) {
		c->pc.stats.unpaired++;
		return;
	}
	if (c->phase == PH_AUTH) {
		/* 0xfe switches the method, 0x01 carries more data: the exchange goes on. */
		if (first != 0x00 && first != 0xff)
			return;
		c->phase = PH_COMMAND;
		if (first == 0xff)
			set_error(it, b);
		else
			text_set(it->result, sizeof(it->result), "OK", 2);
		emit_response(o, it);
		pop(c);
		return;
	}
	if (server_step(c, it, d)) {
		emit_response(o, it);
		pop(c);
	}
}

/* --- framing --------------------------------------------------------------------- */

enum { MASK_NONE, MASK_SQL, MASK_ALL, MASK_AFTER_NUL, MASK_EXECUTE };

/* What to mask in a client payload, chosen from its first byte; pos: of p[0]. */
static void mask_client(struct my_conn *c, struct my_dir *d, uint8_t *p, size_t n, uint64_t pos)
{
	for (size_t i = 0; i < n; i++, pos++) {
		if (pos == 0) {
			d->nul_seen = false;
			if (c->phase == PH_LOGIN)
				d->mask_mode = MASK_AFTER_NUL;
			else if (c->phase == PH_AUTH)
				d->mask_mode = MASK_ALL;
			else if (d->seq != 0)
				d->mask_mode = MASK_NONE;
			else if (p[i] == COM_QUERY || p[i] == COM_STMT_PREPARE)
				d->mask_mode = MASK_SQL;
			else if (p[i] == COM_STMT_EXECUTE)
				d->mask_mode = MASK_EXECUTE;
			else if (p[i] == COM_CHANGE_USER)
				d->mask_mode = MASK_AFTER_NUL;
			else
				d->mask_mode = MASK_NONE;
			if (d->mask_mode != MASK_ALL)
				continue;
		}
		switch (d->mask_mode) {
		case MASK_SQL:
			sql_mask_feed(&d->mask, p + i, 1);
			break;
		case MASK_ALL:
			p[i] = '*';
			break;
		case MASK_EXECUTE: /* id, flags, iteration count, then the parameters */
			if (pos >= 10)
				p[i] = '*';
			break;
		case MASK_AFTER_NUL: /* the login's user name is at 32, change-user's at 1 */
			if (d->nul_seen)
				p[i] = '*';
			else if (!p[i] && pos >= (c->phase == PH_LOGIN ? 32u : 1u))
				d->nul_seen = true;
			break;
		}
	}
}

/* The HandshakeResponse41 of a TLS client: protocol 4.1, TLS, zero filler. */
static enum proto_verdict detect(const struct my_dir *d)
{
	const uint8_t *p = d->body.buf;
	uint32_t caps;

	if (d->len < 32 || d->seq < 1 || d->seq > 2)
		return VERDICT_NO;
	if (d->body.len < 32)
		return VERDICT_MAYBE;
	caps = le32(p);
	if (!(caps & CLIENT_PROTOCOL_41) || !(caps & CLIENT_SSL))
		return VERDICT_NO;
	for (int i = 9; i < 28; i++)
		if (p[i])
			return VERDICT_NO;
	return VERDICT_YES;
}

static void payload_done(struct my_conn *c, struct my_dir *d, bool client, const struct my_out *o)
{
	if (client)
		client_payload(c, d, o);
	else
		server_payload(c, d, o);
}

static void feed_dir(struct my_conn *c, int dir, uint8_t *data, size_t len, uint64_t ts,
		     bool redact, proto_cb cb, void *ctx)
{
	struct my_dir *d = &c->d[dir];
	bool client = dir == c->pc.client_dir;
	struct my_out o = { dir, ts, cb, ctx };

	while (len && !d->dead) {
		size_t n;

		if (d->hlen < 4) {
			n = 4 - d->hlen < len ? 4 - d->hlen : len;
			memcpy(d->hdr + d->hlen, data, n);
			d->hlen += n;
			data += n;
			len -= n;
			if (d->hlen < 4)
				break;
			d->len = d->hdr[0] | (uint32_t)d->hdr[1] << 8 | (uint32_t)d->hdr[2] << 16;
			d->got = 0;
			if (!d->more) {
				d->seq = d->hdr[3];
				d->pos = 0;
				d->mask_mode = MASK_NONE;
				keep_reset(&d->body);
				sql_mask_init(&d->mask, SQL_MYSQL);
			}
			d->more = d->len == 0xffffff;
		}
		n = d->len - d->got < len ? d->len - d->got : len;
		/* Masked before it is kept, but for the login (its row wants the database). */
		if (client && redact && c->phase != PH_LOGIN)
			mask_client(c, d, data, n, d->pos);
		if (keep_add(&d->body, data, n, MY_KEEP))
			d->dead = true;
		if (c->pc.verdict == VERDICT_MAYBE) {
			enum proto_verdict v = detect(d);

			if (v == VERDICT_MAYBE && d->got + n == d->len)
				v = VERDICT_NO;
			if (v == VERDICT_NO) {
				c->pc.verdict = v;
				d->dead = true;
				return;
			}
			c->pc.verdict = v;
		}
		/* Not before it is known to be MySQL: these are someone else's bytes. */
		if (client && redact && c->phase == PH_LOGIN && c->pc.verdict == VERDICT_YES)
			mask_client(c, d, data, n, d->pos);
		d->got += n;
		d->pos += n;
		data += n;
		len -= n;
		if (d->got < d->len)
			continue;
		d->hlen = 0;
		if (!d->more)
			payload_done(c, d, client, &o);
	}
}

static void my_feed(void *cv, int dir, uint8_t *data, size_t len, uint64_t ts, bool redact,
		    proto_cb cb, void *ctx)
{
	struct my_conn *c = cv;

	/* The client speaks first: its HandshakeResponse. */
	if (!proto_conn_first_speaker(&c->pc, dir, len))
		return;
	feed_dir(c, dir, data, len, ts, redact, cb, ctx);
}

static void *my_new(void)
{
	struct my_conn *c = calloc(1, sizeof(*c));

	if (c)
		c->pc.client_dir = -1;
	return c;
}

static void my_free(void *cv)
{
	struct my_conn *c = cv;

	if (!c)
		return;
	keep_free(&c->d[0].body);
	keep_free(&c->d[1].body);
	free(c->stmts);
	free(c);
}

static bool my_dir_alive(const void *cv, int dir)
{
	const struct my_conn *c = cv;

	return c->pc.verdict == VERDICT_YES && !c->d[dir].dead;
}

const struct proto_decoder mysql_decoder = {
	.id = PROTO_MYSQL,
	.create = my_new,
	.destroy = my_free,
	.feed = my_feed,
	.verdict = proto_conn_verdict,
	.client_dir = proto_conn_client_dir,
	.dir_alive = my_dir_alive,
	.stats = proto_conn_stats,
};
