/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Internet checksum (RFC 1071), for the tests that check the packets
 * src/gadgets/ssl/pcap.c writes (tests/unit/test_ssl_pcap.c,
 * fuzz/pcap_fuzz.c).  Written apart from pcap.c on purpose: a checker that
 * shared the code under test would agree with its mistakes.
 */
#ifndef LOUPE_TESTS_CSUM_H
#define LOUPE_TESTS_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Add big-endian 16-bit words (a last odd byte padded with zero) to sum. */
static inline uint32_t csum_words(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

/* A header or segment whose checksum field is right sums to 0xffff, folded. */
static inline int csum_ok(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

#endif /* LOUPE_TESTS_CSUM_H */
