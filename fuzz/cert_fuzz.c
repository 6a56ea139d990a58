// FUZZ_SRCS: src/gadgets/ssl/cert.c
// FUZZ_LIBS: -lcrypto
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the certificate decoder (cert.c): any bytes, as the
 * DER a traced process could hand its TLS library, go through cert_parse(),
 * the cache, the name checks and the findings of a chain.  What libcrypto
 * cannot decode must come back as parsed == false, never a crash or a leak.
 *
 *   clang -g -O1 -std=c11 -D_GNU_SOURCE -iquote src \
 *     -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *     fuzz/cert_fuzz.c src/gadgets/ssl/cert.c -lcrypto -o cert_fuzz
 *   ./cert_fuzz -max_total_time=60 CORPUS_DIR   (seeds: DER certificates)
 */
#include <stdint.h>
#include <string.h>

#include "gadgets/ssl/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cert_cache *cache;
	static const char *const names[] = { "localhost",      "127.0.0.1",	 "::1",
					     "a.example.test", "*.example.test", "" };
	struct cert *chain[2];
	char buf[256], sni[64];
	unsigned int f;

	if (!cache)
		cache = cert_cache_new(4); /* small: evictions happen all the time */
	chain[0] = cert_parse(data, size);
	chain[1] = cert_cache_get(cache, data, size);
	if (!chain[0] || !chain[1]) {
		cert_put(chain[0]);
		cert_put(chain[1]);
		return 0;
	}
	/* A server name from the bytes themselves, or one of the usual shapes. */
	if (size && data[0] & 1) {
		size_t n = size - 1 < sizeof(sni) - 1 ? size - 1 : sizeof(sni) - 1;

		memcpy(sni, data + 1, n);
		sni[n] = '\0';
	} else {
		strcpy(sni, names[size % (sizeof(names) / sizeof(names[0]))]);
	}
	f = cert_chain_findings(chain, 2, sni, (int64_t)size * 86400 * 365);
	cert_findings_text(f, buf, sizeof(buf));
	if (chain[0]->parsed != chain[1]->parsed ||
	    memcmp(chain[0]->sha256, chain[1]->sha256, CERT_SHA256_LEN))
		__builtin_trap(); /* the cache must give what decoding gives */
	cert_put(chain[0]);
	cert_put(chain[1]);
	return 0;
}
