// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* src/stacks.c: kallsyms parsing, ELF symbolization of this very process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "stacks.h"

static const char kallsyms[] = "0000000000000000 A fixed_percpu_data\n"
			       "ffffffff81000000 T _stext\n"
			       "ffffffff81368000 T capable\n"
			       "ffffffff813681a0 T ns_capable\n"
			       "ffffffff81a82a80 T cap_capable\n"
			       "ffffffffc0201000 t helper_fn\t[mymod]\n";

static struct ksyms *load_sample(void)
{
	char path[] = "/tmp/loupe-test-kallsyms-XXXXXX";
	int fd = mkstemp(path);
	struct ksyms *ks;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, kallsyms, sizeof(kallsyms) - 1), sizeof(kallsyms) - 1);
	close(fd);
	ks = ksyms_load_file(path);
	unlink(path);
	return ks;
}

static void test_ksyms(void **state)
{
	struct ksyms *ks = load_sample();
	const struct ksym *s;
	char buf[128];

	assert_non_null(ks);
	assert_int_equal(ksyms_count(ks), 5); /* the zero address is dropped */
	s = ksyms_find(ks, 0xffffffff813681a5);
	assert_non_null(s);
	assert_string_equal(s->name, "ns_capable");
	assert_null(s->module);
	assert_string_equal(ksym_name(ks, 0xffffffff81a82b03, buf, sizeof(buf)),
			    "cap_capable+0x83");
	assert_string_equal(ksym_name(ks, 0xffffffffc0201010, buf, sizeof(buf)),
			    "helper_fn+0x10 [mymod]");
	assert_null(ksyms_find(ks, 0xffffffff80000000));
	/* Far past the last symbol (JIT code): an address, not a made-up offset. */
	assert_string_equal(ksym_name(ks, 0xffffffffc1000000, buf, sizeof(buf)),
			    "0xffffffffc1000000");
	ksyms_free(ks);
}

static void test_stack_format_kernel(void **state)
{
	struct ksyms *ks = load_sample();
	/* Return addresses: ns_capable+0x0 is really the end of capable's call... */
	uint64_t ips[] = { 0xffffffff81a82b03, 0xffffffff813681a0, 0xffffffff81368010, 0 };
	char buf[256], small[20];

	stack_format_kernel(ks, ips, 4, 0, buf, sizeof(buf));
	/* ...so it is looked up one byte earlier, inside capable. */
	assert_string_equal(buf, "cap_capable+0x83; capable+0x1a0; capable+0x10");
	stack_format_kernel(ks, ips, 4, 2, buf, sizeof(buf));
	assert_string_equal(buf, "capable+0x10");
	stack_format_kernel(ks, ips, 4, 0, small, sizeof(small));
	assert_string_equal(small + strlen(small) - 3, "...");
	ksyms_free(ks);
}

__attribute__((noinline, used)) static int loupe_unit_named_function(int x)
{
	return x * 3 + 1;
}

static void test_usyms_self(void **state)
{
	struct usyms *us = usyms_new();
	char name[128], buf[256];
	uint64_t addr = (uint64_t)(uintptr_t)loupe_unit_named_function + 4;

	assert_non_null(us);
	/* Our own executable (PIE: through the load bias). */
	assert_true(usym_lookup(us, getpid(), addr, name, sizeof(name)));
	assert_string_equal(name, "loupe_unit_named_function");
	usym_name(us, getpid(), addr, buf, sizeof(buf));
	assert_non_null(strstr(buf, "loupe_unit_named_function+0x4 (test_stacks)"));
	/* A shared library: libc's exported getpid. */
	assert_true(usym_lookup(us, getpid(), (uint64_t)(uintptr_t)getpid, name, sizeof(name)));
	assert_true(strstr(name, "getpid") != NULL);
	/* Nothing maps page 0. */
	assert_false(usym_lookup(us, getpid(), 16, name, sizeof(name)));
	assert_string_equal(usym_name(us, getpid(), 16, buf, sizeof(buf)), "0x10");
	usyms_free(us);
}

static void test_usyms_gone(void **state)
{
	struct usyms *us = usyms_new();
	char buf[64];

	/* A process that is gone: addresses, no crash. */
	assert_string_equal(usym_name(us, 0x3fffffff, 0x401000, buf, sizeof(buf)), "0x401000");
	usyms_free(us);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ksyms),
		cmocka_unit_test(test_stack_format_kernel),
		cmocka_unit_test(test_usyms_self),
		cmocka_unit_test(test_usyms_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
