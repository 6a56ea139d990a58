#!/bin/bash
# Run loupe's tests and end with one line: "N passed, N failed[, N skipped]".
#
# Every test speaks TAP: unit tests are cmocka binaries (TAP output), the
# others are executable tests/**/test_*.{sh,py} scripts.  Integration tests
# need root; under CI=true a test that cannot run is a failure, never a skip.
#
#   tests/run.sh               everything
#   tests/run.sh unit          unit tests only
#   tests/run.sh integration   scripts only
#   tests/run.sh FILE...       those scripts
#
# OUTPUT and LOUPE say which build to test (default .output and ./loupe).
# SANITIZE=1 (make check SANITIZE=1): the build has ASan and UBSan; every
# report of a sanitizer, LeakSanitizer included, from any program a test
# runs lands in a file of that test's, and fails the test whatever the test
# itself concluded.
set -u
cd "$(dirname "$0")/.."
export SRCDIR=$PWD
export OUTPUT=${OUTPUT:-$PWD/.output}
export LOUPE=${LOUPE:-$PWD/loupe}
export CMOCKA_MESSAGE_OUTPUT=TAP
export PYTHONDONTWRITEBYTECODE=1

passed=0 failed=0 skipped=0
failures=()
logdir=$OUTPUT/test-logs
mkdir -p "$logdir"
sanlogs=$OUTPUT/sanitizer-logs
if [ "${SANITIZE:-}" = 1 ]; then
	rm -rf "$sanlogs"
	# Stop at the first error, even where the build would recover; leaks too.
	san_opts=halt_on_error=1:abort_on_error=1:disable_coredump=1:print_stacktrace=1
	export LSAN_OPTIONS=suppressions=$SRCDIR/tests/sanitize/lsan.supp:print_suppressions=0
	# The books are checked here too, in fewer runs: the repetitions of the
	# plain run hunt timing, and each run costs several times more here.
	export LOUPE_NO_LOSS_RUNS=${LOUPE_NO_LOSS_RUNS:-3}
fi

run_one() {
	local name=$1; shift
	local log="$logdir/$(echo "$name" | tr '/' '_').log"
	local start=$SECONDS rc san=$sanlogs/$(echo "$name" | tr '/' '_')
	if [ "${SANITIZE:-}" = 1 ]; then
		# Reports go to files (log_path.PID), not to the output a test reads.
		mkdir -p "$san"
		export ASAN_OPTIONS=$san_opts:detect_leaks=1:log_path=$san/asan
		export UBSAN_OPTIONS=$san_opts:log_path=$san/ubsan
	fi
	"$@" >"$log" 2>&1
	rc=$?
	local p f s
	p=$(grep -cE '^ok [0-9]+' "$log" | head -1)
	s=$(grep -cE '^ok [0-9]+.*# (SKIP|skip)' "$log")
	f=$(grep -cE '^not ok [0-9]+' "$log")
	p=$((p - s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# A crash or an exit without TAP: one failure, so it is never silent.
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	if [ $((p + f + s)) -eq 0 ]; then
		f=1
		echo "not ok - $name ran no test" >>"$log"
	fi
	for r in "$san"/*; do
		[ -f "$r" ] || continue
		f=$((f + 1))
		echo "not ok - sanitizer report $r" >>"$log"
		head -60 "$r" | sed 's/^/# /' >>"$log"
	done
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	printf '%-52s %3d passed %3d failed %3d skipped  %3ds\n' "$name" "$p" "$f" "$s" \
		$((SECONDS - start))
	if [ "$f" -ne 0 ]; then
		failures+=("$name")
		grep -E '^not ok|^#' "$log" | head -40 | sed 's/^/    /'
	fi
}

unit() {
	for t in "$OUTPUT"/tests/test_*; do
		[ -x "$t" ] || continue
		run_one "unit/$(basename "$t")" "$t"
	done
}

# Tests under these directories load nothing into the kernel: no root needed.
ROOTLESS="tests/inspect/"

integration() {
	local t root=1
	if [ "$(id -u)" -ne 0 ] && [ "${CI:-}" != true ]; then
		echo "# tests that load BPF need root; skipped (run 'sudo make check')"
		root=0
	fi
	for t in $(find tests -name 'test_*.sh' -o -name 'test_*.py' | sort); do
		[ -x "$t" ] || continue
		if [ $root -eq 0 ] && [ "${t#$ROOTLESS}" = "$t" ]; then
			echo "ok - $t # SKIP needs root" >"$logdir/skip.log"
			skipped=$((skipped + 1))
			continue
		fi
		case "${SANITIZE:-}:$t" in
		1:tests/packaging/* | 1:tests/deploy/*)
			# They test the release build (static binary, package, image),
			# which a sanitizer build is not; make check runs them.
			echo "# not under SANITIZE=1: $t (tests the release build)"
			continue ;;
		esac
		run_one "$t" "$t"
	done
}

# Under SANITIZE=1: first, that a report cannot go unseen (tests/sanitize/).
sanitize() {
	[ "${SANITIZE:-}" = 1 ] || return 0
	run_one sanitize/check_reports.sh tests/sanitize/check_reports.sh
}

case "${1:-all}" in
all) sanitize; unit; integration ;;
unit) unit ;;
integration) integration ;;
*) for t in "$@"; do run_one "$t" "$t"; done ;;
esac

[ ${#failures[@]} -eq 0 ] || echo "failed: ${failures[*]} (logs in $logdir)"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
