// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program and map details for `-o json`, through libbpf's object parser.
 * Opening an object does not touch the kernel.  This is best effort: the
 * diagrams never depend on it, so a libbpf failure only leaves nulls.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <bpf/libbpf.h>

#include "inspect/inspect.h"

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

/* Per program: found, type, attach type.  Per map: found, type, key, value, entries. */
#define PROG_WORDS 3
#define MAP_WORDS 5

static void describe(const void *buf, size_t size, const char *obj_name,
		     const struct inspect_result *res, int32_t *w)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = obj_name);
	struct bpf_object *obj;

	libbpf_set_print(quiet);
	obj = bpf_object__open_mem(buf, size, &opts);
	if (!obj)
		return;
	for (size_t i = 0; i < res->nr_progs; i++, w += PROG_WORDS) {
		struct bpf_program *p = bpf_object__find_program_by_name(obj, res->progs[i].name);

		if (!p)
			continue;
		w[0] = 1;
		w[1] = (int32_t)bpf_program__type(p);
		w[2] = (int32_t)bpf_program__expected_attach_type(p);
	}
	for (size_t i = 0; i < res->nr_maps; i++, w += MAP_WORDS) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, res->maps[i].name);

		if (!m)
			continue;
		w[0] = 1;
		w[1] = (int32_t)bpf_map__type(m);
		w[2] = (int32_t)bpf_map__key_size(m);
		w[3] = (int32_t)bpf_map__value_size(m);
		w[4] = (int32_t)bpf_map__max_entries(m);
	}
	bpf_object__close(obj);
}

/* Strings are libbpf's static tables; unknown numbers give NULL. */
static void apply(struct inspect_result *res, const int32_t *w)
{
	for (size_t i = 0; i < res->nr_progs; i++, w += PROG_WORDS) {
		struct inspect_prog *p = &res->progs[i];

		if (!w[0])
			continue;
		p->type = libbpf_bpf_prog_type_str((enum bpf_prog_type)w[1]);
		/* 0 means unset for most types but is cgroup_skb's ingress. */
		if (w[2] || w[1] == BPF_PROG_TYPE_CGROUP_SKB)
			p->attach_type = libbpf_bpf_attach_type_str((enum bpf_attach_type)w[2]);
	}
	for (size_t i = 0; i < res->nr_maps; i++, w += MAP_WORDS) {
		struct inspect_map *m = &res->maps[i];

		if (!w[0])
			continue;
		m->type = libbpf_bpf_map_type_str((enum bpf_map_type)w[1]);
		m->key_size = (uint32_t)w[2];
		m->value_size = (uint32_t)w[3];
		m->max_entries = (uint32_t)w[4];
		m->have_meta = true;
	}
}

/*
 * libbpf's object parser is not hardened against damaged files (libbpf 1.1
 * crashes on some), so it runs in a child process: if it dies, the details
 * are simply unknown.  The child only reports numbers back through a pipe.
 */
void inspect_add_meta(const void *buf, size_t size, const char *obj_name,
		      struct inspect_result *res)
{
	size_t words = res->nr_progs * PROG_WORDS + res->nr_maps * MAP_WORDS;
	size_t want = words * sizeof(int32_t), got = 0;
	int32_t *w = calloc(words ? words : 1, sizeof(*w));
	int fds[2], status;
	pid_t pid;

	if (!w || pipe(fds)) {
		free(w);
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		const char *p = (const char *)w;

		int null = open("/dev/null", O_WRONLY);

		/* A crash report from the child is noise: the user asked for JSON. */
		if (null >= 0)
			dup2(null, STDERR_FILENO);
		/* A crash kills it quietly, whatever handler a sanitizer build installed. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		close(fds[0]);
		alarm(10); /* a parser stuck on a hostile file must not hang us */
		describe(buf, size, obj_name, res, w);
		while (got < want) {
			ssize_t n = write(fds[1], p + got, want - got);

			if (n <= 0)
				_exit(1);
			got += (size_t)n;
		}
		_exit(0);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		free(w);
		return;
	}
	while (got < want) {
		ssize_t n = read(fds[0], (char *)w + got, want - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got == want && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		apply(res, w);
	free(w);
}
