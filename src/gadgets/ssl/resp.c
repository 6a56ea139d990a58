// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Redis RESP2/RESP3 decoding (see resp.h).  One streaming value parser per
 * direction: a type byte, a line, and for bulk types a payload; aggregates
 * push their element count on a bounded stack instead of recursing.  The
 * client's values are commands (arrays of bulk strings), the server's are
 * replies summarised at the top level.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define RESP_DEPTH 32
#define RESP_LINE 256	    /* kept of a line */
#define RESP_LINE_MAX 65536 /* a line without its end after this is not RESP */
#define RESP_QUEUE 64
#define RESP_ARG 64 /* kept of each argument in the request text */
#define RESP_TEXT 512
#define RESP_DETECT_CALLS 8 /* calls looked at before the connection is not Redis */
/* Redis refuses lengths beyond 512 MB (proto-max-bulk-len) and aggregates
 * beyond 2^31 elements; a larger count is not RESP. */
#define RESP_COUNT_MAX ((int64_t)1 << 32)

enum { ST_TYPE, ST_LINE, ST_BULK };

struct cmd_item {
	uint64_t ts;
	uint32_t replies; /* replies still expected: (P|S)SUBSCRIBE have one per channel */
	char cmd[24];
	char key[64];
	char text[128];
};

struct resp_dir {
	bool dead, synced;
	uint32_t calls;
	uint8_t st, type;
	bool inline_cmd;
	char line[RESP_LINE];
	size_t line_len;
	uint64_t line_total;
	uint64_t bulk_left; /* payload and CRLF still to come */
	uint64_t bulk_len;
	int64_t stack[RESP_DEPTH];
	int depth;
	uint8_t top; /* the type of the value being read at the top level */
	int64_t top_count;
	char val[RESP_ARG + 5]; /* the first bytes of the current bulk, NUL-ended */
	size_t val_len;
	char first[16]; /* a top-level array's first element (pub/sub messages) */
	/* The client's command being read. */
	int64_t argc, argi;
	bool mask_arg;
	int mask_left;
	bool subcmd_set, subcmd_setuser; /* CONFIG SET, ACL SETUSER */
	char cmd[24], key[64], prev[16];
	char text[RESP_TEXT];
};

struct resp_conn {
	struct proto_conn pc; /* first: the shared accessors read it */
	bool subscribed;      /* RESP2 pub/sub: arrays of "message" are not replies */
	struct resp_dir d[2];
	struct cmd_item q[RESP_QUEUE];
	int qhead, qlen;
};

struct resp_out {
	int dir;
	uint64_t ts;
	proto_cb cb;
	void *ctx;
};

/* Commands without a key at argument 1; the EVAL family has it at 3. */
static const char *const no_key[] = {
	"AUTH",		"HELLO",	"PING",		"ECHO",	      "SELECT",	    "QUIT",
	"CLIENT",	"CONFIG",	"INFO",		"COMMAND",    "DBSIZE",	    "FLUSHDB",
	"FLUSHALL",	"MULTI",	"EXEC",		"DISCARD",    "SAVE",	    "BGSAVE",
	"LASTSAVE",	"TIME",		"SUBSCRIBE",	"PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE",
	"PUNSUBSCRIBE", "SUNSUBSCRIBE", "PUBLISH",	"SPUBLISH",   "PUBSUB",	    "SCRIPT",
	"FUNCTION",	"SLOWLOG",	"MONITOR",	"SHUTDOWN",   "ACL",	    "CLUSTER",
	"DEBUG",	"LATENCY",	"MODULE",	"SCAN",	      "RANDOMKEY",  "KEYS",
	"WAIT",		"ROLE",		"REPLICAOF",	"SLAVEOF",    "SWAPDB",	    "RESET",
	"READONLY",	"READWRITE",	"BGREWRITEAOF", "LOLWUT",     "MEMORY",	    "OBJECT",
	"XREAD",	"XREADGROUP",	"FAILOVER",	NULL,
};

static bool is_cmd(const char *cmd, const char *name)
{
	return !strcmp(cmd, name);
}

static bool in_list(const char *cmd, const char *const *list)
{
	for (; *list; list++)
		if (is_cmd(cmd, *list))
			return true;
	return false;
}

static bool is_subscribe(const char *cmd)
{
	return is_cmd(cmd, "SUBSCRIBE") || is_cmd(cmd, "PSUBSCRIBE") || is_cmd(cmd, "SSUBSCRIBE");
}

/* --- the command queue ------------------------------------------------------------- */

static void pop(struct resp_conn *c)
{
	c->qhead = (c->qhead + 1) % RESP_QUEUE;
	c->qlen--;
}

static void push(struct resp_conn *c, const struct resp_dir *d, uint64_t ts)
{
	struct cmd_item *it;

	if (c->qlen == RESP_QUEUE) {
		pop(c);
		c->pc.stats.evicted++;
	}
	it = &c->q[(c->qhead + c->qlen++) % RESP_QUEUE];
	*it = (struct cmd_item){ .ts = ts, .replies = 1 };
	/* Pub/sub: one reply per channel; UNSUBSCRIBE without any: at least one. */
	if (is_subscribe(d->cmd) || strstr(d->cmd, "UNSUBSCRIBE"))
		it->replies = d->argc > 2 ? d->argc - 1 : 1;
	text_set(it->cmd, sizeof(it->cmd), d->cmd, strlen(d->cmd));
	text_set(it->key, sizeof(it->key), d->key, strlen(d->key));
	text_set(it->text, sizeof(it->text), d->text, strlen(d->text));
}

/* --- client: commands -------------------------------------------------------------- */

static void cmd_begin(struct resp_dir *d, int64_t argc)
{
	d->argc = argc;
	d->argi = 0;
	d->mask_left = 0;
	d->subcmd_set = d->subcmd_setuser = false;
	d->cmd[0] = d->key[0] = d->prev[0] = d->text[0] = '\0';
}

static void cmd_done(struct resp_conn *c, struct resp_dir *d, const struct resp_out *o)
{
	struct proto_msg m;

	if (!d->cmd[0])
		return; /* an empty command: nothing is answered */
	push(c, d, o->ts);
	if (is_subscribe(d->cmd))
		c->subscribed = true;
	proto_msg_init(&m, PROTO_REQUEST, o->dir, o->ts);
	m.method = d->cmd;
	m.key = d->key[0] ? d->key : NULL;
	m.request = d->text;
	o->cb(o->ctx, &m);
}

/* Whether argument argi (about to start) is a secret, from the ones before it. */
static bool arg_is_secret(struct resp_dir *d)
{
	if (d->argi == 0)
		return false;
	if (is_cmd(d->cmd, "AUTH"))
		return true;
	if (d->mask_left > 0) {
		d->mask_left--;
		return true;
	}
	return false;
}

/* An argument is whole (its first bytes in d->val): name, key, text, what follows. */
static void arg_done(struct resp_dir *d)
{
	char up[16];
	size_t n = d->val_len < RESP_ARG ? d->val_len : RESP_ARG;

	if (d->argi == 0) {
		for (size_t i = 0; i < n && i < sizeof(d->cmd) - 1; i++)
			d->cmd[i] = toupper((unsigned char)d->val[i]);
		d->cmd[n < sizeof(d->cmd) - 1 ? n : sizeof(d->cmd) - 1] = '\0';
	} else {
		text_append(d->text, sizeof(d->text), " ", 1);
	}
	text_append(d->text, sizeof(d->text), d->val, n);
	if (d->val_len > RESP_ARG)
		text_append(d->text, sizeof(d->text), "...", 3);
	/* The key: argument 1, or 3 for EVAL-like commands with keys. */
	if ((d->argi == 1 && !in_list(d->cmd, no_key) && strncmp(d->cmd, "EVAL", 4) &&
	     !is_cmd(d->cmd, "FCALL") && !is_cmd(d->cmd, "FCALL_RO")) ||
	    (d->argi == 3 && (!strncmp(d->cmd, "EVAL", 4) || !strncmp(d->cmd, "FCALL", 5)) &&
	     strcmp(d->prev, "0")))
		text_set(d->key, sizeof(d->key), d->val, n);
	for (size_t i = 0; i < sizeof(up) - 1; i++)
		up[i] = i < n ? toupper((unsigned char)d->val[i]) : '\0';
	up[sizeof(up) - 1] = '\0';
	/* What makes the next arguments secrets. */
	if (is_cmd(d->cmd, "HELLO") && is_cmd(up, "AUTH"))
		d->mask_left = 2;
	else if (is_cmd(d->cmd, "MIGRATE") && is_cmd(up, "AUTH"))
		d->mask_left = 1;
	else if (is_cmd(d->cmd, "MIGRATE") && is_cmd(up, "AUTH2"))
		d->mask_left = 2;
	else if (d->argi == 1 && is_cmd(d->cmd, "CONFIG") && is_cmd(up, "SET"))
		d->subcmd_set = true;
	else if (d->argi == 1 && is_cmd(d->cmd, "ACL") && is_cmd(up, "SETUSER"))
		d->subcmd_setuser = true;
	else if (d->subcmd_set && d->argi % 2 == 0 &&
		 (!strcasecmp(up, "REQUIREPASS") || !strcasecmp(up, "MASTERAUTH")))
		d->mask_left = 1;
	text_set(d->prev, sizeof(d->prev), d->val, n < sizeof(d->prev) ? n : sizeof(d->prev) - 1);
	d->argi++;
}

/* Inline command: words on one line (telnet style), no quoting. */
static void inline_done(struct resp_conn *c, struct resp_dir *d, const struct resp_out *o)
{
	const char *p = d->line, *end = d->line + d->line_len;

	cmd_begin(d, 0);
	while (p < end) {
		size_t n;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		n = strcspn(p, " \t");
		if (!n)
			break;
		d->val_len = n < sizeof(d->val) - 1 ? n : sizeof(d->val) - 1;
		memcpy(d->val, p, d->val_len);
		d->val[d->val_len] = '\0';
		d->argc++;
		arg_done(d);
		p += n;
	}
	cmd_done(c, d, o);
}

/* --- server: replies ---------------------------------------------------------------- */

static void reply_done(struct resp_conn *c, struct resp_dir *d, const struct resp_out *o)
{
	struct proto_msg m;
	struct cmd_item *it = c->qlen ? &c->q[c->qhead] : NULL;
	char result[RESP_LINE + 32] = "", code[32] = "";
	/* (Un)subscribe confirmations answer their command, even as RESP3 pushes. */
	bool confirm = it && strstr(it->cmd, "SUBSCRIBE") && !strcasecmp(d->first, it->cmd);
	bool push = !confirm && (d->top == '>' ||
				 (c->subscribed && d->top == '*' &&
				  (!strcmp(d->first, "message") || !strcmp(d->first, "pmessage") ||
				   !strcmp(d->first, "smessage"))));
	const char *err = NULL;

	if (d->top == '|')
		return; /* attributes come before the reply they describe */
	proto_msg_init(&m, PROTO_RESPONSE, o->dir, o->ts);
	switch (d->top) {
	case '+':
		snprintf(result, sizeof(result), "%s", d->line);
		break;
	case '-':
	case '!':
		err = d->top == '-' ? d->line : d->val;
		snprintf(code, sizeof(code), "%.*s", (int)strcspn(err, " "), err);
		break;
	case ':':
		snprintf(result, sizeof(result), "(integer) %s", d->line);
		break;
	case ',':
		snprintf(result, sizeof(result), "(double) %s", d->line);
		break;
	case '(':
		snprintf(result, sizeof(result), "(big number) %s", d->line);
		break;
	case '#':
		snprintf(result, sizeof(result), "(%s)", d->line[0] == 't' ? "true" : "false");
		break;
	case '_':
		snprintf(result, sizeof(result), "(nil)");
		break;
	case '$':
	case '=':
		if (d->top_count < 0)
			snprintf(result, sizeof(result), "(nil)");
		else
			snprintf(result, sizeof(result), "\"%.*s\"%s", (int)d->val_len, d->val,
				 d->top_count > RESP_ARG ? "..." : "");
		break;
	default: /* aggregates */
		if (d->top_count < 0)
			snprintf(result, sizeof(result), "(nil)");
		else
			snprintf(result, sizeof(result), "(%s of %lld)",
				 d->top == '%'	 ? "map"
				 : d->top == '~' ? "set"
				 : d->top == '>' ? "push"
						 : "array",
				 (long long)d->top_count);
		break;
	}
	m.result = result;
	if (err) {
		m.error = err;
		m.code = code;
	}
	if (push) {
		m.method = "push";
	} else if (it) {
		m.method = it->cmd;
		m.key = it->key[0] ? it->key : NULL;
		m.request = it->text;
		m.has_latency = o->ts >= it->ts;
		m.latency_ns = m.has_latency ? o->ts - it->ts : 0;
		if (--it->replies == 0)
			pop(c);
		if (is_cmd(m.method, "RESET"))
			c->subscribed = false;
	} else {
		c->pc.stats.unpaired++;
	}
	o->cb(o->ctx, &m);
}

/* --- values -------------------------------------------------------------------------- */

static bool is_type(uint8_t t)
{
	return t && strchr("+-:$*_#,(!=%~>|", t);
}

static bool parse_num(const char *s, int64_t *v)
{
	char *end;

	if (!*s || (!isdigit((unsigned char)*s) && *s != '-'))
		return false;
	*v = strtoll(s, &end, 10);
	return *end == '\0' && *v >= -1;
}

/* A value (scalar, or an aggregate's last element) is whole: up the stack. */
static void value_done(struct resp_conn *c, struct resp_dir *d, bool client,
		       const struct resp_out *o)
{
	for (;;) {
		if (d->depth == 0) {
			if (client)
				cmd_done(c, d, o);
			else
				reply_done(c, d, o);
			return;
		}
		if (--d->stack[d->depth - 1] > 0)
			return;
		d->depth--;
	}
}

/* A line is whole (type byte first, CR stripped). false: malformed. */
static bool line_done(struct resp_conn *c, struct resp_dir *d, bool client,
		      const struct resp_out *o)
{
	int64_t n = 0;
	bool top = d->depth == 0;

	if (d->line_len && d->line[d->line_len - 1] == '\r')
		d->line[--d->line_len] = '\0';
	if (d->inline_cmd) {
		inline_done(c, d, o);
		return true;
	}
	if (top) {
		d->top = d->type;
		d->top_count = 0;
		d->first[0] = '\0';
		d->val_len = 0;
	}
	if (client && (d->depth > 1 || (d->depth == 0 && d->type != '*') ||
		       (d->depth == 1 && d->type != '$')))
		return false; /* commands are arrays of bulk strings */
	if (strchr("$*!=%~>|", d->type)) {
		if (!parse_num(d->line, &n) || n > RESP_COUNT_MAX || n < -1)
			return false;
		if (top)
			d->top_count = n;
	}
	switch (d->type) {
	case '$':
	case '!':
	case '=':
		if (n < 0) { /* RESP2 null bulk */
			value_done(c, d, client, o);
			return true;
		}
		d->st = ST_BULK;
		d->bulk_len = n;
		d->bulk_left = (uint64_t)n + 2;
		d->val_len = 0;
		d->val[0] = '\0';
		if (client)
			d->mask_arg = arg_is_secret(d);
		return true;
	case '*':
	case '%':
	case '~':
	case '>':
	case '|':
		if (client)
			cmd_begin(d, n);
		if (d->type == '%' || d->type == '|')
			n *= 2;
		if (n <= 0) {
			value_done(c, d, client, o);
			return true;
		}
		if (d->depth == RESP_DEPTH)
			return false;
		d->stack[d->depth++] = n;
		return true;
	default:
		value_done(c, d, client, o);
		return true;
	}
}

static void bulk_bytes(struct resp_dir *d, bool client, bool redact, uint8_t *p, size_t n)
{
	size_t room = sizeof(d->val) - 1 - d->val_len, from = 0;

	/* ACL SETUSER rules: >pass <pass #hash !hash; their first byte stays. */
	if (client && redact && d->subcmd_setuser && d->argi >= 3 && !d->val_len &&
	    strchr("><#!", p[0]) && p[0]) {
		d->mask_arg = true;
		from = 1;
	}
	if (client && redact && d->mask_arg)
		memset(p + from, '*', n - from);
	memcpy(d->val + d->val_len, p, n < room ? n : room);
	d->val_len += n < room ? n : room;
	d->val[d->val_len] = '\0';
}

static void feed_dir(struct resp_conn *c, int dir, uint8_t *data, size_t len, uint64_t ts,
		     bool redact, proto_cb cb, void *ctx)
{
	struct resp_dir *d = &c->d[dir];
	bool client = dir == c->pc.client_dir;
	struct resp_out o = { dir, ts, cb, ctx };

	while (len && !d->dead) {
		uint8_t *nl;
		size_t n;

		switch (d->st) {
		case ST_TYPE:
			d->type = *data;
			d->inline_cmd = false;
			/* Empty lines between inline commands (redis-cli --pipe sends one). */
			if (client && !d->depth && (d->type == '\r' || d->type == '\n')) {
				data++;
				len--;
				break;
			}
			if (!is_type(d->type)) {
				/* Inline commands: only a client, only at the top. */
				if (!client || d->depth || !isalpha(d->type))
					goto bad;
				d->inline_cmd = true;
			} else {
				data++;
				len--;
			}
			d->st = ST_LINE;
			d->line_len = 0;
			d->line_total = 0;
			break;
		case ST_LINE:
			nl = memchr(data, '\n', len);
			n = nl ? (size_t)(nl - data) : len;
			if (d->line_len < sizeof(d->line) - 1) {
				size_t k = sizeof(d->line) - 1 - d->line_len;

				memcpy(d->line + d->line_len, data, n < k ? n : k);
				d->line_len += n < k ? n : k;
				d->line[d->line_len] = '\0';
			}
			d->line_total += n;
			data += n + (nl != NULL);
			len -= n + (nl != NULL);
			if (!nl) {
				if (d->line_total > RESP_LINE_MAX)
					goto bad;
				break;
			}
			d->st = ST_TYPE;
			if (!line_done(c, d, client, &o))
				goto bad;
			break;
		case ST_BULK:
			if (d->bulk_left > 2) {
				n = d->bulk_left - 2 < len ? d->bulk_left - 2 : len;
				bulk_bytes(d, client, redact, data, n);
			} else {
				/* The CRLF after the payload. */
				n = 1;
				if (*data != (d->bulk_left == 2 ? '\r' : '\n'))
					goto bad;
			}
			d->bulk_left -= n;
			data += n;
			len -= n;
			if (d->bulk_left)
				break;
			d->st = ST_TYPE;
			if (client) {
				arg_done(d);
			} else if (d->depth == 1 && (d->top == '*' || d->top == '>') &&
				   d->stack[0] == d->top_count) {
				/* A top-level array's first element: pub/sub messages. */
				text_set(d->first, sizeof(d->first), d->val, d->val_len);
			}
			value_done(c, d, client, &o);
			break;
		}
	}
	return;
bad:
	d->dead = true;
	c->pc.stats.malformed++;
}

/* A call that starts like a client's command: *N CRLF $M CRLF word CRLF. */
static bool looks_like_command(const uint8_t *p, size_t len)
{
	size_t i = 1, j;
	uint64_t m = 0;

	if (len < 8 || p[0] != '*')
		return false;
	for (j = i; i < len && isdigit(p[i]) && i - j < 6; i++)
		;
	if (i == j || i + 2 > len || p[i] != '\r' || p[i + 1] != '\n' || p[j] == '0')
		return false;
	i += 2;
	if (i >= len || p[i++] != '$')
		return false;
	for (j = i; i < len && isdigit(p[i]) && i - j < 3; i++)
		m = m * 10 + (p[i] - '0');
	if (i == j || !m || m > 32 || i + 2 + m + 2 > len || p[i] != '\r' || p[i + 1] != '\n')
		return false;
	i += 2;
	for (j = 0; j < m; j++)
		if (!isalpha(p[i + j]) && p[i + j] != '_' && p[i + j] != '|')
			return false;
	return p[i + m] == '\r' && p[i + m + 1] == '\n';
}

static void resp_feed(void *cv, int dir, uint8_t *data, size_t len, uint64_t ts, bool redact,
		      proto_cb cb, void *ctx)
{
	struct resp_conn *c = cv;
	struct resp_dir *d;

	if (!len || dir < 0 || dir > 1 || c->pc.verdict == VERDICT_NO)
		return;
	d = &c->d[dir];
	if (c->pc.verdict == VERDICT_MAYBE) {
		if (looks_like_command(data, len)) {
			c->pc.verdict = VERDICT_YES;
			c->pc.client_dir = dir;
			d->synced = true;
		} else if (++d->calls + c->d[!dir].calls >= RESP_DETECT_CALLS ||
			   !is_type(data[0])) {
			/* Neither a command nor a reply of a connection seen late. */
			c->pc.verdict = VERDICT_NO;
			return;
		} else {
			return;
		}
	}
	/* The server's side starts at its first call after the first command. */
	if (!d->synced) {
		if (!c->qlen)
			return;
		d->synced = true;
	}
	feed_dir(c, dir, data, len, ts, redact, cb, ctx);
}

static void *resp_new(void)
{
	struct resp_conn *c = calloc(1, sizeof(*c));

	if (c)
		c->pc.client_dir = -1;
	return c;
}

static void resp_free(void *c)
{
	free(c);
}

static bool resp_dir_alive(const void *cv, int dir)
{
	const struct resp_conn *c = cv;

	return c->pc.verdict == VERDICT_YES && c->d[dir].synced && !c->d[dir].dead;
}

const struct proto_decoder redis_decoder = {
	.id = PROTO_REDIS,
	.create = resp_new,
	.destroy = resp_free,
	.feed = resp_feed,
	.verdict = proto_conn_verdict,
	.client_dir = proto_conn_client_dir,
	.dir_alive = resp_dir_alive,
	.stats = proto_conn_stats,
};
