#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# capabilities: CAP_SYS_NICE allowed (root) and denied (uid 65534) in
# setpriority.  $1: a hook to force (--hook), empty for the default choice.
. "$(dirname "$0")/lib.sh"

hook=${1:-}
set -- --comm caphelp --cap CAP_SYS_NICE --no-collect-kstack
[ -n "$hook" ] && set -- "$@" --hook "$hook"
start_loupe caps capabilities "$@" || exit 1
check "root raises its priority" "$KT/caphelp" allow
check "uid 65534 is refused" "$KT/caphelp" deny
sleep 0.5
stop_loupe

expect "allowed CAP_SYS_NICE in setpriority" '"cap":"CAP_SYS_NICE"' '"capable":true' \
	'"syscall":"setpriority"' '"uid":0,'
expect "denied CAP_SYS_NICE in setpriority" '"cap":"CAP_SYS_NICE"' '"capable":false' \
	'"syscall":"setpriority"' '"uid":65534,'
finish
