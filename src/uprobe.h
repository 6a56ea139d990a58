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
#include <linux/types.h>

struct bpf_program;
struct session;

struct lib_list {
	struct lib_entry {
		char path[PATH_MAX];
		dev_t dev;
		ino_t ino;
		unsigned int kind;	 /* the caller's, e.g. what was found there */
		unsigned long image_end; /* the caller's: end of the loaded image */
	} * v;
	int n;
	size_t cap;
};

/*
 * Every file whose name starts with `prefix` (e.g. "libssl.so") found in
 * the ld.so.cache and the standard library directories of the file system
 * at `root` ("" for ours, "/proc/PID/root" for a process's), one per inode.
 */
int find_libraries(const char *root, const char *prefix, struct lib_list *out);
/* Add one path; returns 0, 1 if the same file is already listed, or -errno. */
int lib_list_add(struct lib_list *l, const char *path);
void lib_list_free(struct lib_list *l);
/* The entry of the file at path (same device and inode), or NULL. */
struct lib_entry *lib_list_get(struct lib_list *l, const char *path);

/* One function to look up: found, its file offset and its address in the file. */
struct elf_func {
	const char *name;
	bool found;
	unsigned long offset;
	unsigned long vaddr;
};

/*
 * Look up function symbols (.symtab and .dynsym) in an ELF file: found is
 * set for each name there, with the function's file offset (what a uprobe
 * wants) and address.  *image_end (if not NULL) gets the end of the highest
 * loadable segment (p_vaddr + p_memsz): the image size of a shared library
 * loaded at address 0.  Returns 0, -ENOENT, -EACCES or -ENOEXEC (not ELF).
 */
int elf_find_funcs(const char *path, struct elf_func *funcs, int n, unsigned long *image_end);

/*
 * The file offset of [vaddr, vaddr + len) through the loadable segments of
 * an open ELF (libelf's Elf *); false if the range is not all in the file.
 */
struct Elf;
bool elf_vaddr_offset(struct Elf *elf, unsigned long vaddr, unsigned long len,
		      unsigned long *off);

/* One line of /proc/PID/maps with a file behind it. */
struct proc_map {
	unsigned long start, end, offset;
	unsigned long ino;
	bool exec;	  /* mapped executable */
	const char *path; /* as the process sees it, maybe " (deleted)" */
};

/*
 * Call cb for every file-backed mapping of pid; stops when cb returns
 * non-zero.  Returns 0 or -errno (the process is gone, or unreadable).
 */
int proc_maps_foreach(int pid, int (*cb)(const struct proc_map *m, void *ctx), void *ctx);

/*
 * Attach prog at file offset `offset` of path (func names it in messages) for
 * every process; the link is kept by the session.
 */
int uprobe_attach(struct session *s, struct bpf_program *prog, const char *path, const char *func,
		  unsigned long offset, bool retprobe);
/* The same with a BPF attach cookie (bpf_get_attach_cookie, 5.15+). */
int uprobe_attach_cookie(struct session *s, struct bpf_program *prog, const char *path,
			 const char *func, unsigned long offset, bool retprobe, __u64 cookie);

/*
 * A uprobe_multi BPF link (Linux 6.6+): prog on `cnt` offsets of path, for
 * every process.  No perf event behind it, so attaching and detaching do not
 * serialize on the kernel's event mutex.  Returns the link fd or -errno.
 * prog must be loaded with expected_attach_type LOUPE_BPF_TRACE_UPROBE_MULTI.
 */
#define LOUPE_BPF_TRACE_UPROBE_MULTI 48 /* libbpf 1.1's headers predate it */
int uprobe_multi_link(int prog_fd, const char *path, const unsigned long *offsets,
		      const __u64 *cookies, unsigned int cnt, bool retprobe);

#endif /* LOUPE_UPROBE_H */
