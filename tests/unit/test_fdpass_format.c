// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of fdpass's file names: the kernel's record to what readlink shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gadgets/fdpass/fdpass.h"

/* A record with its name bytes right behind it, as the ring buffer delivers it. */
struct rec {
	struct fdpass_event e;
	char name[FDPASS_PATH_MAX];
};

static const char *fmt(struct rec *r, uint8_t kind, uint32_t magic, uint64_t ino, const char *name,
		       uint8_t flags)
{
	static char out[FDPASS_PATH_MAX + 64];
	size_t n;

	memset(&r->e, 0, sizeof(r->e));
	r->e.kind = kind;
	r->e.magic = magic;
	r->e.ino = ino;
	r->e.flags = flags;
	r->e.file_len = strlen(name);
	memcpy(r->name, name, r->e.file_len);
	n = fdpass_format_file(out, sizeof(out), &r->e);
	assert_int_equal(n, strlen(out));
	return out;
}

static void test_paths(void **state)
{
	static struct rec r;

	assert_string_equal(fmt(&r, FDPASS_KIND_PATH, 0x1021994, 7, "/tmp/x y", 0), "/tmp/x y");
	assert_string_equal(fmt(&r, FDPASS_KIND_PATH, 0, 7, "/tmp/gone", FDPASS_F_DELETED),
			    "/tmp/gone (deleted)");
	/* The root itself: nothing was walked. */
	assert_string_equal(fmt(&r, FDPASS_KIND_PATH, 0, 2, "", 0), "/");
	assert_string_equal(fmt(&r, FDPASS_KIND_PATH, 0, 2, "/c/d", FDPASS_F_TRUNCATED), ".../c/d");
}

static void test_made_up_names(void **state)
{
	static struct rec r;

	assert_string_equal(fmt(&r, FDPASS_KIND_DNAME, FDPASS_PIPEFS_MAGIC, 4242, "", 0),
			    "pipe:[4242]");
	assert_string_equal(fmt(&r, FDPASS_KIND_DNAME, FDPASS_SOCKFS_MAGIC, 77, "", 0),
			    "socket:[77]");
	assert_string_equal(fmt(&r, FDPASS_KIND_DNAME, FDPASS_ANON_INODE_MAGIC, 1, "[eventfd]", 0),
			    "anon_inode:[eventfd]");
	assert_string_equal(fmt(&r, FDPASS_KIND_DNAME, FDPASS_PIDFS_MAGIC, 9, "9", 0),
			    "anon_inode:[pidfd]");
	assert_string_equal(fmt(&r, FDPASS_KIND_DNAME, FDPASS_TMPFS_MAGIC, 3, "memfd:wl", 0),
			    "/memfd:wl (deleted)");
	assert_string_equal(fmt(&r, FDPASS_KIND_DNAME, 0x12345678, 3, "other", 0), "other");
	assert_string_equal(fmt(&r, FDPASS_KIND_NONE, 0, 0, "", 0), "");
}

static void test_bounds(void **state)
{
	static struct rec r;
	char small[8], big[FDPASS_PATH_MAX];
	size_t n;

	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	fmt(&r, FDPASS_KIND_PATH, 0, 1, big, FDPASS_F_DELETED);
	n = fdpass_format_file(small, sizeof(small), &r.e);
	assert_int_equal(n, sizeof(small) - 1);
	assert_string_equal(small, "/aaaaaa");
	/* A lying length never reads past the name buffer's bound. */
	r.e.file_len = 65535;
	n = fdpass_format_file(big, sizeof(big), &r.e);
	assert_true(n < sizeof(big));
	assert_int_equal(fdpass_format_file(small, 0, &r.e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_made_up_names),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
