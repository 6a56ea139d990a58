#!/usr/bin/env python3
"""--output-file and --pcap on a device or a FIFO leave its mode alone.

Found by the soak: `loupe ... --output-file /dev/null` made /dev/null 0600
(the fchmod that keeps an existing capture file private), and every
program of every other user writing to /dev/null failed from then on
(curl: "(23) Failure writing output to destination"). A character device
of our own (the null device, made with mknod) stands in for /dev/null, so
that the test, if it fails, breaks nothing of the host's.
"""

import os
import stat
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import LOUPE, TAP, require_root, run  # noqa: E402

tap = TAP()
require_root(tap)
# Nothing of ours runs under this name: loupe sees no event, only opens files.
COMM = "loupe-outdev-x"
tmp = tempfile.mkdtemp(prefix="loupe-outdev-")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def trace(args):
    return run([LOUPE, "trace"] + args + ["--comm", COMM, "--timeout", "1"], timeout=60)


for opt, gadget in (("--output-file", "tcp"), ("--pcap", "ssl")):
    # The null device, as /dev/null is: character device 1:3, 0666.
    node = os.path.join(tmp, f"null{opt}")
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chmod(node, 0o666)
    r = trace([gadget, opt, node])
    tap.eq(r.returncode, 0, f"{opt} to a null device: exit 0")
    tap.eq(oct(mode(node)), oct(0o666), f"{opt} to a null device: its mode stays 0666")

    # A FIFO to a collector, read while loupe writes.
    fifo = os.path.join(tmp, f"fifo{opt}")
    os.mkfifo(fifo, 0o644)
    os.chmod(fifo, 0o644)
    got = []

    def drain():
        with open(fifo, "rb") as f:
            got.append(f.read())

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    r = trace([gadget, opt, fifo])
    t.join(30)
    tap.eq(r.returncode, 0, f"{opt} to a FIFO: exit 0")
    tap.eq(oct(mode(fifo)), oct(0o644), f"{opt} to a FIFO: its mode stays 0644")
    if opt == "--pcap":
        tap.ok(got and got[0][:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"), "--pcap to a FIFO: the reader got a pcap header",
               got[:1])

    # The control: an existing regular file is still made private.
    reg = os.path.join(tmp, f"file{opt}")
    with open(reg, "w") as f:
        f.write("old")
    os.chmod(reg, 0o644)
    r = trace([gadget, opt, reg])
    tap.eq(r.returncode, 0, f"{opt} over an existing file: exit 0")
    tap.eq(oct(mode(reg)), oct(0o600), f"{opt} over an existing 0644 file: made 0600")

tap.done()
