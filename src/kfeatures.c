// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Kernel feature probes.  Each result is cached for the life of the process. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kfeatures.h"
#include "uprobe.h"

#define TRACEFS "/sys/kernel/tracing"

static struct btf *vmlinux_btf;
static bool vmlinux_btf_tried;

static struct btf *kernel_btf(void)
{
	if (!vmlinux_btf_tried) {
		vmlinux_btf_tried = true;
		vmlinux_btf = btf__load_vmlinux_btf();
		if (!vmlinux_btf)
			vmlinux_btf = NULL;
	}
	return vmlinux_btf;
}

void features_free(void)
{
	btf__free(vmlinux_btf);
	vmlinux_btf = NULL;
	vmlinux_btf_tried = false;
}

int feature_ensure_tracefs(void)
{
	struct stat st;

	/* libbpf prefers debugfs' copy when it exists; either will do. */
	if (!stat(TRACEFS "/events", &st) || !stat("/sys/kernel/debug/tracing/events", &st))
		return 0;
	if (mount("tracefs", TRACEFS, "tracefs", 0, NULL) && errno != EBUSY)
		return -errno;
	return 0;
}

bool feature_tracepoint(const char *category, const char *name)
{
	char path[256];

	if (feature_ensure_tracefs())
		return false;
	snprintf(path, sizeof(path), TRACEFS "/events/%s/%s/id", category, name);
	if (!access(path, F_OK))
		return true;
	snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/%s/%s/id", category, name);
	return !access(path, F_OK);
}

bool feature_tp_btf(const char *name)
{
	struct btf *btf = kernel_btf();
	char tname[128];

	if (!btf)
		return false;
	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	return btf__find_by_name_kind(btf, tname, BTF_KIND_TYPEDEF) > 0;
}

bool feature_kernel_func(const char *name)
{
	struct btf *btf = kernel_btf();

	return btf && btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0;
}

bool feature_kprobe(void)
{
	if (!access("/sys/bus/event_source/devices/kprobe/type", F_OK))
		return true;
	if (feature_ensure_tracefs())
		return false;
	return !access(TRACEFS "/kprobe_events", F_OK);
}

bool feature_ringbuf(void)
{
	return libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
}

bool feature_helper(int helper_id)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, helper_id, NULL) == 1;
}

/*
 * Loading an fentry program is the only honest test: some kernels have the
 * BTF and the config but refuse trampolines (lockdown, hypervisor policy).
 */
bool feature_fentry(void)
{
	static int cached = -1;
	struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 },	/* r0 = 0 */
		{ .code = 0x95 },				/* exit */
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY);
	struct btf *btf = kernel_btf();
	int id, fd, link;

	if (cached >= 0)
		return cached;
	cached = 0;
	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, "bpf_fentry_test1", BTF_KIND_FUNC);
	if (id <= 0)
		id = btf__find_by_name_kind(btf, "do_nanosleep", BTF_KIND_FUNC);
	if (id <= 0)
		return false;
	opts.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "loupe_probe", "GPL", insns, 2, &opts);
	if (fd < 0)
		return false;
	link = bpf_raw_tracepoint_open(NULL, fd);
	if (link >= 0) {
		cached = 1;
		close(link);
	}
	close(fd);
	return cached;
}

/*
 * uprobe_multi links: load a program for them and ask for a link on a
 * directory.  A kernel that knows them refuses the path (EBADF); one that
 * does not refuses the attach type (EINVAL).  libbpf probes the same way.
 */
bool feature_uprobe_multi(void)
{
	static int cached = -1;
	struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 },	/* r0 = 0 */
		{ .code = 0x95 },				/* exit */
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
		    .expected_attach_type = LOUPE_BPF_TRACE_UPROBE_MULTI);
	unsigned long offset = 0;
	int fd, link;

	if (cached >= 0)
		return cached;
	cached = 0;
	if (getenv("LOUPE_NO_UPROBE_MULTI"))
		return false;
	fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "loupe_probe", "GPL", insns, 2, &opts);
	if (fd < 0)
		return false;
	link = uprobe_multi_link(fd, "/", &offset, NULL, 1, false);
	cached = link == -EBADF;
	if (link >= 0)
		close(link);
	close(fd);
	return cached;
}

bool feature_hash_no_prealloc(void)
{
	static int cached = -1;
	struct bpf_insn insns[] = {
		{ .code = 0x18, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD }, /* r1 = map */
		{ 0 },
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 },	/* r0 = 0 */
		{ .code = 0x95 },				/* exit */
	};
	LIBBPF_OPTS(bpf_map_create_opts, mopts, .map_flags = BPF_F_NO_PREALLOC);
	int map, fd;

	if (cached >= 0)
		return cached;
	cached = 0;
	map = bpf_map_create(BPF_MAP_TYPE_HASH, "loupe_probe", 4, 4, 1, &mopts);
	if (map < 0)
		return false;
	/* Referring to the map is enough: older verifiers refuse it right there. */
	insns[0].imm = map;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACEPOINT, "loupe_probe", "GPL", insns, 4, NULL);
	cached = fd >= 0;
	if (fd >= 0)
		close(fd);
	close(map);
	return cached;
}
