// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The gadget registry.  Each gadget drops a pointer into the loupe_gadgets
 * linker section (LOUPE_GADGET); the linker gives us the bounds.  Weak, so
 * that test programs linking a subset of the runtime still link.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gadget.h"

extern const struct gadget *const __start_loupe_gadgets[] __attribute__((weak));
extern const struct gadget *const __stop_loupe_gadgets[] __attribute__((weak));

static const struct gadget *sorted[32];
static size_t nr_sorted;
static bool sorted_done;

static int cmp_gadget(const void *a, const void *b)
{
	const struct gadget *const *ga = a, *const *gb = b;

	return strcmp((*ga)->name, (*gb)->name);
}

static void sort_gadgets(void)
{
	const struct gadget *const *g;

	if (sorted_done)
		return;
	sorted_done = true;
	if (!__start_loupe_gadgets)
		return;
	for (g = __start_loupe_gadgets; g < __stop_loupe_gadgets; g++)
		if (nr_sorted < sizeof(sorted) / sizeof(sorted[0]))
			sorted[nr_sorted++] = *g;
	qsort(sorted, nr_sorted, sizeof(sorted[0]), cmp_gadget);
}

size_t gadget_count(void)
{
	sort_gadgets();
	return nr_sorted;
}

const struct gadget *gadget_at(size_t i)
{
	sort_gadgets();
	return i < nr_sorted ? sorted[i] : NULL;
}

const struct gadget *gadget_find(const char *name)
{
	sort_gadgets();
	for (size_t i = 0; i < nr_sorted; i++)
		if (!strcmp(sorted[i]->name, name))
			return sorted[i];
	return NULL;
}

const void *gadget_object_bytes(const char *name, size_t *size)
{
	const struct gadget *g = gadget_find(name);

	if (!g || !g->skeleton)
		return NULL;
	return g->skeleton->elf_bytes(size);
}

const char *gadget_description(const char *name)
{
	const struct gadget *g = gadget_find(name);

	return g ? g->summary : NULL;
}

/* "  name   summary" lines, for the help of `loupe` and `loupe trace`. */
void gadgets_print(FILE *fp)
{
	for (size_t i = 0; i < gadget_count(); i++)
		fprintf(fp, "  %-14s %s\n", gadget_at(i)->name, gadget_at(i)->summary);
}
