// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Syscall loops for the capabilities benchmark: prints nanoseconds per call,
 * wall time and this thread's CPU time (probes run on it; a shared machine's
 * run queue inflates only the wall time).
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

static double now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 1000000;
	double t0, t1, c0, c1;

	if (argc < 2) {
		fprintf(stderr, "usage: loop getpid|setpriority N\n");
		return 2;
	}
	t0 = now_ns(CLOCK_MONOTONIC);
	c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	if (!strcmp(argv[1], "getpid")) {
		for (long i = 0; i < n; i++)
			syscall(SYS_getpid);
	} else {
		for (long i = 0; i < n; i++)
			setpriority(PRIO_PROCESS, 0, -20);
	}
	c1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	t1 = now_ns(CLOCK_MONOTONIC);
	printf("%.1f %.1f\n", (t1 - t0) / n, (c1 - c0) / n);
	return 0;
}
