#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Run the kernel-matrix smoke tests on the running kernel and print one
# machine-readable line per test (busybox sh; the VM's /init and the host
# harness both call it):
#
#   LOUPE-RESULT kernel=K release=R gadget=G hook=H variant=V result=pass|fail|missing seconds=S
#   LOUPE-LOG kernel=K gadget=G hook=H| <what the smoke test and loupe printed>   (failures only)
#   LOUPE-DONE kernel=K
#
# usage: run.sh KERNEL-LABEL SPEC...   SPEC is GADGET or GADGET:HOOK (forced hook)
# env:   LOUPE (the binary), KT (helpers, certificate), W (scratch directory)
set -u
here=$(cd "$(dirname "$0")" && pwd)
label=$1
shift
release=$(uname -r)
: "${LOUPE:=loupe}" "${W:=/tmp/loupe-kernels.$$}"
export LOUPE W KT
mkdir -p "$W"

list=$("$LOUPE" list -v -o json 2>&1 | tr '}' '\n')

# variant GADGET: the hook variant loupe chooses here, from `loupe list -v`.
variant() {
	printf '%s\n' "$list" | grep "\"name\":\"$1\"" |
		sed -n 's/.*"variant":"\([^"]*\)".*/\1/p'
}

for spec in "$@"; do
	gadget=${spec%%:*}
	hook=default
	[ "$spec" != "$gadget" ] && hook=${spec#*:}
	log=$W/$gadget-$hook.log
	start=$(date +%s)
	v=$(variant "$gadget")
	if [ -z "$v" ]; then
		result=missing
		echo "loupe has no gadget named $gadget; loupe list -v says:" >"$log"
		printf '%s\n' "$list" >>"$log"
		v=-
	else
		[ "$hook" != default ] && v=$hook
		arg=
		[ "$hook" != default ] && arg=$hook
		# Each test is bounded so that a hang cannot eat the VM's time.
		if timeout "${SMOKE_TIMEOUT:-180}" sh "$here/smoke-$gadget.sh" $arg >"$log" 2>&1; then
			result=pass
		else
			result=fail
		fi
	fi
	echo "LOUPE-RESULT kernel=$label release=$release gadget=$gadget hook=$hook variant=$v result=$result seconds=$(($(date +%s) - start))"
	if [ "$result" != pass ]; then
		head -n 80 "$log" | sed "s/^/LOUPE-LOG kernel=$label gadget=$gadget hook=$hook| /"
	fi
done
echo "LOUPE-DONE kernel=$label"
