// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the runtime's pure logic: escaping, rendering, option values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gadget.h"
#include "output.h"

/* Decode our JSON string form back to bytes; -1 on anything not produced by it. */
static int json_decode(const char *s, size_t n, unsigned char *out, size_t *outlen)
{
	size_t i = 0, o = 0;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return -1;
	for (i = 1; i < n - 1; i++) {
		unsigned char c = s[i];

		if (c < 0x20 || c >= 0x7f || c == '"')
			return -1;	/* must have been escaped */
		if (c != '\\') {
			out[o++] = c;
			continue;
		}
		if (s[i + 1] == '\\' || s[i + 1] == '"') {
			out[o++] = s[++i];
		} else if (s[i + 1] == 'u' && !strncmp(s + i + 2, "00", 2)) {
			unsigned int v;

			if (sscanf(s + i + 4, "%2x", &v) != 1)
				return -1;
			out[o++] = v;
			i += 5;
		} else {
			return -1;
		}
	}
	*outlen = o;
	return 0;
}

static void test_json_every_byte_round_trips(void **state)
{
	unsigned char in[256 * 3], out[256 * 3];
	char *buf = NULL;
	size_t len = 0, outlen = 0;
	FILE *fp = open_memstream(&buf, &len);

	/* Every byte value, alone and next to others. */
	for (int i = 0; i < 256; i++) {
		in[i] = i;
		in[256 + 2 * i] = i;
		in[257 + 2 * i] = 255 - i;
	}
	json_write_string(fp, in, sizeof(in));
	fclose(fp);
	assert_int_equal(json_decode(buf, len, out, &outlen), 0);
	assert_int_equal(outlen, sizeof(in));
	assert_memory_equal(in, out, sizeof(in));
	free(buf);
}

/* The word-at-a-time path must agree with a byte-at-a-time reference. */
static void test_json_matches_reference(void **state)
{
	static unsigned char in[4096], out[4096];
	uint64_t x = 88172645463325252ULL;

	for (int round = 0; round < 200; round++) {
		char *buf = NULL;
		size_t len = 0, outlen = 0, n = 1 + round * 7 % 4000;
		FILE *fp = open_memstream(&buf, &len);

		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* Mostly text with a few specials, then pure random rounds. */
			in[i] = round < 100 ? (x % 10 ? 0x20 + x % 95 : x >> 56) : x >> 56;
		}
		json_write_string(fp, in, n);
		fclose(fp);
		assert_int_equal(json_decode(buf, len, out, &outlen), 0);
		assert_int_equal(outlen, n);
		assert_memory_equal(in, out, n);
		free(buf);
	}
}

static void test_json_forms(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	json_write_string(fp, "a\"b\\c\n\x01\x7f\xff", 9);
	fclose(fp);
	assert_string_equal(buf, "\"a\\\"b\\\\c\\u000a\\u0001\\u007f\\u00ff\"");
	free(buf);
}

static void test_text_escape(void **state)
{
	char out[64];
	size_t used;

	text_escape(out, sizeof(out), "GET /\r\n\x1b[31m\\", 13, &used);
	assert_string_equal(out, "GET /\\r\\n\\x1b[31m\\\\");
	assert_int_equal(used, 13);

	/* Never split an escape: "ab\x01" into 5 bytes keeps "ab" only. */
	text_escape(out, 5, "ab\x01", 3, &used);
	assert_string_equal(out, "ab");
	assert_int_equal(used, 2);
}

static const struct field test_fields[] = {
	{ "comm", FT_STR, 0, 6, "c" },
	{ "pid", FT_U64, FIELD_RIGHT, 5, "p" },
	{ "secret", FT_U64, FIELD_HIDDEN, 4, "h" },
	{ "lat", FT_DURATION, FIELD_RIGHT, 8, "l" },
	{ "data", FT_BYTES, 0, 0, "d" },
	{},
};

static char *render(enum output_mode mode, const char *fields, int width, const struct value *v)
{
	struct output_opts oo = { .mode = mode, .fields = fields, .width = width };
	char *buf = NULL, err[128];
	size_t len = 0;
	struct output *o;

	oo.fp = open_memstream(&buf, &len);
	o = output_new(test_fields, &oo, err, sizeof(err));
	assert_non_null(o);
	output_row(o, v);
	output_free(o);
	fclose(oo.fp);
	return buf;
}

static void test_columns(void **state)
{
	struct value v[] = {
		val_bytes("cu\x01rl", 5), val_u64(42), val_u64(7), val_u64(1500),
		val_bytes("0123456789abcdefghij", 20),
	};
	char *s = render(OUT_COLUMNS, NULL, 40, v);

	/* Header, hidden field left out, right alignment, data cut to fit and marked. */
	assert_string_equal(s, "COMM     PID      LAT DATA\n"
			       "cu...     42   1.50us 0123456789abcde...\n");
	free(s);
}

static void test_json_row_and_fields(void **state)
{
	struct value v[] = {
		val_str("curl"), val_u64(42), val_u64(7), val_u64(1500), { .set = false },
	};
	char *s = render(OUT_JSON, NULL, 0, v);

	assert_string_equal(s, "{\"comm\":\"curl\",\"pid\":42,\"secret\":7,\"lat\":1500,"
			       "\"data\":null}\n");
	free(s);
	s = render(OUT_JSON, "pid,comm", 0, v);
	assert_string_equal(s, "{\"pid\":42,\"comm\":\"curl\"}\n");
	free(s);
}

static void test_unknown_field(void **state)
{
	struct output_opts oo = { .mode = OUT_JSON, .fields = "pid,nope", .fp = stdout };
	char err[128];

	assert_null(output_new(test_fields, &oo, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown field 'nope'"));
}

static void test_duration(void **state)
{
	char b[32];

	format_duration(b, sizeof(b), 999);
	assert_string_equal(b, "999ns");
	format_duration(b, sizeof(b), 1500);
	assert_string_equal(b, "1.50us");
	format_duration(b, sizeof(b), 2500000);
	assert_string_equal(b, "2.50ms");
	format_duration(b, sizeof(b), 3000000000ULL);
	assert_string_equal(b, "3.000s");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_every_byte_round_trips),
		cmocka_unit_test(test_json_matches_reference),
		cmocka_unit_test(test_json_forms),
		cmocka_unit_test(test_text_escape),
		cmocka_unit_test(test_columns),
		cmocka_unit_test(test_json_row_and_fields),
		cmocka_unit_test(test_unknown_field),
		cmocka_unit_test(test_duration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
