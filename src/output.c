// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Columns and JSON rendering of gadget events. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output.h"

#define MAX_FIELDS 64

struct output {
	const struct field *fields;
	struct output_opts opts;
	int sel[MAX_FIELDS];	/* indices of the printed fields, in order */
	int nr_sel;
	bool header_done;
};

size_t field_count(const struct field *fields)
{
	size_t n = 0;

	while (fields[n].name)
		n++;
	return n;
}

int field_index(const struct field *fields, const char *name)
{
	for (int i = 0; fields[i].name; i++)
		if (!strcmp(fields[i].name, name))
			return i;
	return -1;
}

struct output *output_new(const struct field *fields, const struct output_opts *opts, char *err,
			  size_t errlen)
{
	struct output *o = calloc(1, sizeof(*o));
	int n = (int)field_count(fields);

	if (!o) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o->fields = fields;
	o->opts = *opts;
	if (opts->fields) {
		char *list = strdup(opts->fields), *save = NULL, *tok;

		for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			int idx = field_index(fields, tok);

			if (idx < 0 && opts->some_fields)
				continue; /* another gadget's field: the caller checked it exists */
			if (idx < 0) {
				snprintf(err, errlen, "unknown field '%s' in --fields (see --help for the list)",
					 tok);
				free(list);
				free(o);
				return NULL;
			}
			if (o->nr_sel < MAX_FIELDS)
				o->sel[o->nr_sel++] = idx;
		}
		free(list);
		if (!o->nr_sel && !opts->some_fields) {
			snprintf(err, errlen, "--fields needs at least one field name");
			free(o);
			return NULL;
		}
	} else {
		/* JSON carries every field; columns only the visible ones. */
		for (int i = 0; i < n && i < MAX_FIELDS; i++)
			if (opts->mode == OUT_JSON || !(fields[i].flags & FIELD_HIDDEN))
				o->sel[o->nr_sel++] = i;
	}
	return o;
}

void output_free(struct output *o)
{
	if (!o)
		return;
	output_flush(o);
	free(o);
}

void output_flush(struct output *o)
{
	fflush(o->opts.fp);
}

/* --- escaping ------------------------------------------------------------ */

static const char hexdig[] = "0123456789abcdef";

/* Bytes that stand for themselves in a JSON string: printable ASCII but " and \. */
static bool json_plain[256];
static bool json_plain_init;

static void init_json_plain(void)
{
	for (int c = 0x20; c < 0x7f; c++)
		json_plain[c] = c != '"' && c != '\\';
	json_plain_init = true;
}

/*
 * True when none of the eight bytes needs escaping: no byte below 0x20, none
 * at or above 0x7f, no '"' and no '\\' (the classic has-zero-byte tricks).
 */
static inline bool word_is_plain(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t below_20 = (w - ones * 0x20) & ~w;
	uint64_t at_least_7f = w + ones * 0x01;	/* 0x7f..0xff all reach the high bit */
	uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');

	at_least_7f = (at_least_7f | w);
	quote = (quote - ones) & ~quote;
	bslash = (bslash - ones) & ~bslash;
	return !((below_20 | at_least_7f | quote | bslash) & highs);
}

/*
 * JSON string whose decoding, encoded back as latin-1, is exactly the input:
 * printable ASCII stands as itself, everything else is \u00XX.  Escaped into
 * one buffer and written once: a payload can be megabytes.
 */
void json_write_string(FILE *fp, const void *data, size_t len)
{
	static char *buf;
	static size_t cap;
	const unsigned char *p = data;
	size_t need = len * 6 + 2, o = 0;

	if (!json_plain_init)
		init_json_plain();
	if (need > cap) {
		char *nb = realloc(buf, need);

		if (!nb) {
			fputs("\"\"", fp);
			return;
		}
		buf = nb;
		cap = need;
	}
	buf[o++] = '"';
	for (size_t i = 0; i < len;) {
		unsigned char c;

		/* Eight plain bytes at a time: payloads are mostly text. */
		while (i + 8 <= len) {
			uint64_t w;

			memcpy(&w, p + i, 8);
			if (!word_is_plain(w))
				break;
			memcpy(buf + o, &w, 8);
			o += 8;
			i += 8;
		}
		if (i >= len)
			break;
		c = p[i++];
		if (json_plain[c]) {
			buf[o++] = c;
		} else if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = c;
		} else {
			memcpy(buf + o, "\\u00", 4);
			buf[o + 4] = hexdig[c >> 4];
			buf[o + 5] = hexdig[c & 15];
			o += 6;
		}
	}
	buf[o++] = '"';
	fwrite(buf, 1, o, fp);
}

/*
 * Escape for a terminal: printable ASCII as is, \r \n \t and \\ spelled out,
 * other bytes as \xNN.  Writes at most dstlen-1 characters plus a NUL and
 * never splits an escape; *consumed says how much input was shown.
 */
size_t text_escape(char *dst, size_t dstlen, const void *src, size_t len, size_t *consumed)
{
	const unsigned char *p = src;
	size_t o = 0, i;

	if (!dstlen)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = p[i];
		char e[4];
		size_t n;

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			e[0] = c;
			n = 1;
		} else if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
			e[0] = '\\';
			e[1] = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			n = 2;
		} else {
			e[0] = '\\';
			e[1] = 'x';
			e[2] = hexdig[c >> 4];
			e[3] = hexdig[c & 15];
			n = 4;
		}
		if (o + n > dstlen - 1)
			break;
		memcpy(dst + o, e, n);
		o += n;
	}
	dst[o] = '\0';
	if (consumed)
		*consumed = i;
	return o;
}

void hex_dump(FILE *fp, const void *data, size_t len, const char *indent)
{
	const unsigned char *p = data;

	for (size_t off = 0; off < len; off += 16) {
		size_t n = len - off < 16 ? len - off : 16;

		fprintf(fp, "%s%08zx  ", indent, off);
		for (size_t i = 0; i < 16; i++) {
			if (i < n)
				fprintf(fp, "%02x ", p[off + i]);
			else
				fputs("   ", fp);
			if (i == 7)
				fputc(' ', fp);
		}
		fputs(" |", fp);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = p[off + i];

			fputc(c >= 0x20 && c < 0x7f ? c : '.', fp);
		}
		fputs("|\n", fp);
	}
}

void format_duration(char *buf, size_t len, uint64_t ns)
{
	if (ns < 1000)
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.2fus", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.2fms", ns / 1e6);
	else
		snprintf(buf, len, "%.3fs", ns / 1e9);
}

/* --- time ---------------------------------------------------------------- */

static int64_t boot_to_real_ns;

int64_t loupe_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void boot_clock_init(void)
{
	/* Events carry CLOCK_BOOTTIME; the offset to wall-clock is fixed for a run. */
	boot_to_real_ns = loupe_clock_ns(CLOCK_REALTIME) - loupe_clock_ns(CLOCK_BOOTTIME);
}

int64_t boot_to_wall_ns(uint64_t boot_ns)
{
	return (int64_t)boot_ns + boot_to_real_ns;
}

double loupe_now_s(void)
{
	return loupe_clock_ns(CLOCK_MONOTONIC) / 1e9;
}

static void format_time(char *buf, size_t len, uint64_t boot_ns, bool iso)
{
	int64_t real = (int64_t)boot_ns + boot_to_real_ns;
	time_t sec = real / 1000000000;
	long nsec = real % 1000000000;
	struct tm tm;

	if (iso) {
		gmtime_r(&sec, &tm);
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nsec);
	} else {
		localtime_r(&sec, &tm);
		snprintf(buf, len, "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
			 nsec / 1000000);
	}
}

/* --- rendering ----------------------------------------------------------- */

static void upper(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && src[i]; i++)
		dst[i] = src[i] >= 'a' && src[i] <= 'z' ? src[i] - 32 : src[i];
	dst[i] = '\0';
}

/* Render a scalar value (not bytes) to text; returns buf. */
static const char *scalar_text(const struct field *f, const struct value *v, char *buf, size_t len,
			       bool json)
{
	switch (f->type) {
	case FT_U64:
		snprintf(buf, len, "%llu", (unsigned long long)v->u);
		break;
	case FT_S64:
		snprintf(buf, len, "%lld", (long long)v->i);
		break;
	case FT_HEX:
		snprintf(buf, len, json ? "\"0x%llx\"" : "0x%llx", (unsigned long long)v->u);
		break;
	case FT_BOOL:
		snprintf(buf, len, "%s", v->b ? "true" : "false");
		break;
	case FT_TIME:
		if (json) {
			char t[48];

			format_time(t, sizeof(t), v->u, true);
			snprintf(buf, len, "\"%s\"", t);
		} else {
			format_time(buf, len, v->u, false);
		}
		break;
	case FT_DURATION:
		if (json)
			snprintf(buf, len, "%llu", (unsigned long long)v->u);
		else
			format_duration(buf, len, v->u);
		break;
	default:
		buf[0] = '\0';
	}
	return buf;
}

#define TAG_WIDTH 12

static void print_header(struct output *o)
{
	FILE *fp = o->opts.fp;

	if (o->opts.tag)
		fprintf(fp, "%-*s %s", TAG_WIDTH, "GADGET", o->nr_sel ? "" : "\n");

	for (int k = 0; k < o->nr_sel; k++) {
		const struct field *f = &o->fields[o->sel[k]];
		char name[64];
		bool last = k == o->nr_sel - 1;

		upper(name, f->name, sizeof(name));
		if (last)
			fprintf(fp, "%s\n", name);
		else if (f->flags & FIELD_RIGHT)
			fprintf(fp, "%*s ", f->width, name);
		else
			fprintf(fp, "%-*s ", f->width, name);
	}
	o->header_done = true;
}

static void row_columns(struct output *o, const struct value *vals)
{
	FILE *fp = o->opts.fp;
	int used = 0;

	if (!o->header_done)
		print_header(o);
	if (o->opts.tag) {
		fprintf(fp, "%-*s %s", TAG_WIDTH, o->opts.tag, o->nr_sel ? "" : "\n");
		used += TAG_WIDTH + 1;
	}
	for (int k = 0; k < o->nr_sel; k++) {
		const struct field *f = &o->fields[o->sel[k]];
		const struct value *v = &vals[o->sel[k]];
		bool last = k == o->nr_sel - 1;
		char buf[512];
		const char *text = "";
		int width = f->width;

		if (last) {
			/* The last column takes the rest of the line, or all it needs. */
			width = o->opts.width ? o->opts.width - used : (int)sizeof(buf) - 1;
			if (width < 8)
				width = 8;
		}
		if (v->set) {
			if (f->type == FT_STR || f->type == FT_BYTES) {
				size_t consumed = 0, cap = (size_t)width + 1 < sizeof(buf) ?
								 (size_t)width + 1 : sizeof(buf);

				text_escape(buf, cap, v->s.p, v->s.len, &consumed);
				if (consumed < v->s.len && cap > 4) {
					/* Say it was cut: never pass a prefix off as the whole. */
					size_t keep = text_escape(buf, cap - 3, v->s.p, v->s.len, NULL);

					memcpy(buf + keep, "...", 4);
				}
				text = buf;
			} else {
				text = scalar_text(f, v, buf, sizeof(buf), false);
			}
		}
		if (last)
			fprintf(fp, "%s\n", text);
		else if (f->flags & FIELD_RIGHT)
			fprintf(fp, "%*s ", width, text);
		else
			fprintf(fp, "%-*s ", width, text);
		used += width + 1;
	}
	if (o->opts.hex) {
		for (int k = 0; k < o->nr_sel; k++) {
			const struct field *f = &o->fields[o->sel[k]];
			const struct value *v = &vals[o->sel[k]];

			if (f->type == FT_BYTES && v->set && v->s.len)
				hex_dump(fp, v->s.p, v->s.len, "    ");
		}
	}
}

static void row_json(struct output *o, const struct value *vals)
{
	FILE *fp = o->opts.fp;

	fputc('{', fp);
	if (o->opts.tag)
		fprintf(fp, "\"gadget\":\"%s\"%s", o->opts.tag, o->nr_sel ? "," : "");
	for (int k = 0; k < o->nr_sel; k++) {
		const struct field *f = &o->fields[o->sel[k]];
		const struct value *v = &vals[o->sel[k]];
		char buf[96];

		if (k)
			fputc(',', fp);
		fprintf(fp, "\"%s\":", f->name);
		if (!v->set)
			fputs("null", fp);
		else if (f->type == FT_STR || f->type == FT_BYTES)
			json_write_string(fp, v->s.p, v->s.len);
		else
			fputs(scalar_text(f, v, buf, sizeof(buf), true), fp);
	}
	fputs("}\n", fp);
}

void output_row(struct output *o, const struct value *vals)
{
	if (o->opts.mode == OUT_JSON)
		row_json(o, vals);
	else
		row_columns(o, vals);
	if (o->opts.row_end)
		o->opts.row_end(o->opts.row_end_arg);
}
