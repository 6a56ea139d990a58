// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ssl: TLS plaintext at the library boundary.
 *
 * An entry uprobe remembers the call (buffer, handle, time) by thread id in
 * ssl_context; the return probe learns how many bytes the call really moved
 * and copies them, whole, into the ring buffer in records of up to SSL_CHUNK
 * bytes.  Nothing is cut without the record saying so.
 *
 * The same pair of probes serves OpenSSL (and BoringSSL/OpenSSL linked into an
 * executable), GnuTLS and NSS; NSS calls are kept only when the descriptor
 * has an SSL layer.  libcrypto calls (--crypto) give latency records only.
 * An exec tracepoint tells user space to look for libraries a new process
 * brings.
 */
#include "loupe.bpf.h"
#include "ssl.h"
#include <bpf/bpf_endian.h>

/* What an entry probe leaves for its return probe. */
struct ssl_call {
	__u64 start_ns;
	__u64 conn;
	__u64 buf;
	__u64 len_ptr; /* size_t * of the _ex calls, else 0 */
	__u32 op;
	__u32 lib;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct ssl_call);
} ssl_context SEC(".maps");

/* What the return probe hands to the emitter: header once, then the copy job. */
struct ssl_job {
	__u64 buf;
	__u32 captured;
	__u8 flags;
	struct ssl_record hdr; /* last: its data[] is never used here */
};

/* Per-CPU scratch: the record header is built once per call, then copied. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ssl_job);
} gadget_heap SEC(".maps");

/*
 * The data copy loop lives in one program that every return probe tail-calls:
 * the verifier walks the loop once, not once per probed function.  Slot 0
 * holds the bpf_loop variant, or the bounded-loop one where bpf_loop is
 * missing (before 5.17).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ssl_emitter SEC(".maps");

/* Per-CPU call counter for --sample. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} ssl_sample SEC(".maps");

const volatile bool trace_reads = true;
const volatile bool trace_writes = true;
const volatile bool trace_handshakes = true;
const volatile bool trace_crypto = false;
const volatile __u32 sample_every = 1;
const volatile __u32 max_data = SSL_DEFAULT_DATA;
const volatile bool trace_verify = false;

/* --- endpoints: the socket under each connection ------------------------------ */

/*
 * While a thread is inside a TLS call (ssl_context, or ssl_hs_context for the
 * handshake functions that make no events), the read/write/send/recv
 * system calls it makes are the library talking to its socket: resolve
 * that fd to the socket's addresses (task->files->fdt->fd[fd]->private_data
 * is the struct socket, ->sk its addresses; CO-RE, no per-version offsets)
 * and remember them per connection handle, as Pixie does.
 */
struct ssl_conn_key {
	__u64 conn;
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH); /* handles are never closed here: LRU */
	__uint(max_entries, 16384);
	__type(key, struct ssl_conn_key);
	__type(value, struct ssl_sock);
} ssl_socks SEC(".maps");

/* Handshake calls that emit nothing (SSL_connect, gnutls_handshake...), by tid. */
struct ssl_hs_call {
	__u64 conn;
	__u32 role; /* enum ssl_role */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct ssl_hs_call);
} ssl_hs_context SEC(".maps");

#define LOUPE_AF_INET 2
#define LOUPE_AF_INET6 10

static __always_inline int sock_of_fd(__u32 fd, struct ssl_sock *out)
{
	struct sock *sk = loupe_fd_sock(fd);

	if (!sk)
		return -1;
	out->fd = fd;
	out->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	out->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	out->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (out->family == LOUPE_AF_INET) {
		bpf_core_read(out->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(out->raddr, 4, &sk->__sk_common.skc_daddr);
	} else if (out->family == LOUPE_AF_INET6) {
		bpf_core_read(out->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(out->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	return 0;
}

static __always_inline int note_syscall_fd(__u64 fd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct ssl_conn_key key = { .tgid = pid_tgid >> 32 };
	struct ssl_call *call;
	struct ssl_sock sock = {}, *old;
	struct ssl_hs_call *hs;
	__u8 role = SSL_ROLE_UNKNOWN;

	call = bpf_map_lookup_elem(&ssl_context, &tid);
	if (call) {
		key.conn = call->conn;
	} else {
		hs = bpf_map_lookup_elem(&ssl_hs_context, &tid);
		if (!hs)
			return 0;
		key.conn = hs->conn;
		role = hs->role;
	}
	if (!key.conn || fd > 0x7fffffff)
		return 0;
	/* Re-resolved every time: a freed handle's address and fd number are reused. */
	if (sock_of_fd(fd, &sock))
		return 0;
	old = bpf_map_lookup_elem(&ssl_socks, &key);
	sock.role = role ? role : old && old->fd == sock.fd ? old->role : SSL_ROLE_UNKNOWN;
	bpf_map_update_elem(&ssl_socks, &key, &sock, BPF_ANY);
	return 0;
}

#define SYSCALL_FD_HOOK(name)                                             \
	SEC("tracepoint/syscalls/sys_enter_" #name)                       \
	int trace_sys_enter_##name(struct trace_event_raw_sys_enter *ctx) \
	{                                                                 \
		return note_syscall_fd(ctx->args[0]);                     \
	}

SYSCALL_FD_HOOK(read)
SYSCALL_FD_HOOK(write)
SYSCALL_FD_HOOK(readv)
SYSCALL_FD_HOOK(writev)
SYSCALL_FD_HOOK(sendto)
SYSCALL_FD_HOOK(recvfrom)
SYSCALL_FD_HOOK(sendmsg)
SYSCALL_FD_HOOK(recvmsg)

/* The endpoints known for a handle, into a record (fd -1: none yet). */
static __always_inline void fill_sock(struct ssl_sock *dst, __u64 conn)
{
	struct ssl_conn_key key = { .conn = conn, .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct ssl_sock *s = bpf_map_lookup_elem(&ssl_socks, &key);

	if (s)
		*dst = *s;
	else
		__builtin_memset(dst, 0, sizeof(*dst)), dst->fd = -1;
}

static __always_inline bool op_is_read(__u32 op)
{
	return op == SSL_OP_READ || op == SSL_OP_READ_EX;
}

static __always_inline bool op_is_write(__u32 op)
{
	return op == SSL_OP_WRITE || op == SSL_OP_WRITE_EX;
}

static __always_inline bool sampled_out(void)
{
	__u32 zero = 0;
	__u64 *n;

	if (sample_every <= 1)
		return false;
	n = bpf_map_lookup_elem(&ssl_sample, &zero);
	if (!n)
		return false;
	if ((*n)++ % sample_every == 0)
		return false;
	loupe_count(SSL_CNT_SAMPLED_OUT);
	return true;
}

static __always_inline int ssl_enter(__u32 lib, __u32 op, const void *conn, const void *buf,
				     const void *len_ptr)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_call call = {};

	if (op_is_read(op) && !trace_reads)
		return 0;
	if (op_is_write(op) && !trace_writes)
		return 0;
	if (op == SSL_OP_HANDSHAKE && !trace_handshakes)
		return 0;
	if (loupe_discard_current())
		return 0;
	if (op != SSL_OP_HANDSHAKE && sampled_out())
		return 0;

	call.start_ns = loupe_now_ns();
	call.conn = (__u64)conn;
	call.buf = (__u64)buf;
	call.len_ptr = (__u64)len_ptr;
	call.op = op;
	call.lib = lib;
	loupe_map_insert(&ssl_context, &tid, &call);
	return 0;
}

/* The first record of a call is the event; later ones only complete it. */
#define reserve_record(off, size) ((off) ? loupe_reserve_part(size) : loupe_reserve(size))

/*
 * Reserve the smallest record class that holds n bytes: the ring buffer wants
 * a constant size, and a 64-byte write should not pin 16 KiB of it.
 */
#define EMIT_CLASS(cap)                                                           \
	do {                                                                      \
		struct ssl_record *r = reserve_record(off, sizeof(*r) + (cap));   \
		if (!r)                                                           \
			return -1;                                                \
		__builtin_memcpy(r, hdr, sizeof(*r));                             \
		r->offset = off;                                                  \
		r->chunk_len = n;                                                 \
		r->flags = flags;                                                 \
		/* Re-clamp behind a barrier: the verifier must see the bound. */ \
		len = n;                                                          \
		asm volatile("" : "+r"(len));                                     \
		if (len > (cap))                                                  \
			len = (cap);                                              \
		if (len && bpf_probe_read_user(r->data, len, src)) {              \
			r->chunk_len = 0;                                         \
			r->flags |= SSL_F_READ_FAULT;                             \
			loupe_count(LOUPE_CNT_READ_FAULT);                        \
		}                                                                 \
		loupe_submit(r);                                                  \
		return 0;                                                         \
	} while (0)

static __noinline int emit_record(const struct ssl_record *hdr, const void *src, __u32 off, __u32 n,
				  __u8 flags)
{
	__u64 len;

	if (!hdr)
		return -1;
	if (n == 0) {
		struct ssl_record *r = reserve_record(off, sizeof(*r));

		if (!r)
			return -1;
		__builtin_memcpy(r, hdr, sizeof(*r));
		r->offset = off;
		r->chunk_len = 0;
		r->flags = flags;
		loupe_submit(r);
		return 0;
	}
	if (n <= 256)
		EMIT_CLASS(256);
	if (n <= 2048)
		EMIT_CLASS(2048);
	if (n <= 8192)
		EMIT_CLASS(8192);
	if (n <= SSL_CHUNK)
		EMIT_CLASS(SSL_CHUNK);
	return -1;
}

static __always_inline int ssl_exit(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_call *callp, call;
	struct ssl_record *hdr;
	struct ssl_job *job;
	__u32 zero = 0, captured;
	__u64 len = 0;
	__u8 flags = 0;
	long ret;

	callp = bpf_map_lookup_elem(&ssl_context, &tid);
	if (!callp)
		return 0;
	call = *callp;
	bpf_map_delete_elem(&ssl_context, &tid);

	/* gnutls_record_* return ssize_t; the others int: sign-extend it. */
	if (call.lib == SSL_LIB_GNUTLS)
		ret = (long)PT_REGS_RC(ctx);
	else
		ret = (int)PT_REGS_RC(ctx);
	if (call.op == SSL_OP_READ_EX || call.op == SSL_OP_WRITE_EX) {
		/* *readbytes / *written are only meaningful on success. */
		if (ret == 1 && bpf_probe_read_user(&len, sizeof(len), (void *)call.len_ptr))
			flags |= SSL_F_LEN_UNKNOWN;
	} else if (call.op != SSL_OP_HANDSHAKE && ret > 0) {
		len = ret;
	}
	if (call.op == SSL_OP_HANDSHAKE && ret < 0) {
		/*
		 * A non-blocking handshake returns -1 until it is done (WANT_READ);
		 * only the error queue tells a retry from a failure, and we cannot
		 * read it from here.  Count it rather than print noise.
		 */
		loupe_count(SSL_CNT_HANDSHAKE_INCOMPLETE);
		return 0;
	}
	if (call.op != SSL_OP_HANDSHAKE && len == 0 && !(flags & SSL_F_LEN_UNKNOWN)) {
		/* Retry or failure (WANT_READ, EOF): no bytes moved, nothing to show. */
		loupe_count(SSL_CNT_FAILED_IO);
		return 0;
	}

	job = bpf_map_lookup_elem(&gadget_heap, &zero);
	if (!job)
		return 0;
	hdr = &job->hdr;
	loupe_fill_proc(&hdr->proc);
	hdr->call_id = call.start_ns;
	hdr->conn = call.conn;
	hdr->latency_ns = hdr->proc.ts_ns - call.start_ns;
	hdr->ret = ret;
	hdr->len = len;
	hdr->op = call.op;
	hdr->lib = call.lib;
	fill_sock(&hdr->sock, call.conn);
	captured = len < max_data ? len : max_data;
	if (captured > SSL_MAX_DATA)
		captured = SSL_MAX_DATA;
	hdr->captured = captured;
	job->buf = call.buf;
	job->captured = captured;
	job->flags = flags;
	bpf_tail_call(ctx, &ssl_emitter, 0);
	/* Only reached if the emitter is missing: the event is lost, say so. */
	loupe_event_lost();
	return 0;
}

/* Emit record i of the current job; non-zero when the call is done (or lost). */
static __always_inline long emit_nth(struct ssl_job *job, __u32 i)
{
	__u32 off = i * SSL_CHUNK, n = 0, captured = job->captured;
	__u8 f = job->flags;

	if (off < captured) {
		n = captured - off;
		if (n > SSL_CHUNK)
			n = SSL_CHUNK;
	} else if (i) {
		return 1;
	}
	if (off + n >= captured)
		f |= SSL_F_LAST;
	/* A record that cannot be reserved ends the call: the rest is lost, and counted. */
	if (emit_record(&job->hdr, (const void *)(job->buf + off), off, n, f))
		return 1;
	return f & SSL_F_LAST;
}

static long emit_chunk(__u32 i, void *unused)
{
	__u32 zero = 0;
	struct ssl_job *job = bpf_map_lookup_elem(&gadget_heap, &zero);

	return job ? emit_nth(job, i) : 1;
}

SEC("uprobe")
int trace_ssl_emit_data(struct pt_regs *ctx)
{
	bpf_loop(SSL_MAX_CHUNKS, emit_chunk, NULL, 0);
	return 0;
}

SEC("uprobe")
int trace_ssl_emit_data_bounded(struct pt_regs *ctx)
{
	__u32 zero = 0;
	struct ssl_job *job = bpf_map_lookup_elem(&gadget_heap, &zero);

	if (!job)
		return 0;
	for (__u32 i = 0; i < SSL_MAX_CHUNKS; i++)
		if (emit_nth(job, i))
			break;
	return 0;
}

#define SSL_PROBES(lib_name, lib_id, func, op, ...)                   \
	SEC("uprobe")                                                 \
	int BPF_KPROBE(trace_uprobe_##lib_name##_##func, __VA_ARGS__) \
	{                                                             \
		return ssl_enter(lib_id, op, SSL_ENTER_ARGS);         \
	}                                                             \
	SEC("uretprobe")                                              \
	int BPF_KRETPROBE(trace_uretprobe_##lib_name##_##func)        \
	{                                                             \
		return ssl_exit(ctx);                                 \
	}

/* int SSL_write(SSL *ssl, const void *buf, int num) and friends. */
#define SSL_ENTER_ARGS ssl, buf, NULL
SSL_PROBES(libssl, SSL_LIB_OPENSSL, SSL_write, SSL_OP_WRITE, void *ssl, const void *buf)
SSL_PROBES(libssl, SSL_LIB_OPENSSL, SSL_read, SSL_OP_READ, void *ssl, void *buf)
#undef SSL_ENTER_ARGS

/* int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written) */
#define SSL_ENTER_ARGS ssl, buf, lenp
SSL_PROBES(libssl, SSL_LIB_OPENSSL, SSL_write_ex, SSL_OP_WRITE_EX, void *ssl, const void *buf,
	   size_t num, size_t *lenp)
SSL_PROBES(libssl, SSL_LIB_OPENSSL, SSL_read_ex, SSL_OP_READ_EX, void *ssl, void *buf, size_t num,
	   size_t *lenp)
#undef SSL_ENTER_ARGS

/* int SSL_do_handshake(SSL *s) */
#define SSL_ENTER_ARGS ssl, NULL, NULL
SSL_PROBES(libssl, SSL_LIB_OPENSSL, SSL_do_handshake, SSL_OP_HANDSHAKE, void *ssl)
#undef SSL_ENTER_ARGS

/* ssize_t gnutls_record_send(gnutls_session_t session, const void *data, size_t size) */
#define SSL_ENTER_ARGS session, data, NULL
SSL_PROBES(libgnutls, SSL_LIB_GNUTLS, gnutls_record_send, SSL_OP_GNUTLS_SEND, void *session,
	   const void *data)
SSL_PROBES(libgnutls, SSL_LIB_GNUTLS, gnutls_record_recv, SSL_OP_GNUTLS_RECV, void *session,
	   void *data)
#undef SSL_ENTER_ARGS

/* --- NSS: PR_Read/PR_Write on descriptors with an SSL layer ------------------------ */

/*
 * libssl3.so's image in each NSS process, by tgid.  NSS's SSL layer has a
 * methods table inside libssl3.so (its static ssl I/O methods); NSPR's own
 * files, pipes and sockets have theirs in libnspr4.so.  User space fills this
 * from /proc/PID/maps; trace_uprobe_libnss_SSL_ImportFD fills it for
 * processes that make an SSL socket later.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct nss_range);
} nss_ranges SEC(".maps");

/* Layers looked at below the descriptor given (SSL is usually the top one). */
#define NSS_MAX_LAYERS 4

/*
 * struct PRFileDesc { const PRIOMethods *methods; PRFilePrivate *secret;
 * PRFileDesc *lower, *higher; ... }: walk `lower` from the descriptor the
 * application passed and look for the SSL layer.
 */
static __always_inline bool nss_is_tls(const void *fd)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct nss_range *r = bpf_map_lookup_elem(&nss_ranges, &tgid);

	if (!r) {
		loupe_count(SSL_CNT_NSS_UNKNOWN);
		return false;
	}
	for (int i = 0; i < NSS_MAX_LAYERS; i++) {
		__u64 layer[3];

		if (!fd || bpf_probe_read_user(layer, sizeof(layer), fd))
			break;
		if (layer[0] >= r->lo && layer[0] < r->hi)
			return true;
		fd = (const void *)layer[2];
	}
	loupe_count(SSL_CNT_NSS_PLAIN);
	return false;
}

static __always_inline int nss_enter(__u32 op, const void *fd, const void *buf)
{
	bool is_read = op == SSL_OP_PR_READ || op == SSL_OP_PR_RECV;

	if ((is_read && !trace_reads) || (!is_read && !trace_writes))
		return 0;
	if (loupe_discard_current() || !nss_is_tls(fd))
		return 0;
	return ssl_enter(SSL_LIB_NSS, op, fd, buf, NULL);
}

/* PRInt32 PR_Write(PRFileDesc *fd, const void *buf, PRInt32 amount); PR_Send adds flags, timeout. */
#define NSS_PROBES(func, op)                                            \
	SEC("uprobe")                                                   \
	int BPF_KPROBE(trace_uprobe_libnss_##func, void *fd, void *buf) \
	{                                                               \
		return nss_enter(op, fd, buf);                          \
	}                                                               \
	SEC("uretprobe")                                                \
	int BPF_KRETPROBE(trace_uretprobe_libnss_##func)                \
	{                                                               \
		return ssl_exit(ctx);                                   \
	}

NSS_PROBES(PR_Write, SSL_OP_PR_WRITE)
NSS_PROBES(PR_Send, SSL_OP_PR_SEND)
NSS_PROBES(PR_Read, SSL_OP_PR_READ)
NSS_PROBES(PR_Recv, SSL_OP_PR_RECV)

/*
 * Every NSS SSL socket is made by SSL_ImportFD in libssl3.so: learn where
 * libssl3.so lies in this process.  The attach cookie holds the function's
 * address in the file (low 32 bits) and the image size (high 32 bits).
 */
SEC("uprobe")
int BPF_KPROBE(trace_uprobe_libnss_SSL_ImportFD)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct nss_range r;

	r.lo = PT_REGS_IP(ctx) - (__u32)cookie;
	r.hi = r.lo + (cookie >> 32);
	loupe_map_insert(&nss_ranges, &tgid, &r);
	return 0;
}

/* --- libcrypto latency (--crypto) ---------------------------------------------- */

#define NR_CRYPTO (SSL_OP_CRYPTO_LAST - SSL_OP_CRYPTO_FIRST + 1)

/*
 * One slot per function and thread: EVP_DigestSign calls EVP_PKEY_sign, which
 * may call RSA_sign...; each level keeps its own start time.
 */
struct crypto_calls {
	__u64 start_ns[NR_CRYPTO];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct crypto_calls);
} crypto_context SEC(".maps");

static __always_inline int crypto_enter(__u32 op)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 slot = op - SSL_OP_CRYPTO_FIRST;
	struct crypto_calls *c;

	if (slot >= NR_CRYPTO || loupe_discard_current())
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

static __always_inline int crypto_exit(struct pt_regs *ctx, __u32 op)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 slot = op - SSL_OP_CRYPTO_FIRST;
	struct crypto_calls *c = bpf_map_lookup_elem(&crypto_context, &tid);
	struct ssl_record *r;
	__u64 start;
	bool busy = false;

	if (!c || slot >= NR_CRYPTO)
		return 0;
	start = c->start_ns[slot];
	c->start_ns[slot] = 0;
	for (int i = 0; i < NR_CRYPTO; i++)
		busy |= c->start_ns[i] != 0;
	if (!busy)
		bpf_map_delete_elem(&crypto_context, &tid);
	if (!start)
		return 0;
	r = loupe_reserve(sizeof(*r));
	if (!r)
		return 0;
	loupe_fill_proc(&r->proc);
	r->call_id = start;
	r->conn = 0;
	r->latency_ns = r->proc.ts_ns - start;
	r->ret = (int)PT_REGS_RC(ctx);
	r->len = 0;
	r->captured = 0;
	r->offset = 0;
	r->chunk_len = 0;
	r->op = op;
	__builtin_memset(&r->sock, 0, sizeof(r->sock));
	r->sock.fd = -1;
	r->lib = SSL_LIB_CRYPTO;
	r->flags = SSL_F_LAST;
	loupe_submit(r);
	return 0;
}

#define CRYPTO_PROBES(func, op)                             \
	SEC("uprobe")                                       \
	int BPF_KPROBE(trace_uprobe_libcrypto_##func)       \
	{                                                   \
		return crypto_enter(op);                    \
	}                                                   \
	SEC("uretprobe")                                    \
	int BPF_KRETPROBE(trace_uretprobe_libcrypto_##func) \
	{                                                   \
		return crypto_exit(ctx, op);                \
	}

CRYPTO_PROBES(RSA_sign, SSL_OP_RSA_SIGN)
CRYPTO_PROBES(RSA_verify, SSL_OP_RSA_VERIFY)
CRYPTO_PROBES(ossl_ecdsa_sign, SSL_OP_OSSL_ECDSA_SIGN)
CRYPTO_PROBES(ossl_ecdsa_verify, SSL_OP_OSSL_ECDSA_VERIFY)
CRYPTO_PROBES(ossl_ecdh_compute_key, SSL_OP_OSSL_ECDH_COMPUTE_KEY)
CRYPTO_PROBES(rsa_ossl_public_encrypt, SSL_OP_RSA_OSSL_PUBLIC_ENCRYPT)
CRYPTO_PROBES(rsa_ossl_public_decrypt, SSL_OP_RSA_OSSL_PUBLIC_DECRYPT)
CRYPTO_PROBES(rsa_ossl_private_encrypt, SSL_OP_RSA_OSSL_PRIVATE_ENCRYPT)
CRYPTO_PROBES(rsa_ossl_private_decrypt, SSL_OP_RSA_OSSL_PRIVATE_DECRYPT)
CRYPTO_PROBES(EVP_PKEY_sign, SSL_OP_EVP_PKEY_SIGN)
CRYPTO_PROBES(EVP_PKEY_verify, SSL_OP_EVP_PKEY_VERIFY)
CRYPTO_PROBES(EVP_PKEY_derive, SSL_OP_EVP_PKEY_DERIVE)
CRYPTO_PROBES(EVP_PKEY_encrypt, SSL_OP_EVP_PKEY_ENCRYPT)
CRYPTO_PROBES(EVP_PKEY_decrypt, SSL_OP_EVP_PKEY_DECRYPT)
CRYPTO_PROBES(EVP_DigestSign, SSL_OP_EVP_DIGESTSIGN)
CRYPTO_PROBES(EVP_DigestSignFinal, SSL_OP_EVP_DIGESTSIGNFINAL)
CRYPTO_PROBES(EVP_DigestVerify, SSL_OP_EVP_DIGESTVERIFY)
CRYPTO_PROBES(EVP_DigestVerifyFinal, SSL_OP_EVP_DIGESTVERIFYFINAL)

/* A record without data (an exec, a verification event), for a traced thread. */
static __always_inline int emit_meta(__u32 op, __u32 lib, __u64 conn, __s64 val, bool with_sock)
{
	struct ssl_record *r;

	if (loupe_discard_current())
		return 0;
	/* An exec is a notice for user space, not an event the user sees. */
	r = op == SSL_OP_EXEC ? loupe_reserve_notice(sizeof(*r)) : loupe_reserve(sizeof(*r));
	if (!r)
		return 0;
	__builtin_memset(r, 0, sizeof(*r));
	loupe_fill_proc(&r->proc);
	r->call_id = r->proc.ts_ns;
	r->conn = conn;
	r->ret = val;
	r->op = op;
	r->lib = lib;
	r->flags = SSL_F_LAST;
	if (with_sock)
		fill_sock(&r->sock, conn);
	loupe_submit(r);
	return 0;
}

/* --- new processes ------------------------------------------------------------- */

/* A small record so user space looks at the new image and its libraries. */
SEC("tracepoint/sched/sched_process_exec")
int trace_sched_process_exec(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	/* The old image's libssl3.so is gone with it. */
	bpf_map_delete_elem(&nss_ranges, &tgid);
	return emit_meta(SSL_OP_EXEC, 0, tgid, 0, false);
}

/* --- handshakes without events: endpoints learned early ------------------------ */

static __always_inline int hs_enter(const void *conn, __u32 role)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_hs_call c = { (__u64)conn, role };

	loupe_map_insert(&ssl_hs_context, &tid, &c);
	return 0;
}

static __always_inline int hs_exit(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&ssl_hs_context, &tid);
	return 0;
}

#define HS_PROBES(lib_name, func, role)                              \
	SEC("uprobe")                                                \
	int BPF_KPROBE(trace_uprobe_##lib_name##_##func, void *conn) \
	{                                                            \
		return hs_enter(conn, role);                         \
	}                                                            \
	SEC("uretprobe")                                             \
	int BPF_KRETPROBE(trace_uretprobe_##lib_name##_##func)       \
	{                                                            \
		return hs_exit();                                    \
	}

HS_PROBES(libssl, SSL_connect, SSL_ROLE_CLIENT)
HS_PROBES(libssl, SSL_accept, SSL_ROLE_SERVER)
HS_PROBES(libgnutls, gnutls_handshake, SSL_ROLE_UNKNOWN)

/* --- certificate verification (--verify) --------------------------------------- */

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

/* void SSL_CTX_set_verify(SSL_CTX *ctx, int mode, SSL_verify_cb cb); SSL_set_verify alike */
SEC("uprobe")
int BPF_KPROBE(trace_uprobe_libssl_SSL_CTX_set_verify, void *ctx_, int mode)
{
	return mode == 0 ? emit_meta(SSL_OP_CTX_SET_VERIFY, SSL_LIB_OPENSSL, (__u64)ctx_, 0, true) : 0;
}

SEC("uprobe")
int BPF_KPROBE(trace_uprobe_libssl_SSL_set_verify, void *ssl, int mode)
{
	return mode == 0 ? emit_meta(SSL_OP_SET_VERIFY, SSL_LIB_OPENSSL, (__u64)ssl, 0, true) : 0;
}

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

/* long SSL_get_verify_result(const SSL *ssl) */
SEC("uprobe")
int BPF_KPROBE(trace_uprobe_libssl_SSL_get_verify_result, void *ssl)
{
	return verify_enter(ssl, NULL);
}

SEC("uretprobe")
int BPF_KRETPROBE(trace_uretprobe_libssl_SSL_get_verify_result)
{
	struct verify_call v;
	long ret = PT_REGS_RC(ctx);

	if (!verify_take(&v) || ret == 0) /* X509_V_OK */
		return 0;
	return emit_meta(SSL_OP_VERIFY_RESULT, SSL_LIB_OPENSSL, v.conn, ret, true);
}

/* int gnutls_certificate_verify_peers2(gnutls_session_t, unsigned int *status) */
SEC("uprobe")
int BPF_KPROBE(trace_uprobe_libgnutls_gnutls_certificate_verify_peers2, void *session, void *status)
{
	return verify_enter(session, status);
}

/* int gnutls_certificate_verify_peers3(gnutls_session_t, const char *host, unsigned int *status) */
SEC("uprobe")
int BPF_KPROBE(trace_uprobe_libgnutls_gnutls_certificate_verify_peers3, void *session,
	       const char *host, void *status)
{
	return verify_enter(session, status);
}

static __always_inline int gnutls_verify_exit(struct pt_regs *ctx, __u32 op)
{
	struct verify_call v;
	__u32 status = 0;

	if (!verify_take(&v) || (int)PT_REGS_RC(ctx) != 0)
		return 0;
	if (bpf_probe_read_user(&status, sizeof(status), (void *)v.status_ptr)) {
		loupe_count(LOUPE_CNT_READ_FAULT);
		return 0;
	}
	return status ? emit_meta(op, SSL_LIB_GNUTLS, v.conn, status, true) : 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(trace_uretprobe_libgnutls_gnutls_certificate_verify_peers2)
{
	return gnutls_verify_exit(ctx, SSL_OP_GNUTLS_VERIFY);
}

SEC("uretprobe")
int BPF_KRETPROBE(trace_uretprobe_libgnutls_gnutls_certificate_verify_peers3)
{
	return gnutls_verify_exit(ctx, SSL_OP_GNUTLS_VERIFY3);
}

/* A thread killed between entry and return must not leave its call behind. */
SEC("tracepoint/sched/sched_process_exit")
int trace_sched_process_exit(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;

	bpf_map_delete_elem(&ssl_context, &tid);
	bpf_map_delete_elem(&ssl_hs_context, &tid);
	if (trace_verify)
		bpf_map_delete_elem(&verify_context, &tid);
	if (trace_crypto)
		bpf_map_delete_elem(&crypto_context, &tid);
	if (tid == tgid)
		bpf_map_delete_elem(&nss_ranges, &tgid);
	return 0;
}
