// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The capabilities gadget's pure decoding: names, sets, syscalls, BTF prototypes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <bpf/btf.h>

#include "gadgets/capabilities/capabilities.h"

static void test_names(void **state)
{
	assert_string_equal(caps_name(0), "CAP_CHOWN");
	assert_string_equal(caps_name(23), "CAP_SYS_NICE");
	assert_string_equal(caps_name(40), "CAP_CHECKPOINT_RESTORE");
	assert_null(caps_name(41));
	assert_null(caps_name(-1u));
}

static void test_parse(void **state)
{
	assert_int_equal(caps_parse("CAP_SYS_NICE"), 23);
	assert_int_equal(caps_parse("cap_sys_nice"), 23);
	assert_int_equal(caps_parse("SYS_NICE"), 23);
	assert_int_equal(caps_parse("net_raw"), 13);
	assert_int_equal(caps_parse("23"), 23);
	assert_int_equal(caps_parse("63"), 63);
	assert_int_equal(caps_parse("64"), -1);
	assert_int_equal(caps_parse("23x"), -1);
	assert_int_equal(caps_parse("CAP_"), -1);
	assert_int_equal(caps_parse("CAP_NOPE"), -1);
	assert_int_equal(caps_parse(""), -1);
	assert_int_equal(caps_parse(NULL), -1);
}

static void test_format_set(void **state)
{
	char buf[1024], small[12];

	assert_string_equal(caps_format_set(0, buf, sizeof(buf)), "");
	assert_string_equal(caps_format_set(1ULL << 23, buf, sizeof(buf)), "CAP_SYS_NICE");
	assert_string_equal(caps_format_set(1 | (1ULL << 21) | (1ULL << 63), buf, sizeof(buf)),
			    "CAP_CHOWN|CAP_SYS_ADMIN|cap_63");
	/* The full 6.18 set fits. */
	caps_format_set((1ULL << 41) - 1, buf, sizeof(buf));
	assert_non_null(strstr(buf, "|CAP_CHECKPOINT_RESTORE"));
	/* Too small: whole names only, never half of one. */
	assert_string_equal(caps_format_set(3, small, sizeof(small)), "CAP_CHOWN");
}

static void test_syscall_str(void **state)
{
	char buf[32];

	assert_string_equal(caps_syscall_str(141, 0, buf, sizeof(buf)), "setpriority");
	assert_string_equal(caps_syscall_str(0, 0, buf, sizeof(buf)), "read");
	assert_string_equal(caps_syscall_str(165, 0, buf, sizeof(buf)), "mount");
	assert_string_equal(caps_syscall_str(308, 0, buf, sizeof(buf)), "setns");
	assert_string_equal(caps_syscall_str(452, 0, buf, sizeof(buf)), "fchmodat2");
	assert_string_equal(caps_syscall_str(9999, 0, buf, sizeof(buf)), "syscall_9999");
	assert_string_equal(caps_syscall_str(-1, 0, buf, sizeof(buf)), "unknown");
	assert_string_equal(caps_syscall_str(141, CAPS_F_NO_SYSCALL, buf, sizeof(buf)), "unknown");
	assert_string_equal(caps_syscall_str(97, CAPS_F_IA32, buf, sizeof(buf)), "ia32:97");
}

/* A BTF with cap_capable(cred, ns, cap, <name>). */
static struct btf *btf_with(const char *arg4, int nargs)
{
	struct btf *btf = btf__new_empty();
	int i32 = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	int u32 = btf__add_int(btf, "unsigned int", 4, 0);
	int ptr = btf__add_ptr(btf, 0);
	int proto = btf__add_func_proto(btf, i32);

	btf__add_func_param(btf, "cred", ptr);
	btf__add_func_param(btf, "target_ns", ptr);
	btf__add_func_param(btf, "cap", i32);
	if (nargs > 3)
		btf__add_func_param(btf, arg4, arg4 && !strcmp(arg4, "audit") ? i32 : u32);
	btf__add_func(btf, "cap_capable", BTF_FUNC_STATIC, proto);
	return btf;
}

static void test_arg4_from_btf(void **state)
{
	struct btf *btf;

	btf = btf_with("opts", 4);
	assert_int_equal(caps_arg4_from_btf(btf), CAPS_ARG4_OPTS);
	btf__free(btf);
	btf = btf_with("audit", 4);
	assert_int_equal(caps_arg4_from_btf(btf), CAPS_ARG4_AUDIT);
	btf__free(btf);
	/* A prototype we do not know is not guessed. */
	btf = btf_with("flags", 4);
	assert_int_equal(caps_arg4_from_btf(btf), CAPS_ARG4_NONE);
	btf__free(btf);
	btf = btf_with(NULL, 3);
	assert_int_equal(caps_arg4_from_btf(btf), CAPS_ARG4_NONE);
	btf__free(btf);
	btf = btf__new_empty();
	assert_int_equal(caps_arg4_from_btf(btf), CAPS_ARG4_NONE);
	btf__free(btf);
	assert_int_equal(caps_arg4_from_btf(NULL), CAPS_ARG4_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),	      cmocka_unit_test(test_parse),
		cmocka_unit_test(test_format_set),    cmocka_unit_test(test_syscall_str),
		cmocka_unit_test(test_arg4_from_btf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
