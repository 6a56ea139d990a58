/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * loupe inspect: which BPF program touches which map, read from the object
 * file alone (no kernel, no root), drawn the way Inspektor Gadget's
 * `ig image inspect` draws it.  See docs/inspect.md for the rules.
 */
#ifndef LOUPE_INSPECT_H
#define LOUPE_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* `loupe inspect ...`; argv[0] is "inspect".  Returns the exit status. */
int cmd_inspect(int argc, char **argv);

struct inspect_opts {
	/*
	 * Follow `mov rX, rY` and forget registers that are overwritten or
	 * clobbered by calls.  Off by default: Inspektor Gadget remembers the
	 * last map loaded into each register and never forgets it.
	 */
	bool precise;
	/* Only the helpers Inspektor Gadget knows: no ring buffer, no stack maps. */
	bool ig_compat;
};

/* One (map, verb) reference of a program, in first-occurrence order. */
struct inspect_edge {
	char *map;	  /* map name, or whatever symbol the register held */
	const char *verb; /* static string: "Lookup", "EventOutput", ... */
};

struct inspect_prog {
	char *name;    /* C function name */
	char *section; /* ELF section, e.g. "uprobe/libssl:SSL_read" */
	struct inspect_edge *edges;
	size_t nr_edges;
	/* From libbpf, filled by inspect_add_meta(); NULL when unknown. */
	const char *type;
	const char *attach_type;
};

struct inspect_map {
	char *name;
	bool have_meta;	  /* libbpf could describe it */
	const char *type; /* e.g. "hash", NULL when unknown */
	uint32_t key_size, value_size, max_entries;
};

struct inspect_result {
	struct inspect_prog *progs; /* sorted by name */
	size_t nr_progs;
	struct inspect_map *maps; /* sorted by name, global-variable maps excluded */
	size_t nr_maps;
	char err[256]; /* why analysis failed, without "loupe: " */
};

/*
 * Analyse a BPF ELF object in memory.  Never trusts the input: on any
 * malformation it returns -1 with res->err set.  An object without
 * programs is an error too.  Free with inspect_free() in every case.
 */
int inspect_analyze(const void *buf, size_t size, const struct inspect_opts *opts,
		    struct inspect_result *res);
/* Program types, attach types and map shapes through libbpf; best effort. */
void inspect_add_meta(const void *buf, size_t size, const char *obj_name,
		      struct inspect_result *res);
void inspect_free(struct inspect_result *res);

/* Maps that back global variables, never drawn. */
bool inspect_internal_map(const char *name);

/* Renderers; each writes the whole text, every line ending in '\n'. */
void inspect_flowchart(FILE *f, const struct inspect_result *res);
void inspect_sequence(FILE *f, const struct inspect_result *res);
/* gadget and description may be NULL (a file); cmd: the command that made it. */
void inspect_markdown(FILE *f, const struct inspect_result *res, const char *gadget,
		      const char *description, const char *cmd);
void inspect_json(FILE *f, const struct inspect_result *res, const char *object);

#endif /* LOUPE_INSPECT_H */
