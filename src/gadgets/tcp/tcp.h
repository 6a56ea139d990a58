/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Wire format of the tcp gadget, shared by tcp.bpf.c and tcp.c. */
#ifndef LOUPE_TCP_H
#define LOUPE_TCP_H

#include "loupe_types.h"

enum tcp_event_type {
	TCP_EV_CONNECT = 0,
	TCP_EV_ACCEPT,
	TCP_EV_CLOSE,
	TCP_EV_MAX,
};

struct tcp_event {
	struct loupe_proc proc;
	__u64 duration_ns;    /* close: time since ESTABLISHED */
	__u64 bytes_sent;     /* close: tcp_sock->bytes_acked */
	__u64 bytes_received; /* close: tcp_sock->bytes_received */
	__u32 netns;
	__s32 fd;	 /* connect: the socket; accept: the listening socket; else -1 */
	__s32 accept_fd; /* accept: the new socket; else -1 */
	__s32 error;	 /* positive errno, 0 on success */
	__u8 type; /* enum tcp_event_type */
	__u8 pad[3];
	struct loupe_tuple tuple; /* local = src, remote = dst */
};


#endif /* LOUPE_TCP_H */
