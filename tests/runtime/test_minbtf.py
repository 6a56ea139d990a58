#!/usr/bin/env python3
"""The minimal kernel BTF (src/minbtf.c) must relocate every CO-RE access of
a gadget exactly as the whole kernel BTF does: same offsets, same answers."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import LOUPE, TAP, require_root, run  # noqa: E402

RELO = re.compile(r"prog '([^']+)': relo #(\d+): (<[a-z_0-9]+> .*)")
tap = TAP()
require_root(tap)


def relocations(env_extra):
    env = dict(os.environ, **env_extra)
    r = run([LOUPE, "trace", "ssl", "-vv", "--timeout", "0.3"], env=env, timeout=60)
    err = r.stderr.decode()
    out = set()
    for m in RELO.finditer(err):
        # Type ids differ between the two BTFs; names, paths and results do not.
        out.add((m.group(1), m.group(2), re.sub(r"\[\d+\] ", "", m.group(3))))
    return out, err


full, _ = relocations({"LOUPE_FULL_BTF": "1"})
mini, err = relocations({})
tap.ok("no minimal kernel BTF" not in err, "the minimal BTF was built and used", err[-2000:])
tap.ok(len(full) > 20, f"the ssl gadget has CO-RE relocations ({len(full)})")
tap.eq(sorted(mini - full), [], "every relocation with the minimal BTF matches the full BTF")
tap.eq(sorted(full - mini), [], "no relocation is missing with the minimal BTF")
tap.done()
