// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of passwd.c: names and ids from passwd(5) and group(5) files,
 * written here with the lines such files hold; and the machine's own files,
 * compared with what glibc's parser of them (fgetpwent, fgetgrent) reads.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "passwd.h"

static char path[] = "/tmp/loupe-test-passwd-XXXXXX";

static void write_file(const char *text)
{
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_passwd_lines(void **state)
{
	char name[32];
	uint32_t id = 7;

	write_file("root:x:0:0:root:/root:/bin/bash\n"
		   "# a comment:x:5:\n"
		   "+nisuser:x:6:6::/:\n"
		   "broken:x:notanumber:1::/:\n"
		   "toobig:x:4294967296:1::/:\n"
		   "short:x\n"
		   ":x:8:8::/:\n"
		   "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
		   "alias:x:1:1::/:\n"
		   "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
		   "last:x:4294967295:1::/:"); /* no newline at the end */
	assert_int_equal(idfile_name(path, 0, name, sizeof(name)), 0);
	assert_string_equal(name, "root");
	/* The first line with an id wins, as in glibc. */
	assert_int_equal(idfile_name(path, 1, name, sizeof(name)), 0);
	assert_string_equal(name, "daemon");
	assert_int_equal(idfile_name(path, 65534, name, sizeof(name)), 0);
	assert_string_equal(name, "nobody");
	assert_int_equal(idfile_name(path, 4294967295u, name, sizeof(name)), 0);
	assert_string_equal(name, "last");
	/* Comments, NIS entries, bad ids and empty names name no one. */
	assert_int_equal(idfile_name(path, 5, name, sizeof(name)), -ENOENT);
	assert_int_equal(idfile_name(path, 6, name, sizeof(name)), -ENOENT);
	assert_int_equal(idfile_name(path, 8, name, sizeof(name)), -ENOENT);
	assert_int_equal(idfile_name(path, 0xffff, name, sizeof(name)), -ENOENT);

	assert_int_equal(idfile_id(path, "alias", &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(idfile_id(path, "last", &id), 0);
	assert_int_equal(id, 4294967295u);
	assert_int_equal(idfile_id(path, "broken", &id), -ENOENT);
	assert_int_equal(idfile_id(path, "toobig", &id), -ENOENT);
	assert_int_equal(idfile_id(path, "+nisuser", &id), -ENOENT);
	assert_int_equal(idfile_id(path, "roo", &id), -ENOENT);
	assert_int_equal(idfile_id(path, "", &id), -ENOENT);
	/* A long name is cut to the buffer, terminated. */
	assert_int_equal(idfile_name(path, 65534, name, 4), 0);
	assert_string_equal(name, "nob");
	unlink(path);
}

static void test_group_lines(void **state)
{
	char name[32];
	uint32_t id;

	strcpy(path, "/tmp/loupe-test-passwd-XXXXXX");
	write_file("root:x:0:\nadm:x:4:syslog,alice\nnogroup:x:65534:\n");
	assert_int_equal(idfile_name(path, 4, name, sizeof(name)), 0);
	assert_string_equal(name, "adm");
	assert_int_equal(idfile_id(path, "nogroup", &id), 0);
	assert_int_equal(id, 65534);
	/* A member list is not a name. */
	assert_int_equal(idfile_id(path, "alice", &id), -ENOENT);
	unlink(path);
	/* No file: the reason. */
	assert_int_equal(idfile_name(path, 0, name, sizeof(name)), -ENOENT);
	assert_int_equal(idfile_id("/proc/self", "x", &id), -EISDIR);
}

/* The machine's own files, read by glibc's parser of them and by ours. */
static void test_host_files(void **state)
{
	char name[256];
	uint32_t id;
	int users = 0, groups = 0;
	struct passwd *pw;
	struct group *gr;
	FILE *f = fopen("/etc/passwd", "r");

	assert_non_null(f);
	while ((pw = fgetpwent(f))) {
		users++;
		assert_int_equal(id_lookup(ID_USER, pw->pw_name, &id), 0);
		assert_int_equal(id, pw->pw_uid);
		assert_int_equal(id_name(ID_USER, pw->pw_uid, name, sizeof(name)), 0);
		/* Another name may come first for the same uid. */
		assert_int_equal(idfile_id("/etc/passwd", name, &id), 0);
		assert_int_equal(id, pw->pw_uid);
	}
	fclose(f);
	assert_true(users > 1);
	f = fopen("/etc/group", "r");
	assert_non_null(f);
	while ((gr = fgetgrent(f))) {
		groups++;
		assert_int_equal(id_lookup(ID_GROUP, gr->gr_name, &id), 0);
		assert_int_equal(id, gr->gr_gid);
		assert_int_equal(id_name(ID_GROUP, gr->gr_gid, name, sizeof(name)), 0);
		assert_int_equal(idfile_id("/etc/group", name, &id), 0);
		assert_int_equal(id, gr->gr_gid);
	}
	fclose(f);
	assert_true(groups > 1);
	assert_int_equal(id_lookup(ID_USER, "no-such-user-of-loupe", &id), -ENOENT);
	assert_int_equal(id_name(ID_GROUP, 3999999999u, name, sizeof(name)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passwd_lines),
		cmocka_unit_test(test_group_lines),
		cmocka_unit_test(test_host_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
