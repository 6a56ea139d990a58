// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --certs: a row per handshake with the peer's certificate chain, decoded by
 * cert.c from the DER bytes the kernel copied (certs.bpf.h), and findings.
 *
 * What a row needs arrives per connection, in this order: the context the
 * connection was made from (CONN_NEW) and the server name asked for (SNI_*),
 * then the certificates (one call each, with their index in the chain), and
 * what the program's verification calls said (OpenSSL asks after the
 * handshake, GnuTLS before it gets the chain).  So the row waits: it is
 * shown when the connection first carries data, CERTS_WAIT_NS after its last
 * certificate if it carries none (a refused handshake), when its handle
 * starts another connection, or at exit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cert.h"
#include "internal.h"

#define CERTS_CACHE_MAX 256
#define CERTS_WAIT_NS 1000000000ull
#define MAX_MODES 256

enum cc_state {
	CC_IDLE,       /* nothing of a chain yet */
	CC_COLLECTING, /* certificates arrived, the row waits */
	CC_SHOWN,      /* the row is out; the chain is kept to tell a repeat from a new one */
};

/* One connection's certificates and what was said of them (conn->an[AN_CERTS]). */
struct certs_conn {
	enum cc_state state;
	bool has_sni, verify_disabled, verify_failed;
	bool missing; /* certificates or their bytes did not all arrive */
	char sni[SSL_CERT_NAME_MAX + 1];
	int64_t verify_code;
	char verify_text[192];
	struct cert *chain[SSL_CERT_CHAIN]; /* NULL: missing, or cut */
	uint64_t cut[SSL_CERT_CHAIN];	    /* the size of a certificate not copied whole */
	unsigned int n;			    /* chain[0..n) */
	unsigned int expected; /* the chain's length, when the library said it */
	unsigned int repeat;   /* the same chain given again: certificates matched so far */
	struct ssl_record hdr; /* the row's process and endpoints: its first certificate's */
	uint64_t due_ns;
};

/* The verify mode last set on a handle (a context or a connection). */
struct mode_entry {
	bool used, disabled;
	uint32_t pid;
	uint64_t handle;
};

struct certs_state {
	bool findings_only;
	struct cert_cache *cache;
	struct mode_entry modes[MAX_MODES];
	unsigned int next_mode;
	uint64_t chains, undecodable, cut, modes_forgotten, late_verifications;
	uint64_t findings[CERT_NR_FINDINGS];
};

static bool certs_wanted(const struct ssl_state *st)
{
	return st->certs;
}

static int certs_open(struct session *s)
{
	struct ssl_state *st = s->state;
	struct certs_state *cs = calloc(1, sizeof(*cs));

	if (!cs || !(cs->cache = cert_cache_new(CERTS_CACHE_MAX))) {
		free(cs);
		return -ENOMEM;
	}
	cs->findings_only = st->certs_findings_only;
	st->an->priv[AN_CERTS] = cs;
	return 0;
}

static struct certs_state *certs_state(struct session *s)
{
	return ((struct ssl_state *)s->state)->an->priv[AN_CERTS];
}

/* --- verify modes, by handle ------------------------------------------------------- */

static struct mode_entry *mode_find(struct certs_state *cs, uint32_t pid, uint64_t handle)
{
	for (int i = 0; i < MAX_MODES; i++)
		if (cs->modes[i].used && cs->modes[i].pid == pid && cs->modes[i].handle == handle)
			return &cs->modes[i];
	return NULL;
}

static void mode_set(struct certs_state *cs, uint32_t pid, uint64_t handle, bool disabled)
{
	struct mode_entry *m = mode_find(cs, pid, handle);

	if (!m) {
		/* The oldest is forgotten: its connections made later are not judged by it. */
		m = &cs->modes[cs->next_mode++ % MAX_MODES];
		if (m->used)
			cs->modes_forgotten++;
	}
	*m = (struct mode_entry){
		.used = true, .disabled = disabled, .pid = pid, .handle = handle
	};
}

/* --- rows --------------------------------------------------------------------------- */

static void chain_put(struct certs_conn *cc)
{
	for (unsigned int i = 0; i < SSL_CERT_CHAIN; i++) {
		cert_put(cc->chain[i]);
		cc->chain[i] = NULL;
		cc->cut[i] = 0;
	}
	cc->n = cc->expected = cc->repeat = 0;
}

/* Every certificate: "subject (issuer ..., sha256 ...)", " | " between. */
static void chain_text(const struct certs_conn *cc, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < cc->n && o < len; i++) {
		const struct cert *c = cc->chain[i];
		const char *sep = i ? " | " : "";
		char hex[CERT_SHA256_LEN * 2 + 1];

		if (!c && cc->cut[i]) {
			o += snprintf(buf + o, len - o, "%scut, %llu bytes", sep,
				      (unsigned long long)cc->cut[i]);
			continue;
		}
		if (!c) {
			o += snprintf(buf + o, len - o, "%smissing", sep);
			continue;
		}
		for (int k = 0; k < CERT_SHA256_LEN; k++)
			snprintf(hex + 2 * k, 3, "%02X", c->sha256[k]);
		if (c->parsed)
			o += snprintf(buf + o, len - o, "%s%s (issuer %s, sha256 %s)", sep,
				      c->subject, c->issuer, hex);
		else
			o += snprintf(buf + o, len - o, "%sundecodable, %zu bytes (sha256 %s)", sep,
				      c->der_len, hex);
	}
}

static void show(struct session *s, struct ssl_conn *conn, struct certs_conn *cc)
{
	struct certs_state *cs = certs_state(s);
	const struct cert *leaf = cc->chain[0];
	struct mode_entry *own = mode_find(cs, conn->pid, conn->handle);
	char chain[2048], findings[256], verification[256] = "", summary[1600], error[96] = "";
	unsigned int f, bad = 0, cut = 0, lost = cc->expected > cc->n ? cc->expected - cc->n : 0;
	struct value v[F_MAX] = {};
	struct row_bufs bufs;
	int64_t now = boot_to_wall_ns(cc->hdr.proc.ts_ns) / 1000000000;

	cc->state = CC_SHOWN;
	/* A mode set on the connection itself (SSL_set_verify) wins over its context's. */
	if (own ? own->disabled : cc->verify_disabled)
		snprintf(verification, sizeof(verification), "disabled");
	if (cc->verify_failed)
		snprintf(verification + strlen(verification),
			 sizeof(verification) - strlen(verification), "%s%s",
			 verification[0] ? "; " : "", cc->verify_text);
	f = cert_chain_findings(cc->chain, cc->n, cc->has_sni ? cc->sni : NULL, now);
	if (own ? own->disabled : cc->verify_disabled)
		f |= CERT_F_VERIFICATION_DISABLED;
	if (cc->verify_failed)
		f |= CERT_F_VERIFICATION_FAILED;
	cs->chains++;
	for (int i = 0; i < CERT_NR_FINDINGS; i++)
		if (f & (1u << i))
			cs->findings[i]++;
	for (unsigned int i = 0; i < cc->n; i++) {
		bad += cc->chain[i] && !cc->chain[i]->parsed;
		cut += cc->cut[i] != 0;
		lost += !cc->chain[i] && !cc->cut[i];
	}
	cs->undecodable += bad;
	if (cc->expected > cc->n)
		cc->missing = true;
	if (cs->findings_only && !f)
		return;

	ssl_row_begin(v, &cc->hdr, &bufs);
	v[F_OPERATION] = val_str("certificates");
	if (cc->has_sni)
		v[F_SNI] = val_str(cc->sni);
	if (leaf) {
		v[F_FINGERPRINT] = val_str(leaf->fingerprint);
		if (leaf->parsed) {
			v[F_SUBJECT] = val_str(leaf->subject);
			v[F_ISSUER] = val_str(leaf->issuer);
			v[F_SERIAL] = val_str(leaf->serial);
			v[F_NOT_BEFORE] = val_str(leaf->not_before);
			v[F_NOT_AFTER] = val_str(leaf->not_after);
			v[F_SANS] = val_str(leaf->sans);
			v[F_KEY_TYPE] = val_str(leaf->key_type);
			v[F_KEY_BITS] = val_u64(leaf->key_bits);
			v[F_SIGNATURE] = val_str(leaf->signature);
		}
	}
	v[F_CHAIN_LEN] = val_u64(cc->expected > cc->n ? cc->expected : cc->n);
	chain_text(cc, chain, sizeof(chain));
	v[F_CHAIN] = val_str(chain);
	v[F_FINDINGS] = val_str(cert_findings_text(f, findings, sizeof(findings)));
	v[F_VERIFICATION] = val_str(verification);
	if (cc->verify_failed)
		v[F_VERIFY_RESULT] = val_s64(cc->verify_code);
	v[F_TRUNCATED] = val_bool(cc->missing);
	if (bad || cut || lost)
		snprintf(error, sizeof(error), "certificates: %u undecodable, %u cut, %u missing",
			 bad, cut, lost);
	v[F_ERROR] = val_str(error);
	if (!s->json) {
		snprintf(summary, sizeof(summary),
			 "%s <- %s, chain %llu%s%s, until %s, %s %d; %s%s",
			 leaf && leaf->parsed ? leaf->subject : "?",
			 leaf && leaf->parsed ? leaf->issuer : "?",
			 (unsigned long long)v[F_CHAIN_LEN].u, cc->has_sni ? ", sni " : "",
			 cc->has_sni ? cc->sni : "", leaf && leaf->parsed ? leaf->not_after : "?",
			 leaf && leaf->parsed ? leaf->key_type : "?",
			 leaf && leaf->parsed ? leaf->key_bits : 0,
			 f ? "findings: " : "no findings", findings);
		v[F_DATA] = val_bytes(summary, strlen(summary));
	}
	session_emit(s, v);
}

/* The handle starts another connection: what waited is shown, the rest forgotten. */
static void restart(struct session *s, struct ssl_conn *conn, struct certs_conn *cc)
{
	if (cc->state == CC_COLLECTING)
		show(s, conn, cc);
	chain_put(cc);
	memset(cc, 0, sizeof(*cc));
}

static bool same_socket(const struct ssl_sock *a, const struct ssl_sock *b)
{
	return a->fd == b->fd && !memcmp(&a->tuple, &b->tuple, sizeof(a->tuple));
}

static bool same_cert(const struct cert *a, const struct cert *b)
{
	return a && b && a->der_len == b->der_len && !memcmp(a->sha256, b->sha256, CERT_SHA256_LEN);
}

/* --- calls ------------------------------------------------------------------------------ */

static void take_cert(struct session *s, struct ssl_conn *conn, struct certs_conn *cc,
		      const struct ssl_call *c)
{
	struct certs_state *cs = certs_state(s);
	unsigned int index = c->r->ret & 0xffff, count = (c->r->ret >> 16) & 0xffff;
	struct cert *cert;

	/* Cut bytes are not the certificate: no fingerprint, no decoding. */
	cert = c->truncated ? NULL : cert_cache_get(cs->cache, c->data, c->len);
	if (c->truncated)
		cs->cut++;
	if (index == 0 && cc->state != CC_IDLE && cc->n && same_cert(cc->chain[0], cert) &&
	    (cc->state == CC_COLLECTING || same_socket(&cc->hdr.sock, &c->r->sock))) {
		/* The program asked for the same chain again (GnuTLS's get_peers). */
		cc->repeat = 1;
		cert_put(cert);
		return;
	}
	if (index && cc->repeat) {
		cc->repeat = index < cc->n && same_cert(cc->chain[index], cert) ? index + 1 : 0;
		cert_put(cert);
		return;
	}
	/*
	 * Another chain on this handle with nothing said before it (a server
	 * name or a verification result would have started it): another
	 * connection, which knows nothing yet.
	 */
	if (index == 0 && cc->state != CC_IDLE)
		restart(s, conn, cc);
	if (cc->state != CC_COLLECTING) {
		cc->state = CC_COLLECTING;
		cc->hdr = *c->r;
	}
	if (index != cc->n)
		cc->missing = true; /* lost on the way (ring buffer full): counted there */
	if (index >= SSL_CERT_CHAIN) {
		cert_put(cert);
		cc->missing = true;
		return;
	}
	cert_put(cc->chain[index]);
	cc->chain[index] = cert;
	cc->cut[index] = c->truncated ? c->r->len : 0;
	if (index >= cc->n)
		cc->n = index + 1;
	if (count > cc->expected)
		cc->expected = count;
	if (c->truncated || !cert)
		cc->missing = true;
	if (!cc->hdr.sock.known)
		cc->hdr.sock = c->r->sock;
	cc->due_ns = c->r->proc.ts_ns + CERTS_WAIT_NS;
}

static struct certs_conn *certs_conn(struct session *s, const struct ssl_record *r,
				     struct ssl_conn **connp)
{
	struct ssl_conn *conn = conn_get(s, r);

	*connp = conn;
	if (conn && !conn->an[AN_CERTS])
		conn->an[AN_CERTS] = calloc(1, sizeof(struct certs_conn));
	return conn ? conn->an[AN_CERTS] : NULL;
}

static int certs_feed(struct session *s, struct ssl_call *c)
{
	struct certs_state *cs = certs_state(s);
	const struct ssl_record *r = c->r;
	const struct ssl_backend *b;
	struct certs_conn *cc;
	struct ssl_conn *conn;

	if (ssl_kind_has_data(c->op->kind)) {
		/*
		 * Data: the handshake is over, and the program went on with it.
		 * Without plaintext (--no-data, --certs-findings-only) the call has
		 * no connection yet: the bytes it moved say as much.
		 */
		conn = c->conn;
		if (!conn && r->len)
			conn = conn_get(s, r);
		if (conn && (cc = conn->an[AN_CERTS]) && cc->state == CC_COLLECTING)
			show(s, conn, cc);
		return 0;
	}
	if (c->op->kind == SSL_KIND_VERIFY_MODE) {
		mode_set(cs, r->proc.pid, r->handle, r->ret == 0);
		return 0;
	}
	if (c->op->dir != SSL_DIR_CERT && c->op->dir != SSL_DIR_VERIFY)
		return 0;
	cc = certs_conn(s, r, &conn);
	if (!cc)
		return 0; /* out of memory: this connection has no row */
	switch (c->op->kind) {
	case SSL_KIND_CONN_NEW: {
		struct mode_entry *m = mode_find(cs, r->proc.pid, (uint64_t)r->ret);

		/* A new connection inherits its context's verify mode, and has none of its own. */
		restart(s, conn, cc);
		cc->verify_disabled = m && m->disabled;
		if ((m = mode_find(cs, r->proc.pid, r->handle)))
			m->used = false;
		break;
	}
	case SSL_KIND_SNI_CTRL:
	case SSL_KIND_SNI_LEN:
	case SSL_KIND_SNI_STR:
		/* Named before its handshake: a shown or waiting chain was another connection's. */
		if (cc->state != CC_IDLE)
			restart(s, conn, cc);
		cc->has_sni = true;
		snprintf(cc->sni, sizeof(cc->sni), "%.*s", (int)c->len, (const char *)c->data);
		break;
	case SSL_KIND_CERT_DER:
	case SSL_KIND_CERT_ITEM:
	case SSL_KIND_CERT_LIST:
		take_cert(s, conn, cc, c);
		break;
	default: /* a verification result: failed */
		if (cc->state == CC_SHOWN) {
			if (same_socket(&cc->hdr.sock, &r->sock)) {
				cs->late_verifications++; /* after the row: said at exit */
				break;
			}
			restart(s, conn, cc);
		}
		cc->verify_failed = true;
		cc->verify_code = r->ret;
		b = ssl_op_backend(r->op);
		snprintf(cc->verify_text, sizeof(cc->verify_text), "verification failed");
		if (b && b->verify_text)
			b->verify_text(r, cc->verify_text, sizeof(cc->verify_text));
		break;
	}
	return 0;
}

static void certs_conn_end(struct session *s, struct ssl_conn *conn)
{
	struct certs_conn *cc = conn->an[AN_CERTS];

	if (!cc)
		return;
	if (cc->state == CC_COLLECTING)
		show(s, conn, cc);
	chain_put(cc);
	free(cc);
	conn->an[AN_CERTS] = NULL;
}

/* Chains whose connection carried no data for CERTS_WAIT_NS (all of them: at exit). */
static void show_waiting(struct session *s, uint64_t now)
{
	struct ssl_state *st = s->state;

	for (int i = 0; st->conns && i < SSL_MAX_CONNS; i++) {
		struct ssl_conn *conn = &st->conns[i];
		struct certs_conn *cc = conn->used ? conn->an[AN_CERTS] : NULL;

		if (cc && cc->state == CC_COLLECTING && cc->due_ns <= now)
			show(s, conn, cc);
	}
}

static void certs_tick(struct session *s)
{
	show_waiting(s, loupe_clock_ns(CLOCK_BOOTTIME));
}

static void certs_flush(struct session *s)
{
	show_waiting(s, UINT64_MAX);
}

static void certs_stats(struct session *s, gadget_stat_fn fn, void *ctx)
{
	struct certs_state *cs = certs_state(s);
	const struct cert_cache_stats *cache;
	char name[64];

	if (!cs)
		return;
	cache = cert_cache_stats(cs->cache);
	fn("certs_chains", cs->chains, ctx);
	fn("certs_decoded", cache->parsed, ctx);
	fn("certs_cache_hits", cache->hits, ctx);
	fn("certs_cache_evictions", cache->evictions, ctx);
	fn("certs_undecodable", cs->undecodable, ctx);
	fn("certs_cut", cs->cut, ctx);
	for (int i = 0; i < CERT_NR_FINDINGS; i++) {
		snprintf(name, sizeof(name), "certs_%s", cert_finding_name(i));
		fn(name, cs->findings[i], ctx);
	}
}

static void certs_close(struct session *s)
{
	struct certs_state *cs = certs_state(s);

	if (!cs)
		return;
	if (cs->undecodable)
		loupe_warn("%llu certificates could not be decoded (shown as undecodable)",
			   (unsigned long long)cs->undecodable);
	if (cs->cut)
		loupe_warn("%llu certificates were larger than %d bytes or lost bytes on the way",
			   (unsigned long long)cs->cut, SSL_CERT_MAX);
	if (cs->modes_forgotten)
		loupe_warn("%llu verify modes were forgotten (more than %d handles at once): "
			   "verification_disabled may be missing",
			   (unsigned long long)cs->modes_forgotten, MAX_MODES);
	if (cs->late_verifications)
		loupe_warn("%llu verification results came after their connection's certificate "
			   "row and are not in it",
			   (unsigned long long)cs->late_verifications);
	cert_cache_free(cs->cache);
	free(cs);
}

const struct ssl_analysis ssl_analysis_certs = {
	.name = "certs",
	.wanted = certs_wanted,
	.per_conn = true,
	.open = certs_open,
	.feed = certs_feed,
	.conn_end = certs_conn_end,
	.close = certs_close,
	.tick = certs_tick,
	.flush = certs_flush,
	.stats = certs_stats,
};
