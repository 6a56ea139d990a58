#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# loupe inspect: golden diagrams of our own BPF objects, compared byte for
# byte with expected files written by hand from the rules (docs/inspect.md),
# and bad input that must give one error line and a non-zero exit.
# Needs LOUPE and OUTPUT (set by tests/run.sh); prints TAP.
set -u

: "${LOUPE:?LOUPE must point at the loupe binary}"
: "${OUTPUT:?OUTPUT must point at the build directory}"
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
OBJ=$OUTPUT/tests/inspect
EXP=$SRCDIR/tests/inspect/expected
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

. "$SRCDIR/tests/lib/tap.sh"

for o in golden mixed noprogs; do
	if [ ! -f "$OBJ/$o.bpf.o" ]; then
		echo "Bail out! $OBJ/$o.bpf.o is missing; run 'make $OBJ/$o.bpf.o' first"
		exit 1
	fi
done

# golden NAME EXPECTED-FILE ARGS...: stdout must equal the file, exit 0, no stderr.
golden() {
	local what=$1 exp=$2 rc
	shift 2
	"$LOUPE" inspect "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ $rc -ne 0 ] || [ -s "$TMP/err" ]; then
		not_ok "$what" "exit $rc: $(head -1 "$TMP/err")"
	elif cmp -s "$exp" "$TMP/out"; then
		ok "$what"
	else
		not_ok "$what" "differs from $exp:" "$(diff -u "$exp" "$TMP/out" | head -30)"
	fi
}

golden "IG fixture: flowchart as pinned by Inspektor Gadget" "$EXP/golden.flowchart" \
	--flowchart "$OBJ/golden.bpf.o"
golden "IG fixture: sequence diagram" "$EXP/golden.sequence" --sequence "$OBJ/golden.bpf.o"
golden "IG fixture: -o flowchart is --flowchart" "$EXP/golden.flowchart" \
	-o flowchart "$OBJ/golden.bpf.o"
golden "IG fixture: developer-notes markdown layout" "$EXP/golden.md" "$OBJ/golden.bpf.o"
sed "s|OBJECT|$OBJ/golden.bpf.o|" "$EXP/golden.json" >"$TMP/golden.json"
golden "IG fixture: -o json" "$TMP/golden.json" -o json "$OBJ/golden.bpf.o"

golden "merge, dedup, unused map, idle program, perf/ringbuf/stack: flowchart" \
	"$EXP/mixed.flowchart" --flowchart "$OBJ/mixed.bpf.o"
golden "first-use map order, no merging: sequence" "$EXP/mixed.sequence" \
	--sequence "$OBJ/mixed.bpf.o"
golden "--precise follows register copies: flowchart" "$EXP/mixed.precise.flowchart" \
	--precise --flowchart "$OBJ/mixed.bpf.o"
golden "--precise follows register copies: sequence" "$EXP/mixed.precise.sequence" \
	--precise --sequence "$OBJ/mixed.bpf.o"
golden "--ig-compat drops ring buffer and stack map: flowchart" "$EXP/mixed.ig.flowchart" \
	--ig-compat --flowchart "$OBJ/mixed.bpf.o"
golden "--ig-compat drops ring buffer and stack map: sequence" "$EXP/mixed.ig.sequence" \
	--ig-compat --sequence "$OBJ/mixed.bpf.o"

# The markdown embeds exactly the two diagrams.
"$LOUPE" inspect "$OBJ/mixed.bpf.o" >"$TMP/md" 2>/dev/null
{
	sed -n '/^```mermaid$/,/^```$/p' "$TMP/md" | sed '/^```/d' >"$TMP/both"
	cat "$EXP/mixed.flowchart" "$EXP/mixed.sequence" >"$TMP/want"
}
if cmp -s "$TMP/want" "$TMP/both"; then
	ok "markdown embeds the flowchart and the sequence diagram"
else
	not_ok "markdown embeds the flowchart and the sequence diagram"
fi

# bad STATUS WHAT ARGS...: exit STATUS, nothing on stdout, one "loupe: " line on stderr.
bad() {
	local want=$1 what=$2 rc lines
	shift 2
	"$LOUPE" inspect "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	lines=$(wc -l <"$TMP/err")
	if [ $rc -ne "$want" ]; then
		not_ok "$what" "exit $rc, want $want: $(head -1 "$TMP/err")"
	elif [ "$lines" -ne 1 ] || ! grep -q '^loupe: ' "$TMP/err"; then
		not_ok "$what" "want one 'loupe: ' line on stderr, got $lines:" "$(head -3 "$TMP/err")"
	elif [ -s "$TMP/out" ]; then
		not_ok "$what" "wrote to stdout"
	else
		ok "$what ($(cat "$TMP/err"))"
	fi
}

printf 'hello, not an object\n' >"$TMP/text"
: >"$TMP/empty"
head -c 64 "$OBJ/golden.bpf.o" >"$TMP/trunc64"
head -c $(($(wc -c <"$OBJ/golden.bpf.o") / 2)) "$OBJ/golden.bpf.o" >"$TMP/trunc-half"
head -c $(($(wc -c <"$OBJ/golden.bpf.o") - 1)) "$OBJ/golden.bpf.o" >"$TMP/trunc-1"

bad 1 "missing file" "$TMP/does-not-exist.bpf.o"
bad 1 "a directory" "$TMP"
bad 1 "a text file" "$TMP/text"
bad 1 "an empty file" "$TMP/empty"
bad 1 "truncated ELF (64 bytes)" "$TMP/trunc64"
bad 1 "truncated ELF (half)" "$TMP/trunc-half"
bad 1 "truncated ELF (last byte missing)" "$TMP/trunc-1"
bad 1 "an ELF that is not BPF (loupe itself)" "$LOUPE"
if [ -x /bin/true ]; then
	bad 1 "an ELF that is not BPF (/bin/true)" /bin/true
fi
bad 1 "a BPF object without programs" "$OBJ/noprogs.bpf.o"
bad 2 "no arguments"
bad 2 "unknown option" --frobnicate "$OBJ/golden.bpf.o"
bad 2 "unknown output format" -o yaml "$OBJ/golden.bpf.o"
bad 2 "two outputs" --flowchart --sequence "$OBJ/golden.bpf.o"
bad 2 "FILE and --gadget together" --gadget ssl "$OBJ/golden.bpf.o"
bad 2 "unknown gadget" --gadget no-such-gadget
bad 2 "--gadget without a name" --gadget

if "$LOUPE" inspect --help 2>/dev/null | grep -q '^Examples:'; then
	ok "--help shows examples"
else
	not_ok "--help shows examples"
fi

# Damaged objects, one byte changed at spread-out offsets (deterministic).
# Any exit but a signal is fine; a failure is one error line, a success none.
# -o json also runs libbpf's parser, which must not take loupe down with it.
size=$(wc -c <"$OBJ/mixed.bpf.o")
crashes=0
for i in $(seq 1 150); do
	off=$(((i * 7919) % size))
	cp "$OBJ/mixed.bpf.o" "$TMP/damaged"
	printf "\\x$(printf %02x $(((i * 37) % 256)))" |
		dd of="$TMP/damaged" bs=1 seek=$off count=1 conv=notrunc 2>/dev/null
	"$LOUPE" inspect -o json "$TMP/damaged" >/dev/null 2>"$TMP/err"
	rc=$?
	if [ $rc -ge 128 ] || { [ $rc -ne 0 ] && [ "$(wc -l <"$TMP/err")" -ne 1 ]; } ||
		{ [ $rc -eq 0 ] && [ -s "$TMP/err" ]; }; then
		crashes=$((crashes + 1))
		cp "$TMP/damaged" "$TMP/crash-$i"
		echo "# offset $off: exit $rc"
	fi
done
if [ $crashes -eq 0 ]; then
	ok "150 damaged objects: no crash, errors are one line"
else
	not_ok "150 damaged objects: $crashes crashed or printed more than one line"
fi

tap_done
