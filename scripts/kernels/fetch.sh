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

# The mirror this machine already uses for Debian (deb822 or one-line lists).
mirror=${KERNELS_MIRROR:-}
if [ -z "$mirror" ]; then
	mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
		/etc/apt/sources.list.d/*.list 2>/dev/null | grep -v '^[[:space:]]*#' |
		grep -oE '(https?|file)://[^ ]*/debian/?( |$)' | grep -v security | head -n 1 |
		tr -d ' ' || true)
	mirror=${mirror%/}
	: "${mirror:=http://deb.debian.org/debian}"
fi

apt=$cache/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$cache/debs"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
for suite in bullseye bookworm trixie; do
	echo "deb [signed-by=$keyring] $mirror $suite main"
done >"$apt/sources.list"
opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=-
	-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
	-o APT::Architectures=amd64 -o APT::Sandbox::User=root -q)

# One index refresh per run of the harness, whatever the number of kernels.
stamp=$apt/updated
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +60)" ]; then
	echo "kernels: apt-get update ($mirror, private lists in $apt)" >&2
	apt-get "${opts[@]}" update >&2
	touch "$stamp"
fi

pkg=$(apt-cache "${opts[@]}" search --names-only "$pattern" | awk '{ print $1 }' |
	sort -V | tail -n 1)
if [ -z "$pkg" ]; then
	echo "kernels: no package matches $pattern on $mirror" >&2
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
