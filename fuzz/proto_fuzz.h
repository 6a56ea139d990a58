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

typedef void (*fuzz_call_fn)(void *ctx, int dir, uint8_t *p, size_t n, uint64_t ts, bool redact);

/* Each call of the conversation to fn, in a writable copy (decoders mask in place). */
static void fuzz_calls(const uint8_t *data, size_t size, fuzz_call_fn fn, void *ctx)
{
	uint8_t *copy;
	bool redact;

	if (size < 1 || !(copy = malloc(size)))
		return;
	redact = data[0] & 1;
	memcpy(copy, data, size);
	for (size_t i = 1; i < size;) {
		int dir = copy[i] >> 7;
		size_t n = copy[i] & 0x7f;

		i++;
		if (n > size - i)
			n = size - i;
		fn(ctx, dir, copy + i, n, i, redact);
		i += n;
	}
	free(copy);
}

struct fuzz_dec {
	const struct proto_decoder *d;
	void *c;
};

static void fuzz_dec_call(void *ctx, int dir, uint8_t *p, size_t n, uint64_t ts, bool redact)
{
	struct fuzz_dec *fd = ctx;

	fd->d->feed(fd->c, dir, p, n, ts, redact, fuzz_row, NULL);
	(void)fd->d->verdict(fd->c);
	(void)fd->d->dir_alive(fd->c, dir);
}

static int fuzz_decoder(const struct proto_decoder *d, const uint8_t *data, size_t size)
{
	struct fuzz_dec fd = { d, d->create() };

	if (!fd.c)
		return 0;
	fuzz_calls(data, size, fuzz_dec_call, &fd);
	(void)d->stats(fd.c);
	d->destroy(fd.c);
	return 0;
}
