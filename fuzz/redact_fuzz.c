// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// FUZZ_SRCS: src/gadgets/ssl/redact.c
/*
 * Redaction (src/gadgets/ssl/redact.c) on any bytes, in buffers of their
 * exact size, with what redact.h promises checked: the length is kept,
 * a byte changes only into '*', nothing changes when nothing is counted,
 * redact_copy masks as redact_buffer does, and line ends stay (a masked head
 * must still frame as HTTP: the decoder reads what redaction wrote).  The first byte splits the rest into a header name and value
 * for redact_header_value().  Seeds: request and response heads and bodies
 * captured from curl against nginx (fuzz/make-corpus.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gadgets/ssl/redact.h"
#include "lib/expect.h"

/*
 * Every change is a mask, none when nothing is counted; in a buffer (lines)
 * never of a line end, in a decoded header value (no lines) anything.
 */
static void check_masked(const uint8_t *before, const uint8_t *after, size_t len, bool counted,
			 bool lines)
{
	for (size_t i = 0; i < len; i++) {
		bool eol = before[i] == '\n' ||
			   (before[i] == '\r' && i + 1 < len && before[i + 1] == '\n');

		expect(after[i] == before[i] || after[i] == REDACT_CHAR);
		expect(after[i] == before[i] || counted);
		expect(after[i] == before[i] || !eol || !lines);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf, *copy;
	size_t n, nlen;

	if (!size)
		return 0;
	buf = malloc(size);
	copy = malloc(size);
	if (!buf || !copy)
		abort();

	memcpy(buf, data, size);
	n = redact_buffer(buf, size);
	check_masked(data, buf, size, n > 0, true);
	expect(redact_copy(copy, data, size) == n && !memcmp(copy, buf, size));

	/* A header: name = data[1, 1 + data[0]), value = the rest. */
	nlen = data[0] < size - 1 ? data[0] : size - 1;
	n = size - 1 - nlen;
	{
		char *name = malloc(nlen ? nlen : 1), *val = malloc(n ? n : 1);
		bool masked;

		if (!name || !val)
			abort();
		memcpy(name, data + 1, nlen);
		memcpy(val, data + 1 + nlen, n);
		masked = redact_header_value(name, nlen, val, n);
		check_masked(data + 1 + nlen, (uint8_t *)val, n, masked, false);
		redact_header_is_secret(name, nlen);
		free(name);
		free(val);
	}
	free(copy);
	free(buf);
	return 0;
}
