/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Connection identity, kernel side.  Included by ssl.bpf.c.
 *
 * A library handle (SSL *, gnutls_session_t, PRFileDesc *, *tls.Conn) is an
 * address, and allocators hand a freed one to the next connection: one nginx
 * worker served 30 connections with 5 handles.  So a connection is an id
 * taken from a run-wide counter the first time a handle is seen in a
 * process, kept in ssl_conns with the socket under it, and retired when the
 * library frees or resets the handle (CONN_END probes), or the process
 * execs or exits (user space sweeps those: conn.c).  A retired id is never
 * given again; the next connection on the same handle gets a new one.
 *
 * The hot path pays what it paid for the endpoints alone: one lookup per
 * call (conn_fill), a lookup and an update per system call inside a TLS
 * call (conn_note_sock); creating and retiring happen once per connection.
 */
#ifndef LOUPE_SSL_CONN_BPF_H
#define LOUPE_SSL_CONN_BPF_H

#define SSL_MAX_CONNS_KERNEL 32768

#ifndef EEXIST
#define EEXIST 17
#endif

/* Not LRU: an entry pushed out would split its connection in two, unseen. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SSL_MAX_CONNS_KERNEL);
	__type(key, struct ssl_conn_key);
	__type(value, struct ssl_conn_val);
} ssl_conns SEC(".maps");

/* Processes with entries in ssl_conns: their exit is worth a notice. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} ssl_conn_procs SEC(".maps");

/*
 * Ids: a per-CPU count times 1024 plus the CPU, so never 0 and never twice in
 * a run.  Not one atomic counter: fetching an atomic add needs Linux 5.12.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} ssl_conn_ids SEC(".maps");

/* The connection of a handle in this process; created at first sight when create. */
static __always_inline struct ssl_conn_val *conn_of(__u64 handle, bool create)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct ssl_conn_key key = { .handle = handle, .tgid = tgid };
	struct ssl_conn_val *v = bpf_map_lookup_elem(&ssl_conns, &key), nv = {};
	__u8 one = 1;
	long err;

	if (v || !create || !handle)
		return v;
	{
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&ssl_conn_ids, &zero);

		if (!n)
			return NULL;
		nv.id = ++*n * 1024 + bpf_get_smp_processor_id() % 1024;
	}
	nv.born_ns = loupe_now_ns();
	nv.sock.fd = -1;
	/* NOEXIST: another thread may make the same handle's entry at the same time. */
	err = bpf_map_update_elem(&ssl_conns, &key, &nv, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		loupe_count(LOUPE_CNT_MAP_FULL);
		return NULL;
	}
	if (!err)
		loupe_map_insert(&ssl_conn_procs, &tgid, &one);
	return bpf_map_lookup_elem(&ssl_conns, &key);
}

/* A record's connection: id, handle and socket (id 0 and fd -1: none known). */
static __always_inline struct ssl_conn_val *conn_fill(struct ssl_record *r, __u64 handle,
						      bool create)
{
	struct ssl_conn_val *v = conn_of(handle, create);

	r->handle = handle;
	if (v) {
		r->conn = v->id;
		r->sock = v->sock;
	} else {
		r->conn = 0;
		__builtin_memset(&r->sock, 0, sizeof(r->sock));
		r->sock.fd = -1;
	}
	return v;
}

/*
 * A system call on fd inside a TLS call of handle: the connection's socket.
 * Re-resolved every time: a descriptor number is reused too.
 */
static __always_inline void conn_note_sock(__u64 handle, struct sock *sk, __s64 fd, __u8 role)
{
	struct ssl_conn_key key = { .handle = handle, .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct ssl_conn_val *v, nv;

	if (!handle || fd > 0x7fffffff)
		return;
	/* The socket layer's tracepoints hand the socket; a system call, its fd. */
	if (!sk && (fd < 0 || !(sk = loupe_fd_sock(fd))))
		return;
	if (!(v = conn_of(handle, true)))
		return;
	nv = *v;
	nv.sock.role = role ? role : v->sock.fd == (__s32)fd ? v->sock.role : SSL_ROLE_UNKNOWN;
	nv.sock.fd = fd;
	nv.sock.known = 1;
	nv.active = 1;
	loupe_sock_tuple(sk, &nv.sock.tuple);
	/* A whole update, not a write in place: a reader on another CPU sees one or the other. */
	bpf_map_update_elem(&ssl_conns, &key, &nv, BPF_EXIST);
}

/*
 * The library frees or resets handle: its connection is over.  User space
 * is told with a notice (counted in the books; a lost one is counted as
 * such) so that the analyses end what they keep for it now.
 */
static __always_inline int conn_retire(__u32 op, __u64 handle, bool if_active)
{
	struct ssl_conn_key key = { .handle = handle, .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct ssl_conn_val *v = bpf_map_lookup_elem(&ssl_conns, &key);
	struct ssl_record *r;
	struct ssl_sock sock;
	__u64 id;

	if (!v || (if_active && !v->active))
		return 0;
	id = v->id;
	sock = v->sock;
	/* Another thread retired it first: one notice per connection. */
	if (bpf_map_delete_elem(&ssl_conns, &key) || loupe_discard_current())
		return 0;
	r = loupe_reserve_notice(sizeof(*r));
	if (!r)
		return 0;
	meta_header(r, op);
	r->conn = id;
	r->handle = handle;
	r->sock = sock;
	r->flags |= SSL_F_CONN_END;
	loupe_submit(r);
	return 0;
}

/* The main thread of a process with connections exits: user space forgets them. */
static __always_inline void conn_proc_exit(__u32 tgid)
{
	struct ssl_record *r;

	if (!bpf_map_lookup_elem(&ssl_conn_procs, &tgid) ||
	    bpf_map_delete_elem(&ssl_conn_procs, &tgid))
		return;
	r = loupe_reserve_notice(sizeof(*r));
	if (!r)
		return;
	meta_header(r, SSL_OP_PROC_EXIT);
	r->conn = tgid;
	loupe_submit_now(r);
}

#endif /* LOUPE_SSL_CONN_BPF_H */
