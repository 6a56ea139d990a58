// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fdpass: file descriptors passed over unix sockets (SCM_RIGHTS), both ends,
 * from system call tracepoints only.
 *
 * Send: at sendmsg/sendmmsg entry the message's control data is read from
 * user memory, its SCM_RIGHTS descriptors are resolved to their struct file
 * in the sender's table (at entry: the sender may close them right after)
 * and kept by thread id in sendmsg_ctx; the exit reports them if the send
 * succeeded.  Receive: at recvmsg/recvmmsg exit the control data the kernel
 * just wrote holds the new descriptors; they are resolved in the receiver's
 * table.  The same struct file leaving one process and arriving in another
 * joins the two ends through fdpass_peers.
 */
#include "loupe.bpf.h"
#include "fdpass.h"

#define SOL_SOCKET_ 1
#define SCM_RIGHTS_ 1
#define CMSG_HDR_LEN 16 /* struct cmsghdr on 64-bit: len (8), level (4), type (4) */

/* Mask v in the very register the next access uses (clang may test a copy). */
#define BOUND(v, pow2_minus_1)              \
	do {                                \
		asm volatile("" : "+r"(v)); \
		(v) &= (pow2_minus_1);      \
	} while (0)

const volatile bool trace_send = true;
const volatile bool trace_receive = true;

/* Descriptors of one system call, built at entry (send) or exit (receive). */
struct fd_set_ {
	__u64 socket_ino;
	__s32 sockfd;
	__u32 nfds;
	__u32 more;	 /* descriptors seen in the control data but not kept */
	__u32 msgs_more; /* messages of a m*msg call beyond the walk */
	__u64 files[FDPASS_MAX_FDS];
	__s32 fds[FDPASS_MAX_FDS];
	__u8 msg[FDPASS_MAX_FDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* tid; sendmsg can sleep */
	__type(value, struct fd_set_);
} sendmsg_ctx SEC(".maps");

/* What a recvmsg entry leaves for its exit. */
struct recv_call {
	__u64 msg; /* struct user_msghdr * or struct mmsghdr * */
	__s32 sockfd;
	__u32 vlen; /* 0 for recvmsg */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct recv_call);
} recvmsg_ctx SEC(".maps");

/* struct file * -> its last sender and receiver. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct fdpass_peer);
} fdpass_peers SEC(".maps");

/* Per-CPU scratch: control data and the descriptor set being built. */
struct scratch {
	__u8 ctrl[FDPASS_CTRL_MAX + 8] __attribute__((aligned(8)));
	struct fd_set_ set;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} fdpass_scratch SEC(".maps");

/* Per-CPU path buffer: the dentry walk writes backwards into the first half. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[FDPASS_PATH_MAX * 2]);
} bufs SEC(".maps");

/* The record under construction: header and file name, sent with its real length. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(value_size, sizeof(struct fdpass_event) + FDPASS_PATH_MAX);
} gadget_heap SEC(".maps");

static __always_inline void count_n(__u32 counter, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&loupe_counters, &counter);

	if (v)
		*v += n;
}

/*
 * Read one message's control data from user memory and append its SCM_RIGHTS
 * descriptors to the per-CPU set.  Global: verified once, whoever calls it.
 */
__noinline int parse_control(__u64 control, __u64 len, __u32 msg)
{
	__u32 zero = 0, off = 0, c, j;
	struct scratch *sc = bpf_map_lookup_elem(&fdpass_scratch, &zero);

	if (!sc || !control || len < CMSG_HDR_LEN)
		return 0;
	if (len > FDPASS_CTRL_MAX)
		len = FDPASS_CTRL_MAX; /* descriptors past it are counted in more */
	asm volatile("" : "+r"(len));
	if (len > FDPASS_CTRL_MAX)
		return 0;
	if (bpf_probe_read_user(sc->ctrl, len, (void *)control)) {
		loupe_count(LOUPE_CNT_READ_FAULT);
		return 0;
	}
	for (c = 0; c < FDPASS_MAX_CMSGS; c++) {
		__u64 clen;
		__s32 level, type;
		__u32 n, avail, keep;

		if (off + CMSG_HDR_LEN > len)
			return 0;
		off &= FDPASS_CTRL_MAX - 1;
		clen = *(__u64 *)&sc->ctrl[off];
		level = *(__s32 *)&sc->ctrl[off + 8];
		type = *(__s32 *)&sc->ctrl[off + 12];
		if (clen < CMSG_HDR_LEN || clen > (1 << 20))
			return 0;
		if (level == SOL_SOCKET_ && type == SCM_RIGHTS_) {
			n = (clen - CMSG_HDR_LEN) / 4;
			avail = (len - off - CMSG_HDR_LEN) / 4;
			keep = n < avail ? n : avail;
			for (j = 0; j < FDPASS_MAX_FDS; j++) {
				__u32 k = sc->set.nfds, at = off + CMSG_HDR_LEN + 4 * j;
				__s32 fd;

				if (j >= keep || k >= FDPASS_MAX_FDS)
					break;
				BOUND(k, FDPASS_MAX_FDS - 1);
				BOUND(at, FDPASS_CTRL_MAX - 1);
				bpf_probe_read_kernel(&fd, sizeof(fd), &sc->ctrl[at]);
				sc->set.fds[k] = fd;
				sc->set.msg[k] = msg;
				sc->set.nfds = k + 1;
			}
			sc->set.more += n - j;
		}
		off += (clen + 7) & ~7ULL;
	}
	/* More control messages than we walk: at least one descriptor may hide there. */
	if (off + CMSG_HDR_LEN <= len)
		sc->set.more++;
	return 0;
}

static __always_inline struct scratch *set_begin(__s32 sockfd)
{
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&fdpass_scratch, &zero);

	if (!sc)
		return NULL;
	sc->set.sockfd = sockfd;
	sc->set.socket_ino = 0;
	sc->set.nfds = 0;
	sc->set.more = 0;
	sc->set.msgs_more = 0;
	return sc;
}

/* Descriptors to struct file in the current task's table, and the socket's inode. */
static __always_inline void set_resolve(struct scratch *sc)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *sock = loupe_task_file(task, sc->set.sockfd);
	__u32 i;

	if (sock)
		sc->set.socket_ino = BPF_CORE_READ(sock, f_inode, i_ino);
	for (i = 0; i < FDPASS_MAX_FDS; i++) {
		if (i >= sc->set.nfds)
			break;
		sc->set.files[i] = (__u64)loupe_task_file(task, sc->set.fds[i]);
	}
}

/* --- file names ------------------------------------------------------------------ */

struct mount___local {
	struct mount___local *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
} __attribute__((preserve_access_index));

/*
 * The name of a file as readlink(/proc/self/fd/N) gives it: made-up names
 * (d_op->d_dname: pipes, sockets, anonymous inodes, memfd) are left to user
 * space with the superblock magic; others are walked dentry by dentry up to
 * the task's root, crossing mounts, like the kernel's prepend_path().
 */
__noinline int resolve_file(__u64 file_ptr)
{
	struct file *f = (struct file *)file_ptr;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 zero = 0, pos = FDPASS_PATH_MAX, i, len;
	struct dentry *dentry, *root_dentry, *mnt_root, *parent;
	struct vfsmount *vfsmnt, *root_mnt;
	struct mount___local *mnt;
	struct fdpass_event *e;
	const struct dentry_operations *d_op;
	struct qstr name;
	__u8 *buf;
	bool done = false;

	e = bpf_map_lookup_elem(&gadget_heap, &zero);
	buf = bpf_map_lookup_elem(&bufs, &zero);
	if (!e || !buf)
		return 0;
	e->file_len = 0;
	e->flags &= ~(FDPASS_F_DELETED | FDPASS_F_TRUNCATED);
	if (!f) {
		e->kind = FDPASS_KIND_NONE;
		e->ino = 0;
		e->magic = 0;
		return 0;
	}
	dentry = BPF_CORE_READ(f, f_path.dentry);
	vfsmnt = BPF_CORE_READ(f, f_path.mnt);
	e->ino = BPF_CORE_READ(f, f_inode, i_ino);
	e->magic = BPF_CORE_READ(dentry, d_sb, s_magic);
	mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	d_op = BPF_CORE_READ(dentry, d_op);
	parent = BPF_CORE_READ(dentry, d_parent);

	if (d_op && BPF_CORE_READ(d_op, d_dname) && (dentry != parent || dentry != mnt_root)) {
		name = BPF_CORE_READ(dentry, d_name);
		len = name.len;
		BOUND(len, 255); /* NAME_MAX */
		e->kind = FDPASS_KIND_DNAME;
		if (bpf_probe_read_kernel(e->file, len, name.name))
			len = 0;
		e->file_len = len;
		return 0;
	}

	e->kind = FDPASS_KIND_PATH;
	/* " (deleted)": unhashed and not a root, as d_unlinked() says. */
	if (!BPF_CORE_READ(dentry, d_hash.pprev) && dentry != parent)
		e->flags |= FDPASS_F_DELETED;
	root_dentry = BPF_CORE_READ(task, fs, root.dentry);
	root_mnt = BPF_CORE_READ(task, fs, root.mnt);
	mnt = NULL;
	if (bpf_core_type_exists(struct mount))
		mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount___local, mnt);

	for (i = 0; i < FDPASS_PATH_DEPTH; i++) {
		if (dentry == root_dentry && vfsmnt == root_mnt) {
			done = true;
			break;
		}
		parent = BPF_CORE_READ(dentry, d_parent);
		if (dentry == mnt_root) {
			struct mount___local *up;

			if (!mnt) {
				done = true;
				break;
			}
			up = BPF_CORE_READ(mnt, mnt_parent);
			if (up == mnt || !up) {
				done = true; /* the root of a namespace, or a detached mount */
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = up;
			vfsmnt = &up->mnt;
			mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
			continue;
		}
		if (dentry == parent) {
			done = true; /* escaped, as the kernel says: stop here */
			break;
		}
		name = BPF_CORE_READ(dentry, d_name);
		len = name.len;
		BOUND(len, 255); /* NAME_MAX */
		if (pos <= len + 1)
			break; /* longer than the buffer: truncated */
		pos -= len + 1;
		BOUND(pos, FDPASS_PATH_MAX - 1);
		buf[pos] = '/';
		BOUND(len, 255);
		if (bpf_probe_read_kernel(&buf[pos + 1], len, name.name))
			loupe_count(LOUPE_CNT_READ_FAULT);
		dentry = parent;
	}
	if (!done)
		e->flags |= FDPASS_F_TRUNCATED;
	len = FDPASS_PATH_MAX - pos;
	BOUND(len, FDPASS_PATH_MAX - 1); /* pos > 0: len < FDPASS_PATH_MAX */
	BOUND(pos, FDPASS_PATH_MAX - 1);
	if (len && bpf_probe_read_kernel(e->file, len, &buf[pos]))
		len = 0;
	e->file_len = len;
	return 0;
}

/* --- events -------------------------------------------------------------------------- */

/*
 * Descriptor i of the per-CPU set: note it in fdpass_peers (always: the other
 * end may be traced even if this one is filtered out) and report it if asked.
 */
__noinline int note_fd(__u32 i, __u32 type, __u32 emit)
{
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&fdpass_scratch, &zero);
	struct fdpass_event *e = bpf_map_lookup_elem(&gadget_heap, &zero);
	struct fdpass_peer *p;
	__u64 pid_tgid = bpf_get_current_pid_tgid(), file, size;

	if (!sc || !e || i >= FDPASS_MAX_FDS)
		return 0;
	BOUND(i, FDPASS_MAX_FDS - 1);
	file = sc->set.files[i];
	e->peer_pid = 0;
	e->peer_tid = 0;
	e->flags = 0;
	__builtin_memset(e->peer_comm, 0, sizeof(e->peer_comm));
	if (file && type == FDPASS_RECEIVE) {
		p = bpf_map_lookup_elem(&fdpass_peers, &file);
		if (p) {
			e->peer_pid = p->sender_pid;
			e->peer_tid = p->sender_tid;
			__builtin_memcpy(e->peer_comm, p->sender_comm, sizeof(e->peer_comm));
			e->flags |= FDPASS_F_PEER;
			p->recv_ns = bpf_ktime_get_ns();
			p->receiver_pid = pid_tgid >> 32;
			p->receiver_tid = (__u32)pid_tgid;
			bpf_get_current_comm(p->receiver_comm, sizeof(p->receiver_comm));
		}
	}
	if (!emit)
		return 0;

	loupe_fill_proc(&e->proc);
	e->type = type;
	e->file_ptr = file;
	e->socket_ino = sc->set.socket_ino;
	e->sockfd = sc->set.sockfd;
	e->fd = sc->set.fds[i];
	e->msg = sc->set.msg[i];
	/* The extra descriptors are told once, on the last reported one. */
	e->more = i + 1 == sc->set.nfds ? sc->set.more : 0;
	resolve_file(file);
	size = e->file_len;
	BOUND(size, FDPASS_PATH_MAX - 1);
	loupe_output(e, sizeof(*e) + size);
	return 0;
}

/*
 * The sender of each file goes into fdpass_peers at entry: the receiver may
 * take the file before the sender's exit program runs.  Always, even for a
 * filtered-out sender: a traced receiver still wants to know it.
 */
static __always_inline void set_note_senders(struct scratch *sc)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct fdpass_peer peer = {};
	__u32 i;

	peer.send_ns = bpf_ktime_get_ns();
	peer.sender_pid = pid_tgid >> 32;
	peer.sender_tid = (__u32)pid_tgid;
	bpf_get_current_comm(peer.sender_comm, sizeof(peer.sender_comm));
	for (i = 0; i < FDPASS_MAX_FDS; i++) {
		if (i >= sc->set.nfds)
			break;
		if (sc->set.files[i])
			bpf_map_update_elem(&fdpass_peers, &sc->set.files[i], &peer, BPF_ANY);
	}
}

/* Files of messages not sent after all: their entry would name a wrong sender. */
static __always_inline void set_forget_senders(struct scratch *sc, __s64 nmsgs)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), i;
	struct fdpass_peer *p;

	for (i = 0; i < FDPASS_MAX_FDS; i++) {
		if (i >= sc->set.nfds)
			break;
		if (sc->set.msg[i] < nmsgs || !sc->set.files[i])
			continue;
		p = bpf_map_lookup_elem(&fdpass_peers, &sc->set.files[i]);
		if (p && p->sender_tid == tid && !p->recv_ns)
			bpf_map_delete_elem(&fdpass_peers, &sc->set.files[i]);
	}
}

/* Counters speak of the traced processes only, like the events. */
static __always_inline void report_set(struct scratch *sc, __u32 type, __s64 nmsgs, bool traced)
{
	bool emit = traced && (type == FDPASS_SEND ? trace_send : trace_receive);
	__u32 i;

	for (i = 0; i < FDPASS_MAX_FDS; i++) {
		if (i >= sc->set.nfds)
			break;
		if (sc->set.msg[i] >= nmsgs)
			break; /* that message was not sent */
		if (emit && !sc->set.files[i])
			loupe_count(FDPASS_CNT_BAD_FD);
		note_fd(i, type, emit);
	}
	if (!emit)
		return;
	if (sc->set.more)
		count_n(FDPASS_CNT_NOT_WALKED, sc->set.more);
	if (sc->set.msgs_more)
		count_n(FDPASS_CNT_MSGS_NOT_WALKED, sc->set.msgs_more);
}

/* --- send ------------------------------------------------------------------------------ */

static __always_inline int send_enter(__s32 sockfd, __u64 umsg, __u32 vlen)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct user_msghdr mh;
	struct scratch *sc;
	__u32 i, n = vlen ? vlen : 1;

	sc = set_begin(sockfd);
	if (!sc)
		return 0;
	for (i = 0; i < FDPASS_MAX_MSGS; i++) {
		if (i >= n)
			break;
		/* struct mmsghdr is a user_msghdr and an unsigned int: 64 bytes. */
		if (bpf_probe_read_user(&mh, sizeof(mh), (void *)(umsg + (__u64)i * 64))) {
			loupe_count(LOUPE_CNT_READ_FAULT);
			break;
		}
		if (mh.msg_control && mh.msg_controllen >= CMSG_HDR_LEN)
			parse_control((__u64)mh.msg_control, mh.msg_controllen, i);
	}
	if (n > FDPASS_MAX_MSGS)
		sc->set.msgs_more = n - FDPASS_MAX_MSGS;
	if (!sc->set.nfds && !sc->set.more && !sc->set.msgs_more)
		return 0;
	set_resolve(sc);
	set_note_senders(sc);
	loupe_map_insert(&sendmsg_ctx, &tid, &sc->set);
	return 0;
}

static __always_inline int send_exit(long ret, bool mmsg)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), zero = 0;
	struct fd_set_ *set = bpf_map_lookup_elem(&sendmsg_ctx, &tid);
	struct scratch *sc;
	bool traced;

	if (!set)
		return 0;
	sc = bpf_map_lookup_elem(&fdpass_scratch, &zero);
	if (sc)
		__builtin_memcpy(&sc->set, set, sizeof(*set));
	bpf_map_delete_elem(&sendmsg_ctx, &tid);
	if (!sc)
		return 0;
	traced = !loupe_call_filtered(false);
	if (ret < 0 || (mmsg && ret == 0)) {
		set_forget_senders(sc, 0);
		if (traced)
			loupe_count(FDPASS_CNT_FAILED_SENDS);
		return 0;
	}
	if (mmsg)
		set_forget_senders(sc, ret);
	/* sendmsg: every descriptor went; sendmmsg: those of the first ret messages. */
	if (mmsg) /* only the messages sent count */
		sc->set.msgs_more = ret > FDPASS_MAX_MSGS ? ret - FDPASS_MAX_MSGS : 0;
	report_set(sc, FDPASS_SEND, mmsg ? ret : FDPASS_MAX_MSGS, traced);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int sendmsg_e(struct trace_event_raw_sys_enter *ctx)
{
	return send_enter((__s32)ctx->args[0], ctx->args[1], 0);
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int sendmsg_x(struct trace_event_raw_sys_exit *ctx)
{
	return send_exit(ctx->ret, false);
}

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int sendmmsg_e(struct trace_event_raw_sys_enter *ctx)
{
	__u32 vlen = ctx->args[2];

	if (!vlen)
		return 0;
	return send_enter((__s32)ctx->args[0], ctx->args[1], vlen);
}

SEC("tracepoint/syscalls/sys_exit_sendmmsg")
int sendmmsg_x(struct trace_event_raw_sys_exit *ctx)
{
	return send_exit(ctx->ret, true);
}

/* --- receive ---------------------------------------------------------------------------- */

static __always_inline int recv_enter(__s32 sockfd, __u64 umsg, __u32 vlen)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct recv_call call = { .msg = umsg, .sockfd = sockfd, .vlen = vlen };

	if (!umsg)
		return 0;
	if (!vlen) {
		struct user_msghdr mh;

		/* No room for control data: no descriptor can arrive, skip the exit. */
		if (bpf_probe_read_user(&mh, sizeof(mh), (void *)umsg) || !mh.msg_control ||
		    mh.msg_controllen < CMSG_HDR_LEN)
			return 0;
	}
	loupe_map_insert(&recvmsg_ctx, &tid, &call);
	return 0;
}

static __always_inline int recv_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct recv_call *callp, call;
	struct user_msghdr mh;
	struct scratch *sc;
	__u32 i, n;

	callp = bpf_map_lookup_elem(&recvmsg_ctx, &tid);
	if (!callp)
		return 0;
	call = *callp;
	bpf_map_delete_elem(&recvmsg_ctx, &tid);
	if (ret < 0 || (call.vlen && ret == 0))
		return 0;
	sc = set_begin(call.sockfd);
	if (!sc)
		return 0;
	n = call.vlen ? ret : 1;
	for (i = 0; i < FDPASS_MAX_MSGS; i++) {
		if (i >= n)
			break;
		/* The kernel has written the cmsgs and their length back into the msghdr. */
		if (bpf_probe_read_user(&mh, sizeof(mh), (void *)(call.msg + (__u64)i * 64))) {
			loupe_count(LOUPE_CNT_READ_FAULT);
			break;
		}
		if (mh.msg_control && mh.msg_controllen >= CMSG_HDR_LEN)
			parse_control((__u64)mh.msg_control, mh.msg_controllen, i);
	}
	if (n > FDPASS_MAX_MSGS)
		sc->set.msgs_more = n - FDPASS_MAX_MSGS;
	if (!sc->set.nfds && !sc->set.more && !sc->set.msgs_more)
		return 0;
	set_resolve(sc);
	report_set(sc, FDPASS_RECEIVE, FDPASS_MAX_MSGS, !loupe_call_filtered(false));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int recvmsg_e(struct trace_event_raw_sys_enter *ctx)
{
	return recv_enter((__s32)ctx->args[0], ctx->args[1], 0);
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int recvmsg_x(struct trace_event_raw_sys_exit *ctx)
{
	return recv_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_recvmmsg")
int recvmmsg_e(struct trace_event_raw_sys_enter *ctx)
{
	__u32 vlen = ctx->args[2];

	if (!vlen)
		return 0;
	return recv_enter((__s32)ctx->args[0], ctx->args[1], vlen);
}

SEC("tracepoint/syscalls/sys_exit_recvmmsg")
int recvmmsg_x(struct trace_event_raw_sys_exit *ctx)
{
	return recv_exit(ctx->ret);
}

/* A thread killed inside a call must not leave its context behind. */
SEC("tracepoint/sched/sched_process_exit")
int fdpass_exit(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&sendmsg_ctx, &tid);
	bpf_map_delete_elem(&recvmsg_ctx, &tid);
	return 0;
}
