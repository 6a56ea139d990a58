#!/bin/sh
# Install the Debian packages loupe needs to build and test, and only those
# that are missing.  Every package is named here, with the reason.
#   scripts/install-deps.sh           install what is missing (root)
#   scripts/install-deps.sh --check   only say what building loupe misses
set -eu

BUILD="make gcc libc6-dev pkg-config git
clang llvm libclang-rt-14-dev
libbpf-dev bpftool libelf-dev zlib1g-dev
libssl-dev libnghttp2-dev libpcap-dev
libcmocka-dev libgnutls28-dev libjansson-dev"
# libbpf-dev/bpftool: loader and skeletons; clang/llvm: BPF compiler;
# libclang-rt-14-dev: clang's libFuzzer, ASan and UBSan (make fuzz, SANITIZE=1);
# libnghttp2: HPACK for HTTP/2 decoding; libpcap: reads our pcap files back
# in a unit test (loupe writes them itself);
# libelf: symbol lookup; libssl-dev: libcrypto parses peer certificates
# (--certs), and our TLS workloads; cmocka: unit tests;
# libgnutls28-dev: a GnuTLS test client of ours (tests/ssl/gnutls_verify3.c);
# libjansson-dev: the container runtimes' JSON files (names, images, pods).

TEST="python3 openssl curl wget ca-certificates
gnutls-bin libnss3-tools nodejs nginx nghttp2-client nghttp2-server
socat netcat-openbsd iproute2 util-linux procps psmisc
tshark
qemu-system-x86 seabios busybox-static debian-archive-keyring
podman runc catatonit docker.io
prometheus
postgresql mariadb-server mariadb-client redis-server redis-tools
python3-grpcio python3-psycopg2 php-cli php-mysql
golang-go binutils"
# Real TLS clients and servers of every library, network tools, tshark to
# read our pcap files; qemu and busybox boot other kernels (make check-kernels);
# podman (with runc: crun refuses this host's hybrid cgroups) and docker run
# the real containers of tests/runtime/test_containers.py; prometheus scrapes
# --metrics in tests/runtime/test_agent.py.
# Servers and clients the protocol decoders are tested against over TLS
# (tests/ssl/test_proto_*.py): PostgreSQL (psql, pgbench), MariaDB, Redis 7
# (built with TLS), gRPC and psycopg2 for Debian's python3, and PHP's PDO
# (the one packaged MySQL client with server-side prepared statements).
# golang-go builds our Go TLS programs (tests/ssl/go/, bench/go_tls_loop.go)
# from the standard library, and its own stripped go binary is a test subject;
# binutils' objdump checks our x86-64 decoder (tests/ssl/test_go_decoder.py).

# Installing (make install, make deb): the man page and the bash completion
# are generated from loupe's own --help by scripts/helpdoc.py (python3); the
# package is made by dpkg-deb (dpkg).  Their tests need man (man-db) and
# bash-completion (it loads completions the way an operator's shell does);
# python3-yaml reads the Kubernetes manifest in tests/deploy/.
BUILD="$BUILD python3"
TEST="$TEST man-db bash-completion python3-yaml"
# make bench times bpftrace, the tool users would otherwise pick, capturing
# the same TLS loop (bench/ssl_bench.py); bc does the ratios of bench/*.sh.
TEST="$TEST bpftrace bc"

# --check: only what building loupe needs, and never install (plain `make`):
# one line naming what to run, rather than a compiler error on a header.
want="$BUILD $TEST"
if [ "${1:-}" = --check ]; then
	command -v dpkg-query >/dev/null || exit 0 # not Debian: the compiler will say
	want=$BUILD
fi

missing=""
for p in $want; do
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi
if [ "${1:-}" = --check ]; then
	echo "loupe: missing packages to build it:$missing; run 'sudo scripts/install-deps.sh' (or 'sudo make deps')" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "loupe: missing packages:$missing; run 'make deps' as root to install them" >&2
	exit 1
fi
echo "loupe: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
