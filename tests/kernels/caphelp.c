// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Capability smoke workload, linked statically so it runs in the kernel
 * matrix's initramfs: "allow" raises its priority as root (CAP_SYS_NICE
 * granted in setpriority), "deny" first drops to nobody (65534) so the same
 * request is refused.  Exit 0 when the kernel answered as expected.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int deny = argc > 1 && !strcmp(argv[1], "deny");
	int ret;

	if (deny && (setgid(65534) || setuid(65534))) {
		perror("caphelp: setuid(65534)");
		return 2;
	}
	ret = setpriority(PRIO_PROCESS, 0, deny ? -20 : -5);
	if (deny) {
		if (ret == 0 || errno != EACCES) {
			fprintf(stderr, "caphelp: setpriority(-20) as 65534: %s, want EACCES\n",
				ret ? strerror(errno) : "allowed");
			return 1;
		}
	} else if (ret) {
		perror("caphelp: setpriority(-5) as root");
		return 1;
	}
	printf("caphelp: %s as expected\n", deny ? "denied" : "allowed");
	return 0;
}
