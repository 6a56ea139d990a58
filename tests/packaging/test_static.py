#!/usr/bin/env python3
"""The loupe under test is one static file: no interpreter, no needed
library, and it runs in a root that holds nothing but itself (and the
kernel's /proc and /sys), probing the kernel with BPF there.  It names
users from that root's /etc/passwd without glibc's NSS modules.

A sanitizer build (SANITIZE=1) or STATIC=0 is dynamic by design; then the
test checks that instead."""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import TAP, LOUPE, require_root  # noqa: E402

tap = TAP()
require_root(tap)
dynamic = os.environ.get("SANITIZE") == "1" or os.environ.get("STATIC") == "0"

ldd = subprocess.run(["ldd", LOUPE], capture_output=True, text=True)
dyn = subprocess.run(["readelf", "-d", "-l", "-W", LOUPE], capture_output=True, text=True).stdout
needed = [l.split()[-1] for l in dyn.splitlines() if "(NEEDED)" in l]
if dynamic:
    tap.ok(needed and "=>" in ldd.stdout, f"{LOUPE} is dynamic, as a sanitizer build must be",
           ldd.stdout)
    tap.done()
tap.ok("statically linked" in ldd.stdout or "not a dynamic executable" in ldd.stderr,
       f"ldd: {(ldd.stdout + ldd.stderr).strip()}")
tap.eq(needed, [], "no shared library needed (readelf -d)")
tap.ok("Requesting program interpreter" not in dyn, "no program interpreter (readelf -l)")
tap.ok("DYN (Position-Independent Executable" in dyn or "DYN (Shared object" in dyn,
       "position-independent: the kernel randomizes where it loads (static-pie)")

# A root with loupe alone, plus the kernel's file systems it reads.
root = tempfile.mkdtemp(prefix="loupe-static-root-")
try:
    shutil.copy2(LOUPE, os.path.join(root, "loupe"))
    os.makedirs(os.path.join(root, "etc"))
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/:/loupe\nlpstatic:x:4242:4242::/:/loupe\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\nlpgroup:x:4343:\n")
    for d in ("proc", "sys"):
        os.makedirs(os.path.join(root, d))

    def in_root(*args):
        script = (f"mount -t proc proc {root}/proc && mount --rbind /sys {root}/sys && "
                  f"exec chroot {root} /loupe \"$@\"")
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "--fork",
                               "sh", "-c", script, "sh", *args],
                              capture_output=True, text=True, timeout=120)

    r = in_root("version")
    tap.ok(r.returncode == 0 and r.stdout.startswith("loupe "),
           f"runs in a root with nothing but itself: {r.stdout.strip()}", r.stderr)
    r = in_root("list", "-v")
    tap.ok(r.returncode == 0 and len(r.stdout.splitlines()) >= 4,
           "list -v there probes the kernel with BPF", r.stdout + r.stderr)
    # A name from that root's /etc/passwd: accepted; an unknown one: refused
    # with the one-line error naming the file (exit 2).
    r = in_root("trace", "tcp", "--uid", "lpstatic", "--gid", "lpgroup", "--timeout", "1")
    tap.ok(r.returncode == 0 and "loupe: ready" in r.stderr,
           "--uid/--gid names resolve from the root's /etc/passwd and /etc/group, "
           "and it traces", r.stderr)
    r = in_root("trace", "tcp", "--uid", "root2", "--timeout", "1")
    tap.ok(r.returncode == 2 and "no user 'root2'" in r.stderr and
           len(r.stderr.strip().splitlines()) == 1,
           f"an unknown user: exit 2, one line: {r.stderr.strip()}")
finally:
    shutil.rmtree(root, ignore_errors=True)
tap.done()
