// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// FUZZ_SRCS: fuzz/lib/http_run.c src/gadgets/ssl/http.c src/gadgets/ssl/redact.c
// FUZZ_LIBS: -lnghttp2
// FUZZ_CFLAGS: -DH2_MAX_STREAMS=4
/*
 * HTTP/2 framing and the HPACK path: the harness writes the client preface
 * and every frame header with the true length, so mutations land in frame
 * types, flags, stream ids and header blocks rather than in lengths that
 * http_fuzz.c already covers.  An input is a list of frames: a byte (bit 0:
 * the direction, 1 the client's; bit 1: in the same call as the previous
 * frame of that direction; the others: time since the previous call in
 * microseconds), type, flags, stream id, a 16-bit little-endian payload
 * length and the payload.  Fed redaction off and on (fuzz/lib/http_run.c);
 * seeds are real captures (fuzz/make-corpus.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/http_run.h"

#define MAX_CALLS 4096

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_call calls[MAX_CALLS];
	/* Frames never grow by more than their 9-byte header over a 6-byte record head. */
	uint8_t *out = malloc(sizeof(preface) + size * 2 + 16), *o = out;
	size_t n = 0, pos = 0, last[2] = { SIZE_MAX, SIZE_MAX };
	uint64_t ts = 1000000;

	if (!out)
		return 0;
	memcpy(o, preface, sizeof(preface) - 1);
	calls[n] = (struct fuzz_call){ 1, ts, o, sizeof(preface) - 1 };
	last[1] = n++;
	o += sizeof(preface) - 1;
	while (pos + 6 <= size && n < MAX_CALLS) {
		const uint8_t *r = data + pos;
		size_t len = r[4] | (size_t)r[5] << 8;
		int dir = r[0] & 1;

		pos += 6;
		if (len > size - pos)
			len = size - pos;
		/* A new call, unless joined to the previous one of its direction
		 * (which must then be the last call, for the bytes to be adjacent). */
		if (!(r[0] & 2) || last[dir] != n - 1) {
			ts += (r[0] >> 2) * 1000;
			calls[n] = (struct fuzz_call){ dir, ts, o, 0 };
			last[dir] = n++;
		}
		o[0] = len >> 16;
		o[1] = len >> 8;
		o[2] = len;
		o[3] = r[1];
		o[4] = r[2];
		o[5] = o[6] = o[7] = 0;
		o[8] = r[3];
		memcpy(o + 9, data + pos, len);
		o += 9 + len;
		calls[last[dir]].len += 9 + len;
		pos += len;
	}
	fuzz_http_run(calls, n);
	free(out);
	return 0;
}
