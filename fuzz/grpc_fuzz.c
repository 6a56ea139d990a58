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
};

static void fuzz_http(void *ctx, const struct http_msg *m)
{
	struct fuzz_ctx *fc = ctx;

	fuzz_str(m->method);
	fuzz_str(m->path);
	fuzz_str(m->content_type);
	(void)grpc_event(fc->g, m, fuzz_row, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_ctx fc = { grpc_new() };
	struct http_conn *c = http_conn_new();
	uint8_t *copy;
	bool redact;

	if (size < 1 || !c || !fc.g)
		goto out;
	redact = data[0] & 1;
	copy = malloc(size);
	memcpy(copy, data, size);
	http_conn_want_frames(c);
	for (size_t i = 1; i < size;) {
		int dir = copy[i] >> 7;
		size_t n = copy[i] & 0x7f;

		i++;
		if (n > size - i)
			n = size - i;
		http_conn_feed(c, dir, copy + i, n, i, redact, fuzz_http, &fc);
		i += n;
	}
	(void)grpc_calls(fc.g);
	free(copy);
out:
	grpc_free(fc.g);
	http_conn_free(c);
	return 0;
}
