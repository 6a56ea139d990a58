/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/1.x and HTTP/2 decoding of one connection's plaintext, both
 * directions, fed in call order.
 *
 * HTTP/1: request and status lines, headers, body length (Content-Length,
 * chunked, or until close); keep-alive and pipelining (responses are paired
 * with requests in order).  HTTP/2: the client preface or a first SETTINGS
 * frame switch the connection to HTTP/2; frames are reassembled per
 * direction and HEADERS/CONTINUATION/PUSH_PROMISE blocks are decoded with
 * libnghttp2's HPACK inflater, one per direction, fed every block in stream
 * order (its dynamic table depends on all of them).
 */
#ifndef LOUPE_SSL_HTTP_H
#define LOUPE_SSL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_kind {
	HTTP_REQUEST,
	HTTP_RESPONSE,
	/* Only after http_conn_want_frames(), HTTP/2 only: */
	HTTP_DATA,     /* a piece of a DATA frame's payload (padding removed) */
	HTTP_TRAILERS, /* a header block that is neither request nor response */
	HTTP_RESET,    /* RST_STREAM: status holds its error code */
};

struct http_msg {
	enum http_kind kind;
	int version;	    /* 10, 11 or 20 */
	int dir;	    /* the direction it travelled in, as fed */
	uint32_t stream_id; /* HTTP/2 stream; HTTP/1: 1, 2, ... per connection */
	const char *method; /* "" when unknown (a response whose request was not seen) */
	const char *path;
	const char *authority; /* :authority or Host */
	int status;	       /* responses */
	bool has_latency;
	uint64_t latency_ns; /* response: from its request */
	int64_t body_len;    /* -1 when unknown (HTTP/2: from content-length) */
	bool chunked;
	uint64_t ts_ns; /* when the head was complete (as fed) */
	/* The head as text: HTTP/1 as received, HTTP/2 as "name: value\r\n" lines. */
	const char *head;
	size_t head_len;
	/* HTTP/2: */
	bool end_stream;	  /* the sender is done with the stream */
	const char *content_type; /* requests and responses; "" when absent */
	const uint8_t *data;	  /* HTTP_DATA */
	size_t data_len;
};

typedef void (*http_cb)(void *ctx, const struct http_msg *m);

/*
 * Bounds on what the bytes of one connection make the decoder hold.  Past
 * one, the direction is abandoned (http_conn_error() says which bound) and
 * nothing more of it is buffered:
 *
 *   an HTTP/1 head                          HTTP_MAX_HEAD - 1 bytes
 *   an HTTP/2 header block (+CONTINUATION)  HTTP_MAX_HEAD bytes, encoded
 *   its decoded header list                 HTTP_MAX_HEAD bytes ("name: value\r\n")
 *   requests waiting for their responses    HTTP_MAX_STREAMS (HTTP/2 open
 *                                           streams, pipelined HTTP/1)
 *   HPACK's dynamic table                   4096 bytes (nghttp2's default
 *                                           SETTINGS_HEADER_TABLE_SIZE; a larger
 *                                           table size update is invalid HPACK)
 *   one header field (nghttp2)              64 KiB, name and value
 *
 * Buffers are freed once empty, and every connection's buffers and HPACK
 * tables together never hold more than HTTP_MAX_HELD bytes: a connection that
 * would take more is abandoned with that reason.
 */
#define HTTP_MAX_HEAD 65536
#define HTTP_MAX_STREAMS 256
#define HTTP_MAX_HELD (64u << 20)

/* Problems seen, for the statistics. */
struct http_stats {
	uint64_t hpack_errors; /* header block the inflater refused: direction abandoned */
	uint64_t parse_errors; /* not HTTP, or a malformed message: direction abandoned */
	uint64_t late_masks;   /* secrets in bytes already emitted (split across calls) */
	uint64_t over_limit;   /* abandoned at a bound above (also in parse_errors) */
};

struct http_conn;

struct http_conn *http_conn_new(void);
void http_conn_free(struct http_conn *c);

/*
 * Feed bytes that moved in direction dir (0 or 1) at ts_ns.  Complete
 * messages go to cb.  With redact, HTTP/2 header values that redact.h calls
 * secret are masked in data itself (HPACK literals, length kept), and in
 * the decoded heads handed to cb.
 */
void http_conn_feed(struct http_conn *c, int dir, uint8_t *data, size_t len, uint64_t ts_ns,
		    bool redact, http_cb cb, void *ctx);

/*
 * The direction the client speaks in (where the HTTP/2 preface or the first
 * request went), or -1 while unknown.
 */
int http_conn_client_dir(const struct http_conn *c);

/* Also hand DATA payloads, trailers and stream resets to the callback (gRPC). */
void http_conn_want_frames(struct http_conn *c);

/*
 * Is this connection HTTP?  1: an HTTP/2 preface or SETTINGS, or an HTTP/1
 * message decoded; -1: a direction failed before any; 0: not known yet.
 */
int http_conn_verdict(const struct http_conn *c);

/* Bytes of this direction are still decoded (not abandoned). */
bool http_conn_dir_alive(const struct http_conn *c, int dir);

/*
 * The value of header `name` (lower case) in a decoded HTTP/2 head
 * ("name: value\r\n" lines), or NULL; *len is its length.
 */
const char *http_head_value(const char *head, size_t head_len, const char *name, size_t *len);

/* The connection is HTTP/2 (known after its preface or first SETTINGS). */
bool http_conn_is_h2(const struct http_conn *c);
const struct http_stats *http_conn_stats(const struct http_conn *c);

/*
 * Why direction dir was abandoned ("header block over 65536 bytes",
 * "invalid HPACK: ..."), or NULL while it is decoded.
 */
const char *http_conn_error(const struct http_conn *c, int dir);

/* Bytes this connection's buffers and HPACK tables hold now, and every connection's. */
size_t http_conn_held(const struct http_conn *c);
size_t http_held_total(void);

#endif /* LOUPE_SSL_HTTP_H */
