# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Shared by the kernel-matrix smoke tests (busybox sh, in a VM or on the host).
# $W is the smoke test's scratch directory, $KT the directory of our helpers.

LOUPE=${LOUPE:-loupe}
LPID=

# start_loupe NAME ARGS...: `loupe trace ARGS -o json` in the background,
# events in $W/NAME.json, stderr in $W/NAME.err; returns once it is ready.
start_loupe() {
	name=$1
	shift
	LOUT=$W/$name.json
	LERR=$W/$name.err
	# Emptied here, not only by the child's redirection: the wait below could
	# otherwise read a "ready" left by an earlier session of the same name.
	: >"$LERR"
	"$LOUPE" trace "$@" -o json >"$LOUT" 2>"$LERR" &
	LPID=$!
	i=0
	while ! grep -q '^loupe: ready' "$LERR"; do
		if ! kill -0 "$LPID" 2>/dev/null; then
			echo "loupe trace $* exited before it was ready:"
			cat "$LERR"
			return 1
		fi
		i=$((i + 1))
		# TCG is slow: BTF parsing and verification take seconds there.
		if [ $i -gt "${READY_TIMEOUT_TENTHS:-1200}" ]; then
			echo "loupe trace $* not ready after $((i / 10)) s:"
			cat "$LERR"
			return 1
		fi
		sleep 0.1
	done
}

# stop_loupe: SIGINT, then wait (bounded) so events are drained and flushed.
stop_loupe() {
	[ -n "$LPID" ] || return 0
	kill -INT "$LPID" 2>/dev/null
	i=0
	while kill -0 "$LPID" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			echo "loupe did not stop within 30 s of SIGINT; killed"
			kill -KILL "$LPID" 2>/dev/null
			break
		fi
		sleep 0.1
	done
	wait "$LPID" 2>/dev/null
	LPID=
}

FAILED=0

# expect DESCRIPTION PATTERN...: one event line must match every pattern.
expect() {
	desc=$1
	shift
	lines=$(grep -F -e "$1" "$LOUT")
	shift
	for p in "$@"; do
		lines=$(printf '%s\n' "$lines" | grep -F -e "$p")
	done
	if [ -n "$lines" ]; then
		echo "ok: $desc"
	else
		echo "FAIL: $desc"
		FAILED=1
	fi
}

# check DESCRIPTION COMMAND...: a workload step that must succeed.
check() {
	desc=$1
	shift
	if "$@"; then
		echo "ok: $desc"
	else
		echo "FAIL: $desc (exit $?)"
		FAILED=1
	fi
}

# finish: the verdict; on failure, what loupe printed (bounded).
finish() {
	if [ "$FAILED" -ne 0 ]; then
		echo "--- loupe stderr:"
		head -c 4000 "$LERR"
		echo "--- loupe events ($(wc -l <"$LOUT") lines, first 20):"
		head -n 20 "$LOUT" | cut -c 1-600
	fi
	return "$FAILED"
}

# A TCP port free on this machine (the host runs other tests at once).
# A port below the ephemeral range (32768 up), used by no socket in any state:
# a client's local port there would make the server's bind fail.
free_port() {
	p=$((20000 + ($$ * 7 + ${1:-0}) % 12000))
	while netstat -tan 2>/dev/null | grep -q ":$p "; do
		p=$((p + 1))
	done
	echo "$p"
}
