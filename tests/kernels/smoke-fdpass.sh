#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# fdpass: a regular file sent and received over a unix socketpair.
. "$(dirname "$0")/lib.sh"

file=$W/loupe-fdpass-smoke.txt
echo data >"$file"
start_loupe fdpass fdpass --comm fdhelp || exit 1
check "fdhelp passed the file" "$KT/fdhelp" "$file"
sleep 0.5
stop_loupe

expect "send with the path" '"type":"send"' "\"file\":\"$file\""
expect "receive with the path" '"type":"receive"' "\"file\":\"$file\""
finish
