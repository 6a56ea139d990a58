# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# TAP for shell tests (sourced): ok WHAT, not_ok WHAT [DIAGNOSTIC...], and
# tap_done at the end (the plan, and the exit status).
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	shift
	for l in "$@"; do echo "#   $l"; done
}
tap_done() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
}
