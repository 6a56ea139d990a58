#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# An old Go toolchain from an older Debian release, into a cache outside the
# repository: Go 1.15 (bullseye's golang-1.15), the last Go whose amd64 code
# passes arguments on the stack, to test the Go backend's stack ABI.  Prints
# its GOROOT.
#
# usage: go-old.sh
# env:   GO_OLD_CACHE (default /var/cache/loupe-go), DEBIAN_MIRROR
set -euo pipefail
cache=${GO_OLD_CACHE:-/var/cache/loupe-go}
pkgs=(golang-1.15-go golang-1.15-src)
root=$cache/go-1.15

if [ -x "$root/usr/lib/go-1.15/bin/go" ] && [ -d "$root/usr/share/go-1.15/src" ]; then
	echo "$root/usr/lib/go-1.15"
	exit 0
fi
# shellcheck source=debian-suites.sh
. "$(dirname "$0")/debian-suites.sh"
mkdir -p "$cache/debs"
exec 9>"$cache/.lock"
flock 9
debian_suites "$cache/apt"
echo "loupe: downloading ${pkgs[*]} (Debian bullseye)" >&2
rm -f "$cache/debs/"*.deb
(cd "$cache/debs" && apt-get "${DEB_OPTS[@]}" download "${pkgs[@]}" >&2)
rm -rf "$root.new"
for deb in "$cache/debs/"*.deb; do
	dpkg-deb -x "$deb" "$root.new"
done
rm -rf "$root" "$cache/debs/"*.deb
mv "$root.new" "$root"
echo "$root/usr/lib/go-1.15"
