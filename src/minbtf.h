/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef LOUPE_MINBTF_H
#define LOUPE_MINBTF_H

#include <stddef.h>

/*
 * Build, in a child process, the part of the running kernel's BTF that the
 * CO-RE relocations of the BPF ELF object `obj` need.  On success returns a
 * file descriptor (keep it open until the object is loaded) and writes a
 * path for bpf_object_open_opts.btf_custom_path; a negative errno otherwise,
 * in which case load with the full kernel BTF.
 */
int minbtf_create(const void *obj, size_t obj_size, char *path, size_t path_len);

#endif /* LOUPE_MINBTF_H */
