// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of enrich.c: endpoints and error names, as every gadget shows them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "output.h"

static void test_ipv4(void **state)
{
	uint8_t a[16] = { 127, 0, 0, 1 };
	char buf[64];

	assert_string_equal(format_endpoint(buf, sizeof(buf), AF_INET, a, 8080),
			    "127.0.0.1:8080");
	memset(a, 0, sizeof(a));
	assert_string_equal(format_endpoint(buf, sizeof(buf), AF_INET, a, 0), "0.0.0.0:0");
}

static void test_ipv6(void **state)
{
	uint8_t a[16] = {};
	char buf[64];

	a[15] = 1;
	assert_string_equal(format_endpoint(buf, sizeof(buf), AF_INET6, a, 443), "[::1]:443");
	inet_pton(AF_INET6, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", a);
	assert_string_equal(format_endpoint(buf, sizeof(buf), AF_INET6, a, 65535),
			    "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	/* An IPv4 peer of an IPv6 socket stays recognisable. */
	inet_pton(AF_INET6, "::ffff:10.0.0.1", a);
	assert_string_equal(format_endpoint(buf, sizeof(buf), AF_INET6, a, 80),
			    "[::ffff:10.0.0.1]:80");
}

static void test_unknown_family_and_truncation(void **state)
{
	uint8_t a[16] = { 1, 2, 3, 4 };
	char buf[64], small[8];

	assert_string_equal(format_endpoint(buf, sizeof(buf), 99, a, 7), "?:7");
	/* Never overflows, always terminated. */
	assert_string_equal(format_endpoint(small, sizeof(small), AF_INET, a, 80), "1.2.3.4");
}

static void test_errors(void **state)
{
	char buf[16];

	assert_string_equal(errno_text(buf, sizeof(buf), 0), "");
	assert_string_equal(errno_text(buf, sizeof(buf), 111), "ECONNREFUSED");
	assert_string_equal(errno_text(buf, sizeof(buf), 110), "ETIMEDOUT");
	assert_string_equal(errno_text(buf, sizeof(buf), 113), "EHOSTUNREACH");
	assert_string_equal(errno_text(buf, sizeof(buf), 101), "ENETUNREACH");
	assert_string_equal(errno_text(buf, sizeof(buf), 4000), "E4000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_unknown_family_and_truncation),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
