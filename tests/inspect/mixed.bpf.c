// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One object for the rules of loupe inspect (docs/inspect.md): merging,
 * deduplication, first-use order, an unused map, a program without maps,
 * perf and ring-buffer output, a stack map, a map pointer copied between
 * registers, a stale register and a call into a subprogram.  Each program
 * says what the analysis must see; the expected files were written from
 * these comments, not from the tool's output.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define HASH(name)                               \
	struct {                                 \
		__uint(type, BPF_MAP_TYPE_HASH); \
		__uint(max_entries, 64);         \
		__type(key, __u32);              \
		__type(value, __u64);            \
	} name SEC(".maps")

HASH(Zeta); /* uppercase: sorts before every lowercase name */
HASH(alpha);
HASH(beta);
HASH(gamma);

/* Never used: listed in the flowchart, absent from the sequence diagram. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 128);
	__type(key, __u32);
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

const volatile __u32 knob = 0;

/*
 * References: beta Lookup, alpha Update, beta Delete, alpha Lookup,
 * beta Update (the second beta Lookup is a duplicate).  Flowchart:
 * "Lookup+Update+Delete" to beta, then "Lookup+Update" to alpha.
 */
SEC("tracepoint/syscalls/sys_enter_read")
int a_merge(void *ctx)
{
	__u32 k = knob;
	__u64 v = 1;

	bpf_map_lookup_elem(&beta, &k);
	bpf_map_update_elem(&alpha, &k, &v, BPF_ANY);
	bpf_map_delete_elem(&beta, &k);
	bpf_map_lookup_elem(&alpha, &k);
	bpf_map_update_elem(&beta, &k, &v, BPF_ANY);
	bpf_map_lookup_elem(&beta, &k);
	return 0;
}

/*
 * perf_events EventOutput; rb EventOutput (output and reserve are one
 * reference: our extension); Zeta Lookup.
 */
SEC("tracepoint/syscalls/sys_exit_read")
int b_output(void *ctx)
{
	__u64 data = knob;
	__u32 k = 0;
	__u64 *slot;

	bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &data, sizeof(data));
	bpf_ringbuf_output(&rb, &data, sizeof(data), 0);
	slot = bpf_ringbuf_reserve(&rb, sizeof(*slot), 0);
	if (slot) {
		*slot = data;
		bpf_ringbuf_submit(slot, 0);
	}
	bpf_map_lookup_elem(&Zeta, &k);
	return 0;
}

/* stacks GetStackId (our extension), then gamma Update. */
SEC("kprobe/vfs_read")
int c_stack(void *ctx)
{
	__u32 id = bpf_get_stackid(ctx, &stacks, 0);
	__u64 one = 1;

	bpf_map_update_elem(&gamma, &id, &one, BPF_ANY);
	return 0;
}

/* Touches no map: only its node is drawn. */
SEC("kprobe/vfs_write")
int d_idle(void *ctx)
{
	return knob;
}

/*
 * The map pointer loaded once into r6 and copied into r1 for two calls.
 * Inspektor Gadget does not follow copies, so by default nothing is seen;
 * with --precise: alpha Lookup, alpha Update.
 */
SEC("kprobe/vfs_open")
int e_copy(void *ctx)
{
	asm volatile("r6 = %[alpha] ll\n"
		     "r1 = r6\n"
		     "call 1\n"
		     "r1 = r6\n"
		     "call 2\n" ::[alpha] "i"(&alpha)
		     : "r0", "r1", "r2", "r3", "r4", "r5", "r6");
	return 0;
}

/*
 * A stale register: after deleting from gamma, r1 is loaded from r7 (beta)
 * and then with 0.  By default (as Inspektor Gadget) r1 still names gamma:
 * gamma Delete, gamma Lookup, gamma Update.  With --precise: gamma Delete,
 * beta Lookup, and nothing for the last call.
 */
SEC("kprobe/vfs_fsync")
int f_stale(void *ctx)
{
	asm volatile("r7 = %[beta] ll\n"
		     "r1 = %[gamma] ll\n"
		     "call 3\n"
		     "r1 = r7\n"
		     "call 1\n"
		     "r1 = 0\n"
		     "call 2\n" ::[beta] "i"(&beta),
		     [gamma] "i"(&gamma)
		     : "r0", "r1", "r2", "r3", "r4", "r5", "r7");
	return 0;
}

static __noinline int probe_gamma(__u32 k)
{
	return bpf_map_lookup_elem(&gamma, &k) != 0;
}

/*
 * Calls a subprogram first, then updates Zeta.  Subprograms are scanned
 * after the program's own body (as cilium/ebpf links them): Zeta Update,
 * then gamma Lookup.
 */
SEC("kprobe/vfs_statx")
int g_subprog(void *ctx)
{
	__u32 k = knob;
	__u64 v = probe_gamma(k);

	bpf_map_update_elem(&Zeta, &k, &v, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
