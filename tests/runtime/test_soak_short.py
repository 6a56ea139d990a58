#!/usr/bin/env python3
"""A short soak (bench/soak.py) in the suite: 75 s of mixed traffic under
`loupe trace ssl tcp --http` (curl over HTTP/1.1 and HTTP/2, keep-alive and
new connections, TCP churn, refused connects, nginx reloads).

The rules of the 30-minute soak, with the 1-minute reference replaced by the
20 s point: nothing lost (every loss counter 0, at every sample and at
exit), RSS at the end at most 1 MiB above the reference, the same number of
open descriptors, every row loupe printed reached the sink. No timing is
asserted: on a loaded machine the traffic is slower, not wrong.
"""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import SRCDIR, TAP, require_root  # noqa: E402

SECONDS = os.environ.get("SOAK_SECONDS", "75")
REF = os.environ.get("SOAK_REF", "20")

tap = TAP()
require_root(tap)
env = dict(os.environ)
if os.environ.get("SANITIZE") == "1":
    # ASan keeps freed memory in quarantine (up to 256 MB) to catch use after
    # free: RSS would measure the quarantine, not loupe. Without it RSS is
    # loupe's again (measured: 31.97 MiB at 20 s, 32.00 MiB at 45 s); leaks
    # and every other error are still reported.
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                           ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0").lstrip(":")
with tempfile.TemporaryDirectory(prefix="loupe-soak-test-") as d:
    summary_path = os.path.join(d, "summary.json")
    r = subprocess.run([os.path.join(SRCDIR, "bench", "soak.py"), "--seconds", SECONDS,
                        "--ref", REF, "--reload", "30", "--summary", summary_path],
                       capture_output=True, text=True, timeout=float(SECONDS) + 300, env=env)
    for line in r.stdout.splitlines():
        print(f"# {line}")
    if not os.path.exists(summary_path):
        tap.ok(False, "bench/soak.py wrote its summary", r.stdout + r.stderr)
        tap.done()
    with open(summary_path) as f:
        summary = json.load(f)
    for c in summary["checks"]:
        tap.ok(c["ok"], c["what"], r.stderr)
    tap.eq(r.returncode, 0 if summary["pass"] else 1, "soak.py's status says what its checks say")
tap.done()
