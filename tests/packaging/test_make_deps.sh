#!/bin/bash
# Plain `make` where build packages are missing stops before compiling, with
# one line that names them and the script to run.  The tree is a fresh copy
# (no .output/); dpkg-query is told by a wrapper that two packages are not
# installed (the test cannot uninstall them from this machine).  Then the
# same check, against the real dpkg, passes.
set -u
cd "$(dirname "$0")/../.." || exit 1
n=0 failed=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi; }

tmp=$(mktemp -d /tmp/loupe-deps-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tree" "$tmp/bin"
git ls-files -z | xargs -0 tar -cf - | tar -xf - -C "$tmp/tree"
cat >"$tmp/bin/dpkg-query" <<'EOF'
#!/bin/sh
for a; do case $a in clang | libbpf-dev) exit 1 ;; esac; done
exec /usr/bin/dpkg-query "$@"
EOF
chmod +x "$tmp/bin/dpkg-query"

# A user's plain make, not a sub-make of `make check`.
out=$(cd "$tmp/tree" && env -u OUTPUT -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u SANITIZE -u LOUPE PATH="$tmp/bin:$PATH" make 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
ok $((rc == 0)) "make stops (exit $rc)"
ok $(($(echo "$out" | wc -l) != 1)) "with one line"
case $out in *"missing packages to build it: clang libbpf-dev;"*"scripts/install-deps.sh"*) r=0 ;; *) r=1 ;; esac
ok $r "naming both packages and the script to run"
built=0
if [ -e "$tmp/tree/.output/gadgets" ] || [ -e "$tmp/tree/loupe" ]; then built=1; fi
ok $built "before compiling anything"

out=$(scripts/install-deps.sh --check 2>&1)
ok $? "on this machine, with every package, the check passes${out:+: $out}"
[ "$failed" -eq 0 ]
