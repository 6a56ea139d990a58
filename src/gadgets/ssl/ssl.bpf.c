// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ssl: TLS plaintext at the library boundary.
 *
 * An entry uprobe remembers the call (buffer, handle, time) by thread id in
 * ssl_context; the return probe learns how many bytes the call really moved
 * and copies them, whole, into the ring buffer in records of up to SSL_CHUNK
 * bytes.  Nothing is cut without the record saying so.
 */
#include "loupe.bpf.h"
#include "ssl.h"

/* What an entry probe leaves for its return probe. */
struct ssl_call {
	__u64 start_ns;
	__u64 conn;
	__u64 buf;
	__u64 len_ptr;	/* size_t * of the _ex calls, else 0 */
	__u32 op;
	__u32 lib;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);	/* tid */
	__type(value, struct ssl_call);
} ssl_context SEC(".maps");

/* What the return probe hands to the emitter: header once, then the copy job. */
struct ssl_job {
	__u64 buf;
	__u32 captured;
	__u8 flags;
	struct ssl_record hdr;	/* last: its data[] is never used here */
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
const volatile __u32 sample_every = 1;
const volatile __u32 max_data = SSL_DEFAULT_DATA;

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

/*
 * Reserve the smallest record class that holds n bytes: the ring buffer wants
 * a constant size, and a 64-byte write should not pin 16 KiB of it.
 */
#define EMIT_CLASS(cap)                                                               \
	do {                                                                          \
		struct ssl_record *r = loupe_reserve(sizeof(*r) + (cap));             \
		if (!r)                                                               \
			return -1;                                                    \
		__builtin_memcpy(r, hdr, sizeof(*r));                                 \
		r->offset = off;                                                      \
		r->chunk_len = n;                                                     \
		r->flags = flags;                                                     \
		/* Re-clamp behind a barrier: the verifier must see the bound. */  \
		len = n;                                                              \
		asm volatile("" : "+r"(len));                                         \
		if (len > (cap))                                                      \
			len = (cap);                                                  \
		if (len && bpf_probe_read_user(r->data, len, src)) {                  \
			r->chunk_len = 0;                                             \
			r->flags |= SSL_F_READ_FAULT;                                 \
			loupe_count(LOUPE_CNT_READ_FAULT);                            \
		}                                                                     \
		loupe_submit(r);                                             \
		return 0;                                                             \
	} while (0)

static __noinline int emit_record(const struct ssl_record *hdr, const void *src, __u32 off, __u32 n,
				  __u8 flags)
{
	__u64 len;

	if (!hdr)
		return -1;
	if (n == 0) {
		struct ssl_record *r = loupe_reserve(sizeof(*r));

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
	int ret;

	callp = bpf_map_lookup_elem(&ssl_context, &tid);
	if (!callp)
		return 0;
	call = *callp;
	bpf_map_delete_elem(&ssl_context, &tid);

	/* All probed functions return int; sign-extend it. */
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
	captured = len < max_data ? len : max_data;
	if (captured > SSL_MAX_DATA)
		captured = SSL_MAX_DATA;
	hdr->captured = captured;
	job->buf = call.buf;
	job->captured = captured;
	job->flags = flags;
	bpf_tail_call(ctx, &ssl_emitter, 0);
	/* Only reached if the emitter is missing: the event is lost, say so. */
	loupe_count(LOUPE_CNT_RINGBUF_LOST);
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

#define SSL_PROBES(lib_name, lib_id, func, op, ...)                                        \
	SEC("uprobe")                                                                      \
	int BPF_KPROBE(trace_uprobe_##lib_name##_##func, __VA_ARGS__)                     \
	{                                                                                  \
		return ssl_enter(lib_id, op, SSL_ENTER_ARGS);                              \
	}                                                                                  \
	SEC("uretprobe")                                                                   \
	int BPF_KRETPROBE(trace_uretprobe_##lib_name##_##func)                            \
	{                                                                                  \
		return ssl_exit(ctx);                                                      \
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

/* A thread killed between entry and return must not leave its call behind. */
SEC("tracepoint/sched/sched_process_exit")
int trace_sched_process_exit(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&ssl_context, &tid);
	return 0;
}
