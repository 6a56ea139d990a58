#!/usr/bin/env python3
"""Nothing lost silently, under a burst that starts the instant loupe is ready.

For every gadget, a workload of ours that counts what it did starts the moment
`loupe: ready` appears, at full speed, and loupe is stopped as soon as it
ends.  In every run the books must balance exactly:

    seen (counted in the kernel) = what the workload did
    seen = events shown + lost (per reason), and nothing unaccounted
    events shown = rows printed

and with a buffer large enough for the burst, nothing at all is lost.

LOUPE_NO_LOSS_RUNS sets the runs per case (default 20).
"""

import os
import pwd
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tcp"))
from loupetest import TAP, Loupe, OUTPUT, free_port, own_copy, require_root, run  # noqa: E402
from tcputil import Peer  # noqa: E402

# Our loop under a name of its own: other suites may run tls_loop meanwhile.
TLS_LOOP, LOOP_COMM = own_copy(os.path.join(OUTPUT, "bench", "tls_loop"), "lpt-nl-")
RUNS = int(os.environ.get("LOUPE_NO_LOSS_RUNS", "20"))
HERE = os.path.dirname(os.path.abspath(__file__))

tap = TAP()
require_root(tap)


def balance(stats):
    """The accounting identity; returns a reason it fails, or None."""
    lost = sum(stats[k] for k in ("lost_ring_full", "lost_at_exit", "lost_undecodable",
                                  "lost_dropped"))
    if lost != stats["lost"]:
        return f"lost {stats['lost']} is not the sum of its reasons ({lost})"
    if stats["events"] + stats["lost"] != stats["seen"]:
        return f"events {stats['events']} + lost {stats['lost']} != seen {stats['seen']}"
    if stats["unaccounted"]:
        return f"{stats['unaccounted']} unaccounted"
    return None


def check_case(name, runs, want_no_loss):
    """runs: list of (did, printed, stats); did is the workload's own count."""
    bad = []
    for i, (did, printed, st) in enumerate(runs):
        why = None
        if st is None:
            why = "no statistics"
        elif "seen" not in st:
            why = "the statistics have no kernel-side count of the events produced (seen)"
        elif st["seen"] != did:
            why = f"the kernel saw {st['seen']}, the workload did {did}"
        elif printed != st["events"]:
            why = f"{printed} rows printed but events says {st['events']}"
        else:
            why = balance(st)
        if not why and want_no_loss and (st["lost"] or printed != did):
            why = f"lost {st['lost']}, printed {printed} of {did}"
        if why:
            bad.append(f"run {i}: {why}")
    tap.ok(not bad, f"{name}: {len(runs)} runs, the books balance in every one"
           + (" and nothing is lost" if want_no_loss else ""), "\n".join(bad[:10]))
    return runs


# --- ssl: a TLS loop of 16 KiB and of 64 B messages ---------------------------------
def ssl_run(size, iters, buf):
    args = ["trace", "ssl", "--comm", LOOP_COMM]
    if buf:
        args += ["--buffer-size", buf]
    lp = Loupe(args)
    out = run([TLS_LOOP, "bench", str(size), str(iters)], timeout=120)
    lp.stop()
    info = dict(line.split() for line in out.stdout.decode().splitlines())
    printed = sum(1 for e in lp.events() if e["comm"] == LOOP_COMM)
    st = lp.stats()
    lp.cleanup()
    return int(info["tls_calls"]), printed, st


losses = 0
for size, iters in ((16384, 300), (64, 3000)):
    for buf in (None, "64M", "256K"):
        runs = check_case(f"ssl {size} B x {iters}, buffer {buf or 'default'}",
                          [ssl_run(size, iters, buf) for _ in range(RUNS)], buf == "64M")
        losses += sum(st["lost"] for _, _, st in runs if st)
# 64 KiB calls travel as four records: a record lost in the middle truncates the
# event (shown, counted truncated), it does not lose it a second time.  A 64K
# ring holds less than one such event, so records are lost mid-event however
# fast the reader is (with 256K a quiet machine's reader kept up: nothing to see).
runs = check_case("ssl 65536 B x 150 (multi-record events), buffer 64K",
                  [ssl_run(65536, 150, "64K") for _ in range(RUNS)], False)
truncated = sum(st["truncated"] for _, _, st in runs if st and "truncated" in st)
tap.ok(truncated > 0, f"records lost mid-event were seen ({truncated} events truncated)")
# The small buffer must really overflow, or the loss path was not exercised.
tap.ok(losses > 0, f"the 256K buffer overflowed ({losses} events lost, all counted)")


# --- tcp: a storm of loopback connections ---------------------------------------------
def tcp_run(n, buf):
    tmp = tempfile.mkdtemp(prefix="lpt-noloss-")
    port = free_port()
    args = ["trace", "tcp", "--comm", "lpt-storm", "--port", str(port)]
    if buf:
        args += ["--buffer-size", buf]
    lp = Loupe(args)
    peer = Peer("loop", "lpt-storm", n, port, os.path.join(tmp, "sports"))
    peer.line()
    peer.line(timeout=120)
    peer.wait()
    lp.stop()
    evs = lp.events()
    st = lp.stats()
    lp.cleanup()
    # connect, accept and a close at each end per connection
    return 4 * n, len(evs), st


for buf in (None, "64M", "256K"):
    check_case(f"tcp 2000-connection storm, buffer {buf or 'default'}",
               [tcp_run(2000, buf) for _ in range(max(RUNS // 4, 1))], buf == "64M")


# --- capabilities: a storm of denied setpriority calls ----------------------------------
work = tempfile.mkdtemp(prefix="lpt-noloss-caps-")
os.chmod(work, 0o755)
helper = os.path.join(work, "lpt_deny_" + str(os.getpid())[-6:])  # a name of its own
r = run(["cc", "-O2", "-o", helper, os.path.join(HERE, "..", "capabilities", "prio_helper.c")])
tap.ok(r.returncode == 0, "build the denial helper", r.stderr)
nobody = pwd.getpwnam("nobody")


def caps_run(n, buf):
    args = ["trace", "capabilities", "--comm", os.path.basename(helper)[:15], "--denied-only",
            "--cap", "CAP_SYS_NICE"]
    if buf:
        args += ["--buffer-size", buf]
    lp = Loupe(args)
    out = run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", helper,
               str(n)], timeout=120)
    lp.stop()
    denied = int(out.stdout.split()[0])
    evs = lp.events()
    st = lp.stats()
    lp.cleanup()
    return denied, len(evs), st


for buf in (None, "64M"):
    check_case(f"capabilities 20000-denial storm, buffer {buf or 'default'}",
               [caps_run(20000, buf) for _ in range(max(RUNS // 4, 1))], buf == "64M")
tap.done()
