// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * capabilities: every cap_capable() check, its verdict, the system call that
 * led to it and its stacks.
 *
 * One object holds four hooks; user space keeps the best one the kernel
 * allows (tp_btf, then the classic tracepoint, then fexit, then a
 * kprobe/kretprobe pair).  The system call comes from the task's saved user
 * registers (orig_ax) at the time of the check, so no program runs on the
 * syscalls of the rest of the system.
 */
#include "loupe.bpf.h"
#include "capabilities.h"

#define PF_KTHREAD 0x00200000
#define EEXIST 17

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 4096); /* resized by --stack-map-size */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, CAPS_STACK_DEPTH * sizeof(__u64));
} kstacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 4096);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, CAPS_STACK_DEPTH * sizeof(__u64));
} ustacks SEC(".maps");

/* --unique: what was already reported.  Never cleaned; a full map is counted. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* resized by --unique-size */
	__type(key, struct caps_unique_key);
	__type(value, __u8);
} seen SEC(".maps");

/* kprobe variant: the entry's arguments for the return probe, by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct caps_args);
} start SEC(".maps");

const volatile __u64 cap_mask = 0; /* --cap: 0 means every capability */
const volatile bool denied_only = false;
const volatile bool audit_only = false;
const volatile __u8 unique_by = CAPS_UNIQUE_NONE;
const volatile bool collect_kstack = true;
const volatile bool collect_ustack = false;
const volatile __u8 arg4_kind = CAPS_ARG4_NONE; /* from cap_capable's BTF prototype */
const volatile bool use_task_pt_regs = true;	/* bpf_task_pt_regs() exists */
const volatile __u32 thread_size = 16384;	/* x86_64 THREAD_SIZE, for the fallback */
/* loupe itself: reading the stack maps makes capability checks, which would loop. */
const volatile __u32 self_pid = 0;

static __always_inline bool audit_known(__u8 kind, __u32 arg4, bool *audit)
{
	if (kind == CAPS_ARG4_OPTS) {
		*audit = !(arg4 & CAPS_OPT_NOAUDIT);
		return true;
	}
	if (kind == CAPS_ARG4_AUDIT) {
		*audit = arg4 != 0;
		return true;
	}
	return false;
}

/* Filters that need only the arguments: run before anything is read. */
static __always_inline bool skip_early(int cap, __u8 kind, __u32 arg4)
{
	bool audit;

	if ((bpf_get_current_pid_tgid() >> 32) == self_pid)
		return true;
	/* User space refuses --audit-only when the hook cannot tell. */
	return loupe_call_filtered(
		(cap_mask && (cap < 0 || cap >= CAPS_MAX || !(cap_mask & (1ULL << cap)))) ||
		(audit_only && (!audit_known(kind, arg4, &audit) || !audit)));
}

/*
 * The user registers saved at kernel entry.  Without bpf_task_pt_regs()
 * (before 5.15) they sit at the top of the task's kernel stack (x86_64 has
 * no padding there).
 */
static __always_inline struct pt_regs *current_user_regs(struct task_struct *task)
{
	void *stack;

	if (use_task_pt_regs)
		return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	stack = BPF_CORE_READ(task, stack);
	if (!stack)
		return NULL;
	return (struct pt_regs *)(stack + thread_size - bpf_core_type_size(struct pt_regs));
}

static __always_inline void read_syscall(struct caps_record *r, struct task_struct *task)
{
	struct pt_regs *regs = current_user_regs(task);
	unsigned long orig_ax = 0;
	__u16 cs = 0;

	r->syscall = -1;
	r->flags |= CAPS_F_NO_SYSCALL;
	if (!regs)
		return;
	/* Kernel threads have zeroed registers: a user code segment means a user entry. */
	if (bpf_probe_read_kernel(&cs, sizeof(cs), &regs->cs) ||
	    bpf_probe_read_kernel(&orig_ax, sizeof(orig_ax), &regs->orig_ax)) {
		loupe_count(LOUPE_CNT_READ_FAULT);
		return;
	}
	if ((cs & 3) != 3 || (long)orig_ax < 0)
		return;
	r->syscall = orig_ax;
	r->flags &= ~CAPS_F_NO_SYSCALL;
	if (cs == 0x23) /* __USER32_CS: the ia32 table, not the x86_64 one */
		r->flags |= CAPS_F_IA32;
}

static __always_inline __s32 stack_id(void *ctx, void *map, __u64 flags)
{
	long id = bpf_get_stackid(ctx, map, flags);

	if (id < 0)
		loupe_count(LOUPE_CNT_STACK_LOST);
	return id;
}

/* --unique: true when this check was already reported. */
static __always_inline bool already_seen(int cap, int ret)
{
	struct caps_unique_key key = {};
	__u8 one = 1;
	long err;

	if (unique_by == CAPS_UNIQUE_NONE)
		return false;
	key.id = unique_by == CAPS_UNIQUE_PID ? (bpf_get_current_pid_tgid() >> 32)
					      : loupe_task_mntns((void *)bpf_get_current_task());
	key.cap = cap;
	key.capable = ret == 0;
	if (bpf_map_lookup_elem(&seen, &key)) {
		loupe_count(CAPS_CNT_DEDUPLICATED);
		return true;
	}
	err = bpf_map_update_elem(&seen, &key, &one, BPF_NOEXIST);
	if (err == -EEXIST) { /* another CPU reported it just now */
		loupe_count(CAPS_CNT_DEDUPLICATED);
		return true;
	}
	/* Full: report it anyway (a duplicate later), and say so in the stats. */
	if (err)
		loupe_count(CAPS_CNT_UNIQUE_FULL);
	return false;
}

static __always_inline int emit(void *ctx, const struct cred *cred,
				const struct user_namespace *target_ns, int cap, int ret, __u8 kind,
				__u32 arg4)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct caps_record *r;

	if (denied_only && ret == 0)
		return 0;
	if (already_seen(cap, ret))
		return 0;
	r = loupe_reserve(sizeof(*r));
	if (!r)
		return 0;
	loupe_fill_proc(&r->proc);
	r->cap = cap;
	r->ret = ret;
	r->arg4 = arg4;
	r->arg4_kind = kind;
	r->flags = 0;
	r->cap_effective = 0;
	/* kernel_cap_t: u64 val (6.3+) or u32 cap[2]; both 8 bytes, same bits on little-endian. */
	if (bpf_core_field_size(cred->cap_effective) == 8)
		BPF_CORE_READ_INTO(&r->cap_effective, cred, cap_effective);
	else
		BPF_CORE_READ_INTO((__u32 *)&r->cap_effective, cred, cap_effective);
	r->current_userns = BPF_CORE_READ(cred, user_ns, ns.inum);
	r->target_userns = target_ns ? BPF_CORE_READ(target_ns, ns.inum) : 0;
	read_syscall(r, task);
	r->kstack_id = collect_kstack ? stack_id(ctx, &kstacks, 0) : CAPS_STACK_NONE;
	r->ustack_id = CAPS_STACK_NONE;
	if (collect_ustack && !(BPF_CORE_READ(task, flags) & PF_KTHREAD) && BPF_CORE_READ(task, mm))
		r->ustack_id = stack_id(ctx, &ustacks, BPF_F_USER_STACK);
	loupe_submit(r);
	return 0;
}

/* Linux 6.13+: the verdict in one hook, typed arguments. */
SEC("tp_btf/cap_capable")
int BPF_PROG(trace_cap_tp_btf, const struct cred *cred, struct user_namespace *target_ns,
	     const struct user_namespace *capable_ns, int cap, int ret)
{
	if (skip_early(cap, CAPS_ARG4_NONE, 0))
		return 0;
	return emit(ctx, cred, target_ns, cap, ret, CAPS_ARG4_NONE, 0);
}

/* The same tracepoint where tp_btf is not allowed. */
SEC("tracepoint/capability/cap_capable")
int trace_cap_tracepoint(struct trace_event_raw_cap_capable *ctx)
{
	int cap = ctx->cap;

	if (skip_early(cap, CAPS_ARG4_NONE, 0))
		return 0;
	return emit(ctx, ctx->cred, ctx->target_ns, cap, ctx->ret, CAPS_ARG4_NONE, 0);
}

/* No tracepoint: fexit has the arguments and the return value together. */
SEC("fexit/cap_capable")
int BPF_PROG(trace_cap_fexit, const struct cred *cred, struct user_namespace *target_ns, int cap,
	     unsigned int arg4, int ret)
{
	if (skip_early(cap, arg4_kind, arg4))
		return 0;
	return emit(ctx, cred, target_ns, cap, ret, arg4_kind, arg4);
}

/* No trampolines either: Inspektor Gadget's kprobe pair, same names. */
SEC("kprobe/cap_capable")
int BPF_KPROBE(ig_trace_cap_e, const struct cred *cred, struct user_namespace *target_ns, int cap,
	       unsigned int arg4)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct caps_args a = {};

	if (skip_early(cap, arg4_kind, arg4))
		return 0;
	a.cred = (__u64)cred;
	a.target_ns = (__u64)target_ns;
	a.cap = cap;
	a.arg4 = arg4;
	loupe_map_insert(&start, &tid, &a);
	return 0;
}

SEC("kretprobe/cap_capable")
int BPF_KRETPROBE(ig_trace_cap_x, int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct caps_args *ap, a;

	ap = bpf_map_lookup_elem(&start, &tid);
	if (!ap)
		return 0;
	a = *ap;
	bpf_map_delete_elem(&start, &tid);
	return emit(ctx, (const struct cred *)a.cred, (const struct user_namespace *)a.target_ns,
		    a.cap, ret, arg4_kind, a.arg4);
}
