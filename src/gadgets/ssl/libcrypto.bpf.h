/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libcrypto latency (--crypto), kernel side: records without data.
 * Included by ssl.bpf.c.
 *
 * One slot per function and thread: EVP_DigestSign calls EVP_PKEY_sign, which
 * may call RSA_sign...; each level keeps its own start time.
 */
#ifndef LOUPE_SSL_LIBCRYPTO_BPF_H
#define LOUPE_SSL_LIBCRYPTO_BPF_H

struct crypto_calls {
	__u64 start_ns[SSL_NR_CRYPTO];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct crypto_calls);
} crypto_context SEC(".maps");

static __always_inline int crypto_enter(__u32 slot)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct crypto_calls *c;

	if (slot >= SSL_NR_CRYPTO || loupe_discard_current())
		return 0;
	c = bpf_map_lookup_elem(&crypto_context, &tid);
	if (!c) {
		struct crypto_calls zero = {};

		if (loupe_map_insert(&crypto_context, &tid, &zero))
			return 0;
		c = bpf_map_lookup_elem(&crypto_context, &tid);
		if (!c)
			return 0;
	}
	c->start_ns[slot] = loupe_now_ns();
	return 0;
}

static __always_inline int crypto_exit(struct pt_regs *ctx, __u32 op, __u32 slot)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct crypto_calls *c = bpf_map_lookup_elem(&crypto_context, &tid);
	struct ssl_record *r;
	__u64 start;
	bool busy = false;

	if (!c || slot >= SSL_NR_CRYPTO)
		return 0;
	start = c->start_ns[slot];
	c->start_ns[slot] = 0;
	for (int i = 0; i < SSL_NR_CRYPTO; i++)
		busy |= c->start_ns[i] != 0;
	if (!busy)
		bpf_map_delete_elem(&crypto_context, &tid);
	if (!start)
		return 0;
	r = loupe_reserve(sizeof(*r));
	if (!r)
		return 0;
	__builtin_memset(r, 0, sizeof(*r));
	loupe_fill_proc(&r->proc);
	r->call_id = start;
	r->latency_ns = r->proc.ts_ns - start;
	r->ret = (int)PT_REGS_RC(ctx);
	r->op = op;
	r->sock.fd = -1;
	r->flags = SSL_F_LAST;
	loupe_submit(r);
	return 0;
}

#endif /* LOUPE_SSL_LIBCRYPTO_BPF_H */
