// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * X.509 certificates from DER bytes, decoded by libcrypto: the fields shown,
 * the findings of a chain, and a bounded cache by SHA-256 fingerprint so that
 * a busy client's same chain is decoded once.  The bytes come from other
 * processes: anything that libcrypto cannot decode is a certificate with
 * parsed == false, never a crash (fuzz/cert_fuzz.c).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert.h"

void cert_sha256(const uint8_t *der, size_t len, uint8_t out[CERT_SHA256_LEN])
{
	SHA256(der, len, out);
}

/* Text into buf: cut with "..." when it does not fit. */
static void put_text(char *buf, size_t len, const char *p, size_t n)
{
	if (n >= len) {
		memcpy(buf, p, len - 4);
		memcpy(buf + len - 4, "...", 4);
	} else {
		memcpy(buf, p, n);
		buf[n] = '\0';
	}
}

static void bio_text(BIO *b, char *buf, size_t len)
{
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);

	put_text(buf, len, p ? p : "", n > 0 ? (size_t)n : 0);
}

/* RFC 2253, as `openssl x509 -nameopt RFC2253` prints it. */
static void name_text(const X509_NAME *name, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());

	buf[0] = '\0';
	if (!b)
		return;
	if (name && X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0)
		bio_text(b, buf, len);
	BIO_free(b);
}

/* Hex, as `openssl x509 -serial` prints it. */
static void serial_text(const ASN1_INTEGER *serial, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());

	buf[0] = '\0';
	if (!b)
		return;
	if (serial && i2a_ASN1_INTEGER(b, serial) > 0)
		bio_text(b, buf, len);
	BIO_free(b);
}

/* ISO 8601 in UTC into buf, and seconds since the epoch; false if unreadable. */
static bool time_text(const ASN1_TIME *t, char *buf, size_t len, int64_t *secs)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm)) {
		snprintf(buf, len, "?");
		return false;
	}
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	*secs = timegm(&tm);
	return true;
}

/* Append "sep prefix value" to buf at *o; bytes that are not printable ASCII as \xNN. */
static bool append_item(char *buf, size_t len, size_t *o, const char *prefix,
			const unsigned char *v, int n)
{
	char item[320];
	size_t k = snprintf(item, sizeof(item), "%s%s", *o ? "," : "", prefix);

	for (int i = 0; i < n && k + 5 < sizeof(item); i++)
		k += snprintf(item + k, sizeof(item) - k,
			      v[i] > 0x20 && v[i] < 0x7f ? "%c" : "\\x%02x", v[i]);
	if (*o + k + 4 > len) {
		if (*o + 4 <= len)
			memcpy(buf + *o, "...", 4);
		return false;
	}
	memcpy(buf + *o, item, k + 1);
	*o += k;
	return true;
}

static void sans_text(X509 *x, char *buf, size_t len)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t o = 0;
	bool more = true;

	buf[0] = '\0';
	for (int i = 0; gens && more && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *s = NULL;
		const char *prefix = NULL;
		char ip[INET6_ADDRSTRLEN];

		switch (g->type) {
		case GEN_DNS:
			s = g->d.dNSName, prefix = "DNS:";
			break;
		case GEN_EMAIL:
			s = g->d.rfc822Name, prefix = "email:";
			break;
		case GEN_URI:
			s = g->d.uniformResourceIdentifier, prefix = "URI:";
			break;
		case GEN_IPADD: {
			int n = ASN1_STRING_length(g->d.iPAddress);
			const unsigned char *p = ASN1_STRING_get0_data(g->d.iPAddress);

			if ((n == 4 || n == 16) &&
			    inet_ntop(n == 4 ? AF_INET : AF_INET6, p, ip, sizeof(ip)))
				more = append_item(buf, len, &o, "IP:", (const unsigned char *)ip,
						   strlen(ip));
			else
				more = append_item(buf, len, &o, "IP:?", NULL, 0);
			continue;
		}
		default:
			more = append_item(buf, len, &o, "other", NULL, 0);
			continue;
		}
		more = append_item(buf, len, &o, prefix, ASN1_STRING_get0_data(s),
				   ASN1_STRING_length(s));
	}
	GENERAL_NAMES_free(gens);
}

static void key_text(X509 *x, struct cert *c)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	const char *type = NULL;

	if (pk) {
		type = EVP_PKEY_get0_type_name(pk);
		if (!type)
			type = OBJ_nid2sn(EVP_PKEY_get_base_id(pk));
		c->key_bits = EVP_PKEY_get_bits(pk);
		c->key_security_bits = EVP_PKEY_get_security_bits(pk);
	} else {
		/* A key libcrypto cannot use: its algorithm is still named. */
		ASN1_OBJECT *alg = NULL;

		if (X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL, X509_get_X509_PUBKEY(x)) && alg)
			type = OBJ_nid2sn(OBJ_obj2nid(alg));
	}
	snprintf(c->key_type, sizeof(c->key_type), "%s", type ? type : "unknown");
	if (c->key_bits < 0)
		c->key_bits = 0;
	if (c->key_security_bits < 0)
		c->key_security_bits = 0;
}

static void signature_text(X509 *x, struct cert *c)
{
	int nid = X509_get_signature_nid(x), md = NID_undef;
	const char *name = nid != NID_undef ? OBJ_nid2ln(nid) : NULL;

	snprintf(c->signature, sizeof(c->signature), "%s", name ? name : "unknown");
	/* The digest, RSA-PSS included; MD5 and older are weaker still than SHA-1. */
	if (X509_get_signature_info(x, &md, NULL, NULL, NULL))
		c->weak_digest = md == NID_sha1 || md == NID_md5 || md == NID_md5_sha1 ||
				 md == NID_md4 || md == NID_md2;
}

static void decode(struct cert *c, const uint8_t *der)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)c->der_len);

	/* One whole certificate, nothing after it. */
	if (!x || p != der + c->der_len) {
		X509_free(x);
		return;
	}
	c->x509 = x;
	c->parsed = true;
	name_text(X509_get_subject_name(x), c->subject, sizeof(c->subject));
	name_text(X509_get_issuer_name(x), c->issuer, sizeof(c->issuer));
	serial_text(X509_get0_serialNumber(x), c->serial, sizeof(c->serial));
	c->has_times = time_text(X509_get0_notBefore(x), c->not_before, sizeof(c->not_before),
				 &c->not_before_s);
	if (!time_text(X509_get0_notAfter(x), c->not_after, sizeof(c->not_after), &c->not_after_s))
		c->has_times = false;
	sans_text(x, c->sans, sizeof(c->sans));
	key_text(x, c);
	signature_text(x, c);
	c->self_signed = X509_self_signed(x, 1) == 1;
}

static struct cert *parse_hashed(const uint8_t *der, size_t len, const uint8_t *sha256)
{
	struct cert *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->refs = 1;
	c->der_len = len;
	memcpy(c->sha256, sha256, CERT_SHA256_LEN);
	for (int i = 0; i < CERT_SHA256_LEN; i++)
		snprintf(c->fingerprint + 3 * i, 4, "%02X%s", sha256[i],
			 i + 1 < CERT_SHA256_LEN ? ":" : "");
	if (len && len <= 0x7fffffff)
		decode(c, der);
	/* libcrypto's thread error queue would grow with every bad certificate. */
	ERR_clear_error();
	return c;
}

struct cert *cert_parse(const uint8_t *der, size_t len)
{
	uint8_t sha[CERT_SHA256_LEN];

	cert_sha256(der, len, sha);
	return parse_hashed(der, len, sha);
}

struct cert *cert_get(struct cert *c)
{
	if (c)
		c->refs++;
	return c;
}

void cert_put(struct cert *c)
{
	if (!c || --c->refs > 0)
		return;
	X509_free(c->x509);
	free(c);
}

bool cert_name_matches(const struct cert *c, const char *name)
{
	unsigned char ip[16];

	if (!c->parsed)
		return false;
	if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1)
		return X509_check_ip_asc(c->x509, name, 0) == 1;
	return X509_check_host(c->x509, name, strlen(name), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
			       NULL) == 1;
}

/* --- findings ---------------------------------------------------------------------- */

static const char *const finding_names[CERT_NR_FINDINGS] = {
	"expired",  "not_yet_valid",  "self_signed",	       "name_mismatch",
	"weak_key", "sha1_signature", "verification_disabled", "verification_failed",
};

const char *cert_finding_name(int i)
{
	return i >= 0 && i < CERT_NR_FINDINGS ? finding_names[i] : "?";
}

unsigned int cert_chain_findings(struct cert *const *chain, size_t n, const char *sni, int64_t now)
{
	unsigned int f = 0;

	for (size_t i = 0; i < n; i++) {
		const struct cert *c = chain[i];

		if (!c || !c->parsed)
			continue;
		if (c->has_times && c->not_after_s < now)
			f |= CERT_F_EXPIRED;
		if (c->has_times && c->not_before_s > now)
			f |= CERT_F_NOT_YET_VALID;
		if (c->key_security_bits && c->key_security_bits < CERT_MIN_SECURITY_BITS)
			f |= CERT_F_WEAK_KEY;
		/* A root's signature on itself is checked by nobody: only the peer's own counts. */
		if (c->weak_digest && (i == 0 || !c->self_signed))
			f |= CERT_F_SHA1_SIGNATURE;
	}
	if (n && chain[0] && chain[0]->parsed) {
		if (chain[0]->self_signed)
			f |= CERT_F_SELF_SIGNED;
		if (sni && *sni && !cert_name_matches(chain[0], sni))
			f |= CERT_F_NAME_MISMATCH;
	}
	return f;
}

char *cert_findings_text(unsigned int findings, char *buf, size_t len)
{
	size_t o = 0;

	if (len)
		buf[0] = '\0';
	for (int i = 0; i < CERT_NR_FINDINGS && o < len; i++)
		if (findings & (1u << i))
			o += snprintf(buf + o, len - o, "%s%s", o ? "," : "", finding_names[i]);
	return buf;
}

/* --- the cache ---------------------------------------------------------------------- */

struct cache_entry {
	struct cert *c;
	uint64_t used; /* the cache's clock at the last lookup */
	struct cache_entry *next;
};

#define CACHE_BUCKETS 256

struct cert_cache {
	size_t max, n;
	uint64_t clock;
	struct cache_entry *buckets[CACHE_BUCKETS];
	struct cert_cache_stats stats;
};

struct cert_cache *cert_cache_new(size_t max)
{
	struct cert_cache *cc = calloc(1, sizeof(*cc));

	/* Parsing needs no configuration: never read the host's openssl.cnf,
	 * whose engines and providers a static loupe could not load. */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
	if (cc)
		cc->max = max ? max : 1;
	return cc;
}

static void evict_oldest(struct cert_cache *cc)
{
	struct cache_entry **oldest = NULL, *e;

	for (int b = 0; b < CACHE_BUCKETS; b++)
		for (struct cache_entry **p = &cc->buckets[b]; *p; p = &(*p)->next)
			if (!oldest || (*p)->used < (*oldest)->used)
				oldest = p;
	if (!oldest)
		return;
	e = *oldest;
	*oldest = e->next;
	cert_put(e->c);
	free(e);
	cc->n--;
	cc->stats.evictions++;
}

struct cert *cert_cache_get(struct cert_cache *cc, const uint8_t *der, size_t len)
{
	uint8_t sha[CERT_SHA256_LEN];
	struct cache_entry *e, **bucket;

	cert_sha256(der, len, sha);
	bucket = &cc->buckets[sha[0]];
	for (e = *bucket; e; e = e->next)
		if (e->c->der_len == len && !memcmp(e->c->sha256, sha, sizeof(sha))) {
			e->used = ++cc->clock;
			cc->stats.hits++;
			return cert_get(e->c);
		}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->c = parse_hashed(der, len, sha))) {
		free(e);
		return NULL;
	}
	cc->stats.parsed++;
	if (cc->n >= cc->max)
		evict_oldest(cc);
	e->used = ++cc->clock;
	e->next = *bucket;
	*bucket = e;
	cc->n++;
	return cert_get(e->c);
}

const struct cert_cache_stats *cert_cache_stats(const struct cert_cache *cc)
{
	return &cc->stats;
}

void cert_cache_free(struct cert_cache *cc)
{
	if (!cc)
		return;
	for (int b = 0; b < CACHE_BUCKETS; b++)
		for (struct cache_entry *e = cc->buckets[b], *next; e; e = next) {
			next = e->next;
			cert_put(e->c);
			free(e);
		}
	free(cc);
}
