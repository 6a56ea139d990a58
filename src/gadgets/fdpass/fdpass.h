/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Wire format of the fdpass gadget, shared by fdpass.bpf.c and fdpass.c. */
#ifndef LOUPE_FDPASS_H
#define LOUPE_FDPASS_H

#include "loupe_types.h"

/*
 * Bounds of the kernel walk.  The kernel accepts up to 253 descriptors per
 * message (SCM_MAX_FD); we report the first FDPASS_MAX_FDS of a system call
 * and say how many more there were, never truncating silently.
 */
#define FDPASS_MAX_FDS 32    /* descriptors per system call */
#define FDPASS_MAX_MSGS 8    /* messages walked per sendmmsg/recvmmsg */
#define FDPASS_MAX_CMSGS 8   /* control messages walked per message */
#define FDPASS_CTRL_MAX 2048 /* control bytes read per message (power of 2) */
#define FDPASS_PATH_MAX 4096 /* bytes of a path (power of 2) */
#define FDPASS_PATH_DEPTH 48 /* dentries walked per path */

enum fdpass_type {
	FDPASS_SEND = 0,
	FDPASS_RECEIVE,
};

/* What the file field holds. */
enum fdpass_kind {
	FDPASS_KIND_PATH = 0, /* file[]: a path walked up to the task's root */
	FDPASS_KIND_DNAME,    /* file[]: the dentry's name; the kernel names it by magic */
	FDPASS_KIND_NONE,     /* the descriptor was not open: no file */
};

/* Superblock magics of the file systems whose files have made-up names. */
#define FDPASS_PIPEFS_MAGIC 0x50495045
#define FDPASS_SOCKFS_MAGIC 0x534F434B
#define FDPASS_ANON_INODE_MAGIC 0x09041934
#define FDPASS_PIDFS_MAGIC 0x50494446
#define FDPASS_TMPFS_MAGIC 0x01021994
#define FDPASS_HUGETLBFS_MAGIC 0x958458f6

/* Record flags. */
#define FDPASS_F_DELETED 0x1   /* unlinked: " (deleted)", as readlink says */
#define FDPASS_F_TRUNCATED 0x2 /* path deeper or longer than the walk: head missing */
#define FDPASS_F_PEER 0x4      /* peer_* are set */

/* Gadget-defined counters (slots from LOUPE_CNT_GADGET). */
enum fdpass_counter {
	FDPASS_CNT_NOT_WALKED = LOUPE_CNT_GADGET, /* descriptors beyond the walk */
	FDPASS_CNT_MSGS_NOT_WALKED,		  /* m*msg messages beyond the walk */
	FDPASS_CNT_FAILED_SENDS,		  /* sends with SCM_RIGHTS that failed */
	FDPASS_CNT_BAD_FD,			  /* descriptor not open in the table */
};

/* The correlation map: who last sent a struct file, who received it. */
struct fdpass_peer {
	__u64 send_ns;
	__u64 recv_ns; /* 0 until received */
	__u32 sender_pid;
	__u32 sender_tid;
	__u32 receiver_pid;
	__u32 receiver_tid;
	char sender_comm[LOUPE_COMM_LEN];
	char receiver_comm[LOUPE_COMM_LEN];
};

struct fdpass_event {
	struct loupe_proc proc;
	__u64 file_ptr; /* struct file *: joins a send to its receive */
	__u64 socket_ino;
	__u64 ino;   /* inode of the passed file */
	__u32 magic; /* its superblock's s_magic */
	__s32 sockfd;
	__s32 fd;
	__u32 more; /* descriptors of the same call not reported */
	__u32 peer_pid;
	__u32 peer_tid;
	char peer_comm[LOUPE_COMM_LEN];
	__u16 file_len; /* bytes in file[] */
	__u8 type;	/* enum fdpass_type */
	__u8 kind;	/* enum fdpass_kind */
	__u8 flags;
	__u8 msg; /* index of the message in sendmmsg/recvmmsg */
	__u8 pad[2];
	char file[]; /* file_len bytes, not NUL-terminated */
};

#ifndef __VMLINUX_H__
#include <stddef.h>
/*
 * The name readlink(/proc/PID/fd/N) would show for the file of e (file_len
 * bytes of e->file follow e); returns the length written into dst (< dstlen).
 */
size_t fdpass_format_file(char *dst, size_t dstlen, const struct fdpass_event *e);
#endif

#endif /* LOUPE_FDPASS_H */
