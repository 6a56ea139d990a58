/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the HTTP fuzz targets share: one connection's calls fed to the
 * decoder (src/gadgets/ssl/http.c) as the ssl gadget feeds them, once with
 * redaction off and once on, each call in a buffer of its exact size so that
 * ASan sees a byte read or written past it, or after the call.
 */
#ifndef LOUPE_FUZZ_HTTP_RUN_H
#define LOUPE_FUZZ_HTTP_RUN_H

#include <stddef.h>
#include <stdint.h>

struct fuzz_call {
	int dir; /* 0 or 1 */
	uint64_t ts_ns;
	const uint8_t *data;
	size_t len;
};

/* Feed the calls; abort() when the decoder breaks a promise of http.h. */
void fuzz_http_run(const struct fuzz_call *calls, size_t n);

#endif /* LOUPE_FUZZ_HTTP_RUN_H */
