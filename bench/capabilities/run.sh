#!/bin/bash
# Cost of `loupe trace capabilities` on the whole system, against a probe on
# every syscall (what Inspektor Gadget runs to know the syscall).  Builds its
# own tools with cc and clang, then measure.py prints Markdown tables: ratios
# to the untraced loop, median and worst round, all measured in one run (the
# VM is noisy: compare ratios), and what each BPF program costs per call.
#
#   bench/capabilities/run.sh [ROUNDS]      (root; loupe built with `make loupe`)
set -eu
cd "$(dirname "$0")/../.."
ROUNDS=${1:-5}
OUT=.output/bench/capabilities
LOUPE=$PWD/loupe
N_GETPID=${N_GETPID:-1000000}
N_PRIO=${N_PRIO:-100000}
mkdir -p "$OUT"

# --- build -------------------------------------------------------------------
ARCH=$(uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
cc -O2 -o "$OUT/loop" bench/capabilities/loop.c
clang -g -O2 -target bpf -D__TARGET_ARCH_$ARCH -Isrc/vmlinux \
	-c bench/capabilities/syscall_probe.bpf.c -o "$OUT/syscall_probe.bpf.o"
bpftool gen skeleton "$OUT/syscall_probe.bpf.o" name syscall_probe_bpf >"$OUT/syscall_probe.skel.h"
cc -O2 -I"$OUT" -o "$OUT/syscall_probe" bench/capabilities/syscall_probe.c -lbpf -lelf -lz
[ -x "$LOUPE" ] || { echo "build loupe first: make loupe" >&2; exit 1; }

exec python3 bench/capabilities/measure.py "$OUT" "$ROUNDS" "$N_GETPID" "$N_PRIO"
