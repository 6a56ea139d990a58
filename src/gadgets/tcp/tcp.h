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
	__u16 family;	 /* AF_INET or AF_INET6 */
	__u16 sport;	 /* host byte order */
	__u16 dport;
	__u8 type; /* enum tcp_event_type */
	__u8 pad;
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
};

#if !defined(__bpf__) && !defined(__BPF__)
#include <stddef.h>
/* "1.2.3.4:80" or "[::1]:80" into buf; returns buf.  Exposed for unit tests. */
char *tcp_format_endpoint(char *buf, size_t len, unsigned int family, const void *addr,
			  unsigned int port);
/* The error column: errno name, "E<n>" when unnamed, "" for 0. */
const char *tcp_error_text(char *buf, size_t len, int err);
#endif

#endif /* LOUPE_TCP_H */
