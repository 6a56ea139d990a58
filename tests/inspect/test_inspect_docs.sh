#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The committed developer notes (docs/gadgets/<gadget>-dev.md) must be what
# `loupe inspect --gadget <gadget>` generates from the objects built into
# loupe: stale or missing notes fail.  `make docs` regenerates them.
# Gadgets are the src/gadgets/*/ directories.  Prints TAP.
set -u

: "${LOUPE:?LOUPE must point at the loupe binary}"
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

n=0
failed=0
for dir in "$SRCDIR"/src/gadgets/*/; do
	[ -d "$dir" ] || continue
	g=$(basename "$dir")
	doc=docs/gadgets/$g-dev.md
	n=$((n + 1))
	if ! "$LOUPE" inspect --gadget "$g" >"$TMP/$g.md" 2>"$TMP/err"; then
		echo "not ok $n - $doc: loupe inspect --gadget $g failed"
		echo "#   $(head -1 "$TMP/err")"
		failed=$((failed + 1))
	elif [ ! -f "$SRCDIR/$doc" ]; then
		echo "not ok $n - $doc is missing; run 'make docs' and commit it"
		failed=$((failed + 1))
	elif ! cmp -s "$SRCDIR/$doc" "$TMP/$g.md"; then
		echo "not ok $n - $doc is stale; run 'make docs' and commit it"
		diff -u "$SRCDIR/$doc" "$TMP/$g.md" | head -20 | sed 's/^/#   /'
		failed=$((failed + 1))
	else
		echo "ok $n - $doc matches loupe inspect --gadget $g"
	fi
done
if [ $n -eq 0 ]; then
	n=1
	echo "not ok 1 - no gadget directories under $SRCDIR/src/gadgets"
	failed=1
fi
echo "1..$n"
[ $failed -eq 0 ]
