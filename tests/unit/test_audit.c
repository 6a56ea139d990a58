// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the audit records: quoting, filters and files found, start/stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "audit.h"

static void test_quote(void **state)
{
	char buf[64];

	assert_string_equal(audit_quote(buf, sizeof(buf), "ssl"), "ssl");
	assert_string_equal(audit_quote(buf, sizeof(buf), "--comm curl"), "\"--comm curl\"");
	assert_string_equal(audit_quote(buf, sizeof(buf), "a\"b\\c"), "\"a\\\"b\\\\c\"");
	assert_string_equal(audit_quote(buf, sizeof(buf), "x\ny=1"), "\"x\\x0ay=1\"");
	assert_string_equal(audit_quote(buf, sizeof(buf), ""), "\"\"");
	/* Truncated, never unterminated. */
	assert_int_equal(strlen(audit_quote(buf, 8, "a b c d e f g h")), 7);
}

static void test_records(void **state)
{
	char dir[] = "/tmp/loupe-test-audit-XXXXXX", path[256], line[2][4096], *argv[16];
	int argc = 0;
	struct stat st;
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	argv[argc++] = "ssl";
	argv[argc++] = "--comm";
	argv[argc++] = "cu rl";
	argv[argc++] = "--pid=42";
	argv[argc++] = "--pcap";
	argv[argc++] = "/tmp/x.pcap";
	argv[argc++] = "--output-file=/tmp/ev.json";
	argv[argc++] = "--audit-log";
	argv[argc++] = path;
	argv[argc] = NULL;
	assert_false(audit_started());
	/* What the command-line parser does with those options. */
	audit_add_output("pcap", "/tmp/x.pcap");
	audit_add_output("events", "/tmp/ev.json");
	assert_int_equal(audit_set_log(path), 0);
	assert_int_equal(audit_start("ssl", "--comm cu rl --pid=42", argc, argv), 0);
	assert_true(audit_started());
	/* A second start (a gadget after the runtime) is a no-op. */
	assert_int_equal(audit_start("ssl", NULL, 0, NULL), 0);
	audit_stop(0, 12, 345, 1.5);
	assert_false(audit_started());
	audit_stop(0, 0, 0, 0); /* no second stop record */

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line[0], sizeof(line[0]), fp));
	assert_non_null(fgets(line[1], sizeof(line[1]), fp));
	assert_null(fgets(path + 200, 10, fp));
	fclose(fp);
	assert_non_null(strstr(line[0], "audit: event=start session="));
	assert_non_null(strstr(line[0], " gadget=ssl "));
	assert_non_null(strstr(line[0], " filters=\"--comm cu rl --pid=42\" "));
	assert_non_null(strstr(line[0], " outputs=\"pcap:/tmp/x.pcap events:/tmp/ev.json\" "));
	assert_non_null(strstr(line[0], " user="));
	assert_non_null(strstr(line[1], "audit: event=stop session="));
	assert_non_null(strstr(line[1], " status=0 duration_s=1.500 events=12 bytes=345"));
	/* The same session in both. */
	assert_memory_equal(strstr(line[0], "session="), strstr(line[1], "session="), 24);
	unlink(path);
	rmdir(dir);
}

static void test_unwritable(void **state)
{
	char *argv[] = { "ssl", "--audit-log", "/nonexistent/dir/audit.log", NULL };

	assert_int_equal(audit_set_log(argv[2]), 0);
	assert_true(audit_start("ssl", NULL, 3, argv) < 0);
	assert_false(audit_started());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_unwritable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
