// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A valid BPF object with a map and no program: inspect must refuse it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lonely SEC(".maps");

char LICENSE[] SEC("license") = "Dual BSD/GPL";
