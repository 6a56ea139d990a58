/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * gRPC calls on top of the HTTP/2 decoder (http.c, with frames wanted).
 *
 * A stream whose request has content-type application/grpc is a call:
 * service and method from its :path, its messages counted and sized from
 * the length-prefixed frames of both directions' DATA (streaming calls
 * included), grpc-status and grpc-message from the trailers (or from a
 * Trailers-Only response), a RST_STREAM as a cancelled call.  Rows: the
 * request when its headers arrive, the response when its trailers do.
 *
 * Memory per connection: at most 64 calls in progress (about 40 KiB); the
 * oldest is forgotten, and counted, when a 65th starts.
 */
#ifndef LOUPE_SSL_GRPC_H
#define LOUPE_SSL_GRPC_H

#include "http.h"
#include "proto.h"

struct grpc_conn;

struct grpc_conn *grpc_new(void);
void grpc_free(struct grpc_conn *g);
/*
 * An HTTP/2 event of the connection; true when it belongs to a gRPC call
 * (its rows go to cb), false when it is plain HTTP.
 */
bool grpc_event(struct grpc_conn *g, const struct http_msg *m, proto_cb cb, void *ctx);
/* Calls seen on this connection. */
uint64_t grpc_calls(const struct grpc_conn *g);
const struct proto_stats *grpc_stats(const struct grpc_conn *g);
/* "OK", "NOT_FOUND"...: the name of a gRPC status code, or NULL. */
const char *grpc_status_name(int64_t code);

#endif /* LOUPE_SSL_GRPC_H */
