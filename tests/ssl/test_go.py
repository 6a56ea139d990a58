#!/usr/bin/env python3
"""The ssl gadget on Go programs (crypto/tls, the go backend).

Our net/http client and server (tests/ssl/go/gotls.go, built by Debian's
golang-go) over HTTP/1.1 and HTTP/2: request and response plaintext on both
sides, handshakes, endpoints, --http, --pcap, --redact, --data-size, --sample,
--no-reads; the client built stripped (-s -w) and as a cgo position-independent
executable; Go 1.15 (arguments on the stack); a Go program started after
loupe; a Go program without crypto/tls not probed; --pid and --comm; a handshake inside Write; a Read into a buffer
on a goroutine stack that moves; the programs' outputs and exit statuses the
same traced and untraced.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import OUTPUT, TAP, Loupe, require_root, run  # noqa: E402
from tlsservers import http_rows, tshark  # noqa: E402

GO = os.path.join(OUTPUT, "tests", "go")
GOTLS, STRIPPED, CGO, NOTLS, GO115 = (
    os.path.join(GO, n) for n in ("gotls", "gotls-stripped", "gotls-cgo", "gonotls", "gotls-go115"))

tap = TAP()
require_root(tap)
for b in (GOTLS, STRIPPED, CGO, NOTLS, GO115):
    if not os.access(b, os.X_OK):
        tap.ok(False, f"{b} is built (make check builds it)")
        tap.done()
tmp = tempfile.mkdtemp(prefix="loupe-go-")
procs = []


def data(ev):
    return (ev.get("data") or "").encode("latin-1")


def calls(evs, pid, op=None):
    return [e for e in evs if e["pid"] == pid and e.get("library") == "go" and
            (op is None or e["operation"] == op)]


W, R = "tls.(*Conn).Write", "tls.(*Conn).Read"


class Server:
    """gotls server: HTTPS (h2 and http/1.1) on 127.0.0.1, stops when stdin closes."""

    def __init__(self, binary=GOTLS):
        self.p = subprocess.Popen([binary, "server"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        procs.append(self.p)
        self.port = int(self.p.stdout.readline().split()[1])
        self.pid = self.p.pid
        self.url = f"https://127.0.0.1:{self.port}"

    def stop(self):
        self.p.stdin.close()
        self.p.wait(10)


class Waiting:
    """A Go client started now that does its work once released (gotls wait ...)."""

    def __init__(self, cmd):
        self.p = subprocess.Popen([cmd[0], "wait"] + cmd[1:], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(self.p)
        self.pid = self.p.pid

    def release(self):
        out, err = self.p.communicate(b"go\n", timeout=60)
        return self.p.returncode, out.decode(), err.decode()


def gotls(*args, binary=GOTLS):
    r = run([binary, *args], timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


srv = Server()
try:
    # --- HTTP/1.1 and HTTP/2, both sides ------------------------------------------------
    lp = Loupe(["trace", "ssl", "-v", "--comm", "gotls"])
    rc1, out1, _ = gotls("get", srv.url + "/go-h1-get", "h1")
    rc2, out2, _ = gotls("post", srv.url + "/go-h2-post", "h2-body-0123456789", "h2")
    time.sleep(0.3)
    lp.stop()
    evs = lp.events()
    st = lp.stats()
    tap.ok(rc1 == 0 and "hello from go, HTTP/1.1 /go-h1-get" in out1 and rc2 == 0 and
           "got /go-h2-post 18 " in out2, "the Go client and server talk (the test is meaningful)",
           out1 + out2)
    tap.ok(re.search(r"probing \S*/gotls \(5 functions: go\)", lp.stderr),
           "gotls probed: 5 functions (Write, Read, client and server handshakes, Close)",
           lp.stderr)
    tap.ok("register ABI, functions from .symtab" in lp.stderr, "-v: register ABI, .symtab")
    srv_evs = calls(evs, srv.pid)
    cli_pids = sorted({e["pid"] for e in evs if e["pid"] != srv.pid})
    tap.eq(len(cli_pids), 2, "events from both clients")
    h1, h2 = cli_pids if len(cli_pids) == 2 else (0, 0)
    c1 = calls(evs, h1)
    tap.ok(any(e["operation"] == W and e["direction"] == "write" and
               data(e).startswith(b"GET /go-h1-get HTTP/1.1\r\n") for e in c1),
           "HTTP/1.1 client: the request on (*Conn).Write", [data(e)[:60] for e in c1])
    tap.ok(any(e["operation"] == R and e["direction"] == "read" and
               data(e).startswith(b"HTTP/1.1 200 OK\r\n") and
               b"hello from go, HTTP/1.1 /go-h1-get" in data(e) for e in c1),
           "HTTP/1.1 client: the response on (*Conn).Read")
    tap.ok(any(e["operation"] == R and data(e).startswith(b"GET /go-h1-get HTTP/1.1\r\n")
               for e in srv_evs), "HTTP/1.1 server: the request on (*Conn).Read")
    tap.ok(any(e["operation"] == W and data(e).startswith(b"HTTP/1.1 200 OK\r\n")
               for e in srv_evs), "HTTP/1.1 server: the response on (*Conn).Write")
    c2 = calls(evs, h2)
    tap.ok(any(e["operation"] == W and data(e).startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
               for e in c2), "HTTP/2 client: the connection preface written")
    tap.ok(any(e["operation"] == W and b"h2-body-0123456789" in data(e) for e in c2) and
           any(e["operation"] == R and b"h2-body-0123456789" in data(e) for e in srv_evs),
           "HTTP/2: the request body written by the client, read by the server")
    tap.ok(any(e["operation"] == R and b"got /go-h2-post 18 " in data(e) for e in c2),
           "HTTP/2: the response body read by the client")
    io = [e for e in evs if e["direction"] in ("read", "write")]
    tap.ok(io and all(e["library"] == "go" and e["len"] == e["captured"] == len(data(e)) and
                      not e["truncated"] and e["error"] == "" and e["latency"] > 0 for e in io),
           "every call: library go, len = captured = bytes, not truncated, latency",
           [(e["operation"], e["len"], e["captured"], e["truncated"]) for e in io
            if not (e["len"] == e["captured"] == len(data(e)))][:5])
    hs = [e for e in evs if e["direction"] == "handshake"]
    tap.ok(sum(e["operation"] == "tls.(*Conn).clientHandshake" and e["pid"] in (h1, h2)
               for e in hs) == 2 and
           sum(e["operation"] == "tls.(*Conn).serverHandshake" and e["pid"] == srv.pid
               for e in hs) == 2 and all(e["latency"] > 0 and e["error"] == "" for e in hs),
           "handshakes: one client and one server handshake per connection, with latency",
           [(e["pid"], e["operation"], e["latency"]) for e in hs])
    # Endpoints: the client's local address is the server's remote one, per connection.
    ends = {(e["pid"], e["conn"]): (e.get("local"), e.get("remote"), e.get("fd"))
            for e in io + hs}
    ok = len(ends) == 4
    for pid in (h1, h2):
        for (p, conn), (local, remote, fd) in ends.items():
            if p != pid:
                continue
            peer = [k for k, v in ends.items() if k[0] == srv.pid and v[1] == local and
                    v[0] == remote]
            ok &= (fd is not None and fd >= 0 and remote == f"127.0.0.1:{srv.port}" and
                   len(peer) == 1)
    tap.ok(ok, "endpoints: fd, local and remote on every call; each client connection "
           "matches one server connection", ends)
    conns = {}
    for e in io + hs:
        conns.setdefault((e["pid"], e["conn"]), set()).add(e["fd"])
    tap.ok(all(len(fds) == 1 for fds in conns.values()),
           "one socket per connection handle", conns)
    tap.eq((st["lost"], st["unaccounted"], st["truncated"]), (0, 0, 0),
           "nothing lost, nothing truncated")
    lp.cleanup()

    # --- --http: one row per request and response, HTTP/1.1 and HTTP/2 ------------------
    lp = Loupe(["trace", "ssl", "--http", "--comm", "gotls"])
    gotls("get", srv.url + "/go-http-h1", "h1")
    gotls("get", srv.url + "/go-http-h2", "h2")
    time.sleep(0.3)
    lp.stop()
    rows = http_rows(lp.events())
    want = {("HTTP/1.1", "/go-http-h1"), ("HTTP/2", "/go-http-h2")}
    reqs = {(r["http"], r["path"]) for r in rows
            if r["operation"] == "http-request" and r["method"] == "GET"}
    tap.ok(want <= reqs, "--http: GET requests decoded, HTTP/1.1 and HTTP/2", rows)
    resps = [r for r in rows if r["operation"] == "http-response" and r["status"] == 200]
    tap.ok({r["http"] for r in resps} >= {"HTTP/1.1", "HTTP/2"} and
           {r["pid"] for r in resps} >= {srv.pid},
           "--http: 200 responses on both sides, both versions",
           [(r["pid"], r["http"], r["status"]) for r in resps])
    lp.cleanup()

    # --- --pcap and --redact on Go calls ---------------------------------------------------
    pcap = os.path.join(tmp, "go.pcap")
    secret = "HUNTER2GOPW"
    lp = Loupe(["trace", "ssl", "--redact", "--pcap", pcap, "--comm", "gotls"])
    gotls("post", srv.url + "/go-pcap", f"user=bob&password={secret}", "h1")
    time.sleep(0.3)
    lp.stop()
    out, err = tshark(pcap, "-Y", "http.request", "-T", "fields", "-e", "http.request.method",
                      "-e", "http.request.uri")
    tap.ok("POST\t/go-pcap" in out, "--pcap: tshark reads the Go client's request", out + err)
    with open(lp.out_path, "rb") as f:
        raw = f.read()
    with open(pcap, "rb") as f:
        raw_pcap = f.read()
    tap.ok(b"password=" in raw and secret.encode() not in raw and
           secret.encode() not in raw_pcap, "--redact: the password masked in JSON and pcap")
    lp.cleanup()

    # --- --data-size, --sample, --no-reads ----------------------------------------------
    lp = Loupe(["trace", "ssl", "--data-size", "16", "--comm", "gotls"])
    gotls("get", srv.url + "/go-data-size-longer-than-16", "h1")
    time.sleep(0.3)
    lp.stop()
    io = [e for e in lp.events() if e["direction"] in ("read", "write")]
    tap.ok(io and all(e["captured"] == min(16, e["len"]) == len(data(e)) and
                      e["truncated"] == (e["len"] > 16) for e in io),
           "--data-size 16: 16 bytes kept, len whole, truncated marked",
           [(e["len"], e["captured"], e["truncated"]) for e in io])
    lp.cleanup()
    lp = Loupe(["trace", "ssl", "--sample", "2", "--no-reads", "--comm", "gotls"])
    for i in range(3):
        gotls("get", srv.url + f"/go-sample-{i}", "h1")
    time.sleep(0.3)
    lp.stop()
    evs = lp.events()
    tap.ok(not any(e["direction"] == "read" for e in evs) and
           any(e["direction"] == "write" for e in evs), "--no-reads: writes only")
    tap.ok(lp.stats()["sampled_out"] > 0, "--sample 2: calls sampled out, counted",
           lp.stats())
    lp.cleanup()

    # --- stripped and cgo clients, running before loupe -----------------------------------
    for name, binary, source in (("stripped (-s -w)", STRIPPED, ".gopclntab"),
                                 ("cgo PIE, stripped", CGO, ".gopclntab")):
        comm = os.path.basename(binary)[:15]
        c = Waiting([binary, "get", srv.url + f"/go-{comm}", "h1"])
        lp = Loupe(["trace", "ssl", "-v", "--comm", comm])
        rc, out, _ = c.release()
        time.sleep(0.3)
        lp.stop()
        mine = calls(lp.events(), c.pid)
        tap.ok(rc == 0 and any(e["operation"] == W and
                               data(e).startswith(f"GET /go-{comm} ".encode()) for e in mine) and
               any(e["operation"] == R and f"/go-{comm}".encode() in data(e) for e in mine),
               f"{name}: request and response captured", lp.stderr)
        tap.ok(f"functions from {source}" in lp.stderr and
               f"was found as the executable of pid {c.pid}" in lp.stderr,
               f"{name}: found as a running executable, functions from {source}")
        tap.ok(all(e.get("fd") is not None and e.get("remote") == f"127.0.0.1:{srv.port}"
                   for e in mine if e["direction"] != "handshake"),
               f"{name}: endpoints (g read from thread-local storage)",
               [(e["operation"], e.get("fd"), e.get("remote")) for e in mine])
        lp.cleanup()

    # --- Go 1.15: arguments and results on the stack, g in thread-local storage ----------
    old = Server(GO115)
    lp = Loupe(["trace", "ssl", "-v", "--comm", "gotls-go115"])
    rc1, out1, _ = gotls("get", old.url + "/go115-h1", "h1", binary=GO115)
    rc2, out2, _ = gotls("post", old.url + "/go115-h2", "go115-body-xyz", "h2", binary=GO115)
    time.sleep(0.3)
    lp.stop()
    old.stop()
    evs = lp.events()
    cli = [e for e in evs if e["pid"] != old.pid]
    srv_old = [e for e in evs if e["pid"] == old.pid]
    tap.ok(rc1 == 0 and rc2 == 0 and "HTTP/1.1 /go115-h1" in out1 and
           "got /go115-h2 14 " in out2, "Go 1.15 client and server talk", out1 + out2)
    tap.ok("go1.15.15, stack ABI, functions from .symtab" in lp.stderr,
           "Go 1.15: read as the stack ABI", lp.stderr)
    tap.ok(any(e["operation"] == W and data(e).startswith(b"GET /go115-h1 HTTP/1.1\r\n")
               for e in cli) and
           any(e["operation"] == R and data(e).startswith(b"GET /go115-h1 HTTP/1.1\r\n")
               for e in srv_old) and
           any(e["operation"] == R and b"hello from go, HTTP/1.1 /go115-h1" in data(e)
               for e in cli),
           "Go 1.15, HTTP/1.1: request and response on both sides (arguments from the stack)")
    tap.ok(any(e["operation"] == W and b"go115-body-xyz" in data(e) for e in cli) and
           any(e["operation"] == R and b"go115-body-xyz" in data(e) for e in srv_old) and
           any(e["operation"] == R and b"got /go115-h2 14 " in data(e) for e in cli),
           "Go 1.15, HTTP/2: the body on both sides, the answer read")
    io = [e for e in evs if e["direction"] in ("read", "write")]
    hs = [e for e in evs if e["direction"] == "handshake"]
    tap.ok(io and all(e["len"] == e["captured"] == len(data(e)) and e["fd"] is not None and
                      f"127.0.0.1:{old.port}" in (e["local"], e["remote"]) for e in io),
           "Go 1.15: byte counts from the stack, endpoints (g from thread-local storage)",
           [(e["operation"], e["len"], e["fd"], e["remote"]) for e in io][:6])
    tap.ok(sum(e["operation"].endswith("clientHandshake") for e in hs) == 2 and
           sum(e["operation"].endswith("serverHandshake") for e in hs) == 2 and
           all(e["error"] == "" for e in hs), "Go 1.15: handshakes, their results from the stack",
           [(e["operation"], e["error"]) for e in hs])
    tap.eq(lp.stats()["lost"], 0, "Go 1.15: nothing lost")
    lp.cleanup()

    # --- a Go program started after loupe -------------------------------------------------
    lp = Loupe(["trace", "ssl", "--comm", "gotls-cgo"])
    c = Waiting([CGO, "get", srv.url + "/go-later", "h2"])
    time.sleep(1.2)
    rc, out, _ = c.release()
    time.sleep(0.3)
    lp.stop()
    mine = calls(lp.events(), c.pid)
    tap.ok(rc == 0 and any(e["operation"] == R and b"hello from go, HTTP/2.0 /go-later" in
                           data(e) for e in mine),
           "a Go program started after loupe: found through exec, captured", lp.stderr)
    lp.cleanup()

    # --- a Go program without crypto/tls is not probed ------------------------------------
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    nt = subprocess.Popen([NOTLS, f"127.0.0.1:{ls.getsockname()[1]}", "/"],
                          stdout=subprocess.PIPE)
    procs.append(nt)
    conn, _ = ls.accept()  # gonotls is running: it waits for our answer
    lp = Loupe(["trace", "ssl", "-v", "--pid", str(nt.pid)])
    lp.stop()
    conn.sendall(b"HTTP/1.0 204 No Content\r\n\r\n")
    conn.close()
    ls.close()
    nt.wait(10)
    tap.ok("without crypto/tls, not probed" in lp.stderr and
           not re.search(r"probing \S*gonotls", lp.stderr),
           "a Go program without crypto/tls: recognised, not probed", lp.stderr)
    lp.cleanup()

    # --- --pid and --comm keep and drop -----------------------------------------------------
    lp = Loupe(["trace", "ssl", "--pid", str(srv.pid)])
    gotls("get", srv.url + "/go-pid-filter", "h1")
    time.sleep(0.3)
    lp.stop()
    evs = lp.events()
    tap.ok(evs and all(e["pid"] == srv.pid for e in evs) and
           any(b"/go-pid-filter" in data(e) for e in evs),
           "--pid SERVER: the server's calls only", {e["pid"] for e in evs})
    lp.cleanup()
    c = Waiting([STRIPPED, "get", srv.url + "/go-comm-kept", "h1"])
    lp = Loupe(["trace", "ssl", "--comm", "gotls-stripped"])
    c.release()
    gotls("get", srv.url + "/go-comm-dropped", "h1")
    time.sleep(0.3)
    lp.stop()
    evs = lp.events()
    tap.ok(any(b"/go-comm-kept" in data(e) for e in evs) and
           not any(b"/go-comm-dropped" in data(e) for e in evs) and
           all(e["comm"] == "gotls-stripped" for e in evs),
           "--comm gotls-stripped: kept; gotls (same server) dropped")
    lp.cleanup()

    # --- a handshake inside Write; a Read into a stack buffer that moves ------------------
    lp = Loupe(["trace", "ssl", "--comm", "gotls"])
    rc, out_raw, _ = gotls("raw", f"127.0.0.1:{srv.port}",
                           "lazy:GET /go-lazy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    path = "/go-stack-" + "s" * 700
    rc2, out_stack, _ = gotls("stackread", f"127.0.0.1:{srv.port}", path)
    time.sleep(0.3)
    lp.stop()
    evs = lp.events()
    pids = {e["pid"] for e in evs if e["pid"] != srv.pid}
    lazy = [e for e in evs if e["pid"] in pids and
            any(b"/go-lazy" in data(x) for x in evs if x["pid"] == e["pid"])]
    tap.ok(rc == 0 and any(e["operation"] == "tls.(*Conn).clientHandshake" for e in lazy) and
           any(e["operation"] == W and data(e).startswith(b"GET /go-lazy") for e in lazy),
           "handshake run inside Write: both the handshake and the Write reported",
           [(e["operation"], data(e)[:20]) for e in lazy])
    stack = [e for e in evs if e["pid"] in pids and e["pid"] not in {x["pid"] for x in lazy}
             and e["operation"] == R]
    got = b"".join(data(e) for e in stack)
    tap.ok(rc2 == 0 and out_stack and got == out_stack.encode("latin-1"),
           "Read into a goroutine stack buffer (the stack grows in the call): the bytes read",
           [data(e)[:40] for e in stack])
    lp.cleanup()

    # --- the programs behave the same traced and untraced -----------------------------------
    def workload():
        res = []
        for args, binary in ((("upload", srv.url, "same", "30", "3", "h1"), GOTLS),
                             (("upload", srv.url, "same", "30", "2", "h2"), STRIPPED),
                             (("get", srv.url + "/go-same", "h2"), CGO),
                             (("get", "https://127.0.0.1:1/refused", "h1"), GOTLS)):
            rc, out, err = gotls(*args, binary=binary)
            res.append((rc, out))
        return res

    untraced = workload()
    lp = Loupe(["trace", "ssl", "--bin", CGO, "--bin", STRIPPED, "--buffer-size", "64M"])
    traced = workload()
    lp.stop()
    st = lp.stats()
    tap.ok(traced == untraced and untraced[0][0] == 0 and untraced[3][0] == 1,
           "outputs and exit statuses the same traced and untraced (uploads, get, a refused "
           "connection)", [(a[0], b[0], a[1] == b[1]) for a, b in zip(untraced, traced)])
    tap.ok(st["events"] > 100 and st["lost"] == 0, "...and they were traced",
           (st["events"], st["lost"]))
    lp.cleanup()
finally:
    srv.stop()
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()
tap.done()
