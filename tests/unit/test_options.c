// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of options.c: the value parsers every option shares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gadget.h"

static void test_parse_size(void **state)
{
	uint64_t v = 0;

	assert_int_equal(parse_size("--x", "65536", 0, 1 << 30, &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(parse_size("--x", "256K", 0, 1 << 30, &v), 0);
	assert_int_equal(v, 256 << 10);
	assert_int_equal(parse_size("--x", "1MiB", 0, 1 << 30, &v), 0);
	assert_int_equal(v, 1 << 20);
	assert_int_equal(parse_size("--x", "2m", 0, 1 << 30, &v), 0);
	assert_int_equal(v, 2 << 20);
	assert_int_equal(exit_status(parse_size("--x", "abc", 0, 1 << 30, &v)), EXIT_USAGE);
	assert_int_equal(exit_status(parse_size("--x", "-1", 0, 1 << 30, &v)), EXIT_USAGE);
	assert_int_equal(exit_status(parse_size("--x", "1T", 0, 1 << 30, &v)), EXIT_USAGE);
	assert_int_equal(exit_status(parse_size("--x", "2G", 0, 1 << 30, &v)), EXIT_USAGE);
	assert_int_equal(exit_status(parse_size("--x", "", 0, 1 << 30, &v)), EXIT_USAGE);
}

static void test_parse_u64(void **state)
{
	uint64_t v = 0;

	assert_int_equal(parse_u64("--pid", "1234", 1, 100000, &v), 0);
	assert_int_equal(v, 1234);
	assert_int_equal(parse_u64("--pid", "0x10", 1, 100000, &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(exit_status(parse_u64("--pid", "12a", 1, 100000, &v)), EXIT_USAGE);
	assert_int_equal(exit_status(parse_u64("--pid", "-5", 1, 100000, &v)), EXIT_USAGE);
	assert_int_equal(exit_status(parse_u64("--pid", "0", 1, 100000, &v)), EXIT_USAGE);
	assert_int_equal(exit_status(parse_u64("--pid", "99999999999999999999999", 1, 100000, &v)), EXIT_USAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_u64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
