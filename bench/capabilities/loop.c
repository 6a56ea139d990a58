// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Syscall loops for the capabilities benchmark: prints nanoseconds per call.
 *   loop getpid N        a syscall that checks no capability
 *   loop setpriority N   setpriority(-20): one CAP_SYS_NICE check per call
 *                        (run it unprivileged: every check is a refusal)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 1000000;
	double t0, t1;

	if (argc < 2) {
		fprintf(stderr, "usage: loop getpid|setpriority N\n");
		return 2;
	}
	t0 = now_ns();
	if (!strcmp(argv[1], "getpid")) {
		for (long i = 0; i < n; i++)
			syscall(SYS_getpid);
	} else {
		for (long i = 0; i < n; i++)
			setpriority(PRIO_PROCESS, 0, -20);
	}
	t1 = now_ns();
	printf("%.1f\n", (t1 - t0) / n);
	return 0;
}
