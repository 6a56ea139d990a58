// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of loupe inspect's renderers and input checks, on hand-built results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "inspect/inspect.h"

static char *render(void (*fn)(FILE *, const struct inspect_result *),
		    const struct inspect_result *res)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f, res);
	fclose(f);
	return buf;
}

/* One program whose references are given as "map:Verb" strings. */
static void one_prog(struct inspect_result *res, struct inspect_prog *p, struct inspect_edge *e,
		     const char *const *refs, size_t n)
{
	memset(res, 0, sizeof(*res));
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		const char *colon = strchr(refs[i], ':');

		e[i].map = strndup(refs[i], (size_t)(colon - refs[i]));
		e[i].verb = colon + 1;
	}
	p->name = "p";
	p->edges = e;
	p->nr_edges = n;
	res->progs = p;
	res->nr_progs = 1;
}

static void free_edges(struct inspect_edge *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].map);
}

static void test_merge_order_and_position(void **state)
{
	static const char *const refs[] = { "m:EventOutput", "a:Delete", "m:Update",
					    "a:Lookup",	     "m:Lookup", "b:Update" };
	struct inspect_result res;
	struct inspect_prog p;
	struct inspect_edge e[6];
	char *out;

	one_prog(&res, &p, e, refs, 6);
	out = render(inspect_flowchart, &res);
	/*
	 * EventOutput is never merged; Lookup+Update of m sits where its
	 * first Update was; labels are always in Lookup, Update, Delete order.
	 */
	assert_string_equal(out, "flowchart LR\n"
				 "p -- \"EventOutput\" --> m\n"
				 "p -- \"Lookup+Delete\" --> a\n"
				 "p -- \"Lookup+Update\" --> m\n"
				 "p -- \"Update\" --> b\n"
				 "p[\"p\"]\n");
	free(out);
	out = render(inspect_sequence, &res);
	assert_string_equal(out, "sequenceDiagram\nbox eBPF Programs\nparticipant p\nend\n"
				 "box eBPF Maps\nparticipant m\nparticipant a\nparticipant b\nend\n"
				 "p->>m: EventOutput\np->>a: Delete\np->>m: Update\n"
				 "p->>a: Lookup\np->>m: Lookup\np->>b: Update\n");
	free(out);
	free_edges(e, 6);
}

static void test_internal_maps_hidden_in_sequence(void **state)
{
	static const char *const refs[] = { ".rodata:Lookup", "x:Lookup" };
	struct inspect_result res;
	struct inspect_prog p;
	struct inspect_edge e[2];
	char *out;

	one_prog(&res, &p, e, refs, 2);
	out = render(inspect_sequence, &res);
	/* As in IG: no participant for .rodata, but the message stays. */
	assert_string_equal(out, "sequenceDiagram\nbox eBPF Programs\nparticipant p\nend\n"
				 "box eBPF Maps\nparticipant x\nend\n"
				 "p->>.rodata: Lookup\np->>x: Lookup\n");
	free(out);
	free_edges(e, 2);
}

static void test_internal_map_names(void **state)
{
	assert_true(inspect_internal_map(".rodata"));
	assert_true(inspect_internal_map(".rodata.str1.1"));
	assert_true(inspect_internal_map(".bss"));
	assert_true(inspect_internal_map(".data"));
	assert_true(inspect_internal_map(".kconfig"));
	assert_false(inspect_internal_map(".database"));
	assert_false(inspect_internal_map("rodata"));
	assert_false(inspect_internal_map("events"));
}

static void test_json_escapes(void **state)
{
	static const char *const refs[] = { "we\"ird\n:Lookup" };
	struct inspect_result res;
	struct inspect_prog p;
	struct inspect_edge e[1];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	one_prog(&res, &p, e, refs, 1);
	f = open_memstream(&buf, &len);
	inspect_json(f, &res, "a\\b");
	fclose(f);
	assert_non_null(strstr(buf, "\"object\": \"a\\\\b\""));
	assert_non_null(strstr(buf, "\"map\": \"we\\\"ird\\u000a\""));
	assert_non_null(strstr(buf, "\"type\": null"));
	free(buf);
	free_edges(e, 1);
}

static void test_rejects_garbage(void **state)
{
	static const unsigned char not_elf[] = "hello";
	/* An ELF identification and nothing else. */
	static const unsigned char ident[] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, 0 };
	struct inspect_result res;

	assert_int_equal(inspect_analyze(NULL, 0, NULL, &res), -1);
	inspect_free(&res);
	assert_int_equal(inspect_analyze(not_elf, sizeof(not_elf), NULL, &res), -1);
	assert_non_null(strstr(res.err, "not an ELF file"));
	inspect_free(&res);
	assert_int_equal(inspect_analyze(ident, sizeof(ident), NULL, &res), -1);
	assert_true(res.err[0] != '\0');
	inspect_free(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_order_and_position),
		cmocka_unit_test(test_internal_maps_hidden_in_sequence),
		cmocka_unit_test(test_internal_map_names),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_rejects_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
