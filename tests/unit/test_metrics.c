// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of metrics.c: the text exposition, histograms, escaping, bounded series. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

static char *render(struct metrics *m)
{
	char *page = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&page, &len);

	metrics_render(m, fp);
	fclose(fp);
	return page;
}

static void test_counter(void **state)
{
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(m, "x_total", "things", "a,b");
	char *page;

	metric_add(c, (const char *const[]){ "1", "y" }, 2);
	metric_add(c, (const char *const[]){ "1", "y" }, 3);
	metric_add(c, (const char *const[]){ "2", "y" }, 1);
	page = render(m);
	assert_non_null(strstr(page, "# HELP x_total things\n# TYPE x_total counter\n"));
	assert_non_null(strstr(page, "x_total{a=\"1\",b=\"y\"} 5\n"));
	assert_non_null(strstr(page, "x_total{a=\"2\",b=\"y\"} 1\n"));
	free(page);
	metrics_free(m);
}

static void test_histogram(void **state)
{
	static const double bounds[] = { 0.1, 1 };
	struct metrics *m = metrics_new();
	struct metric *h = metrics_histogram(m, "t_seconds", "time", "", bounds, 2);
	char *page;

	metric_observe(h, NULL, 0.05);
	metric_observe(h, NULL, 0.5);
	metric_observe(h, NULL, 5);
	page = render(m);
	/* Buckets are cumulative; +Inf holds every observation. */
	assert_non_null(strstr(page, "t_seconds_bucket{le=\"0.1\"} 1\n"));
	assert_non_null(strstr(page, "t_seconds_bucket{le=\"1\"} 2\n"));
	assert_non_null(strstr(page, "t_seconds_bucket{le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(page, "t_seconds_sum 5.55"));
	assert_non_null(strstr(page, "t_seconds_count 3\n"));
	free(page);
	metrics_free(m);
}

static void test_label_escaping(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	/* A command name is anyone's choice: quotes, backslashes, newlines, bytes. */
	metrics_write_label(fp, "a\"b\\c\nd\x01\xff");
	fclose(fp);
	assert_string_equal(out, "a\\\"b\\\\c\\nd??");
	free(out);
}

static void test_bounded_series(void **state)
{
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(m, "c_total", "x", "k");
	char key[16], *page;

	for (int i = 0; i < METRIC_MAX_SERIES + 10; i++) {
		snprintf(key, sizeof(key), "%d", i);
		metric_add(c, (const char *const[]){ key }, 1);
	}
	page = render(m);
	assert_non_null(strstr(page, "c_total{k=\"other\"} 10\n"));
	assert_null(strstr(page, "c_total{k=\"512\"}"));
	assert_non_null(strstr(page, "loupe_metrics_series_overflow_total{metric=\"c_total\"} 10\n"));
	free(page);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_bounded_series),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
