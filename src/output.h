/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Event rendering.  A gadget declares its fields once; every event is an
 * array of values in that order, and this module prints it as an aligned
 * table or as one JSON object per line.  Untrusted bytes are always escaped.
 */
#ifndef LOUPE_OUTPUT_H
#define LOUPE_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "bpf/loupe_types.h"

enum field_type {
	FT_U64,
	FT_S64,
	FT_HEX,		/* u64 shown as 0x... (handles, addresses) */
	FT_BOOL,
	FT_STR,		/* text, escaped */
	FT_BYTES,	/* payload: escaped in columns, \u00XX in JSON, hex dump with -x */
	FT_TIME,	/* boot-time ns, shown as wall-clock time */
	FT_DURATION,	/* ns */
};

#define FIELD_HIDDEN 0x1	/* not in the default column set */
#define FIELD_RIGHT  0x2	/* right-aligned column */

struct field {
	const char *name;
	enum field_type type;
	unsigned int flags;
	int width;		/* column width; the last column takes what is left */
	const char *desc;
};

struct value {
	bool set;		/* unset: empty column, JSON null */
	union {
		uint64_t u;
		int64_t i;
		bool b;
		struct {
			const char *p;
			size_t len;
		} s;
	};
};

static inline struct value val_u64(uint64_t u)
{
	return (struct value){ .set = true, .u = u };
}

static inline struct value val_s64(int64_t i)
{
	return (struct value){ .set = true, .i = i };
}

static inline struct value val_bool(bool b)
{
	return (struct value){ .set = true, .b = b };
}

static inline struct value val_str(const char *p)
{
	return (struct value){ .set = p != NULL, .s = { p, p ? __builtin_strlen(p) : 0 } };
}

static inline struct value val_bytes(const void *p, size_t len)
{
	return (struct value){ .set = true, .s = { (const char *)p, len } };
}

enum output_mode {
	OUT_COLUMNS,
	OUT_JSON,
};

struct output_opts {
	enum output_mode mode;
	bool hex;		/* -x: hex dump of FT_BYTES fields under each row */
	const char *fields;	/* --fields a,b,c or NULL */
	FILE *fp;
	int width;		/* total line width for columns; 0 = no limit */
	const char *tag;	/* several gadgets in one stream: the "gadget" of each row */
	bool some_fields;	/* --fields may name fields this table lacks (another gadget's) */
	void (*row_end)(void *arg); /* called after each row (a file's record ends there) */
	void *row_end_arg;
};

struct output;

/* Returns NULL and fills err on an unknown field name. */
struct output *output_new(const struct field *fields, const struct output_opts *opts, char *err,
			  size_t errlen);
void output_row(struct output *o, const struct value *vals);
void output_flush(struct output *o);
void output_free(struct output *o);
size_t field_count(const struct field *fields);
int field_index(const struct field *fields, const char *name);

/* Escaping, exposed for unit tests and other printers. */
void json_write_string(FILE *fp, const void *data, size_t len);
size_t text_escape(char *dst, size_t dstlen, const void *src, size_t len, size_t *consumed);
void hex_dump(FILE *fp, const void *data, size_t len, const char *indent);
void format_duration(char *buf, size_t len, uint64_t ns);

/* Common process fields, first in every gadget's table. */
#define LOUPE_PROC_FIELDS                                                                      \
	{ "timestamp", FT_TIME, 0, 12, "wall-clock time of the event" },                       \
	{ "comm", FT_STR, 0, 16, "command name of the thread" },                               \
	{ "pid", FT_U64, FIELD_RIGHT, 7, "process id (thread group id)" },                     \
	{ "tid", FT_U64, FIELD_RIGHT, 7, "thread id" },                                        \
	{ "uid", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 6, "user id" },                           \
	{ "user", FT_STR, FIELD_HIDDEN, 10, "user name, from the host's passwd" },             \
	{ "gid", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 6, "group id" },                          \
	{ "group", FT_STR, FIELD_HIDDEN, 10, "group name, from the host's group" },            \
	{ "mntns_id", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 10, "mount namespace id (container)" },  \
	{ "container_id", FT_STR, FIELD_HIDDEN, 12, "container id (from the cgroup); empty on the host" }, \
	{ "runtime", FT_STR, FIELD_HIDDEN, 10, "container runtime: podman, docker, containerd, cri-o" }, \
	{ "container_name", FT_STR, FIELD_HIDDEN, 16, "container name, as its runtime knows it" },     \
	{ "image", FT_STR, FIELD_HIDDEN, 20, "image the container runs, where the runtime says" },    \
	{ "pod", FT_STR, FIELD_HIDDEN, 16, "Kubernetes pod (CRI annotations)" },                       \
	{ "namespace", FT_STR, FIELD_HIDDEN, 12, "Kubernetes namespace (CRI annotations)" }
#define LOUPE_PROC_NR_FIELDS 15

/* Fill the LOUPE_PROC_FIELDS values, names resolved and cached. */
void values_set_proc(struct value *v, const struct loupe_proc *p);

/* Enrichment helpers. */
const char *uid_name(uint32_t uid);
const char *gid_name(uint32_t gid);
const char *errno_name(int err);	/* "ECONNREFUSED", or NULL */
/* The error column: errno name, "E<n>" when unnamed, "" for 0. */
const char *errno_text(char *buf, size_t len, int err);
/* "1.2.3.4:80", "[::1]:80", or "?:80" for another family; returns buf. */
char *format_endpoint(char *buf, size_t len, unsigned int family, const void *addr,
		      unsigned int port);
void boot_clock_init(void);
/* Event time (CLOCK_BOOTTIME ns) as wall-clock ns; boot_clock_init() first. */
int64_t boot_to_wall_ns(uint64_t boot_ns);
int64_t loupe_clock_ns(clockid_t id);
double loupe_now_s(void);	/* CLOCK_MONOTONIC, for intervals */

#endif /* LOUPE_OUTPUT_H */
