/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the running kernel can do, probed once, so that gadgets choose their
 * programs before load.  Never a kernel version: a backported feature is
 * there whatever uname says.
 */
#ifndef LOUPE_KFEATURES_H
#define LOUPE_KFEATURES_H

#include <stdbool.h>

/* Classic tracepoint <category>/<name> exists (tracefs, mounted if needed). */
bool feature_tracepoint(const char *category, const char *name);
/* tp_btf/<name> can be used: the kernel BTF has btf_trace_<name>. */
bool feature_tp_btf(const char *name);
/* A kernel function is present in BTF (for fentry) with that name. */
bool feature_kernel_func(const char *name);
/* fentry programs load and attach here (BPF trampolines are allowed). */
bool feature_fentry(void);
/* kprobes exist (the PMU or tracefs kprobe_events). */
bool feature_kprobe(void);
bool feature_ringbuf(void);
/* A BPF helper is known to the kernel for kprobe-type programs. */
bool feature_helper(int helper_id);
/* uprobe_multi BPF links (Linux 6.6+): uprobes without a perf event each. */
bool feature_uprobe_multi(void);
/* Tracing programs accept hash maps that allocate on insert (Linux 6.1+). */
bool feature_hash_no_prealloc(void);
/* Mount tracefs at /sys/kernel/tracing when it is not: libbpf needs it for tracepoints. */
int feature_ensure_tracefs(void);
/* Free cached kernel BTF. */
void features_free(void);

#endif /* LOUPE_KFEATURES_H */
