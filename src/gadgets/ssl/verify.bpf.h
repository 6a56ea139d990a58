/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Certificate verification (--verify), kernel side: a failed result is an
 * event (OpenSSL's SSL_get_verify_result, GnuTLS's verify_peers status).
 * Turning verification off (VERIFY_MODE) needs no context: see ssl.bpf.c.
 * Included by ssl.bpf.c.
 */
#ifndef LOUPE_SSL_VERIFY_BPF_H
#define LOUPE_SSL_VERIFY_BPF_H

struct verify_call {
	__u64 conn;
	__u64 status_ptr; /* unsigned int * of gnutls_certificate_verify_peers* */
	__u32 op;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* tid */
	__type(value, struct verify_call);
} verify_context SEC(".maps");

/*
 * The outermost verification call of a thread is the one reported: GnuTLS's
 * verify_peers2/3 call verify_peers inside the library, and each is probed.
 */
static __always_inline int verify_enter(__u32 op, const void *conn, const void *status)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct verify_call v = { (__u64)conn, (__u64)status, op };

	if (loupe_discard_current() || bpf_map_lookup_elem(&verify_context, &tid))
		return 0;
	loupe_map_insert(&verify_context, &tid, &v);
	return 0;
}

/* The call remembered for this return, if it is the one that entered (not a nested one). */
static __always_inline struct verify_call *verify_take(__u32 op, struct verify_call *out)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct verify_call *v = bpf_map_lookup_elem(&verify_context, &tid);

	if (!v || v->op != op)
		return NULL;
	*out = *v;
	bpf_map_delete_elem(&verify_context, &tid);
	return out;
}

/* A result other than 0 (X509_V_OK) is the event. */
static __always_inline int verify_result_exit(struct pt_regs *ctx, __u32 op)
{
	struct verify_call v;
	long ret = PT_REGS_RC(ctx);

	if (!verify_take(op, &v) || ret == 0)
		return 0;
	return emit_meta(op, v.conn, ret, META_CONN);
}

/* The call succeeded (0) and left a non-zero *status: verification failed. */
static __always_inline int verify_status_exit(struct pt_regs *ctx, __u32 op)
{
	struct verify_call v;
	__u32 status = 0;

	if (!verify_take(op, &v) || (int)PT_REGS_RC(ctx) != 0)
		return 0;
	if (bpf_probe_read_user(&status, sizeof(status), (void *)v.status_ptr)) {
		loupe_count(LOUPE_CNT_READ_FAULT);
		return 0;
	}
	return status ? emit_meta(op, v.conn, status, META_CONN) : 0;
}

#endif /* LOUPE_SSL_VERIFY_BPF_H */
