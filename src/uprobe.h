/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Finding user-space code to probe: libraries the dynamic loader would load,
 * and the symbols inside ELF files.  Shared by every uprobe-based gadget.
 */
#ifndef LOUPE_UPROBE_H
#define LOUPE_UPROBE_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct bpf_program;
struct session;

struct lib_list {
	struct lib_entry {
		char path[PATH_MAX];
		dev_t dev;
		ino_t ino;
	} *v;
	int n, cap;
};

/*
 * Every file whose name starts with `prefix` (e.g. "libssl.so") found in
 * /etc/ld.so.cache and the standard library directories, one per inode.
 */
int find_libraries(const char *prefix, struct lib_list *out);
/* Add one path; returns 0, 1 if the same file is already listed, or -errno. */
int lib_list_add(struct lib_list *l, const char *path);
void lib_list_free(struct lib_list *l);

/*
 * Look up function symbols (.symtab and .dynsym) in an ELF file.  found[i] is
 * set for names[i], and offsets[i] (if offsets is not NULL) to the function's
 * file offset, what a uprobe wants.  Returns 0, -ENOENT, -EACCES or -ENOEXEC
 * (not ELF).
 */
int elf_find_functions(const char *path, const char *const *names, bool *found,
		       unsigned long *offsets, int n);

/*
 * Attach prog at file offset `offset` of path (func names it in messages) for
 * every process; the link is kept by the session.
 */
int uprobe_attach(struct session *s, struct bpf_program *prog, const char *path,
		  const char *func, unsigned long offset, bool retprobe);

#endif /* LOUPE_UPROBE_H */
