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
	FILTER("comm", "NAME", "only threads with this command name", OPT_COMM),
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
	COMMON("output-file", "FILE", "write events to FILE (created with mode 0600)",
	       OPT_OUTPUT_FILE),
	COMMON("timeout", "SECONDS", "stop after SECONDS", OPT_TIMEOUT),
	COMMON("buffer-size", "SIZE", "ring buffer size (default 2M), rounded up to a power of 2",
	       OPT_BUFFER_SIZE),
	COMMON("audit-log", "FILE", "audit records of this capture to FILE instead of syslog",
	       OPT_AUDIT_LOG),
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

void trace_usage(FILE *fp, const struct gadget *g)
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
	return obj_set_rodata(s->obj, "filter_by_mntns", &by_mntns, 1) ?:
	       obj_set_rodata(s->obj, "filter_by_container", &by_container, 1);
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

int apply_knobs(struct session *s, const struct trace_args *ta)
{
	for (int i = 0; i < ta->nr_knobs; i++) {
		int err = obj_set_knob(s->obj, ta->knobs[i].name, ta->knobs[i].value);

		if (err) {
			loupe_err("gadget %s has no knob '%s' (%s): a build bug", s->gadget->name,
				  ta->knobs[i].name, strerror(-err));
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

static int remember_knob(struct trace_args *ta, const char *name, uint64_t v)
{
	for (int i = 0; i < ta->nr_knobs; i++) {
		if (!strcmp(ta->knobs[i].name, name)) {
			ta->knobs[i].value = v; /* the last one given wins */
			return 0;
		}
	}
	if (ta->nr_knobs >= (int)(sizeof(ta->knobs) / sizeof(ta->knobs[0])))
		return -E2BIG;
	ta->knobs[ta->nr_knobs++] = (struct knob_value){ name, v };
	return 0;
}

static int gadget_option(struct session *s, struct trace_args *ta, const struct gadget_option *o,
			 const char *arg)
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
	return o->knob ? remember_knob(ta, o->knob, o->knob_off ? !v : v) : 0;
}

/* --- parsing --------------------------------------------------------------------- */

struct getopt_tables {
	struct option longopts[64];
	char shortopts[64];
};

static void add_getopt(struct getopt_tables *t, size_t *nl, size_t *ns,
		       const struct gadget_option *o, int val)
{
	t->longopts[(*nl)++] =
		(struct option){ o->name, o->arg ? required_argument : no_argument, NULL, val };
	if (o->short_name) {
		t->shortopts[(*ns)++] = o->short_name;
		if (o->arg)
			t->shortopts[(*ns)++] = ':';
	}
}

static void build_getopt(const struct gadget *g, struct getopt_tables *t)
{
	size_t nl = 0, ns = 0;

	t->shortopts[ns++] = '+';
	for (const struct common_option *co = common_options; co->o.name; co++)
		add_getopt(t, &nl, &ns, &co->o, co->val);
	for (int i = 0; g->options && g->options[i].name; i++)
		add_getopt(t, &nl, &ns, &g->options[i], OPT_GADGET_BASE + i);
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
		trace_usage(stdout, s->gadget);
		exit(EXIT_OK);
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

static int unknown_option(const struct gadget *g, const char *shortopts, char **argv)
{
	const char *bad = argv[optind - 1];

	if (!optopt)
		loupe_err("unknown option '%s' (see 'loupe trace %s --help')", bad, g->name);
	else if (optopt < 256 && !strchr(shortopts + 1, optopt))
		loupe_err("unknown option '-%c' (see 'loupe trace %s --help')", optopt, g->name);
	else
		loupe_err("option '%s' needs a value (see 'loupe trace %s --help')", bad, g->name);
	return -EINVAL;
}

/* Gadget short options come back as their letter: map them to their table entry. */
static int gadget_short(const struct gadget *g, int c)
{
	for (int i = 0; g->options && g->options[i].name; i++)
		if (g->options[i].short_name == c)
			return OPT_GADGET_BASE + i;
	return c;
}

int parse_trace_args(struct session *s, struct trace_args *ta, int argc, char **argv)
{
	const struct gadget *g = s->gadget;
	struct getopt_tables t;
	int c, err;

	build_getopt(g, &t);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, t.shortopts, t.longopts, NULL)) != -1) {
		if (c > 0 && c < 256 && !strchr("hov?:", c))
			c = gadget_short(g, c);
		if (c == '?')
			return unknown_option(g, t.shortopts, argv);
		if (c >= OPT_GADGET_BASE) {
			const struct gadget_option *o = &g->options[c - OPT_GADGET_BASE];

			err = gadget_option(s, ta, o, optarg);
			if (!err && o->filter)
				note_filter(ta, argv, optind, optarg);
		} else {
			err = common_option(s, ta, c, optarg);
			if (!err && common_is_filter(c))
				note_filter(ta, argv, optind, optarg);
		}
		if (err)
			return err;
	}
	if (optind < argc) {
		loupe_err("unexpected argument '%s' (see 'loupe trace %s --help')", argv[optind],
			  g->name);
		return -EINVAL;
	}
	return g->check ? g->check(s) : 0;
}
