#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Download a Debian cloud kernel into the cache, outside the repository,
# through a private apt list directory: the machine's apt configuration and
# lists are never touched.  Prints the cache directory holding vmlinuz,
# config and package (the package's name and version).
#
# usage: fetch.sh LABEL PATTERN
#   PATTERN is an apt-cache regexp, e.g. '^linux-image-5\.10\.0-[0-9]+-cloud-amd64-unsigned$';
#   the newest version of the newest matching package is taken.
# env:   KERNELS_CACHE (default /var/cache/loupe-kernels), KERNELS_REFRESH=1 to look
#        for a newer package even when one is cached, KERNELS_MIRROR (default: the
#        Debian mirror this machine's apt uses).
set -euo pipefail
label=$1 pattern=$2
cache=${KERNELS_CACHE:-/var/cache/loupe-kernels}
dir=$cache/$label

if [ -s "$dir/vmlinuz" ] && [ -s "$dir/package" ] && [ "${KERNELS_REFRESH:-0}" != 1 ]; then
	echo "$dir"
	exit 0
fi

# Private apt lists of every suite (the mirror this machine uses, or KERNELS_MIRROR).
export DEBIAN_MIRROR=${KERNELS_MIRROR:-}
# shellcheck source=../debian-suites.sh
. "$(dirname "$0")/../debian-suites.sh"
mkdir -p "$cache/debs"
debian_suites "$cache/apt"
opts=("${DEB_OPTS[@]}")

pkg=$(apt-cache "${opts[@]}" search --names-only "$pattern" | awk '{ print $1 }' |
	sort -V | tail -n 1)
if [ -z "$pkg" ]; then
	echo "kernels: no package matches $pattern in bullseye, bookworm or trixie" >&2
	exit 1
fi
echo "kernels: downloading $pkg" >&2
rm -f "$cache/debs/${pkg}_"*.deb
(cd "$cache/debs" && apt-get "${opts[@]}" download "$pkg" >&2)
deb=$(ls "$cache/debs/${pkg}_"*.deb)

# Only the image and its config are kept; the modules are not needed (the
# VM runs from its initramfs, with no devices beyond the serial console).
x=$(mktemp -d "$cache/unpack.XXXXXX")
trap 'rm -rf "$x"' EXIT
dpkg-deb -x "$deb" "$x"
mkdir -p "$dir.new"
cp "$x"/boot/vmlinuz-* "$dir.new/vmlinuz"
cp "$x"/boot/config-* "$dir.new/config"
dpkg-deb -f "$deb" Package Version | awk '{ printf "%s%s", (NR > 1 ? " " : ""), $2 } END { print "" }' \
	>"$dir.new/package"
rm -rf "$dir" "$deb"
mv "$dir.new" "$dir"
echo "$dir"
