#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# ssl: openssl s_client against openssl s_server -www; the request and the
# response are captured in plaintext on the client (s_server -www reads and
# writes through an SSL BIO, which calls libssl's internal functions).
. "$(dirname "$0")/lib.sh"
# ssl:go in the matrix: Go's crypto/tls instead.
[ "${1:-}" = go ] && exec sh "$(dirname "$0")/smoke-ssl-go.sh"

port=$(free_port 2)
req="GET /loupe-smoke-$$ HTTP/1.0"
start_loupe ssl ssl --comm openssl || exit 1
openssl s_server -www -quiet -accept "127.0.0.1:$port" -cert "$KT/cert.pem" \
	-key "$KT/key.pem" >"$W/s_server.out" 2>&1 &
srv=$!
i=0
while ! netstat -ltn | grep -q ":$port " && [ $i -lt 300 ] && kill -0 $srv 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
# A server that did not start says why.
kill -0 $srv 2>/dev/null || { echo "s_server exited:"; cat "$W/s_server.out"; }
printf '%s\r\n\r\n' "$req" | timeout 60 openssl s_client -quiet -connect "127.0.0.1:$port" \
	>"$W/s_client.out" 2>&1
check "s_client got the status page" grep -q 'HTTP/1.0 200 ok' "$W/s_client.out"
kill $srv
wait $srv 2>/dev/null
sleep 0.5
stop_loupe

expect "client SSL_write of the request" '"direction":"write"' "\"data\":\"$req\\u000d"
expect "client SSL_read of the response" '"direction":"read"' '"data":"HTTP/1.0 200 ok'
finish
