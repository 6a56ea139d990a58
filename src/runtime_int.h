/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Inside the runtime: what runtime.c (the session's stages), options.c (the
 * command line) and accounting.c (the books and statistics) share.  Gadgets
 * see gadget.h only.
 */
#ifndef LOUPE_RUNTIME_INT_H
#define LOUPE_RUNTIME_INT_H

#include <stdio.h>

#include "gadget.h"

struct ring_buffer;

/* What the command line asked for beyond the session's own fields. */
struct trace_args {
	enum output_mode mode;
	const char *fields;
	const char *output_file;
	const char *audit_log;
	char filters[1024]; /* the filter options as typed, for the audit record */
	/* Knobs set by gadget options, applied once the skeleton is open. */
	struct knob_value {
		const char *name;
		uint64_t value;
	} knobs[32];
	int nr_knobs;
};

/* options.c */
int parse_trace_args(struct session *s, struct trace_args *ta, int argc, char **argv);
void trace_usage(FILE *fp, const struct gadget *g);
int apply_knobs(struct session *s, const struct trace_args *ta);
int set_filters(struct session *s);

/* userfilter.c */
int userfilter_start(struct session *s);
int userfilter_notice(void *ctx, void *data, size_t size);
void userfilter_sweep(struct session *s);
void userfilter_free(struct session *s);

/* accounting.c */
void drain_ring(struct session *s, struct ring_buffer *rb);
void print_stats(struct session *s, double secs, bool json);
uint64_t session_losses(struct session *s);
int ringbuf_cb(void *ctx, void *data, size_t size);

#endif /* LOUPE_RUNTIME_INT_H */
