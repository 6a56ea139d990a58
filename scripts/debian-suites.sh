# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Sourced (bash): apt for Debian's bullseye, bookworm and trixie through a
# private list directory, the machine's apt configuration and lists never
# touched.  Used to fetch packages of other releases than the machine's:
# kernels (scripts/kernels/fetch.sh), an old Go toolchain (scripts/go-old.sh).
#
#   debian_suites APTDIR    sets DEB_OPTS (options for apt-get and apt-cache),
#                           updates the lists when older than an hour
# env:   DEBIAN_MIRROR (default: the Debian mirror this machine's apt uses)

debian_suites() {
	local apt=$1 mirror=${DEBIAN_MIRROR:-} suite stamp
	local keyring=/usr/share/keyrings/debian-archive-keyring.gpg

	if [ -z "$mirror" ]; then
		mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
			/etc/apt/sources.list.d/*.list 2>/dev/null | grep -v '^[[:space:]]*#' |
			grep -oE '(https?|file)://[^ ]*/debian/?( |$)' | grep -v security | head -n 1 |
			tr -d ' ' || true)
		mirror=${mirror%/}
		: "${mirror:=http://deb.debian.org/debian}"
	fi
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
	for suite in bullseye bookworm trixie; do
		echo "deb [signed-by=$keyring] $mirror $suite main"
	done >"$apt/sources.list"
	DEB_OPTS=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
		-o APT::Architectures=amd64 -o APT::Sandbox::User=root -q)
	stamp=$apt/updated
	if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +60)" ]; then
		echo "loupe: apt-get update ($mirror, private lists in $apt)" >&2
		apt-get "${DEB_OPTS[@]}" update >&2 || return 1
		touch "$stamp"
	fi
}
