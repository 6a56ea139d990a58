#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# ssl on Go (run as `smoke-ssl.sh go`): our static Go client and server
# (tests/ssl/go/gotls.go, crypto/tls, no return probes); the request and the
# response captured in plaintext on both sides, and the handshakes.
. "$(dirname "$0")/lib.sh"

req="/loupe-go-smoke-$$"
# The server reads its stdin until it closes: a fifo we hold open.
mkfifo "$W/go-in"
"$KT/gotls" server <"$W/go-in" >"$W/go-server.out" 2>&1 &
srv=$!
exec 3>"$W/go-in"
i=0
while ! grep -q '^port ' "$W/go-server.out" && [ $i -lt 600 ] && kill -0 $srv 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
port=$(sed -n 's/^port //p' "$W/go-server.out")
[ -n "$port" ] || { echo "gotls server did not start:"; cat "$W/go-server.out"; exit 1; }
# Running before loupe: found as a running executable; the client is the same file.
start_loupe ssl-go ssl --comm gotls || exit 1
"$KT/gotls" get "https://127.0.0.1:$port$req" h1 >"$W/go-client.out" 2>&1
check "gotls client got the page" grep -q "hello from go, HTTP/1.1 $req" "$W/go-client.out"
sleep 0.5
stop_loupe
exec 3>&-
wait $srv 2>/dev/null

expect "client (*Conn).Write of the request" '"library":"go"' \
	'"operation":"tls.(*Conn).Write"' "\"data\":\"GET $req HTTP/1.1"
expect "server (*Conn).Read of the request" '"operation":"tls.(*Conn).Read"' \
	"\"data\":\"GET $req HTTP/1.1"
expect "client (*Conn).Read of the response" '"operation":"tls.(*Conn).Read"' \
	'"data":"HTTP/1.1 200 OK'
expect "client handshake" '"operation":"tls.(*Conn).clientHandshake"' '"error":""'
expect "server handshake" '"operation":"tls.(*Conn).serverHandshake"' '"error":""'
finish
