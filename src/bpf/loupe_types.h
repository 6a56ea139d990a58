/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Types shared by every gadget's BPF and user-space halves.  Only fixed-width
 * types: both sides must agree on the layout whatever the compiler.
 */
#ifndef LOUPE_TYPES_H
#define LOUPE_TYPES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define LOUPE_COMM_LEN 16

/* Who did it: filled in the kernel at the moment of the event. */
struct loupe_proc {
	__u64 ts_ns;	/* CLOCK_BOOTTIME (or MONOTONIC on old kernels) */
	__u64 mntns_id;	/* the namespace's inode number, as ls -l /proc/PID/ns/mnt shows */
	__u64 mntns_key; /* an identity never reused while the system runs (0: unknown) */
	__u32 pid;	/* tgid */
	__u32 tid;
	__u32 uid;
	__u32 gid;
	char comm[LOUPE_COMM_LEN];
};

/* Address families, as the kernel numbers them (the BPF side has no libc). */
#define LOUPE_AF_INET 2
#define LOUPE_AF_INET6 10

/*
 * A socket's two ends: ports in host order, addresses in network order
 * (IPv4 in the first 4 bytes).  Filled by loupe_sock_tuple() (loupe.bpf.h).
 */
struct loupe_tuple {
	__u16 family; /* LOUPE_AF_INET, LOUPE_AF_INET6, or another family: no addresses */
	__u16 lport;
	__u16 rport;
	__u16 pad;
	__u8 laddr[16];
	__u8 raddr[16];
};

/*
 * The runtime's own notices, on their own ring buffer (loupe.bpf.h): a
 * process exec'd in a mount namespace not reported before, so that user space
 * learns its container while the process lives.
 */
struct loupe_notice {
	__u64 mntns_id;
	__u64 mntns_key;
	__u32 pid;
	__u32 pad;
};

/*
 * --config: what the kernel reads from the loupe_config map instead of its
 * read-only knobs, so that SIGHUP can change it without detaching a probe:
 * the common filters, and a few slots a gadget gives a meaning to (ssl:
 * sampling and data size).
 */
#define LOUPE_CONFIG_SLOTS 4

struct loupe_config {
	__u8 by_pid, by_tid, by_uid, by_gid, by_comm, by_mntns, by_container, pad;
	__u32 pid, tid, uid, gid;
	char comm[LOUPE_COMM_LEN];
	__u64 slot[LOUPE_CONFIG_SLOTS];
};

/*
 * Event and loss counters, one per-CPU slot each in the loupe_counters map.
 * The runtime sums and prints them; gadgets name their own slots from
 * LOUPE_CNT_GADGET on.  They let the runtime check, at exit, that every event
 * the kernel produced was either shown or counted as lost:
 *
 *   seen = events shown + lost (ring full, left at exit, undecodable, dropped)
 *
 * and, for the statistics, what happened to the calls the hooks saw: the
 * filters turned some away in the kernel, --sample others; the rest made
 * the events counted in `seen`.
 */
enum loupe_counter {
	LOUPE_CNT_RINGBUF_LOST = 0, /* an event lost whole: its first record found the ring full */
	LOUPE_CNT_MAP_FULL,	    /* context map update failed */
	LOUPE_CNT_READ_FAULT,	    /* user/kernel memory could not be read */
	LOUPE_CNT_STACK_LOST,	    /* stack could not be collected */
	LOUPE_CNT_SEEN,		    /* events produced: their first record was attempted */
	LOUPE_CNT_RECORDS,	    /* records reserved: what user space must read */
	LOUPE_CNT_PART_LOST,	    /* a later record of an event lost: shown truncated */
	LOUPE_CNT_NOTICE_LOST,	    /* an internal notice (not an event) lost */
	LOUPE_CNT_CALLS,	    /* calls of what the gadget traces that passed the filters */
	LOUPE_CNT_FILTERED,	    /* of those, turned away by a filter in the kernel */
	LOUPE_CNT_SAMPLED_OUT,	    /* of those, skipped by sampling (--sample) */
	LOUPE_CNT_GADGET,	    /* first gadget-defined counter */
	LOUPE_CNT_MAX = LOUPE_CNT_GADGET + 8,
};

#endif /* LOUPE_TYPES_H */
