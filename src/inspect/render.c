// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Mermaid, markdown and JSON renderings of an analysis.  The mermaid text
 * follows Inspektor Gadget's ebpf2graph line for line, so both tools draw
 * the same object the same way (docs/inspect.md lists the differences).
 */
#include <stdlib.h>
#include <string.h>

#include "inspect/inspect.h"

/* The verbs that merge into one flowchart edge, in label order. */
static const char *const merged_verbs[] = { "Lookup", "Update", "Delete" };

static int merge_index(const char *verb)
{
	for (int i = 0; i < 3; i++) {
		if (!strcmp(verb, merged_verbs[i]))
			return i;
	}
	return -1;
}

void inspect_flowchart(FILE *f, const struct inspect_result *res)
{
	fputs("flowchart LR\n", f);
	for (size_t i = 0; i < res->nr_maps; i++)
		fprintf(f, "%s[(\"%s\")]\n", res->maps[i].name, res->maps[i].name);

	for (size_t i = 0; i < res->nr_progs; i++) {
		const struct inspect_prog *p = &res->progs[i];
		bool *done = calloc(p->nr_edges ? p->nr_edges : 1, sizeof(*done));

		for (size_t k = 0; k < p->nr_edges; k++) {
			const struct inspect_edge *e = &p->edges[k];
			bool have[3] = { false, false, false };
			int n = 0;

			if (done && done[k])
				continue;
			if (merge_index(e->verb) < 0) {
				fprintf(f, "%s -- \"%s\" --> %s\n", p->name, e->verb, e->map);
				continue;
			}
			/* Lookup/Update/Delete of one map: one edge, here, at the first of them. */
			for (size_t j = k; j < p->nr_edges; j++) {
				int m = merge_index(p->edges[j].verb);

				if (m >= 0 && !strcmp(p->edges[j].map, e->map)) {
					have[m] = true;
					if (done)
						done[j] = true;
				}
			}
			fprintf(f, "%s -- \"", p->name);
			for (int m = 0; m < 3; m++) {
				if (have[m])
					fprintf(f, "%s%s", n++ ? "+" : "", merged_verbs[m]);
			}
			fprintf(f, "\" --> %s\n", e->map);
		}
		fprintf(f, "%s[\"%s\"]\n", p->name, p->name);
		free(done);
	}
}

void inspect_sequence(FILE *f, const struct inspect_result *res)
{
	const char **seen = NULL;
	size_t nr_seen = 0, cap = 0;

	fputs("sequenceDiagram\nbox eBPF Programs\n", f);
	for (size_t i = 0; i < res->nr_progs; i++)
		fprintf(f, "participant %s\n", res->progs[i].name);
	fputs("end\nbox eBPF Maps\n", f);

	/* Maps in order of first use, unused ones left out. */
	for (size_t i = 0; i < res->nr_progs; i++) {
		const struct inspect_prog *p = &res->progs[i];

		for (size_t k = 0; k < p->nr_edges; k++) {
			const char *m = p->edges[k].map;
			bool dup = false;

			for (size_t j = 0; j < nr_seen && !dup; j++)
				dup = !strcmp(seen[j], m);
			if (dup)
				continue;
			if (nr_seen == cap) {
				const char **n;

				cap = cap ? cap * 2 : 16;
				n = realloc(seen, cap * sizeof(*n));
				if (!n)
					break;
				seen = n;
			}
			seen[nr_seen++] = m;
			if (!inspect_internal_map(m))
				fprintf(f, "participant %s\n", m);
		}
	}
	free(seen);
	fputs("end\n", f);

	/* Every reference, unmerged. */
	for (size_t i = 0; i < res->nr_progs; i++) {
		const struct inspect_prog *p = &res->progs[i];

		for (size_t k = 0; k < p->nr_edges; k++)
			fprintf(f, "%s->>%s: %s\n", p->name, p->edges[k].map, p->edges[k].verb);
	}
}

void inspect_markdown(FILE *f, const struct inspect_result *res, const char *gadget,
		      const char *description, const char *cmd)
{
	fputs("# Developer Notes\n\n", f);
	fputs("This file complements the README file with implementation details specific to ", f);
	if (gadget) {
		size_t n = description ? strlen(description) : 0;

		fprintf(f, "the `%s` gadget", gadget);
		/* The description is a sentence; it goes in parentheses without its period. */
		if (n && description[n - 1] == '.')
			n--;
		if (n)
			fprintf(f, " (%.*s)", (int)n, description);
	} else {
		fputs("this object", f);
	}
	fputs(". It includes diagrams that illustrate how eBPF programs interact with eBPF maps. "
	      "These visualizations help clarify the internal data flow and logic, making it "
	      "easier to understand, maintain, and extend the gadget.\n\n",
	      f);
	fputs("## Program-Map interactions\n\n", f);
	fprintf(f,
		"The following diagrams are generated using the `%s` command. Note they are a "
		"best-effort representation of the actual interactions, as they do not account "
		"for conditionals in the code that may prevent certain program\xe2\x80\x93map "
		"interactions from occurring at runtime.\n\n",
		cmd);
	fputs("### Flowchart\n\n```mermaid\n", f);
	inspect_flowchart(f, res);
	fputs("```\n\n### Sequence Diagram\n\n```mermaid\n", f);
	inspect_sequence(f, res);
	fputs("```\n", f);
}

static void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void inspect_json(FILE *f, const struct inspect_result *res, const char *object)
{
	bool first = true;

	fputs("{\n  \"object\": ", f);
	json_str(f, object);
	fputs(",\n  \"programs\": [", f);
	for (size_t i = 0; i < res->nr_progs; i++) {
		const struct inspect_prog *p = &res->progs[i];

		fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
		json_str(f, p->name);
		fputs(", \"section\": ", f);
		json_str(f, p->section);
		fputs(", \"type\": ", f);
		json_str(f, p->type);
		fputs(", \"attach_type\": ", f);
		json_str(f, p->attach_type);
		fputc('}', f);
	}
	fputs(res->nr_progs ? "\n  ],\n  \"maps\": [" : "],\n  \"maps\": [", f);
	for (size_t i = 0; i < res->nr_maps; i++) {
		const struct inspect_map *m = &res->maps[i];

		fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
		json_str(f, m->name);
		fputs(", \"type\": ", f);
		json_str(f, m->type);
		if (m->have_meta)
			fprintf(f, ", \"key_size\": %u, \"value_size\": %u, \"max_entries\": %u}",
				m->key_size, m->value_size, m->max_entries);
		else
			fputs(", \"key_size\": null, \"value_size\": null, \"max_entries\": null}",
			      f);
	}
	fputs(res->nr_maps ? "\n  ],\n  \"edges\": [" : "],\n  \"edges\": [", f);
	for (size_t i = 0; i < res->nr_progs; i++) {
		const struct inspect_prog *p = &res->progs[i];

		for (size_t k = 0; k < p->nr_edges; k++) {
			fputs(first ? "\n    {\"program\": " : ",\n    {\"program\": ", f);
			first = false;
			json_str(f, p->name);
			fputs(", \"map\": ", f);
			json_str(f, p->edges[k].map);
			fputs(", \"verb\": ", f);
			json_str(f, p->edges[k].verb);
			fputc('}', f);
		}
	}
	fputs(first ? "]\n}\n" : "\n  ]\n}\n", f);
}
