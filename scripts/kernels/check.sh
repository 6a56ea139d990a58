#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The kernel matrix: every gadget's smoke test (tests/kernels/) on Debian's
# 5.10, 6.1 and 6.12 cloud kernels under qemu (TCG) and on this machine's own
# kernel, then a table on stdout and in docs/kernels.md.  `make check-kernels`
# runs it after building loupe and the static helpers.
#
# usage: check.sh [LABEL...]     LABEL: 5.10 6.1 6.12 host (default: all four)
# env:   LOUPE, KT_HELPERS (caphelp, fdhelp, cert.pem, key.pem), OUTPUT
#        KERNELS_GADGETS   smoke tests of each boot (default: tcp,capabilities,fdpass,ssl,ssl:go;
#                          ssl:go is the ssl smoke test on Go's crypto/tls)
#        KERNELS_JOBS      VMs at once (default 2)
#        KERNELS_VM_TIMEOUT  seconds one VM may run (default 300)
#        KERNELS_CACHE, KERNELS_REFRESH, KERNELS_MIRROR: see fetch.sh
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cd "$src"
out=${OUTPUT:-$src/.output}/kernels
LOUPE=${LOUPE:-$src/loupe}
helpers=${KT_HELPERS:-$out/helpers}
cache=${KERNELS_CACHE:-/var/cache/loupe-kernels}
gadgets=${KERNELS_GADGETS:-tcp,capabilities,fdpass,ssl,ssl:go}
jobs=${KERNELS_JOBS:-2}
vm_timeout=${KERNELS_VM_TIMEOUT:-300}

# label | apt-cache pattern | boots (space-separated; each boot runs a comma list).
# The forced hooks run in the same boot as the default ones, after them: a
# session must not depend on being the first of its kind since boot.
KERNELS=(
	"5.10|^linux-image-5\.10\.0-[0-9]+-cloud-amd64-unsigned\$|$gadgets,capabilities:kprobe"
	"6.1|^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned\$|$gadgets,capabilities:kprobe"
	"6.12|^linux-image-6\.12\.[0-9]+\+deb[0-9]+-cloud-amd64-unsigned\$|$gadgets,capabilities:kprobe"
	"host|-|$gadgets,tcp:tracepoint,capabilities:tracepoint"
)
want=("$@")
[ ${#want[@]} -eq 0 ] && want=(5.10 6.1 6.12 host)
for w in "${want[@]}"; do
	case " 5.10 6.1 6.12 host " in
	*" $w "*) ;;
	*) echo "kernels: unknown kernel '$w' (one of 5.10 6.1 6.12 host)" >&2; exit 2 ;;
	esac
done
selected() { case " ${want[*]} " in *" $1 "*) return 0 ;; esac; return 1; }

for tool in qemu-system-x86_64 busybox timeout; do
	if ! command -v "$tool" >/dev/null; then
		echo "kernels: $tool is missing: install qemu-system-x86 busybox-static coreutils" >&2
		exit 1
	fi
done
for f in "$LOUPE" "$helpers/caphelp" "$helpers/fdhelp" "$helpers/cert.pem" "$helpers/gotls"; do
	if [ ! -e "$f" ]; then
		echo "kernels: $f is missing: run 'make check-kernels'" >&2
		exit 1
	fi
done

rm -rf "$out/runs"
mkdir -p "$out/runs" "$cache"
start=$SECONDS

# 1. Kernels: downloaded once, under a lock (two harnesses may share the cache).
declare -A kdir
for entry in "${KERNELS[@]}"; do
	IFS='|' read -r label pattern boots <<<"$entry"
	selected "$label" && [ "$pattern" != - ] || continue
	if ! kdir[$label]=$(flock "$cache/.lock" "$src/scripts/kernels/fetch.sh" "$label" "$pattern"); then
		kdir[$label]=
	fi
done

# 2. One initramfs for every kernel.
"$src/scripts/kernels/initramfs.sh" "$out/initramfs.cpio" "$LOUPE" "$helpers" || exit 1

# 3. The VMs, KERNELS_JOBS at a time, each bounded by KERNELS_VM_TIMEOUT.
# -cpu max without cx16: qemu 7.2's TCG corrupts EFLAGS around cmpxchg16b,
# which 6.12's SLUB uses on every allocation (random oopses at boot); without
# the flag the kernel uses its own emulation.  A kernel that dies before our
# /init starts is retried once: that is the emulator, not loupe.
boot() { # label n specs
	local label=$1 n=$2 specs=$3 log=$out/runs/$1.$2.console try
	echo "$specs" >"$out/runs/$label.$n.specs"
	if [ -z "${kdir[$label]}" ]; then
		echo "kernel $label could not be downloaded (see the messages above)" >"$log"
		return
	fi
	for try in 1 2; do
		timeout -k 10 "$vm_timeout" qemu-system-x86_64 -accel tcg -cpu max,-cx16 -m 1G -smp 1 \
			-nographic -no-reboot -nic none \
			-kernel "${kdir[$label]}/vmlinuz" -initrd "$out/initramfs.cpio" \
			-append "console=ttyS0 quiet panic=-1 loupe.kernel=$label loupe.tests=$specs" \
			</dev/null >"$log" 2>&1
		echo "qemu exit status $? (try $try)" >>"$log"
		grep -aq LOUPE-BOOT "$log" && break
		cp "$log" "$log.try$try"
	done
}
running=0
for entry in "${KERNELS[@]}"; do
	IFS='|' read -r label pattern boots <<<"$entry"
	selected "$label" && [ "$pattern" != - ] || continue
	n=0
	for specs in $boots; do
		n=$((n + 1))
		echo "kernels: booting $label ($specs)" >&2
		boot "$label" "$n" "$specs" &
		running=$((running + 1))
		if [ "$running" -ge "$jobs" ]; then
			wait -n
			running=$((running - 1))
		fi
	done
done

# 4. This machine's kernel, directly (a VM of it would need its image, which
# is not installed here).  busybox's applets come first in PATH, as in the VM.
if selected host; then
	bb=$out/busybox
	rm -rf "$bb" && mkdir -p "$bb" && busybox --install -s "$bb"
	IFS='|' read -r _ _ specs <<<"${KERNELS[3]}"
	echo "kernels: host $(uname -r) ($specs)" >&2
	echo "$specs" >"$out/runs/host.1.specs"
	# shellcheck disable=SC2046
	PATH=$bb:$PATH LOUPE=$LOUPE KT=$helpers W=$out/runs/host.work \
		timeout -k 10 "$vm_timeout" busybox sh tests/kernels/run.sh host $(echo "$specs" | tr ',' ' ') \
		>"$out/runs/host.1.console" 2>&1
	echo "exit status $?" >>"$out/runs/host.1.console"
fi
wait

# 5. Results: a run that did not reach LOUPE-DONE fails every test it owed.
results=$out/results.txt
: >"$results"
for spec_file in "$out"/runs/*.specs; do
	run=${spec_file%.specs}
	label=$(basename "$run")
	label=${label%.*}
	lines=$(tr -d '\r' <"$run.console" | sed -n 's/.*\(LOUPE-[A-Z]*\)/\1/p')
	printf '%s\n' "$lines" | grep -E '^LOUPE-(RESULT|LOG|DMESG) ' >>"$results"
	if ! printf '%s\n' "$lines" | grep -q '^LOUPE-DONE '; then
		for spec in $(tr ',' ' ' <"$spec_file"); do
			g=${spec%%:*} h=default
			[ "$spec" != "$g" ] && h=${spec#*:}
			printf '%s\n' "$lines" | grep -q "^LOUPE-RESULT .* gadget=$g hook=$h " && continue
			echo "LOUPE-RESULT kernel=$label release=? gadget=$g hook=$h variant=? result=fail seconds=?"
			echo "LOUPE-LOG kernel=$label gadget=$g hook=$h| the run ended before this test (timeout after ${vm_timeout}s, panic or crash); last console lines:"
			tr -d '\r' <"$run.console" | tail -n 25 | sed "s/^/LOUPE-LOG kernel=$label gadget=$g hook=$h| /"
		done >>"$results"
	fi
done

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
pass=$(grep -c '^LOUPE-RESULT .* result=pass ' "$results")
fail=$(grep '^LOUPE-RESULT ' "$results" | grep -vc ' result=pass ')

echo
printf '%-6s %-28s %-13s %-11s %-20s %-7s %s\n' kernel release gadget hook variant result seconds
grep '^LOUPE-RESULT ' "$results" | while read -r line; do
	printf '%-6s %-28s %-13s %-11s %-20s %-7s %s\n' \
		"$(field kernel <<<"$line")" "$(field release <<<"$line")" "$(field gadget <<<"$line")" \
		"$(field hook <<<"$line")" "$(field variant <<<"$line")" "$(field result <<<"$line")" \
		"$(field seconds <<<"$line")"
done
if [ "$fail" -ne 0 ]; then
	echo
	echo "kernels: FAILURES (kernel, gadget, hook, then what the smoke test and loupe printed):"
	grep '^LOUPE-RESULT ' "$results" | grep -v ' result=pass ' | while read -r line; do
		k=$(field kernel <<<"$line") g=$(field gadget <<<"$line") h=$(field hook <<<"$line")
		echo "=== kernel $k, gadget $g, hook $h: $(field result <<<"$line")"
		grep -F "LOUPE-LOG kernel=$k gadget=$g hook=$h| " "$results" | sed 's/^[^|]*| /    /'
		grep -F "LOUPE-DMESG kernel=$k| " "$results" | sed 's/^[^|]*| /    dmesg: /'
	done
fi

# 6. docs/kernels.md, from a run of all four kernels only.
if [ ${#want[@]} -eq 4 ] && [ -z "${KERNELS_GADGETS:-}" ]; then
	"$src/scripts/kernels/report.sh" "$results" "$cache" >"$src/docs/kernels.md.tmp" &&
		mv "$src/docs/kernels.md.tmp" "$src/docs/kernels.md"
	echo "kernels: wrote docs/kernels.md"
fi
echo "kernels: $((SECONDS - start)) s"
echo "kernels: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
