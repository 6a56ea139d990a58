#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Run libFuzzer targets built by mk/fuzz.mk and speak TAP: for each target,
# every seed once (the committed corpus holds the inputs of past findings),
# then fuzzing for SECONDS.  Any crash, sanitizer report, leak, timeout or
# out-of-memory fails the target, with its report and the input that made it.
#
#   fuzz/run.sh [-t SECONDS] [NAME...]     NAME: fuzz/NAME_fuzz.c; default all
#   -t 0: the seeds only
# Needs OUTPUT (the build directory, default .output).  The corpus grown by
# fuzzing stays in $OUTPUT/fuzz/corpus/NAME; findings in $OUTPUT/fuzz/artifacts/NAME.
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
OUTPUT=${OUTPUT:-$SRCDIR/.output}
FUZZ_DIR=$OUTPUT/fuzz
secs=60
while getopts t: o; do
	case $o in
	t) secs=$OPTARG ;;
	*) echo "usage: $0 [-t SECONDS] [NAME...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in "$SRCDIR"/fuzz/*_fuzz.c; do
		f=${f##*/}
		names+=("${f%_fuzz.c}")
	done
fi

. "$SRCDIR/tests/lib/tap.sh"
# What a failed run said: the sanitizer's or libFuzzer's report, and the input.
report() {
	{
		grep -a 'Running:' "$1" | tail -1
		grep -aE '^==[0-9]+==ERROR|SUMMARY:|runtime error|expected|^ +#[0-9]+ .* in |Test unit written|^MS:|ERROR: libFuzzer|deadly signal' \
			"$1" | head -40
		echo "full log: $1"
	} | sed 's/^/#   /'
}

# The fuzzers report on stderr: sanitizer settings of a caller (tests/run.sh
# under SANITIZE=1 sends reports to files) must not hide them from this log.
run_fuzzer() {
	env -u ASAN_OPTIONS -u LSAN_OPTIONS UBSAN_OPTIONS=print_stacktrace=1 "$@"
}

for name in "${names[@]}"; do
	bin=$FUZZ_DIR/${name}_fuzz
	src=$SRCDIR/fuzz/${name}_fuzz.c
	log=$FUZZ_DIR/logs/$name.log
	art=$FUZZ_DIR/artifacts/$name
	work=$FUZZ_DIR/corpus/$name
	mkdir -p "$FUZZ_DIR/logs" "$art" "$work"
	if [ ! -x "$bin" ]; then
		not_ok "$name: $bin is not built (make fuzz builds it)"
		continue
	fi
	# shellcheck disable=SC2207
	args=($(sed -n 's|^// FUZZ_ARGS:||p' "$src"))
	dirs=()
	for d in "$SRCDIR/fuzz/corpus/$name" "$FUZZ_DIR/seeds/$name"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	[ -f "$SRCDIR/fuzz/$name.dict" ] && args+=("-dict=$SRCDIR/fuzz/$name.dict")

	# Every seed once, whole (max_len does not cut a file given by name).
	seeds=()
	[ ${#dirs[@]} -eq 0 ] || mapfile -t seeds < <(find "${dirs[@]}" -type f | sort)
	if [ ${#seeds[@]} -eq 0 ]; then
		ok "$name: no seed yet in fuzz/corpus/$name/, fuzzing starts from nothing"
	elif run_fuzzer "$bin" "${args[@]}" -timeout=10 "${seeds[@]}" >"$log" 2>&1; then
		ok "$name: its ${#seeds[@]} seeds run clean"
	else
		not_ok "$name: a seed fails"
		report "$log"
		continue
	fi
	[ "$secs" -gt 0 ] || continue

	start=$SECONDS
	if run_fuzzer "$bin" "${args[@]}" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/" \
		"$work" "${dirs[@]}" >"$log" 2>&1 &&
		grep -aq '^Done [0-9]* runs' "$log"; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		last=$(grep -aE '^#[0-9]+' "$log" | tail -1)
		cov=$(echo "$last" | grep -oE 'cov: [0-9]+' | cut -d' ' -f2)
		corp=$(echo "$last" | grep -oE 'corp: [0-9]+' | cut -d' ' -f2)
		ok "$name: ${execs:-?} executions in $((SECONDS - start)) s, coverage ${cov:-?}, corpus ${corp:-?}, no finding"
	else
		not_ok "$name: a finding after $((SECONDS - start)) s (input in $art/)"
		report "$log"
	fi
done
tap_done
