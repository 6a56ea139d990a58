/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The contract between the runtime and a gadget.
 *
 * A gadget is a BPF object (a skeleton), a table of event fields, a handful of
 * options and a record decoder.  The runtime owns everything else: option
 * parsing, filters, feature probing, the ring buffer, loss accounting,
 * rendering, signals and statistics.
 */
#ifndef LOUPE_GADGET_H
#define LOUPE_GADGET_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/types.h>

#include "bpf/loupe_types.h"
#include "output.h"

struct bpf_object;
struct bpf_object_open_opts;
struct loupe_config;
struct session;
struct sink_opts;

/*
 * Exit statuses, documented in README.md and `loupe help`.  Only the top of a
 * command turns errors into these: inside, functions return a negative errno,
 * and -EINVAL means "the command line is wrong" (EXIT_USAGE).
 */
enum {
	EXIT_OK = 0,
	EXIT_FAILURE_RUNTIME = 1,	/* privileges, BPF load/attach, I/O */
	EXIT_USAGE = 2,			/* bad flag or value */
};

/* The exit status for a negative errno from inside. */
static inline int exit_status(int err)
{
	return !err ? EXIT_OK : err == -EINVAL ? EXIT_USAGE : EXIT_FAILURE_RUNTIME;
}

/*
 * A gadget-specific command-line option.  Most options only set something;
 * they say what, and the runtime parses and stores them:
 *
 *   OPT_SWITCH   a flag: stores true (or false with .invert) in the state
 *   OPT_NUMBER   a number in [min, max]
 *   OPT_SIZE     a size such as 256K or 1M in [min, max]
 *   OPT_CUSTOM   anything else: the gadget's parse_option()
 *
 * The value goes to the gadget's state (at .offset, an integer field of any
 * width) and/or to the BPF object's `const volatile` knob named .knob.
 */
enum gadget_option_kind {
	OPT_CUSTOM = 0,
	OPT_SWITCH,
	OPT_NUMBER,
	OPT_SIZE,
};

#define OPT_NO_FIELD ((size_t)-1)

struct gadget_option {
	const char *name;	/* long name without "--" */
	int short_name;		/* 0 if none */
	const char *arg;	/* argument placeholder, NULL for a switch */
	const char *help;
	enum gadget_option_kind kind;
	size_t offset;		/* in the gadget's state, or OPT_NO_FIELD */
	size_t size;		/* of that field */
	const char *knob;	/* BPF const volatile to set, or NULL */
	uint64_t min, max;
	bool invert;		/* OPT_SWITCH: the option turns its value off */
	bool knob_off;		/* OPT_SWITCH: ...and turns its knob off (--no-x sets x = 0) */
	bool filter;		/* a filter: recorded in the audit trail */
};

#define OPT_FIELD_(type, field) .offset = offsetof(type, field), .size = sizeof(((type *)0)->field)

/* A switch stored in state field `field` of `type`; knob may be NULL. */
#define OPT_SWITCH_(n, h, type, field, k, inv)                                             	{ .name = n, .help = h, .kind = OPT_SWITCH, OPT_FIELD_(type, field), .knob = k,    	  .invert = inv }
#define OPT_FLAG(n, h, type, field, k) OPT_SWITCH_(n, h, type, field, k, false)
#define OPT_FLAG_OFF(n, h, type, field, k) OPT_SWITCH_(n, h, type, field, k, true)
/* A switch stored as true in `field` that turns knob k off (--no-reads: trace_reads = 0). */
#define OPT_FLAG_KNOB_OFF(n, h, type, field, k)                                            \
	{ .name = n, .help = h, .kind = OPT_SWITCH, OPT_FIELD_(type, field), .knob = k,    \
	  .knob_off = true }
/* A number or a size in [lo, hi], stored in `field` and/or the knob. */
#define OPT_NUM(n, a, h, type, field, k, lo, hi)                                           	{ .name = n, .arg = a, .help = h, .kind = OPT_NUMBER, OPT_FIELD_(type, field),      	  .knob = k, .min = lo, .max = hi }
#define OPT_SZ(n, a, h, type, field, k, lo, hi)                                            	{ .name = n, .arg = a, .help = h, .kind = OPT_SIZE, OPT_FIELD_(type, field),        	  .knob = k, .min = lo, .max = hi }
/* A number that filters events in the kernel only (recorded in the audit trail as typed). */
#define OPT_FILTER_KNOB(n, a, h, k, lo, hi)                                                \
	{ .name = n, .arg = a, .help = h, .kind = OPT_NUMBER, .offset = OPT_NO_FIELD,       \
	  .knob = k, .min = lo, .max = hi, .filter = true }
/* Parsed by the gadget's parse_option(). */
#define OPT_OWN(n, a, h) { .name = n, .arg = a, .help = h, .kind = OPT_CUSTOM }

/* One named counter of the statistics, for a gadget's stats hook. */
typedef void (*gadget_stat_fn)(const char *name, uint64_t value, void *ctx);

/* Names of the gadget's own loss/skip counters, index i = LOUPE_CNT_GADGET + i. */
struct gadget_counter {
	const char *name;
	bool is_loss;		/* warn about it: data the user did not get */
};

/*
 * A bpftool skeleton seen through plain pointers, so that the runtime opens,
 * loads and destroys every gadget's object the same way.  Made by
 * LOUPE_SKELETON(var, prefix) next to the gadget's #include "<name>.skel.h".
 */
struct gadget_skeleton {
	void *(*open)(const struct bpf_object_open_opts *opts);
	void (*destroy)(void *skel);
	const void *(*elf_bytes)(size_t *size);
	size_t obj_offset;	/* of the skeleton's struct bpf_object *obj */
};

#define LOUPE_SKELETON(var, prefix)                                                        	static void *var##_open(const struct bpf_object_open_opts *opts)                   	{                                                                                  		return prefix##__open_opts(opts);                                          	}                                                                                  	static void var##_destroy(void *skel)                                              	{                                                                                  		prefix##__destroy(skel);                                                   	}                                                                                  	static const struct gadget_skeleton var = {                                        		.open = var##_open,                                                        		.destroy = var##_destroy,                                                  		.elf_bytes = prefix##__elf_bytes,                                          		.obj_offset = offsetof(struct prefix, obj),                                	}

struct gadget {
	const char *name;
	const char *summary;		/* one line for `loupe list` */
	const char *examples;		/* shown by --help */
	const struct gadget_option *options;
	const struct field *fields;	/* NULL-name terminated */
	const struct gadget_counter *counters;	/* NULL-name terminated, may be NULL */
	const struct gadget_skeleton *skeleton;
	size_t state_size;		/* private state allocated by the runtime */

	/* OPT_CUSTOM options: store the value; 0, or -EINVAL after printing why. */
	int (*parse_option)(struct session *s, const struct gadget_option *opt, const char *arg);
	/* After every option: options that cannot go together; 0 or -EINVAL. */
	int (*check)(struct session *s);
	/*
	 * The skeleton is open (s->skel, s->obj) and the option knobs are set:
	 * choose programs and map sizes for this kernel; 0 or -errno (printed).
	 */
	int (*configure)(struct session *s);
	/*
	 * --config: the options SIGHUP may change for this gadget (besides the
	 * common filters), and how they reach the kernel: copy them from
	 * `parsed` (a session parsed from the new file) and fill the config's
	 * slots.  NULL: the gadget has none.
	 */
	const char *const *reloadable;
	void (*reconfigure)(struct session *s, const struct session *parsed,
			    struct loupe_config *cfg);
	/* After load: attach; NULL attaches every program that names its target. */
	int (*attach)(struct session *s);
	/*
	 * One ring buffer record.  Returns LOUPE_REC_EVENT when it starts an
	 * event (the usual case: one record, one event), LOUPE_REC_PART when it
	 * continues one, LOUPE_REC_NOTICE when it is not an event, or
	 * LOUPE_REC_BAD when it cannot be decoded (counted lost).
	 */
	int (*handle)(struct session *s, const void *data, size_t size);
	/* Called after every poll of the ring buffer (at least every 100 ms): timeouts. */
	void (*tick)(struct session *s);
	/* Before the statistics: emit whatever is still pending. */
	void (*flush)(struct session *s);
	/* Free what the gadget made (the skeleton and links are the runtime's). */
	void (*close)(struct session *s);
	/* The hook variant chosen on this kernel, for `loupe list -v`. */
	const char *(*variant)(void);
	/* Bytes of payload in the events, for the statistics. */
	bool counts_bytes;
	/*
	 * Relocate CO-RE against a minimal kernel BTF built in a child process
	 * (see minbtf.c): only for gadgets with no tp_btf/fentry programs, which
	 * need the whole kernel BTF anyway.
	 */
	bool min_btf;
	/* Counters kept in user space (what analyses found), after the kernel's. */
	void (*stats)(struct session *s, gadget_stat_fn fn, void *ctx);
};

/* What a record was, for the accounting (see gadget.handle). */
enum {
	LOUPE_REC_EVENT = 0,
	LOUPE_REC_PART,
	LOUPE_REC_NOTICE,
	LOUPE_REC_BAD,
	LOUPE_REC_FILTERED, /* an event a user-space filter (--container) turned away */
};

/* Gadgets one `loupe trace` runs at most. */
#define MAX_GADGETS 8

/* Gadgets register themselves into a linker section; no central list. */
#define LOUPE_GADGET(var)                                                                  \
	__attribute__((used, section("loupe_gadgets"), aligned(sizeof(void *))))           \
	const struct gadget *const loupe_gadget_ptr_##var = &var

const struct gadget *gadget_find(const char *name);
size_t gadget_count(void);
const struct gadget *gadget_at(size_t i);	/* sorted by name */
const void *gadget_object_bytes(const char *name, size_t *size);
const char *gadget_description(const char *name);
void gadgets_print(FILE *fp);

/* --- the session: one run of one gadget -------------------------------------- */

struct filter_opts {
	bool by_pid, by_tid, by_uid, by_gid, by_comm;
	uint32_t pid, tid, uid, gid;
	char comm[LOUPE_COMM_LEN];
	uint64_t mntns[64];
	int nr_mntns;
	const char *containers[16]; /* --container NAME|ID, running now or started later */
	int nr_containers;
};

struct session {
	const struct gadget *gadget;
	void *state;			/* gadget private, state_size bytes, zeroed */
	void *skel;			/* the gadget's skeleton (struct <name>_bpf *) */
	struct bpf_object *obj;		/* and its object */
	struct output *out;
	struct filter_opts filter;
	int verbose;
	bool json;			/* -o json: gadgets may shape their rows for it */
	bool hex_dump;			/* -x: hex dump of payloads (set by a gadget) */
	double timeout_s;
	uint64_t buffer_size;
	/*
	 * Accounting, checked at exit against the kernel's counters:
	 * seen = received + lost in the kernel + left in the ring at exit, and
	 * received = shown + dropped + undecodable.
	 */
	uint64_t records;		/* ring buffer records read */
	uint64_t received;		/* events whose first record was read */
	uint64_t undecodable;		/* records that could not be decoded */
	uint64_t dropped;		/* events received but not shown (e.g. out of memory) */
	uint64_t truncated;		/* events shown with records missing (ring full) */
	uint64_t left_at_exit;		/* records the final drain could not read */
	uint64_t filtered;		/* events --container turned away in user space */
	struct userfilter *userfilter;	/* --container decisions, by mount namespace */
	double last_sweep;		/* when dead containers were last forgotten */
	double last_check;		/* when losses were last looked at */
	struct metrics *metrics;	/* --metrics: families to count into, or NULL */
	bool no_events;			/* --no-events: count, do not print */
	bool dynamic_config;		/* --config: filters and tunables from loupe_config */
	uint64_t lost_warned;		/* losses already warned about */
	uint64_t rows;			/* rows printed */
	uint64_t bytes;
	/* Links to destroy on exit: libbpf's, and raw link fds (uprobe_multi). */
	struct bpf_link **links;
	size_t nr_links, cap_links;
	int *link_fds;
	size_t nr_link_fds, cap_link_fds;
	bool uprobe_multi;		/* uprobes are attached as uprobe_multi links */
	/* Knobs set by gadget options, applied once the skeleton is open. */
	struct knob_value {
		const char *name;
		uint64_t value;
	} knobs[32];
	int nr_knobs;
	const struct sink_opts *sink_opts; /* --rotate-*, --encrypt-to: for a gadget's files */
};

/* Runtime services for gadgets. */
int session_add_link(struct session *s, struct bpf_link *link);
int session_add_link_fd(struct session *s, int fd);
size_t session_link_count(const struct session *s);
/* Where the session's links stand now, and detaching those made between two marks. */
struct link_mark {
	size_t links, fds;
};
struct link_mark session_link_mark(const struct session *s);
size_t session_detach_between(struct session *s, struct link_mark from, struct link_mark to);
int session_attach_programs(struct session *s);	/* attach every autoloaded, auto-attachable program */
int obj_set_rodata(struct bpf_object *obj, const char *name, const void *val, size_t size);
uint64_t session_counter(struct session *s, unsigned int idx);
void session_emit(struct session *s, const struct value *vals);
/*
 * Whether an event of this process is wanted: the common filters the kernel
 * could not judge alone (--container, for a namespace it has not seen yet).
 * A gadget's handle returns LOUPE_REC_FILTERED when this is false.
 */
bool session_keep(struct session *s, const struct loupe_proc *p);
/* An event received but not shown (out of memory...): counted lost. */
void session_event_dropped(struct session *s);
/* An event shown with some of its records lost on the way (ring buffer full). */
void session_event_truncated(struct session *s);
void loupe_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void loupe_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void loupe_info(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parsers shared by every option: print the error and return -EINVAL on bad input. */
int parse_u64(const char *flag, const char *arg, uint64_t min, uint64_t max, uint64_t *out);
int parse_size(const char *flag, const char *arg, uint64_t min, uint64_t max, uint64_t *out);

int cmd_trace(int argc, char **argv);
int cmd_list(int argc, char **argv);

#endif /* LOUPE_GADGET_H */
