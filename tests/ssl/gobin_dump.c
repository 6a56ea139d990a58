// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What loupe reads from a Go executable (src/gobin.c), printed for
 * tests/ssl/test_go_decoder.py to compare with Go's and binutils' own tools:
 *
 *   gobin_dump FILE < NAMES
 *     version go1.19.8 regabi 1 symtab 0
 *     func NAME VADDR SIZE OFFSET ERR RET_OFFSETS...     (or "missing NAME")
 *     insns NAME ADDR...                                 (every instruction start)
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gobin.h"
#include "x86len.h"

int main(int argc, char **argv)
{
	struct go_func *funcs = NULL;
	struct go_info info;
	char line[4096];
	int n = 0, cap = 0, err, fd;

	if (argc != 2) {
		fprintf(stderr, "usage: gobin_dump FILE < NAMES\n");
		return 2;
	}
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			funcs = realloc(funcs, cap * sizeof(*funcs));
		}
		funcs[n++].name = strdup(line);
	}
	err = go_binary_read(argv[1], &info, funcs, n);
	if (err) {
		printf("error %d\n", err);
		return 1;
	}
	printf("version %s regabi %d symtab %d\n", info.version, info.regabi, info.from_symtab);
	fd = open(argv[1], O_RDONLY);
	for (int i = 0; i < n; i++) {
		struct go_func *f = &funcs[i];
		uint8_t *code;
		size_t at = 0;

		if (!f->found) {
			printf("missing %s\n", f->name);
			continue;
		}
		printf("func %s %#lx %lu %#lx %d", f->name, f->vaddr, f->size, f->offset, f->err);
		for (int k = 0; k < f->nr_rets; k++)
			printf(" %#lx", f->rets[k]);
		printf("\ninsns %s", f->name);
		code = malloc(f->size + 1);
		if (code && pread(fd, code, f->size, f->offset) == (ssize_t)f->size) {
			struct x86_insn insn;
			int len;

			while (at < f->size &&
			       (len = x86_insn_decode(code + at, f->size - at, &insn)) > 0) {
				printf(" %lx", f->vaddr + at);
				at += len;
			}
		}
		printf("\n");
		free(code);
	}
	close(fd);
	for (int i = 0; i < n; i++)
		free((char *)funcs[i].name);
	free(funcs);
	return 0;
}
