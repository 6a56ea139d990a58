#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The Debian package of loupe (make deb), from a tree that `make install
# DESTDIR=ROOT PREFIX=/usr` filled: the binary stripped, the man page
# compressed, the copyright files, and a control file whose description is
# the program's own (loupe --help, loupe list) and whose Built-Using names
# the source packages of every archive the static binary was linked from.
#
# usage: mkdeb.sh ROOT VERSION ARCH OUT.deb "LDLIBS"
set -eu
root=$1 version=$2 arch=$3 out=$4 ldlibs=$5
src=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/usr/sbin/loupe

if ! command -v dpkg-deb >/dev/null; then
	echo "loupe: make deb needs dpkg-deb (a Debian system)" >&2
	exit 1
fi
strip "$bin"
gzip -9n "$root/usr/share/man/man8/loupe.8"

# Built-Using (Debian policy 7.8): what a static link took from other packages.
built_using="" linked=$root/usr/share/doc/loupe/linked
mkdir -p "$linked"
for l in $(echo "$ldlibs" | tr ' ' '\n' | sed -n 's/^-l//p') c; do
	a=$(realpath "$(${CC:-cc} -print-file-name="lib$l.a")")
	pkg=$(dpkg -S "$a" 2>/dev/null | head -1 | sed 's/: .*//')
	if [ ! -f "$a" ] || [ -z "$pkg" ]; then
		echo "loupe: make deb: no Debian package holds lib$l.a ($a)" >&2
		exit 1
	fi
	srcpkg=$(dpkg-query -W -f='${source:Package}' "$pkg")
	built_using="$built_using${built_using:+, }$srcpkg (= $(dpkg-query -W -f='${source:Version}' "$pkg"))"
	cp -L "/usr/share/doc/${pkg%:*}/copyright" "$linked/$srcpkg"
done
install -m 0644 "$src/deploy/debian/copyright" "$root/usr/share/doc/loupe/copyright"

# The description says what the program says of itself.
summary=$("$bin" --help | sed -n 3p | sed 's/\.$//')
mkdir -p "$root/DEBIAN"
{
	echo "Package: loupe"
	echo "Version: $version"
	echo "Architecture: $arch"
	echo "Maintainer: ${DEB_MAINTAINER:-loupe developers <loupe@localhost>}"
	echo "Installed-Size: $(du -sk "$root/usr" | cut -f1)"
	echo "Section: admin"
	echo "Priority: optional"
	echo "Built-Using: $built_using"
	echo "Suggests: bash-completion, man-db"
	echo "Description: $(echo "$summary" | sed 's/^./\L&/')"
	echo " One static binary with its BPF programs built in: it needs a kernel"
	echo " with BTF (/sys/kernel/btf/vmlinux) and root, nothing else.  Gadgets:"
	"$bin" list | sed 's/^/  /'
} >"$root/DEBIAN/control"
(cd "$root" && find usr -type f -exec md5sum {} + | sort -k2) >"$root/DEBIAN/md5sums"
find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f -exec chmod go-w {} +

dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
