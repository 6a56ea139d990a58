// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The gadget runtime: options, filters, load, attach, the ring buffer loop,
 * loss accounting, signals and statistics.  Written once, used by every
 * gadget (see gadget.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "grow.h"
#include "audit.h"
#include "kfeatures.h"
#include "minbtf.h"
#include "uprobe.h"
#include "gadget.h"

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

/* --- value parsers ------------------------------------------------------- */

int parse_u64(const char *flag, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!arg || !*arg || *arg == '-' || isspace((unsigned char)*arg))
		goto bad;
	v = strtoull(arg, &end, 0);
	if (errno || *end)
		goto bad;
	if (v < min || v > max) {
		loupe_err("%s %s is out of range (%llu..%llu)", flag, arg, (unsigned long long)min,
			  (unsigned long long)max);
		return EXIT_USAGE;
	}
	*out = v;
	return 0;
bad:
	loupe_err("%s needs a number, not '%s'", flag, arg ? arg : "");
	return EXIT_USAGE;
}

int parse_size(const char *flag, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	errno = 0;
	if (!arg || !*arg || !isdigit((unsigned char)*arg))
		goto bad;
	v = strtoull(arg, &end, 10);
	if (errno)
		goto bad;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 'k':
		mult = 1ULL << 10;
		end++;
		break;
	case 'm':
		mult = 1ULL << 20;
		end++;
		break;
	case 'g':
		mult = 1ULL << 30;
		end++;
		break;
	default:
		goto bad;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end)
		goto bad;
	if (v > max / mult || v * mult < min || v * mult > max) {
		loupe_err("%s %s is out of range (%llu..%llu bytes)", flag, arg,
			  (unsigned long long)min, (unsigned long long)max);
		return EXIT_USAGE;
	}
	*out = v * mult;
	return 0;
bad:
	loupe_err("%s needs a size such as 65536, 256K or 1M, not '%s'", flag, arg ? arg : "");
	return EXIT_USAGE;
}

/* --- common options ------------------------------------------------------ */

enum {
	OPT_HELP = 'h',
	OPT_OUTPUT = 'o',
	OPT_VERBOSE = 'v',
	OPT_PID = 1000,
	OPT_TID,
	OPT_UID,
	OPT_GID,
	OPT_COMM,
	OPT_MNTNS,
	OPT_CONTAINER_PID,
	OPT_FIELDS,
	OPT_OUTPUT_FILE,
	OPT_TIMEOUT,
	OPT_BUFFER_SIZE,
	OPT_AUDIT_LOG,
	OPT_GADGET_BASE = 2000,
};

struct common_option {
	struct gadget_option o;
	int val;
};

static const struct common_option common_options[] = {
	{ { "pid", 0, "PID", "only this process" }, OPT_PID },
	{ { "tid", 0, "TID", "only this thread" }, OPT_TID },
	{ { "uid", 0, "USER", "only this user (name or number)" }, OPT_UID },
	{ { "gid", 0, "GROUP", "only this group (name or number)" }, OPT_GID },
	{ { "comm", 0, "NAME", "only threads with this command name" }, OPT_COMM },
	{ { "mntns", 0, "ID", "only this mount namespace (container); repeatable" }, OPT_MNTNS },
	{ { "container-pid", 0, "PID", "only the mount namespace (container) of PID" },
	  OPT_CONTAINER_PID },
	{ { "output", 'o', "FORMAT", "columns (default) or json (one object per line)" },
	  OPT_OUTPUT },
	{ { "fields", 0, "A,B,...", "print these fields, in this order" }, OPT_FIELDS },
	{ { "output-file", 0, "FILE", "write events to FILE (created with mode 0600)" },
	  OPT_OUTPUT_FILE },
	{ { "timeout", 0, "SECONDS", "stop after SECONDS" }, OPT_TIMEOUT },
	{ { "buffer-size", 0, "SIZE", "ring buffer size (default 2M), rounded up to a power of 2" },
	  OPT_BUFFER_SIZE },
	{ { "audit-log", 0, "FILE", "audit records of this capture to FILE instead of syslog" },
	  OPT_AUDIT_LOG },
	{ { "verbose", 'v', NULL, "say what is attached where; twice for libbpf debug" },
	  OPT_VERBOSE },
	{ { "help", 'h', NULL, "this help" }, OPT_HELP },
	{},
};

static void print_option(FILE *fp, const struct gadget_option *o)
{
	char left[64];

	if (o->short_name)
		snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
	else
		snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
	fprintf(fp, "  %-28s %s\n", left, o->help);
}

static void trace_usage(FILE *fp, const struct gadget *g)
{
	const struct field *f;

	fprintf(fp, "Usage: loupe trace %s [OPTIONS]\n\n%s.\n\n", g->name, g->summary);
	if (g->options && g->options[0].name) {
		fprintf(fp, "Options of %s:\n", g->name);
		for (const struct gadget_option *o = g->options; o->name; o++)
			print_option(fp, o);
		fputc('\n', fp);
	}
	fprintf(fp, "Common options (filters run in the kernel):\n");
	for (const struct common_option *c = common_options; c->o.name; c++)
		print_option(fp, &c->o);
	fprintf(fp, "\nFields (* = not shown in columns unless asked for with --fields):\n");
	for (f = g->fields; f->name; f++)
		fprintf(fp, "  %c%-14s %s\n", f->flags & FIELD_HIDDEN ? '*' : ' ', f->name,
			f->desc);
	fprintf(fp, "\nExit status: 0 stopped normally, 1 could not trace (privileges, kernel),\n"
		    "2 bad command line.\n");
	if (g->examples)
		fprintf(fp, "\nExamples:\n%s", g->examples);
}

static int resolve_user(const char *arg, uint32_t *out, bool is_user)
{
	uint64_t v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (*arg && !*end && !errno && v <= UINT32_MAX) {
		*out = v;
		return 0;
	}
	if (is_user) {
		struct passwd *pw = getpwnam(arg);

		if (pw) {
			*out = pw->pw_uid;
			return 0;
		}
		loupe_err("--uid: no user '%s' (give a name from /etc/passwd or a number)", arg);
	} else {
		struct group *gr = getgrnam(arg);

		if (gr) {
			*out = gr->gr_gid;
			return 0;
		}
		loupe_err("--gid: no group '%s' (give a name from /etc/group or a number)", arg);
	}
	return EXIT_USAGE;
}

static int process_exists(uint32_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%u", pid);
	return !access(path, F_OK);
}

static int mntns_of_pid(uint32_t pid, uint64_t *out)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%u/ns/mnt", pid);
	if (stat(path, &st))
		return -errno;
	*out = st.st_ino;
	return 0;
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

/* --- session services for gadgets ---------------------------------------- */

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
			bpf_link__destroy(s->links[i]);
		else
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
		slices[t] = (struct detach_slice){ s, t * per, (t + 1) * per < total ? (t + 1) * per
										: total };
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

	bpf_object__for_each_program(prog, s->obj) {
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

	bpf_object__for_each_program(prog, s->obj) {
		const char *sec = bpf_program__section_name(prog);

		any |= !strcmp(sec, "uprobe") || !strcmp(sec, "uretprobe");
	}
	if (!any || !feature_uprobe_multi())
		return;
	bpf_object__for_each_program(prog, s->obj) {
		const char *sec = bpf_program__section_name(prog);

		if (!strcmp(sec, "uprobe") || !strcmp(sec, "uretprobe"))
			bpf_program__set_expected_attach_type(prog, LOUPE_BPF_TRACE_UPROBE_MULTI);
	}
	s->uprobe_multi = true;
	loupe_info(s, "uprobes are uprobe_multi links");
}

/* Set a const volatile knob by name, through the object's BTF. */
int obj_set_rodata(struct bpf_object *obj, const char *name, const void *val, size_t size)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;
	const struct btf_type *sec;
	const struct btf_var_secinfo *vs;
	size_t map_sz;
	char *data;
	int id, i;

	if (!btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	bpf_object__for_each_map(map, obj) {
		const char *mname = bpf_map__name(map);
		size_t len = strlen(mname);

		if (len >= 7 && !strcmp(mname + len - 7, ".rodata"))
			break;
	}
	if (!map)
		return -ENOENT;
	/* libbpf 1.1 hands out the initial image as const; it is ours until load. */
	data = (char *)bpf_map__initial_value(map, &map_sz);
	if (!data)
		return -ENOENT;
	vs = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name))
			continue;
		if (vs->size != size || vs->offset + size > map_sz)
			return -EINVAL;
		memcpy(data + vs->offset, val, size);
		return 0;
	}
	return -ENOENT;
}

uint64_t session_counter(struct session *s, unsigned int idx)
{
	struct bpf_map *map = bpf_object__find_map_by_name(s->obj, "loupe_counters");
	int ncpu = libbpf_num_possible_cpus();
	uint64_t sum = 0, *vals;

	if (!map || ncpu <= 0)
		return 0;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(map), &idx, vals))
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

void session_emit(struct session *s, const struct value *vals)
{
	output_row(s->out, vals);
	s->rows++;
}

void session_event_dropped(struct session *s)
{
	s->dropped++;
}

void session_event_truncated(struct session *s)
{
	s->truncated++;
}

/* --- the run loop -------------------------------------------------------- */

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	if (exiting)
		_exit(128 + sig);	/* second Ctrl-C: the user means it */
	exiting = 1;
}

static int ringbuf_cb(void *ctx, void *data, size_t size)
{
	struct session *s = ctx;

	s->records++;
	switch (s->gadget->handle(s, data, size)) {
	case LOUPE_REC_EVENT:
		s->received++;
		break;
	case LOUPE_REC_BAD:
		s->undecodable++;
		break;
	}
	return 0;
}

static const char *const base_counter_names[LOUPE_CNT_GADGET] = {
	[LOUPE_CNT_MAP_FULL] = "map_full",
	[LOUPE_CNT_READ_FAULT] = "read_faults",
	[LOUPE_CNT_STACK_LOST] = "stacks_lost",
	[LOUPE_CNT_NOTICE_LOST] = "notices_lost",
};

/*
 * The end-of-run accounting: every event the kernel produced is either shown
 * or counted in one of the lost_* reasons.  `unaccounted` is what the books
 * cannot explain; it must be 0, and is reported when it is not.
 */
struct tally {
	uint64_t seen, events, lost, lost_ring_full, lost_at_exit, lost_undecodable,
		lost_dropped, truncated, probe_misses;
	int64_t unaccounted;
};

/* Runs of our programs the kernel skipped (a BPF program was already running on that CPU). */
static uint64_t probe_misses(struct session *s)
{
	struct bpf_program *prog;
	uint64_t sum = 0;

	bpf_object__for_each_program(prog, s->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			sum += info.recursion_misses;
	}
	return sum;
}

static void tally(struct session *s, struct tally *t)
{
	*t = (struct tally){
		.seen = session_counter(s, LOUPE_CNT_SEEN),
		.events = s->received - s->dropped,
		.lost_ring_full = session_counter(s, LOUPE_CNT_RINGBUF_LOST),
		.lost_at_exit = s->left_at_exit,
		.lost_undecodable = s->undecodable,
		.lost_dropped = s->dropped,
		.truncated = s->truncated,
		.probe_misses = probe_misses(s),
	};
	t->lost = t->lost_ring_full + t->lost_at_exit + t->lost_undecodable + t->lost_dropped;
	t->unaccounted = (int64_t)(t->seen - t->events - t->lost);
}

static void print_stats(struct session *s, double secs, bool json)
{
	const struct gadget_counter *gc;
	struct tally t;
	double rate;
	unsigned int i;

	tally(s, &t);
	rate = secs > 0 ? t.events / secs : 0;
	if (json) {
		fprintf(stderr,
			"{\"stats\":{\"gadget\":\"%s\",\"duration_s\":%.3f,\"seen\":%llu,"
			"\"events\":%llu,\"lost\":%llu,\"lost_ring_full\":%llu,"
			"\"lost_at_exit\":%llu,\"lost_undecodable\":%llu,\"lost_dropped\":%llu,"
			"\"unaccounted\":%lld,\"truncated\":%llu,\"rows\":%llu,\"bytes\":%llu,"
			"\"events_per_s\":%.1f,\"probe_misses\":%llu",
			s->gadget->name, secs, (unsigned long long)t.seen,
			(unsigned long long)t.events, (unsigned long long)t.lost,
			(unsigned long long)t.lost_ring_full, (unsigned long long)t.lost_at_exit,
			(unsigned long long)t.lost_undecodable, (unsigned long long)t.lost_dropped,
			(long long)t.unaccounted, (unsigned long long)t.truncated,
			(unsigned long long)s->rows, (unsigned long long)s->bytes, rate,
			(unsigned long long)t.probe_misses);
		for (i = 0; i < LOUPE_CNT_GADGET; i++)
			if (base_counter_names[i])
				fprintf(stderr, ",\"%s\":%llu", base_counter_names[i],
					(unsigned long long)session_counter(s, i));
		for (gc = s->gadget->counters, i = LOUPE_CNT_GADGET; gc && gc->name; gc++, i++)
			fprintf(stderr, ",\"%s\":%llu", gc->name,
				(unsigned long long)session_counter(s, i));
		fputs("}}\n", stderr);
	} else {
		fprintf(stderr, "loupe: %s: %.2fs, %llu events", s->gadget->name, secs,
			(unsigned long long)t.events);
		if (s->gadget->counts_bytes)
			fprintf(stderr, ", %llu bytes captured", (unsigned long long)s->bytes);
		fprintf(stderr, ", %llu lost", (unsigned long long)t.lost);
		if (t.lost) {
			const char *sep = " (";

			if (t.lost_ring_full)
				fprintf(stderr, "%s%llu ring buffer full", sep,
					(unsigned long long)t.lost_ring_full), sep = ", ";
			if (t.lost_at_exit)
				fprintf(stderr, "%s%llu left at exit", sep,
					(unsigned long long)t.lost_at_exit), sep = ", ";
			if (t.lost_undecodable)
				fprintf(stderr, "%s%llu undecodable", sep,
					(unsigned long long)t.lost_undecodable), sep = ", ";
			if (t.lost_dropped)
				fprintf(stderr, "%s%llu dropped", sep,
					(unsigned long long)t.lost_dropped);
			fputc(')', stderr);
		}
		fprintf(stderr, ", %.1f events/s", rate);
		if (t.truncated)
			fprintf(stderr, ", %llu truncated", (unsigned long long)t.truncated);
		if (t.probe_misses)
			fprintf(stderr, ", %llu probe_misses", (unsigned long long)t.probe_misses);
		for (i = 0; i < LOUPE_CNT_GADGET; i++) {
			uint64_t v = base_counter_names[i] ? session_counter(s, i) : 0;

			if (v)
				fprintf(stderr, ", %llu %s", (unsigned long long)v,
					base_counter_names[i]);
		}
		for (gc = s->gadget->counters, i = LOUPE_CNT_GADGET; gc && gc->name; gc++, i++) {
			uint64_t v = session_counter(s, i);

			if (v)
				fprintf(stderr, ", %llu %s", (unsigned long long)v, gc->name);
		}
		fputc('\n', stderr);
	}
	if (t.unaccounted)
		loupe_warn("the kernel produced %llu events; %llu were shown and %llu counted lost: "
			   "%lld unaccounted for (a loupe bug, please report it)",
			   (unsigned long long)t.seen, (unsigned long long)t.events,
			   (unsigned long long)t.lost, (long long)t.unaccounted);
	if (t.probe_misses)
		loupe_warn("the kernel skipped %llu runs of loupe's programs (another BPF program "
			   "was running on that CPU): what they would have seen is not counted",
			   (unsigned long long)t.probe_misses);
}

/*
 * After detaching: read until every record the programs reserved has been
 * read, however large the buffer.  A program still finishing on another CPU
 * holds a record it has not submitted yet, and the reader stops there: wait
 * for it.  Records that never come (a kernel bug) are counted after two
 * seconds without progress, never waited for forever nor dropped silently.
 */
static void drain_ring(struct session *s, struct ring_buffer *rb)
{
	double last_progress = loupe_now_s();
	uint64_t reserved = 0, before;
	int settled = 0;

	for (;;) {
		before = s->records;
		ring_buffer__consume(rb);
		reserved = session_counter(s, LOUPE_CNT_RECORDS);
		/* Twice, 10 ms apart: a program that had not reserved yet is done too. */
		settled = s->records >= reserved ? settled + 1 : 0;
		if (settled == 2)
			break;
		if (s->records != before)
			last_progress = loupe_now_s();
		else if (loupe_now_s() - last_progress > 2.0)
			break;
		usleep(settled ? 10000 : 1000);
	}
	if (reserved > s->records)
		s->left_at_exit = reserved - s->records;
}

static int set_filters(struct session *s)
{
	struct filter_opts *f = &s->filter;
	struct {
		const char *name;
		const void *val;
		size_t size;
	} knobs[] = {
		{ "filter_by_pid", &f->by_pid, 1 },   { "filter_pid", &f->pid, 4 },
		{ "filter_by_tid", &f->by_tid, 1 },   { "filter_tid", &f->tid, 4 },
		{ "filter_by_uid", &f->by_uid, 1 },   { "filter_uid", &f->uid, 4 },
		{ "filter_by_gid", &f->by_gid, 1 },   { "filter_gid", &f->gid, 4 },
		{ "filter_by_comm", &f->by_comm, 1 }, { "filter_comm", f->comm, LOUPE_COMM_LEN },
	};
	bool by_mntns = f->nr_mntns > 0;

	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		int err = obj_set_rodata(s->obj, knobs[i].name, knobs[i].val, knobs[i].size);

		if (err) {
			loupe_err("gadget %s lacks the common filter '%s' (%s): a build bug",
				  s->gadget->name, knobs[i].name, strerror(-err));
			return err;
		}
	}
	return obj_set_rodata(s->obj, "filter_by_mntns", &by_mntns, 1);
}

static int fill_mntns_map(struct session *s)
{
	struct bpf_map *map = bpf_object__find_map_by_name(s->obj, "gadget_mntns_filter_map");
	uint8_t one = 1;

	for (int i = 0; i < s->filter.nr_mntns; i++) {
		if (!map || bpf_map_update_elem(bpf_map__fd(map), &s->filter.mntns[i], &one, 0)) {
			loupe_err("cannot fill the mount namespace filter: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

static uint64_t round_pow2(uint64_t v)
{
	uint64_t p = 4096;

	while (p < v)
		p <<= 1;
	return p;
}

struct trace_args {
	enum output_mode mode;
	const char *fields;
	const char *output_file;
	const char *audit_log;
};

static int parse_trace_args(struct session *s, struct trace_args *ta, int argc, char **argv)
{
	const struct gadget *g = s->gadget;
	struct option longopts[64];
	char shortopts[64] = "+";
	int n = 0, c;
	size_t ns = 1;

	for (const struct common_option *co = common_options; co->o.name; co++) {
		longopts[n++] = (struct option){ co->o.name, co->o.arg ? required_argument : no_argument,
						 NULL, co->val };
		if (co->o.short_name) {
			shortopts[ns++] = co->o.short_name;
			if (co->o.arg)
				shortopts[ns++] = ':';
		}
	}
	for (int i = 0; g->options && g->options[i].name; i++) {
		const struct gadget_option *go = &g->options[i];

		longopts[n++] = (struct option){ go->name, go->arg ? required_argument : no_argument,
						 NULL, OPT_GADGET_BASE + i };
		if (go->short_name) {
			shortopts[ns++] = go->short_name;
			if (go->arg)
				shortopts[ns++] = ':';
		}
	}
	longopts[n] = (struct option){};
	shortopts[ns] = '\0';

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		uint64_t v;
		int err = 0;

		/* Gadget short options map back to their table entry. */
		if (c > 0 && c < 256 && c != 'h' && c != 'o' && c != 'v' && c != '?' && c != ':') {
			for (int i = 0; g->options && g->options[i].name; i++)
				if (g->options[i].short_name == c)
					c = OPT_GADGET_BASE + i;
		}
		switch (c) {
		case OPT_HELP:
			trace_usage(stdout, g);
			exit(EXIT_OK);
		case OPT_VERBOSE:
			s->verbose++;
			break;
		case OPT_OUTPUT:
			if (!strcmp(optarg, "json"))
				ta->mode = OUT_JSON;
			else if (!strcmp(optarg, "columns"))
				ta->mode = OUT_COLUMNS;
			else {
				loupe_err("-o: unknown format '%s' (use columns or json)", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_FIELDS:
			ta->fields = optarg;
			break;
		case OPT_OUTPUT_FILE:
			ta->output_file = optarg;
			audit_add_output("events", optarg);
			break;
		case OPT_AUDIT_LOG:
			ta->audit_log = optarg;
			if ((err = audit_set_log(optarg))) {
				loupe_err("--audit-log %s: %s", optarg, strerror(-err));
				return EXIT_USAGE;
			}
			break;
		case OPT_PID:
		case OPT_TID:
		case OPT_CONTAINER_PID:
			err = parse_u64(c == OPT_PID ? "--pid" : c == OPT_TID ? "--tid" :
					"--container-pid", optarg, 1, INT_MAX, &v);
			if (err)
				return err;
			if (c != OPT_TID && !process_exists(v)) {
				loupe_err("%s %llu: no such process", c == OPT_PID ? "--pid" :
					  "--container-pid", (unsigned long long)v);
				return EXIT_USAGE;
			}
			if (c == OPT_PID) {
				s->filter.by_pid = true;
				s->filter.pid = v;
			} else if (c == OPT_TID) {
				s->filter.by_tid = true;
				s->filter.tid = v;
			} else {
				if (s->filter.nr_mntns >= 64 ||
				    mntns_of_pid(v, &s->filter.mntns[s->filter.nr_mntns])) {
					loupe_err("--container-pid %llu: cannot read its mount namespace",
						  (unsigned long long)v);
					return EXIT_USAGE;
				}
				s->filter.nr_mntns++;
			}
			break;
		case OPT_UID:
			if ((err = resolve_user(optarg, &s->filter.uid, true)))
				return err;
			s->filter.by_uid = true;
			break;
		case OPT_GID:
			if ((err = resolve_user(optarg, &s->filter.gid, false)))
				return err;
			s->filter.by_gid = true;
			break;
		case OPT_COMM:
			if (!*optarg) {
				loupe_err("--comm needs a command name");
				return EXIT_USAGE;
			}
			/* The kernel keeps 15 characters of a command name; match those. */
			memset(s->filter.comm, 0, sizeof(s->filter.comm));
			strncpy(s->filter.comm, optarg, LOUPE_COMM_LEN - 1);
			s->filter.by_comm = true;
			break;
		case OPT_MNTNS:
			if ((err = parse_u64("--mntns", optarg, 1, UINT64_MAX, &v)))
				return err;
			if (s->filter.nr_mntns >= 64) {
				loupe_err("--mntns: at most 64 namespaces");
				return EXIT_USAGE;
			}
			s->filter.mntns[s->filter.nr_mntns++] = v;
			break;
		case OPT_TIMEOUT: {
			char *end;

			errno = 0;
			s->timeout_s = strtod(optarg, &end);
			if (errno || *end || !(s->timeout_s > 0) || !isfinite(s->timeout_s)) {
				loupe_err("--timeout needs a positive number of seconds, not '%s'",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case OPT_BUFFER_SIZE:
			if ((err = parse_size("--buffer-size", optarg, 4096, 1ULL << 30, &v)))
				return err;
			s->buffer_size = round_pow2(v);
			break;
		case '?': {
			const char *bad = argv[optind - 1];

			if (!optopt)
				loupe_err("unknown option '%s' (see 'loupe trace %s --help')", bad,
					  g->name);
			else if (optopt < 256 && !strchr(shortopts + 1, optopt))
				loupe_err("unknown option '-%c' (see 'loupe trace %s --help')", optopt,
					  g->name);
			else
				loupe_err("option '%s' needs a value (see 'loupe trace %s --help')", bad,
					  g->name);
			return EXIT_USAGE;
		}
		default:
			if (c >= OPT_GADGET_BASE) {
				const struct gadget_option *go = &g->options[c - OPT_GADGET_BASE];

				if ((err = g->parse_option(s, go, optarg)))
					return err;
				break;
			}
			loupe_err("internal: unhandled option %d", c);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		loupe_err("unexpected argument '%s' (see 'loupe trace %s --help')", argv[optind],
			  g->name);
		return EXIT_USAGE;
	}
	return 0;
}

static FILE *open_output_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *fp;

	if (fd < 0)
		return NULL;
	/* An existing file keeps its mode under O_CREAT: captured plaintext is private. */
	if (fchmod(fd, 0600)) {
		close(fd);
		return NULL;
	}
	fp = fdopen(fd, "w");
	if (!fp)
		close(fd);
	return fp;
}

static int run_gadget(const struct gadget *g, int argc, char **argv)
{
	struct session sess = { .gadget = g, .buffer_size = 2 << 20 };
	struct session *s = &sess;
	struct trace_args ta = { .mode = OUT_COLUMNS };
	struct output_opts oo = {};
	struct ring_buffer *rb = NULL;
	struct bpf_map *events;
	FILE *fp = stdout;
	char err_msg[256];
	double start, last_check, end, elapsed;
	uint64_t lost_warned = 0, wakeup;
	LIBBPF_OPTS(bpf_object_open_opts, open_opts);
	char btf_path[64];
	int btf_fd = -1;
	int err, status = EXIT_FAILURE_RUNTIME;

	if (g->state_size && !(s->state = calloc(1, g->state_size))) {
		loupe_err("out of memory");
		return EXIT_FAILURE_RUNTIME;
	}
	err = parse_trace_args(s, &ta, argc, argv);
	if (err) {
		free(s->state);
		return err;
	}
	verbosity = s->verbose;
	libbpf_set_print(libbpf_print);
	s->json = ta.mode == OUT_JSON;

	oo.mode = ta.mode;
	oo.hex = s->hex_dump;
	oo.fields = ta.fields;
	if (ta.output_file) {
		fp = open_output_file(ta.output_file);
		if (!fp) {
			loupe_err("cannot write --output-file %s: %s", ta.output_file,
				  strerror(errno));
			free(s->state);
			return EXIT_FAILURE_RUNTIME;	/* I/O, like every file we write */
		}
		setvbuf(fp, NULL, _IOFBF, 1 << 20);
	} else if (isatty(STDOUT_FILENO)) {
		struct winsize ws;

		if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col)
			oo.width = ws.ws_col;
		setvbuf(stdout, NULL, _IOLBF, 0);
	} else {
		setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	}
	oo.fp = fp;
	s->out = output_new(g->fields, &oo, err_msg, sizeof(err_msg));
	if (!s->out) {
		loupe_err("%s", err_msg);
		status = EXIT_USAGE;
		goto out_file;
	}

	if (!have_privileges()) {
		loupe_err("tracing needs root, or the CAP_BPF and CAP_PERFMON capabilities: "
			  "run it with sudo");
		goto out;
	}
	boot_clock_init();
	/* Captured data can be sensitive: no record of who looked, no capture. */
	if ((err = audit_start(g->name, argc, argv))) {
		loupe_err("cannot write the audit record to %s: %s; not capturing",
			  ta.audit_log ? ta.audit_log : "syslog", strerror(-err));
		goto out;
	}
	if ((err = feature_ensure_tracefs()))
		loupe_warn("cannot mount tracefs on /sys/kernel/tracing (%s): tracepoints may "
			   "fail to attach", strerror(-err));
	if (!feature_ringbuf()) {
		loupe_err("this kernel has no BPF ring buffer (Linux 5.8 or later is needed)");
		goto out;
	}

	/* LOUPE_FULL_BTF=1: relocate against the whole kernel BTF (to compare). */
	if (g->min_btf && g->elf_bytes && !getenv("LOUPE_FULL_BTF")) {
		size_t size;
		const void *elf = g->elf_bytes(&size);

		btf_fd = minbtf_create(elf, size, btf_path, sizeof(btf_path));
		if (btf_fd >= 0)
			open_opts.btf_custom_path = btf_path;
		else
			loupe_info(s, "no minimal kernel BTF (%s): using the whole of it",
				   strerror(-btf_fd));
	}
	s->open_opts = &open_opts;
	s->obj = g->open(s);
	if (!s->obj)
		goto out;
	if (set_filters(s))
		goto out;
	events = bpf_object__find_map_by_name(s->obj, "events");
	if (events && (err = bpf_map__set_max_entries(events, s->buffer_size))) {
		loupe_err("cannot size the ring buffer: %s", strerror(-err));
		goto out;
	}
	/* Wake the reader when an eighth of the buffer waits (see loupe.bpf.h). */
	wakeup = s->buffer_size / 8;
	obj_set_rodata(s->obj, "wakeup_bytes", &wakeup, sizeof(wakeup));
	choose_uprobe_links(s);
	if ((err = bpf_object__load(s->obj))) {
		loupe_err("the kernel refused the %s BPF programs: %s%s", g->name, strerror(-err),
			  s->verbose ? "" : " (run with -vv for the verifier's log)");
		goto out;
	}
	if (btf_fd >= 0) {
		close(btf_fd);
		btf_fd = -1;
	}
	if (fill_mntns_map(s))
		goto out;
	if (g->attach(s))
		goto out;

	rb = ring_buffer__new(bpf_map__fd(events), ringbuf_cb, s, NULL);
	if (!rb) {
		loupe_err("cannot open the ring buffer: %s", strerror(errno));
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "loupe: ready: tracing %s with %zu links, Ctrl-C to stop\n", g->name,
		session_link_count(s));

	start = last_check = loupe_now_s();
	end = s->timeout_s > 0 ? start + s->timeout_s : 0;
	while (!exiting) {
		double t;

		err = ring_buffer__poll(rb, 100);
		/* Records below the wakeup mark raise no event: collect them on timeout. */
		if (err == 0)
			err = ring_buffer__consume(rb);
		if (err < 0 && err != -EINTR) {
			loupe_err("reading events failed: %s", strerror(-err));
			break;
		}
		if (g->tick)
			g->tick(s);
		output_flush(s->out);
		if (ferror(fp)) {
			loupe_err("writing events failed: %s", strerror(errno));
			break;
		}
		t = loupe_now_s();
		if (end && t >= end)
			break;
		if (t - last_check >= 1.0) {
			uint64_t lost = session_counter(s, LOUPE_CNT_RINGBUF_LOST) +
					session_counter(s, LOUPE_CNT_PART_LOST);

			if (lost > lost_warned)
				loupe_warn("%llu events lost or truncated: the ring buffer was full "
					   "(raise --buffer-size, or filter more)",
					   (unsigned long long)(lost - lost_warned));
			lost_warned = lost;
			last_check = t;
		}
	}
	elapsed = loupe_now_s() - start;	/* before detaching, which can take a while */
	/* Detach first, then drain: nothing new arrives while we empty the buffer. */
	session_detach_all(s);
	drain_ring(s, rb);
	if (g->flush)
		g->flush(s);
	output_flush(s->out);
	print_stats(s, elapsed, ta.mode == OUT_JSON);
	status = EXIT_OK;
	audit_stop(status, s->received - s->dropped, s->bytes, elapsed);
out:
	if (audit_started())	/* a failed start still gets its stop record */
		audit_stop(status, s->received - s->dropped, s->bytes, 0);
	if (btf_fd >= 0)
		close(btf_fd);
	ring_buffer__free(rb);
	session_detach_all(s);
	free(s->links);
	free(s->link_fds);
	if (g->close)
		g->close(s);
	output_free(s->out);
out_file:
	if (fp != stdout)
		fclose(fp);
	free(s->state);
	features_free();
	return status;
}

int cmd_trace(int argc, char **argv)
{
	const struct gadget *g;

	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		FILE *fp = argc < 2 ? stderr : stdout;

		fprintf(fp, "Usage: loupe trace GADGET [OPTIONS]\n\nGadgets:\n");
		for (size_t i = 0; i < gadget_count(); i++)
			fprintf(fp, "  %-14s %s\n", gadget_at(i)->name, gadget_at(i)->summary);
		fprintf(fp, "\nExamples:\n"
			    "  sudo loupe trace ssl --comm curl\n"
			    "  sudo loupe trace tcp --failure-only -o json\n"
			    "\nSee 'loupe trace GADGET --help'.\n");
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	g = gadget_find(argv[1]);
	if (!g) {
		loupe_err("unknown gadget '%s' (see 'loupe list')", argv[1]);
		return EXIT_USAGE;
	}
	return run_gadget(g, argc - 1, argv + 1);
}

int cmd_list(int argc, char **argv)
{
	bool json = false, verbose = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			verbose = true;
		else if (!strcmp(argv[i], "-o") && i + 1 < argc && !strcmp(argv[i + 1], "json"))
			json = true, i++;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("Usage: loupe list [-v] [-o json]\n\n"
			       "List the gadgets.  -v also probes this kernel and shows the hook\n"
			       "variant each gadget would use (needs root).\n\n"
			       "Examples:\n"
			       "  loupe list                 names and one-line descriptions\n"
			       "  sudo loupe list -v         and the hook each uses on this kernel\n"
			       "  loupe list -o json | jq -r '.[].name'\n");
			return EXIT_OK;
		} else {
			loupe_err("list: unknown argument '%s' (see 'loupe list --help')", argv[i]);
			return EXIT_USAGE;
		}
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
