// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the x86-64 length decoder that finds Go functions' RETs
 * (src/x86len.c) and of the Go version parser (src/gobin.c).  The lengths
 * are objdump's for the same bytes; tests/ssl/test_go_decoder.py compares
 * whole Go binaries with objdump.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gobin.h"
#include "x86len.h"

struct insn_case {
	const char *hex;
	int len;
	bool ret;
};

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2)
		sscanf(hex, "%2hhx", &out[n++]);
	return n;
}

static void test_lengths(void **state)
{
	static const struct insn_case cases[] = {
		{ "c3", 1, true },		       /* ret */
		{ "c20800", 3, true },		       /* ret $8 */
		{ "66c7c03412", 5, false },	       /* mov $0x1234,%ax: imm16 with 0x66 */
		{ "48b88877665544332211", 10, false }, /* movabs imm64 (REX.W) */
		{ "c5f877", 3, false },		       /* vzeroupper: VEX, no ModRM */
		{ "c4e37d18c101", 6, false },	       /* vinsertf128: VEX 0F3A, imm8 */
		{ "62f1fd486f06", 6, false },	       /* vmovdqa64 (%rsi),%zmm0: EVEX */
		{ "8b042578563412", 7, false },	       /* SIB, no base: disp32 */
		{ "488b0578563412", 7, false },	       /* RIP-relative */
		{ "f6c101", 3, false },		       /* test $1,%cl: F6 /0 has imm8 */
		{ "f6d1", 2, false },		       /* not %cl: F6 /2 has none */
		{ "66f7c13412", 5, false },	       /* test $0x1234,%cx */
		{ "0f1f440000", 5, false },	       /* nopl 0(%rax,%rax,1) */
		{ "f30f1efa", 4, false },	       /* endbr64 */
		{ "0f8478563412", 6, false },	       /* je rel32 */
		{ "e878563412", 5, false },	       /* call rel32 */
		{ "a18877665544332211", 9, false },    /* movabs moffs64,%eax */
		{ "67a178563412", 6, false },	       /* addr32 mov moffs32,%eax */
		{ "c8080001", 4, false },	       /* enter $8,$1 */
		{ "660f3a0fc108", 6, false },	       /* palignr: 0F 3A, imm8 */
		{ "660f70c01b", 5, false },	       /* pshufd: 0F 70, imm8 */
		{ "0f0b", 2, false },		       /* ud2 */
		{ "cc", 1, false },		       /* int3 (Go's padding) */
		{ "f00fb10a", 4, false },	       /* lock cmpxchg */
		{ "4c8d642498", 5, false },	       /* lea -0x68(%rsp),%r12: Go's prologue */
		{ "49c7c0ffffffff", 7, false },	       /* mov $-1,%r8 */
	};
	struct x86_insn insn;
	uint8_t buf[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = unhex(cases[i].hex, buf);

		assert_int_equal(x86_insn_decode(buf, n, &insn), cases[i].len);
		assert_int_equal(x86_insn_is_ret(&insn), cases[i].ret);
		/* One byte short: never read past the end. */
		assert_int_equal(x86_insn_decode(buf, n - 1, &insn), -1);
	}
}

static void test_invalid(void **state)
{
	struct x86_insn insn;
	uint8_t push_es[] = { 0x06 }, prefixes[16];

	/* PUSH ES does not exist in 64-bit mode. */
	assert_int_equal(x86_insn_decode(push_es, sizeof(push_es), &insn), -1);
	/* Fifteen bytes at most: a run of prefixes is no instruction. */
	memset(prefixes, 0x66, sizeof(prefixes));
	assert_int_equal(x86_insn_decode(prefixes, sizeof(prefixes), &insn), -1);
	assert_int_equal(x86_insn_decode(prefixes, 0, &insn), -1);
}

/* A function of Go's: the RETs a linear walk finds (objdump's listing of the same bytes). */
static void test_walk(void **state)
{
	/* lea; cmp 0x10(%r14),%r12; jbe; sub $0xe8,%rsp; ret; int3; ret $0; ud2 */
	uint8_t code[64];
	size_t n = unhex("4c8d642498"
			 "4d3b6610"
			 "0f8678563412"
			 "4881ece8000000"
			 "c3"
			 "cc"
			 "c20000"
			 "0f0b",
			 code);
	size_t at = 0, rets[4], nr = 0;
	struct x86_insn insn;
	int len;

	while (at < n && (len = x86_insn_decode(code + at, n - at, &insn)) > 0) {
		if (x86_insn_is_ret(&insn))
			rets[nr++] = at;
		at += len;
	}
	assert_int_equal(at, n);
	assert_int_equal(nr, 2);
	assert_int_equal(rets[0], 22);
	assert_int_equal(rets[1], 24);
}

static void test_versions(void **state)
{
	int major = 0, minor = 0;

	assert_true(go_version_parse("go1.19.8", &major, &minor));
	assert_int_equal(major, 1);
	assert_int_equal(minor, 19);
	assert_true(go_version_parse("go1.16", &major, &minor));
	assert_int_equal(minor, 16);
	assert_true(go_version_parse("devel go1.22-4d9fbd8 Tue Nov 7 2023", &major, &minor));
	assert_int_equal(minor, 22);
	assert_true(go_version_parse("go1.21rc2", &major, &minor));
	assert_int_equal(minor, 21);
	assert_false(go_version_parse("gopher", &major, &minor));
	assert_false(go_version_parse("", &major, &minor));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_versions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
