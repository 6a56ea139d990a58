#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Every fuzz target (fuzz/*_fuzz.c, built by mk/fuzz.mk): its seeds, the
# inputs of past findings among them, then a short fuzzing run; any crash,
# sanitizer report, leak or timeout fails (fuzz/run.sh prints the report).
# About 80 s of fuzzing in all, 5 to 15 s a target (FUZZ_CHECK_TIME: seconds each).
# Under SANITIZE=1 the seeds only: the plain `make check` fuzzed already.
# Needs OUTPUT (set by tests/run.sh); prints TAP.
set -u
: "${OUTPUT:?OUTPUT must point at the build directory}"
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
targets=("$SRCDIR"/fuzz/*_fuzz.c)
each=$((80 / ${#targets[@]}))
[ "$each" -gt 15 ] && each=15
[ "$each" -lt 5 ] && each=5
[ "${SANITIZE:-}" = 1 ] && each=0
exec "$SRCDIR/fuzz/run.sh" -t "${FUZZ_CHECK_TIME:-$each}"
