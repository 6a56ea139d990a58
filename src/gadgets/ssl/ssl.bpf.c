// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ssl: TLS plaintext at the library boundary.
 *
 * An entry uprobe remembers the call (buffer, handle, time) by thread id in
 * ssl_context; the return probe learns how many bytes the call really moved
 * and copies them, whole, into the ring buffer in records of up to SSL_CHUNK
 * bytes.  Nothing is cut without the record saying so.
 *
 * The programs are made from the table in probes.h, one pair per function,
 * by the kind of call it is (SSL_BPF_<KIND> below); what only one backend
 * needs lives in its own file: nss.bpf.h (the SSL layer check),
 * libcrypto.bpf.h (--crypto), verify.bpf.h (--verify), go.bpf.h (Go: calls
 * by goroutine, return programs on each RET).  An exec tracepoint
 * tells user space to look for libraries a new process brings.
 */
#include "loupe.bpf.h"
#include "ssl.h"

/* What an entry probe leaves for its return probe. */
struct ssl_call {
	__u64 start_ns;
	__u64 conn;
	__u64 buf;
	__u64 len_ptr; /* size_t * of the _ex calls */
	__u32 op;
	__u32 how; /* CALL_* */
};

#define CALL_WIDE_RET 0x1  /* the function returns ssize_t, not int */
#define CALL_LEN_ARG 0x2   /* the byte count is in *len_ptr, the return is 1 or 0 */
#define CALL_HANDSHAKE 0x4 /* no data: 1 is done, < 0 a retry or an error */

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
const volatile bool trace_crypto = false;
const volatile bool trace_verify = false;
const volatile __u32 sample_every = 1;
const volatile __u32 max_data = SSL_DEFAULT_DATA;

/* --- connections: an id and the socket under each (conn.bpf.h) --------------- */

/*
 * While a thread is inside a TLS call (ssl_context, or ssl_hs_context for the
 * handshake functions that make no events), the socket I/O it does is the
 * library talking to its socket: keep that socket's addresses (CO-RE, no
 * per-version offsets) with the connection, as Pixie does.
 *
 * Where the socket layer has its own tracepoints (sock_send_length and
 * sock_recv_length, Linux 6.3+) they hand us the socket, and only socket
 * I/O runs a program.  Before, the read/write/send/recv system call
 * tracepoints do, and resolve the fd: every such call of every process on
 * the host then pays for a program and the syscall tracing path.
 */
/* The header of a record that is a whole call by itself, made now: no connection yet. */
static __always_inline void meta_header(struct ssl_record *r, __u32 op)
{
	__builtin_memset(r, 0, sizeof(*r));
	loupe_fill_proc(&r->proc);
	r->call_id = r->proc.ts_ns;
	r->op = op;
	r->flags = SSL_F_LAST;
	r->sock.fd = -1;
}

#include "conn.bpf.h"

/*
 * Handshake calls that emit nothing (SSL_connect, gnutls_handshake...), by
 * tid; and Go calls, whose goroutine the thread may leave for another while
 * the call waits (go.bpf.h).
 */
struct ssl_hs_call {
	__u64 conn;
	__u32 role; /* enum ssl_role */
	__u32 pad;
	__u64 go_g;	 /* Go: the goroutine of the call; 0 otherwise */
	__u64 go_cookie; /* Go: how to find the running goroutine */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct ssl_hs_call);
} ssl_hs_context SEC(".maps");

static __always_inline bool go_runs_goroutine(const struct ssl_hs_call *hs);

/*
 * The socket layer does not know the descriptor; the system call under it
 * does: its first argument, for the read/write/send/recv family (x86-64
 * numbers).  -1 for anything else (io_uring, splice...).
 */
static __always_inline __s32 syscall_fd(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long nr = BPF_CORE_READ(regs, orig_ax);

	switch (nr) {
	case 0:	  /* read */
	case 1:	  /* write */
	case 19:  /* readv */
	case 20:  /* writev */
	case 44:  /* sendto */
	case 45:  /* recvfrom */
	case 46:  /* sendmsg */
	case 47:  /* recvmsg */
	case 299: /* recvmmsg */
	case 307: /* sendmmsg */
		return (__s32)BPF_CORE_READ(regs, di);
	}
	return -1;
}

static __always_inline int note_sock(struct sock *sk, __s64 fd)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u8 role = SSL_ROLE_UNKNOWN;
	struct ssl_hs_call *hs;
	struct ssl_call *call;
	__u64 handle;

	call = bpf_map_lookup_elem(&ssl_context, &tid);
	if (call) {
		handle = call->conn;
	} else {
		hs = bpf_map_lookup_elem(&ssl_hs_context, &tid);
		if (!hs || (hs->go_g && !go_runs_goroutine(hs)))
			return 0;
		handle = hs->conn;
		role = hs->role;
	}
	if (sk)
		fd = syscall_fd();
	conn_note_sock(handle, sk, fd, role);
	return 0;
}

#define SYSCALL_FD_HOOK(name)                                             \
	SEC("tracepoint/syscalls/sys_enter_" #name)                       \
	int trace_sys_enter_##name(struct trace_event_raw_sys_enter *ctx) \
	{                                                                 \
		return note_sock(NULL, (__s64)ctx->args[0]);                     \
	}

SYSCALL_FD_HOOK(read)
SYSCALL_FD_HOOK(write)
SYSCALL_FD_HOOK(readv)
SYSCALL_FD_HOOK(writev)
SYSCALL_FD_HOOK(sendto)
SYSCALL_FD_HOOK(recvfrom)
SYSCALL_FD_HOOK(sendmsg)
SYSCALL_FD_HOOK(recvmsg)

SEC("tp_btf/sock_send_length")
int BPF_PROG(trace_sock_send_length, struct sock *sk, int ret, int flags)
{
	return note_sock(sk, 0);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(trace_sock_recv_length, struct sock *sk, int ret, int flags)
{
	return note_sock(sk, 0);
}

static __always_inline int hs_enter(const void *conn, __u32 role)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_hs_call c = { (__u64)conn, role };

	/* A thread the filters turn away gets no connection, and costs no entry. */
	if (!loupe_discard_current())
		loupe_map_insert(&ssl_hs_context, &tid, &c);
	return 0;
}

static __always_inline int hs_exit(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&ssl_hs_context, &tid);
	return 0;
}

/* --- calls --------------------------------------------------------------------- */

static __always_inline bool sampled_out(void)
{
	__u64 every = loupe_tunable(sample_every, SSL_SLOT_SAMPLE);
	__u32 zero = 0;
	__u64 *n;

	if (every <= 1)
		return false;
	n = bpf_map_lookup_elem(&ssl_sample, &zero);
	if (!n)
		return false;
	if ((*n)++ % every == 0)
		return false;
	loupe_count(LOUPE_CNT_SAMPLED_OUT);
	return true;
}

static __always_inline bool direction_traced(__u32 dir)
{
	return (dir != SSL_DIR_READ || trace_reads) && (dir != SSL_DIR_WRITE || trace_writes);
}

/* A call begins: false when it is not traced (filters, --sample, --no-reads...). */
static __always_inline bool ssl_call_start(struct ssl_call *call, __u32 op, __u32 dir,
					   const void *conn, const void *buf, const void *len_ptr,
					   __u32 how)
{
	if (loupe_call_filtered(!direction_traced(dir)))
		return false;
	if (dir != SSL_DIR_HANDSHAKE && sampled_out())
		return false;
	call->start_ns = loupe_now_ns();
	call->conn = (__u64)conn;
	call->buf = (__u64)buf;
	call->len_ptr = (__u64)len_ptr;
	call->op = op;
	call->how = how;
	return true;
}

static __always_inline int ssl_enter(__u32 op, __u32 dir, const void *conn, const void *buf,
				     const void *len_ptr, __u32 how)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_call call = {};

	if (ssl_call_start(&call, op, dir, conn, buf, len_ptr, how))
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

/* How many bytes the call moved (flags: the count could not be read); -1: no event. */
static __always_inline long call_len(const struct ssl_call *call, long ret, __u8 *flags)
{
	__u64 len = 0;

	if (call->how & CALL_LEN_ARG) {
		/* *readbytes / *written are only meaningful on success. */
		if (ret == 1 && bpf_probe_read_user(&len, sizeof(len), (void *)call->len_ptr))
			*flags |= SSL_F_LEN_UNKNOWN;
	} else if (!(call->how & CALL_HANDSHAKE) && ret > 0) {
		len = ret;
	}
	if ((call->how & CALL_HANDSHAKE) && ret < 0) {
		/*
		 * A non-blocking handshake returns -1 until it is done (WANT_READ);
		 * only the error queue tells a retry from a failure, and we cannot
		 * read it from here.  Count it rather than print noise.
		 */
		loupe_count(SSL_CNT_HANDSHAKE_INCOMPLETE);
		return -1;
	}
	if (!(call->how & CALL_HANDSHAKE) && len == 0 && !(*flags & SSL_F_LEN_UNKNOWN)) {
		/* Retry or failure (WANT_READ, EOF): no bytes moved, nothing to show. */
		loupe_count(SSL_CNT_FAILED_IO);
		return -1;
	}
	return len;
}

/* A call returned ret: its event, data copied by the emitter (tail call). */
static __always_inline int ssl_emit_call(struct pt_regs *ctx, const struct ssl_call *callp, long ret)
{
	const struct ssl_call call = *callp;
	struct ssl_conn_val *v;
	struct ssl_record *hdr;
	struct ssl_job *job;
	__u32 zero = 0, captured;
	__u8 flags = 0;
	long len;
	__u64 max;

	len = call_len(&call, ret, &flags);
	if (len < 0)
		return 0;
	job = bpf_map_lookup_elem(&gadget_heap, &zero);
	if (!job)
		return 0;
	hdr = &job->hdr;
	loupe_fill_proc(&hdr->proc);
	hdr->call_id = call.start_ns;
	hdr->latency_ns = hdr->proc.ts_ns - call.start_ns;
	hdr->ret = ret;
	hdr->len = len;
	hdr->op = call.op;
	if ((v = conn_fill(hdr, call.conn, true)) && !v->active)
		v->active = 1;
	max = loupe_tunable(max_data, SSL_SLOT_MAX_DATA);
	captured = (__u64)len < max ? len : max;
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

static __always_inline int ssl_exit(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_call *callp, call;

	callp = bpf_map_lookup_elem(&ssl_context, &tid);
	if (!callp)
		return 0;
	call = *callp;
	bpf_map_delete_elem(&ssl_context, &tid);
	return ssl_emit_call(ctx, &call,
			     call.how & CALL_WIDE_RET ? (long)PT_REGS_RC(ctx) : (int)PT_REGS_RC(ctx));
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

/* What emit_meta's handle is. */
enum meta_conn {
	META_NO_CONN,	/* not a connection's (an exec: conn is the tgid) */
	META_CONN_SEEN, /* maybe a connection's (SSL_CTX_set_verify takes a context too) */
	META_CONN,	/* a connection's: its id is made if it has none yet */
};

/* A record without data (an exec, a verification event), for a traced thread. */
static __always_inline int emit_meta(__u32 op, __u64 conn, __s64 val, enum meta_conn how)
{
	struct ssl_record *r;

	if (loupe_discard_current())
		return 0;
	/* An exec is a notice for user space, not an event the user sees. */
	r = op == SSL_OP_EXEC ? loupe_reserve_notice(sizeof(*r)) : loupe_reserve(sizeof(*r));
	if (!r)
		return 0;
	meta_header(r, op);
	r->ret = val;
	if (how == META_NO_CONN)
		r->conn = conn;
	else
		conn_fill(r, conn, how == META_CONN);
	/* A new process may do TLS within milliseconds: user space probes it now. */
	if (op == SSL_OP_EXEC)
		loupe_submit_now(r);
	else
		loupe_submit(r);
	return 0;
}

/*
 * Where the file of a PROBE_IMAGE_COOKIE probe lies in this process: the
 * cookie holds the function's address in the file (low 32 bits) and the
 * image size (high 32 bits).
 */
static __always_inline void probe_image(struct pt_regs *ctx, struct nss_range *r)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);

	r->lo = PT_REGS_IP(ctx) - (__u32)cookie;
	r->hi = r->lo + (cookie >> 32);
}

#include "nss.bpf.h"
#include "libcrypto.bpf.h"
#include "verify.bpf.h"
#include "go.bpf.h"
#include "certs.bpf.h"

/* --- the programs of every probed function, by kind ------------------------------- */

#define SSL_UPROBE(lib, func, ...) \
	SEC("uprobe")              \
	int BPF_KPROBE(trace_uprobe_##lib##_##func, ##__VA_ARGS__)
#define SSL_URETPROBE(lib, func) \
	SEC("uretprobe")         \
	int BPF_KRETPROBE(trace_uretprobe_##lib##_##func)

#define SSL_BPF_DATA_EXIT(lib, func) \
	SSL_URETPROBE(lib, func)     \
	{                            \
		return ssl_exit(ctx);  \
	}

/* int SSL_write(SSL *ssl, const void *buf, int num) and friends. */
#define SSL_BPF_RW(lib, func, dir)                                                  \
	SSL_UPROBE(lib, func, void *ssl, void *buf)                                 \
	{                                                                           \
		return ssl_enter(SSL_OP_##func, SSL_DIR_##dir, ssl, buf, NULL, 0);     \
	}                                                                           \
	SSL_BPF_DATA_EXIT(lib, func)

/* int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written) */
#define SSL_BPF_RW_EX(lib, func, dir)                                               \
	SSL_UPROBE(lib, func, void *ssl, void *buf, size_t num, size_t *lenp)        \
	{                                                                           \
		return ssl_enter(SSL_OP_##func, SSL_DIR_##dir, ssl, buf, lenp,        \
				 CALL_LEN_ARG);                                       \
	}                                                                           \
	SSL_BPF_DATA_EXIT(lib, func)

/* ssize_t gnutls_record_send(gnutls_session_t session, const void *data, size_t size) */
#define SSL_BPF_RECORD(lib, func, dir)                                               \
	SSL_UPROBE(lib, func, void *session, void *buf)                              \
	{                                                                            \
		return ssl_enter(SSL_OP_##func, SSL_DIR_##dir, session, buf, NULL,    \
				 CALL_WIDE_RET);                                      \
	}                                                                            \
	SSL_BPF_DATA_EXIT(lib, func)

/* PRInt32 PR_Write(PRFileDesc *fd, const void *buf, PRInt32 amount) and friends. */
#define SSL_BPF_NSPR(lib, func, dir)                                 \
	SSL_UPROBE(lib, func, void *fd, void *buf)                   \
	{                                                            \
		return nss_enter(SSL_OP_##func, SSL_DIR_##dir, fd, buf); \
	}                                                            \
	SSL_BPF_DATA_EXIT(lib, func)

/* int SSL_do_handshake(SSL *s) */
#define SSL_BPF_HANDSHAKE(lib, func, dir)                                            \
	SSL_UPROBE(lib, func, void *ssl)                                             \
	{                                                                            \
		return ssl_enter(SSL_OP_##func, SSL_DIR_##dir, ssl, NULL, NULL,       \
				 CALL_HANDSHAKE);                                     \
	}                                                                            \
	SSL_BPF_DATA_EXIT(lib, func)

/* Handshakes without events: their system calls tell the endpoints early. */
#define SSL_BPF_HS(lib, func, role)                  \
	SSL_UPROBE(lib, func, void *conn)            \
	{                                            \
		return hs_enter(conn, role);         \
	}                                            \
	SSL_URETPROBE(lib, func)                     \
	{                                            \
		return hs_exit();                    \
	}
#define SSL_BPF_HS_CLIENT(lib, func, dir) SSL_BPF_HS(lib, func, SSL_ROLE_CLIENT)
#define SSL_BPF_HS_SERVER(lib, func, dir) SSL_BPF_HS(lib, func, SSL_ROLE_SERVER)
#define SSL_BPF_HS_ANY(lib, func, dir) SSL_BPF_HS(lib, func, SSL_ROLE_UNKNOWN)

#define SSL_BPF_CRYPTO(lib, func, dir)                                       \
	SSL_UPROBE(lib, func)                                                \
	{                                                                    \
		return crypto_enter(SSL_CRYPTO_SLOT_##func);                 \
	}                                                                    \
	SSL_URETPROBE(lib, func)                                             \
	{                                                                    \
		return crypto_exit(ctx, SSL_OP_##func, SSL_CRYPTO_SLOT_##func); \
	}

#define SSL_BPF_IMAGE(lib, func, dir)         \
	SSL_UPROBE(lib, func)                 \
	{                                     \
		return nss_note_image(ctx);   \
	}

/* void SSL_CTX_set_verify(SSL_CTX *ctx, int mode, SSL_verify_cb cb); SSL_set_verify alike */
#define SSL_BPF_VERIFY_MODE(lib, func, dir)                                             \
	SSL_UPROBE(lib, func, void *handle, int mode)                                   \
	{                                                                               \
		/* --certs follows every mode: a later call may turn it back on. */     \
		return mode == 0 || trace_certs                                          \
			       ? emit_meta(SSL_OP_##func, (__u64)handle, mode,          \
					   META_CONN_SEEN)                              \
			       : 0;                                                      \
	}

/* long SSL_get_verify_result(const SSL *ssl) */
#define SSL_BPF_VERIFY_RESULT(lib, func, dir)                        \
	SSL_UPROBE(lib, func, void *ssl)                             \
	{                                                            \
		return verify_enter(SSL_OP_##func, ssl, NULL);       \
	}                                                            \
	SSL_URETPROBE(lib, func)                                     \
	{                                                            \
		return verify_result_exit(ctx, SSL_OP_##func);       \
	}

/*
 * int gnutls_certificate_verify_peers2(gnutls_session_t, unsigned int *status),
 * _peers3(session, const char *host, unsigned int *status) and
 * _peers(session, gnutls_typed_vdata_st *, unsigned int elements, unsigned int *status):
 * alike but for where the status goes.
 */
#define SSL_BPF_VERIFY_STATUS(lib, func, status)                     \
	SSL_UPROBE(lib, func)                                        \
	{                                                            \
		return verify_enter(SSL_OP_##func,                   \
				    (void *)PT_REGS_PARM1(ctx), (void *)(status)); \
	}                                                            \
	SSL_URETPROBE(lib, func)                                     \
	{                                                            \
		return verify_status_exit(ctx, SSL_OP_##func);       \
	}
#define SSL_BPF_VERIFY_PEERS2(lib, func, dir) SSL_BPF_VERIFY_STATUS(lib, func, PT_REGS_PARM2(ctx))
#define SSL_BPF_VERIFY_PEERS3(lib, func, dir) SSL_BPF_VERIFY_STATUS(lib, func, PT_REGS_PARM3(ctx))
#define SSL_BPF_VERIFY_PEERS(lib, func, dir) SSL_BPF_VERIFY_STATUS(lib, func, PT_REGS_PARM4(ctx))

/* SSL_free(SSL *), gnutls_deinit(session), PR_Close(PRFileDesc *) */
#define SSL_BPF_CONN_END(lib, func, dir)                                \
	SSL_UPROBE(lib, func, void *handle)                             \
	{                                                               \
		return conn_retire(SSL_OP_##func, (__u64)handle, false); \
	}

/* SSL_clear(SSL *): a reset of a connection that did something */
#define SSL_BPF_CONN_RESET(lib, func, dir)                              \
	SSL_UPROBE(lib, func, void *handle)                             \
	{                                                               \
		return conn_retire(SSL_OP_##func, (__u64)handle, true); \
	}

#define SSL_BPF_PROBES(lib, func, kind, dir, flags) SSL_BPF_##kind(lib, func, dir)
SSL_ALL_PROBES(SSL_BPF_PROBES)

/* --- process lifetime ------------------------------------------------------------- */

/* A small record so user space looks at the new image and its libraries. */
SEC("tracepoint/sched/sched_process_exec")
int trace_sched_process_exec(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	/* The old image's libssl3.so (and libssl.so) is gone with it. */
	bpf_map_delete_elem(&nss_ranges, &tgid);
	if (trace_certs)
		bpf_map_delete_elem(&certs_libssl, &tgid);
	return emit_meta(SSL_OP_EXEC, tgid, 0, META_NO_CONN);
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
	if (trace_certs)
		bpf_map_delete_elem(&certs_threads, &tid);
	if (tid == tgid)
		bpf_map_delete_elem(&nss_ranges, &tgid);
	if (tid == tgid && trace_certs)
		bpf_map_delete_elem(&certs_libssl, &tgid);
	if (tid == tgid)
		conn_proc_exit(tgid);
	return 0;
}
