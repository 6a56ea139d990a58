/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go executables, read from the file: the toolchain version (build info),
 * where functions lie (.symtab, or .gopclntab in stripped binaries) and
 * where each returns (its RET instructions: Go code cannot take return
 * probes, its stacks move).  x86-64 only.
 */
#ifndef LOUPE_GOBIN_H
#define LOUPE_GOBIN_H

#include <stdbool.h>

#define GO_MAX_RETS 64

/* One function to look up; name in, the rest out. */
struct go_func {
	const char *name; /* e.g. "crypto/tls.(*Conn).Write" */
	bool found;
	unsigned long vaddr, size;
	unsigned long offset;		 /* file offset of the entry: what a uprobe wants */
	unsigned long rets[GO_MAX_RETS]; /* file offsets of its RET instructions */
	int nr_rets;
	int err; /* found, but: -EILSEQ undecodable code, -E2BIG too many RETs */
};

struct go_info {
	char version[32]; /* "go1.19.8"; "" before Go 1.13 (no build info) */
	int major, minor; /* 1, 19; 0, 0 when the version cannot be parsed */
	bool regabi;	  /* arguments and results in registers (1.17+ on amd64) */
	bool from_symtab; /* functions found in .symtab, else in .gopclntab */
	long g_tls;	  /* where g lies from the thread pointer (FS): -8 unless cgo adds TLS */
};

/*
 * Read a Go executable: its version into *info, and funcs[0..n) looked up.
 * Returns 0; -ENODATA: not a Go program (no build info); -ENOEXEC: not ELF;
 * -EOPNOTSUPP: not x86-64; -EPROTO: no function table we can read;
 * -ENOENT, -EACCES...: the file could not be opened.
 */
int go_binary_read(const char *path, struct go_info *info, struct go_func *funcs, int n);

/* Parse "go1.19.8" (or "devel go1.22-abc...") into major and minor; false if not. */
bool go_version_parse(const char *v, int *major, int *minor);

#endif /* LOUPE_GOBIN_H */
