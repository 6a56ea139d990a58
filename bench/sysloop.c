// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A loop of one-byte read and write system calls, the host-wide cost of a
 * tracer's system call hooks made visible (bench/endpoints_tax.py):
 *   sysloop file N     read /dev/zero, write /dev/null (what `dd bs=1` does)
 *   sysloop socket N   write then read one byte over a unix socketpair
 * Prints the CPU time one call took on average, in nanoseconds: the
 * process's own CPU time, so time spent waiting for a CPU on a busy machine
 * does not count, and what a hook adds inside the call does.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	int in, out, sv[2];
	long n = argc > 2 ? atol(argv[2]) : 0;
	char c = 'x';
	double t;

	if (argc != 3 || n <= 0 || (strcmp(argv[1], "file") && strcmp(argv[1], "socket"))) {
		fprintf(stderr, "usage: sysloop file|socket CALLS\n");
		return 2;
	}
	if (!strcmp(argv[1], "file")) {
		in = open("/dev/zero", O_RDONLY);
		out = open("/dev/null", O_WRONLY);
	} else if (!socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		out = sv[0];
		in = sv[1];
	} else {
		in = out = -1;
	}
	if (in < 0 || out < 0) {
		perror("sysloop");
		return 1;
	}
	t = now_ns();
	for (long i = 0; i < n / 2; i++)
		if (write(out, &c, 1) != 1 || read(in, &c, 1) != 1) {
			perror("sysloop");
			return 1;
		}
	printf("%.1f\n", (now_ns() - t) / (double)(n / 2 * 2));
	return 0;
}
