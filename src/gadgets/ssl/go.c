// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Go's crypto/tls: (*Conn).Write and Read, and the handshakes, in any Go
 * executable (stripped or not) that links crypto/tls.  Go has no TLS
 * library to find by name: discovery hands every executable and mapped file
 * to go_probe_file, which reads its build info and function table
 * (src/gobin.c), puts the entry program on each function and its "return"
 * program on each of its RET instructions (go.bpf.h says why).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gobin.h"
#include "internal.h"

#define GO_STACK_ABI 0x1 /* go.bpf.h's cookie bits */

static const enum ssl_op go_ops[] = {
#define GO_OP(lib, func, kind, dir, flags) SSL_OP_##func,
	SSL_GO_PROBES(GO_OP)
#undef GO_OP
};
#define NR_GO_OPS (sizeof(go_ops) / sizeof(go_ops[0]))

/*
 * The attach cookie of a function (see go.bpf.h): the ABI, where g lies in
 * thread-local storage, and for the stack ABI where the first result lies:
 * after the receiver and the []byte (Read/Write), after the receiver (the
 * handshakes before 1.17) or the receiver and a context (1.17 built with
 * GOEXPERIMENT=noregabi).
 */
static __u64 go_cookie(const struct go_info *info, enum ssl_op op)
{
	__u64 cookie = (__u64)(__u32)(int)info->g_tls << 32;
	unsigned int result;

	if (info->regabi)
		return cookie;
	if (ssl_ops[op].kind == SSL_KIND_GO_RW)
		result = 5;
	else
		result = info->major == 1 && info->minor < 17 ? 2 : 4;
	return cookie | result << 8 | GO_STACK_ABI;
}

static struct bpf_program *go_prog(struct session *s, enum ssl_op op, bool ret)
{
	char name[128];

	snprintf(name, sizeof(name), "trace_uprobe_%s_%s%s", ssl_ops[op].lib, ssl_ops[op].name,
		 ret ? "_ret" : "");
	return bpf_object__find_program_by_name(s->obj, name);
}

/*
 * One function: its entry, then every RET (a function without a "return"
 * program, Close, has its entry only).  Returns 1 when attached, 0 if not.
 */
static int go_attach(struct session *s, const char *path, const char *shown, enum ssl_op op,
		     const struct go_func *f, __u64 cookie)
{
	struct bpf_program *entry = go_prog(s, op, false), *ret = go_prog(s, op, true);

	if (!entry)
		return 0;
	if (ret && (f->err || !f->nr_rets)) {
		loupe_warn("%s: %s: %s; not traced", shown, f->name,
			   f->err == -E2BIG ? "more returns than loupe probes"
					    : "code loupe cannot decode");
		return 0;
	}
	/* Returns first: an entry without its returns would leave calls open. */
	for (int k = 0; ret && k < f->nr_rets; k++)
		if (uprobe_attach_cookie(s, ret, path, f->name, f->rets[k], false, cookie))
			goto fail;
	if (uprobe_attach_cookie(s, entry, path, f->name, f->offset, false, cookie))
		goto fail;
	loupe_info(s, "  %s: %s at %#lx, %d returns", shown, f->name, f->vaddr,
		   ret ? f->nr_rets : 0);
	return 1;
fail:
	loupe_warn("%s: %s could not be probed (-v for details)", shown, f->name);
	return 0;
}

/* Read the file; 1: a Go program with crypto/tls, 0: not one (said at -v), < 0: said why. */
static int go_read(struct session *s, const char *path, const char *shown, struct go_info *info,
		   struct go_func *f)
{
	bool tls = false;
	int err;

	for (size_t i = 0; i < NR_GO_OPS; i++)
		f[i].name = ssl_ops[go_ops[i]].symbol;
	err = go_binary_read(path, info, f, NR_GO_OPS);
	if (err == -ENODATA || err == -ENOEXEC || err == -ENOENT)
		return 0; /* not a Go program (or gone) */
	if (err == -EOPNOTSUPP) {
		loupe_warn("%s: Go %s for another architecture than x86-64, not probed", shown,
			   info->version);
		return -EOPNOTSUPP;
	}
	if (err) {
		loupe_warn("%s: Go %s, cannot read its function table (%s), not probed", shown,
			   info->version, strerror(-err));
		return err;
	}
	for (size_t i = 0; i < NR_GO_OPS; i++)
		tls |= f[i].found && (ssl_ops[go_ops[i]].flags & PROBE_CORE);
	if (!tls) {
		if (s)
			loupe_info(s, "%s: Go %s without crypto/tls, not probed", shown,
				   info->version);
		return 0;
	}
	if (!info->version[0]) {
		loupe_warn("%s: a Go program without build info (Go before 1.13), not probed",
			   shown);
		return -EPROTO;
	}
	if (!info->major) {
		loupe_warn("%s: Go program of an unknown version (\"%s\"), not probed", shown,
			   info->version);
		return -EPROTO;
	}
	return 1;
}

static int go_probe_file(struct session *s, const char *path, const char *shown)
{
	struct ssl_state *st = s->state;
	struct go_func f[NR_GO_OPS];
	struct go_info info;
	int n = 0, err;

	if ((err = go_read(s, path, shown, &info, f)) <= 0)
		return err;
	if (!info.regabi && !st->disc.cookies) {
		loupe_warn("%s: %s passes arguments on the stack, which needs BPF attach cookies "
			   "(Linux 5.15+): not probed",
			   shown, info.version);
		return -EOPNOTSUPP;
	}
	for (size_t i = 0; i < NR_GO_OPS; i++) {
		if (!f[i].found) {
			if (ssl_ops[go_ops[i]].flags & PROBE_CORE)
				loupe_warn("%s: no %s; those calls are not traced there", shown,
					   f[i].name);
			continue;
		}
		/* No cookies (before 5.15): none at all, go.bpf.h then assumes the register ABI. */
		n += go_attach(s, path, shown, go_ops[i], &f[i],
			       st->disc.cookies ? go_cookie(&info, go_ops[i]) : 0);
	}
	loupe_info(s, "  %s: %s, %s ABI, functions from %s", shown, info.version,
		   info.regabi ? "register" : "stack", info.from_symtab ? ".symtab" : ".gopclntab");
	return n;
}

static int go_check_file(const char *flag, const char *path)
{
	struct go_func f[NR_GO_OPS];
	struct go_info info;
	int err = go_read(NULL, path, path, &info, f);

	if (err == 0 && info.version[0]) {
		loupe_err("%s %s: a Go program (%s) without crypto/tls", flag, path, info.version);
		return -EINVAL;
	}
	return err > 0 ? 0 : err < 0 ? -EINVAL : -ENOENT;
}

/*
 * A goroutine that never returns from Read (its process exited while it
 * waited: common, idle readers are) leaves its call in go_calls, keyed by
 * goroutine, not by a thread whose exit would clear it.  Every few seconds,
 * forget the calls of processes that are gone.
 */
#define GO_SWEEP_S 2.0

static void go_tick(struct session *s)
{
	static double next;
	struct bpf_map *map = bpf_object__find_map_by_name(s->obj, "go_calls");
	struct ssl_go_key prev, cur;
	bool first = true;
	int fd;

	if (!map || loupe_now_s() < next)
		return;
	next = loupe_now_s() + GO_SWEEP_S;
	fd = bpf_map__fd(map);
	while (!bpf_map_get_next_key(fd, first ? NULL : &prev, &cur)) {
		if (kill(cur.tgid, 0) && errno == ESRCH) {
			bpf_map_delete_elem(fd, &cur);
			continue;
		}
		prev = cur;
		first = false;
	}
}

const struct ssl_backend ssl_backend_go = {
	.name = "go",
	.sonames = (const char *const[]){ NULL },
	SSL_BACKEND_OPS(SSL_GO_PROBES),
	.probe_file = go_probe_file,
	.check_file = go_check_file,
	.tick = go_tick,
};
