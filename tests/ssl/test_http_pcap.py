#!/usr/bin/env python3
"""ssl --http and --pcap against real clients and servers: curl --http2 and
nghttp against nginx (http2) and nghttpd; curl --http1.1 and wget (GnuTLS)
against nginx.  Methods, paths, statuses and :authority decoded; the pcap
file, read by tshark, lists the same requests."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from loupetest import TAP, Loupe, require_root, run  # noqa: E402
from tlsservers import Server, http_rows, tshark  # noqa: E402

tap = TAP()
require_root(tap)
tmp = tempfile.mkdtemp(prefix="loupe-ssl9-")
nginx = Server("nginx")
nghttpd = Server("nghttpd")


def requests_of(rows, pid):
    return [r for r in rows if r["pid"] == pid and r["operation"] == "http-request"]


def responses_of(rows, pid):
    return [r for r in rows if r["pid"] == pid and r["operation"] == "http-response"]


def check_client(name, comm, cmds, server, version, want):
    """Run cmds (each a list) under one loupe --http --pcap session."""
    pcap = os.path.join(tmp, f"{name}.pcap")
    # Under a name of our own: the pcap holds every traced process's streams, and
    # other curls on this machine (a soak, another suite) must not get in.
    comm, own = "lp9" + comm, os.path.join(tmp, "bin-" + name)
    os.makedirs(own)
    os.symlink(shutil.which(cmds[0][0]), os.path.join(own, comm))
    cmds = [[os.path.join(own, comm)] + cmd[1:] for cmd in cmds]
    lp = Loupe(["trace", "ssl", "--http", "--pcap", pcap, "--comm", comm])
    pids = []
    for cmd in cmds:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        p.wait(30)
        pids.append(p.pid)
        tap.ok(p.returncode == 0, f"{name}: {cmd[0]} ran", p.stderr.read().decode()[-500:])
    lp.stop()
    evs = lp.events()
    rows = http_rows(evs)
    reqs = [r for pid in pids for r in requests_of(rows, pid)]
    resps = [r for pid in pids for r in responses_of(rows, pid)]
    got = sorted((r["method"], r["path"]) for r in reqs)
    tap.eq(got, sorted((m, p) for m, p, _ in want), f"{name}: requests decoded (method, path)")
    tap.ok(all(r["authority"] == f"localhost:{server.port}" for r in reqs),
           f"{name}: authority is localhost:{server.port}", [r["authority"] for r in reqs])
    tap.ok(all(r["http"] == version for r in reqs + resps), f"{name}: all rows are {version}",
           [r["http"] for r in reqs + resps])
    got = sorted((r["method"], r["path"], r["status"]) for r in resps)
    tap.eq(got, sorted(want), f"{name}: responses paired with their requests, with statuses")
    tap.ok(all(r["response_time"] > 0 for r in resps), f"{name}: responses carry a latency",
           [r.get("response_time") for r in resps])
    if version == "HTTP/2":
        tap.ok(all(r["stream"] % 2 == 1 for r in reqs), f"{name}: client stream ids are odd",
               [r["stream"] for r in reqs])
    # -o json keeps the raw plaintext events too.
    raw = [e for e in evs if e["pid"] in pids and e["operation"] not in
           ("http-request", "http-response") and e.get("data")]
    tap.ok(len(raw) > 0, f"{name}: raw data events are kept in JSON")
    # tshark on the pcap: the same requests.
    proto = "http2" if version == "HTTP/2" else "http"
    args = ["-d", f"tcp.port=={server.port},http2"] if proto == "http2" else []
    if proto == "http2":
        fields = ["-T", "fields", "-e", "http2.headers.method", "-e", "http2.headers.path"]
        out, err = tshark(pcap, *args, "-Y", "http2.headers.method", *fields)
        seen = []
        for line in out.splitlines():
            ms, ps = line.split("\t")
            seen += list(zip(ms.split(","), ps.split(",")))
    else:
        fields = ["-T", "fields", "-e", "http.request.method", "-e", "http.request.uri"]
        out, err = tshark(pcap, *args, "-Y", "http.request", *fields)
        seen = [tuple(line.split("\t")) for line in out.splitlines()]
    tap.eq(sorted(seen), sorted((m, p) for m, p, _ in want),
           f"{name}: tshark -Y {proto} on the pcap lists the same requests")
    if proto == "http2":
        out, _ = tshark(pcap, *args, "-Y", "http2.headers.status", "-T", "fields", "-e",
                        "http2.headers.status")
        st = sorted(int(s) for line in out.splitlines() for s in line.split(","))
        tap.eq(st, sorted(s for _, _, s in want), f"{name}: tshark sees the same statuses")
    else:
        out, _ = tshark(pcap, "-Y", "http.response", "-T", "fields", "-e", "http.response.code")
        tap.eq(sorted(int(s) for s in out.split()), sorted(s for _, _, s in want),
               f"{name}: tshark sees the same statuses")
    lp.cleanup()


try:
    ok, nf = "/ssl9/index.html", "/ssl9/missing"
    for srv in (nginx, nghttpd):
        check_client(f"curl-h2-{srv.kind}", "curl",
                     [["curl", "-sk", "--http2", "-o", "/dev/null", "-o", "/dev/null",
                       srv.url(ok), srv.url(nf)]],
                     srv, "HTTP/2", [("GET", ok, 200), ("GET", nf, 404)])
        check_client(f"nghttp-{srv.kind}", "nghttp",
                     [["nghttp", "-n", srv.url("/ssl9/a.txt")],
                      ["nghttp", "-n", "-d", "/etc/hostname", srv.url(ok)]],
                     srv, "HTTP/2", [("GET", "/ssl9/a.txt", 200),
                                     ("POST", ok, 405 if srv.kind == "nginx" else 200)])
    check_client("curl-h1-nginx", "curl",
                 [["curl", "-sk", "--http1.1", "-o", "/dev/null", "-o", "/dev/null",
                   nginx.url(ok), nginx.url(nf)],
                  ["curl", "-sk", "--http1.1", "-o", "/dev/null", "-d", "x=1",
                   nginx.url("/ssl9/login")]],
                 nginx, "HTTP/1.1",
                 [("GET", ok, 200), ("GET", nf, 404), ("POST", "/ssl9/login", 200)])
    check_client("wget-h1-nginx", "wget",
                 [["wget", "-q", "--no-check-certificate", "-O", "/dev/null", nginx.url(ok)]],
                 nginx, "HTTP/1.1", [("GET", ok, 200)])
finally:
    nginx.stop()
    nghttpd.stop()
tap.done()
