// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * OpenSSL (libssl, and BoringSSL or OpenSSL linked into an executable such
 * as node): SSL_read/SSL_write and their _ex forms, the handshake, the
 * verification calls of --verify and the certificates of --certs.  The
 * probes are its rows of probes.h.
 */
#include <stdio.h>

#include "internal.h"

/*
 * A file with one OpenSSL function and not the others is not OpenSSL (an
 * application's own SSL_read wrapper, say): ask for a read and a write.
 */
static bool openssl_usable(const bool *found)
{
	return (found[SSL_OP_SSL_read] || found[SSL_OP_SSL_read_ex]) &&
	       (found[SSL_OP_SSL_write] || found[SSL_OP_SSL_write_ex]);
}

/* X509_V_ERR_* codes users meet, named as openssl verify(1) names them. */
static const char *x509_error(long code)
{
	static const struct {
		long code;
		const char *text;
	} names[] = {
		{ 2, "unable to get issuer certificate" },
		{ 7, "certificate signature failure" },
		{ 9, "certificate is not yet valid" },
		{ 10, "certificate has expired" },
		{ 18, "self-signed certificate" },
		{ 19, "self-signed certificate in certificate chain" },
		{ 20, "unable to get local issuer certificate" },
		{ 21, "unable to verify the first certificate" },
		{ 23, "certificate revoked" },
		{ 26, "unsupported certificate purpose" },
		{ 62, "hostname mismatch" },
		{ 64, "IP address mismatch" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == code)
			return names[i].text;
	return "see openssl verify(1) for the code";
}

static void openssl_verify_text(const struct ssl_record *r, char *buf, size_t len)
{
	if (r->op == SSL_OP_SSL_get_verify_result)
		snprintf(buf, len, "certificate verification failed: %s (%lld)", x509_error(r->ret),
			 (long long)r->ret);
	else
		snprintf(buf, len, "certificate verification disabled (SSL_VERIFY_NONE)%s",
			 r->op == SSL_OP_SSL_CTX_set_verify
				 ? " for every connection of this context"
				 : "");
}

const struct ssl_backend ssl_backend_openssl = {
	.name = "openssl",
	/* libcrypto: where libssl decodes the peer's certificates (--certs). */
	.sonames = (const char *const[]){ "libssl.so", "libcrypto.so", NULL },
	SSL_BACKEND_OPS(SSL_OPENSSL_PROBES),
	.usable = openssl_usable,
	.verify_text = openssl_verify_text,
};
