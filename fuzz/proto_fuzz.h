/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The body of the protocol decoders' libFuzzer targets (pgsql_fuzz.c,
 * mysql_fuzz.c, redis_fuzz.c): the input is a conversation.  Its first
 * byte says whether to mask (bit 0); then each call is a byte (bit 7: the
 * direction, bits 0-6: the length) and that many bytes, fed as one call.
 * Every row's strings are read whole, so a bad pointer or a missing NUL
 * shows under ASan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gadgets/ssl/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t fuzz_sink;

static void fuzz_str(const char *s)
{
	if (s)
		fuzz_sink += strlen(s);
}

static void fuzz_row(void *ctx, const struct proto_msg *m)
{
	fuzz_str(m->method);
	fuzz_str(m->request);
	fuzz_str(m->key);
	fuzz_str(m->service);
	fuzz_str(m->result);
	fuzz_str(m->code);
	fuzz_str(m->error);
}

static int fuzz_decoder(const struct proto_decoder *d, const uint8_t *data, size_t size)
{
	void *c;
	uint8_t *copy;
	bool redact;

	if (size < 1 || !(c = d->create()))
		return 0;
	redact = data[0] & 1;
	/* The decoders mask in place: they get a writable copy, as from --redact. */
	copy = malloc(size);
	memcpy(copy, data, size);
	for (size_t i = 1; i < size;) {
		int dir = copy[i] >> 7;
		size_t n = copy[i] & 0x7f;

		i++;
		if (n > size - i)
			n = size - i;
		d->feed(c, dir, copy + i, n, i, redact, fuzz_row, NULL);
		(void)d->verdict(c);
		(void)d->dir_alive(c, dir);
		i += n;
	}
	(void)d->stats(c);
	d->destroy(c);
	free(copy);
	return 0;
}
