// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the certificate decoder (cert.c): certificates made here with
 * libcrypto's building calls, each with known fields, then decoded from
 * their DER bytes; the findings of chains made to have them (and only them);
 * garbage and truncated bytes decoded as undecodable, never a crash; the
 * cache's hits and evictions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "gadgets/ssl/cert.h"

#define DAY (24 * 3600L)

struct spec {
	const char *cn, *org;
	const char *san; /* NULL: no subjectAltName */
	long serial;
	long not_before, not_after; /* seconds from now */
	EVP_PKEY *key;
	EVP_PKEY *signer; /* NULL: key (self-signed) */
	X509 *issuer;	  /* NULL: self-signed */
	const EVP_MD *md; /* NULL: SHA-256 */
};

static EVP_PKEY *rsa2048, *rsa1024, *p256, *ca_key;
static X509 *ca;

static X509 *build(const struct spec *sp)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);
	X509V3_CTX ctx;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), sp->serial);
	if (sp->org)
		X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)sp->org,
					   -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)sp->cn, -1, -1,
				   0);
	X509_set_issuer_name(x, sp->issuer ? X509_get_subject_name(sp->issuer) : name);
	X509_gmtime_adj(X509_getm_notBefore(x), sp->not_before);
	X509_gmtime_adj(X509_getm_notAfter(x), sp->not_after);
	X509_set_pubkey(x, sp->key);
	if (sp->san) {
		X509_EXTENSION *e;

		X509V3_set_ctx(&ctx, sp->issuer ? sp->issuer : x, x, NULL, NULL, 0);
		e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, sp->san);
		assert_non_null(e);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, sp->signer ? sp->signer : sp->key,
			      sp->md ? sp->md : EVP_sha256()) > 0);
	return x;
}

/* A decoded certificate of the spec (and its DER bytes, if asked for). */
static struct cert *make(const struct spec *sp, uint8_t **der_out, size_t *len_out)
{
	X509 *x = build(sp);
	uint8_t *der = NULL;
	int len = i2d_X509(x, &der);
	struct cert *c;

	assert_true(len > 0);
	c = cert_parse(der, len);
	assert_non_null(c);
	if (der_out) {
		*der_out = der;
		*len_out = len;
	} else {
		OPENSSL_free(der);
	}
	X509_free(x);
	return c;
}

static struct spec leaf_spec(void)
{
	return (struct spec){ .cn = "www.example.test",
			      .org = "Loupe Test",
			      .san = "DNS:www.example.test,DNS:*.example.test,IP:127.0.0.1",
			      .serial = 0x1234abcd,
			      .not_before = -DAY,
			      .not_after = 30 * DAY,
			      .key = rsa2048,
			      .signer = ca_key,
			      .issuer = ca };
}

static int setup(void **state)
{
	struct spec sp = {
		.cn = "Loupe Test CA", .serial = 1, .not_before = -DAY, .not_after = 365 * DAY
	};

	rsa2048 = EVP_RSA_gen(2048);
	rsa1024 = EVP_RSA_gen(1024);
	p256 = EVP_EC_gen("P-256");
	ca_key = EVP_RSA_gen(2048);
	sp.key = ca_key;
	ca = build(&sp);
	return rsa2048 && rsa1024 && p256 && ca ? 0 : -1;
}

static int teardown(void **state)
{
	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(ca_key);
	X509_free(ca);
	return 0;
}

static void test_fields(void **state)
{
	struct spec sp = leaf_spec();
	time_t now = time(NULL);
	uint8_t *der, md[32];
	char fp[96], when[32];
	unsigned int mdlen;
	size_t len;
	struct cert *c = make(&sp, &der, &len);
	struct tm tm;

	assert_true(c->parsed);
	assert_string_equal(c->subject, "CN=www.example.test,O=Loupe Test");
	assert_string_equal(c->issuer, "CN=Loupe Test CA");
	assert_string_equal(c->serial, "1234ABCD");
	assert_string_equal(c->sans, "DNS:www.example.test,DNS:*.example.test,IP:127.0.0.1");
	assert_string_equal(c->key_type, "RSA");
	assert_int_equal(c->key_bits, 2048);
	assert_int_equal(c->key_security_bits, 112);
	assert_string_equal(c->signature, "sha256WithRSAEncryption");
	assert_false(c->self_signed);
	assert_false(c->weak_digest);
	assert_int_equal(c->der_len, len);
	/* The fingerprint is SHA-256 of the bytes, as openssl x509 -fingerprint prints it. */
	assert_true(EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL));
	for (int i = 0; i < 32; i++)
		snprintf(fp + 3 * i, 4, "%02X%s", md[i], i < 31 ? ":" : "");
	assert_string_equal(c->fingerprint, fp);
	assert_memory_equal(c->sha256, md, 32);
	/* The dates, a second of slack for the clock ticking while the test made them. */
	assert_true(c->has_times);
	assert_true(labs((long)(c->not_after_s - (now + 30 * DAY))) <= 2);
	assert_true(labs((long)(c->not_before_s - (now - DAY))) <= 2);
	gmtime_r(&(time_t){ c->not_after_s }, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	assert_string_equal(c->not_after, when);
	OPENSSL_free(der);
	cert_put(c);

	sp.key = p256;
	c = make(&sp, NULL, NULL);
	assert_string_equal(c->key_type, "EC");
	assert_int_equal(c->key_bits, 256);
	cert_put(c);
}

static unsigned int findings_of(struct cert **chain, size_t n, const char *sni)
{
	unsigned int f = cert_chain_findings(chain, n, sni, time(NULL));

	for (size_t i = 0; i < n; i++)
		cert_put(chain[i]);
	return f;
}

static struct cert *ca_cert(void)
{
	uint8_t *der = NULL;
	int len = i2d_X509(ca, &der);
	struct cert *c = cert_parse(der, len);

	OPENSSL_free(der);
	return c;
}

static void test_findings(void **state)
{
	struct spec sp = leaf_spec();
	struct cert *chain[2];

	chain[0] = make(&sp, NULL, NULL), chain[1] = ca_cert();
	assert_int_equal(findings_of(chain, 2, "www.example.test"), 0);
	chain[0] = make(&sp, NULL, NULL);
	assert_int_equal(findings_of(chain, 1, "a.example.test"), 0); /* the wildcard */
	chain[0] = make(&sp, NULL, NULL);
	assert_int_equal(findings_of(chain, 1, NULL), 0); /* no name asked for: not judged */
	chain[0] = make(&sp, NULL, NULL);
	assert_int_equal(findings_of(chain, 1, "127.0.0.1"), 0);
	chain[0] = make(&sp, NULL, NULL);
	assert_int_equal(findings_of(chain, 1, "127.0.0.2"), CERT_F_NAME_MISMATCH);
	chain[0] = make(&sp, NULL, NULL);
	assert_int_equal(findings_of(chain, 1, "a.b.example.test"), CERT_F_NAME_MISMATCH);
	chain[0] = make(&sp, NULL, NULL);
	assert_int_equal(findings_of(chain, 1, "other.test"), CERT_F_NAME_MISMATCH);

	/* The subject's CN is not a name: only the alternative names are. */
	sp.san = NULL;
	chain[0] = make(&sp, NULL, NULL);
	assert_int_equal(findings_of(chain, 1, "www.example.test"), CERT_F_NAME_MISMATCH);
	sp = leaf_spec();

	sp.not_after = -DAY;
	sp.not_before = -2 * DAY;
	chain[0] = make(&sp, NULL, NULL);
	assert_int_equal(findings_of(chain, 1, "www.example.test"), CERT_F_EXPIRED);
	sp = leaf_spec();
	sp.not_before = DAY;
	chain[0] = make(&sp, NULL, NULL);
	assert_int_equal(findings_of(chain, 1, "www.example.test"), CERT_F_NOT_YET_VALID);
	sp = leaf_spec();

	sp.key = rsa1024;
	chain[0] = make(&sp, NULL, NULL);
	assert_int_equal(findings_of(chain, 1, "www.example.test"), CERT_F_WEAK_KEY);
	sp = leaf_spec();
	sp.key = p256;
	chain[0] = make(&sp, NULL, NULL);
	assert_int_equal(findings_of(chain, 1, "www.example.test"), 0);
	sp = leaf_spec();

	sp.md = EVP_sha1();
	chain[0] = make(&sp, NULL, NULL);
	assert_true(chain[0]->weak_digest);
	assert_string_equal(chain[0]->signature, "sha1WithRSAEncryption");
	assert_int_equal(findings_of(chain, 1, "www.example.test"), CERT_F_SHA1_SIGNATURE);
	sp = leaf_spec();

	sp.issuer = NULL, sp.signer = NULL;
	chain[0] = make(&sp, NULL, NULL);
	assert_true(chain[0]->self_signed);
	assert_string_equal(chain[0]->issuer, chain[0]->subject);
	assert_int_equal(findings_of(chain, 1, "www.example.test"), CERT_F_SELF_SIGNED);

	/* A root signed over SHA-1 sent after the peer's own: nobody checks that signature. */
	sp = (struct spec){ .cn = "Loupe Test CA",
			    .serial = 1,
			    .not_before = -DAY,
			    .not_after = DAY,
			    .key = ca_key,
			    .md = EVP_sha1() };
	chain[1] = make(&sp, NULL, NULL);
	assert_true(chain[1]->self_signed && chain[1]->weak_digest);
	sp = leaf_spec();
	chain[0] = make(&sp, NULL, NULL);
	assert_int_equal(findings_of(chain, 2, "www.example.test"), 0);

	/* An expired certificate anywhere in the chain. */
	sp = (struct spec){ .cn = "Loupe Test CA",
			    .serial = 1,
			    .not_before = -2 * DAY,
			    .not_after = -DAY,
			    .key = ca_key };
	chain[1] = make(&sp, NULL, NULL);
	sp = leaf_spec();
	chain[0] = make(&sp, NULL, NULL);
	assert_int_equal(findings_of(chain, 2, "www.example.test"), CERT_F_EXPIRED);
}

static void test_findings_text(void **state)
{
	char buf[256];

	assert_string_equal(cert_findings_text(0, buf, sizeof(buf)), "");
	assert_string_equal(
		cert_findings_text(CERT_F_EXPIRED | CERT_F_VERIFICATION_FAILED | CERT_F_SELF_SIGNED,
				   buf, sizeof(buf)),
		"expired,self_signed,verification_failed");
	assert_string_equal(cert_findings_text(0xff, buf, sizeof(buf)),
			    "expired,not_yet_valid,self_signed,name_mismatch,weak_key,"
			    "sha1_signature,verification_disabled,verification_failed");
	assert_string_equal(cert_finding_name(CERT_NR_FINDINGS), "?");
}

static void expect_undecodable(const uint8_t *p, size_t len)
{
	struct cert *c = cert_parse(p, len);

	assert_non_null(c);
	assert_false(c->parsed);
	assert_int_equal(c->der_len, len);
	assert_int_equal(strlen(c->fingerprint), 95);
	assert_false(cert_name_matches(c, "www.example.test"));
	assert_int_equal(cert_chain_findings(&c, 1, "www.example.test", time(NULL)), 0);
	cert_put(c);
}

static void test_garbage(void **state)
{
	struct spec sp = leaf_spec();
	uint8_t *der, junk[4096], *longer;
	size_t len;
	struct cert *c = make(&sp, &der, &len);

	cert_put(c);
	expect_undecodable((const uint8_t *)"", 0);
	srand(18);
	for (int round = 0; round < 200; round++) {
		size_t n = 1 + rand() % sizeof(junk);

		for (size_t i = 0; i < n; i++)
			junk[i] = rand();
		/* Half of them start like a certificate: a SEQUENCE with a long length. */
		if (round & 1 && n > 4)
			memcpy(junk, "\x30\x82\x04\x00", 4);
		expect_undecodable(junk, n);
	}
	/* Every truncation of a real certificate, and one with bytes after it. */
	for (size_t n = 1; n < len; n++)
		expect_undecodable(der, n);
	longer = malloc(len + 1);
	memcpy(longer, der, len);
	longer[len] = 0;
	expect_undecodable(longer, len + 1);
	/* A flipped bit in the signature decodes: the bytes are a certificate still. */
	der[len - 1] ^= 1;
	c = cert_parse(der, len);
	assert_true(c->parsed);
	cert_put(c);
	free(longer);
	OPENSSL_free(der);
}

static void test_cache(void **state)
{
	struct cert_cache *cc = cert_cache_new(2);
	uint8_t *der[3];
	size_t len[3];
	struct cert *a, *b;

	for (int i = 0; i < 3; i++) {
		struct spec sp = leaf_spec();

		sp.serial = 100 + i;
		cert_put(make(&sp, &der[i], &len[i]));
	}
	a = cert_cache_get(cc, der[0], len[0]);
	b = cert_cache_get(cc, der[1], len[1]);
	cert_put(cert_cache_get(cc, der[0], len[0])); /* a hit: 0 is the most recent now */
	assert_int_equal(cert_cache_stats(cc)->hits, 1);
	cert_put(cert_cache_get(cc, der[2], len[2])); /* full: 1, the least recent, goes */
	assert_int_equal(cert_cache_stats(cc)->evictions, 1);
	/* Still valid where it is held, though the cache let it go. */
	assert_string_equal(b->serial, "65");
	cert_put(cert_cache_get(cc, der[0], len[0]));
	assert_int_equal(cert_cache_stats(cc)->hits, 2);
	cert_put(cert_cache_get(cc, der[1], len[1])); /* decoded again, 2 goes */
	assert_int_equal(cert_cache_stats(cc)->parsed, 4);
	assert_int_equal(cert_cache_stats(cc)->evictions, 2);
	/* Garbage is cached too, by its fingerprint: decoded once. */
	cert_put(cert_cache_get(cc, (const uint8_t *)"junk", 4));
	cert_put(cert_cache_get(cc, (const uint8_t *)"junk", 4));
	assert_int_equal(cert_cache_stats(cc)->parsed, 5);
	assert_int_equal(cert_cache_stats(cc)->hits, 3);
	cert_put(a);
	cert_put(b);
	cert_cache_free(cc);
	for (int i = 0; i < 3; i++)
		OPENSSL_free(der[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),	      cmocka_unit_test(test_findings),
		cmocka_unit_test(test_findings_text), cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_cache),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
