// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// FUZZ_SRCS: src/output.c
/*
 * JSON and column escaping (src/output.c) of any bytes, with what the
 * README promises checked: a JSON string decodes back to exactly the bytes;
 * text_escape() shows a prefix of them, escaped, as long as fits; a row,
 * in columns or JSON, is printable ASCII and adds no line of its own (the
 * bytes cannot forge output).  The first bytes choose widths, the rest are
 * the payload; seeds are captured payloads (fuzz/make-corpus.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "lib/expect.h"

static int unhex(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* JSON: "..." of printable ASCII whose \" \\ \u00XX decode to the input. */
static void check_json_string(const uint8_t *data, size_t size)
{
	char *out = NULL;
	size_t len = 0, i, k = 0;
	FILE *fp = open_memstream(&out, &len);

	expect(fp);
	json_write_string(fp, data, size);
	fclose(fp);
	expect(len >= 2 && out[0] == '"' && out[len - 1] == '"');
	for (i = 1; i < len - 1; k++) {
		int c = (unsigned char)out[i];

		expect(c >= 0x20 && c < 0x7f && c != '"');
		expect(k < size);
		if (c != '\\') {
			expect(data[k] == c);
			i++;
		} else if (out[i + 1] == '"' || out[i + 1] == '\\') {
			expect(data[k] == (unsigned char)out[i + 1]);
			i += 2;
		} else {
			expect(i + 6 <= len - 1 && !memcmp(out + i, "\\u00", 4));
			expect(unhex(out[i + 4]) >= 0 && unhex(out[i + 5]) >= 0);
			expect(data[k] == (unhex(out[i + 4]) << 4 | unhex(out[i + 5])));
			i += 6;
		}
	}
	expect(k == size);
	free(out);
}

/* How text_escape() writes a byte: its length, and the text in e. */
static size_t escape_of(uint8_t c, char e[5])
{
	char tmp[8];
	size_t n = text_escape(tmp, sizeof(tmp), &c, 1, NULL);

	memcpy(e, tmp, n + 1);
	return n;
}

/* The escaped text is a prefix of the input, and no byte more would have fit. */
static void check_text_escape(const uint8_t *data, size_t size, size_t dstlen)
{
	char *dst = malloc(dstlen ? dstlen : 1), e[5];
	size_t consumed = 99, n = text_escape(dst, dstlen, data, size, &consumed), o = 0;

	expect(dst);
	if (!dstlen) {
		expect(n == 0);
		free(dst);
		return;
	}
	expect(n < dstlen && strlen(dst) == n && consumed <= size);
	for (size_t i = 0; i < consumed; i++) {
		size_t m = escape_of(data[i], e);

		expect(o + m <= n && !memcmp(dst + o, e, m));
		o += m;
	}
	expect(o == n);
	if (consumed < size)
		expect(n + escape_of(data[consumed], e) > dstlen - 1);
	for (size_t i = 0; i < n; i++)
		expect(dst[i] >= 0x20 && dst[i] < 0x7f);
	free(dst);
}

enum { R_COMM, R_PID, R_DATA, R_HANDLE, R_OK, R_DELTA, R_TIME, R_LAT, R_NOTE, R_MAX };

static const struct field fields[] = {
	{ "comm", FT_STR, 0, 16, "" },	     { "pid", FT_U64, FIELD_RIGHT, 7, "" },
	{ "data", FT_BYTES, 0, 20, "" },     { "handle", FT_HEX, FIELD_HIDDEN, 10, "" },
	{ "ok", FT_BOOL, 0, 5, "" },	     { "delta", FT_S64, FIELD_RIGHT, 6, "" },
	{ "timestamp", FT_TIME, 0, 12, "" }, { "latency", FT_DURATION, FIELD_RIGHT, 9, "" },
	{ "note", FT_STR, 0, 10, "" },	     {},
};

/* A row of these bytes: printable ASCII, and exactly the lines it should have. */
static void check_row(const uint8_t *data, size_t size, enum output_mode mode, bool hex, int width,
		      size_t split)
{
	struct value v[R_MAX] = {};
	struct output_opts opts = { .mode = mode, .hex = hex, .width = width };
	struct output *o;
	char *out = NULL, err[128];
	size_t len = 0, lines = 0, want;
	uint64_t u = 0;

	memcpy(&u, data, size < 8 ? size : 8);
	v[R_COMM] = val_bytes(data, split);
	v[R_PID] = val_u64(u);
	v[R_DATA] = val_bytes(data + split, size - split);
	v[R_HANDLE] = val_u64(~u);
	v[R_OK] = val_bool(u & 1);
	v[R_DELTA] = val_s64((int64_t)u);
	/* Times come from the kernel's boot clock: within a few centuries of boot. */
	v[R_TIME] = val_u64(u >> 4);
	v[R_LAT] = val_u64(u >> 1);
	/* R_NOTE stays unset: an empty column, JSON null. */
	opts.fp = open_memstream(&out, &len);
	expect(opts.fp);
	o = output_new(fields, &opts, err, sizeof(err));
	expect(o);
	output_row(o, v);
	output_free(o);
	fclose(opts.fp);
	for (size_t i = 0; i < len; i++) {
		expect((out[i] >= 0x20 && out[i] < 0x7f) || out[i] == '\n');
		lines += out[i] == '\n';
	}
	expect(len && out[len - 1] == '\n');
	/* JSON: one line; columns: the header, the row, a dump line per 16 bytes. */
	want = mode == OUT_JSON ? 1 : 2 + (hex ? (size - split + 15) / 16 : 0);
	expect(lines == want);
	if (mode == OUT_JSON)
		expect(out[0] == '{' && len >= 2 && out[len - 2] == '}');
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	size_t split;

	if (!init) {
		boot_clock_init();
		init = true;
	}
	check_json_string(data, size);
	for (size_t dstlen = 0; dstlen < 6; dstlen++)
		check_text_escape(data, size, dstlen);
	check_text_escape(data, size, size ? data[0] : 7);
	check_text_escape(data, size, size * 4 + 1);
	if (size < 2)
		return 0;
	split = data[1] < size ? data[1] : size;
	check_row(data, size, OUT_JSON, false, 0, split);
	check_row(data, size, OUT_COLUMNS, data[0] & 1, data[0] >> 1, split);
	check_row(data, size, OUT_COLUMNS, false, 0, split);
	return 0;
}
