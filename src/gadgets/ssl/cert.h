/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * X.509 certificates from their DER bytes, decoded by libcrypto (never by
 * hand), what is said of a chain (findings), and a bounded cache by
 * fingerprint.  Pure: no session, no BPF; the unit tests and the fuzz target
 * use it as is.
 */
#ifndef LOUPE_SSL_CERT_H
#define LOUPE_SSL_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CERT_SHA256_LEN 32

/* One certificate.  Shared: the cache holds a reference, each chain one more. */
struct cert {
	int refs;
	bool parsed; /* false: libcrypto could not decode the bytes */
	size_t der_len;
	uint8_t sha256[CERT_SHA256_LEN];
	char fingerprint[CERT_SHA256_LEN * 3]; /* AB:CD:..., as openssl x509 -fingerprint -sha256 */
	char subject[256];		       /* RFC 2253, as openssl x509 -nameopt RFC2253 */
	char issuer[256];
	char serial[96];     /* hex, as openssl x509 -serial */
	char not_before[24]; /* 2026-05-20T10:00:00Z */
	char not_after[24];
	int64_t not_before_s; /* seconds since the epoch */
	int64_t not_after_s;
	bool has_times;	   /* both dates could be read */
	char sans[512];	   /* DNS:a,IP:1.2.3.4,email:...; cut with "..." */
	char key_type[16]; /* RSA, EC, ED25519, ... */
	int key_bits;
	int key_security_bits; /* 0: not known */
	char signature[64];    /* sha256WithRSAEncryption, ecdsa-with-SHA256, ... */
	bool self_signed;      /* issued by itself, and its own key verifies its signature */
	bool weak_digest;      /* signed over SHA-1 or weaker (MD5) */
	void *x509;	       /* libcrypto's X509, for name checks */
};

/* Decode der (len bytes); NULL only when out of memory.  Garbage gives parsed == false. */
struct cert *cert_parse(const uint8_t *der, size_t len);
struct cert *cert_get(struct cert *c);
void cert_put(struct cert *c);
void cert_sha256(const uint8_t *der, size_t len, uint8_t out[CERT_SHA256_LEN]);

/* The certificate covers this server name (SNI): its subject alternative names only. */
bool cert_name_matches(const struct cert *c, const char *name);

/* Findings, one bit each, in the order they are shown. */
enum {
	CERT_F_EXPIRED = 1u << 0,
	CERT_F_NOT_YET_VALID = 1u << 1,
	CERT_F_SELF_SIGNED = 1u << 2,
	CERT_F_NAME_MISMATCH = 1u << 3,
	CERT_F_WEAK_KEY = 1u << 4,
	CERT_F_SHA1_SIGNATURE = 1u << 5,
	CERT_F_VERIFICATION_DISABLED = 1u << 6,
	CERT_F_VERIFICATION_FAILED = 1u << 7,
};
#define CERT_NR_FINDINGS 8

/* A security level under 112 bits (RSA under 2048, EC under 224) is weak. */
#define CERT_MIN_SECURITY_BITS 112

const char *cert_finding_name(int i);
/*
 * What the certificates themselves say of a chain (chain[0] the peer's own;
 * NULL entries and undecodable ones are skipped): the verification findings
 * are the caller's.  sni may be NULL (none asked for); now in epoch seconds.
 */
unsigned int cert_chain_findings(struct cert *const *chain, size_t n, const char *sni, int64_t now);
/* "expired,self_signed" into buf; returns buf. */
char *cert_findings_text(unsigned int findings, char *buf, size_t len);

/* --- the cache -------------------------------------------------------------------- */

struct cert_cache;

struct cert_cache_stats {
	uint64_t hits, parsed, evictions;
};

struct cert_cache *cert_cache_new(size_t max);
/*
 * The certificate of these bytes, from the cache or decoded now (a reference
 * the caller puts back); NULL when out of memory.  The least recently used
 * one makes room when the cache is full, counted in evictions.
 */
struct cert *cert_cache_get(struct cert_cache *cc, const uint8_t *der, size_t len);
const struct cert_cache_stats *cert_cache_stats(const struct cert_cache *cc);
void cert_cache_free(struct cert_cache *cc);

#endif /* LOUPE_SSL_CERT_H */
