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
#include "sink.h"

struct ring_buffer;

/* What the command line asked for beyond the sessions' own fields. */
struct trace_args {
	enum output_mode mode;
	const char *fields;
	const char *output_file;
	const char *audit_log;
	bool help;
	const char *metrics; /* --metrics ADDR:PORT */
	const char *config;  /* --config FILE */
	bool no_events;
	char filters[1024]; /* the filter options as typed, for the audit record */
	struct sink_opts sink; /* --rotate-size, --rotate-keep, --encrypt-to */
};

/* options.c */
int parse_trace_args(struct session **ss, int n, struct trace_args *ta, int argc, char **argv);
void trace_usage(FILE *fp, const struct gadget *g, bool common);
int apply_knobs(struct session *s);
int config_read(const char *path, char ***words, char **store);
void config_fixed_part(struct session **ss, int n, char **words, int nw, char *out, size_t len);
int set_filters(struct session *s);

/* userfilter.c */
int userfilter_start(struct session *s);
int userfilter_notice(void *ctx, void *data, size_t size);
void userfilter_sweep(struct session *s);
void userfilter_reset(struct session *s);
void userfilter_free(struct session *s);

/* The runtime's own metrics families (accounting.c fills them from the books). */
struct metrics;
struct metric;
struct run_metrics {
	struct metric *events, *seen, *lost, *truncated, *filtered, *bytes, *counters;
	struct metric *calls, *calls_filtered, *sampled_out;
};

/* accounting.c */
int run_metrics_init(struct run_metrics *rm, struct metrics *m);
void run_metrics_update(const struct run_metrics *rm, struct session **ss, int n);
void drain_rings(struct session **ss, int n, struct ring_buffer *rb);
void print_stats(struct session *s, double secs, bool json);
uint64_t session_losses(struct session *s);
int ringbuf_cb(void *ctx, void *data, size_t size);

#endif /* LOUPE_RUNTIME_INT_H */
