// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The books of a session: every record read from the ring buffer, every
 * event the kernel produced, every loss by its reason, and the statistics
 * printed at exit.  See "The books" in docs/development.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "metrics.h"
#include "runtime_int.h"

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
	if (s->no_events)
		return;
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
int ringbuf_cb(void *ctx, void *data, size_t size)
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
	case LOUPE_REC_FILTERED:
		s->filtered++;
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
	uint64_t seen, events, filtered, lost, lost_ring_full, lost_at_exit, lost_undecodable,
		lost_dropped, truncated, probe_misses;
	int64_t unaccounted;
	/* The calls the hooks saw, and what the kernel's filters and --sample did. */
	uint64_t calls, filtered_in_kernel, sampled_out;
	double capture_rate; /* events / (events + lost + sampled out): 1 when all were shown */
};

/* Runs of our programs the kernel skipped (a BPF program was already running on that CPU). */
static uint64_t probe_misses(struct session *s)
{
	struct bpf_program *prog;
	uint64_t sum = 0;

	bpf_object__for_each_program (prog, s->obj) {
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
		.filtered = s->filtered,
		.lost_ring_full = session_counter(s, LOUPE_CNT_RINGBUF_LOST),
		.lost_at_exit = s->left_at_exit,
		.lost_undecodable = s->undecodable,
		.lost_dropped = s->dropped,
		.truncated = s->truncated,
		.probe_misses = probe_misses(s),
	};
	t->lost = t->lost_ring_full + t->lost_at_exit + t->lost_undecodable + t->lost_dropped;
	t->unaccounted = (int64_t)(t->seen - t->events - t->filtered - t->lost);
	t->filtered_in_kernel = session_counter(s, LOUPE_CNT_FILTERED);
	t->calls = session_counter(s, LOUPE_CNT_CALLS) + t->filtered_in_kernel;
	t->sampled_out = session_counter(s, LOUPE_CNT_SAMPLED_OUT);
	if (t->events + t->lost + t->sampled_out)
		t->capture_rate = (double)t->events / (t->events + t->lost + t->sampled_out);
	else
		t->capture_rate = 1;
}

/* Every named counter, the runtime's then the gadget's, with its value. */
static void for_each_counter(struct session *s, gadget_stat_fn fn, void *ctx)
{
	const struct gadget_counter *gc;
	unsigned int i;

	for (i = 0; i < LOUPE_CNT_GADGET; i++)
		if (base_counter_names[i])
			fn(base_counter_names[i], session_counter(s, i), ctx);
	for (gc = s->gadget->counters, i = LOUPE_CNT_GADGET; gc && gc->name; gc++, i++)
		fn(gc->name, session_counter(s, i), ctx);
	if (s->gadget->stats)
		s->gadget->stats(s, fn, ctx);
}

static void json_counter(const char *name, uint64_t v, void *ctx)
{
	fprintf(stderr, ",\"%s\":%llu", name, (unsigned long long)v);
}

static void text_counter(const char *name, uint64_t v, void *ctx)
{
	if (v)
		fprintf(stderr, ", %llu %s", (unsigned long long)v, name);
}

static void print_stats_json(struct session *s, const struct tally *t, double secs, double rate)
{
	fprintf(stderr,
		"{\"stats\":{\"gadget\":\"%s\",\"duration_s\":%.3f,\"seen\":%llu,\"events\":%llu,"
		"\"lost\":%llu,\"lost_ring_full\":%llu,\"lost_at_exit\":%llu,"
		"\"lost_undecodable\":%llu,\"lost_dropped\":%llu,\"unaccounted\":%lld,"
		"\"truncated\":%llu,\"rows\":%llu,\"bytes\":%llu,\"events_per_s\":%.1f,"
		"\"probe_misses\":%llu,\"filtered\":%llu,\"calls\":%llu,\"filtered_in_kernel\":%llu,"
		"\"sampled_out\":%llu,\"capture_rate\":%.4f",
		s->gadget->name, secs, (unsigned long long)t->seen, (unsigned long long)t->events,
		(unsigned long long)t->lost, (unsigned long long)t->lost_ring_full,
		(unsigned long long)t->lost_at_exit, (unsigned long long)t->lost_undecodable,
		(unsigned long long)t->lost_dropped, (long long)t->unaccounted,
		(unsigned long long)t->truncated, (unsigned long long)s->rows,
		(unsigned long long)s->bytes, rate, (unsigned long long)t->probe_misses,
		(unsigned long long)t->filtered, (unsigned long long)t->calls,
		(unsigned long long)t->filtered_in_kernel, (unsigned long long)t->sampled_out,
		t->capture_rate);
	for_each_counter(s, json_counter, NULL);
	fputs("}}\n", stderr);
}

static void print_lost_reasons(const struct tally *t)
{
	const struct {
		uint64_t n;
		const char *why;
	} reasons[] = {
		{ t->lost_ring_full, "ring buffer full" },
		{ t->lost_at_exit, "left at exit" },
		{ t->lost_undecodable, "undecodable" },
		{ t->lost_dropped, "dropped" },
	};
	const char *sep = " (";

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (!reasons[i].n)
			continue;
		fprintf(stderr, "%s%llu %s", sep, (unsigned long long)reasons[i].n, reasons[i].why);
		sep = ", ";
	}
	if (t->lost)
		fputc(')', stderr);
}

static void print_stats_text(struct session *s, const struct tally *t, double secs, double rate)
{
	fprintf(stderr, "loupe: %s: %.2fs, %llu events", s->gadget->name, secs,
		(unsigned long long)t->events);
	if (s->gadget->counts_bytes)
		fprintf(stderr, ", %llu bytes captured", (unsigned long long)s->bytes);
	fprintf(stderr, ", %llu lost", (unsigned long long)t->lost);
	print_lost_reasons(t);
	fprintf(stderr, ", %.1f events/s", rate);
	if (t->truncated)
		fprintf(stderr, ", %llu truncated", (unsigned long long)t->truncated);
	if (t->probe_misses)
		fprintf(stderr, ", %llu probe_misses", (unsigned long long)t->probe_misses);
	if (t->filtered)
		fprintf(stderr, ", %llu filtered (--container)", (unsigned long long)t->filtered);
	fprintf(stderr, "; %llu calls, %llu filtered in the kernel", (unsigned long long)t->calls,
		(unsigned long long)t->filtered_in_kernel);
	if (t->sampled_out)
		fprintf(stderr, ", %llu sampled out", (unsigned long long)t->sampled_out);
	fprintf(stderr, ", capture rate %.1f%%", 100 * t->capture_rate);
	for_each_counter(s, text_counter, NULL);
	fputc('\n', stderr);
}

void print_stats(struct session *s, double secs, bool json)
{
	struct tally t;
	double rate;

	tally(s, &t);
	rate = secs > 0 ? t.events / secs : 0;
	if (json)
		print_stats_json(s, &t, secs, rate);
	else
		print_stats_text(s, &t, secs, rate);
	if (t.unaccounted)
		loupe_warn(
			"the kernel produced %llu events; %llu were shown, %llu filtered and %llu "
			"counted lost: %lld unaccounted for (a loupe bug, please report it)",
			(unsigned long long)t.seen, (unsigned long long)t.events,
			(unsigned long long)t.filtered, (unsigned long long)t.lost,
			(long long)t.unaccounted);
	if (t.probe_misses)
		loupe_warn("the kernel skipped %llu runs of loupe's programs (another BPF program "
			   "was running on that CPU): what they would have seen is not counted",
			   (unsigned long long)t.probe_misses);
}

/*
 * After detaching: read until every record the programs reserved has been
 * read, however large the buffers.  A program still finishing on another
 * CPU holds a record it has not submitted yet, and the reader stops there:
 * wait for it.  Records that never come (a kernel bug) are counted after two
 * seconds without progress, never waited for forever nor dropped silently.
 */
static bool all_read(struct session **ss, int n, uint64_t *reserved)
{
	bool done = true;

	for (int k = 0; k < n; k++) {
		reserved[k] = session_counter(ss[k], LOUPE_CNT_RECORDS);
		done &= ss[k]->records >= reserved[k];
	}
	return done;
}

static uint64_t records_read(struct session **ss, int n)
{
	uint64_t sum = 0;

	for (int k = 0; k < n; k++)
		sum += ss[k]->records;
	return sum;
}

void drain_rings(struct session **ss, int n, struct ring_buffer *rb)
{
	double last_progress = loupe_now_s();
	uint64_t reserved[MAX_GADGETS] = {}, before;
	int settled = 0;

	for (;;) {
		before = records_read(ss, n);
		ring_buffer__consume(rb);
		/* Twice, 10 ms apart: a program that had not reserved yet is done too. */
		settled = all_read(ss, n, reserved) ? settled + 1 : 0;
		if (settled == 2)
			break;
		if (records_read(ss, n) != before)
			last_progress = loupe_now_s();
		else if (loupe_now_s() - last_progress > 2.0)
			break;
		usleep(settled ? 10000 : 1000);
	}
	for (int k = 0; k < n; k++)
		if (reserved[k] > ss[k]->records)
			ss[k]->left_at_exit = reserved[k] - ss[k]->records;
}

/* Events lost or truncated so far by a full ring buffer: the warning while running. */
uint64_t session_losses(struct session *s)
{
	return session_counter(s, LOUPE_CNT_RINGBUF_LOST) + session_counter(s, LOUPE_CNT_PART_LOST);
}

/* --- the books as Prometheus metrics ---------------------------------------------------- */

static void metric_counter_cb(const char *name, uint64_t v, void *ctx)
{
	const struct run_metrics *rm = ((void **)ctx)[0];
	const char *gadget = ((void **)ctx)[1];

	metric_set(rm->counters, (const char *const[]){ gadget, name }, v);
}

int run_metrics_init(struct run_metrics *rm, struct metrics *m)
{
	rm->events = metrics_counter(m, "loupe_events_total", "events shown", "gadget");
	rm->seen = metrics_counter(m, "loupe_seen_total", "events the kernel produced", "gadget");
	rm->lost =
		metrics_counter(m, "loupe_lost_total", "events lost, by reason", "gadget,reason");
	rm->truncated = metrics_counter(m, "loupe_truncated_total",
					"events shown with records missing", "gadget");
	rm->filtered = metrics_counter(m, "loupe_filtered_total",
				       "events --container turned away in user space", "gadget");
	rm->bytes = metrics_counter(m, "loupe_bytes_total", "payload bytes captured", "gadget");
	rm->calls = metrics_counter(m, "loupe_calls_total",
				    "calls the gadget's hooks saw, before any filter", "gadget");
	rm->calls_filtered = metrics_counter(m, "loupe_calls_filtered_total",
					     "calls turned away by the filters in the kernel",
					     "gadget");
	rm->sampled_out = metrics_counter(m, "loupe_sampled_out_total",
					  "calls skipped by --sample", "gadget");
	rm->counters = metrics_counter(m, "loupe_gadget_counter_total",
				       "the runtime's and each gadget's own counters (statistics)",
				       "gadget,counter");
	return rm->events && rm->counters ? 0 : -ENOMEM;
}

/* The books of every session into their families (once a second, and at exit). */
void run_metrics_update(const struct run_metrics *rm, struct session **ss, int n)
{
	for (int k = 0; k < n; k++) {
		const char *g = ss[k]->gadget->name;
		const char *const gl[] = { g };
		void *ctx[2] = { (void *)rm, (void *)g };
		struct tally t;

		tally(ss[k], &t);
		metric_set(rm->events, gl, t.events);
		metric_set(rm->seen, gl, t.seen);
		metric_set(rm->truncated, gl, t.truncated);
		metric_set(rm->filtered, gl, t.filtered);
		metric_set(rm->bytes, gl, ss[k]->bytes);
		metric_set(rm->calls, gl, t.calls);
		metric_set(rm->calls_filtered, gl, t.filtered_in_kernel);
		metric_set(rm->sampled_out, gl, t.sampled_out);
		metric_set(rm->lost, (const char *const[]){ g, "ring_full" }, t.lost_ring_full);
		metric_set(rm->lost, (const char *const[]){ g, "at_exit" }, t.lost_at_exit);
		metric_set(rm->lost, (const char *const[]){ g, "undecodable" }, t.lost_undecodable);
		metric_set(rm->lost, (const char *const[]){ g, "dropped" }, t.lost_dropped);
		for_each_counter(ss[k], metric_counter_cb, ctx);
	}
}
