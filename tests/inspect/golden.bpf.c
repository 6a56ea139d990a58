// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The shape of Inspektor Gadget's own fixture (gadgets/ci/image_inspect),
 * written afresh from its description: the expected diagrams in
 * golden.flowchart / golden.sequence are the ones IG's test pins.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} map1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} map2 SEC(".maps");

const volatile __u32 ifindex = 0;
const volatile __u64 targ_ms = 0;

/* Update map2. */
SEC("tracepoint/net/net_dev_queue")
int qdisc_enqueue(void *ctx)
{
	__u32 key = ifindex;
	__u64 val = 1;

	bpf_map_update_elem(&map2, &key, &val, BPF_ANY);
	return 0;
}

/* Look up map1; when missing, create the entry and look it up again. */
SEC("tracepoint/net/net_dev_xmit")
int qdisc_dequeue(void *ctx)
{
	__u32 key = ifindex;
	__u64 zero = 0, *val;

	val = bpf_map_lookup_elem(&map1, &key);
	if (!val) {
		bpf_map_update_elem(&map1, &key, &zero, BPF_NOEXIST);
		val = bpf_map_lookup_elem(&map1, &key);
		if (!val)
			return 0;
	}
	return *val > targ_ms;
}

/* Look up map2, then delete the entry. */
SEC("tracepoint/skb/consume_skb")
int consume_skb(void *ctx)
{
	__u32 key = ifindex;

	if (bpf_map_lookup_elem(&map2, &key))
		bpf_map_delete_elem(&map2, &key);
	return 0;
}

/* No map at all. */
SEC("tracepoint/skb/kfree_skb")
int kfree_skb(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
