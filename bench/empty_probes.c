// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * empty_probes LIB: attach empty entry and return programs to SSL_read,
 * SSL_write, SSL_read_ex, SSL_write_ex and SSL_do_handshake in LIB (the same
 * hooks as `loupe trace ssl`), print "ready" and wait for a signal.
 *
 * empty_probes --min LIB: the least any capture needs: entry of SSL_write and
 * SSL_write_ex (the buffer and its length are known there), entry and return
 * of SSL_read and SSL_read_ex (the data is there only once the call returns).
 *
 * empty_probes --go BIN: the same on the Go executable BIN's hooks: the
 * entry and every RET of crypto/tls.(*Conn).Write, Read and the client and
 * server handshakes (no return probes on Go code), found as loupe finds them.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "empty_probes.skel.h"
#include "gobin.h"

static volatile sig_atomic_t done;

static void on_signal(int sig)
{
	done = 1;
}

/* Plain uprobes on the entry and on every RET, as loupe's Go backend puts them. */
static int attach_go(struct empty_probes_bpf *skel, const char *bin)
{
	struct go_func f[] = {
		{ .name = "crypto/tls.(*Conn).Write" },
		{ .name = "crypto/tls.(*Conn).Read" },
		{ .name = "crypto/tls.(*Conn).clientHandshake" },
		{ .name = "crypto/tls.(*Conn).serverHandshake" },
	};
	struct go_info info;
	int err = go_binary_read(bin, &info, f, 4);

	if (err) {
		fprintf(stderr, "empty_probes: %s: %s\n", bin, strerror(-err));
		return 1;
	}
	for (int i = 0; i < 4; i++) {
		if (!f[i].found)
			continue;
		for (int k = -1; k < f[i].nr_rets; k++)
			if (!bpf_program__attach_uprobe(skel->progs.empty_entry, false, -1, bin,
							k < 0 ? f[i].offset : f[i].rets[k])) {
				fprintf(stderr, "empty_probes: cannot attach %s\n", f[i].name);
				return 1;
			}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		bool min_ret; /* a return probe even in --min */
	} funcs[] = { { "SSL_read", true },
		      { "SSL_write", false },
		      { "SSL_read_ex", true },
		      { "SSL_write_ex", false },
		      { "SSL_do_handshake", false } };
	struct empty_probes_bpf *skel;
	bool go = argc == 3 && !strcmp(argv[1], "--go");
	bool min = argc == 3 && !strcmp(argv[1], "--min");
	size_t nr = sizeof(funcs) / sizeof(funcs[0]);

	if (argc != 2 && !go && !min) {
		fprintf(stderr, "usage: empty_probes LIBSSL | --min LIBSSL | --go BIN\n");
		return 2;
	}
	skel = empty_probes_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "empty_probes: load failed: %s\n", strerror(errno));
		return 1;
	}
	if (go && attach_go(skel, argv[2]))
		return 1;
	/* The handshake is no capture's minimum: --min leaves it out. */
	for (size_t i = 0; !go && i < (min ? nr - 1 : nr); i++) {
		const char *lib = argv[argc - 1];
		LIBBPF_OPTS(bpf_uprobe_opts, entry, .func_name = funcs[i].name);
		LIBBPF_OPTS(bpf_uprobe_opts, ret, .func_name = funcs[i].name, .retprobe = true);

		if (!bpf_program__attach_uprobe_opts(skel->progs.empty_entry, -1, lib, 0, &entry) ||
		    ((!min || funcs[i].min_ret) &&
		     !bpf_program__attach_uprobe_opts(skel->progs.empty_return, -1, lib, 0,
						      &ret))) {
			fprintf(stderr, "empty_probes: cannot attach %s\n", funcs[i].name);
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
