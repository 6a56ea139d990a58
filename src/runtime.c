// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The gadget runtime: a session's stages (output, checks, load, attach, the
 * ring buffer loop, the end), links, signals, and the `trace` and `list`
 * commands.  Written once, used by every gadget (see gadget.h); the command
 * line is in options.c and the books in accounting.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "grow.h"
#include "audit.h"
#include "containers.h"
#include "kfeatures.h"
#include "metrics.h"
#include "minbtf.h"
#include "uprobe.h"
#include "runtime_int.h"

/* --- messages ------------------------------------------------------------ */

static int verbosity;

void loupe_err(const char *fmt, ...)
{
	va_list ap;

	fputs("loupe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void loupe_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("loupe: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void loupe_info(struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->verbose)
		return;
	fputs("loupe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && verbosity < 2)
		return 0;
	if (!verbosity)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Root, or CAP_BPF with CAP_PERFMON (uprobes and tracepoints need both). */
static bool have_privileges(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	uint64_t eff;

	if (syscall(SYS_capget, &hdr, data))
		return geteuid() == 0;
	eff = data[0].effective | ((uint64_t)data[1].effective << 32);
	if (eff & (1ULL << CAP_SYS_ADMIN))
		return true;
	/* CAP_PERFMON = 38, CAP_BPF = 39; old headers lack the names. */
	return (eff & (1ULL << 38)) && (eff & (1ULL << 39));
}

/* --- links ----------------------------------------------------------------- */

int session_add_link(struct session *s, struct bpf_link *link)
{
	if (grow(&s->links, &s->cap_links, s->nr_links + 1, sizeof(*s->links), 16)) {
		bpf_link__destroy(link);
		return -ENOMEM;
	}
	s->links[s->nr_links++] = link;
	return 0;
}

int session_add_link_fd(struct session *s, int fd)
{
	if (grow(&s->link_fds, &s->cap_link_fds, s->nr_link_fds + 1, sizeof(*s->link_fds), 16)) {
		close(fd);
		return -ENOMEM;
	}
	s->link_fds[s->nr_link_fds++] = fd;
	return 0;
}

size_t session_link_count(const struct session *s)
{
	return s->nr_links + s->nr_link_fds;
}

struct link_mark session_link_mark(const struct session *s)
{
	return (struct link_mark){ s->nr_links, s->nr_link_fds };
}

/*
 * Detach the links made between two marks (a file that is gone).  Their
 * slots stay, empty, so that every later mark still holds; the final
 * detach skips them.  Returns how many were detached.
 */
size_t session_detach_between(struct session *s, struct link_mark from, struct link_mark to)
{
	size_t n = 0;

	for (size_t i = from.links; i < to.links && i < s->nr_links; i++, n++) {
		bpf_link__destroy(s->links[i]);
		s->links[i] = NULL;
	}
	for (size_t i = from.fds; i < to.fds && i < s->nr_link_fds; i++) {
		if (s->link_fds[i] < 0)
			continue;
		close(s->link_fds[i]);
		s->link_fds[i] = -1;
		n++;
	}
	return n;
}

/*
 * Detach every link.  Closing a uprobe waits for a grace period (about 80 ms
 * here), one after the other that is seconds for a few dozen probes; closed
 * from parallel threads, the waits overlap and share grace periods.
 */
#define DETACH_THREADS 32

struct detach_slice {
	struct session *s;
	size_t from, to; /* indexes over links, then link fds */
};

static void *detach_slice(void *arg)
{
	struct detach_slice *sl = arg;
	struct session *s = sl->s;

	for (size_t i = sl->from; i < sl->to; i++) {
		if (i < s->nr_links)
			bpf_link__destroy(s->links[i]); /* NULL: already detached */
		else if (s->link_fds[i - s->nr_links] >= 0)
			close(s->link_fds[i - s->nr_links]);
	}
	return NULL;
}

static void session_detach_all(struct session *s)
{
	struct detach_slice slices[DETACH_THREADS];
	pthread_t threads[DETACH_THREADS];
	bool started[DETACH_THREADS] = {};
	size_t total = session_link_count(s);
	size_t nt = total < DETACH_THREADS ? total : DETACH_THREADS;
	size_t per = nt ? (total + nt - 1) / nt : 0;

	for (size_t t = 0; t < nt; t++) {
		slices[t] = (struct detach_slice){ s, t * per,
						   (t + 1) * per < total ? (t + 1) * per : total };
		started[t] = !pthread_create(&threads[t], NULL, detach_slice, &slices[t]);
		if (!started[t])
			detach_slice(&slices[t]); /* no thread: do it here */
	}
	for (size_t t = 0; t < nt; t++)
		if (started[t])
			pthread_join(threads[t], NULL);
	s->nr_links = 0;
	s->nr_link_fds = 0;
}

/* Programs whose section names their target (tracepoint/x/y, tp_btf/x...). */
int session_attach_programs(struct session *s)
{
	struct bpf_program *prog;

	bpf_object__for_each_program (prog, s->obj) {
		const char *sec = bpf_program__section_name(prog);
		struct bpf_link *link;
		int err;

		if (!bpf_program__autoload(prog) || !strchr(sec, '/'))
			continue;
		link = bpf_program__attach(prog);
		if (!link) {
			err = -errno;
			loupe_err("cannot attach %s (%s): %s", bpf_program__name(prog), sec,
				  strerror(-err));
			return err;
		}
		session_add_link(s, link);
		loupe_info(s, "attached %s to %s", bpf_program__name(prog), sec);
	}
	return 0;
}

/*
 * Uprobes as uprobe_multi links where the kernel has them: the program must
 * be loaded for that attach type, so the choice is made here, before load,
 * for every uprobe program of the object (tail-called ones too: a program
 * array wants its programs alike).
 */
static void choose_uprobe_links(struct session *s)
{
	struct bpf_program *prog;
	bool any = false;

	bpf_object__for_each_program (prog, s->obj) {
		const char *sec = bpf_program__section_name(prog);

		any |= !strcmp(sec, "uprobe") || !strcmp(sec, "uretprobe");
	}
	if (!any || !feature_uprobe_multi())
		return;
	bpf_object__for_each_program (prog, s->obj) {
		const char *sec = bpf_program__section_name(prog);

		if (!strcmp(sec, "uprobe") || !strcmp(sec, "uretprobe"))
			bpf_program__set_expected_attach_type(prog, LOUPE_BPF_TRACE_UPROBE_MULTI);
	}
	s->uprobe_multi = true;
	loupe_info(s, "uprobes are uprobe_multi links");
}

/* --- the session's stages ------------------------------------------------- */

static volatile sig_atomic_t exiting, reload_asked;

static void on_signal(int sig)
{
	if (exiting)
		_exit(128 + sig); /* second Ctrl-C: the user means it */
	exiting = 1;
}

static void on_sighup(int sig)
{
	reload_asked = 1;
}

/*
 * Before anything loads: a SIGINT that arrives while programs load must stop
 * the run, not be lost.  A shell starts a background job with SIGINT ignored,
 * so the inherited disposition is replaced, not kept.
 */
static void catch_signals(bool reload)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (reload)
		signal(SIGHUP, on_sighup);
}

/* One `loupe trace`: its gadgets' sessions, one output stream, one reader of their rings. */
struct run {
	struct session *ss[MAX_GADGETS];
	int n;
	struct trace_args ta;
	FILE *fp;
	struct sink *sink; /* --output-file */
	bool write_failed; /* events or a capture file could not be written */
	struct ring_buffer *rb;
	char names[128];	 /* "ssl,tcp" */
	struct metrics *metrics; /* --metrics */
	struct run_metrics rm;
	double last_publish;
	/* --config: the file's words, the command line they were put before, what cannot change. */
	char **cfg_words, *cfg_store;
	int nr_cfg_words;
	char **argv; /* gadget name, the file's words, the command line's */
	int argc, cmd_argc;
	char **cmd_argv;
	char cfg_fixed[2048];
};

#define for_each_session(r, s, k) for (int k = 0; k < (r)->n && ((s) = (r)->ss[k]); k++)

/* With several gadgets, each --fields name must be some gadget's. */
static int check_fields(const struct run *r)
{
	char *list, *save = NULL, *tok;
	int err = 0;

	if (!r->ta.fields || r->n < 2)
		return 0;
	if (!(list = strdup(r->ta.fields)))
		return -ENOMEM;
	for (tok = strtok_r(list, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
		bool known = false;

		for (int k = 0; k < r->n; k++)
			known |= field_index(r->ss[k]->gadget->fields, tok) >= 0;
		if (!known) {
			loupe_err("unknown field '%s' in --fields (see --help for the list)", tok);
			err = -EINVAL;
		}
	}
	free(list);
	return err;
}

/* Where rows go, how wide, how buffered: stdout or --output-file; a row says its gadget. */
static int open_output(struct run *r)
{
	struct output_opts oo = { .mode = r->ta.mode,
				  .fields = r->ta.fields,
				  .some_fields = r->n > 1 };
	struct session *s;
	char err_msg[512];
	int err;

	/* --encrypt-to: a certificate that cannot be used is a bad command line. */
	if ((err = sink_opts_load(&r->ta.sink, err_msg, sizeof(err_msg)))) {
		loupe_err("%s", err_msg);
		return err;
	}
	if (r->ta.sink.recipients)
		audit_set_encrypted_to(r->ta.sink.recipients_desc);
	for_each_session (r, s, k)
		s->sink_opts = &r->ta.sink;
	if (r->ta.output_file) {
		if (sink_open(&r->sink, r->ta.output_file, "events", &r->ta.sink, err_msg,
			      sizeof(err_msg)) ||
		    !(r->fp = sink_stream(r->sink))) {
			loupe_err("cannot write --output-file %s: %s", r->ta.output_file,
				  r->sink ? "out of memory" : err_msg);
			return -EIO;
		}
		oo.row_end = sink_row_end; /* rotation never splits a row */
		oo.row_end_arg = r->sink;
	} else if (isatty(STDOUT_FILENO)) {
		struct winsize ws;

		r->fp = stdout;
		if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col)
			oo.width = ws.ws_col;
		setvbuf(stdout, NULL, _IOLBF, 0);
	} else {
		r->fp = stdout;
		setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	}
	if ((err = check_fields(r)))
		return err;
	if (r->ta.metrics &&
	    (!(r->metrics = metrics_new()) || run_metrics_init(&r->rm, r->metrics))) {
		loupe_err("out of memory");
		return -ENOMEM;
	}
	oo.fp = r->fp;
	for_each_session (r, s, k) {
		oo.hex = s->hex_dump;
		oo.tag = r->n > 1 ? s->gadget->name : NULL;
		s->json = r->ta.mode == OUT_JSON;
		s->no_events = r->ta.no_events;
		s->metrics = r->metrics;
		s->out = output_new(s->gadget->fields, &oo, err_msg, sizeof(err_msg));
		if (!s->out) {
			loupe_err("%s", err_msg);
			return -EINVAL;
		}
	}
	return 0;
}

/* Before loading anything: privileges, the audit record, the kernel's basics. */
static int check_host(struct run *r, int argc, char **argv)
{
	int err;

	if (!have_privileges()) {
		loupe_err("tracing needs root, or the CAP_BPF and CAP_PERFMON capabilities: "
			  "run it with sudo");
		return -EPERM;
	}
	boot_clock_init();
	/* Captured data can be sensitive: no record of who looked, no capture. */
	if ((err = audit_start(r->names, r->ta.filters, argc, argv))) {
		loupe_err("cannot write the audit record to %s: %s; not capturing",
			  r->ta.audit_log ? r->ta.audit_log : "syslog", strerror(-err));
		return -EIO;
	}
	if ((err = feature_ensure_tracefs()))
		loupe_warn("cannot mount tracefs on /sys/kernel/tracing (%s): tracepoints may "
			   "fail to attach",
			   strerror(-err));
	if (!feature_ringbuf()) {
		loupe_err("this kernel has no BPF ring buffer (Linux 5.8 or later is needed)");
		return -ENOTSUP;
	}
	return 0;
}

/*
 * Open the gadget's skeleton, relocating CO-RE against a minimal kernel BTF
 * built in a child where the gadget allows it (LOUPE_FULL_BTF=1: the whole
 * of it, to compare).  *btf_fd keeps that BTF alive until load.
 */
static int open_skeleton(struct session *s, int *btf_fd)
{
	const struct gadget_skeleton *sk = s->gadget->skeleton;
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	char btf_path[64];

	if (s->gadget->min_btf && !getenv("LOUPE_FULL_BTF")) {
		size_t size;
		const void *elf = sk->elf_bytes(&size);

		*btf_fd = minbtf_create(elf, size, btf_path, sizeof(btf_path));
		if (*btf_fd >= 0)
			opts.btf_custom_path = btf_path;
		else
			loupe_info(s, "no minimal kernel BTF (%s): using the whole of it",
				   strerror(-*btf_fd));
	}
	s->skel = sk->open(&opts);
	if (!s->skel) {
		loupe_err("cannot open the %s BPF object: %s", s->gadget->name, strerror(errno));
		return -errno ? -errno : -EINVAL;
	}
	s->obj = *(struct bpf_object **)((char *)s->skel + sk->obj_offset);
	return 0;
}

/*
 * Hash maps get their elements on insert (BPF_F_NO_PREALLOC), not all at
 * load: a container's memory limit counts kernel memory, and preallocated
 * tables were 19 of `trace ssl`'s 24 MB, nearly all of it never used.  An
 * insert that finds no memory fails as a full map does, and is counted
 * (map_full).  Kernels before 6.1 refuse such maps in tracing programs: they
 * keep them preallocated, as does LOUPE_PREALLOC_MAPS=1 (to compare).
 */
static void hash_maps_on_demand(struct session *s)
{
	struct bpf_map *m;

	if (getenv("LOUPE_PREALLOC_MAPS") || !feature_hash_no_prealloc())
		return;
	bpf_object__for_each_map (m, s->obj)
		if (bpf_map__type(m) == BPF_MAP_TYPE_HASH)
			bpf_map__set_map_flags(m, bpf_map__map_flags(m) | BPF_F_NO_PREALLOC);
}

/* Knobs, filters, the gadget's own choices, the ring buffer's size: then load. */
static int load(struct session *s)
{
	struct bpf_map *events;
	uint64_t wakeup;
	int btf_fd = -1, err;

	if ((err = open_skeleton(s, &btf_fd)) || (err = apply_knobs(s)) || (err = set_filters(s)) ||
	    (s->gadget->configure && (err = s->gadget->configure(s))))
		goto out;
	events = bpf_object__find_map_by_name(s->obj, "events");
	if (events && (err = bpf_map__set_max_entries(events, s->buffer_size))) {
		loupe_err("cannot size the ring buffer: %s", strerror(-err));
		goto out;
	}
	/* Wake the reader when an eighth of the buffer waits (see loupe.bpf.h). */
	wakeup = s->buffer_size / 8;
	obj_set_rodata(s->obj, "wakeup_bytes", &wakeup, sizeof(wakeup));
	/* --config: filters and tunables from a map, so that SIGHUP can change them. */
	obj_set_rodata(s->obj, "dynamic_config", &s->dynamic_config, 1);
	choose_uprobe_links(s);
	hash_maps_on_demand(s);
	if ((err = bpf_object__load(s->obj)))
		loupe_err("the kernel refused the %s BPF programs: %s%s", s->gadget->name,
			  strerror(-err),
			  s->verbose ? "" : " (run with -vv for the verifier's log)");
out:
	if (btf_fd >= 0)
		close(btf_fd);
	return err;
}

static int fill_mntns_map(struct session *s)
{
	struct bpf_map *map = bpf_object__find_map_by_name(s->obj, "gadget_mntns_filter_map");
	uint8_t one = 1;

	for (int i = 0; i < s->filter.nr_mntns; i++) {
		if (!map || bpf_map_update_elem(bpf_map__fd(map), &s->filter.mntns[i], &one, 0)) {
			loupe_err("cannot fill the mount namespace filter: %s", strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* The mount namespaces of --mntns and --container-pid, as the kernel's filter map. */
static int refill_mntns_map(struct session *s)
{
	struct bpf_map *map = bpf_object__find_map_by_name(s->obj, "gadget_mntns_filter_map");
	__u64 key, next;

	while (map && !bpf_map_get_next_key(bpf_map__fd(map), NULL, &next)) {
		key = next;
		if (bpf_map_delete_elem(bpf_map__fd(map), &key))
			break;
	}
	return fill_mntns_map(s);
}

/*
 * --config: the filters and the gadget's tunables into the loupe_config map
 * (the kernel reads them there instead of its read-only knobs).  parsed:
 * the session holding the values (itself at start, one parsed from the new
 * file on SIGHUP).
 */
static int apply_config(struct session *s, const struct session *parsed)
{
	struct bpf_map *map = bpf_object__find_map_by_name(s->obj, "loupe_config");
	const struct filter_opts *f = &parsed->filter;
	struct loupe_config cfg = {
		.by_pid = f->by_pid,
		.by_tid = f->by_tid,
		.by_uid = f->by_uid,
		.by_gid = f->by_gid,
		.by_comm = f->by_comm,
		.pid = f->pid,
		.tid = f->tid,
		.uid = f->uid,
		.gid = f->gid,
		.by_container = f->nr_containers > 0,
		.by_mntns = f->nr_mntns > 0 && !f->nr_containers,
	};
	__u32 zero = 0;
	int err;

	memcpy(cfg.comm, f->comm, sizeof(cfg.comm));
	if (s != parsed)
		s->filter = *f;
	if (s->gadget->reconfigure)
		s->gadget->reconfigure(s, parsed, &cfg);
	if (!map || bpf_map_update_elem(bpf_map__fd(map), &zero, &cfg, BPF_ANY)) {
		err = -errno;
		loupe_err("cannot write the %s configuration map: %s", s->gadget->name,
			  strerror(errno));
		return err ?: -EINVAL;
	}
	if ((err = refill_mntns_map(s)))
		return err;
	if (s != parsed)
		userfilter_reset(s);
	return 0;
}

/* A session's rings (events, the runtime's notices) join the run's one reader. */
static int add_rings(struct run *r, struct session *s)
{
	struct bpf_map *events = bpf_object__find_map_by_name(s->obj, "events");
	struct bpf_map *notices = bpf_object__find_map_by_name(s->obj, "loupe_notices");
	int err = 0;

	if (!r->rb)
		r->rb = ring_buffer__new(bpf_map__fd(events), ringbuf_cb, s, NULL);
	else
		err = ring_buffer__add(r->rb, bpf_map__fd(events), ringbuf_cb, s);
	if (r->rb && !err && notices)
		err = ring_buffer__add(r->rb, bpf_map__fd(notices), userfilter_notice, s);
	if (!r->rb || err) {
		err = -errno;
		loupe_err("cannot open the ring buffer: %s", strerror(-err));
	}
	return err;
}

/* After load: the namespace filters, the reader of the rings, and the probes. */
static int attach(struct run *r, struct session *s)
{
	int err;

	if ((err = s->dynamic_config ? apply_config(s, s) : fill_mntns_map(s)))
		return err;
	/* Containers running now, known (and judged for --container) before any event. */
	if ((err = userfilter_start(s))) {
		loupe_err("cannot look at the running processes' namespaces: %s", strerror(-err));
		return err;
	}
	if ((err = add_rings(r, s)))
		return err;
	return s->gadget->attach ? s->gadget->attach(s) : session_attach_programs(s);
}

/* Now and then, per session: the gadget's timeouts, exited containers, loss warnings. */
static void tend(struct session *s, double now)
{
	uint64_t lost;

	if (s->gadget->tick)
		s->gadget->tick(s);
	/* Containers that exited: forgotten, cache and map entries alike. */
	if (now - s->last_sweep >= 5.0) {
		userfilter_sweep(s);
		s->last_sweep = now;
	}
	if (now - s->last_check < 1.0)
		return;
	lost = session_losses(s);
	if (lost > s->lost_warned)
		loupe_warn("%s: %llu events lost or truncated: the ring buffer was full "
			   "(raise --buffer-size, or filter more)",
			   s->gadget->name, (unsigned long long)(lost - s->lost_warned));
	s->lost_warned = lost;
	s->last_check = now;
}

/* The command line with the config file's words put before its own: the command line wins. */
static int compose_argv(struct run *r, int argc, char **argv, char **words, int nw)
{
	char **a = calloc(argc + nw + 1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a[0] = argv[0];
	memcpy(a + 1, words, nw * sizeof(*a));
	memcpy(a + 1 + nw, argv + 1, (argc - 1) * sizeof(*a));
	r->argv = a;
	r->argc = argc + nw;
	return 0;
}

/* --config FILE (or --config=FILE), looked for before any parsing. */
static const char *config_path(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
	}
	return NULL;
}

static int read_config(struct run *r, const char *path, char ***words, char **store)
{
	int nw = config_read(path, words, store);

	if (nw == -EINVAL)
		loupe_err("--config %s: a quote is not closed", path);
	else if (nw < 0)
		loupe_err("--config %s: %s", path, strerror(-nw));
	return nw;
}

/* Sessions parsed but never loaded (a SIGHUP's): their state only. */
static void free_sessions(struct run *r)
{
	for (int k = 0; k < r->n; k++) {
		if (r->ss[k]->gadget->close)
			r->ss[k]->gadget->close(r->ss[k]);
		free(r->ss[k]->state);
		free(r->ss[k]);
	}
	r->n = 0;
}

static int new_sessions(struct run *r, const struct gadget *const *gs, int n);

/*
 * SIGHUP: read the file again, parse it with the command line into sessions
 * of the same gadgets, and if it parses and changes only what may change,
 * write the new filters and tunables into the kernel's config maps.  Nothing
 * is detached, nothing re-attached; a bad file leaves the old configuration.
 */
static void reload_config(struct run *r)
{
	struct run tmp = { .ta = { .mode = OUT_COLUMNS } };
	const struct gadget *gs[MAX_GADGETS];
	char **words = NULL, *store = NULL, fixed[sizeof(r->cfg_fixed)];
	size_t links = 0;
	int nw, err = 0;

	loupe_info(r->ss[0], "SIGHUP: reading %s again", r->ta.config);
	if ((nw = read_config(r, r->ta.config, &words, &store)) < 0)
		goto refused;
	config_fixed_part(r->ss, r->n, words, nw, fixed, sizeof(fixed));
	if (strcmp(fixed, r->cfg_fixed)) {
		loupe_err("--config %s changes options other than the filters, --sample and "
			  "--data-size: those need a restart",
			  r->ta.config);
		goto refused;
	}
	for (int k = 0; k < r->n; k++)
		gs[k] = r->ss[k]->gadget;
	if ((err = new_sessions(&tmp, gs, r->n)) ||
	    (err = compose_argv(&tmp, r->cmd_argc, r->cmd_argv, words, nw)) ||
	    (err = parse_trace_args(tmp.ss, tmp.n, &tmp.ta, tmp.argc, tmp.argv)))
		goto refused;
	for (int k = 0; k < r->n && !err; k++)
		err = apply_config(r->ss[k], tmp.ss[k]);
	if (err)
		goto refused;
	/* The new words live on: the filters point into them. */
	free(r->cfg_words);
	free(r->cfg_store);
	if (r->argv != r->cmd_argv)
		free(r->argv);
	r->cfg_words = words, r->cfg_store = store, r->nr_cfg_words = nw;
	r->argv = tmp.argv, r->argc = tmp.argc;
	for (int k = 0; k < r->n; k++)
		links += session_link_count(r->ss[k]);
	fprintf(stderr, "loupe: reconfigured from %s: filters %s (%zu links, none re-attached)\n",
		r->ta.config, tmp.ta.filters[0] ? tmp.ta.filters : "none", links);
	free_sessions(&tmp);
	return;
refused:
	loupe_warn("--config %s: keeping the previous configuration", r->ta.config);
	free_sessions(&tmp);
	free(tmp.argv);
	free(words);
	free(store);
}

/* Read events until a signal, --timeout, or an error; returns the seconds traced. */
static double run_loop(struct run *r)
{
	double start = loupe_now_s(), t;
	double end = r->ss[0]->timeout_s > 0 ? start + r->ss[0]->timeout_s : 0;
	struct session *s;
	char msg[384];
	size_t links = 0;
	int err;

	for_each_session (r, s, k) {
		links += session_link_count(s);
		s->last_check = s->last_sweep = start;
	}
	if (r->metrics)
		fprintf(stderr, "loupe: metrics on http://%s/metrics\n",
			metrics_address(r->metrics));
	fprintf(stderr, "loupe: ready: tracing %s with %zu links, Ctrl-C to stop\n", r->names,
		links);
	while (!exiting) {
		err = ring_buffer__poll(r->rb, 100);
		/* Records below the wakeup mark raise no event: collect them on timeout. */
		if (err == 0)
			err = ring_buffer__consume(r->rb);
		if (err < 0 && err != -EINTR) {
			loupe_err("reading events failed: %s", strerror(-err));
			break;
		}
		t = loupe_now_s();
		for_each_session (r, s, k) {
			tend(s, t);
			output_flush(s->out);
		}
		if (reload_asked) {
			reload_asked = 0;
			reload_config(r);
		}
		if (r->metrics && t - r->last_publish >= 1.0) {
			run_metrics_update(&r->rm, r->ss, r->n);
			metrics_publish(r->metrics);
			r->last_publish = t;
		}
		if (ferror(r->fp)) {
			loupe_err("writing events failed: %s", strerror(errno));
			r->write_failed = true;
			break;
		}
		/* Files at rest: complete records out, the next file when one is full. */
		if (sinks_flush(msg, sizeof(msg))) {
			loupe_err("%s; stopping", msg);
			r->write_failed = true;
			break;
		}
		if (end && t >= end)
			break;
	}
	return loupe_now_s() - start;
}

/* Detach first, then drain: nothing new arrives while the buffers are emptied. */
static void finish(struct run *r, double elapsed)
{
	struct session *s;

	for_each_session (r, s, k)
		session_detach_all(s);
	drain_rings(r->ss, r->n, r->rb);
	for_each_session (r, s, k) {
		if (s->gadget->flush)
			s->gadget->flush(s);
		output_flush(s->out);
	}
	for_each_session (r, s, k)
		print_stats(s, elapsed, r->ta.mode == OUT_JSON);
	if (r->metrics) { /* the final figures, for a last scrape */
		run_metrics_update(&r->rm, r->ss, r->n);
		metrics_publish(r->metrics);
	}
}

static void teardown(struct run *r)
{
	struct session *s;

	ring_buffer__free(r->rb);
	for_each_session (r, s, k) {
		session_detach_all(s);
		free(s->links);
		free(s->link_fds);
		if (s->gadget->close)
			s->gadget->close(s);
		if (s->skel)
			s->gadget->skeleton->destroy(s->skel);
		userfilter_free(s);
		output_free(s->out);
		free(s->state);
		free(s);
	}
	if (r->sink) { /* r->fp is its stream */
		if (sink_close(r->sink))
			loupe_warn("writing --output-file %s failed: its last file may be cut",
				   r->ta.output_file);
	} else if (r->fp && r->fp != stdout) {
		fclose(r->fp);
	}
	sink_opts_free(&r->ta.sink);
	metrics_free(r->metrics);
	features_free();
}

static int serve_metrics(struct run *r)
{
	char msg[256];
	int err = metrics_serve(r->metrics, r->ta.metrics, msg, sizeof(msg));

	if (err)
		loupe_err("%s", msg);
	return err == -EINVAL ? -EINVAL : err ? -EIO : 0;
}

static int new_sessions(struct run *r, const struct gadget *const *gs, int n)
{
	for (int k = 0; k < n; k++) {
		struct session *s = calloc(1, sizeof(*s));

		if (!s || (gs[k]->state_size && !(s->state = calloc(1, gs[k]->state_size)))) {
			free(s);
			loupe_err("out of memory");
			return -ENOMEM;
		}
		s->gadget = gs[k];
		s->buffer_size = 2 << 20;
		r->ss[r->n++] = s;
		snprintf(r->names + strlen(r->names), sizeof(r->names) - strlen(r->names), "%s%s",
			 k ? "," : "", gs[k]->name);
	}
	return 0;
}

static int run_gadgets(const struct gadget *const *gs, int n, int argc, char **argv)
{
	struct run run = { .ta = { .mode = OUT_COLUMNS } }, *r = &run;
	const char *config = config_path(argc, argv);
	uint64_t events = 0, bytes = 0;
	double elapsed = 0;
	struct session *s;
	int err = 0;

	r->cmd_argc = r->argc = argc;
	r->cmd_argv = r->argv = argv;
	if (config) {
		int nw = read_config(r, config, &r->cfg_words, &r->cfg_store);

		if (nw < 0)
			return exit_status(nw == -EINVAL ? -EINVAL : -EIO);
		r->nr_cfg_words = nw;
		err = compose_argv(r, argc, argv, r->cfg_words, nw);
	}
	if (!err && !(err = new_sessions(r, gs, n)) &&
	    !(err = parse_trace_args(r->ss, n, &r->ta, r->argc, r->argv))) {
		verbosity = r->ss[0]->verbose;
		libbpf_set_print(libbpf_print);
		if (config) {
			config_fixed_part(r->ss, n, r->cfg_words, r->nr_cfg_words, r->cfg_fixed,
					  sizeof(r->cfg_fixed));
			for_each_session (r, s, k)
				s->dynamic_config = true;
		}
		catch_signals(config != NULL);
		if (!(err = open_output(r)) && !(err = check_host(r, argc, argv))) {
			for_each_session (r, s, k)
				if (!err)
					err = load(s);
			for_each_session (r, s, k)
				if (!err)
					err = attach(r, s);
			if (!err && r->metrics)
				err = serve_metrics(r);
			if (!err && exiting)
				loupe_warn("stopped by a signal before tracing started");
			else if (!err) {
				elapsed = run_loop(r);
				finish(r, elapsed);
				if (r->write_failed) /* captures lost: not a normal stop */
					err = -EIO;
			}
		}
		for_each_session (r, s, k) {
			events += s->received - s->dropped;
			bytes += s->bytes;
		}
		/* A failed start still gets its stop record. */
		audit_stop(exit_status(err), events, bytes, elapsed);
	}
	teardown(r);
	if (r->argv != argv)
		free(r->argv);
	free(r->cfg_words);
	free(r->cfg_store);
	return exit_status(err);
}

int cmd_trace(int argc, char **argv)
{
	const struct gadget *gs[MAX_GADGETS];
	int n = 0;

	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		FILE *fp = argc < 2 ? stderr : stdout;

		fprintf(fp, "Usage: loupe trace GADGET [GADGET...] [OPTIONS]\n\nGadgets:\n");
		gadgets_print(fp);
		fprintf(fp,
			"\nExamples:\n"
			"  sudo loupe trace ssl --comm curl\n"
			"  sudo loupe trace tcp --failure-only -o json\n"
			"  sudo loupe trace ssl tcp capabilities -o json   three gadgets, one stream\n"
			"\nSee 'loupe trace GADGET --help'.\n");
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	/* The gadgets: every word up to the first option. */
	for (int i = 1; i < argc && argv[i][0] != '-'; i++) {
		const struct gadget *g = gadget_find(argv[i]);

		if (!g && i == 1) {
			loupe_err("unknown gadget '%s' (see 'loupe list')", argv[i]);
			return EXIT_USAGE;
		}
		if (!g)
			break; /* a stray argument: the option parser says so */
		for (int k = 0; k < n; k++)
			if (gs[k] == g) {
				loupe_err("gadget '%s' given twice", argv[i]);
				return EXIT_USAGE;
			}
		if (n == MAX_GADGETS) {
			loupe_err("at most %d gadgets in one run", MAX_GADGETS);
			return EXIT_USAGE;
		}
		gs[n++] = g;
	}
	/* getopt sees the last gadget's name as argv[0]. */
	return run_gadgets(gs, n, argc - n, argv + n);
}

int cmd_list(int argc, char **argv)
{
	bool json = false, verbose = false, containers = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			verbose = true;
		else if (i == 1 && !strcmp(argv[i], "containers"))
			containers = true;
		else if (!strcmp(argv[i], "-o") && i + 1 < argc && !strcmp(argv[i + 1], "json"))
			json = true, i++;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("Usage: loupe list [-v] [-o json]\n"
			       "       loupe list containers [-o json]\n\n"
			       "List the gadgets.  -v also probes this kernel and shows the hook\n"
			       "variant each gadget would use (needs root).  'containers' lists the\n"
			       "containers with a process running, as events name them (needs root\n"
			       "to read the runtimes' files).\n\n"
			       "Examples:\n"
			       "  loupe list                 names and one-line descriptions\n"
			       "  sudo loupe list -v         and the hook each uses on this kernel\n"
			       "  loupe list -o json | jq -r '.[].name'\n"
			       "  sudo loupe list containers what --container NAME can name\n");
			return EXIT_OK;
		} else {
			loupe_err("list: unknown argument '%s' (see 'loupe list --help')", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (containers) {
		int err = containers_list(stdout, json, json_write_string);

		if (err)
			loupe_err("cannot list the containers: %s", strerror(-err));
		return err ? EXIT_FAILURE_RUNTIME : EXIT_OK;
	}
	if (json)
		putchar('[');
	for (size_t i = 0; i < gadget_count(); i++) {
		const struct gadget *g = gadget_at(i);
		const char *variant = verbose && g->variant ? g->variant() : NULL;

		if (json) {
			printf("%s{\"name\":\"%s\",\"description\":\"%s\"", i ? "," : "", g->name,
			       g->summary);
			if (variant)
				printf(",\"variant\":\"%s\"", variant);
			putchar('}');
		} else if (variant) {
			printf("%-14s %-58s %s\n", g->name, g->summary, variant);
		} else {
			printf("%-14s %s\n", g->name, g->summary);
		}
	}
	if (json)
		puts("]");
	features_free();
	return EXIT_OK;
}
