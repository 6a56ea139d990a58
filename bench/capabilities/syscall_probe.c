// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Attach syscall_probe.bpf.c, say "ready" on stderr, hold until a signal. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "syscall_probe.skel.h"

static void on_signal(int sig)
{
}

int main(void)
{
	struct syscall_probe_bpf *skel = syscall_probe_bpf__open_and_load();

	if (!skel || syscall_probe_bpf__attach(skel)) {
		fprintf(stderr, "syscall_probe: cannot load or attach\n");
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr, "ready\n");
	pause();
	syscall_probe_bpf__destroy(skel);
	return 0;
}
