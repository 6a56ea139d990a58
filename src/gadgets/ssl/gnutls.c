// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * GnuTLS: gnutls_record_send/recv, the handshake (endpoints), and the
 * certificate verification status of --verify.  The probes are its rows of
 * probes.h.
 */
#include <stdio.h>

#include "internal.h"

/* gnutls_certificate_status_t bits, most telling first. */
static void gnutls_verify_text(const struct ssl_record *r, char *buf, size_t len)
{
	static const struct {
		unsigned long bit;
		const char *name;
	} bits[] = {
		{ 1 << 6, "signer not found" },
		{ 1 << 7, "signer not a CA" },
		{ 1 << 5, "revoked" },
		{ 1 << 10, "expired" },
		{ 1 << 9, "not yet activated" },
		{ 1 << 8, "insecure algorithm" },
		{ 1 << 14, "unexpected owner (hostname)" },
		{ 1 << 3, "signature failure" },
	};
	unsigned long status = r->ret;
	size_t o = snprintf(buf, len, "certificate verification failed: status 0x%lx", status);

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]) && o < len; i++)
		if (status & bits[i].bit)
			o += snprintf(buf + o, len - o, ", %s", bits[i].name);
}

const struct ssl_backend ssl_backend_gnutls = {
	.name = "gnutls",
	.sonames = (const char *const[]){ "libgnutls.so", NULL },
	SSL_BACKEND_OPS(SSL_GNUTLS_PROBES),
	.verify_text = gnutls_verify_text,
};
