// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// FUZZ_SRCS: fuzz/lib/http_run.c src/gadgets/ssl/http.c src/gadgets/ssl/redact.c
// FUZZ_LIBS: -lnghttp2
// FUZZ_CFLAGS: -DH2_MAX_STREAMS=4
/*
 * The HTTP decoder on one connection's calls, HTTP/1 or HTTP/2 as the bytes
 * say, redaction off and on (fuzz/lib/http_run.c).  An input is a list of
 * calls, each a byte (bit 0: the direction, the others: time since the
 * previous call in microseconds), a 16-bit little-endian length and that
 * many bytes (fewer at the end).  The seeds are real captures
 * (fuzz/make-corpus.py): curl and nghttp against nginx and nghttpd.
 */
#include <stdint.h>
#include <stdlib.h>

#include "lib/http_run.h"

#define MAX_CALLS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_call calls[MAX_CALLS];
	size_t n = 0, pos = 0;
	uint64_t ts = 1000000;

	while (pos + 3 <= size && n < MAX_CALLS) {
		size_t len = data[pos + 1] | (size_t)data[pos + 2] << 8;

		ts += (data[pos] >> 1) * 1000;
		calls[n].dir = data[pos] & 1;
		calls[n].ts_ns = ts;
		pos += 3;
		if (len > size - pos)
			len = size - pos;
		calls[n].data = data + pos;
		calls[n].len = len;
		pos += len;
		n++;
	}
	fuzz_http_run(calls, n);
	return 0;
}
