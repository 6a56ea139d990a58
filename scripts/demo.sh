#!/bin/bash
# `make demo`: a local TLS server, a real client, and loupe showing the
# plaintext between them.  Stops by itself.
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "loupe demo: run it as root (sudo make demo): BPF needs it" >&2
	exit 1
fi

tmp=$(mktemp -d)
cleanup() {
	[ -n "${server:-}" ] && kill "$server" 2>/dev/null
	[ -n "${tracer:-}" ] && kill "$tracer" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-days 1 -subj /CN=localhost >/dev/null 2>&1
echo '<h1>Hello from the loupe demo</h1>' >"$tmp/hello.html"
(cd "$tmp" && exec openssl s_server -quiet -WWW -accept "$port" -cert cert.pem -key key.pem \
	>/dev/null 2>&1) &
server=$!

echo "== openssl s_server -WWW serves $tmp on 127.0.0.1:$port"
echo "== loupe trace ssl --comm curl -x"
mkfifo "$tmp/err"
./loupe trace ssl --comm curl -x --timeout 20 2>"$tmp/err" &
tracer=$!
# Wait for loupe's ready notice instead of guessing with sleep.
while read -r line; do
	echo "$line" >&2
	case $line in *"loupe: ready"*) break ;; esac
done <"$tmp/err"
cat "$tmp/err" >&2 &

echo "== curl -k https://localhost:$port/hello.html"
curl -sk --http1.1 "https://localhost:$port/hello.html" -o /dev/null
sleep 0.5
kill -INT "$tracer"
wait "$tracer" || true
tracer=
echo "== done: the request curl wrote and the response it read, in plaintext"
