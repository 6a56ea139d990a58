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
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* tid */
	__type(value, struct verify_call);
} verify_context SEC(".maps");

static __always_inline int verify_enter(const void *conn, const void *status)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct verify_call v = { (__u64)conn, (__u64)status };

	if (loupe_discard_current())
		return 0;
	loupe_map_insert(&verify_context, &tid, &v);
	return 0;
}

static __always_inline struct verify_call *verify_take(struct verify_call *out)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct verify_call *v = bpf_map_lookup_elem(&verify_context, &tid);

	if (!v)
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

	if (!verify_take(&v) || ret == 0)
		return 0;
	return emit_meta(op, v.conn, ret, true);
}

/* The call succeeded (0) and left a non-zero *status: verification failed. */
static __always_inline int verify_status_exit(struct pt_regs *ctx, __u32 op)
{
	struct verify_call v;
	__u32 status = 0;

	if (!verify_take(&v) || (int)PT_REGS_RC(ctx) != 0)
		return 0;
	if (bpf_probe_read_user(&status, sizeof(status), (void *)v.status_ptr)) {
		loupe_count(LOUPE_CNT_READ_FAULT);
		return 0;
	}
	return status ? emit_meta(op, v.conn, status, true) : 0;
}

#endif /* LOUPE_SSL_VERIFY_BPF_H */
