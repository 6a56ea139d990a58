#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# `make check SANITIZE=1` runs this first (tests/run.sh): that the binaries
# under test have the sanitizers, and that a sanitizer report cannot go
# unseen: a heap overflow, undefined behaviour and a leak in a program built
# like loupe each stop it and leave a report, and a test that ignores its
# program's failure and says "ok" is still failed by tests/run.sh.
# Needs LOUPE, OUTPUT, SAN_CC, SAN_FLAGS and the sanitizer settings of tests/run.sh.
set -u
: "${LOUPE:?}" "${OUTPUT:?}" "${SAN_CC:?}" "${SAN_FLAGS:?SAN_FLAGS: the flags of the sanitizer build}"
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

. "$SRCDIR/tests/lib/tap.sh"
check() { if eval "$2"; then ok "$1"; else not_ok "$1" "${@:3}"; fi; }

sanitized() { nm -D "$1" 2>/dev/null | grep -q "$2" || nm "$1" 2>/dev/null | grep -q "$2"; }
for b in "$LOUPE" "$(ls "$OUTPUT"/tests/test_* | head -1)" "$OUTPUT/bench/tls_loop"; do
	check "$(basename "$b") has ASan and UBSan" \
		'sanitized "$b" __asan_init && sanitized "$b" __ubsan_handle_' "$b"
done
check "reports go to files, and stop the program at the first error" \
	'[[ ${ASAN_OPTIONS:-} == *log_path=* && ${UBSAN_OPTIONS:-} == *log_path=* && ${ASAN_OPTIONS:-} == *halt_on_error=1* && ${ASAN_OPTIONS:-} == *detect_leaks=1* ]]' \
	"ASAN_OPTIONS=${ASAN_OPTIONS:-} UBSAN_OPTIONS=${UBSAN_OPTIONS:-}"
supp=${LSAN_OPTIONS#*suppressions=}
supp=${supp%%:*}
# Every suppression says why: a comment line right above it.
check "leak suppressions ($supp) each have a reason" \
	'[ -f "$supp" ] && ! awk "/^leak:/ && prev !~ /^#/ {bad=1} {prev=\$0} END {exit !bad}" "$supp"'

cat >"$TMP/bad.c" <<'C'
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv)
{
	char *p = malloc(8);
	int big = 0x7fffffff;

	if (argv[1][0] == 'o')
		p[strlen(argv[1]) + 8] = 1;	/* heap overflow */
	if (argv[1][0] == 'u')
		big += argc;			/* signed overflow */
	if (argv[1][0] == 'l')
		p = NULL;			/* leak */
	free(p);
	return big == 0;
}
C
# shellcheck disable=SC2086
if ! "$SAN_CC" $SAN_FLAGS -g -o "$TMP/bad" "$TMP/bad.c"; then
	not_ok "a program with planted bugs builds"
	tap_done
	exit
fi
# Their reports go to this test's scratch directory: planted, not found.
for kind in overflow ub leak; do
	want=$(case $kind in overflow) echo heap-buffer-overflow ;; ub) echo "runtime error" ;;
		leak) echo "detected memory leaks" ;; esac)
	rm -f "$TMP"/rep.*
	# The last setting of an option wins.
	ASAN_OPTIONS=$ASAN_OPTIONS:log_path=$TMP/rep UBSAN_OPTIONS=$UBSAN_OPTIONS:log_path=$TMP/rep \
		"$TMP/bad" "$kind" >/dev/null 2>&1
	rc=$?
	check "a planted $kind stops the program (status $rc) with a report" \
		'[ $rc -ne 0 ] && grep -qs "$want" "$TMP"/rep.*' "$(cat "$TMP"/rep.* 2>/dev/null | head -5)"
done

# A test that hides its program's failure, run by tests/run.sh itself.
mkdir -p "$TMP/t"
cat >"$TMP/t/test_hides.sh" <<SH
#!/bin/sh
"$TMP/bad" leak >/dev/null 2>&1
echo "ok 1 - all is well"
SH
chmod +x "$TMP/t/test_hides.sh"
out=$(OUTPUT=$TMP/out SANITIZE=1 "$SRCDIR/tests/run.sh" "$TMP/t/test_hides.sh" 2>&1)
rc=$?
check "tests/run.sh fails a test that says ok over a leak report" \
	'[ $rc -ne 0 ] && echo "$out" | grep -q "^1 passed, 1 failed"' "$out"
tap_done
