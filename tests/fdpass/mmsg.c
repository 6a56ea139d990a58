// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Workload for test_fdpass.py: one sendmmsg of three datagrams (the first
 * with /dev/null, the second with both ends of a pipe, the third with no
 * control data) received by one recvmmsg in a child.  Each side prints one
 * JSON line with what its own /proc/self/fd says.  Usage: mmsg COMM
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NMSG 3

static void print_fds(const char *key, int msg, const int *fds, int n, int first)
{
	char path[64], buf[4096];

	printf("%s{\"msg\":%d,\"%s\":[", first ? "" : ",", msg, key);
	for (int i = 0; i < n; i++) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[i]);
		len = readlink(path, buf, sizeof(buf) - 1);
		buf[len < 0 ? 0 : len] = '\0';
		/* Our names hold no quote or backslash. */
		printf("%s{\"fd\":%d,\"link\":\"%s\"}", i ? "," : "", fds[i], buf);
	}
	printf("]}");
}

static unsigned long ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

int main(int argc, char **argv)
{
	int sv[2], pfd[2], go[2], nul, sent[NMSG][2] = { { -1 }, { -1, -1 } },
				       nsent[NMSG] = { 1, 2, 0 };
	union {
		char buf[CMSG_SPACE(sizeof(int) * 2)];
		struct cmsghdr align;
	} ctl[NMSG];
	struct mmsghdr mm[NMSG];
	struct iovec iov[NMSG];
	char data[NMSG][8];
	pid_t child;
	int ret;

	if (argc != 2)
		return 2;
	prctl(PR_SET_NAME, argv[1], 0, 0, 0);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) || pipe(go))
		return 1;
	child = fork();
	if (child == 0) {
		char c;

		close(sv[0]);
		if (read(go[0], &c, 1) != 1)
			return 1;
		memset(mm, 0, sizeof(mm));
		for (int i = 0; i < NMSG; i++) {
			iov[i] = (struct iovec){ data[i], sizeof(data[i]) };
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_control = ctl[i].buf;
			mm[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
		}
		ret = recvmmsg(sv[1], mm, NMSG, 0, NULL);
		printf("{\"role\":\"receiver\",\"pid\":%d,\"sockfd\":%d,\"socket_ino\":%lu,\"ret\":%d,"
		       "\"msgs\":[",
		       getpid(), sv[1], ino(sv[1]), ret);
		for (int i = 0; i < ret; i++) {
			struct cmsghdr *c = CMSG_FIRSTHDR(&mm[i].msg_hdr);
			int fds[2], n = 0;

			if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				memcpy(fds, CMSG_DATA(c), n * sizeof(int));
			}
			print_fds("fds", i, fds, n, i == 0);
		}
		printf("]}\n");
		return 0;
	}
	close(sv[1]);
	nul = open("/dev/null", O_RDONLY);
	if (nul < 0 || pipe(pfd))
		return 1;
	sent[0][0] = nul;
	sent[1][0] = pfd[0];
	sent[1][1] = pfd[1];
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < NMSG; i++) {
		snprintf(data[i], sizeof(data[i]), "m%d", i);
		iov[i] = (struct iovec){ data[i], 3 };
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		if (!nsent[i])
			continue;
		memset(&ctl[i], 0, sizeof(ctl[i]));
		mm[i].msg_hdr.msg_control = ctl[i].buf;
		mm[i].msg_hdr.msg_controllen = CMSG_SPACE(sizeof(int) * nsent[i]);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mm[i].msg_hdr);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nsent[i]);
		memcpy(CMSG_DATA(c), sent[i], sizeof(int) * nsent[i]);
	}
	ret = sendmmsg(sv[0], mm, NMSG, 0);
	printf("{\"role\":\"sender\",\"pid\":%d,\"sockfd\":%d,\"socket_ino\":%lu,\"ret\":%d,"
	       "\"receiver_pid\":%d,\"msgs\":[",
	       getpid(), sv[0], ino(sv[0]), ret, child);
	for (int i = 0; i < NMSG; i++)
		print_fds("fds", i, sent[i], nsent[i], i == 0);
	printf("]}\n");
	fflush(stdout);
	if (write(go[1], "g", 1) != 1)
		return 1;
	waitpid(child, NULL, 0);
	return ret == NMSG ? 0 : 1;
}
