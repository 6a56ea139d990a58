#!/usr/bin/env python3
"""loupe trace tcp: failed connects in a network namespace of the test's own
(unreachable route, no route, refused, timeout), --failure-only, and context
maps that do not leak when a thread is killed inside connect() or accept()."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from loupetest import TAP, Loupe, require_root  # noqa: E402
from tcputil import Peer, loupe_maps, map_entries, of_type, wait_for  # noqa: E402

tap = TAP()
require_root(tap)

tag = str(os.getpid())
NS_A, NS_B = f"lpt-tcp-a{tag}", f"lpt-tcp-b{tag}"
VA, VB = f"lpta{tag}"[:15], f"lptb{tag}"[:15]


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def setup():
    # A: 10.250.0.1/24 on a veth to B (10.250.0.2, no forwarding, no listener).
    # 10.251/24 is an unreachable route, 10.252/24 goes through B, which drops it
    # silently, 10.253/24 has no route at all.  One SYN retry: a timeout in ~3 s.
    sh("ip", "netns", "add", NS_A)
    sh("ip", "netns", "add", NS_B)
    sh("ip", "link", "add", VA, "type", "veth", "peer", "name", VB)
    sh("ip", "link", "set", VA, "netns", NS_A)
    sh("ip", "link", "set", VB, "netns", NS_B)
    sh("ip", "-n", NS_A, "addr", "add", "10.250.0.1/24", "dev", VA)
    sh("ip", "-n", NS_B, "addr", "add", "10.250.0.2/24", "dev", VB)
    for ns, dev in ((NS_A, VA), (NS_B, VB), (NS_A, "lo")):
        sh("ip", "-n", ns, "link", "set", dev, "up")
    sh("ip", "-n", NS_A, "route", "add", "unreachable", "10.251.0.0/24")
    sh("ip", "-n", NS_A, "route", "add", "10.252.0.0/24", "via", "10.250.0.2")
    sh("ip", "netns", "exec", NS_A, "sysctl", "-qw", "net.ipv4.tcp_syn_retries=1")
    sh("ip", "netns", "exec", NS_B, "sysctl", "-qw", "net.ipv4.ip_forward=0")


def teardown():
    for ns in (NS_A, NS_B):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def owned_by(entries, pid):
    """Entries of a map dump whose formatted value carries proc.pid == pid."""
    out = []
    for e in entries:
        v = e.get("formatted", {}).get("value", {})
        if isinstance(v, dict) and v.get("proc", {}).get("pid") == pid:
            out.append(e)
    return out


try:
    setup()
    ns_ino = os.stat(f"/run/netns/{NS_A}").st_ino

    # --- every kind of failure at once, --failure-only ------------------------
    lp = Loupe(["trace", "tcp", "--failure-only", "--comm", "lpt-err"])
    targets = {"10.251.0.5,80": "EHOSTUNREACH", "10.253.0.5,80": "ENETUNREACH",
               "10.250.0.2,80": "ECONNREFUSED", "10.252.0.5,80": "ETIMEDOUT"}
    t0 = time.time()
    m = Peer("multi", "lpt-err", *targets, "listener", netns=NS_A)
    res = m.line(timeout=20)
    m.wait()
    elapsed = time.time() - t0
    evs = wait_for(lp, lambda e: len(e) >= 4)
    evs = wait_for(lp, lambda e: False, timeout=0.3)
    lp.stop()
    evs = lp.events()
    r = res["results"]
    tap.eq(r["listener"][0], 0, "the connect to the listener succeeded")
    tap.ok(elapsed < 8, "the failures took seconds, not minutes", elapsed)
    got = {e["dst"].replace(":", ","): e for e in evs}
    for target, name in targets.items():
        e = got.get(target)
        tap.ok(e is not None and e["error"] == name, f"{target}: connect error {name}",
               (e, r[target]))
        if e:
            tap.eq((e["pid"], e["tid"], e["fd"], e["netns"]),
                   (res["pid"], r[target][2], r[target][1], ns_ino),
                   f"{target}: from the connecting thread, its fd, in the test's netns")
    tap.ok(len(evs) == 4, "--failure-only: the four failures and not the success", evs)
    tap.ok(all(e["type"] == "connect" for e in evs), "--failure-only: connect events only")
    lp.cleanup()

    # --- a thread killed inside connect() and one inside accept() ---------------
    lp = Loupe(["trace", "tcp", "--comm", "lpt-kill"])
    maps = loupe_maps(lp.proc.pid)
    tap.ok(all(n in maps for n in ("tcp_tid_fd", "tcp_tid_sock", "tuplepid")),
           "loupe holds the context maps", maps)
    conn = Peer("connect-forever", "lpt-kill", "10.252.0.5", 80, netns=NS_A)
    cinfo = conn.line()
    acc = Peer("accept-forever", "lpt-kill")
    ainfo = acc.line()
    time.sleep(0.3)  # both are now blocked in the kernel
    before = {n: map_entries(maps[n]) for n in ("tcp_tid_fd", "tcp_tid_sock", "tuplepid")}
    tap.ok((len(before["tcp_tid_fd"]), len(before["tcp_tid_sock"])) == (2, 2),
           "while blocked: one context per thread in tcp_tid_fd and tcp_tid_sock", before)
    tap.ok(len(owned_by(before["tuplepid"], cinfo["pid"])) == 1,
           "while blocked: the connecting socket's owner in tuplepid", before["tuplepid"])
    conn.kill()
    acc.kill()
    evs = wait_for(lp, lambda e: len(e) >= 1)
    time.sleep(0.2)
    after = {n: map_entries(maps[n]) for n in ("tcp_tid_fd", "tcp_tid_sock")}
    tp = map_entries(maps["tuplepid"])
    lp.stop()
    evs = lp.events()
    tap.eq(after, {"tcp_tid_fd": [], "tcp_tid_sock": []},
           "after SIGKILL: tcp_tid_fd and tcp_tid_sock are empty")
    tap.eq(owned_by(tp, cinfo["pid"]) + owned_by(tp, ainfo["pid"]), [],
           "after SIGKILL: nothing of the killed processes left in tuplepid")
    tap.eq([(e["type"], e["pid"], e["error"], e["dst"]) for e in evs],
           [("connect", cinfo["pid"], "ECONNABORTED", "10.252.0.5:80")],
           "the abandoned connect is reported as ECONNABORTED")
    lp.cleanup()
finally:
    teardown()

tap.done()
