// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fdpass smoke workload, linked statically for the kernel matrix: opens the
 * regular file argv[1], sends it over a unix socketpair with SCM_RIGHTS and
 * receives it on the other end.  Exit 0 when the received descriptor is the
 * same file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte = 'x';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;
	struct stat a, b;
	int sv[2], fd, got = -1;

	if (argc != 2) {
		fprintf(stderr, "usage: fdhelp FILE\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		perror("fdhelp: open/socketpair");
		return 2;
	}

	memset(&u, 0, sizeof(u));
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	if (sendmsg(sv[0], &msg, 0) != 1) {
		perror("fdhelp: sendmsg");
		return 1;
	}

	memset(&u, 0, sizeof(u));
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	if (recvmsg(sv[1], &msg, 0) != 1) {
		perror("fdhelp: recvmsg");
		return 1;
	}
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg))
		if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
			memcpy(&got, CMSG_DATA(cmsg), sizeof(int));
	if (got < 0 || fstat(fd, &a) || fstat(got, &b) || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev) {
		fprintf(stderr, "fdhelp: no descriptor of %s received\n", argv[1]);
		return 1;
	}
	printf("fdhelp: passed %s as fd %d, received as fd %d\n", argv[1], fd, got);
	return 0;
}
