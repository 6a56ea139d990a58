// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libcrypto (--crypto): latency of signing, verification and key agreement,
 * exported EVP calls and the internal functions where the symbols are there.
 * The probes are its rows of probes.h.
 */
#include "internal.h"

static bool libcrypto_enabled(const struct ssl_state *st)
{
	return st->crypto;
}

const struct ssl_backend ssl_backend_libcrypto = {
	.name = "libcrypto",
	.sonames = (const char *const[]){ "libcrypto.so", NULL },
	SSL_BACKEND_OPS(SSL_LIBCRYPTO_PROBES),
	.enabled = libcrypto_enabled,
};
