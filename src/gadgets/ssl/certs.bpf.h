/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Certificates (--certs), kernel side: the peer's certificates as the DER
 * bytes that pass through a public function during the handshake (never the
 * libraries' private structures), and what judging them needs: the server
 * name the client asked for and, for OpenSSL, the context a connection was
 * made from (whose verify mode it inherits).  Included by ssl.bpf.c.
 *
 *   OpenSSL  d2i_X509(&x, &der, len): libssl decodes each certificate of the
 *            Certificate message with it.  Kept on a thread inside a TLS call
 *            of a known connection, when called from libssl's image (learned
 *            at SSL_new): libcrypto loads trusted certificates with it too,
 *            and inside the same call (curl reads its CA file from within
 *            the handshake; a CA directory is read while the chain is
 *            verified).  Where libssl's image is not known (kernels without
 *            attach cookies) or is libcrypto's too (OpenSSL linked into an
 *            executable), the calls inside d2i_X509_AUX() are left out at least.
 *   GnuTLS   gnutls_certificate_get_peers(session, &n): the chain as received,
 *            when the program asks for it (the TLS 1.3 handshake itself copies
 *            the certificates with internal functions only).
 *   NSS      CERT_NewTempCertificate(db, &item, ...): libssl3 makes each
 *            received certificate with it; kept when called from libssl3.so's
 *            image (nss_ranges), inside a TLS call.
 */
#ifndef LOUPE_SSL_CERTS_BPF_H
#define LOUPE_SSL_CERTS_BPF_H

const volatile bool trace_certs = false;

/* A thread's certificate state, by tid (deleted when the thread exits). */
struct certs_thread {
	__u64 conn;    /* connection of the last certificate copied */
	__u64 call_id; /* and the TLS call it was copied in */
	__u64 arg0;    /* entry arguments kept for the return probe */
	__u64 arg1;
	__u32 index;  /* certificates copied so far in that call */
	__u32 nested; /* inside d2i_X509_AUX */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct certs_thread);
} certs_threads SEC(".maps");

/* libssl's image in each OpenSSL process, by tgid: d2i_X509's callers must lie in it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct nss_range);
} certs_libssl SEC(".maps");

/* The header of a certificate's records, built once per certificate. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ssl_record);
} certs_heap SEC(".maps");

static __always_inline struct certs_thread *certs_thread_get(__u32 tid)
{
	struct certs_thread *t = bpf_map_lookup_elem(&certs_threads, &tid), zero = {};

	if (t || loupe_map_insert(&certs_threads, &tid, &zero))
		return t;
	return bpf_map_lookup_elem(&certs_threads, &tid);
}

/* The connection of the TLS call this thread is in (call_id 0: a handshake call). */
static __always_inline bool certs_tls_call(__u64 *conn, __u64 *call_id)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_call *c = bpf_map_lookup_elem(&ssl_context, &tid);
	struct ssl_hs_call *hs;

	if (c) {
		*conn = c->conn;
		*call_id = c->start_ns;
		return true;
	}
	hs = bpf_map_lookup_elem(&ssl_hs_context, &tid);
	if (!hs)
		return false;
	*conn = hs->conn;
	*call_id = 0;
	return true;
}

/*
 * One certificate into the ring buffer: a call of its own (SSL_DIR_CERT),
 * its DER bytes in records of up to SSL_CHUNK, at most SSL_CERT_MAX bytes
 * (len keeps the real size: user space sees the cut).
 */
static __always_inline int certs_emit(__u32 op, __u64 conn, const __u8 *der, __u64 len, __u32 index,
				      __u32 count)
{
	__u32 zero = 0, captured = len < SSL_CERT_MAX ? len : SSL_CERT_MAX;
	struct ssl_record *hdr = bpf_map_lookup_elem(&certs_heap, &zero);

	if (!hdr)
		return 0;
	meta_header(hdr, op); /* flags: each record's own, below */
	hdr->ret = (__s64)((count & 0xffff) << 16 | (index & 0xffff));
	hdr->len = len;
	hdr->captured = captured;
	conn_fill(hdr, conn, true);
	for (__u32 i = 0; i < SSL_CERT_CHUNKS; i++) {
		__u32 off = i * SSL_CHUNK, n = 0;
		__u8 flags = 0;

		if (off < captured)
			n = captured - off < SSL_CHUNK ? captured - off : SSL_CHUNK;
		else if (i)
			break;
		if (off + n >= captured)
			flags = SSL_F_LAST;
		/* A record that cannot be reserved ends the certificate: counted lost. */
		if (emit_record(hdr, der + off, off, n, flags) || flags)
			break;
	}
	return 0;
}

/* A certificate decoded inside a TLS call: the next of that call's chain. */
static __always_inline int certs_in_call(__u32 op, const void *der, __u64 len)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct certs_thread *t;
	__u64 conn, call_id;

	if (!certs_tls_call(&conn, &call_id) || loupe_discard_current())
		return 0;
	t = certs_thread_get(tid);
	if (!t || t->nested)
		return 0;
	if (t->conn != conn || t->call_id != call_id) {
		t->conn = conn;
		t->call_id = call_id;
		t->index = 0;
	}
	return certs_emit(op, conn, der, len, t->index++, 0);
}

/* The address the function entered will return to, in its caller; 0 if unreadable. */
static __always_inline __u64 certs_caller(struct pt_regs *ctx)
{
	__u64 ip = 0;

#ifdef __TARGET_ARCH_x86
	/* On top of the stack at entry. */
	bpf_probe_read_user(&ip, sizeof(ip), (void *)PT_REGS_SP(ctx));
#else
	ip = PT_REGS_RET(ctx); /* the link register */
#endif
	return ip;
}

static __always_inline bool certs_called_from(struct pt_regs *ctx, const struct nss_range *r)
{
	__u64 ip = certs_caller(ctx);

	return ip >= r->lo && ip < r->hi;
}

/* d2i_X509(X509 **a, const unsigned char **in, long len): the bytes are at *in. */
static __always_inline int certs_der_enter(struct pt_regs *ctx, __u32 op, const void *inp, long len)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct nss_range *lib;
	__u64 conn, call_id;
	const void *der;

	/* Most calls are outside TLS calls (a CA bundle loaded): the cheap test first. */
	if (!certs_tls_call(&conn, &call_id))
		return 0;
	lib = bpf_map_lookup_elem(&certs_libssl, &tgid);
	if (lib && !certs_called_from(ctx, lib))
		return 0;
	if (len <= 0 || bpf_probe_read_user(&der, sizeof(der), inp)) {
		if (len > 0)
			loupe_count(LOUPE_CNT_READ_FAULT);
		return 0;
	}
	return certs_in_call(op, der, len);
}

/* d2i_X509_AUX: the d2i_X509 inside it decodes a trusted certificate, not the peer's. */
static __always_inline int certs_nest_enter(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct certs_thread *t;
	__u64 conn, call_id;

	if (!certs_tls_call(&conn, &call_id))
		return 0;
	t = certs_thread_get(tid);
	if (t)
		t->nested++;
	return 0;
}

static __always_inline int certs_nest_exit(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct certs_thread *t = bpf_map_lookup_elem(&certs_threads, &tid);

	if (t && t->nested)
		t->nested--;
	return 0;
}

/*
 * CERT_NewTempCertificate(CERTCertDBHandle *, SECItem *der, ...): NSS makes
 * certificates with it everywhere; the received ones are made by libssl3, so
 * the return address must lie in this process's libssl3.so.
 */
static __always_inline int certs_item_enter(struct pt_regs *ctx, __u32 op, const void *item)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct nss_range *r = bpf_map_lookup_elem(&nss_ranges, &tgid);
	struct {
		__u32 type;
		__u32 pad;
		__u64 data;
		__u32 len;
		__u32 pad2;
	} sec;

	if (!r || !certs_called_from(ctx, r))
		return 0;
	if (bpf_probe_read_user(&sec, sizeof(sec), item)) {
		loupe_count(LOUPE_CNT_READ_FAULT);
		return 0;
	}
	return certs_in_call(op, (const void *)sec.data, sec.len);
}

/* gnutls_certificate_get_peers(session, unsigned int *n): keep both for the return. */
static __always_inline int certs_args_enter(const void *a0, const void *a1)
{
	struct certs_thread *t;

	if (loupe_discard_current())
		return 0;
	t = certs_thread_get((__u32)bpf_get_current_pid_tgid());
	if (t) {
		t->arg0 = (__u64)a0;
		t->arg1 = (__u64)a1;
	}
	return 0;
}

/* Take what the entry kept; false when the entry was filtered out. */
static __always_inline bool certs_args_take(__u64 *a0, __u64 *a1)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct certs_thread *t = bpf_map_lookup_elem(&certs_threads, &tid);

	if (!t || !t->arg0)
		return false;
	*a0 = t->arg0;
	*a1 = t->arg1;
	t->arg0 = t->arg1 = 0;
	return true;
}

/* The returned array of gnutls_datum_t { unsigned char *data; unsigned int size; }. */
static __always_inline int certs_list_exit(struct pt_regs *ctx, __u32 op)
{
	const __u8 *list = (const void *)PT_REGS_RC(ctx);
	__u64 session, nptr;
	__u32 n = 1;

	if (!certs_args_take(&session, &nptr) || !list)
		return 0;
	/* Without the count (n == NULL) only the first, the peer's own, is sure to be there. */
	if (nptr && bpf_probe_read_user(&n, sizeof(n), (void *)nptr)) {
		loupe_count(LOUPE_CNT_READ_FAULT);
		return 0;
	}
	for (__u32 i = 0; i < SSL_CERT_CHAIN && i < n; i++) {
		struct {
			__u64 data;
			__u32 size;
			__u32 pad;
		} d;

		if (bpf_probe_read_user(&d, sizeof(d), list + i * sizeof(d))) {
			loupe_count(LOUPE_CNT_READ_FAULT);
			break;
		}
		certs_emit(op, session, (const void *)d.data, d.size, i, nptr ? n : 0);
	}
	return 0;
}

/* A server name (SNI), at most SSL_CERT_NAME_MAX bytes; len 0: NUL-terminated. */
static __always_inline int certs_name(__u32 op, __u64 conn, const char *name, __u64 len)
{
	struct ssl_record *r;
	long n;

	if (!name || loupe_discard_current())
		return 0;
	r = loupe_reserve(sizeof(*r) + SSL_CERT_NAME_MAX);
	if (!r)
		return 0;
	meta_header(r, op);
	conn_fill(r, conn, true);
	if (len) {
		n = len < SSL_CERT_NAME_MAX ? len : SSL_CERT_NAME_MAX;
		/* Re-clamp behind a barrier: the verifier must see the bound. */
		asm volatile("" : "+r"(n));
		if (n > SSL_CERT_NAME_MAX)
			n = SSL_CERT_NAME_MAX;
		if (n > 0 && bpf_probe_read_user(r->data, n, name))
			n = -1;
	} else {
		n = bpf_probe_read_user_str(r->data, SSL_CERT_NAME_MAX, name);
		if (n > 0)
			n--; /* the NUL */
	}
	if (n < 0) {
		n = 0;
		r->flags |= SSL_F_READ_FAULT;
		loupe_count(LOUPE_CNT_READ_FAULT);
	}
	r->len = len ? len : (__u64)n;
	r->captured = r->chunk_len = n;
	loupe_submit(r);
	return 0;
}

/* SSL_new(SSL_CTX *ctx): where libssl lies (its attach cookie says), and its context. */
static __always_inline int certs_conn_new_enter(struct pt_regs *ctx, const void *parent)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct nss_range r;

	if (!bpf_map_lookup_elem(&certs_libssl, &tgid)) {
		probe_image(ctx, &r);
		loupe_map_insert(&certs_libssl, &tgid, &r);
	}
	return parent ? certs_args_enter(parent, NULL) : 0;
}

/* The new SSL * and the context it was made from, for user space. */
static __always_inline int certs_conn_new_exit(struct pt_regs *ctx, __u32 op)
{
	__u64 parent, unused, conn = PT_REGS_RC(ctx);

	if (!certs_args_take(&parent, &unused) || !conn)
		return 0;
	/* A new handle is a new connection, even if the last one's free went unseen. */
	conn_retire(op, conn, false);
	return emit_meta(op, conn, parent, META_CONN);
}

#define SSL_CTRL_SET_TLSEXT_HOSTNAME 55 /* SSL_set_tlsext_host_name() */
#define GNUTLS_NAME_DNS 1

/* --- programs, by kind (probes.h) ----------------------------------------------------- */

#define SSL_BPF_CERT_DER(lib, func, dir)                              \
	SSL_UPROBE(lib, func, void *out, const void *inp, long len)   \
	{                                                             \
		return certs_der_enter(ctx, SSL_OP_##func, inp, len); \
	}

#define SSL_BPF_CERT_NEST(lib, func, dir)  \
	SSL_UPROBE(lib, func)              \
	{                                  \
		return certs_nest_enter(); \
	}                                  \
	SSL_URETPROBE(lib, func)           \
	{                                  \
		return certs_nest_exit();  \
	}

#define SSL_BPF_CERT_ITEM(lib, func, dir)                          \
	SSL_UPROBE(lib, func, void *db, const void *item)          \
	{                                                          \
		return certs_item_enter(ctx, SSL_OP_##func, item); \
	}

#define SSL_BPF_CERT_LIST(lib, func, dir)                   \
	SSL_UPROBE(lib, func, void *session, void *n)       \
	{                                                   \
		return certs_args_enter(session, n);        \
	}                                                   \
	SSL_URETPROBE(lib, func)                            \
	{                                                   \
		return certs_list_exit(ctx, SSL_OP_##func); \
	}

#define SSL_BPF_SNI_CTRL(lib, func, dir)                                       \
	SSL_UPROBE(lib, func, void *ssl, int cmd, long larg, const char *name) \
	{                                                                      \
		if (cmd != SSL_CTRL_SET_TLSEXT_HOSTNAME)                       \
			return 0;                                              \
		return certs_name(SSL_OP_##func, (__u64)ssl, name, 0);         \
	}

#define SSL_BPF_SNI_LEN(lib, func, dir)                                             \
	SSL_UPROBE(lib, func, void *session, int type, const char *name, __u64 len) \
	{                                                                           \
		if (type != GNUTLS_NAME_DNS || !len)                                \
			return 0;                                                   \
		return certs_name(SSL_OP_##func, (__u64)session, name, len);        \
	}

#define SSL_BPF_SNI_STR(lib, func, dir)                                   \
	SSL_UPROBE(lib, func, void *handle, const char *name)             \
	{                                                                 \
		return certs_name(SSL_OP_##func, (__u64)handle, name, 0); \
	}

#define SSL_BPF_CONN_NEW(lib, func, dir)                        \
	SSL_UPROBE(lib, func, void *parent)                     \
	{                                                       \
		return certs_conn_new_enter(ctx, parent);       \
	}                                                       \
	SSL_URETPROBE(lib, func)                                \
	{                                                       \
		return certs_conn_new_exit(ctx, SSL_OP_##func); \
	}

#endif /* LOUPE_SSL_CERTS_BPF_H */
