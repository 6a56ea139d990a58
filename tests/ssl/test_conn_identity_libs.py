#!/usr/bin/env python3
"""conn identity for every backend: one process makes (or serves) several
sequential connections that get the same handle address again, and each
still gets its own conn (issue 19).

Pairs of real programs, each side one process, every connection with a path
of its own, N connections one after the other:
  python3 (OpenSSL)        -> gnutls-serv --http (GnuTLS: gnutls_deinit)
  wget (GnuTLS)            -> selfserv (NSS: PR_Close; it echoes the request)
  curl (OpenSSL: SSL_free) -> our Go server (Go: (*Conn).Close; GOGC=1 so that
                              the collector hands *tls.Conn addresses out again)
From -o json alone, grouped by pid and conn: N conns on each side, each
conn's streams hold exactly its own request (and response), the server's
reads are the client's writes byte for byte (and the other way where the
server's writes are probed), and the handle was reused on the side named:
grouping by handle, as conn was before, would have mixed connections.
"""
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import (OUTPUT, TAP, Loupe, free_port, make_cert, require_root,  # noqa: E402
                       wait_port)

N = 20
COMM = "lp19cidl"
GOTLS = os.path.join(OUTPUT, "tests", "go", "gotls")

# N sequential connections from one process; prints [[request, response], ...].
PY_CLIENT = r"""
import json, socket, ssl, sys
port, n, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
res = []
for i in range(n):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20),
                        server_hostname="localhost")
    req = f"GET /py/{i}/{token} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    s.sendall(req.encode())
    buf = b""
    while True:
        try:
            d = s.recv(65536)
        except ssl.SSLError:
            break
        if not d:
            break
        buf += d
    s.close()
    res.append([req, buf.decode("latin-1")])
print(json.dumps(res))
"""


def alias(tmp, prog):
    """prog started as COMM (a process's comm is the name it was started by)."""
    d = os.path.join(tmp, "bin-" + os.path.basename(prog))
    os.makedirs(d)
    link = os.path.join(d, COMM)
    os.symlink(shutil.which(prog) or prog, link)
    return link


def streams(evs, pid):
    out = {}
    for e in evs:
        if e["pid"] != pid or e.get("direction") not in ("read", "write") or "data" not in e:
            continue
        s = out.setdefault(e["conn"], {"read": b"", "write": b"", "handles": set()})
        s[e["direction"]] += e["data"].encode("latin-1")
        s["handles"].add(e.get("handle", e["conn"]))  # before issue 19 conn was the handle
    return out


def request_path(b):
    first = b.split(b"\r\n", 1)[0].split()
    return first[1].decode() if len(first) == 3 and first[0] == b"GET" else None


def check(tap, name, evs, cli_pid, srv_pid, paths, reused, srv_writes=True):
    cli, srv = streams(evs, cli_pid), streams(evs, srv_pid)
    for side, st in (("client", cli), ("server", srv)):
        key = "write" if side == "client" else "read"
        got = sorted(p for p in (request_path(v[key]) for v in st.values()) if p)
        tap.ok(len(st) == len(paths) and got == sorted(paths) and
               all(v[key].count(b"GET ") == 1 for v in st.values()),
               f"{name} {side}: {len(paths)} conns, each with one request of its own path",
               f"{len(st)} conns, paths {got[:5]}...")
    handles = {side: set().union(*(v["handles"] for v in st.values())) if st else set()
               for side, st in (("client", cli), ("server", srv))}
    tap.ok(len(handles[reused]) < len(paths),
           f"{name} {reused}: the handle was reused ({len(handles[reused])} handles for "
           f"{len(paths)} connections; client {len(handles['client'])}, server "
           f"{len(handles['server'])})")
    by_path = {request_path(v["read"]): v for v in srv.values()}
    bad = []
    for conn, v in cli.items():
        s = by_path.get(request_path(v["write"]))
        if not s or s["read"] != v["write"] or (srv_writes and s["write"] != v["read"]):
            bad.append(f"conn {conn}: {v['write'][:40]!r}")
    tap.ok(not bad and cli, f"{name}: the server's streams mirror the client's, byte-exact, "
           "by conn alone", "\n".join(bad[:10]))
    ids = [(cli_pid, c) for c in cli] + [(srv_pid, c) for c in srv]
    tap.ok(len({c for _, c in ids}) == len(ids), f"{name}: no id given twice")
    return cli, srv


class Client:
    """A client run to its end, its pid kept: the conns of the events are by pid."""

    def __init__(self, cmd):
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = p.pid
        self.stdout, self.stderr = p.communicate(timeout=100)
        self.returncode = p.returncode


def main():
    tap = TAP()
    require_root(tap)
    if not os.access(GOTLS, os.X_OK):
        tap.ok(False, f"{GOTLS} is built (make check builds it)")
        tap.done()
    tmp = tempfile.mkdtemp(prefix="loupe-conn-libs-")
    os.chmod(tmp, 0o755)
    token = secrets.token_hex(6)
    cert, key = make_cert(tmp)
    procs = []
    lp = None
    try:
        # gnutls-serv (GnuTLS) and selfserv (NSS, its database made from the same key).
        gport, nport = free_port(), free_port()
        procs.append(subprocess.Popen(
            [alias(tmp, "gnutls-serv"), "--http", "-a", "--x509certfile", cert,
             "--x509keyfile", key, "-p", str(gport)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        db = os.path.join(tmp, "nss")
        os.makedirs(db)
        p12 = os.path.join(tmp, "srv.p12")
        for cmd in (["openssl", "pkcs12", "-export", "-in", cert, "-inkey", key, "-out", p12,
                     "-passout", "pass:", "-name", "srv"],
                    ["certutil", "-N", "-d", "sql:" + db, "--empty-password"],
                    ["pk12util", "-i", p12, "-d", "sql:" + db, "-W", ""]):
            subprocess.run(cmd, check=True, capture_output=True)
        procs.append(subprocess.Popen(
            [alias(tmp, "selfserv"), "-d", "sql:" + db, "-n", "srv", "-p", str(nport)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        gosrv = subprocess.Popen([alias(tmp, GOTLS), "server"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, env=dict(os.environ, GOGC="1"))
        procs.append(gosrv)
        goport = int(gosrv.stdout.readline().split()[1])
        tap.ok(wait_port(gport) and wait_port(nport), "gnutls-serv, selfserv and gotls listen")
        gsrv, nsrv = procs[0], procs[1]

        lp = Loupe(["trace", "ssl", "--comm", COMM])
        py = Client([alias(tmp, "/usr/bin/python3"), "-c", PY_CLIENT, str(gport), str(N),
                     token])
        wpaths = [f"/w/{i}/{token}" for i in range(N)]
        wget = Client([alias(tmp, "wget"), "-q", "--no-check-certificate",
                       "--no-http-keep-alive", "-O", os.path.join(tmp, "wget.out")] +
                      [f"https://127.0.0.1:{nport}{p}" for p in wpaths])
        cpaths = [f"/go/{i}/{token}" for i in range(N)]
        cfg = os.path.join(tmp, "curl.cfg")
        with open(cfg, "w") as f:
            for p in cpaths:
                f.write(f'url = "https://127.0.0.1:{goport}{p}"\noutput = "/dev/null"\n')
        curl = Client([alias(tmp, "curl"), "-sk", "--http1.1", "-H", "Connection: close",
                       "-K", cfg])
        tap.ok(py.returncode == 0 and wget.returncode == 0 and curl.returncode == 0,
               f"python3, wget and curl each made {N} connections",
               (py.stderr + wget.stderr + curl.stderr).decode(errors="replace")[-500:])
        lp.stop()
        evs, stats = lp.events(), lp.stats() or {}

        # python3 (OpenSSL) -> gnutls-serv (GnuTLS).
        ppaths = [f"/py/{i}/{token}" for i in range(N)]
        cli, srv = check(tap, "python3 -> gnutls-serv", evs, py.pid,
                         gsrv.pid, ppaths, "server")
        own = json.loads(py.stdout or b"[]")
        by_path = {request_path(v["write"]): v for v in cli.values()}
        bad = [i for i, (req, resp) in enumerate(own)
               if by_path.get(ppaths[i], {}).get("write") != req.encode() or
               by_path.get(ppaths[i], {}).get("read") != resp.encode("latin-1")]
        tap.ok(own and not bad, "python3's own bytes are its rebuilt streams", bad[:10])
        # wget (GnuTLS) -> selfserv (NSS), which echoes each request back.
        cli, srv = check(tap, "wget -> selfserv", evs, wget.pid, nsrv.pid,
                         wpaths, "server", srv_writes=False)
        tap.ok(cli and all(v["read"].count(v["write"]) == 1 for v in cli.values()),
               "wget: each conn read back its own request, echoed, and no other")
        # and the GnuTLS client's handle (one gnutls_session_t after another).
        wh = set().union(*(v["handles"] for v in cli.values())) if cli else set()
        tap.ok(len(wh) < N, f"wget: its session handle was reused ({len(wh)} for {N})")
        # curl (OpenSSL) -> gotls (Go).
        cli, srv = check(tap, "curl -> gotls", evs, curl.pid, gosrv.pid,
                         cpaths, "server")
        tap.ok(srv and all(v["write"].endswith(
            b"hello from go, HTTP/1.1 " + request_path(v["read"]).encode() + b"\n")
            for v in srv.values()), "gotls: each conn wrote the answer to its own request")
        ch = set().union(*(v["handles"] for v in cli.values())) if cli else set()
        tap.ok(len(ch) < N, f"curl: its SSL * was reused ({len(ch)} for {N})")
        ended = stats.get("conns_ended", 0)
        tap.ok(ended >= 6 * N, f"every side's frees or closes reached user space "
               f"(conns_ended {ended} >= {6 * N})")
        tap.ok(stats.get("lost") == 0 and stats.get("map_full") == 0,
               "nothing lost, no map full", json.dumps(stats))
    finally:
        if lp:
            lp.stop()
            lp.cleanup()
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
