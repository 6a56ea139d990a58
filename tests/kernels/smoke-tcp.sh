#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tcp: a connect, its accept, both closes, and a refused connect (busybox nc).
# $1: a hook to force (--hook tp_btf|tracepoint), empty for the default choice.
. "$(dirname "$0")/lib.sh"

port=$(free_port 1)
set -- --port "$port" ${1:+--hook "$1"}
start_loupe tcp tcp "$@" || exit 1
nc -l -p "$port" 127.0.0.1 >"$W/nc-server.out" &
srv=$!
# Wait for the listener instead of sleeping a fixed time.
i=0
while ! netstat -ltn | grep -q ":$port " && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
echo loupe-smoke-tcp | timeout 20 nc 127.0.0.1 "$port"
check "client connected and sent" [ $? -eq 0 ]
wait $srv
check "server received the line" grep -q loupe-smoke-tcp "$W/nc-server.out"
# The listener is gone: this connect is refused.
timeout 20 nc 127.0.0.1 "$port" </dev/null 2>/dev/null
check "second connect refused" [ $? -ne 0 ]
sleep 0.5
stop_loupe

expect "connect event" '"type":"connect"' "\"dst\":\"127.0.0.1:$port\"" '"error":""'
expect "accept event" '"type":"accept"' "\"src\":\"127.0.0.1:$port\""
expect "client close with 16 bytes sent" '"type":"close"' '"bytes_sent":16'
expect "server close with 16 bytes received" '"type":"close"' '"bytes_received":16'
expect "refused connect" '"type":"connect"' '"error":"ECONNREFUSED"'
finish
