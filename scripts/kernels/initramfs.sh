#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Build the kernel-matrix initramfs (uncompressed newc cpio: TCG unpacks it
# faster than it inflates gzip): busybox-static, loupe, openssl, our static
# helpers, the smoke tests, and every library `ldd` lists for the dynamic
# binaries (openssl; loupe too if built with STATIC=0).  Its content does
# not depend on the kernel: one image boots all.
#
# usage: initramfs.sh OUT.cpio LOUPE HELPERDIR
#   HELPERDIR holds caphelp, fdhelp, gotls (static), cert.pem and key.pem.
set -euo pipefail
out=$1 loupe=$2 helpers=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
busybox=$(command -v busybox)
openssl=$(command -v openssl)

if ldd "$busybox" >/dev/null 2>&1; then
	echo "loupe: $busybox is not static: install busybox-static" >&2
	exit 1
fi

root=$(mktemp -d "${out%/*}/initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT

# Debian's merged /usr layout, so ldd's paths are valid as they are.
mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{proc,sys,dev,tmp,run,etc,kt}
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"

cp "$busybox" "$root/usr/bin/busybox"
for applet in $("$busybox" --list); do
	[ -e "$root/usr/bin/$applet" ] || ln -s busybox "$root/usr/bin/$applet"
done
cp "$loupe" "$root/usr/bin/loupe"
cp "$openssl" "$root/usr/bin/openssl"

# Shared libraries: the path ldd prints, with the file's content.  loupe is
# static (none; ldd exits 1 for a non-PIE static binary); STATIC=0 has some.
for bin in "$loupe" "$openssl"; do
	{ ldd "$bin" || true; } | awk '/=> \// { print $3 } /^\t\// { print $1 }'
done | sort -u | while read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
# OpenSSL reads its configuration from OPENSSLDIR at start.
if [ -f /usr/lib/ssl/openssl.cnf ]; then
	mkdir -p "$root/usr/lib/ssl"
	cp -L /usr/lib/ssl/openssl.cnf "$root/usr/lib/ssl/"
fi

cp "$helpers"/caphelp "$helpers"/fdhelp "$helpers"/cert.pem "$helpers"/key.pem "$root/kt/"
# Our Go client and server, static (no cgo): the Go smoke test (smoke-ssl-go.sh).
cp "$helpers"/gotls "$root/kt/"
cp "$src"/tests/kernels/{lib.sh,run.sh} "$src"/tests/kernels/smoke-*.sh "$root/kt/"
cp "$src/tests/kernels/init" "$root/init"
chmod 755 "$root/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
	>"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

(cd "$root" && find . | LC_ALL=C sort | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) \
	>"$out.tmp"
mv "$out.tmp" "$out"
