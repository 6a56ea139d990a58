// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/1.x and HTTP/2 decoding of captured TLS plaintext (see http.h).
 * Nothing here trusts the bytes: every length is bounded, and a direction
 * that stops making sense is abandoned (and counted) rather than guessed at.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "grow.h"
#include "http.h"
#include "redact.h"

/*
 * The bounds of http.h: past one, the direction is abandoned with its
 * reason (http_conn_error()), never buffered further.
 */
#define H1_MAX_HEAD HTTP_MAX_HEAD  /* an HTTP/1 head; its buffer holds a NUL too */
#define H2_MAX_BLOCK HTTP_MAX_HEAD /* an HTTP/2 header block, all CONTINUATIONs */
#define H2_MAX_TEXT HTTP_MAX_HEAD  /* its decoded header list, "name: value\r\n" lines */
#ifndef H2_MAX_STREAMS /* the fuzz targets make it small: faster, and the table fills */
#define H2_MAX_STREAMS HTTP_MAX_STREAMS
#endif
/* An emptied buffer bigger than this is freed: idle connections stay small. */
#define TRIM_OVER 16384
#define METHOD_LEN 32
#define PATH_LEN 2048
#define AUTH_LEN 256

#define STR(x) #x
#define XSTR(x) STR(x)

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN 24

enum conn_mode { MODE_UNKNOWN, MODE_H1, MODE_H2 };

/* What a response needs to know about its request. */
struct req_info {
	bool used;
	uint32_t id;
	uint64_t ts;
	char method[METHOD_LEN];
	char path[PATH_LEN];
	char authority[AUTH_LEN];
};

/* Where the bytes of a reassembled buffer sit in the caller's data (NULL: gone). */
struct seg {
	size_t off;
	uint8_t *p;
	size_t len;
};

struct segbuf {
	uint8_t *buf;
	size_t len, cap;
	struct seg *segs;
	size_t nsegs, capsegs;
};

enum h1_state {
	H1_HEAD,
	H1_BODY,
	H1_CHUNK_SIZE,
	H1_CHUNK_DATA,
	H1_CHUNK_CRLF,
	H1_TRAILER,
	H1_UNTIL_CLOSE,
	H1_DEAD,
};

struct h1_dir {
	enum h1_state st;
	char *head;
	size_t head_len, head_cap;
	uint64_t remaining;
	char line[80];
	size_t line_len;
	bool skip_line; /* in a trailer line too long for line[] */
	/* The message being read. */
	struct http_msg msg;
	char method[METHOD_LEN], path[PATH_LEN], authority[AUTH_LEN];
	int64_t body;
};

struct h2_dir {
	bool dead;
	size_t preface_left;
	uint8_t fh[9];
	size_t fh_len;
	uint32_t flen, fsid;
	uint8_t ftype, fflags;
	size_t fgot;
	uint8_t dpad;	     /* a DATA frame's padding */
	struct segbuf frame; /* payload of header-carrying frames */
	struct segbuf block; /* header block being assembled */
	bool in_block, block_end_stream, block_push;
	uint32_t block_sid;
	nghttp2_hd_inflater *inflater;
};

struct http_conn {
	enum conn_mode mode;
	bool started[2];
	struct h1_dir h1[2];
	struct h2_dir h2[2];
	struct req_info *reqs; /* HTTP/2 streams, or the HTTP/1 queue; grows to H2_MAX_STREAMS */
	size_t nr_reqs;
	uint32_t h1_next_id, h1_resp_id;
	int client_dir;
	struct http_stats stats;
	bool frames;	   /* DATA, trailers and resets go to the callback too */
	unsigned int msgs; /* messages decoded */
	bool h1_start;	   /* an HTTP/1 request or status line was seen: HTTP, if malformed */
	size_t held;	   /* bytes of buffers and HPACK tables (held_total's share) */
	char error[2][96]; /* why a direction was abandoned */
	/* The inflaters' allocator: nghttp2 1.52 keeps this pointer, whatever its docs say. */
	nghttp2_mem mem;
};

/* --- memory: every buffer is counted, all connections together are bounded --- */

static size_t held_total;
static bool held_refused; /* the last refusal was the bound's, not malloc's */

static bool held_take(struct http_conn *c, size_t n)
{
	held_refused = n > HTTP_MAX_HELD - held_total;
	if (held_refused)
		return false;
	held_total += n;
	c->held += n;
	return true;
}

static void held_give(struct http_conn *c, size_t n)
{
	held_total -= n;
	c->held -= n;
}

/*
 * grow() for a connection's buffer (see grow.h), counted; *why says what
 * failed: out of memory, or every connection's buffers are at HTTP_MAX_HELD.
 */
static int held_grow(struct http_conn *c, void *arr, size_t *cap, size_t need, size_t size,
		     size_t first, const char **why)
{
	size_t old = *cap, n = old ? old : first;

	if (need <= old)
		return 0;
	while (n < need)
		n *= 2;
	if (!held_take(c, (n - old) * size)) {
		*why = "the HTTP decoder's memory for all connections is spent";
		return -1;
	}
	if (grow(arr, cap, need, size, first)) {
		held_give(c, (n - old) * size);
		*why = "out of memory";
		return -1;
	}
	return 0;
}

static void held_free(struct http_conn *c, void *arr, size_t *cap, size_t size)
{
	void **p = arr;

	free(*p);
	*p = NULL;
	held_give(c, *cap * size);
	*cap = 0;
}

/*
 * nghttp2's allocator for a connection's HPACK inflaters: counted like the
 * buffers, each block prefixed with its size.
 */
#define MEM_HDR 16

static void *mem_malloc(size_t size, void *user)
{
	struct http_conn *c = user;
	uint8_t *p;

	if (size > SIZE_MAX - MEM_HDR || !held_take(c, size + MEM_HDR))
		return NULL;
	p = malloc(size + MEM_HDR);
	if (!p) {
		held_give(c, size + MEM_HDR);
		return NULL;
	}
	memcpy(p, &size, sizeof(size));
	return p + MEM_HDR;
}

static void mem_free(void *ptr, void *user)
{
	uint8_t *p = ptr;
	size_t size;

	if (!p)
		return;
	memcpy(&size, p - MEM_HDR, sizeof(size));
	held_give(user, size + MEM_HDR);
	free(p - MEM_HDR);
}

static void *mem_calloc(size_t n, size_t size, void *user)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	p = mem_malloc(n * size, user);
	if (p)
		memset(p, 0, n * size);
	return p;
}

static void *mem_realloc(void *ptr, size_t size, void *user)
{
	size_t old = 0;
	void *p;

	if (!ptr)
		return mem_malloc(size, user);
	memcpy(&old, (uint8_t *)ptr - MEM_HDR, sizeof(old));
	p = mem_malloc(size, user);
	if (!p)
		return NULL;
	memcpy(p, ptr, old < size ? old : size);
	mem_free(ptr, user);
	return p;
}

/* Abandon direction dir (once): why, and its count. */
static void __attribute__((format(printf, 3, 4)))
dir_fail(struct http_conn *c, int dir, const char *fmt, ...)
{
	va_list ap;

	if (c->error[dir][0])
		return;
	va_start(ap, fmt);
	vsnprintf(c->error[dir], sizeof(c->error[dir]), fmt, ap);
	va_end(ap);
}

static void copy_str(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* --- request bookkeeping ------------------------------------------------- */

static struct req_info *req_find(struct http_conn *c, uint32_t id)
{
	for (size_t i = 0; i < c->nr_reqs; i++)
		if (c->reqs[i].used && c->reqs[i].id == id)
			return &c->reqs[i];
	return NULL;
}

/*
 * A slot for request id.  The table grows to H2_MAX_STREAMS requests
 * waiting for their responses; past that, NULL and the direction that
 * asked is abandoned, unless the responses can no longer be seen (the other
 * direction is abandoned): then the oldest is forgotten.
 */
static struct req_info *req_add(struct http_conn *c, int dir, uint32_t id)
{
	struct req_info *r = req_find(c, id), *oldest = NULL;
	size_t old = c->nr_reqs, cap = old;
	const char *why = NULL;

	if (r)
		return r;
	for (size_t i = 0; i < c->nr_reqs; i++) {
		if (!c->reqs[i].used)
			return &c->reqs[i];
		if (!oldest || c->reqs[i].ts < oldest->ts)
			oldest = &c->reqs[i];
	}
	if (old < H2_MAX_STREAMS) {
		size_t want = old ? old * 2 : 8;

		if (want > H2_MAX_STREAMS)
			want = H2_MAX_STREAMS;
		if (!held_grow(c, &c->reqs, &cap, want, sizeof(*c->reqs), want, &why)) {
			memset(c->reqs + old, 0, (cap - old) * sizeof(*c->reqs));
			c->nr_reqs = cap;
			return &c->reqs[old];
		}
		dir_fail(c, dir, "%s", why);
		return NULL;
	}
	if (c->error[!dir][0] && oldest)
		return oldest;
	c->stats.over_limit++;
	dir_fail(c, dir, "more than %d requests waiting for responses", H2_MAX_STREAMS);
	return NULL;
}

static void req_set(struct req_info *r, uint32_t id, uint64_t ts, const char *method,
		    const char *path, const char *authority)
{
	r->used = true;
	r->id = id;
	r->ts = ts;
	copy_str(r->method, sizeof(r->method), method, strlen(method));
	copy_str(r->path, sizeof(r->path), path, strlen(path));
	copy_str(r->authority, sizeof(r->authority), authority, strlen(authority));
}

/* --- reassembly buffers that remember where their bytes came from -------- */

/* Append p[0, len): -1 with *why past max bytes or out of memory. */
static int segbuf_append(struct http_conn *c, struct segbuf *b, uint8_t *p, size_t len, size_t max,
			 const char **why)
{
	if (!len)
		return 0;
	if (b->len + len > max) {
		c->stats.over_limit++;
		*why = "header block over " XSTR(HTTP_MAX_HEAD) " bytes";
		return -1;
	}
	if (held_grow(c, &b->buf, &b->cap, b->len + len, 1, 4096, why) ||
	    held_grow(c, &b->segs, &b->capsegs, b->nsegs + 1, sizeof(*b->segs), 8, why))
		return -1;
	b->segs[b->nsegs++] = (struct seg){ b->len, p, len };
	memcpy(b->buf + b->len, p, len);
	b->len += len;
	return 0;
}

/* Append src[off, off+len) keeping its origins. */
static int segbuf_append_from(struct http_conn *c, struct segbuf *b, const struct segbuf *src,
			      size_t off, size_t len, size_t max, const char **why)
{
	for (size_t i = 0; i < src->nsegs && len; i++) {
		const struct seg *s = &src->segs[i];
		size_t a, n;

		if (off >= s->off + s->len || off < s->off)
			continue;
		a = off - s->off;
		n = s->len - a < len ? s->len - a : len;
		if (segbuf_append(c, b, s->p ? s->p + a : src->buf + off, n, max, why))
			return -1;
		if (!s->p)
			b->segs[b->nsegs - 1].p = NULL;
		off += n;
		len -= n;
	}
	if (len)
		*why = "bytes missing from a header block";
	return len ? -1 : 0;
}

static void segbuf_free(struct http_conn *c, struct segbuf *b)
{
	held_free(c, &b->buf, &b->cap, 1);
	held_free(c, &b->segs, &b->capsegs, sizeof(*b->segs));
	b->len = b->nsegs = 0;
}

/* Empty: a big buffer goes back, so that an idle connection holds little. */
static void segbuf_reset(struct http_conn *c, struct segbuf *b)
{
	b->len = 0;
	b->nsegs = 0;
	if (b->cap > TRIM_OVER)
		segbuf_free(c, b);
}

/* The caller's bytes are gone: one segment of our copy stands for them all. */
static void segbuf_forget(struct segbuf *b)
{
	if (!b->nsegs)
		return;
	b->segs[0] = (struct seg){ 0, NULL, b->len };
	b->nsegs = 1;
}

/* Overwrite [off, off+len) of b in the caller's bytes; false if some are gone. */
static bool segbuf_mask(struct segbuf *b, size_t off, size_t len, uint8_t c)
{
	bool ok = true;

	for (size_t i = 0; i < b->nsegs; i++) {
		struct seg *s = &b->segs[i];
		size_t a = off > s->off ? off : s->off;
		size_t e = off + len < s->off + s->len ? off + len : s->off + s->len;

		if (a >= e)
			continue;
		if (s->p)
			memset(s->p + (a - s->off), c, e - a);
		else
			ok = false;
	}
	return ok;
}

/* --- HTTP/1 -------------------------------------------------------------- */

static bool is_tchar(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A step's failure: why, for http_conn_error(); -1. */
static int h1_bad(struct http_conn *c, struct h1_dir *d, const char *why)
{
	dir_fail(c, (int)(d - c->h1), "%s", why);
	return -1;
}

static void h1_emit(struct http_conn *c, struct h1_dir *d, http_cb cb, void *ctx)
{
	c->msgs++;
	d->msg.body_len = d->body;
	d->msg.head = d->head;
	cb(ctx, &d->msg);
}

/* The request or status line; -1 when it is not HTTP/1. */
static int h1_start_line(struct h1_dir *d, char *p, char *eol)
{
	char *sp1 = memchr(p, ' ', eol - p), *sp2;

	if (!sp1)
		return -1;
	if (eol - p > 7 && !memcmp(p, "HTTP/1.", 7)) {
		d->msg.kind = HTTP_RESPONSE;
		d->msg.version = p[7] == '0' ? 10 : 11;
		d->msg.status = atoi(sp1 + 1);
		return d->msg.status < 100 || d->msg.status > 999 ? -1 : 0;
	}
	for (char *q = p; q < sp1; q++)
		if (!is_tchar((unsigned char)*q))
			return -1;
	sp2 = memchr(sp1 + 1, ' ', eol - sp1 - 1);
	if (!sp2 || eol - sp2 < 9 || memcmp(sp2 + 1, "HTTP/1.", 7))
		return -1;
	d->msg.kind = HTTP_REQUEST;
	d->msg.version = sp2[8] == '0' ? 10 : 11;
	copy_str(d->method, sizeof(d->method), p, sp1 - p);
	copy_str(d->path, sizeof(d->path), sp1 + 1, sp2 - sp1 - 1);
	return 0;
}

/* Digits only, at least one: a Content-Length. */
static bool all_digits(const char *p, const char *end)
{
	if (p == end)
		return false;
	for (; p < end; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

/*
 * The header fields that matter here: Host, Content-Length, Transfer-Encoding.
 * -1 on a Content-Length that is no length: the body's end is unknown.
 */
static int h1_fields(struct h1_dir *d, char *p, char *end, int64_t *clen, bool *chunked)
{
	char *eol;

	for (; p < end; p = eol + 1) {
		char *colon, *v, *ve;

		eol = memchr(p, '\n', end - p);
		if (!eol)
			break;
		colon = memchr(p, ':', eol - p);
		if (!colon)
			continue;
		v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		ve = eol;
		while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (colon - p == 4 && !strncasecmp(p, "host", 4))
			copy_str(d->authority, sizeof(d->authority), v, ve - v);
		else if (colon - p == 14 && !strncasecmp(p, "content-length", 14)) {
			if (!all_digits(v, ve) || ve - v > 18)
				return -1;
			*clen = strtoll(v, NULL, 10);
		} else if (colon - p == 17 && !strncasecmp(p, "transfer-encoding", 17)) {
			*chunked = memmem(v, ve - v, "chunked", 7) != NULL;
		}
	}
	return 0;
}

/*
 * Requests are numbered on their connection; responses pair with them in
 * order (1xx ones are not final).  Returns whether the message has no body
 * by its kind alone (a body-less request, HEAD, 1xx, 204, 304): 1 or 0; -1
 * when too many requests wait for their responses.
 */
static int h1_pair(struct http_conn *c, struct h1_dir *d, int dir, uint64_t ts, int64_t clen)
{
	struct req_info *req;

	if (d->msg.kind == HTTP_REQUEST) {
		if (c->client_dir < 0)
			c->client_dir = dir;
		d->msg.stream_id = ++c->h1_next_id;
		req = req_add(c, dir, d->msg.stream_id);
		if (!req)
			return -1;
		req_set(req, d->msg.stream_id, ts, d->method, d->path, d->authority);
		return !d->msg.chunked && clen < 0;
	}
	req = req_find(c, c->h1_resp_id + 1);
	d->msg.stream_id = c->h1_resp_id + 1;
	if (req) {
		strcpy(d->method, req->method);
		copy_str(d->path, sizeof(d->path), req->path, strlen(req->path));
		copy_str(d->authority, sizeof(d->authority), req->authority,
			 strlen(req->authority));
		d->msg.has_latency = ts >= req->ts;
		d->msg.latency_ns = ts >= req->ts ? ts - req->ts : 0;
	}
	if (d->msg.status >= 200) {
		if (req)
			req->used = false;
		c->h1_resp_id++;
	}
	return d->msg.status < 200 || d->msg.status == 204 || d->msg.status == 304 ||
	       !strcmp(d->method, "HEAD");
}

/* How the body is delimited, as the next state. */
static void h1_framing(struct h1_dir *d, bool no_body, int64_t clen)
{
	if (no_body) {
		d->st = H1_HEAD;
		d->remaining = 0;
	} else if (d->msg.chunked) {
		d->st = H1_CHUNK_SIZE;
		d->line_len = 0;
	} else if (clen >= 0) {
		d->st = H1_BODY;
		d->remaining = clen;
	} else {
		d->st = H1_UNTIL_CLOSE; /* a response delimited by the connection's end */
	}
}

/* Parse a complete head; sets up the body state. Returns -1 when not HTTP. */
static int h1_parse_head(struct http_conn *c, struct h1_dir *d, int dir, uint64_t ts)
{
	char *end = d->head + d->head_len, *eol = memchr(d->head, '\n', d->head_len);
	int64_t clen = -1;
	bool chunked = false;
	int no_body;

	if (!eol)
		return h1_bad(c, d, "no request or status line");
	memset(&d->msg, 0, sizeof(d->msg));
	d->method[0] = d->path[0] = d->authority[0] = '\0';
	d->msg.dir = dir;
	d->msg.ts_ns = ts;
	d->msg.head_len = d->head_len;
	d->msg.method = d->method;
	d->msg.path = d->path;
	d->msg.authority = d->authority;
	d->body = 0;
	if (h1_start_line(d, d->head, eol))
		return h1_bad(c, d, "not an HTTP/1 request or status line");
	c->h1_start = true;
	if (h1_fields(d, eol + 1, end, &clen, &chunked))
		return h1_bad(c, d, "invalid Content-Length");
	d->msg.chunked = chunked;
	no_body = h1_pair(c, d, dir, ts, clen);
	if (no_body < 0)
		return -1;
	h1_framing(d, no_body, clen);
	return 0;
}

/* What one h1_feed() call brings, for the step of each state. */
struct h1_in {
	uint8_t *data;
	size_t len;
	int dir;
	uint64_t ts;
	bool redact;
	http_cb cb;
	void *ctx;
};

static void h1_consume(struct h1_in *in, size_t n)
{
	in->data += n;
	in->len -= n;
}

/* Read a line into d->line; returns true when it is complete. */
static bool h1_line(struct h1_dir *d, struct h1_in *in, bool *overflow)
{
	uint8_t *nl = memchr(in->data, '\n', in->len);
	size_t n = nl ? (size_t)(nl - in->data) + 1 : in->len;

	if (d->line_len + n >= sizeof(d->line)) {
		*overflow = true;
		return false;
	}
	memcpy(d->line + d->line_len, in->data, n);
	d->line_len += n;
	d->line[d->line_len] = '\0';
	h1_consume(in, n);
	return nl != NULL;
}

/* The head was used: empty, and freed when big (an idle connection holds little). */
static void h1_head_reset(struct http_conn *c, struct h1_dir *d)
{
	d->head_len = 0;
	if (d->head_cap > TRIM_OVER)
		held_free(c, &d->head, &d->head_cap, 1);
}

/* A message is complete: its row, and the next one starts with a head. */
static void h1_done(struct http_conn *c, struct h1_dir *d, struct h1_in *in)
{
	h1_emit(c, d, in->cb, in->ctx);
	h1_head_reset(c, d);
	d->st = H1_HEAD;
}

/* Where the head ends in d->head (a blank line), or NULL: not yet. */
static char *h1_head_end(struct h1_dir *d, size_t old)
{
	size_t start = old > 3 ? old - 3 : 0;
	char *e = memmem(d->head + start, d->head_len - start, "\r\n\r\n", 4);

	if (e)
		return e + 4;
	e = memmem(d->head + start, d->head_len - start, "\n\n", 2);
	return e ? e + 2 : NULL;
}

/* H1_HEAD: gather the head; parse it when whole. -1: not HTTP/1. */
static int h1_step_head(struct http_conn *c, struct h1_dir *d, struct h1_in *in)
{
	size_t old = d->head_len, n = in->len;
	const char *why;
	char *e;

	/* Blank lines between messages are allowed. */
	if (!old && (*in->data == '\r' || *in->data == '\n')) {
		h1_consume(in, 1);
		return 0;
	}
	/* The buffer, NUL included, stays within H1_MAX_HEAD. */
	if (old + n >= H1_MAX_HEAD)
		n = H1_MAX_HEAD - 1 - old;
	if (held_grow(c, &d->head, &d->head_cap, old + n + 1, 1, 1024, &why))
		return h1_bad(c, d, why);
	memcpy(d->head + old, in->data, n);
	d->head_len = old + n;
	/* Fail fast on bytes that cannot start a request or status line. */
	for (size_t i = 0; i < d->head_len && i < 8; i++) {
		unsigned char ch = d->head[i];

		if (ch == ' ' && i)
			break;
		if (!is_tchar(ch) && ch != '/')
			return h1_bad(c, d, "not an HTTP/1 message");
	}
	e = h1_head_end(d, old);
	if (!e) {
		h1_consume(in, n);
		if (d->head_len < H1_MAX_HEAD - 1)
			return 0;
		/* Too long: malformed HTTP if it starts like HTTP, else not HTTP. */
		e = memchr(d->head, '\n', d->head_len);
		if (e && !h1_start_line(d, d->head, e)) {
			c->h1_start = true;
			if (d->msg.kind == HTTP_REQUEST && c->client_dir < 0)
				c->client_dir = in->dir;
		}
		c->stats.over_limit++;
		return h1_bad(c, d, "head over " XSTR(HTTP_MAX_HEAD) " bytes");
	}
	d->head_len = e - d->head;
	h1_consume(in, d->head_len - old);
	if (in->redact)
		redact_buffer(d->head, d->head_len);
	if (h1_parse_head(c, d, in->dir, in->ts))
		return -1;
	d->msg.head_len = d->head_len;
	if (d->st == H1_UNTIL_CLOSE)
		d->body = -1;
	if (d->st == H1_HEAD || d->st == H1_UNTIL_CLOSE) {
		h1_emit(c, d, in->cb, in->ctx);
		h1_head_reset(c, d);
	}
	return 0;
}

/* H1_BODY and H1_CHUNK_DATA: count the body bytes. */
static int h1_step_body(struct http_conn *c, struct h1_dir *d, struct h1_in *in)
{
	size_t n = in->len < d->remaining ? in->len : d->remaining;

	h1_consume(in, n);
	d->remaining -= n;
	d->body += n;
	if (d->remaining)
		return 0;
	if (d->st == H1_CHUNK_DATA) {
		d->st = H1_CHUNK_CRLF;
		d->line_len = 0;
		return 0;
	}
	h1_done(c, d, in);
	return 0;
}

/*
 * H1_CHUNK_SIZE: a hex size line ("1a", "1a;ext=v"); 0 ends the chunks.
 * Anything else, or a size of more than 15 digits, leaves the body's end
 * unknown: the direction is malformed.
 */
static int h1_step_chunk_size(struct http_conn *c, struct h1_dir *d, struct h1_in *in)
{
	bool overflow = false;
	unsigned long long sz;
	char *end;

	if (!h1_line(d, in, &overflow))
		return overflow ? h1_bad(c, d, "chunk size line over 79 bytes") : 0;
	sz = strtoull(d->line, &end, 16);
	if (end == d->line || end - d->line > 15 || !isxdigit((unsigned char)d->line[0]))
		return h1_bad(c, d, "invalid chunk size");
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end != ';' && *end != '\r' && *end != '\n')
		return h1_bad(c, d, "invalid chunk size");
	d->line_len = 0;
	if (sz == 0) {
		d->st = H1_TRAILER;
	} else {
		d->remaining = sz;
		d->st = H1_CHUNK_DATA;
	}
	return 0;
}

/* H1_CHUNK_CRLF: the line end after a chunk's data, and nothing else. */
static int h1_step_chunk_crlf(struct http_conn *c, struct h1_dir *d, struct h1_in *in)
{
	bool overflow = false;

	if (!h1_line(d, in, &overflow)) {
		if (overflow)
			return h1_bad(c, d, "chunk longer than its size");
		return 0;
	}
	if (strcmp(d->line, "\r\n") && strcmp(d->line, "\n"))
		return h1_bad(c, d, "chunk longer than its size");
	d->line_len = 0;
	d->st = H1_CHUNK_SIZE;
	return 0;
}

/* H1_TRAILER: trailer lines until a blank one; long lines are skipped, not parsed. */
static int h1_step_trailer(struct http_conn *c, struct h1_dir *d, struct h1_in *in)
{
	bool overflow = false;

	if (d->skip_line) {
		uint8_t *nl = memchr(in->data, '\n', in->len);

		h1_consume(in, nl ? (size_t)(nl - in->data) + 1 : in->len);
		d->skip_line = !nl;
		return 0;
	}
	if (!h1_line(d, in, &overflow)) {
		/* h1_line() took nothing: skip the rest of the line, or we would spin here. */
		if (overflow) {
			d->line_len = 0;
			d->skip_line = true;
		}
		return 0;
	}
	if (d->line[0] == '\r' || d->line[0] == '\n')
		h1_done(c, d, in);
	d->line_len = 0;
	return 0;
}

static void h1_feed(struct http_conn *c, int dir, uint8_t *data, size_t len, uint64_t ts,
		    bool redact, http_cb cb, void *ctx)
{
	struct h1_dir *d = &c->h1[dir];
	struct h1_in in = { data, len, dir, ts, redact, cb, ctx };
	int err = 0;

	while (in.len && d->st != H1_DEAD && !err) {
		switch (d->st) {
		case H1_HEAD:
			err = h1_step_head(c, d, &in);
			break;
		case H1_BODY:
		case H1_CHUNK_DATA:
			err = h1_step_body(c, d, &in);
			break;
		case H1_CHUNK_SIZE:
			err = h1_step_chunk_size(c, d, &in);
			break;
		case H1_CHUNK_CRLF:
			err = h1_step_chunk_crlf(c, d, &in);
			break;
		case H1_TRAILER:
			err = h1_step_trailer(c, d, &in);
			break;
		case H1_UNTIL_CLOSE:
			in.len = 0; /* the body runs to the connection's end */
			break;
		case H1_DEAD:
			break;
		}
	}
	if (err) {
		d->st = H1_DEAD;
		c->stats.parse_errors++;
		dir_fail(c, dir, "not HTTP/1");
		/* Nothing of this direction is read again. */
		held_free(c, &d->head, &d->head_cap, 1);
		d->head_len = 0;
	}
}

/* --- HTTP/2 -------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* HPACK integer with an n-bit prefix; false when it runs past end. */
static bool hpack_int(const uint8_t *buf, size_t end, size_t *pos, int n, uint64_t *out)
{
	uint64_t max = (1u << n) - 1, v;
	int shift = 0;

	if (*pos >= end)
		return false;
	v = buf[(*pos)++] & max;
	if (v < max) {
		*out = v;
		return true;
	}
	while (*pos < end && shift < 56) {
		uint8_t b = buf[(*pos)++];

		v += (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

/*
 * Mask the value literal of the header field represented in block[start, end)
 * (possibly preceded by table size updates).  A Huffman string of n bytes of
 * 0xf9 decodes to n '*' (the code of '*' is 11111001), so it stays valid.
 */
static void hpack_mask_value(struct http_conn *c, struct segbuf *b, size_t start, size_t end)
{
	const uint8_t *buf = b->buf;
	size_t pos = start;
	uint64_t v;

	while (pos < end) {
		uint8_t first = buf[pos];
		int prefix;
		bool huff;

		if (first & 0x80) { /* indexed: the table holds an already masked value */
			hpack_int(buf, end, &pos, 7, &v);
			continue;
		}
		if ((first & 0xe0) == 0x20) { /* dynamic table size update */
			if (!hpack_int(buf, end, &pos, 5, &v))
				return;
			continue;
		}
		prefix = (first & 0xc0) == 0x40 ? 6 : 4;
		if (!hpack_int(buf, end, &pos, prefix, &v))
			return;
		if (v == 0) { /* literal name */
			if (!hpack_int(buf, end, &pos, 7, &v) || v > end - pos)
				return;
			pos += v;
		}
		if (pos >= end)
			return;
		huff = buf[pos] & 0x80;
		if (!hpack_int(buf, end, &pos, 7, &v) || v > end - pos)
			return;
		if (!segbuf_mask(b, pos, v, huff ? 0xf9 : REDACT_CHAR))
			c->stats.late_masks++;
		pos += v;
	}
}

struct h2_headers {
	char method[METHOD_LEN], path[PATH_LEN], authority[AUTH_LEN], status[8], ctype[64];
	int64_t content_length;
	char *text;
	size_t len, cap;
};

/* The decoded head, bounded: one indexed byte can stand for a 4 KiB table entry. */
static int text_add(struct http_conn *c, struct h2_headers *h, const char *s, size_t n,
		    const char **why)
{
	if (h->len + n >= H2_MAX_TEXT) {
		c->stats.over_limit++;
		*why = "decoded header list over " XSTR(HTTP_MAX_HEAD) " bytes";
		return -1;
	}
	if (held_grow(c, &h->text, &h->cap, h->len + n + 1, 1, 1024, why))
		return -1;
	memcpy(h->text + h->len, s, n);
	h->len += n;
	h->text[h->len] = '\0';
	return 0;
}

/* One decoded field as a "name: value\r\n" line of the head (val: masked or not). */
static int text_field(struct http_conn *c, struct h2_headers *h, const nghttp2_nv *nv,
		      const char *val, const char **why)
{
	if (text_add(c, h, (const char *)nv->name, nv->namelen, why) ||
	    text_add(c, h, ": ", 2, why) || text_add(c, h, val, nv->valuelen, why) ||
	    text_add(c, h, "\r\n", 2, why))
		return -1;
	return 0;
}

/*
 * Decode the assembled block; false (after dir_fail) if the inflater gave
 * up or the head passed its bound.
 */
static bool h2_inflate(struct http_conn *c, struct h2_dir *d, int dir, bool redact,
		       struct h2_headers *h)
{
	struct segbuf *b = &d->block;
	size_t pos = 0;
	char *val = NULL;
	size_t valcap = 0;
	const char *why = NULL;

	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		/* An empty block has no buffer: no pointer arithmetic on NULL. */
		ssize_t rv = nghttp2_hd_inflate_hd2(d->inflater, &nv, &flags,
						    b->buf ? b->buf + pos : (uint8_t *)"",
						    b->len - pos, 1);
		size_t start = pos;

		if (rv < 0) {
			/* Our allocator said no: not the peer's HPACK. */
			if (rv == NGHTTP2_ERR_NOMEM && held_refused)
				why = "the HTTP decoder's memory for all connections is spent";
			else if (rv == NGHTTP2_ERR_NOMEM)
				why = "out of memory";
			else
				dir_fail(c, dir, "invalid HPACK: %s", nghttp2_strerror((int)rv));
			break;
		}
		pos += rv;
		if (flags & NGHTTP2_HD_INFLATE_EMIT) {
			const char *name = (const char *)nv.name;

			/* nghttp2 bounds a field (NGHTTP2_HD_MAX_NV, 64 KiB): so is val. */
			if (nv.valuelen + 1 > valcap) {
				char *n = realloc(val, nv.valuelen + 1);

				if (!n) {
					why = "out of memory";
					break;
				}
				val = n;
				valcap = nv.valuelen + 1;
			}
			memcpy(val, nv.value, nv.valuelen);
			val[nv.valuelen] = '\0';
			if (redact && redact_header_value(name, nv.namelen, val, nv.valuelen))
				hpack_mask_value(c, b, start, pos);
			if (nv.namelen == 7 && !memcmp(name, ":method", 7))
				copy_str(h->method, sizeof(h->method), val, nv.valuelen);
			else if (nv.namelen == 5 && !memcmp(name, ":path", 5))
				copy_str(h->path, sizeof(h->path), val, nv.valuelen);
			else if (nv.namelen == 10 && !memcmp(name, ":authority", 10))
				copy_str(h->authority, sizeof(h->authority), val, nv.valuelen);
			else if (nv.namelen == 7 && !memcmp(name, ":status", 7))
				copy_str(h->status, sizeof(h->status), val, nv.valuelen);
			else if (nv.namelen == 14 && !memcmp(name, "content-length", 14))
				h->content_length = strtoll(val, NULL, 10);
			else if (nv.namelen == 12 && !memcmp(name, "content-type", 12))
				copy_str(h->ctype, sizeof(h->ctype), val, nv.valuelen);
			if (text_field(c, h, &nv, val, &why))
				break;
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(d->inflater);
			free(val);
			return true;
		}
		if (rv == 0 && !(flags & NGHTTP2_HD_INFLATE_EMIT))
			break;
	}
	free(val);
	if (why)
		dir_fail(c, dir, "%s", why);
	else
		dir_fail(c, dir, "invalid HPACK: the header block ends inside a field");
	return false;
}

/*
 * Abandon an HTTP/2 direction: nothing of it is read again, so its buffers
 * and its inflater go (after dir_fail() said why).
 */
static void h2_dead(struct http_conn *c, struct h2_dir *d)
{
	d->dead = true;
	segbuf_free(c, &d->frame);
	segbuf_free(c, &d->block);
	if (d->inflater)
		nghttp2_hd_inflate_del(d->inflater);
	d->inflater = NULL;
}

static void h2_block_done(struct http_conn *c, struct h2_dir *d, int dir, uint64_t ts, bool redact,
			  http_cb cb, void *ctx)
{
	struct h2_headers h = { .content_length = -1 };
	struct http_msg m = { .version = 20, .dir = dir, .ts_ns = ts, .stream_id = d->block_sid };
	struct req_info *req;

	d->in_block = false;
	if (!h2_inflate(c, d, dir, redact, &h)) {
		/* Its dynamic table is now unknown: nothing after this decodes. */
		c->stats.hpack_errors++;
		held_free(c, &h.text, &h.cap, 1);
		h2_dead(c, d);
		return;
	}
	/* "content-length: -6" is no length: unknown, as http.h promises (-1). */
	if (h.content_length < 0)
		h.content_length = -1;
	m.head = h.text ? h.text : "";
	m.head_len = h.len;
	m.body_len = d->block_end_stream ? 0 : h.content_length;
	m.end_stream = d->block_end_stream;
	m.content_type = h.ctype;
	m.method = m.path = m.authority = "";
	if (h.method[0] || h.status[0])
		c->msgs++;
	if (h.method[0]) {
		if (c->client_dir < 0 && !d->block_push)
			c->client_dir = dir;
		m.kind = HTTP_REQUEST;
		m.method = h.method;
		m.path = h.path;
		m.authority = h.authority;
		req = req_add(c, dir, m.stream_id);
		if (!req) {
			c->stats.parse_errors++;
			held_free(c, &h.text, &h.cap, 1);
			h2_dead(c, d);
			return;
		}
		req_set(req, m.stream_id, ts, h.method, h.path, h.authority);
		cb(ctx, &m);
	} else if (h.status[0]) {
		m.kind = HTTP_RESPONSE;
		m.status = atoi(h.status);
		req = req_find(c, m.stream_id);
		m.method = req ? req->method : "";
		m.path = req ? req->path : "";
		m.authority = req ? req->authority : "";
		if (req && ts >= req->ts) {
			m.has_latency = true;
			m.latency_ns = ts - req->ts;
		}
		cb(ctx, &m);
		if (req && m.status >= 200)
			req->used = false;
	} else if (c->frames && !d->block_push) {
		m.kind = HTTP_TRAILERS;
		cb(ctx, &m);
	}
	held_free(c, &h.text, &h.cap, 1);
}

/* An HTTP/2 event that is not a head: DATA, a reset. */
static struct http_msg h2_event(enum http_kind kind, int dir, uint64_t ts, uint32_t sid)
{
	return (struct http_msg){ .kind = kind,
				  .version = 20,
				  .dir = dir,
				  .ts_ns = ts,
				  .stream_id = sid,
				  .method = "",
				  .path = "",
				  .authority = "",
				  .head = "",
				  .content_type = "",
				  .body_len = -1 };
}

static void h2_data(struct http_conn *c, struct h2_dir *d, int dir, uint64_t ts, const uint8_t *p,
		    size_t n, bool end, http_cb cb, void *ctx)
{
	struct http_msg m = h2_event(HTTP_DATA, dir, ts, d->fsid);

	m.end_stream = end;
	m.data = p;
	m.data_len = n;
	cb(ctx, &m);
}

/* Bytes [fgot, fgot + n) of a DATA frame: its payload without the padding. */
static void h2_data_bytes(struct http_conn *c, struct h2_dir *d, int dir, uint64_t ts,
			  const uint8_t *p, size_t n, http_cb cb, void *ctx)
{
	size_t start = 0, end, pos = d->fgot;

	/* A frame header can end a call: no payload byte yet. */
	if (!n)
		return;
	if (d->fflags & NGHTTP2_FLAG_PADDED) {
		if (pos == 0) {
			d->dpad = p[0];
			start = 1;
		}
		if (1 + (size_t)d->dpad > d->flen)
			return; /* h2_frame_done() says it is malformed */
		end = d->flen - d->dpad;
	} else {
		end = d->flen;
	}
	/* Keep [start, n) of p that falls before the frame's padding. */
	if (pos + n > end)
		n = end > pos ? end - pos : 0;
	if (n > start)
		h2_data(c, d, dir, ts, p + start, n - start, false, cb, ctx);
}

static void h2_frame_done(struct http_conn *c, struct h2_dir *d, int dir, uint64_t ts, bool redact,
			  http_cb cb, void *ctx)
{
	const uint8_t *p = d->frame.buf;
	size_t off = 0, end = d->flen, pad = 0;
	const char *why = "invalid padding";

	switch (d->ftype) {
	case NGHTTP2_HEADERS:
	case NGHTTP2_PUSH_PROMISE:
		if (d->fflags & NGHTTP2_FLAG_PADDED) {
			if (end < 1)
				goto bad;
			pad = p[0];
			off = 1;
		}
		if (d->ftype == NGHTTP2_HEADERS && (d->fflags & NGHTTP2_FLAG_PRIORITY))
			off += 5;
		d->block_push = d->ftype == NGHTTP2_PUSH_PROMISE;
		d->block_sid = d->fsid;
		if (d->block_push) {
			why = "PUSH_PROMISE shorter than its stream id";
			if (off + 4 > end)
				goto bad;
			d->block_sid = be32(p + off) & 0x7fffffff;
			off += 4;
		}
		if (off + pad > end)
			goto bad;
		end -= pad;
		segbuf_reset(c, &d->block);
		d->in_block = true;
		d->block_end_stream =
			d->ftype == NGHTTP2_HEADERS && (d->fflags & NGHTTP2_FLAG_END_STREAM);
		break;
	case NGHTTP2_CONTINUATION:
		why = "CONTINUATION outside a header block";
		if (!d->in_block)
			goto bad;
		break;
	case NGHTTP2_RST_STREAM: {
		struct req_info *r = req_find(c, d->fsid);

		if (r)
			r->used = false;
		if (c->frames) {
			struct http_msg m = h2_event(HTTP_RESET, dir, ts, d->fsid);

			m.status = end >= 4 ? (int)be32(p) : 0;
			cb(ctx, &m);
		}
		return;
	}
	case NGHTTP2_DATA:
		if (c->frames && (d->fflags & NGHTTP2_FLAG_END_STREAM))
			h2_data(c, d, dir, ts, NULL, 0, true, cb, ctx);
		return;
	default:
		return;
	}
	if (segbuf_append_from(c, &d->block, &d->frame, off, end - off, H2_MAX_BLOCK, &why))
		goto bad;
	if (d->fflags & NGHTTP2_FLAG_END_HEADERS)
		h2_block_done(c, d, dir, ts, redact, cb, ctx);
	return;
bad:
	dir_fail(c, dir, "%s", why);
	c->stats.parse_errors++;
	h2_dead(c, d);
}

static bool h2_carries_headers(uint8_t type)
{
	return type == NGHTTP2_HEADERS || type == NGHTTP2_PUSH_PROMISE ||
	       type == NGHTTP2_CONTINUATION || type == NGHTTP2_RST_STREAM;
}

static void h2_feed(struct http_conn *c, int dir, uint8_t *data, size_t len, uint64_t ts,
		    bool redact, http_cb cb, void *ctx)
{
	struct h2_dir *d = &c->h2[dir];
	const char *why = "out of memory";

	/* Its table is bounded by the default SETTINGS_HEADER_TABLE_SIZE (4096). */
	if (!d->dead && !d->inflater && nghttp2_hd_inflate_new2(&d->inflater, &c->mem))
		goto bad;
	while (len && !d->dead) {
		if (d->preface_left) {
			size_t n = len < d->preface_left ? len : d->preface_left;

			why = "not the HTTP/2 client preface";
			if (memcmp(data, h2_preface + H2_PREFACE_LEN - d->preface_left, n))
				goto bad;
			d->preface_left -= n;
			data += n;
			len -= n;
			continue;
		}
		if (d->fh_len < 9) {
			size_t n = 9 - d->fh_len < len ? 9 - d->fh_len : len;

			memcpy(d->fh + d->fh_len, data, n);
			d->fh_len += n;
			data += n;
			len -= n;
			if (d->fh_len < 9)
				break;
			d->flen = (uint32_t)d->fh[0] << 16 | (uint32_t)d->fh[1] << 8 | d->fh[2];
			d->ftype = d->fh[3];
			d->fflags = d->fh[4];
			d->fsid = be32(d->fh + 5) & 0x7fffffff;
			d->fgot = 0;
			segbuf_reset(c, &d->frame);
			/* A continuation of something else is a broken stream. */
			why = "a frame inside a header block";
			if (d->in_block && d->ftype != NGHTTP2_CONTINUATION)
				goto bad;
		}
		if (d->fgot < d->flen) {
			size_t n = d->flen - d->fgot < len ? d->flen - d->fgot : len;

			if (h2_carries_headers(d->ftype) &&
			    segbuf_append(c, &d->frame, data, n, H2_MAX_BLOCK, &why))
				goto bad;
			if (d->ftype == NGHTTP2_DATA && c->frames)
				h2_data_bytes(c, d, dir, ts, data, n, cb, ctx);
			d->fgot += n;
			data += n;
			len -= n;
		}
		if (d->fgot == d->flen) {
			h2_frame_done(c, d, dir, ts, redact, cb, ctx);
			d->fh_len = 0;
		}
	}
	/* The caller's buffer is gone after this call. */
	segbuf_forget(&d->frame);
	segbuf_forget(&d->block);
	return;
bad:
	dir_fail(c, dir, "%s", why);
	c->stats.parse_errors++;
	h2_dead(c, d);
}

/* --- the connection ------------------------------------------------------ */

struct http_conn *http_conn_new(void)
{
	struct http_conn *c = calloc(1, sizeof(struct http_conn));

	if (c) {
		c->client_dir = -1;
		c->mem = (nghttp2_mem){ c, mem_malloc, mem_free, mem_calloc, mem_realloc };
	}
	return c;
}

void http_conn_free(struct http_conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < 2; i++) {
		held_free(c, &c->h1[i].head, &c->h1[i].head_cap, 1);
		segbuf_free(c, &c->h2[i].frame);
		segbuf_free(c, &c->h2[i].block);
		if (c->h2[i].inflater)
			nghttp2_hd_inflate_del(c->h2[i].inflater);
	}
	held_free(c, &c->reqs, &c->nr_reqs, sizeof(*c->reqs));
	free(c);
}

/* A SETTINGS frame on stream 0: how an HTTP/2 server speaks first. */
static bool looks_like_settings(const uint8_t *p, size_t len)
{
	uint32_t flen;

	if (len < 9)
		return false;
	flen = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	return p[3] == NGHTTP2_SETTINGS && (p[4] & ~1) == 0 && flen % 6 == 0 && flen <= 16384 &&
	       be32(p + 5) == 0;
}

void http_conn_feed(struct http_conn *c, int dir, uint8_t *data, size_t len, uint64_t ts_ns,
		    bool redact, http_cb cb, void *ctx)
{
	if (!len || dir < 0 || dir > 1)
		return;
	if (!c->started[dir]) {
		bool preface =
			!memcmp(data, h2_preface, len < H2_PREFACE_LEN ? len : H2_PREFACE_LEN);

		c->started[dir] = true;
		if (preface) {
			c->client_dir = dir;
			c->mode = MODE_H2;
			c->h2[dir].preface_left = H2_PREFACE_LEN;
		} else if (c->mode == MODE_UNKNOWN) {
			c->mode = looks_like_settings(data, len) ? MODE_H2 : MODE_H1;
		}
	}
	if (c->mode == MODE_H2)
		h2_feed(c, dir, data, len, ts_ns, redact, cb, ctx);
	else
		h1_feed(c, dir, data, len, ts_ns, redact, cb, ctx);
}

void http_conn_want_frames(struct http_conn *c)
{
	c->frames = true;
}

int http_conn_verdict(const struct http_conn *c)
{
	if (c->mode == MODE_H2 || c->msgs || c->h1_start)
		return 1;
	for (int i = 0; i < 2; i++)
		if (c->started[i] && c->h1[i].st == H1_DEAD)
			return -1;
	return 0;
}

bool http_conn_dir_alive(const struct http_conn *c, int dir)
{
	return c->mode == MODE_H2 ? !c->h2[dir].dead : c->h1[dir].st != H1_DEAD;
}

const char *http_head_value(const char *head, size_t head_len, const char *name, size_t *len)
{
	size_t nlen = strlen(name);

	for (const char *p = head, *end = head + head_len; p < end;) {
		const char *eol = memchr(p, '\n', end - p);

		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > nlen + 1 && !memcmp(p, name, nlen) && p[nlen] == ':') {
			const char *v = p + nlen + 1, *ve = eol;

			while (v < ve && *v == ' ')
				v++;
			if (ve > v && ve[-1] == '\r')
				ve--;
			*len = ve - v;
			return v;
		}
		p = eol + 1;
	}
	return NULL;
}

int http_conn_client_dir(const struct http_conn *c)
{
	return c->client_dir;
}

bool http_conn_is_h2(const struct http_conn *c)
{
	return c->mode == MODE_H2;
}

const struct http_stats *http_conn_stats(const struct http_conn *c)
{
	return &c->stats;
}

const char *http_conn_error(const struct http_conn *c, int dir)
{
	return dir >= 0 && dir <= 1 && c->error[dir][0] ? c->error[dir] : NULL;
}

size_t http_conn_held(const struct http_conn *c)
{
	return c->held;
}

size_t http_held_total(void)
{
	return held_total;
}
