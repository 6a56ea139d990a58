/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Wire format of the capabilities gadget, shared by capabilities.bpf.c and capabilities.c. */
#ifndef LOUPE_CAPABILITIES_H
#define LOUPE_CAPABILITIES_H

#include "loupe_types.h"

/* Highest capability number the names table knows (CAP_CHECKPOINT_RESTORE). */
#define CAPS_LAST_CAP 40
#define CAPS_MAX 64 /* bits in the --cap mask and in cap_effective */

/* Frames kept per stack (the stack maps' value size). */
#define CAPS_STACK_DEPTH 64

/* How the 4th argument of cap_capable() reads on this kernel, from its BTF. */
enum caps_arg4 {
	CAPS_ARG4_NONE = 0, /* not known: the tracepoint, or no BTF */
	CAPS_ARG4_AUDIT,    /* int audit (before Linux 5.1): non-zero means audit */
	CAPS_ARG4_OPTS,	    /* unsigned int opts: CAP_OPT_* bits */
};

#define CAPS_OPT_NOAUDIT 0x2 /* CAP_OPT_NOAUDIT */
#define CAPS_OPT_INSETID 0x4 /* CAP_OPT_INSETID */

/* --unique-by */
enum caps_unique_by {
	CAPS_UNIQUE_NONE = 0,
	CAPS_UNIQUE_MNTNS, /* once per container (mount namespace) */
	CAPS_UNIQUE_PID,   /* once per process */
};

/* Tri-state audit / insetid. */
enum caps_tristate {
	CAPS_UNKNOWN = 0,
	CAPS_FALSE,
	CAPS_TRUE,
};

/* Flags of a record. */
#define CAPS_F_NO_SYSCALL 0x1 /* not in a system call (kernel thread, interrupt) */
#define CAPS_F_IA32 0x2	      /* a 32-bit (int 0x80 / compat) system call */

/* Gadget-defined counters (slots from LOUPE_CNT_GADGET). */
enum caps_counter {
	CAPS_CNT_UNIQUE_FULL = LOUPE_CNT_GADGET, /* seen map full: reported again */
	CAPS_CNT_DEDUPLICATED,			 /* hidden by --unique */
	CAPS_CNT_STACK_MISSING,			 /* user space: id not in the map */
};

/* The seen map's key (--unique). */
struct caps_unique_key {
	__u64 id; /* mntns or pid */
	__u32 cap;
	__u32 capable;
};

/* What the kprobe entry leaves for the return probe (map `start`). */
struct caps_args {
	__u64 cred;
	__u64 target_ns;
	__u32 cap;
	__u32 arg4;
};

struct caps_record {
	struct loupe_proc proc;
	__u64 cap_effective;  /* bits of the checked credentials' effective set */
	__u64 current_userns; /* inode of the credentials' user namespace */
	__u64 target_userns;  /* inode of the namespace the capability is wanted in */
	__s64 syscall;	      /* orig_ax, or -1 */
	__s32 kstack_id;      /* stack map id, or -errno; 0x7fffffff: not collected */
	__s32 ustack_id;
	__s32 ret; /* 0: capable, -EPERM: not */
	__u32 cap;
	__u32 arg4;	/* raw 4th argument when known */
	__u8 arg4_kind; /* enum caps_arg4 */
	__u8 flags;	/* CAPS_F_* */
	__u8 pad[2];
};

#define CAPS_STACK_NONE 0x7fffffff

#ifndef __VMLINUX_H__
/* User space only (capabilities.c, syscall_names.c); pure, unit-tested. */
#include <stddef.h>
#include <stdint.h>

struct btf;

const char *syscall_name_x86_64(long nr);
/* "CAP_SYS_NICE" for 23, NULL past the table. */
const char *caps_name(unsigned int cap);
/* CAP_SYS_NICE, cap_sys_nice, SYS_NICE, sys_nice or 23: the number, or -1. */
int caps_parse(const char *s);
/* "CAP_A|CAP_B", "cap_63" for unnamed bits, "" for none. */
const char *caps_format_set(uint64_t set, char *buf, size_t len);
/* From the FUNC_PROTO of cap_capable in this BTF: enum caps_arg4. */
int caps_arg4_from_btf(const struct btf *btf);
/* "setpriority", "syscall_999", "ia32:97" or "unknown". */
const char *caps_syscall_str(int64_t nr, unsigned int flags, char *buf, size_t len);
#endif

#endif /* LOUPE_CAPABILITIES_H */
