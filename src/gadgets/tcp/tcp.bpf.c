// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcp: connect, accept and close of TCP connections, from tracepoints only.
 *
 * The syscall tracepoints of connect/accept/accept4 say who is asking and on
 * which fd (tcp_tid_fd, tcp_tid_sock, by thread).  sock/inet_sock_set_state
 * says what happened to the socket, often in softirq where the current task
 * is whoever was interrupted: so the owner of each traced connection is kept
 * by socket in tuplepid, from the moment connect() moves it to SYN_SENT (in
 * the caller's context) or accept() returns it, until it reaches TCP_CLOSE.
 */
#include "loupe.bpf.h"
#include "tcp.h"

#define ECONNABORTED 103
#define EISCONN 106
#define EALREADY 114
#define EINPROGRESS 115

enum { OP_CONNECT = 1, OP_ACCEPT };

/* A thread inside connect() or accept(), from entry to exit. */
struct tid_ctx {
	__s32 fd;
	__u8 op;
	__u8 syn_sent; /* this call moved the socket to SYN_SENT */
	__u8 deferred; /* ...and back to CLOSE with no sk_err: the return value says why */
	__u8 pad;
	__u8 addr[28]; /* the sockaddr given to connect() (sockaddr_in6 at most) */
};

/* Who owns a traced connection, kept by socket. */
struct tcp_owner {
	struct loupe_proc proc;
	__u64 established_ns;
	__s32 fd;
	__u32 flags;
};

#define OWN_PROC 0x1	    /* proc and fd are set (connector or acceptor) */
#define OWN_CONNECTING 0x2  /* SYN_SENT: the connect outcome is pending */
#define OWN_ESTABLISHED 0x4 /* established_ns is set: a close is reported */
#define OWN_ACTIVE 0x8	    /* opened by connect(): our SYN counts in bytes_acked */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32); /* tid */
	__type(value, struct tid_ctx);
} tcp_tid_fd SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);   /* tid */
	__type(value, __u64); /* struct sock * being connected, or the listener */
} tcp_tid_sock SEC(".maps");

/*
 * Keyed by struct sock *, not by 4-tuple as in Inspektor Gadget: when connect()
 * moves the socket to SYN_SENT its source port is not chosen yet, and the
 * socket names the connection in every later state change anyway.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u64);
	__type(value, struct tcp_owner);
} tuplepid SEC(".maps");

const volatile bool connect_only = false;
const volatile bool accept_only = false;
const volatile bool failure_only = false;
const volatile __u16 filter_family = 0; /* LOUPE_AF_INET, LOUPE_AF_INET6 or 0 */
const volatile __u16 filter_port = 0;	/* either end, 0 = any */

static __always_inline __u32 current_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

static __always_inline __u16 sk_family(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_family);
}

/* A TCP socket of a family we trace (and the one asked for with --family). */
static __always_inline bool sk_wanted(struct sock *sk)
{
	__u16 family = sk_family(sk);

	if (family != LOUPE_AF_INET && family != LOUPE_AF_INET6)
		return false;
	if (filter_family && family != filter_family)
		return false;
	/* sk_protocol and sk_type were bitfields before 5.6: read them as such. */
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) == IPPROTO_TCP &&
	       BPF_CORE_READ_BITFIELD_PROBED(sk, sk_type) == SOCK_STREAM;
}

static __always_inline bool ports_wanted(__u16 sport, __u16 dport)
{
	return !filter_port || sport == filter_port || dport == filter_port;
}

/*
 * The local port.  inet_sport, not skc_num: the tracepoint of a move to
 * TCP_CLOSE fires after the port was released (skc_num = 0).
 */
static __always_inline __u16 sk_sport(struct sock *sk)
{
	return bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
}

/* Tuple and netns of sk into e. */
static __always_inline void fill_tuple(struct tcp_event *e, struct sock *sk)
{
	loupe_sock_tuple(sk, &e->tuple);
	e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/*
 * A record for sk, or NULL when --port rules it out or the ring buffer is
 * full (counted).  The caller fills proc and submits.
 */
static __always_inline struct tcp_event *event_new(struct sock *sk, __u8 type)
{
	__u16 sport = sk_sport(sk);
	__u16 dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	struct tcp_event *e;

	if (!ports_wanted(sport, dport))
		return NULL;
	e = loupe_reserve(sizeof(*e));
	if (!e)
		return NULL;
	fill_tuple(e, sk);
	e->type = type;
	e->pad[0] = e->pad[1] = e->pad[2] = 0;
	e->fd = -1;
	e->accept_fd = -1;
	e->error = 0;
	e->duration_ns = 0;
	e->bytes_sent = 0;
	e->bytes_received = 0;
	return e;
}

/* An event on behalf of the connection's owner, stamped now. */
static __always_inline void event_set_owner(struct tcp_event *e, const struct tcp_owner *o)
{
	__builtin_memcpy(&e->proc, &o->proc, sizeof(e->proc));
	e->proc.ts_ns = loupe_now_ns();
}

static __always_inline void emit_connect(struct sock *sk, const struct tcp_owner *o, int err)
{
	struct tcp_event *e;

	if (failure_only && !err)
		return;
	e = event_new(sk, TCP_EV_CONNECT);
	if (!e)
		return;
	event_set_owner(e, o);
	e->fd = o->fd;
	e->error = err;
	loupe_submit(e);
}

/* CLOSE -> SYN_SENT runs inside connect(): remember who is connecting. */
static __always_inline void on_syn_sent(struct sock *sk, __u64 key)
{
	__u32 tid = current_tid();
	struct tcp_owner o = {};
	struct tid_ctx *ctx;
	__u64 *s;

	s = bpf_map_lookup_elem(&tcp_tid_sock, &tid);
	if (!s || *s != key)
		return;
	ctx = bpf_map_lookup_elem(&tcp_tid_fd, &tid);
	if (!ctx || ctx->op != OP_CONNECT)
		return;
	loupe_fill_proc(&o.proc);
	o.fd = ctx->fd;
	o.flags = OWN_PROC | OWN_CONNECTING | OWN_ACTIVE;
	if (!loupe_map_insert(&tuplepid, &key, &o))
		ctx->syn_sent = 1;
}

static __always_inline void on_connected(struct sock *sk, __u64 key)
{
	struct tcp_owner *o = bpf_map_lookup_elem(&tuplepid, &key);

	if (!o || !(o->flags & OWN_CONNECTING))
		return;
	emit_connect(sk, o, 0);
	if (connect_only || failure_only) {
		/* No close will be shown: nothing more to remember. */
		bpf_map_delete_elem(&tuplepid, &key);
		return;
	}
	o->flags = (o->flags & ~OWN_CONNECTING) | OWN_ESTABLISHED;
	o->established_ns = loupe_now_ns();
}

/*
 * SYN_RECV -> ESTABLISHED, in softirq: the acceptor is not known yet, only the
 * start of the connection's life.  accept() fills in the owner.
 */
static __always_inline void on_passive_established(struct sock *sk, __u64 key)
{
	struct tcp_owner *o, n = {};

	if (connect_only || accept_only || failure_only)
		return;
	/* Every passive connection on the host passes here: keep only those asked for. */
	if (filter_family && sk_family(sk) != filter_family)
		return;
	if (!ports_wanted(sk_sport(sk), bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport))))
		return;
	o = bpf_map_lookup_elem(&tuplepid, &key);
	if (o) {
		/* Accepted before the handshake ended (TCP Fast Open). */
		if (!(o->flags & OWN_ESTABLISHED)) {
			o->established_ns = loupe_now_ns();
			o->flags |= OWN_ESTABLISHED;
		}
		return;
	}
	n.established_ns = loupe_now_ns();
	n.fd = -1;
	n.flags = OWN_ESTABLISHED;
	loupe_map_insert(&tuplepid, &key, &n);
}

/*
 * Payload bytes only.  The kernel's counters also count sequence numbers
 * taken by SYN and FIN: bytes_acked our SYN when we opened the connection
 * and our FIN once it was acknowledged, bytes_received the peer's FIN when
 * it reached this socket (tcp_fin sets SOCK_DONE).
 */
static __always_inline void read_bytes(struct tcp_event *e, struct sock *sk, int oldstate,
				       __u32 flags)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u64 sent = BPF_CORE_READ(tp, bytes_acked);
	__u64 received = BPF_CORE_READ(tp, bytes_received);
	__u64 sk_flags = BPF_CORE_READ(sk, __sk_common.skc_flags);

	if ((flags & OWN_ACTIVE) && sent)
		sent--;
	if ((oldstate == TCP_FIN_WAIT1 || oldstate == TCP_FIN_WAIT2 || oldstate == TCP_CLOSING ||
	     oldstate == TCP_LAST_ACK) &&
	    BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq) && sent)
		sent--;
	if ((sk_flags & (1ULL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))) && received)
		received--;
	e->bytes_sent = sent;
	e->bytes_received = received;
}

static __always_inline void on_close(struct sock *sk, __u64 key, int oldstate)
{
	struct tcp_owner *o = bpf_map_lookup_elem(&tuplepid, &key);
	struct tcp_event *e;

	if (!o)
		return;
	if (o->flags & OWN_CONNECTING) {
		int err = BPF_CORE_READ(sk, sk_err);

		if (!err)
			err = BPF_CORE_READ(sk, sk_err_soft);
		if (!err) {
			__u32 tid = current_tid();
			__u64 *s = bpf_map_lookup_elem(&tcp_tid_sock, &tid);

			if (s && *s == key) {
				/* Failed inside connect() itself: its return value is the error. */
				struct tid_ctx *ctx = bpf_map_lookup_elem(&tcp_tid_fd, &tid);

				if (ctx)
					ctx->deferred = 1;
				bpf_map_delete_elem(&tuplepid, &key);
				return;
			}
			/* The program closed the socket before the handshake ended. */
			err = ECONNABORTED;
		}
		emit_connect(sk, o, err);
		bpf_map_delete_elem(&tuplepid, &key);
		return;
	}
	if ((o->flags & (OWN_ESTABLISHED | OWN_PROC)) == (OWN_ESTABLISHED | OWN_PROC) &&
	    !connect_only && !accept_only && !failure_only) {
		e = event_new(sk, TCP_EV_CLOSE);
		if (e) {
			event_set_owner(e, o);
			e->duration_ns = e->proc.ts_ns - o->established_ns;
			read_bytes(e, sk, oldstate, o->flags);
			loupe_submit(e);
		}
	}
	bpf_map_delete_elem(&tuplepid, &key);
}

static __always_inline int handle_state(struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;

	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	switch (newstate) {
	case TCP_SYN_SENT:
		if (oldstate == TCP_CLOSE)
			on_syn_sent(sk, key);
		break;
	case TCP_ESTABLISHED:
		if (oldstate == TCP_SYN_SENT)
			on_connected(sk, key);
		else if (oldstate == TCP_SYN_RECV)
			on_passive_established(sk, key);
		break;
	case TCP_CLOSE:
		on_close(sk, key, oldstate);
		break;
	}
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_state_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	return handle_state((struct sock *)sk, oldstate, newstate);
}

SEC("tracepoint/sock/inet_sock_set_state")
int tcp_state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	return handle_state((struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate);
}

/* Safety net: a socket freed without passing TCP_CLOSE must not leave its owner behind. */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(tcp_destroy_btf, struct sock *sk)
{
	__u64 key = (__u64)sk;

	bpf_map_delete_elem(&tuplepid, &key);
	return 0;
}

SEC("tracepoint/tcp/tcp_destroy_sock")
int tcp_destroy_tp(struct trace_event_raw_tcp_event_sk *ctx)
{
	__u64 key = (__u64)ctx->skaddr;

	bpf_map_delete_elem(&tuplepid, &key);
	return 0;
}

/* --- syscalls ------------------------------------------------------------- */

static __always_inline int enter_call(__u8 op, long fd, const void *uaddr, long addrlen)
{
	__u32 tid = current_tid();
	struct tid_ctx ctx = {};
	struct sock *sk;
	__u64 key;

	if (loupe_call_filtered(false))
		return 0;
	sk = loupe_fd_sock(fd);
	if (!sk || !sk_wanted(sk))
		return 0;
	ctx.fd = fd;
	ctx.op = op;
	if (uaddr && addrlen > 0) {
		__u32 len = addrlen < sizeof(ctx.addr) ? addrlen : sizeof(ctx.addr);

		bpf_probe_read_user(ctx.addr, len & 31, uaddr);
	}
	key = (__u64)sk;
	if (loupe_map_insert(&tcp_tid_fd, &tid, &ctx))
		return 0;
	if (loupe_map_insert(&tcp_tid_sock, &tid, &key))
		bpf_map_delete_elem(&tcp_tid_fd, &tid);
	return 0;
}

static __always_inline void forget_tid(__u32 tid)
{
	bpf_map_delete_elem(&tcp_tid_fd, &tid);
	bpf_map_delete_elem(&tcp_tid_sock, &tid);
}

/* connect() failed before (or without) a state change: no route, bad address... */
static __always_inline void emit_sync_failure(struct sock *sk, const struct tid_ctx *ctx, int err)
{
	__u16 family = ctx->addr[0] | ctx->addr[1] << 8;
	__u16 dport = ctx->addr[2] << 8 | ctx->addr[3];
	__u16 sport = sk_sport(sk);
	struct tcp_event *e;

	if (!ports_wanted(sport, dport))
		return;
	e = loupe_reserve(sizeof(*e));
	if (!e)
		return;
	fill_tuple(e, sk);
	loupe_fill_proc(&e->proc);
	/* The destination asked for, since the socket may not hold it yet. */
	if (family == LOUPE_AF_INET) {
		__builtin_memset(e->tuple.raddr, 0, sizeof(e->tuple.raddr));
		__builtin_memcpy(e->tuple.raddr, &ctx->addr[4], 4);
		if (e->tuple.family == LOUPE_AF_INET6) {
			/* An IPv4 address given to an IPv6 socket: show it mapped. */
			e->tuple.raddr[10] = e->tuple.raddr[11] = 0xff;
			__builtin_memcpy(&e->tuple.raddr[12], &ctx->addr[4], 4);
			__builtin_memset(e->tuple.raddr, 0, 4);
		}
	} else if (family == LOUPE_AF_INET6) {
		__builtin_memcpy(e->tuple.raddr, &ctx->addr[8], 16);
	}
	if (family == LOUPE_AF_INET || family == LOUPE_AF_INET6)
		e->tuple.rport = dport;
	e->type = TCP_EV_CONNECT;
	e->pad[0] = e->pad[1] = e->pad[2] = 0;
	e->fd = ctx->fd;
	e->accept_fd = -1;
	e->error = err;
	e->duration_ns = 0;
	e->bytes_sent = 0;
	e->bytes_received = 0;
	loupe_submit(e);
}

SEC("tracepoint/syscalls/sys_enter_connect")
int sys_connect_e(struct trace_event_raw_sys_enter *ctx)
{
	if (accept_only)
		return 0;
	return enter_call(OP_CONNECT, ctx->args[0], (const void *)ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int sys_connect_x(struct trace_event_raw_sys_exit *args)
{
	__u32 tid = current_tid();
	struct tid_ctx *ctx = bpf_map_lookup_elem(&tcp_tid_fd, &tid);
	__u64 *s = bpf_map_lookup_elem(&tcp_tid_sock, &tid);
	long ret = args->ret;

	if (ctx && s && ctx->op == OP_CONNECT && ret < 0 && ret != -EINPROGRESS &&
	    ret != -EALREADY && ret != -EISCONN && (ctx->deferred || !ctx->syn_sent))
		emit_sync_failure((struct sock *)*s, ctx, -ret);
	/*
	 * Otherwise the state change reports the outcome: already (blocking
	 * connect, ECONNREFUSED...) or later (EINPROGRESS, EINTR).
	 */
	forget_tid(tid);
	return 0;
}

static __always_inline int enter_accept(struct trace_event_raw_sys_enter *ctx)
{
	if (connect_only || failure_only)
		return 0;
	return enter_call(OP_ACCEPT, ctx->args[0], NULL, 0);
}

static __always_inline int exit_accept(struct trace_event_raw_sys_exit *args)
{
	__u32 tid = current_tid();
	struct tid_ctx *ctx = bpf_map_lookup_elem(&tcp_tid_fd, &tid);
	struct tcp_owner *o, n = {};
	long ret = args->ret;
	struct tcp_event *e;
	struct sock *sk;
	__u64 key;
	__s32 listen_fd;

	if (ret < 0 || (ctx && ctx->op != OP_ACCEPT))
		goto out;
	if (ctx) {
		listen_fd = ctx->fd;
	} else {
		/* Blocked in accept() since before we attached: the listening fd is unknown. */
		if (loupe_call_filtered(connect_only || failure_only))
			goto out;
		listen_fd = -1;
	}
	sk = loupe_fd_sock(ret);
	if (!sk || !sk_wanted(sk))
		goto out;
	e = event_new(sk, TCP_EV_ACCEPT);
	if (e) {
		loupe_fill_proc(&e->proc);
		e->fd = listen_fd;
		e->accept_fd = ret;
		loupe_submit(e);
	}
	if (accept_only)
		goto out;
	/* From now on the connection's close belongs to the acceptor. */
	key = (__u64)sk;
	o = bpf_map_lookup_elem(&tuplepid, &key);
	if (o) {
		loupe_fill_proc(&o->proc);
		o->fd = ret;
		o->flags |= OWN_PROC;
	} else {
		int state = BPF_CORE_READ(sk, __sk_common.skc_state);

		/* Already closed (its close was not ours to report), or not traced before. */
		if (state == TCP_CLOSE)
			goto out;
		loupe_fill_proc(&n.proc);
		n.fd = ret;
		n.flags = OWN_PROC;
		if (state != TCP_SYN_RECV) {
			n.flags |= OWN_ESTABLISHED;
			n.established_ns = n.proc.ts_ns;
		}
		loupe_map_insert(&tuplepid, &key, &n);
	}
out:
	forget_tid(tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_accept")
int sys_accept_e(struct trace_event_raw_sys_enter *ctx)
{
	return enter_accept(ctx);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int sys_accept_x(struct trace_event_raw_sys_exit *args)
{
	return exit_accept(args);
}

SEC("tracepoint/syscalls/sys_enter_accept4")
int sys_accept4_e(struct trace_event_raw_sys_enter *ctx)
{
	return enter_accept(ctx);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int sys_accept4_x(struct trace_event_raw_sys_exit *args)
{
	return exit_accept(args);
}

/* A thread killed inside connect() or accept() must not leave its context behind. */
SEC("tracepoint/sched/sched_process_exit")
int trace_sched_process_exit(void *ctx)
{
	forget_tid(current_tid());
	return 0;
}
