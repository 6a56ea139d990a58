// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Which files to probe, for every backend: the libraries the dynamic loader
 * would find, --lib and --bin, and the executables and libraries of running
 * processes and of processes started later (the exec notice).  Each file is
 * looked at once, by device and inode, whatever name it is reached by.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "grow.h"
#include "internal.h"

/* Every operation probes.h names (the notices after them are not functions). */
#define NR_FUNCS SSL_OP_EXEC

/* Paths come from processes (containers): never print their bytes raw. */
static const char *printable(const char *in, char *buf, size_t len)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < len; i++)
		buf[i] = isprint((unsigned char)in[i]) ? in[i] : '?';
	buf[i] = '\0';
	return buf;
}

static void find_funcs_init(struct elf_func *f)
{
	for (size_t op = 0; op < NR_FUNCS; op++)
		f[op].name = ssl_ops[op].name;
}

static bool backend_enabled(const struct ssl_state *st, const struct ssl_backend *b)
{
	return !b->enabled || b->enabled(st);
}

/*
 * What of backend b a file has: BACKEND_ALL when it has the backend's own
 * calls (and they make sense together), BACKEND_MARKERS when it has only
 * functions that are probed on their own, else BACKEND_NONE.
 */
enum { BACKEND_NONE, BACKEND_MARKERS, BACKEND_ALL };

static int backend_in_file(const struct ssl_backend *b, const bool *found)
{
	bool core = false, marker = false;

	for (size_t k = 0; k < b->nr_ops; k++) {
		enum ssl_op op = b->ops[k];

		core |= found[op] && (ssl_ops[op].flags & PROBE_CORE);
		marker |= found[op] && (ssl_ops[op].flags & PROBE_MARKER);
	}
	if (core && (!b->usable || b->usable(found)))
		return BACKEND_ALL;
	return marker ? BACKEND_MARKERS : BACKEND_NONE;
}

/* The counts of one file's probing, for the messages. */
struct probe_tally {
	int attached, failed;
	char missing[256];
};

static void note_missing(struct probe_tally *t, const char *func)
{
	size_t len = strlen(t->missing);

	snprintf(t->missing + len, sizeof(t->missing) - len, "%s%s", len ? ", " : "", func);
}

static int attach_op(struct session *s, enum ssl_op op, const char *path, const struct elf_func *f,
		     unsigned long image_end)
{
	struct ssl_state *st = s->state;
	const struct ssl_op_info *info = &ssl_ops[op];
	__u64 cookie = 0;

	if (info->flags & PROBE_IMAGE_COOKIE) {
		if (!st->disc.cookies || f->vaddr > UINT32_MAX || image_end > UINT32_MAX)
			return -ENOTSUP;
		cookie = (__u64)image_end << 32 | f->vaddr;
	}
	if (uprobe_attach_cookie(s, ssl_prog(s->obj, op, false), path, info->name, f->offset, false,
				 cookie))
		return -EINVAL;
	if (ssl_kind_has_return(info->kind) &&
	    uprobe_attach(s, ssl_prog(s->obj, op, true), path, info->name, f->offset, true))
		return -EINVAL;
	return 0;
}

/* Attach backend b's functions found in the file (all of them, or its markers only). */
static void attach_backend(struct session *s, const struct ssl_backend *b, int what,
			   const char *path, const struct elf_func *f, unsigned long image_end,
			   struct probe_tally *t)
{
	for (size_t k = 0; k < b->nr_ops; k++) {
		enum ssl_op op = b->ops[k];
		unsigned int flags = ssl_ops[op].flags;
		struct bpf_program *prog = ssl_prog(s->obj, op, false);
		int err;

		if (!prog || !bpf_program__autoload(prog))
			continue; /* not asked for here (--verify), or not for this kernel */
		if (what == BACKEND_MARKERS && !(flags & PROBE_MARKER))
			continue;
		if (!f[op].found) {
			if (flags & PROBE_CORE)
				note_missing(t, ssl_ops[op].name);
			continue;
		}
		err = attach_op(s, op, path, &f[op], image_end);
		if (err == -EINVAL)
			t->failed++;
		else if (!err)
			t->attached++; /* -ENOTSUP: no attach cookies here, probed from maps */
	}
}

static void report_file(struct session *s, const char *shown, const char *why, unsigned int mask,
			const struct probe_tally *t)
{
	struct ssl_state *st = s->state;
	const struct ssl_backend *b;
	char names[64] = "";

	if (t->missing[0])
		loupe_warn("%s: no %s; those calls are not traced there", shown, t->missing);
	if (t->failed)
		loupe_warn("%s: %d functions could not be probed (-v for details)", shown,
			   t->failed);
	if (!t->attached)
		return;
	for_each_backend (b, i) {
		size_t len = strlen(names);

		if (mask & (1u << i))
			snprintf(names + len, sizeof(names) - len, "%s%s", len ? "," : "", b->name);
	}
	st->disc.probed++;
	fprintf(stderr, "loupe: probing %s (%d function%s: %s)\n", shown, t->attached,
		t->attached == 1 ? "" : "s", names);
	loupe_info(s, "  %s was found %s", shown, why);
}

/*
 * Probe every TLS function the file has (path is what we open and attach,
 * shown names it, why says how it was found).  Returns its entry in the
 * seen list (kind: a bit per backend found there), or NULL when it cannot be
 * read.
 */
static struct lib_entry *probe_file(struct session *s, const char *path, const char *shown,
				    const char *why)
{
	struct ssl_state *st = s->state;
	struct discovery *d = &st->disc;
	struct lib_entry *e = lib_list_get(&d->seen, path);
	struct elf_func f[NR_FUNCS];
	bool found[SSL_OP_MAX] = {};
	struct probe_tally t = {};
	const struct ssl_backend *b;
	unsigned long image_end = 0;
	char pbuf[PATH_MAX];
	int err;

	if (e)
		return e;
	if (lib_list_add(&d->seen, path) < 0 || !(e = lib_list_get(&d->seen, path)))
		return NULL;
	shown = printable(shown, pbuf, sizeof(pbuf));
	find_funcs_init(f);
	if ((err = elf_find_funcs(path, f, NR_FUNCS, &image_end))) {
		loupe_warn("%s: cannot read its symbols (%s), not probed", shown, strerror(-err));
		return e;
	}
	for (size_t op = 0; op < NR_FUNCS; op++)
		found[op] = f[op].found;
	e->image_end = image_end;
	for_each_backend (b, i) {
		int what = backend_enabled(st, b) ? backend_in_file(b, found) : BACKEND_NONE;

		if (what == BACKEND_NONE)
			continue;
		e->kind |= 1u << i;
		attach_backend(s, b, what, path, f, image_end, &t);
	}
	for (size_t op = 0; op < NR_FUNCS; op++)
		if (found[op] && (ssl_ops[op].flags & PROBE_IMAGE_COOKIE))
			e->kind |= SEEN_IMAGE;
	/* Backends that find their functions their own way (Go). */
	for_each_backend (b, i) {
		int n = b->probe_file && backend_enabled(st, b) ? b->probe_file(s, path, shown) : 0;

		if (n > 0) {
			e->kind |= 1u << i;
			t.attached += n;
		}
	}
	if (!e->kind) {
		/* Found by us: normal.  Named by the user (--lib): say it. */
		if (!strncmp(why, "by --", 5))
			loupe_warn("%s: no TLS functions found, not probed", shown);
		else
			loupe_info(s, "%s (%s): no TLS functions, not probed", shown, why);
		return e;
	}
	report_file(s, shown, why, e->kind, &t);
	return e;
}

int discover_check_file(struct session *s, const char *flag, const char *path, bool bin)
{
	struct ssl_state *st = s->state;
	const struct ssl_backend *b;
	struct elf_func f[NR_FUNCS];
	bool any = false;
	int err;

	find_funcs_init(f);
	err = elf_find_funcs(path, f, NR_FUNCS, NULL);
	if (err == -ENOEXEC) {
		loupe_err("%s %s: not an ELF file (give the path of %s)", flag, path,
			  bin ? "an executable" : "a shared library");
		return -EINVAL;
	}
	if (err) {
		loupe_err("%s %s: %s", flag, path, strerror(-err));
		return -EINVAL;
	}
	for (size_t op = 0; op < NR_FUNCS; op++)
		any |= f[op].found && (ssl_ops[op].flags & PROBE_CORE);
	for_each_backend (b, i) {
		if (any || !bin || !b->check_file)
			continue;
		err = b->check_file(flag, path);
		if (err == -EINVAL)
			return err;
		any = !err;
	}
	if (bin && !any) {
		loupe_err("--bin %s: no SSL_read/SSL_write, gnutls_record_* or PR_* symbols, no Go "
			  "crypto/tls (stripped, or no TLS linked in)",
			  path);
		return -EINVAL;
	}
	if (lib_list_add(bin ? &st->disc.bins : &st->disc.extra_libs, path) < 0) {
		loupe_err("%s %s: not a regular file", flag, path);
		return -EINVAL;
	}
	return 0;
}

/* --- processes ---------------------------------------------------------------------- */

/* Names worth opening when seen in a process's maps (the executable always is). */
static bool tls_candidate(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	/* GnuTLS's OpenSSL compatibility wraps gnutls_record_*: probed there already. */
	if (!strncmp(base, "libgnutls-openssl", 17))
		return false;
	return strstr(base, "ssl") || strstr(base, "tls") || strstr(base, "nspr") ||
	       strstr(base, "nss3") || strstr(base, "crypto") || strstr(base, "boring") ||
	       strstr(base, "node");
}

struct scan_ctx {
	struct session *s;
	int pid;
};

static int scan_map(const struct proc_map *m, void *ctx)
{
	struct scan_ctx *c = ctx;
	char path[PATH_MAX + 32], why[64];
	const struct ssl_backend *b;
	struct lib_entry *e;

	if (!tls_candidate(m->path) || strstr(m->path, " (deleted)"))
		return 0;
	if (!m->exec && m->offset)
		return 0;
	/* The process's own view of its files: a container's private copy. */
	snprintf(path, sizeof(path), "/proc/%d/root%s", c->pid, m->path);
	snprintf(why, sizeof(why), "mapped by pid %d", c->pid);
	e = probe_file(c->s, path, m->path, why);
	if (!e)
		return 0;
	for_each_backend (b, i)
		if ((e->kind & (1u << i)) && b->mapped)
			b->mapped(c->s, c->pid, m, e);
	return 0;
}

/* Look at one process: its executable and the TLS libraries it maps. */
static void scan_pid(struct session *s, int pid)
{
	struct scan_ctx c = { s, pid };
	char exe[64], target[PATH_MAX], why[64];
	ssize_t n;

	if (pid == getpid())
		return;
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	n = readlink(exe, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		snprintf(why, sizeof(why), "as the executable of pid %d", pid);
		probe_file(s, exe, target, why);
	}
	proc_maps_foreach(pid, scan_map, &c);
}

/* The TLS libraries every enabled backend names, in the file system at root. */
static void probe_root_libraries(struct session *s, const char *root, const char *why)
{
	struct ssl_state *st = s->state;
	const struct ssl_backend *b;
	size_t rlen = strlen(root);

	for_each_backend (b, i) {
		if (!backend_enabled(st, b))
			continue;
		for (const char *const *name = b->sonames; *name; name++) {
			struct lib_list libs = {};

			find_libraries(root, *name, &libs);
			for (int k = 0; k < libs.n; k++) {
				char shown[PATH_MAX + 64];

				/* "/lib/.../libssl.so.3 in /proc/123/root": not the host's copy. */
				snprintf(shown, sizeof(shown), "%s%s%s", libs.v[k].path + rlen,
					 rlen ? " in " : "", root);
				probe_file(s, libs.v[k].path, shown, why);
			}
			lib_list_free(&libs);
		}
	}
}

/*
 * The container runtimes' image layers.  A container started from an image
 * maps the layer's own files (overlayfs hands the lower file to mmap), so a
 * libssl probed in the layer is probed in every container of that image
 * before it starts: its first request cannot be missed.  Looked at at start
 * and every few seconds for layers pulled since.
 */
static const struct {
	const char *dir;
	const char *sub; /* the layer's files, under dir/LAYER/ */
} layer_stores[] = {
	{ "/var/lib/containers/storage/overlay", "diff" }, /* podman, CRI-O */
	{ "/var/lib/docker/overlay2", "diff" },
	{ "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots", "fs" },
};

static bool layer_seen(struct discovery *d, const char *path)
{
	for (size_t i = 0; i < d->nr_layers; i++)
		if (!strcmp(d->layers[i].path, path))
			return true;
	return false;
}

static void layer_add(struct discovery *d, const char *path, struct link_mark from,
		      struct link_mark to)
{
	if (grow(&d->layers, &d->cap_layers, d->nr_layers + 1, sizeof(*d->layers), 16))
		return; /* out of memory: looked at again next time */
	d->layers[d->nr_layers] = (struct layer){ strdup(path), from, to, false };
	if (d->layers[d->nr_layers].path)
		d->nr_layers++;
}

/*
 * A layer whose directory is gone was removed with its image: no container
 * runs from it (the runtimes refuse to remove a layer in use).  Its probes
 * would only hold the deleted files' links and descriptors: detach them.
 */
static void forget_gone_layers(struct session *s)
{
	struct discovery *d = &((struct ssl_state *)s->state)->disc;

	for (size_t i = 0; i < d->nr_layers; i++) {
		struct layer *l = &d->layers[i];
		size_t n;

		if (l->gone || !access(l->path, F_OK) || errno != ENOENT)
			continue;
		l->gone = true;
		n = session_detach_between(s, l->from, l->to);
		if (n)
			loupe_info(s, "%s: image layer removed, %zu links detached", l->path, n);
	}
}

static void probe_image_layers(struct session *s)
{
	struct discovery *d = &((struct ssl_state *)s->state)->disc;

	d->layers_scanned = loupe_now_s();
	forget_gone_layers(s);
	for (size_t i = 0; i < sizeof(layer_stores) / sizeof(layer_stores[0]); i++) {
		DIR *dir = opendir(layer_stores[i].dir);
		struct dirent *de;

		while (dir && (de = readdir(dir))) {
			char path[PATH_MAX];
			struct link_mark from;

			if (de->d_name[0] == '.' || !strcmp(de->d_name, "l"))
				continue; /* "l": docker's and podman's short-name links */
			snprintf(path, sizeof(path), "%s/%s/%s", layer_stores[i].dir, de->d_name,
				 layer_stores[i].sub);
			if (layer_seen(d, path))
				continue;
			from = session_link_mark(s);
			probe_root_libraries(s, path, "in an image layer");
			layer_add(d, path, from, session_link_mark(s));
		}
		if (dir)
			closedir(dir);
	}
}

/*
 * A process in a root we have not seen (a container's, started after us):
 * probe the TLS libraries of that file system now, before its dynamic loader
 * maps them, so that a short-lived client's first call is not missed.
 */
static void probe_new_root(struct session *s, int pid, uint64_t exec_ns)
{
	struct discovery *d = &((struct ssl_state *)s->state)->disc;
	struct stat ours, theirs;
	char root[64], why[64];

	snprintf(root, sizeof(root), "/proc/%d/root", pid);
	if (stat("/", &ours) || stat(root, &theirs) ||
	    (ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino))
		return;
	for (size_t i = 0; i < d->nr_roots; i++)
		if (d->roots[i].dev == theirs.st_dev && d->roots[i].ino == theirs.st_ino)
			return;
	if (grow(&d->roots, &d->cap_roots, d->nr_roots + 1, sizeof(*d->roots), 16))
		return;
	d->roots[d->nr_roots++] = (struct root_id){ theirs.st_dev, theirs.st_ino };
	snprintf(why, sizeof(why), "in the file system of pid %d (a new root)", pid);
	probe_root_libraries(s, root, why);
	/* How much of a new process's start the probing took (tests/runtime/test_containers.py). */
	loupe_info(s, "new root of pid %d probed %.3f ms after its exec (exec %lld, probed %lld)",
		   pid, (loupe_clock_ns(CLOCK_BOOTTIME) - (int64_t)exec_ns) / 1e6,
		   (long long)boot_to_wall_ns(exec_ns),
		   (long long)boot_to_wall_ns(loupe_clock_ns(CLOCK_BOOTTIME)));
}

static void scan_all(struct session *s)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (pid > 0 && !*end)
			scan_pid(s, pid);
	}
	closedir(d);
}

/*
 * After exec the loader maps libraries, and the program may dlopen more:
 * look again a little later, then once more after a few seconds.
 */
static const double watch_delays[] = { 0, 0.15, 1.0, 3.0 };
#define NR_WATCH_ROUNDS (sizeof(watch_delays) / sizeof(watch_delays[0]))

void discover_watch(struct session *s, int pid, uint64_t exec_ns)
{
	struct discovery *d = &((struct ssl_state *)s->state)->disc;
	struct watch *w;

	if (d->nr_watch == MAX_WATCH) {
		/* An exec storm: the oldest watch loses its last rounds. */
		memmove(d->watch, d->watch + 1, (MAX_WATCH - 1) * sizeof(*w));
		d->nr_watch--;
	}
	/* Now, not at the next tick: a new process may do TLS within milliseconds. */
	probe_new_root(s, pid, exec_ns);
	scan_pid(s, pid);
	w = &d->watch[d->nr_watch++];
	w->pid = pid;
	w->round = 1;
	w->due = loupe_now_s() + watch_delays[1];
}

void discover_tick(struct session *s)
{
	struct ssl_state *st = s->state;
	struct discovery *d = &st->disc;
	double now;
	int j = 0;

	if (!st->no_follow && !s->filter.by_pid && loupe_now_s() - d->layers_scanned >= 5.0)
		probe_image_layers(s);
	if (!d->nr_watch)
		return;
	now = loupe_now_s();
	for (int i = 0; i < d->nr_watch; i++) {
		struct watch *w = &d->watch[i];

		if (w->due <= now) {
			scan_pid(s, w->pid);
			if (++w->round >= (int)NR_WATCH_ROUNDS)
				continue; /* done: dropped */
			w->due += watch_delays[w->round] - watch_delays[w->round - 1];
		}
		d->watch[j++] = *w;
	}
	d->nr_watch = j;
}

/* --- start -------------------------------------------------------------------------- */

int discover_attach(struct session *s)
{
	struct ssl_state *st = s->state;
	struct discovery *d = &st->disc;

	/* The system's libraries first: processes started later load them too. */
	probe_root_libraries(s, "", "in ld.so.cache or a standard library directory");
	for (int i = 0; i < d->extra_libs.n; i++)
		probe_file(s, d->extra_libs.v[i].path, d->extra_libs.v[i].path, "by --lib");
	for (int i = 0; i < d->bins.n; i++)
		probe_file(s, d->bins.v[i].path, d->bins.v[i].path, "by --bin");
	/* Running processes: private copies, containers, TLS linked into executables. */
	if (s->filter.by_pid) {
		scan_pid(s, s->filter.pid);
	} else {
		scan_all(s);
		/* Containers to come, from the images on this host. */
		if (!st->no_follow)
			probe_image_layers(s);
	}
	if (d->probed)
		return 0;
	if (st->no_follow) {
		loupe_err("found no TLS library to probe: install libssl3, or give --lib PATH or "
			  "--bin PATH");
		return -ENOENT;
	}
	loupe_warn("found no TLS library yet; watching processes that start");
	return 0;
}

void discover_free(struct discovery *d)
{
	for (size_t i = 0; i < d->nr_layers; i++)
		free(d->layers[i].path);
	free(d->layers);
	free(d->roots);
	lib_list_free(&d->extra_libs);
	lib_list_free(&d->bins);
	lib_list_free(&d->seen);
}
