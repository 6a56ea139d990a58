/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel half of the loupe runtime, included by every gadget's .bpf.c:
 * the event ring buffer, loss counters, the common in-kernel filters and the
 * process header.  User space sets the const volatile knobs before load
 * (see src/runtime.c), so a filter that is not asked for costs nothing.
 */
#ifndef LOUPE_BPF_H
#define LOUPE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "loupe_types.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Resized by user space (--buffer-size) before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LOUPE_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} loupe_counters SEC(".maps");

/* Mount namespaces to keep when filter_by_mntns is set (--mntns, --container-pid). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} gadget_mntns_filter_map SEC(".maps");

/*
 * --container: mount namespaces (by key) judged by user space, 1 keep, 0
 * drop; one not judged yet passes, and user space judges it (userfilter.c).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} gadget_container_filter_map SEC(".maps");

const volatile bool filter_by_container = false;
const volatile bool filter_by_pid = false;
const volatile bool filter_by_tid = false;
const volatile bool filter_by_uid = false;
const volatile bool filter_by_gid = false;
const volatile bool filter_by_comm = false;
const volatile bool filter_by_mntns = false;
const volatile __u32 filter_pid = 0;
const volatile __u32 filter_tid = 0;
const volatile __u32 filter_uid = 0;
const volatile __u32 filter_gid = 0;
const volatile char filter_comm[LOUPE_COMM_LEN] = {};

/*
 * Atomic although per-CPU: uprobe programs run preemptible, so two of them
 * can interleave on one CPU, and the accounting at exit must be exact.
 */
static __always_inline void loupe_count(__u32 counter)
{
	__u64 *v = bpf_map_lookup_elem(&loupe_counters, &counter);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline __u64 loupe_now_ns(void)
{
	/* Boot time keeps counting across suspend; fall back where it is missing (< 5.8). */
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_ktime_get_boot_ns))
		return bpf_ktime_get_boot_ns();
	return bpf_ktime_get_ns();
}

static __always_inline __u64 loupe_task_mntns(struct task_struct *task)
{
	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
}

/* Before 6.12's ns_common.ns_id, a mount namespace's sequence number did the same. */
struct mnt_namespace___seq {
	__u64 seq;
} __attribute__((preserve_access_index));

/*
 * An identity of the task's mount namespace that is never given to another
 * one while the system runs, unlike its inode number (reused at once after a
 * container exits): what caches and verdicts about containers are keyed by.
 */
static __always_inline __u64 loupe_task_mntns_key(struct task_struct *task)
{
	struct mnt_namespace *ns = BPF_CORE_READ(task, nsproxy, mnt_ns);

	if (bpf_core_field_exists(ns->ns.ns_id))
		return BPF_CORE_READ(ns, ns.ns_id);
	if (bpf_core_field_exists(((struct mnt_namespace___seq *)ns)->seq))
		return BPF_CORE_READ((struct mnt_namespace___seq *)ns, seq);
	return 0;
}

/* --config: the filters and gadget slots as SIGHUP last set them (see loupe_types.h). */
const volatile bool dynamic_config = false;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct loupe_config);
} loupe_config SEC(".maps");

static __always_inline const struct loupe_config *loupe_config_now(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&loupe_config, &zero);
}

/* A gadget's tunable: its read-only knob, or with --config the slot SIGHUP sets. */
static __always_inline __u64 loupe_tunable(__u64 knob, int slot)
{
	const struct loupe_config *cfg;

	if (!dynamic_config || slot < 0 || slot >= LOUPE_CONFIG_SLOTS)
		return knob;
	cfg = loupe_config_now();
	return cfg ? cfg->slot[slot] : knob;
}

static __always_inline bool loupe_comm_eq(const char *comm, const volatile char *want)
{
	for (int i = 0; i < LOUPE_COMM_LEN; i++) {
		if (comm[i] != want[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

/*
 * The thread's name or its process's: programs name their threads (gRPC's
 * "event_engine", a JVM's "C2 CompilerThre"), and `--comm grpc_server` must
 * still see the TLS calls those threads make for the process.
 */
static __always_inline bool loupe_comm_is(const volatile char *want)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *task;
	char comm[LOUPE_COMM_LEN];

	bpf_get_current_comm(comm, sizeof(comm));
	if (loupe_comm_eq(comm, want))
		return true;
	/* A main thread is its own process: nothing more to read. */
	if ((__u32)pid_tgid == pid_tgid >> 32)
		return false;
	task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ_INTO(&comm, task, group_leader, comm))
		return false;
	return loupe_comm_eq(comm, want);
}

static __always_inline bool loupe_comm_matches(void)
{
	return loupe_comm_is(filter_comm);
}

/*
 * True when the current task must not be traced.  Each test is compiled in
 * but removed by the verifier's dead-code pass when its knob is off.
 */
/* The same filters, from the loupe_config map (--config). */
static __always_inline bool loupe_discard_dynamic(void)
{
	const struct loupe_config *cfg = loupe_config_now();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (!cfg)
		return false;
	if ((cfg->by_pid && (pid_tgid >> 32) != cfg->pid) ||
	    (cfg->by_tid && (__u32)pid_tgid != cfg->tid) ||
	    (cfg->by_uid && (__u32)uid_gid != cfg->uid) ||
	    (cfg->by_gid && (uid_gid >> 32) != cfg->gid))
		return true;
	if (cfg->by_mntns) {
		__u64 mntns = loupe_task_mntns(task);

		if (!bpf_map_lookup_elem(&gadget_mntns_filter_map, &mntns))
			return true;
	}
	if (cfg->by_container) {
		__u64 key = loupe_task_mntns_key(task);
		__u8 *keep = bpf_map_lookup_elem(&gadget_container_filter_map, &key);

		if (keep && !*keep)
			return true;
	}
	return cfg->by_comm && !loupe_comm_is(cfg->comm);
}

static __always_inline bool loupe_discard_current(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	if (dynamic_config)
		return loupe_discard_dynamic();

	if (filter_by_pid && (pid_tgid >> 32) != filter_pid)
		return true;
	if (filter_by_tid && (__u32)pid_tgid != filter_tid)
		return true;
	if (filter_by_uid && (__u32)uid_gid != filter_uid)
		return true;
	if (filter_by_gid && (uid_gid >> 32) != filter_gid)
		return true;
	if (filter_by_mntns) {
		__u64 mntns = loupe_task_mntns((struct task_struct *)bpf_get_current_task());

		if (!bpf_map_lookup_elem(&gadget_mntns_filter_map, &mntns))
			return true;
	}
	if (filter_by_container) {
		__u64 key = loupe_task_mntns_key((struct task_struct *)bpf_get_current_task());
		__u8 *keep = bpf_map_lookup_elem(&gadget_container_filter_map, &key);

		if (keep && !*keep)
			return true;
	}
	if (filter_by_comm && !loupe_comm_matches())
		return true;
	return false;
}

/*
 * A call of what the gadget traces: counted, then filtered (`skip` is the
 * gadget's own filter, e.g. --no-reads).  True when it is not traced; the
 * statistics show calls, filtered and the capture rate from these counts.
 */
static __always_inline bool loupe_call_filtered(bool skip)
{
	/* One increment a call, whichever way it goes: user space adds them up. */
	if (!skip && !loupe_discard_current()) {
		loupe_count(LOUPE_CNT_CALLS);
		return false;
	}
	loupe_count(LOUPE_CNT_FILTERED);
	return true;
}

static __always_inline void loupe_fill_proc(struct loupe_proc *p)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	p->ts_ns = loupe_now_ns();
	p->pid = pid_tgid >> 32;
	p->tid = (__u32)pid_tgid;
	p->uid = (__u32)uid_gid;
	p->gid = uid_gid >> 32;
	p->mntns_id = loupe_task_mntns((struct task_struct *)bpf_get_current_task());
	p->mntns_key = loupe_task_mntns_key((struct task_struct *)bpf_get_current_task());
	bpf_get_current_comm(p->comm, sizeof(p->comm));
}

#define LOUPE_S_IFMT   0170000
#define LOUPE_S_IFSOCK 0140000

/* The open file behind descriptor fd of task, or NULL. */
static __always_inline struct file *loupe_task_file(struct task_struct *task, long fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;

	if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd])) {
		loupe_count(LOUPE_CNT_READ_FAULT);
		return NULL;
	}
	return file;
}

/* The socket behind descriptor fd of the current task, or NULL if it is not one. */
static __always_inline struct sock *loupe_fd_sock(long fd)
{
	struct file *file = loupe_task_file((struct task_struct *)bpf_get_current_task(), fd);
	struct socket *sock;

	if (!file || (BPF_CORE_READ(file, f_inode, i_mode) & LOUPE_S_IFMT) != LOUPE_S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

/*
 * A socket's ends.  The local port from inet_sport, not skc_num: when a
 * closing socket's last state change fires, the port is already released
 * (skc_num 0) but inet_sport still holds it.
 */
static __always_inline void loupe_sock_tuple(struct sock *sk, struct loupe_tuple *t)
{
	__builtin_memset(t, 0, sizeof(*t));
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	t->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t->family == LOUPE_AF_INET) {
		bpf_core_read(t->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(t->raddr, 4, &sk->__sk_common.skc_daddr);
	} else if (t->family == LOUPE_AF_INET6) {
		bpf_core_read(t->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(t->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/*
 * Reserving ring buffer records.  Every record is one of three kinds, and the
 * kind decides what a full ring buffer costs and where it is counted:
 *
 *   loupe_reserve()         the first (usually only) record of an event
 *   loupe_reserve_part()    a later record of an event already started
 *   loupe_reserve_notice()  a message to user space that is not an event
 *
 * Every reserved record is counted too, so that user space knows at exit how
 * many it must still read (reserved records are always submitted).
 */
static __always_inline void *loupe_reserve_counted(__u64 size, __u32 lost_counter)
{
	void *rec = bpf_ringbuf_reserve(&events, size, 0);

	/*
	 * Two separate paths: with one count call choosing its counter from
	 * rec, clang tests rec again after it, and verifiers before 6.8 then
	 * walk a "rec is NULL" branch where it is not, and see a leaked record.
	 */
	if (!rec) {
		loupe_count(lost_counter);
		return NULL;
	}
	loupe_count(LOUPE_CNT_RECORDS);
	return rec;
}

static __always_inline void *loupe_reserve(__u64 size)
{
	loupe_count(LOUPE_CNT_SEEN);
	return loupe_reserve_counted(size, LOUPE_CNT_RINGBUF_LOST);
}

static __always_inline void *loupe_reserve_part(__u64 size)
{
	return loupe_reserve_counted(size, LOUPE_CNT_PART_LOST);
}

static __always_inline void *loupe_reserve_notice(__u64 size)
{
	return loupe_reserve_counted(size, LOUPE_CNT_NOTICE_LOST);
}

/* An event that was produced but could not be sent at all (e.g. no emitter). */
static __always_inline void loupe_event_lost(void)
{
	loupe_count(LOUPE_CNT_SEEN);
	loupe_count(LOUPE_CNT_RINGBUF_LOST);
}

/*
 * Wake the reader only once a batch is waiting: a wakeup per record (an
 * irq_work and a context switch) costs more than the record itself.  The
 * reader also polls every 100 ms, so a quiet trickle is still shown promptly.
 */
const volatile __u64 wakeup_bytes = 0;

static __always_inline __u64 loupe_wakeup_flags(void)
{
	if (!wakeup_bytes || bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void loupe_submit(void *rec)
{
	bpf_ringbuf_submit(rec, loupe_wakeup_flags());
}

/* A notice user space must act on at once (a new process to probe): no batching. */
static __always_inline void loupe_submit_now(void *rec)
{
	bpf_ringbuf_submit(rec, BPF_RB_FORCE_WAKEUP);
}

/* Copy a whole one-record event into the ring buffer; counted like loupe_reserve(). */
static __always_inline long loupe_output(void *data, __u64 size)
{
	long err = bpf_ringbuf_output(&events, data, size, loupe_wakeup_flags());

	loupe_count(LOUPE_CNT_SEEN);
	loupe_count(err ? LOUPE_CNT_RINGBUF_LOST : LOUPE_CNT_RECORDS);
	return err;
}

/* Insert into a context map; a full map is counted so the user can resize it. */
static __always_inline int loupe_map_insert(void *map, const void *key, const void *val)
{
	long err = bpf_map_update_elem(map, key, val, BPF_ANY);

	if (err)
		loupe_count(LOUPE_CNT_MAP_FULL);
	return err;
}

/* --- the runtime's notices: new mount namespaces ------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} loupe_notices SEC(".maps");

/* Mount namespaces already reported, by key (LRU: a key is never reused). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} loupe_known_mntns SEC(".maps");

/*
 * An exec in a mount namespace not reported yet (a container starting, most
 * often): tell user space now, while the process lives, so that it learns
 * its container from /proc and judges --container before any of its events.
 * Loaded by the runtime for every gadget; one map lookup per exec.
 */
SEC("tracepoint/sched/sched_process_exec")
int loupe_notice_exec(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct loupe_notice n = { .mntns_id = loupe_task_mntns(task),
				  .mntns_key = loupe_task_mntns_key(task) };
	__u64 key = n.mntns_key ?: n.mntns_id;
	__u8 one = 1;

	if (bpf_map_lookup_elem(&loupe_known_mntns, &key))
		return 0;
	bpf_map_update_elem(&loupe_known_mntns, &key, &one, BPF_ANY);
	n.pid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_ringbuf_output(&loupe_notices, &n, sizeof(n), BPF_RB_FORCE_WAKEUP))
		loupe_count(LOUPE_CNT_NOTICE_LOST);
	return 0;
}

#endif /* LOUPE_BPF_H */
