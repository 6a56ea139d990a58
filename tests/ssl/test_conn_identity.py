#!/usr/bin/env python3
"""conn names one connection for its whole life and no other in a run (issue 19).

One nginx worker serves 200 sequential connections (one curl process,
Connection: close) and 50 concurrent ones (one Python process, 50 threads
that all finish their handshake before any sends).  The allocator hands the
same SSL * to many of them.  From `-o json` alone, grouping data by pid, conn
and direction (what docs/gadgets/ssl.md tells users to do), every
connection's two streams are rebuilt on both sides and must be byte-exact:
each is one request or one response for that connection's own path, the
server's reads are the client's writes and the other way round, and Python's
are what Python itself sent and received.  Ids are distinct: 250 server
connections, 250 ids.  The library's frees reach user space (conns_ended).
"""
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from loupetest import TAP, Loupe, loupe_maps, map_entries, require_root  # noqa: E402
from tlsservers import Server  # noqa: E402

SEQ, CONC = 200, 50
COMM = "lp19cid"  # every process of this test runs under this name: --comm keeps others out

# 50 connections at once: every handshake is done before the first request.
CONCURRENT = r"""
import json, socket, ssl, sys, threading
port, n, token, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ready = threading.Barrier(n)
res = [None] * n
def run(i):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                        server_hostname="localhost")
    ready.wait()
    req = f"GET /p/{i}/{token} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    s.sendall(req.encode())
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    res[i] = [req, buf.decode("latin-1")]
ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
json.dump(res, open(out, "w"))
"""


# A client that exits without closing: only its exit can end its connection.
EXITS = r"""
import os, socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                    server_hostname="localhost")
s.sendall(f"GET {sys.argv[2]} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
s.recv(65536)
os._exit(0)
"""


def alias(tmp, prog):
    """prog started as COMM (a process's comm is the name it was started by)."""
    d = os.path.join(tmp, os.path.basename(prog))
    link = os.path.join(d, COMM)
    if not os.path.exists(link):
        os.makedirs(d)
        os.symlink(shutil.which(prog) or prog, link)
    return link


def streams(evs):
    """(pid, conn) -> {"read": bytes, "write": bytes}, from the data rows, by conn alone."""
    out = {}
    for e in evs:
        if e.get("direction") not in ("read", "write") or "data" not in e:
            continue
        s = out.setdefault((e["pid"], e["conn"]), {"read": b"", "write": b"", "handle": set()})
        s[e["direction"]] += e["data"].encode("latin-1")
        s["handle"].add(e.get("handle", e["conn"]))  # before issue 19 conn was the handle
    return out


def path_of(request):
    first = request.split(b"\r\n", 1)[0].split()
    return first[1].decode() if len(first) == 3 else None


def main():
    tap = TAP()
    require_root(tap)
    tmp = tempfile.mkdtemp(prefix="loupe-conn-id-")
    os.chmod(tmp, 0o755)
    token = secrets.token_hex(6)
    nginx, lp = None, None
    try:
        # One worker (tlsservers' nginx); each path a file that names itself.
        nginx = Server("nginx", exe=alias(tmp, "nginx"))
        port = nginx.port
        for p in [f"c/{i}" for i in range(SEQ)] + [f"p/{i}" for i in range(CONC)]:
            os.makedirs(os.path.join(nginx.dir, "www", p))
            with open(os.path.join(nginx.dir, "www", p, token), "w") as f:
                f.write(f"conn /{p}/{token}\n")
        lp = Loupe(["trace", "ssl", "--comm", COMM, "--buffer-size", "16M"])
        # 200 sequential connections from one curl process.
        cfg = os.path.join(tmp, "curl.cfg")
        with open(cfg, "w") as f:
            for i in range(SEQ):
                f.write(f'url = "https://127.0.0.1:{port}/c/{i}/{token}"\n'
                        f'output = "{tmp}/body-{i}"\n')
        curl = subprocess.run([alias(tmp, "curl"), "-sk", "--http1.1", "-H",
                               "Connection: close", "-K", cfg], capture_output=True,
                              timeout=120)
        tap.eq(curl.returncode, 0, f"curl made {SEQ} sequential connections")
        res = os.path.join(tmp, "concurrent.json")
        py = subprocess.run([alias(tmp, "/usr/bin/python3"), "-c", CONCURRENT, str(port),
                             str(CONC), token, res], capture_output=True, timeout=120)
        tap.eq(py.returncode, 0, f"python3 held {CONC} connections at once")
        if py.returncode:
            print("# " + py.stderr.decode(errors="replace")[-500:])
        ex = subprocess.run([alias(tmp, "/usr/bin/python3"), "-c", EXITS, str(port),
                             f"/exit/{token}"], capture_output=True, timeout=60)
        # Every connection is over (freed, or its process gone): the kernel's table is empty.
        maps = loupe_maps(lp.proc.pid)
        left = None
        for _ in range(50):
            left = map_entries(maps["ssl_conns"]) if "ssl_conns" in maps else None
            if left == []:
                break
            time.sleep(0.1)
        tap.ok(ex.returncode == 0 and left == [],
               "ssl_conns is empty once every connection was freed or its process exited",
               f"rc {ex.returncode}, {len(left or [])} entries left: {str(left)[:300]}")
        lp.stop()
        evs = lp.events()
        stats = lp.stats() or {}
        # The exiting client's connection (a 404) is not one of the 250.
        by = {k: v for k, v in streams(evs).items()
              if f"/exit/{token}" not in (path_of(v["read"]), path_of(v["write"]))}
        srv = {k: v for k, v in by.items() if k[0] == nginx.pid}
        cli = {k: v for k, v in by.items() if k[0] != nginx.pid}
        tap.eq(len(srv), SEQ + CONC, "server side: one conn id per connection")
        handles = set().union(*(v["handle"] for v in srv.values())) if srv else set()
        tap.ok(len(handles) < SEQ + CONC,
               f"the handle (SSL *) was reused: {len(handles)} handles for "
               f"{SEQ + CONC} connections (grouping by handle would mix them)")
        tap.ok(all(len(v["handle"]) == 1 for v in by.values()),
               "every conn has one handle for its whole life")
        # Each server conn: exactly one request, for a path of its own, and its one response.
        want_paths = {f"/c/{i}/{token}" for i in range(SEQ)} | \
            {f"/p/{i}/{token}" for i in range(CONC)}
        srv_by_path, bad = {}, []
        for k, v in srv.items():
            p = path_of(v["read"])
            body = f"conn {p}\n".encode()
            if (p not in want_paths or p in srv_by_path or v["read"].count(b"GET ") != 1
                    or not v["read"].endswith(b"\r\n\r\n") or v["write"].count(b"HTTP/1.1 ") != 1
                    or not v["write"].endswith(b"\r\n\r\n" + body)):
                bad.append(f"conn {k[1]}: {v['read'][:60]!r} -> {v['write'][-40:]!r}")
            srv_by_path[p] = v
        tap.ok(not bad and set(srv_by_path) == want_paths,
               "server: each conn's read stream is one request of its own path, its write "
               "stream that path's response, whole", "\n".join(bad[:10]) or
               f"{len(want_paths - set(srv_by_path))} paths missing")
        # Client side: by conn alone, and the server's streams mirrored byte for byte.
        bad = []
        matched = 0
        for k, v in cli.items():
            p = path_of(v["write"])
            s = srv_by_path.get(p)
            if not s or s["read"] != v["write"] or s["write"] != v["read"]:
                bad.append(f"pid {k[0]} conn {k[1]} path {p}")
            else:
                matched += 1
        tap.ok(not bad and matched == SEQ + CONC,
               f"clients: {matched} conns whose write/read streams are the server's "
               "read/write streams, byte-exact", "\n".join(bad[:10]))
        # What the programs themselves saw.
        bad = []
        for i in range(SEQ):
            p = f"/c/{i}/{token}"
            try:
                got = open(f"{tmp}/body-{i}", "rb").read()
            except OSError:
                got = None
            if got != f"conn {p}\n".encode() or \
                    not srv_by_path.get(p, {}).get("write", b"").endswith(b"\r\n\r\n" + got):
                bad.append(i)
        tap.ok(not bad, "curl's saved bodies end the rebuilt streams of their paths", bad[:10])
        if os.path.exists(res):
            got = json.load(open(res))
            bad = [i for i, (req, resp) in enumerate(got)
                   if srv_by_path.get(f"/p/{i}/{token}", {}).get("read") != req.encode()
                   or srv_by_path.get(f"/p/{i}/{token}", {}).get("write")
                   != resp.encode("latin-1")]
            tap.ok(not bad, "python3's own requests and responses are the rebuilt streams, "
                   "byte-exact", bad[:10])
        else:
            tap.ok(False, "python3's own requests and responses are the rebuilt streams")
        ids = [k[1] for k in by]
        tap.eq(len(set(ids)), len(ids), "no id is given to two connections (server and clients)")
        tap.ok(0 not in ids, "every connection got an id (none 0)")
        tap.ok(stats.get("conns_ended", 0) >= 2 * (SEQ + CONC),
               f"the libraries' frees reached user space: conns_ended "
               f"{stats.get('conns_ended')} >= {2 * (SEQ + CONC)}")
        tap.ok(stats.get("lost") == 0 and stats.get("map_full") == 0
               and stats.get("notices_lost") == 0, "nothing lost, no map full",
               json.dumps(stats))
    finally:
        if lp:
            lp.stop()
            lp.cleanup()
        if nginx:
            nginx.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
