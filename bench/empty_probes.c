// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * empty_probes LIB: attach empty entry and return programs to SSL_read,
 * SSL_write, SSL_read_ex, SSL_write_ex and SSL_do_handshake in LIB (the same
 * hooks as `loupe trace ssl`), print "ready" and wait for a signal.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "empty_probes.skel.h"

static volatile sig_atomic_t done;

static void on_signal(int sig)
{
	done = 1;
}

int main(int argc, char **argv)
{
	static const char *const funcs[] = { "SSL_read", "SSL_write", "SSL_read_ex",
					     "SSL_write_ex", "SSL_do_handshake" };
	struct empty_probes_bpf *skel;

	if (argc != 2) {
		fprintf(stderr, "usage: empty_probes LIBSSL\n");
		return 2;
	}
	skel = empty_probes_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "empty_probes: load failed: %s\n", strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, entry, .func_name = funcs[i]);
		LIBBPF_OPTS(bpf_uprobe_opts, ret, .func_name = funcs[i], .retprobe = true);

		if (!bpf_program__attach_uprobe_opts(skel->progs.empty_entry, -1, argv[1], 0,
						     &entry) ||
		    !bpf_program__attach_uprobe_opts(skel->progs.empty_return, -1, argv[1], 0,
						     &ret)) {
			fprintf(stderr, "empty_probes: cannot attach %s\n", funcs[i]);
			return 1;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr, "ready\n");
	while (!done)
		pause();
	empty_probes_bpf__destroy(skel);
	return 0;
}
