// FUZZ_SRCS: src/gadgets/ssl/grpc.c src/gadgets/ssl/http.c src/gadgets/ssl/redact.c src/gadgets/ssl/proto.c
// FUZZ_LIBS: -lnghttp2
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for gRPC on the HTTP/2 decoder (grpc.c, http.c with
 * frames wanted): the input is a conversation as in proto_fuzz.h; the seeds
 * (fuzz/corpus/grpc, real captures) start with the HTTP/2 preface.
 */
#include "proto_fuzz.h"
#include "gadgets/ssl/grpc.h"
#include "gadgets/ssl/http.h"

struct fuzz_ctx {
	struct grpc_conn *g;
	struct http_conn *c;
};

static void fuzz_http(void *ctx, const struct http_msg *m)
{
	struct fuzz_ctx *fc = ctx;

	fuzz_str(m->method);
	fuzz_str(m->path);
	fuzz_str(m->content_type);
	(void)grpc_event(fc->g, m, fuzz_row, NULL);
}

static void fuzz_call(void *ctx, int dir, uint8_t *p, size_t n, uint64_t ts, bool redact)
{
	struct fuzz_ctx *fc = ctx;

	http_conn_feed(fc->c, dir, p, n, ts, redact, fuzz_http, fc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_ctx fc = { grpc_new(), http_conn_new() };

	if (fc.g && fc.c) {
		http_conn_want_frames(fc.c);
		fuzz_calls(data, size, fuzz_call, &fc);
		(void)grpc_calls(fc.g);
	}
	grpc_free(fc.g);
	http_conn_free(fc.c);
	return 0;
}
