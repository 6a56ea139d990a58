// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The `trace` command line: the options every gadget shares (filters,
 * output, lifecycle), the gadget's own options declared in its table, and
 * their way into the session and into the BPF object's knobs.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "audit.h"
#include "grow.h"
#include "passwd.h"
#include "runtime_int.h"

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
		return -EINVAL;
	}
	*out = v;
	return 0;
bad:
	loupe_err("%s needs a number, not '%s'", flag, arg ? arg : "");
	return -EINVAL;
}

static int size_suffix(const char **end, uint64_t *mult)
{
	switch (tolower((unsigned char)**end)) {
	case '\0':
		*mult = 1;
		return 0;
	case 'k':
		*mult = 1ULL << 10;
		break;
	case 'm':
		*mult = 1ULL << 20;
		break;
	case 'g':
		*mult = 1ULL << 30;
		break;
	default:
		return -EINVAL;
	}
	(*end)++;
	if (**end == 'i' || **end == 'I')
		(*end)++;
	if (**end == 'b' || **end == 'B')
		(*end)++;
	return **end ? -EINVAL : 0;
}

int parse_size(const char *flag, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mult;

	errno = 0;
	if (!arg || !*arg || !isdigit((unsigned char)*arg))
		goto bad;
	v = strtoull(arg, &end, 10);
	if (errno || size_suffix((const char **)&end, &mult))
		goto bad;
	if (v > max / mult || v * mult < min || v * mult > max) {
		loupe_err("%s %s is out of range (%llu..%llu bytes)", flag, arg,
			  (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = v * mult;
	return 0;
bad:
	loupe_err("%s needs a size such as 65536, 256K or 1M, not '%s'", flag, arg ? arg : "");
	return -EINVAL;
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
	OPT_CONTAINER,
	OPT_FIELDS,
	OPT_OUTPUT_FILE,
	OPT_TIMEOUT,
	OPT_BUFFER_SIZE,
	OPT_AUDIT_LOG,
	OPT_METRICS,
	OPT_NO_EVENTS,
	OPT_CONFIG,
	OPT_ROTATE_SIZE,
	OPT_ROTATE_KEEP,
	OPT_ENCRYPT_TO,
	OPT_GADGET_BASE = 2000,
};

struct common_option {
	struct gadget_option o;
	int val;
	bool filter; /* recorded in the audit trail */
};

#define COMMON(n, a, h, v)                                   \
	{                                                    \
		{ .name = n, .arg = a, .help = h }, v, false \
	}
#define COMMON_SHORT(n, s, a, h, v)                                           \
	{                                                                     \
		{ .name = n, .short_name = s, .arg = a, .help = h }, v, false \
	}
#define FILTER(n, a, h, v)                                  \
	{                                                   \
		{ .name = n, .arg = a, .help = h }, v, true \
	}

static const struct common_option common_options[] = {
	FILTER("pid", "PID", "only this process", OPT_PID),
	FILTER("tid", "TID", "only this thread", OPT_TID),
	FILTER("uid", "USER", "only this user (name or number)", OPT_UID),
	FILTER("gid", "GROUP", "only this group (name or number)", OPT_GID),
	FILTER("comm", "NAME", "only threads with this command name, or of a process with it", OPT_COMM),
	FILTER("mntns", "ID", "only this mount namespace (container); repeatable", OPT_MNTNS),
	FILTER("container-pid", "PID", "only the mount namespace (container) of PID",
	       OPT_CONTAINER_PID),
	FILTER("container", "NAME|ID",
	       "only this container (name, id or id prefix), running or started later; "
	       "repeatable",
	       OPT_CONTAINER),
	COMMON_SHORT("output", 'o', "FORMAT", "columns (default) or json (one object per line)",
		     OPT_OUTPUT),
	COMMON("fields", "A,B,...", "print these fields, in this order", OPT_FIELDS),
	COMMON("output-file", "FILE",
	       "write events to FILE (a new file, mode 0600; see --rotate-size, --encrypt-to)",
	       OPT_OUTPUT_FILE),
	COMMON("rotate-size", "SIZE",
	       "files of at most SIZE bytes: FILE.<UTC time>.<N>, a new one before a row or "
	       "packet would pass SIZE (--output-file, --pcap)",
	       OPT_ROTATE_SIZE),
	COMMON("rotate-keep", "N", "with --rotate-size: keep the newest N files, delete older ones",
	       OPT_ROTATE_KEEP),
	COMMON("encrypt-to", "FILE",
	       "encrypt --output-file and --pcap to the key of the X.509 certificate in FILE (CMS: "
	       "decrypt with openssl cms -decrypt); repeatable: any one of them decrypts",
	       OPT_ENCRYPT_TO),
	COMMON("timeout", "SECONDS", "stop after SECONDS", OPT_TIMEOUT),
	COMMON("buffer-size", "SIZE", "ring buffer size (default 2M), rounded up to a power of 2",
	       OPT_BUFFER_SIZE),
	COMMON("audit-log", "FILE", "audit records of this capture to FILE instead of syslog",
	       OPT_AUDIT_LOG),
	COMMON("metrics", "ADDR:PORT",
	       "serve Prometheus metrics on http://ADDR:PORT/metrics (e.g. :9464)", OPT_METRICS),
	COMMON("no-events", NULL, "print no events (with --metrics: metrics only)", OPT_NO_EVENTS),
	COMMON("config", "FILE",
	       "options from FILE too; SIGHUP re-reads it and changes filters, --sample and "
	       "--data-size in place",
	       OPT_CONFIG),
	COMMON_SHORT("verbose", 'v', NULL, "say what is attached where; twice for libbpf debug",
		     OPT_VERBOSE),
	COMMON_SHORT("help", 'h', NULL, "this help", OPT_HELP),
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

void trace_usage(FILE *fp, const struct gadget *g, bool common)
{
	const struct field *f;

	fprintf(fp, "Usage: loupe trace %s [GADGET...] [OPTIONS]\n\n%s.\n\n", g->name, g->summary);
	if (g->options && g->options[0].name) {
		fprintf(fp, "Options of %s:\n", g->name);
		for (const struct gadget_option *o = g->options; o->name; o++)
			print_option(fp, o);
		fputc('\n', fp);
	}
	fprintf(fp, "Fields of %s (* = not shown in columns unless asked for with --fields):\n",
		g->name);
	for (f = g->fields; f->name; f++)
		fprintf(fp, "  %c%-14s %s\n", f->flags & FIELD_HIDDEN ? '*' : ' ', f->name,
			f->desc);
	if (g->examples)
		fprintf(fp, "\nExamples:\n%s", g->examples);
	if (!common)
		return;
	fprintf(fp, "\nCommon options (filters run in the kernel):\n");
	for (const struct common_option *c = common_options; c->o.name; c++)
		print_option(fp, &c->o);
	fprintf(fp, "\nSeveral gadgets in one process: 'loupe trace ssl tcp capabilities ...';\n"
		    "an option goes to every gadget that has it, --GADGET.OPTION to one.\n"
		    "\nExit status: 0 stopped normally, 1 could not trace (privileges, kernel),\n"
		    "2 bad command line.\n");
}

/* --- filters --------------------------------------------------------------- */

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
		if (!id_lookup(ID_USER, arg, out))
			return 0;
		loupe_err("--uid: no user '%s' (give a name from /etc/passwd or a number)", arg);
	} else {
		if (!id_lookup(ID_GROUP, arg, out))
			return 0;
		loupe_err("--gid: no group '%s' (give a name from /etc/group or a number)", arg);
	}
	return -EINVAL;
}

static int parse_process(const char *flag, const char *arg, bool must_exist, uint32_t *out)
{
	char path[64];
	uint64_t v;
	int err = parse_u64(flag, arg, 1, INT_MAX, &v);

	if (err)
		return err;
	snprintf(path, sizeof(path), "/proc/%llu", (unsigned long long)v);
	if (must_exist && access(path, F_OK)) {
		loupe_err("%s %llu: no such process", flag, (unsigned long long)v);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int add_mntns(struct filter_opts *f, const char *flag, uint64_t id)
{
	if (f->nr_mntns >= (int)(sizeof(f->mntns) / sizeof(f->mntns[0]))) {
		loupe_err("%s: at most 64 namespaces", flag);
		return -EINVAL;
	}
	f->mntns[f->nr_mntns++] = id;
	return 0;
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

static int parse_filter(struct filter_opts *f, int c, const char *arg)
{
	uint32_t pid;
	uint64_t v = 0;
	int err;

	switch (c) {
	case OPT_PID:
		if ((err = parse_process("--pid", arg, true, &f->pid)))
			return err;
		f->by_pid = true;
		return 0;
	case OPT_TID:
		if ((err = parse_process("--tid", arg, false, &f->tid)))
			return err;
		f->by_tid = true;
		return 0;
	case OPT_CONTAINER_PID:
		if ((err = parse_process("--container-pid", arg, true, &pid)))
			return err;
		if (mntns_of_pid(pid, &v)) {
			loupe_err("--container-pid %u: cannot read its mount namespace", pid);
			return -EINVAL;
		}
		return add_mntns(f, "--container-pid", v);
	case OPT_UID:
		if ((err = resolve_user(arg, &f->uid, true)))
			return err;
		f->by_uid = true;
		return 0;
	case OPT_GID:
		if ((err = resolve_user(arg, &f->gid, false)))
			return err;
		f->by_gid = true;
		return 0;
	case OPT_COMM:
		if (!*arg) {
			loupe_err("--comm needs a command name");
			return -EINVAL;
		}
		/* The kernel keeps 15 characters of a command name; match those. */
		memset(f->comm, 0, sizeof(f->comm));
		strncpy(f->comm, arg, LOUPE_COMM_LEN - 1);
		f->by_comm = true;
		return 0;
	case OPT_MNTNS:
		if ((err = parse_u64("--mntns", arg, 1, UINT64_MAX, &v)))
			return err;
		return add_mntns(f, "--mntns", v);
	case OPT_CONTAINER:
		if (!*arg) {
			loupe_err("--container needs a container name or id");
			return -EINVAL;
		}
		if (f->nr_containers >= (int)(sizeof(f->containers) / sizeof(f->containers[0]))) {
			loupe_err("--container: at most 16 containers");
			return -EINVAL;
		}
		f->containers[f->nr_containers++] = arg;
		return 0;
	}
	return -EINVAL;
}

/* The common filters into the object's knobs (loupe.bpf.h), before load. */
int set_filters(struct session *s)
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
	bool by_container = f->nr_containers > 0, by_mntns = f->nr_mntns > 0 && !by_container;

	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		int err = obj_set_rodata(s->obj, knobs[i].name, knobs[i].val, knobs[i].size);

		if (err) {
			loupe_err("gadget %s lacks the common filter '%s' (%s): a build bug",
				  s->gadget->name, knobs[i].name, strerror(-err));
			return err;
		}
	}
	/* With --container, --mntns namespaces are judged like containers (userfilter.c). */
	return obj_set_rodata(s->obj, "filter_by_mntns", &by_mntns, 1)
		       ?: obj_set_rodata(s->obj, "filter_by_container", &by_container, 1);
}

/* --- the object's knobs ----------------------------------------------------- */

/* Find the .rodata variable `name`: its bytes in the initial image, and size. */
static int rodata_var(struct bpf_object *obj, const char *name, char **ptr, size_t *size)
{
	struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	struct bpf_map *map;
	size_t map_sz;
	char *data;
	int id;

	if (!btf || (id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC)) < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	bpf_object__for_each_map (map, obj) {
		const char *mname = bpf_map__name(map);
		size_t len = strlen(mname);

		if (len >= 7 && !strcmp(mname + len - 7, ".rodata"))
			break;
	}
	/* libbpf 1.1 hands out the initial image as const; it is ours until load. */
	if (!map || !(data = (char *)bpf_map__initial_value(map, &map_sz)))
		return -ENOENT;
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name))
			continue;
		if (vs->offset + vs->size > map_sz)
			return -EINVAL;
		*ptr = data + vs->offset;
		*size = vs->size;
		return 0;
	}
	return -ENOENT;
}

/* Set a const volatile knob by name, through the object's BTF. */
int obj_set_rodata(struct bpf_object *obj, const char *name, const void *val, size_t size)
{
	size_t have;
	char *p;
	int err = rodata_var(obj, name, &p, &have);

	if (err)
		return err;
	if (have != size)
		return -EINVAL;
	memcpy(p, val, size);
	return 0;
}

/* An integer knob at whatever width the BPF side declared it (x86 and arm64: little-endian). */
static int obj_set_knob(struct bpf_object *obj, const char *name, uint64_t val)
{
	size_t size;
	char *p;
	int err = rodata_var(obj, name, &p, &size);

	if (err)
		return err;
	if (size > sizeof(val))
		return -EINVAL;
	memcpy(p, &val, size);
	return 0;
}

int apply_knobs(struct session *s)
{
	for (int i = 0; i < s->nr_knobs; i++) {
		int err = obj_set_knob(s->obj, s->knobs[i].name, s->knobs[i].value);

		if (err) {
			loupe_err("gadget %s has no knob '%s' (%s): a build bug", s->gadget->name,
				  s->knobs[i].name, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* --- gadget options ------------------------------------------------------------ */

static void store_field(void *state, const struct gadget_option *o, uint64_t v)
{
	char *p = (char *)state + o->offset;

	switch (o->size) {
	case 1:
		*(uint8_t *)p = v;
		break;
	case 2:
		*(uint16_t *)p = v;
		break;
	case 4:
		*(uint32_t *)p = v;
		break;
	case 8:
		*(uint64_t *)p = v;
		break;
	}
}

static int remember_knob(struct session *s, const char *name, uint64_t v)
{
	for (int i = 0; i < s->nr_knobs; i++) {
		if (!strcmp(s->knobs[i].name, name)) {
			s->knobs[i].value = v; /* the last one given wins */
			return 0;
		}
	}
	if (s->nr_knobs >= (int)(sizeof(s->knobs) / sizeof(s->knobs[0])))
		return -E2BIG;
	s->knobs[s->nr_knobs++] = (struct knob_value){ name, v };
	return 0;
}

static int gadget_option(struct session *s, const struct gadget_option *o, const char *arg)
{
	char flag[72];
	uint64_t v;
	int err;

	snprintf(flag, sizeof(flag), "--%s", o->name);
	switch (o->kind) {
	case OPT_CUSTOM:
		return s->gadget->parse_option(s, o, arg);
	case OPT_SWITCH:
		v = !o->invert;
		break;
	case OPT_NUMBER:
		if ((err = parse_u64(flag, arg, o->min, o->max, &v)))
			return err;
		break;
	case OPT_SIZE:
		if ((err = parse_size(flag, arg, o->min, o->max, &v)))
			return err;
		break;
	default:
		return -EINVAL;
	}
	if (o->offset != OPT_NO_FIELD && o->size)
		store_field(s->state, o, v);
	return o->knob ? remember_knob(s, o->knob, o->knob_off ? !v : v) : 0;
}

/* --- parsing --------------------------------------------------------------------- */

#define MAX_ENTRIES 256

/*
 * A gadget option as the command line knows it: its name (or "GADGET.name"
 * to reach one gadget of several), and the sessions whose gadget declares it.
 */
struct gopt_entry {
	char name[80];
	int short_name;
	bool has_arg;
	bool filter;
	struct target {
		struct session *s;
		const struct gadget_option *o;
	} targets[MAX_GADGETS];
	int nt;
};

struct getopt_tables {
	struct option longopts[MAX_ENTRIES];
	char shortopts[MAX_ENTRIES];
	struct gopt_entry entries[MAX_ENTRIES];
	int nr_entries;
};

static struct gopt_entry *entry_for(struct getopt_tables *t, const char *name)
{
	for (int i = 0; i < t->nr_entries; i++)
		if (!strcmp(t->entries[i].name, name))
			return &t->entries[i];
	if (t->nr_entries == MAX_ENTRIES)
		return NULL;
	t->entries[t->nr_entries] = (struct gopt_entry){};
	snprintf(t->entries[t->nr_entries].name, sizeof(t->entries[0].name), "%s", name);
	return &t->entries[t->nr_entries++];
}

static void add_target(struct gopt_entry *e, struct session *s, const struct gadget_option *o)
{
	if (!e || e->nt == MAX_GADGETS)
		return;
	e->targets[e->nt++] = (struct target){ s, o };
	e->has_arg |= o->arg != NULL;
	e->filter |= o->filter;
	if (o->short_name)
		e->short_name = o->short_name;
}

/* Every gadget option by name; with several gadgets, "GADGET.name" reaches one of them. */
static void collect_gadget_options(struct session **ss, int n, struct getopt_tables *t)
{
	for (int k = 0; k < n; k++) {
		const struct gadget_option *o = ss[k]->gadget->options;

		for (; o && o->name; o++) {
			char scoped[80];

			add_target(entry_for(t, o->name), ss[k], o);
			if (n > 1) {
				snprintf(scoped, sizeof(scoped), "%s.%s", ss[k]->gadget->name,
					 o->name);
				add_target(entry_for(t, scoped), ss[k], o);
			}
		}
	}
}

static void build_getopt(struct session **ss, int n, struct getopt_tables *t)
{
	size_t nl = 0, ns = 0;

	t->nr_entries = 0;
	t->shortopts[ns++] = '+';
	for (const struct common_option *co = common_options; co->o.name; co++) {
		t->longopts[nl++] =
			(struct option){ co->o.name, co->o.arg ? required_argument : no_argument,
					 NULL, co->val };
		if (co->o.short_name) {
			t->shortopts[ns++] = co->o.short_name;
			if (co->o.arg)
				t->shortopts[ns++] = ':';
		}
	}
	collect_gadget_options(ss, n, t);
	for (int i = 0; i < t->nr_entries && nl < MAX_ENTRIES - 1; i++) {
		struct gopt_entry *e = &t->entries[i];

		t->longopts[nl++] =
			(struct option){ e->name, e->has_arg ? required_argument : no_argument,
					 NULL, OPT_GADGET_BASE + i };
		if (e->short_name && !strchr(t->shortopts, e->short_name) && ns < MAX_ENTRIES - 3) {
			t->shortopts[ns++] = e->short_name;
			if (e->has_arg)
				t->shortopts[ns++] = ':';
		}
	}
	t->longopts[nl] = (struct option){};
	t->shortopts[ns] = '\0';
}

/* The option as typed (argv[optind - 1], and its value when separate), for the audit. */
static void note_filter(struct trace_args *ta, char **argv, int optind_now, const char *arg)
{
	const char *opt = argv[optind_now - 1];
	size_t len = strlen(ta->filters);

	if (arg && opt == arg) /* "--comm" "curl": the option is one word earlier */
		opt = argv[optind_now - 2];
	snprintf(ta->filters + len, sizeof(ta->filters) - len, "%s%s", len ? " " : "", opt);
	if (arg && strchr(opt, '=') == NULL && opt[1] == '-') {
		len = strlen(ta->filters);
		snprintf(ta->filters + len, sizeof(ta->filters) - len, " %s", arg);
	}
}

static bool common_is_filter(int c)
{
	for (const struct common_option *co = common_options; co->o.name; co++)
		if (co->val == c)
			return co->filter;
	return false;
}

static int common_option(struct session *s, struct trace_args *ta, int c, const char *arg)
{
	uint64_t v;
	int err;

	switch (c) {
	case OPT_HELP:
		ta->help = true;
		return 0;
	case OPT_VERBOSE:
		s->verbose++;
		return 0;
	case OPT_OUTPUT:
		if (!strcmp(arg, "json"))
			ta->mode = OUT_JSON;
		else if (!strcmp(arg, "columns"))
			ta->mode = OUT_COLUMNS;
		else {
			loupe_err("-o: unknown format '%s' (use columns or json)", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_FIELDS:
		ta->fields = arg;
		return 0;
	case OPT_OUTPUT_FILE:
		ta->output_file = arg;
		audit_add_output("events", arg);
		return 0;
	case OPT_METRICS:
		ta->metrics = arg;
		return 0;
	case OPT_ROTATE_SIZE:
		return parse_size("--rotate-size", arg, 4096, 1ULL << 40, &ta->sink.rotate_size);
	case OPT_ROTATE_KEEP:
		if ((err = parse_u64("--rotate-keep", arg, 1, 100000, &v)))
			return err;
		ta->sink.rotate_keep = v;
		return 0;
	case OPT_ENCRYPT_TO:
		if (ta->sink.nr_encrypt_to == SINK_MAX_RECIPIENTS) {
			loupe_err("--encrypt-to: at most %d certificates", SINK_MAX_RECIPIENTS);
			return -EINVAL;
		}
		ta->sink.encrypt_to[ta->sink.nr_encrypt_to++] = arg;
		return 0;
	case OPT_NO_EVENTS:
		ta->no_events = true;
		return 0;
	case OPT_CONFIG:
		ta->config = arg; /* its options were put before the command line's */
		return 0;
	case OPT_AUDIT_LOG:
		ta->audit_log = arg;
		if ((err = audit_set_log(arg))) {
			loupe_err("--audit-log %s: %s", arg, strerror(-err));
			return -EINVAL;
		}
		return 0;
	case OPT_TIMEOUT: {
		char *end;

		errno = 0;
		s->timeout_s = strtod(arg, &end);
		if (errno || *end || !(s->timeout_s > 0) || !isfinite(s->timeout_s)) {
			loupe_err("--timeout needs a positive number of seconds, not '%s'", arg);
			return -EINVAL;
		}
		return 0;
	}
	case OPT_BUFFER_SIZE:
		if ((err = parse_size("--buffer-size", arg, 4096, 1ULL << 30, &v)))
			return err;
		/* A ring buffer is a power of two pages. */
		for (s->buffer_size = 4096; s->buffer_size < v; s->buffer_size <<= 1)
			;
		return 0;
	default:
		return parse_filter(&s->filter, c, arg);
	}
}

/* Rotation and encryption are of files; stdout is neither. */
static int check_sink_args(const struct trace_args *ta)
{
	if (ta->sink.rotate_keep && !ta->sink.rotate_size) {
		loupe_err("--rotate-keep needs --rotate-size (the size that starts a new file)");
		return -EINVAL;
	}
	if ((ta->sink.rotate_size || ta->sink.nr_encrypt_to) && !audit_nr_outputs()) {
		loupe_err("--%s applies to files: add --output-file FILE or --pcap FILE (stdout is "
			  "never rotated or encrypted)",
			  ta->sink.nr_encrypt_to ? "encrypt-to" : "rotate-size");
		return -EINVAL;
	}
	return 0;
}

static const char *gadget_names(struct session **ss, int n, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int k = 0; k < n && o < len; k++)
		o += snprintf(buf + o, len - o, "%s%s", k ? " " : "", ss[k]->gadget->name);
	return buf;
}

static int unknown_option(struct session **ss, int n, const char *shortopts, char **argv)
{
	const char *bad = argv[optind - 1];
	char names[128];

	gadget_names(ss, n, names, sizeof(names));
	if (!optopt)
		loupe_err("unknown option '%s' (see 'loupe trace %s --help')", bad, names);
	else if (optopt < 256 && !strchr(shortopts + 1, optopt))
		loupe_err("unknown option '-%c' (see 'loupe trace %s --help')", optopt, names);
	else
		loupe_err("option '%s' needs a value (see 'loupe trace %s --help')", bad, names);
	return -EINVAL;
}

/* A gadget short option comes back as its letter: map it to its entry. */
static int gadget_short(const struct getopt_tables *t, int c)
{
	for (int i = 0; i < t->nr_entries; i++)
		if (t->entries[i].short_name == c)
			return OPT_GADGET_BASE + i;
	return c;
}

/* What the first session was given holds for every session: one set of filters. */
static void share_common(struct session **ss, int n)
{
	for (int k = 1; k < n; k++) {
		ss[k]->filter = ss[0]->filter;
		ss[k]->verbose = ss[0]->verbose;
		ss[k]->timeout_s = ss[0]->timeout_s;
		ss[k]->buffer_size = ss[0]->buffer_size;
	}
}

int parse_trace_args(struct session **ss, int n, struct trace_args *ta, int argc, char **argv)
{
	static struct getopt_tables t;
	int c, err = 0;

	build_getopt(ss, n, &t);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, t.shortopts, t.longopts, NULL)) != -1) {
		if (c > 0 && c < 256 && !strchr("hov?:", c))
			c = gadget_short(&t, c);
		if (c == '?')
			return unknown_option(ss, n, t.shortopts, argv);
		if (c >= OPT_GADGET_BASE) {
			const struct gopt_entry *e = &t.entries[c - OPT_GADGET_BASE];

			for (int i = 0; i < e->nt && !err; i++)
				err = gadget_option(e->targets[i].s, e->targets[i].o, optarg);
			if (!err && e->filter)
				note_filter(ta, argv, optind, optarg);
		} else {
			err = common_option(ss[0], ta, c, optarg);
			if (!err && common_is_filter(c))
				note_filter(ta, argv, optind, optarg);
		}
		if (err)
			return err;
	}
	if (ta->help) {
		for (int k = 0; k < n; k++)
			trace_usage(stdout, ss[k]->gadget, k == n - 1);
		exit(EXIT_OK);
	}
	if (optind < argc) {
		char names[128];

		loupe_err("unexpected argument '%s' (see 'loupe trace %s --help')", argv[optind],
			  gadget_names(ss, n, names, sizeof(names)));
		return -EINVAL;
	}
	share_common(ss, n);
	for (int k = 0; k < n; k++)
		if (ss[k]->gadget->check && (err = ss[k]->gadget->check(ss[k])))
			return err;
	return check_sink_args(ta);
}

/* --- --config ------------------------------------------------------------------------ */

/*
 * The words of a config file: options as on the command line, "#" to the end
 * of a line is a comment, double quotes hold a value with spaces.  Returns the
 * number of words (in *words, one allocation to free) or -errno.
 */
int config_read(const char *path, char ***words, char **store)
{
	FILE *fp = fopen(path, "re");
	size_t n = 0, len = 0, scap = 0;
	char **w = NULL, *buf = NULL;
	int c, err = 0;
	bool in_word = false, quoted = false, comment = false;

	if (!fp)
		return -errno;
	/* First the characters, words NUL-separated in buf; then the pointers. */
	while ((c = fgetc(fp)) != EOF && !err) {
		if (comment) {
			comment = c != '\n';
			continue;
		}
		if (!quoted && (c == ' ' || c == '\t' || c == '\n' || c == '#')) {
			comment = c == '#';
			if (in_word && (err = grow(&buf, &scap, len + 1, 1, 256)) == 0)
				buf[len++] = '\0', n++;
			in_word = false;
			continue;
		}
		if (c == '"') {
			quoted = !quoted;
			if (!in_word)
				in_word = true; /* "" is an empty word */
			continue;
		}
		if ((err = grow(&buf, &scap, len + 1, 1, 256)))
			break;
		buf[len++] = c;
		in_word = true;
	}
	if (!err && in_word && !(err = grow(&buf, &scap, len + 1, 1, 256)))
		buf[len++] = '\0', n++;
	fclose(fp);
	if (!err && quoted)
		err = -EINVAL; /* an unclosed quote */
	if (!err && n && !(w = calloc(n, sizeof(*w))))
		err = -ENOMEM;
	for (size_t i = 0, o = 0; !err && i < n; i++, o += strlen(buf + o) + 1)
		w[i] = buf + o;
	if (err) {
		free(buf);
		free(w);
		return err;
	}
	*words = w;
	*store = buf;
	return n;
}

static bool reloadable(struct session **ss, int n, const char *name, bool *takes_value)
{
	const char *dot;

	for (const struct common_option *co = common_options; co->o.name; co++) {
		if (!strcmp(co->o.name, name)) {
			*takes_value = co->o.arg;
			return co->filter;
		}
	}
	/* "GADGET.option" reaches one gadget: judged by its option's name. */
	dot = strchr(name, '.');
	if (dot)
		name = dot + 1;
	for (int k = 0; k < n; k++) {
		const struct gadget *g = ss[k]->gadget;

		for (const struct gadget_option *o = g->options; o && o->name; o++) {
			if (strcmp(o->name, name))
				continue;
			*takes_value = o->arg;
			for (const char *const *r = g->reloadable; r && *r; r++)
				if (!strcmp(*r, name))
					return true;
			return false;
		}
	}
	*takes_value = false;
	return false;
}

/*
 * The options of a config file that SIGHUP cannot change, as one string: a
 * new file must give the same, or it is refused (a restart is needed).
 */
void config_fixed_part(struct session **ss, int n, char **words, int nw, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < nw && o < len; i++) {
		char name[80];
		const char *w = words[i], *eq;
		bool value = false, reload;

		if (w[0] != '-') {
			o += snprintf(out + o, len - o, "%s ", w); /* a stray word: compared too */
			continue;
		}
		while (*w == '-')
			w++;
		eq = strchr(w, '=');
		snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - w) : (int)strlen(w), w);
		reload = reloadable(ss, n, name, &value);
		if (!reload)
			o += snprintf(out + o, len - o, "%s ", words[i]);
		if (value && !eq && i + 1 < nw) {
			i++;
			if (!reload)
				o += snprintf(out + o, len - o, "%s ", words[i]);
		}
	}
}
