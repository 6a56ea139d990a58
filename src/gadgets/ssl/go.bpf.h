/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go's crypto/tls, kernel side.  Included by ssl.bpf.c.
 *
 * No return probes on Go code: a uretprobe replaces the return address on
 * the goroutine's stack, and Go moves stacks (and unwinds them for garbage
 * collection and panics), so it would crash the program.  User space finds
 * every RET instruction of a function and attaches its "return" program
 * there as a plain uprobe.
 *
 * One thread runs many goroutines and a goroutine may move between threads
 * while it waits in Read, so a call is remembered by goroutine: the g
 * pointer (R14 in the register ABI, thread-local storage before), with the
 * process id, in go_calls.  Read and Write may run a handshake inside them:
 * a handshake has its own slot.
 *
 * The attach cookie (0 on kernels without cookies: register ABI) says how
 * to find things:
 *   bit 0       the stack ABI (Go < 1.17): arguments and results on the stack
 *   bits 8-15   stack ABI: the result's offset from SP, in 8-byte words
 *   bits 32-63  where g lies in thread-local storage, from FS (signed)
 */
#ifndef LOUPE_SSL_GO_BPF_H
#define LOUPE_SSL_GO_BPF_H

#define GO_STACK_ABI 0x1

enum { GO_SLOT_IO, GO_SLOT_HS };

struct go_call {
	struct ssl_call call;
	__u64 stack_hi; /* the goroutine's stack top at entry, when buf lies in the stack */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768); /* idle HTTP/2 readers sit in Read: one each */
	__type(key, struct ssl_go_key);
	__type(value, struct go_call);
} go_calls SEC(".maps");

/*
 * The registers Go uses, read once: the verifier takes ctx fields at fixed
 * offsets only, and the compiler would index them.
 */
struct go_regs {
	__u64 ax, bx, cx, sp, r14, cookie;
};

static __always_inline void go_regs(struct pt_regs *ctx, struct go_regs *r)
{
	r->ax = ctx->ax;
	r->bx = ctx->bx;
	r->cx = ctx->cx;
	r->sp = ctx->sp;
	r->r14 = ctx->r14;
	r->cookie = 0;
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_attach_cookie))
		r->cookie = bpf_get_attach_cookie(ctx);
}

/* g from thread-local storage: FS base (set once per thread by Go) plus the offset. */
static __always_inline __u64 go_g_tls(__u64 cookie)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 fsbase = BPF_CORE_READ(task, thread.fsbase), g = 0;
	/* No cookie (before 5.15): the register ABI, linked by Go. */
	__s32 off = cookie ? (__s32)(cookie >> 32) : -8;

	if (bpf_probe_read_user(&g, sizeof(g), (void *)(fsbase + off)))
		loupe_count(LOUPE_CNT_READ_FAULT);
	return g;
}

static __always_inline __u64 go_g(const struct go_regs *r)
{
	return r->cookie & GO_STACK_ABI ? go_g_tls(r->cookie) : r->r14;
}

/* Argument i (0: the receiver) of a method: registers, or the stack above the return address. */
static __always_inline __u64 go_arg(const struct go_regs *r, int i)
{
	__u64 v = 0;

	if (!(r->cookie & GO_STACK_ABI))
		return i == 0 ? r->ax : i == 1 ? r->bx : r->cx;
	if (bpf_probe_read_user(&v, sizeof(v), (void *)(r->sp + 8 * (i + 1))))
		loupe_count(LOUPE_CNT_READ_FAULT);
	return v;
}

/* The first result word at a RET: RAX, or its stack slot. */
static __always_inline __u64 go_result(const struct go_regs *r)
{
	__u64 v = 0;

	if (!(r->cookie & GO_STACK_ABI))
		return r->ax;
	if (bpf_probe_read_user(&v, sizeof(v), (void *)(r->sp + 8 * ((r->cookie >> 8) & 0xff))))
		loupe_count(LOUPE_CNT_READ_FAULT);
	return v;
}

/* struct g starts with its stack bounds, {lo, hi}, in every Go version. */
static __always_inline __u64 go_stack_hi(__u64 g)
{
	__u64 hi = 0;

	bpf_probe_read_user(&hi, sizeof(hi), (void *)(g + 8));
	return hi;
}

/*
 * The endpoints: the thread's system calls belong to this call only while
 * the thread runs this goroutine (note_syscall_fd asks go_runs_goroutine).
 */
static __always_inline void go_mark_thread(__u64 g, __u64 conn, __u32 role, __u64 cookie)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_hs_call hs = { .conn = conn, .role = role, .go_g = g, .go_cookie = cookie };

	loupe_map_insert(&ssl_hs_context, &tid, &hs);
}

static __always_inline void go_unmark_thread(__u64 g)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_hs_call *hs = bpf_map_lookup_elem(&ssl_hs_context, &tid);

	if (hs && hs->go_g == g)
		bpf_map_delete_elem(&ssl_hs_context, &tid);
}

static __always_inline bool go_runs_goroutine(const struct ssl_hs_call *hs)
{
	return go_g_tls(hs->go_cookie) == hs->go_g;
}

static __always_inline int go_enter(struct pt_regs *ctx, __u32 op, __u32 dir, __u32 slot,
				    __u32 role)
{
	struct ssl_go_key key = { .tgid = bpf_get_current_pid_tgid() >> 32, .slot = slot };
	struct go_call gc = {};
	__u64 g, conn, buf = 0, lo = 0;
	struct go_regs r;

	go_regs(ctx, &r);
	key.g = g = go_g(&r);
	conn = go_arg(&r, 0);
	if (slot == GO_SLOT_IO)
		buf = go_arg(&r, 1);
	if (!g || !ssl_call_start(&gc.call, op, dir, (void *)conn, (void *)buf, NULL,
				  slot == GO_SLOT_IO ? CALL_WIDE_RET : CALL_HANDSHAKE))
		return 0;
	/* A buffer in the goroutine's stack moves with it if the stack grows. */
	if (buf && !bpf_probe_read_user(&lo, sizeof(lo), (void *)g) && buf >= lo) {
		gc.stack_hi = go_stack_hi(g);
		if (buf >= gc.stack_hi)
			gc.stack_hi = 0;
	}
	loupe_map_insert(&go_calls, &key, &gc);
	go_mark_thread(g, conn, role, r.cookie);
	return 0;
}

static __always_inline int go_exit(struct pt_regs *ctx, __u32 slot)
{
	struct ssl_go_key key = { .tgid = bpf_get_current_pid_tgid() >> 32, .slot = slot };
	struct ssl_call call;
	struct go_call *gcp;
	struct go_regs r;
	__u64 g, res, hi;

	go_regs(ctx, &r);
	key.g = g = go_g(&r);
	gcp = bpf_map_lookup_elem(&go_calls, &key);
	if (!gcp)
		return 0;
	call = gcp->call;
	if (gcp->stack_hi && (hi = go_stack_hi(g)) != gcp->stack_hi)
		call.buf += hi - gcp->stack_hi; /* copystack moved it by as much as the top */
	bpf_map_delete_elem(&go_calls, &key);
	go_unmark_thread(g);
	res = go_result(&r);
	/* Read/Write: the byte count; a handshake: 1 when the error is nil. */
	return ssl_emit_call(ctx, &call, slot == GO_SLOT_IO ? (long)res : res == 0);
}

#define SSL_BPF_GO(lib, func, dir, slot, role)                                  \
	SEC("uprobe")                                                           \
	int trace_uprobe_##lib##_##func(struct pt_regs *ctx)                    \
	{                                                                       \
		return go_enter(ctx, SSL_OP_##func, SSL_DIR_##dir, slot, role); \
	}                                                                       \
	SEC("uprobe")                                                           \
	int trace_uprobe_##lib##_##func##_ret(struct pt_regs *ctx)              \
	{                                                                       \
		return go_exit(ctx, slot);                                      \
	}
#define SSL_BPF_GO_RW(lib, func, dir) SSL_BPF_GO(lib, func, dir, GO_SLOT_IO, SSL_ROLE_UNKNOWN)
#define SSL_BPF_GO_HS_CLIENT(lib, func, dir) SSL_BPF_GO(lib, func, dir, GO_SLOT_HS, SSL_ROLE_CLIENT)
#define SSL_BPF_GO_HS_SERVER(lib, func, dir) SSL_BPF_GO(lib, func, dir, GO_SLOT_HS, SSL_ROLE_SERVER)

/* func (c *Conn) Close() error: the connection is over (entry only, no RET programs). */
#define SSL_BPF_GO_CONN_END(lib, func, dir)                              \
	SEC("uprobe")                                                    \
	int trace_uprobe_##lib##_##func(struct pt_regs *ctx)             \
	{                                                                \
		struct go_regs r;                                        \
                                                                         \
		go_regs(ctx, &r);                                        \
		return conn_retire(SSL_OP_##func, go_arg(&r, 0), false); \
	}

#endif /* LOUPE_SSL_GO_BPF_H */
