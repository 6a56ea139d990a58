/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Prometheus metrics (--metrics ADDR:PORT): counters and histograms with
 * labels, kept by the main thread as events are handled, rendered in the
 * text exposition format once a second, served by a small HTTP thread.
 *
 * Label sets are bounded: a family keeps at most METRIC_MAX_SERIES label
 * combinations, the rest go to one series whose labels are all "other", and
 * loupe_metrics_series_overflow_total counts them.  No pid, no path, nothing
 * unbounded is ever a label.
 */
#ifndef LOUPE_METRICS_H
#define LOUPE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define METRIC_MAX_LABELS 3
#define METRIC_MAX_SERIES 512

struct metrics;
struct metric;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* A family; labels is a comma-separated list of label names ("" for none). */
struct metric *metrics_counter(struct metrics *m, const char *name, const char *help,
			       const char *labels);
struct metric *metrics_histogram(struct metrics *m, const char *name, const char *help,
				 const char *labels, const double *bounds, int nbounds);

/* values: one string per label, in order (NULL when the family has none). */
void metric_add(struct metric *f, const char *const *values, double v);
void metric_set(struct metric *f, const char *const *values,
		double v); /* counters kept elsewhere */
void metric_observe(struct metric *f, const char *const *values, double v);

/* Seconds buckets for latencies: 10 us to 10 s. */
extern const double metric_latency_buckets[];
extern const int metric_latency_nbuckets;

/* The text exposition of every family. */
void metrics_render(struct metrics *m, FILE *fp);

/* The HTTP server: addr is "IP:PORT", ":PORT" or "[IPv6]:PORT".  -errno on failure. */
int metrics_serve(struct metrics *m, const char *addr, char *err, size_t errlen);
/* Render now and publish what the server answers. */
void metrics_publish(struct metrics *m);
/* The address the server listens on (after metrics_serve), e.g. "127.0.0.1:9464". */
const char *metrics_address(const struct metrics *m);

/* A label value as Prometheus wants it: escaped, printable (exposed for unit tests). */
void metrics_write_label(FILE *fp, const char *value);

#endif /* LOUPE_METRICS_H */
