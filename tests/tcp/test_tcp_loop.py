#!/usr/bin/env python3
"""loupe trace tcp: 10,000 short loopback connections in one python3 process.
Each appears exactly once per type (connect, accept, and a close at each end),
nothing is lost, and the context maps are empty afterwards (checked while
loupe still runs)."""

import collections
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from loupetest import TAP, Loupe, free_port, require_root  # noqa: E402
from tcputil import Peer, loupe_maps, map_entries, of_type, wait_for  # noqa: E402

N = 10000
tap = TAP()
require_root(tap)

tmp = tempfile.mkdtemp(prefix="lpt-tcp-loop-")
sports_file = os.path.join(tmp, "sports")
port = free_port()
# --port too: passive connections are remembered before anyone accepts them,
# so only the port keeps other programs' connections out of tuplepid.
lp = Loupe(["trace", "tcp", "--comm", "lpt-loop", "--port", str(port), "--buffer-size", "64M"])
maps = loupe_maps(lp.proc.pid)
loop = Peer("loop", "lpt-loop", N, port, sports_file)
info = loop.line()
loop.line(timeout=170)
loop.wait()
evs = wait_for(lp, lambda e: len(e) >= 4 * N, timeout=30)
contexts = {n: map_entries(maps[n]) for n in ("tcp_tid_fd", "tcp_tid_sock", "tuplepid")}
lp.stop()
evs = lp.events()
stats = lp.stats() or {}
with open(sports_file) as f:
    sports = json.load(f)

cli = f"127.0.0.1:{port}"
conns = collections.Counter(int(e["src"].rsplit(":", 1)[1]) for e in of_type(evs, "connect")
                            if e["dst"] == cli and e["error"] == "")
accs = collections.Counter(int(e["dst"].rsplit(":", 1)[1]) for e in of_type(evs, "accept")
                           if e["src"] == cli)
cclose = collections.Counter(int(e["src"].rsplit(":", 1)[1]) for e in of_type(evs, "close")
                             if e["dst"] == cli)
sclose = collections.Counter(int(e["dst"].rsplit(":", 1)[1]) for e in of_type(evs, "close")
                             if e["src"] == cli)
want = collections.Counter(sports)

tap.eq(len(sports), N, f"the loop made {N} connections")
tap.eq(stats.get("lost"), 0, "nothing lost")
tap.eq(len(evs), 4 * N, f"{4 * N} events: connect, accept and two closes per connection")
for name, got in (("connect", conns), ("accept", accs), ("client close", cclose),
                  ("server close", sclose)):
    diff = (got - want) + (want - got)
    tap.ok(not diff, f"every connection has exactly one {name} event",
           f"{sum(diff.values())} differ, e.g. {list(diff.items())[:5]}")
tap.ok(all(e["pid"] == info["pid"] for e in evs), "every event from the loop's pid")
closes = of_type(evs, "close")
tap.ok(all(e["bytes_sent"] + e["bytes_received"] == 4 for e in closes),
       "every close counts the 4-byte ping", [e for e in closes if
                                             e["bytes_sent"] + e["bytes_received"] != 4][:3])
for name, entries in contexts.items():
    tap.ok(entries == [], f"{name} is empty afterwards", entries[:5])
lp.cleanup()
tap.done()
