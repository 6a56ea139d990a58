// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * capabilities gadget, user-space half: choosing the hook, decoding
 * cap_capable's fourth argument from the kernel's BTF, and turning records
 * into events (names, the syscall, the capability set, symbolized stacks).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "gadget.h"
#include "kfeatures.h"
#include "metrics.h"
#include "stacks.h"
#include "capabilities.h"
#include "capabilities.skel.h"

enum caps_hook {
	HOOK_AUTO = 0,
	HOOK_TP_BTF,
	HOOK_TRACEPOINT,
	HOOK_FEXIT,
	HOOK_KPROBE,
	HOOK_NONE,
};

static const char *const hook_names[] = {
	[HOOK_AUTO] = "auto",	[HOOK_TP_BTF] = "tp_btf", [HOOK_TRACEPOINT] = "tracepoint",
	[HOOK_FEXIT] = "fexit", [HOOK_KPROBE] = "kprobe", [HOOK_NONE] = "none",
};

struct caps_state {
	struct metric *m_denials; /* --metrics */
	uint64_t cap_mask;
	bool denied_only, audit_only, no_kstack, collect_ustack;
	enum caps_unique_by unique_by;
	uint64_t unique_size, stack_map_size;
	enum caps_hook forced;
	int stack_fd[2]; /* kstacks, ustacks */
	struct ksyms *ksyms;
	bool ksyms_failed;
	struct usyms *usyms;
	uint64_t stacks_missing;
	/*
	 * Kernel stacks as text, by stack id: an id never changes its stack
	 * (no BPF_F_REUSE_STACKID), and a storm of checks repeats a few stacks;
	 * without it the map lookup and symbolizing were a third of our CPU.
	 */
	char **ktext;
	uint32_t nr_ktext;
	size_t ktext_bytes;
};

#define CAPS_KTEXT_MAX (1 << 20) /* bytes of cached stack text, at most */

static const char *const cap_names[CAPS_LAST_CAP + 1] = {
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_DAC_READ_SEARCH",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",
	"CAP_NET_RAW",
	"CAP_IPC_LOCK",
	"CAP_IPC_OWNER",
	"CAP_SYS_MODULE",
	"CAP_SYS_RAWIO",
	"CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",
	"CAP_SYS_ADMIN",
	"CAP_SYS_BOOT",
	"CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",
	"CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG",
	"CAP_MKNOD",
	"CAP_LEASE",
	"CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL",
	"CAP_SETFCAP",
	"CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN",
	"CAP_SYSLOG",
	"CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",
	"CAP_AUDIT_READ",
	"CAP_PERFMON",
	"CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

/* --- pure helpers (unit-tested) ---------------------------------------------- */

const char *caps_name(unsigned int cap)
{
	return cap <= CAPS_LAST_CAP ? cap_names[cap] : NULL;
}

int caps_parse(const char *s)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	if (isdigit((unsigned char)*s)) {
		errno = 0;
		v = strtol(s, &end, 10);
		return !errno && !*end && v >= 0 && v < CAPS_MAX ? (int)v : -1;
	}
	if (!strncasecmp(s, "CAP_", 4))
		s += 4;
	for (unsigned int i = 0; i <= CAPS_LAST_CAP; i++)
		if (!strcasecmp(s, cap_names[i] + 4))
			return i;
	return -1;
}

const char *caps_format_set(uint64_t set, char *buf, size_t len)
{
	size_t pos = 0;

	if (len)
		buf[0] = '\0';
	for (unsigned int i = 0; i < CAPS_MAX && pos + 1 < len; i++) {
		char unnamed[16];
		const char *name = caps_name(i);
		int n;

		if (!(set & (1ULL << i)))
			continue;
		if (!name) {
			snprintf(unnamed, sizeof(unnamed), "cap_%u", i);
			name = unnamed;
		}
		n = snprintf(buf + pos, len - pos, "%s%s", pos ? "|" : "", name);
		if (n < 0 || pos + n >= len) {
			buf[pos] = '\0'; /* whole names only */
			break;
		}
		pos += n;
	}
	return buf;
}

int caps_arg4_from_btf(const struct btf *btf)
{
	const struct btf_type *t;
	const struct btf_param *p;
	const char *name;
	int id;

	if (!btf)
		return CAPS_ARG4_NONE;
	id = btf__find_by_name_kind(btf, "cap_capable", BTF_KIND_FUNC);
	if (id <= 0)
		return CAPS_ARG4_NONE;
	t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
	if (!t || !btf_is_func_proto(t) || btf_vlen(t) < 4)
		return CAPS_ARG4_NONE;
	p = btf_params(t) + 3;
	name = btf__name_by_offset(btf, p->name_off);
	if (name && !strcmp(name, "opts"))
		return CAPS_ARG4_OPTS;
	if (name && !strcmp(name, "audit"))
		return CAPS_ARG4_AUDIT;
	return CAPS_ARG4_NONE;
}

const char *caps_syscall_str(int64_t nr, unsigned int flags, char *buf, size_t len)
{
	const char *name;

	if ((flags & CAPS_F_NO_SYSCALL) || nr < 0)
		snprintf(buf, len, "unknown");
	else if (flags & CAPS_F_IA32)
		snprintf(buf, len, "ia32:%lld", (long long)nr);
	else if ((name = syscall_name_x86_64(nr)))
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "syscall_%lld", (long long)nr);
	return buf;
}

/* --- hook choice -------------------------------------------------------------- */

static bool hook_usable(enum caps_hook h)
{
	switch (h) {
	case HOOK_TP_BTF:
		return feature_tp_btf("cap_capable");
	case HOOK_TRACEPOINT:
		return feature_tracepoint("capability", "cap_capable");
	case HOOK_FEXIT:
		return feature_kernel_func("cap_capable") && feature_fentry();
	case HOOK_KPROBE:
		return feature_kprobe();
	default:
		return false;
	}
}

/* The tracepoint first (one hook, no trampoline); audit needs cap_capable's arguments. */
static enum caps_hook choose_hook(bool need_args)
{
	for (enum caps_hook h = need_args ? HOOK_FEXIT : HOOK_TP_BTF; h < HOOK_NONE; h++)
		if (hook_usable(h))
			return h;
	return HOOK_NONE;
}

/* --- fields, options ---------------------------------------------------------- */

enum {
	F_CAP = LOUPE_PROC_NR_FIELDS,
	F_CAPABLE,
	F_AUDIT,
	F_INSETID,
	F_SYSCALL,
	F_CURRENT_USERNS,
	F_TARGET_USERNS,
	F_CAP_EFFECTIVE,
	F_KSTACK,
	F_USTACK,
	F_MAX,
};

static const struct field caps_fields[] = {
	LOUPE_PROC_FIELDS,
	[F_CAP] = { "cap", FT_STR, 0, 22, "capability checked, e.g. CAP_SYS_NICE" },
	[F_CAPABLE] = { "capable", FT_BOOL, 0, 7, "true when the check was granted" },
	[F_AUDIT] = { "audit", FT_STR, 0, 7,
		      "true/false: the kernel audits a denial; unknown on the tracepoint" },
	[F_INSETID] = { "insetid", FT_STR, FIELD_HIDDEN, 7,
			"true/false: check made while setting set-id bits; unknown on the tracepoint" },
	[F_SYSCALL] = { "syscall", FT_STR, 0, 16,
			"system call being served, unknown outside one (kernel threads)" },
	[F_CURRENT_USERNS] = { "current_userns", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 10,
			       "user namespace (inode) of the checked credentials" },
	[F_TARGET_USERNS] = { "target_userns", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 10,
			      "user namespace (inode) the capability is wanted in" },
	[F_CAP_EFFECTIVE] = { "cap_effective", FT_STR, FIELD_HIDDEN, 20,
			      "effective set of the checked credentials, CAP_A|CAP_B" },
	[F_KSTACK] = { "kstack", FT_STR, FIELD_HIDDEN, 60,
		       "kernel stack, innermost first (--collect-kstack, default); [lost] if unreadable" },
	[F_USTACK] = { "ustack", FT_STR, FIELD_HIDDEN, 60,
		       "user stack, innermost first (--collect-ustack); [lost] if unreadable" },
	{},
};

static const struct gadget_counter caps_counters[] = {
	{ "unique_map_full", true }, /* dedup impossible: reported again later */
	{ "deduplicated", false },
	{ "stacks_missing", true },
	{},
};

LOUPE_SKELETON(caps_skeleton, capabilities_bpf);

#define CAPS_FIELD struct caps_state

static const struct gadget_option caps_options[] = {
	OPT_OWN("cap", "NAME", "only this capability (CAP_SYS_NICE, sys_nice or 23); repeatable"),
	OPT_FLAG("denied-only", "only checks that were refused", CAPS_FIELD, denied_only,
		 "denied_only"),
	OPT_FLAG("audit-only", "only checks the kernel would audit (needs fexit or kprobes)",
		 CAPS_FIELD, audit_only, "audit_only"),
	OPT_OWN("unique", NULL, "report a capability and verdict once per container"),
	OPT_OWN("unique-by", "KEY", "mntns (default: per container) or pid; implies --unique"),
	OPT_NUM("unique-size", "N", "entries of the --unique map (default 16384)", CAPS_FIELD,
		unique_size, NULL, 1, 1 << 24),
	OPT_FLAG_OFF("collect-kstack", "collect kernel stacks (the default)", CAPS_FIELD, no_kstack,
		     NULL),
	OPT_FLAG("no-collect-kstack", "do not collect kernel stacks", CAPS_FIELD, no_kstack, NULL),
	OPT_FLAG("collect-ustack", "collect user stacks", CAPS_FIELD, collect_ustack,
		 "collect_ustack"),
	OPT_NUM("stack-map-size", "N", "distinct stacks kept per stack map (default 4096)",
		CAPS_FIELD, stack_map_size, NULL, 1, 1 << 20),
	OPT_OWN("hook", "NAME",
		"force tp_btf, tracepoint, fexit or kprobe (default: best available)"),
	{},
};

static int caps_parse_option(struct session *s, const struct gadget_option *opt, const char *arg)
{
	struct caps_state *st = s->state;

	if (!strcmp(opt->name, "cap")) {
		int cap = caps_parse(arg);

		if (cap < 0) {
			loupe_err(
				"--cap: unknown capability '%s' (e.g. CAP_SYS_NICE, see capabilities(7))",
				arg);
			return -EINVAL;
		}
		st->cap_mask |= 1ULL << cap;
	} else if (!strcmp(opt->name, "unique")) {
		if (st->unique_by == CAPS_UNIQUE_NONE)
			st->unique_by = CAPS_UNIQUE_MNTNS;
	} else if (!strcmp(opt->name, "unique-by")) {
		if (!strcmp(arg, "mntns") || !strcmp(arg, "container"))
			st->unique_by = CAPS_UNIQUE_MNTNS;
		else if (!strcmp(arg, "pid"))
			st->unique_by = CAPS_UNIQUE_PID;
		else {
			loupe_err("--unique-by: '%s' is neither mntns nor pid", arg);
			return -EINVAL;
		}
	} else if (!strcmp(opt->name, "hook")) {
		for (int h = HOOK_TP_BTF; h < HOOK_NONE; h++)
			if (!strcmp(arg, hook_names[h]))
				st->forced = h;
		if (st->forced == HOOK_AUTO) {
			loupe_err("--hook: '%s' is not one of tp_btf, tracepoint, fexit, kprobe",
				  arg);
			return -EINVAL;
		}
	}
	return 0;
}

/* --- open, attach --------------------------------------------------------------- */

/* The hook: forced with --hook, or the best this kernel allows; -errno when none fits. */
static int caps_pick_hook(struct caps_state *st, enum caps_hook *hook, int *arg4)
{
	struct btf *vmlinux;

	*arg4 = CAPS_ARG4_NONE;
	if (st->forced) {
		*hook = st->forced;
		if (!hook_usable(*hook)) {
			loupe_err("--hook %s: this kernel does not allow it (see 'loupe list -v')",
				  hook_names[*hook]);
			return -ENOTSUP;
		}
	} else if ((*hook = choose_hook(st->audit_only)) == HOOK_NONE) {
		if (st->audit_only)
			loupe_err("--audit-only needs cap_capable's arguments, which the "
				  "cap_capable tracepoint lacks, and this kernel allows neither "
				  "fexit nor kprobes: drop --audit-only");
		else
			loupe_err("this kernel has no cap_capable tracepoint, fexit or kprobe to "
				  "trace capability checks with");
		return -ENOTSUP;
	}
	if (*hook == HOOK_FEXIT || *hook == HOOK_KPROBE) {
		vmlinux = btf__load_vmlinux_btf();
		*arg4 = caps_arg4_from_btf(libbpf_get_error(vmlinux) ? NULL : vmlinux);
		btf__free(libbpf_get_error(vmlinux) ? NULL : vmlinux);
	}
	if (st->audit_only && *arg4 == CAPS_ARG4_NONE) {
		loupe_err("--audit-only: the %s hook cannot tell audited checks (%s); drop it",
			  hook_names[*hook],
			  *hook == HOOK_TP_BTF || *hook == HOOK_TRACEPOINT
				  ? "the tracepoint has no opts argument"
				  : "cap_capable's 4th argument is not in the kernel's BTF");
		return -ENOTSUP;
	}
	return 0;
}

/* Unused maps cost memory: a stack map is preallocated. */
static void caps_size_maps(struct caps_state *st, struct capabilities_bpf *skel,
			   enum caps_hook hook)
{
	if (st->unique_size)
		bpf_map__set_max_entries(skel->maps.seen, st->unique_size);
	if (st->stack_map_size) {
		bpf_map__set_max_entries(skel->maps.kstacks, st->stack_map_size);
		bpf_map__set_max_entries(skel->maps.ustacks, st->stack_map_size);
	}
	if (st->no_kstack)
		bpf_map__set_max_entries(skel->maps.kstacks, 1);
	if (!st->collect_ustack)
		bpf_map__set_max_entries(skel->maps.ustacks, 1);
	if (hook != HOOK_KPROBE)
		bpf_map__set_max_entries(skel->maps.start, 1);
	if (st->unique_by == CAPS_UNIQUE_NONE)
		bpf_map__set_max_entries(skel->maps.seen, 1);
}

static int caps_configure(struct session *s)
{
	struct caps_state *st = s->state;
	struct capabilities_bpf *skel = s->skel;
	enum caps_hook hook;
	int arg4, err;

	st->stack_fd[0] = st->stack_fd[1] = -1;
	if ((err = caps_pick_hook(st, &hook, &arg4)))
		return err;
	bpf_program__set_autoload(skel->progs.trace_cap_tp_btf, hook == HOOK_TP_BTF);
	bpf_program__set_autoload(skel->progs.trace_cap_tracepoint, hook == HOOK_TRACEPOINT);
	bpf_program__set_autoload(skel->progs.trace_cap_fexit, hook == HOOK_FEXIT);
	bpf_program__set_autoload(skel->progs.ig_trace_cap_e, hook == HOOK_KPROBE);
	bpf_program__set_autoload(skel->progs.ig_trace_cap_x, hook == HOOK_KPROBE);
	loupe_info(s, "hook: %s; cap_capable's 4th argument: %s", hook_names[hook],
		   arg4 == CAPS_ARG4_OPTS    ? "opts"
		   : arg4 == CAPS_ARG4_AUDIT ? "audit"
					     : "not used");
	skel->rodata->cap_mask = st->cap_mask;
	skel->rodata->unique_by = st->unique_by;
	skel->rodata->collect_kstack = !st->no_kstack;
	skel->rodata->arg4_kind = arg4;
	skel->rodata->self_pid = getpid();
	skel->rodata->use_task_pt_regs = !getenv("LOUPE_CAPS_NO_TASK_PT_REGS") &&
					 feature_helper(BPF_FUNC_task_pt_regs) &&
					 feature_helper(BPF_FUNC_get_current_task_btf);
	caps_size_maps(st, skel, hook);
	if (s->metrics)
		st->m_denials = metrics_counter(s->metrics, "loupe_capability_denials_total",
						"capability checks refused", "capability,comm");
	if (st->collect_ustack && !(st->usyms = usyms_new())) {
		loupe_err("out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int caps_attach(struct session *s)
{
	struct caps_state *st = s->state;
	struct capabilities_bpf *skel = s->skel;

	st->stack_fd[0] = bpf_map__fd(skel->maps.kstacks);
	/* No cache is only slower: a failed allocation leaves nr_ktext 0. */
	if (!st->no_kstack &&
	    (st->ktext = calloc(bpf_map__max_entries(skel->maps.kstacks), sizeof(*st->ktext))))
		st->nr_ktext = bpf_map__max_entries(skel->maps.kstacks);
	st->stack_fd[1] = bpf_map__fd(skel->maps.ustacks);
	/* After load: our own programs are in kallsyms now, so their frames can be cut. */
	if (!st->no_kstack) {
		st->ksyms = ksyms_load();
		if (!st->ksyms)
			loupe_warn("cannot read kernel symbols from /proc/kallsyms (%s): kernel "
				   "stacks show addresses",
				   strerror(errno));
	}
	return session_attach_programs(s);
}

/* --- events -------------------------------------------------------------------- */

/*
 * The first frames of a kernel stack are the tracing machinery (the BPF
 * program, bpf_trace_run, a trampoline, kretprobe glue): start at
 * cap_capable, or else at the first frame outside that machinery.
 */
static size_t kstack_skip(const struct ksyms *ks, const uint64_t *ips, size_t n)
{
	static const char *const machinery[] = {
		"bpf_",		  "__bpf_",	   "___bpf_",  "perf_",
		"trace_call_bpf", "__traceiter_",  "kprobe_",  "kretprobe_",
		"__kretprobe_",	  "arch_rethook_", "rethook_", "ftrace_",
	};
	const struct ksym *sym;

	if (!ks)
		return 0;
	for (size_t i = 0; i < n && i < 8 && ips[i]; i++)
		if ((sym = ksyms_find(ks, i ? ips[i] - 1 : ips[i])) &&
		    !strcmp(sym->name, "cap_capable"))
			return i;
	/* fexit and kretprobe run after cap_capable returned: its caller comes first. */
	for (size_t i = 0; i < n && ips[i]; i++) {
		bool inner = false;

		sym = ksyms_find(ks, i ? ips[i] - 1 : ips[i]);
		if (!sym || (sym->module && !strcmp(sym->module, "bpf")))
			continue;
		for (size_t j = 0; j < sizeof(machinery) / sizeof(machinery[0]); j++)
			if (!strncmp(sym->name, machinery[j], strlen(machinery[j])))
				inner = true;
		if (!inner)
			return i;
	}
	return 0;
}

static struct value stack_value(struct session *s, int which, int32_t id, pid_t pid, char *buf,
				size_t len)
{
	struct caps_state *st = s->state;
	uint64_t ips[CAPS_STACK_DEPTH] = {};
	size_t skip = 0;

	if (id == CAPS_STACK_NONE)
		return (struct value){};
	if (id < 0) /* counted in the kernel (stacks_lost) */
		return val_str("[lost]");
	if (which == 0 && (uint32_t)id < st->nr_ktext && st->ktext[id])
		return val_str(st->ktext[id]);
	if (bpf_map_lookup_elem(st->stack_fd[which], &id, ips)) {
		st->stacks_missing++;
		return val_str("[lost]");
	}
	if (which == 0) {
		skip = kstack_skip(st->ksyms, ips, CAPS_STACK_DEPTH);
		stack_format_kernel(st->ksyms, ips, CAPS_STACK_DEPTH, skip, buf, len);
		if ((uint32_t)id < st->nr_ktext && st->ktext_bytes < CAPS_KTEXT_MAX &&
		    (st->ktext[id] = strdup(buf)))
			st->ktext_bytes += strlen(buf) + 1;
	} else {
		stack_format_user(st->usyms, pid, ips, CAPS_STACK_DEPTH, 0, buf, len);
	}
	return val_str(buf);
}

static const char *tristate(int v)
{
	return v == CAPS_TRUE ? "true" : v == CAPS_FALSE ? "false" : "unknown";
}

static int caps_handle(struct session *s, const void *data, size_t size)
{
	const struct caps_record *r = data;
	struct caps_state *st = s->state;
	struct value v[F_MAX] = {};
	char capbuf[16], sysbuf[32], effbuf[1024], kbuf[8192], ubuf[8192];
	char comm[LOUPE_COMM_LEN + 1] = "";
	const char *name;
	int audit = CAPS_UNKNOWN, insetid = CAPS_UNKNOWN;

	if (size < sizeof(*r))
		return LOUPE_REC_BAD;
	if (!session_keep(s, &r->proc))
		return LOUPE_REC_FILTERED;
	values_set_proc(v, &r->proc);
	name = caps_name(r->cap);
	if (!name) {
		snprintf(capbuf, sizeof(capbuf), "cap_%u", r->cap);
		name = capbuf;
	}
	v[F_CAP] = val_str(name);
	v[F_CAPABLE] = val_bool(r->ret == 0);
	/* --metrics: denials by capability and command (a command name is bounded). */
	if (st->m_denials && r->ret != 0) {
		memcpy(comm, r->proc.comm, LOUPE_COMM_LEN);
		metric_add(st->m_denials, (const char *const[]){ name, comm }, 1);
	}
	if (r->arg4_kind == CAPS_ARG4_OPTS) {
		audit = r->arg4 & CAPS_OPT_NOAUDIT ? CAPS_FALSE : CAPS_TRUE;
		insetid = r->arg4 & CAPS_OPT_INSETID ? CAPS_TRUE : CAPS_FALSE;
	} else if (r->arg4_kind == CAPS_ARG4_AUDIT) {
		audit = r->arg4 ? CAPS_TRUE : CAPS_FALSE;
	}
	v[F_AUDIT] = val_str(tristate(audit));
	v[F_INSETID] = val_str(tristate(insetid));
	v[F_SYSCALL] = val_str(caps_syscall_str(r->syscall, r->flags, sysbuf, sizeof(sysbuf)));
	v[F_CURRENT_USERNS] = val_u64(r->current_userns);
	v[F_TARGET_USERNS] = val_u64(r->target_userns);
	v[F_CAP_EFFECTIVE] = val_str(caps_format_set(r->cap_effective, effbuf, sizeof(effbuf)));
	v[F_KSTACK] = stack_value(s, 0, r->kstack_id, r->proc.pid, kbuf, sizeof(kbuf));
	v[F_USTACK] = stack_value(s, 1, r->ustack_id, r->proc.pid, ubuf, sizeof(ubuf));
	session_emit(s, v);
	return 0;
}

/* User-side losses go to a counter slot the kernel never writes. */
static void caps_flush(struct session *s)
{
	struct caps_state *st = s->state;
	struct bpf_map *map = bpf_object__find_map_by_name(s->obj, "loupe_counters");
	int ncpu = libbpf_num_possible_cpus();
	uint32_t idx = CAPS_CNT_STACK_MISSING;
	uint64_t *vals;

	if (!map || ncpu <= 0 || !st->stacks_missing || !(vals = calloc(ncpu, sizeof(*vals))))
		return;
	vals[0] = st->stacks_missing;
	bpf_map_update_elem(bpf_map__fd(map), &idx, vals, BPF_ANY);
	free(vals);
}

static void caps_close(struct session *s)
{
	struct caps_state *st = s->state;

	ksyms_free(st->ksyms);
	usyms_free(st->usyms);
	for (uint32_t i = 0; i < st->nr_ktext; i++)
		free(st->ktext[i]);
	free(st->ktext);
}

static const char *caps_variant(void)
{
	enum caps_hook h = choose_hook(false);

	return h == HOOK_NONE ? "none" : hook_names[h];
}

static const struct gadget caps_gadget = {
	.name = "capabilities",
	.summary = "capability checks: verdict, system call, stacks",
	.examples =
		"  loupe trace capabilities                       every check on the host\n"
		"  loupe trace capabilities --denied-only         only refusals\n"
		"  loupe trace capabilities --unique --container-pid 1234   once per capability\n"
		"  loupe trace capabilities --cap CAP_SYS_ADMIN --fields comm,syscall,kstack\n"
		"  loupe trace capabilities --collect-ustack --comm myapp -o json\n",
	.options = caps_options,
	.fields = caps_fields,
	.counters = caps_counters,
	.state_size = sizeof(struct caps_state),
	.skeleton = &caps_skeleton,
	.parse_option = caps_parse_option,
	.configure = caps_configure,
	.attach = caps_attach,
	.handle = caps_handle,
	.flush = caps_flush,
	.close = caps_close,
	.variant = caps_variant,
};
LOUPE_GADGET(caps_gadget);
