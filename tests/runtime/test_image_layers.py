#!/usr/bin/env python3
"""Image layers come and go on a node: loupe trace ssl probes the TLS
libraries of a layer pulled while it runs, and detaches those probes when
the image is removed, so a long run does not keep links and descriptors of
deleted files (found by the soak: 23 descriptors per removed layer)."""
import os
import shutil
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import TAP, Loupe, require_root  # noqa: E402
from podman import Podman  # noqa: E402

tap = TAP()
require_root(tap)
pm = Podman()
d = tempfile.mkdtemp(prefix="loupe-layer-")
libdir = os.path.join(d, "root", "usr", "lib", "x86_64-linux-gnu")
os.makedirs(libdir)
for lib in ("libssl.so.3", "libcrypto.so.3"):
    shutil.copy(os.path.join("/usr/lib/x86_64-linux-gnu", lib), libdir)
# Content of our own: the layer is new to the storage, whatever ran before.
with open(os.path.join(d, "root", "marker"), "w") as f:
    f.write(f"{os.getpid()} {time.time()}")
tar = os.path.join(d, "layer.tar")
with tarfile.open(tar, "w") as t:
    t.add(os.path.join(d, "root"), arcname=".")
image = f"lpt-layer-{os.getpid()}:1"


def fds(lp):
    return len(os.listdir(f"/proc/{lp.proc.pid}/fd"))


def wait_for(pred, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.5)
    return False


lp = Loupe(["trace", "ssl", "-v", "--comm", "lpt-layer-none"])
try:
    before = fds(lp)
    pm.podman("import", tar, image, check=True)
    probed = wait_for(lambda: fds(lp) > before)
    during = fds(lp)
    tap.ok(probed and "in an image layer" in lp.stderr,
           f"a layer imported while loupe runs is probed ({before} -> {during} descriptors)")
    pm.podman("rmi", "-f", image, check=True)
    released = wait_for(lambda: fds(lp) <= before)
    after = fds(lp)
    tap.ok(released, f"its image removed, the layer's links are detached ({during} -> {after} "
           f"descriptors, {before} at start)")
finally:
    pm.podman("rmi", "-f", image)
    lp.stop()
    shutil.rmtree(d, ignore_errors=True)
# After the stop: all of stderr has been read (its reader may lag the descriptors).
tap.ok("image layer removed" in lp.stderr and "links detached" in lp.stderr,
       "and -v says so", [x for x in lp.stderr.splitlines() if "layer" in x][-3:])
st = lp.stats() or {}
tap.ok(lp.proc.returncode == 0 and st.get("lost") == 0, "loupe stopped normally, nothing lost",
       st)
tap.done()
