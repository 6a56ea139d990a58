#!/usr/bin/env python3
"""loupe trace tcp: connect, accept and close over IPv4 and IPv6 with real
programs (python3 sockets, curl); errors; and every filter."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from loupetest import TAP, Loupe, free_port, require_root  # noqa: E402
from tcputil import Peer, netns_inode, of_type, wait_for  # noqa: E402

tap = TAP()
require_root(tap)


def conversation(family, port, srv_comm="lpt-srv", cli_comm="lpt-cli", csend=3000, ssend=5000):
    """A server and a client moving exact byte counts; returns what they said."""
    srv = Peer("server", srv_comm, family, port, ssend)
    s0 = srv.line()
    cli = Peer("client", cli_comm, family, port, csend, ssend)
    c0 = cli.line()
    s1 = srv.line()
    c1 = cli.line()
    s2 = srv.line()
    srv.wait()
    cli.wait()
    return dict(srv=s0, acc=s1, srv_done=s2, cli=c0, cli_done=c1)


def ep(family, port):
    return f"[::1]:{port}" if family == "6" else f"127.0.0.1:{port}"


# --- a whole conversation, IPv4 then IPv6, on each state-change hook ----------
# The classic tracepoint is the fallback for kernels without BTF: forced here so
# it is proven on this kernel too.
for hook, family in ((None, "4"), (None, "6"), ("tracepoint", "4"), ("tracepoint", "6")):
    port = free_port()
    lp = Loupe(["trace", "tcp", "--port", str(port)] + (["--hook", hook] if hook else []))
    conv = conversation(family, port)
    evs = wait_for(lp, lambda e: len(of_type(e, "close")) >= 2 and of_type(e, "accept") and
                   of_type(e, "connect"))
    lp.stop()
    evs = lp.events()
    cli, srv, acc = conv["cli"], conv["srv"], conv["acc"]
    sport = cli["sport"]
    conns, accs, closes = of_type(evs, "connect"), of_type(evs, "accept"), of_type(evs, "close")
    tag = f"IPv{family}" + (f" ({hook})" if hook else "")
    tap.eq(len(conns), 1, f"{tag}: one connect event")
    tap.eq(len(accs), 1, f"{tag}: one accept event")
    tap.eq(len(closes), 2, f"{tag}: two close events (one per end)")
    if conns:
        c = conns[0]
        tap.eq((c["comm"], c["pid"], c["tid"]), ("lpt-cli", cli["pid"], cli["pid"]),
               f"{tag}: connect from the client's comm, pid and tid")
        tap.eq((c["src"], c["dst"]), (ep(family, sport), ep(family, port)),
               f"{tag}: connect src is the real local port, dst the server")
        tap.eq((c["fd"], c["error"]), (cli["fd"], ""), f"{tag}: connect fd and no error")
        tap.eq(c["netns"], netns_inode(), f"{tag}: connect netns is ours")
    if accs:
        a = accs[0]
        tap.eq((a["comm"], a["pid"]), ("lpt-srv", srv["pid"]), f"{tag}: accept in the server")
        tap.eq((a["fd"], a["accept_fd"]), (srv["listen_fd"], acc["accept_fd"]),
               f"{tag}: accept has the listening fd and the new fd")
        tap.eq((a["src"], a["dst"]), (ep(family, port), ep(family, sport)),
               f"{tag}: accept src is the server, dst the client")
    by_comm = {e["comm"]: e for e in closes}
    cc, sc = by_comm.get("lpt-cli"), by_comm.get("lpt-srv")
    tap.ok(cc is not None and sc is not None, f"{tag}: each close attributed to its end's owner",
           closes)
    if cc and sc:
        tap.eq((cc["pid"], cc["src"], cc["dst"]), (cli["pid"], ep(family, sport), ep(family, port)),
               f"{tag}: client close has the client's pid and tuple")
        tap.eq((sc["pid"], sc["src"], sc["dst"]), (srv["pid"], ep(family, port), ep(family, sport)),
               f"{tag}: server close has the server's pid and tuple")
        tap.eq((cc["bytes_sent"], cc["bytes_received"]), (3000, 5000),
               f"{tag}: client close counts 3000 bytes sent, 5000 received")
        tap.eq((sc["bytes_sent"], sc["bytes_received"]), (5000, 3000),
               f"{tag}: server close counts 5000 bytes sent, 3000 received")
        tap.ok(0 < cc["duration"] < 10e9 and 0 < sc["duration"] < 10e9,
               f"{tag}: close durations are positive and short",
               (cc["duration"], sc["duration"]))
        tap.ok(cc["fd"] is None and cc["error"] == "", f"{tag}: close has no fd and no error", cc)
    lp.cleanup()

# --- ECONNREFUSED, selected by --comm --------------------------------------------
port = free_port()
lp = Loupe(["trace", "tcp", "--comm", "lpt-refused"])
r = Peer("refused", "lpt-refused", "4", port)
info = r.line()
r.wait()
other = Peer("refused", "lpt-other", "4", port)  # same port, other comm: filtered out
other.line()
other.wait()
evs = wait_for(lp, lambda e: len(e) >= 1)
lp.stop()
evs = lp.events()
tap.eq(info["err"], 111, "the client saw ECONNREFUSED")
tap.eq([(e["type"], e["comm"], e["pid"], e["error"], e["dst"], e["fd"]) for e in evs],
       [("connect", "lpt-refused", info["pid"], "ECONNREFUSED", f"127.0.0.1:{port}", info["fd"])],
       "--comm: exactly one connect event, ECONNREFUSED, from the right process")
tap.ok(evs and not evs[0]["src"].endswith(":0"), "refused connect shows its local port", evs)
lp.cleanup()

# --- curl: a non-blocking connect, completed in softirq -------------------------------
port = free_port()
lp = Loupe(["trace", "tcp", "--comm", "curl", "--port", str(port)])
srv = Peer("server", "lpt-http", "4", port, 1234, "http")
srv.line()
curl = subprocess.Popen(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/"])
srv.line()
curl.wait(30)
srv.wait()
evs = wait_for(lp, lambda e: of_type(e, "connect") and of_type(e, "close"))
lp.stop()
evs = lp.events()
conns = of_type(evs, "connect")
tap.eq([(e["comm"], e["pid"], e["error"]) for e in conns], [("curl", curl.pid, "")],
       "curl's non-blocking connect is attributed to curl's pid")
tap.eq([e["comm"] for e in of_type(evs, "close")], ["curl"], "curl's close, and nothing of the "
       "server (filtered by --comm)")
closes = of_type(evs, "close")
tap.ok(closes and closes[0]["bytes_received"] > 1234, "curl's close counts the response",
       closes)
tap.eq(of_type(evs, "accept"), [], "no accept event for curl")
lp.cleanup()

# --- --pid: only the server's side ---------------------------------------------------
port = free_port()
srv = Peer("server", "lpt-srv", "4", port, 10)
s0 = srv.line()
# The server is already blocked in accept() when loupe starts.
lp = Loupe(["trace", "tcp", "--pid", str(s0["pid"])])
cli = Peer("client", "lpt-cli", "4", port, 20, 10)
cli.line()
s1 = srv.line()
cli.wait()
srv.wait()
evs = wait_for(lp, lambda e: len(of_type(e, "close")) >= 1)
lp.stop()
evs = lp.events()
tap.eq(sorted((e["type"], e["pid"]) for e in evs),
       [("accept", s0["pid"]), ("close", s0["pid"])],
       "--pid: the server's accept and close only")
accs = of_type(evs, "accept")
tap.ok(len(accs) == 1 and accs[0]["accept_fd"] == s1["accept_fd"] and accs[0]["fd"] is None,
       "an accept() entered before loupe started: new fd known, listening fd unknown", accs)
lp.cleanup()

# --- --family 6 and --port -----------------------------------------------------------
p4, p6, pother = free_port(), free_port(), free_port()
lp = Loupe(["trace", "tcp", "--family", "6", "--comm", "lpt-fam"])
conversation("4", p4, "lpt-fam", "lpt-fam", 1, 1)
conversation("6", p6, "lpt-fam", "lpt-fam", 1, 1)
evs = wait_for(lp, lambda e: len(e) >= 4)
lp.stop()
evs = lp.events()
tap.ok(len(evs) == 4 and all(e["src"].startswith("[") for e in evs),
       "--family 6: the IPv6 conversation only (4 events)", evs)
lp.cleanup()

lp = Loupe(["trace", "tcp", "--port", str(pother), "--comm", "lpt-port"])
conversation("4", p4, "lpt-port", "lpt-port", 1, 1)
conversation("4", pother, "lpt-port", "lpt-port", 1, 1)
evs = wait_for(lp, lambda e: len(e) >= 4)
lp.stop()
evs = lp.events()
tap.ok(len(evs) == 4 and all(str(pother) in (e["src"] + e["dst"]) and
                             str(p4) not in (e["src"].split(":")[-1], e["dst"].split(":")[-1])
                             for e in evs),
       "--port: only the conversation on that port (4 events)", evs)
lp.cleanup()

# --- --accept-only, --connect-only ------------------------------------------------
for flag, want in (("--accept-only", "accept"), ("--connect-only", "connect")):
    port = free_port()
    lp = Loupe(["trace", "tcp", flag, "--port", str(port)])
    conversation("4", port, csend=5, ssend=5)
    evs = wait_for(lp, lambda e: len(e) >= 1)
    # Give a wrong close or accept the time to show up before judging.
    evs = wait_for(lp, lambda e: False, timeout=0.5)
    lp.stop()
    evs = lp.events()
    tap.eq([e["type"] for e in evs], [want], f"{flag}: one {want} event and nothing else")
    lp.cleanup()

# --- bad flags -----------------------------------------------------------------------
for args, what in ((["--family", "5"], "--family 5"), (["--port", "70000"], "--port 70000"),
                   (["--accept-only", "--connect-only"], "--accept-only --connect-only")):
    r = subprocess.run([os.environ.get("LOUPE", "./loupe"), "trace", "tcp"] + args,
                       capture_output=True, text=True, timeout=30)
    lines = r.stderr.strip().splitlines()
    tap.ok(r.returncode in (1, 2) and len(lines) == 1 and lines[0].startswith("loupe: "),
           f"{what}: refused with one 'loupe:' line", (r.returncode, r.stderr))

tap.done()
