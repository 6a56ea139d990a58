#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# docs/kernels.md from the kernel matrix's results (check.sh writes them).
# usage: report.sh RESULTS CACHE-DIR > docs/kernels.md
set -euo pipefail
results=$1 cache=$2
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

cat <<'HEAD'
# loupe on four kernels

Written by `make check-kernels` (scripts/kernels/check.sh) from its last run
of all four kernels; do not edit by hand.  Reproduce with:

    make check-kernels                 # all four kernels, about 2 minutes with a warm cache
    scripts/kernels/check.sh 5.10      # one kernel (after a `make check-kernels`)

Each Debian cloud kernel boots under `qemu-system-x86_64 -accel tcg` from an
initramfs holding busybox-static, loupe, openssl and our static helpers;
its /init (tests/kernels/init) runs the smoke tests of tests/kernels/ and
prints `LOUPE-RESULT` lines on the serial console.  The host kernel runs the
same scripts directly.  Each row is one smoke test:

- tcp: busybox `nc` connects, is accepted, both ends close, then a connect to
  the closed port is refused; all four events must be reported.
- capabilities: `caphelp allow` (root, `setpriority(-5)`) and `caphelp deny`
  (uid 65534, `setpriority(-20)`): CAP_SYS_NICE allowed and denied, both in
  `setpriority`.  `hook=default` is the hook loupe picks by itself; other
  rows force one with `--hook`.
- fdpass: `fdhelp` passes a regular file over a unix socketpair: a send and a
  receive, both with the file's path.
- ssl: `openssl s_client` sends `GET /...` to `openssl s_server -www`; the
  request (SSL_write) and the response (SSL_read) are captured in plaintext.
- ssl, hook go: our static Go client and server (tests/ssl/go/gotls.go,
  `crypto/tls`, no return probes): the request and the response captured on
  both sides, and both handshakes.

"variant" is what `loupe list -v` reports on that kernel (or the forced hook).

## Kernels

| kernel | Debian package | version |
|---|---|---|
HEAD
for k in 5.10 6.1 6.12; do
	if [ -s "$cache/$k/package" ]; then
		read -r pkg ver <"$cache/$k/package"
		echo "| $k | $pkg | $ver |"
	fi
done
line=$(grep -m1 '^LOUPE-RESULT kernel=host ' "$results" || true)
[ -n "$line" ] && echo "| host | this machine's kernel (no VM) | $(field release "$line") |"

cat <<'MID'

## Results

| kernel | release | gadget | hook | variant | result |
|---|---|---|---|---|---|
MID
grep '^LOUPE-RESULT ' "$results" | while read -r line; do
	echo "| $(field kernel "$line") | $(field release "$line") | $(field gadget "$line") |" \
		"$(field hook "$line") | $(field variant "$line") | $(field result "$line") |"
done

cat <<'TAIL'

## Notes

- qemu 7.2's TCG (Debian 12) corrupts EFLAGS around `cmpxchg16b`, which
  Debian's 6.12 kernel uses in every slab allocation: it oopses at random at
  boot.  The VMs run `-cpu max,-cx16`, so the kernel uses its own emulation
  of that instruction; a kernel that dies before /init is retried once.
- Seen on 5.10 only: after loupe's kprobe/kretprobe pair on `cap_capable` was
  attached and detached, a later `fexit` program on it attaches but never
  runs (and after an fexit program, the kprobe pair once stayed silent the
  same way); fexit after fexit and kprobe after kprobe work, and a tracefs
  kprobe on the function keeps firing throughout.  So the forced
  `--hook kprobe` test gets a boot of its own.
- `openssl s_server -www` reads and writes through an SSL BIO, which calls
  libssl's internal functions rather than `SSL_read`/`SSL_write`: the server's
  side of that exchange is not seen by uprobes on the exported functions,
  so the test checks the client's side.
TAIL
