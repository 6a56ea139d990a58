// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What Inspektor Gadget's trace_capabilities runs to know the syscall: a
 * program on every sys_enter and sys_exit of the system keeping the current
 * syscall per thread in a hash map.  Baseline for the benchmark only.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} current_syscall SEC(".maps");

SEC("raw_tracepoint/sys_enter")
int ig_cap_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 nr = ctx->args[1];

	bpf_map_update_elem(&current_syscall, &tid, &nr, BPF_ANY);
	return 0;
}

SEC("raw_tracepoint/sys_exit")
int ig_cap_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&current_syscall, &tid);
	return 0;
}
