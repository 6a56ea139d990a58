#!/bin/bash
# Cost of `loupe trace capabilities` on the whole system, against a probe on
# every syscall (what Inspektor Gadget runs to know the syscall).  Builds its
# own tools with cc and clang, then prints a Markdown table of ratios to the
# untraced loop, all measured in one run (the VM is noisy: compare ratios).
#
#   bench/capabilities/run.sh [ROUNDS]      (root; loupe built with `make loupe`)
set -eu
cd "$(dirname "$0")/../.."
ROUNDS=${1:-5}
OUT=.output/bench/capabilities
LOUPE=$PWD/loupe
N_GETPID=${N_GETPID:-2000000}
N_PRIO=${N_PRIO:-300000}
mkdir -p "$OUT"

# --- build -------------------------------------------------------------------
ARCH=$(uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
cc -O2 -o "$OUT/loop" bench/capabilities/loop.c
clang -g -O2 -target bpf -D__TARGET_ARCH_$ARCH -Isrc/vmlinux \
	-c bench/capabilities/syscall_probe.bpf.c -o "$OUT/syscall_probe.bpf.o"
bpftool gen skeleton "$OUT/syscall_probe.bpf.o" name syscall_probe_bpf >"$OUT/syscall_probe.skel.h"
cc -O2 -I"$OUT" -o "$OUT/syscall_probe" bench/capabilities/syscall_probe.c -lbpf -lelf -lz
[ -x "$LOUPE" ] || { echo "build loupe first: make loupe" >&2; exit 1; }

NOBODY="setpriv --reuid=nobody --regid=nogroup --clear-groups"

# Start a tracer in the background and wait for its ready line.
TRACER_PID=
start_tracer() {
	local log=$OUT/tracer.err
	: >"$log"
	"$@" >/dev/null 2>"$log" &
	TRACER_PID=$!
	for _ in $(seq 300); do
		grep -q ready "$log" && return 0
		sleep 0.05
	done
	echo "tracer not ready: $*" >&2
	cat "$log" >&2
	exit 1
}
stop_tracer() {
	kill -INT "$TRACER_PID"
	wait "$TRACER_PID" || true
	TRACER_PID=
}

declare -A results
measure() {	# config
	local g p
	g=$("$OUT/loop" getpid "$N_GETPID")
	p=$($NOBODY "$OUT/loop" setpriority "$N_PRIO")
	results[$1,getpid]+="$g "
	results[$1,prio]+="$p "
}

CONFIGS=(untraced loupe loupe_nokstack loupe_unique syscall_probe)
for r in $(seq "$ROUNDS"); do
	for c in "${CONFIGS[@]}"; do
		case $c in
		untraced) measure $c ;;
		loupe)
			start_tracer "$LOUPE" trace capabilities -o json
			measure $c
			stop_tracer
			grep '"stats"' $OUT/tracer.err >"$OUT/loupe-stats-$r.json" || true
			;;
		loupe_nokstack)
			start_tracer "$LOUPE" trace capabilities -o json --no-collect-kstack
			measure $c
			stop_tracer
			;;
		loupe_unique)
			start_tracer "$LOUPE" trace capabilities -o json --unique
			measure $c
			stop_tracer
			;;
		syscall_probe)
			start_tracer "$OUT/syscall_probe"
			measure $c
			stop_tracer
			;;
		esac
	done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base_g=$(echo "${results[untraced,getpid]}" | median)
base_p=$(echo "${results[untraced,prio]}" | median)
echo "Kernel $(uname -r), $(nproc) CPUs, $ROUNDS rounds (median), getpid x$N_GETPID," \
	"setpriority(-20) as nobody x$N_PRIO"
echo
echo "| configuration | getpid ns/call | ratio | setpriority (denied CAP_SYS_NICE) ns/call | ratio |"
echo "|---|---:|---:|---:|---:|"
for c in "${CONFIGS[@]}"; do
	g=$(echo "${results[$c,getpid]}" | median)
	p=$(echo "${results[$c,prio]}" | median)
	printf '| %s | %s | %.2fx | %s | %.2fx |\n' "$c" "$g" "$(echo "$g / $base_g" | bc -l)" \
		"$p" "$(echo "$p / $base_p" | bc -l)"
done
echo
echo "loupe's statistics of the last round: $(cat "$OUT/loupe-stats-$ROUNDS.json")"
