#!/usr/bin/env python3
"""Every TLS event of the ssl gadget carries its socket's fd and local and
remote address, and they match what `ss -tnp` shows for the same connection
(IPv4 and IPv6), on the client (Python's ssl) and on the server (nginx)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from loupetest import TAP, Loupe, require_root  # noqa: E402
from tlsservers import Server, data_rows, ss_connections  # noqa: E402

PY = "/usr/bin/python3"
CLIENT = r"""
import os, socket, ssl, subprocess, sys
host, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with socket.create_connection((host, port)) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET /ssl9/index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
        tls.recv(65536)
        ss = subprocess.run(["ss", "-tnpH"], capture_output=True, text=True).stdout
        mine = [l for l in ss.splitlines() if f"pid={os.getpid()}," in l]
        print("fd", tls.fileno())
        for l in mine:
            print("ss", l.split()[3], l.split()[4])
        tls.sendall(b"GET /ssl9/a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        while tls.recv(65536):
            pass
"""

tap = TAP()
require_root(tap)
nginx = Server("nginx")
try:
    for host in ("127.0.0.1", "::1"):
        lp = Loupe(["trace", "ssl", "--pid", str(nginx.pid)])
        # Two loupe filters cannot be OR-ed: trace the server and the client apart.
        lc = Loupe(["trace", "ssl", "--comm", "python3"])
        cl = subprocess.run([PY, "-c", CLIENT, host, str(nginx.port)], capture_output=True,
                            text=True, timeout=30)
        lp.stop()
        lc.stop()
        lines = cl.stdout.split("\n")
        fd = [int(line.split()[1]) for line in lines if line.startswith("fd ")]
        ss = [tuple(line.split()[1:3]) for line in lines if line.startswith("ss ")]
        tap.ok(cl.returncode == 0 and fd and len(ss) == 1, f"{host}: client ran, ss saw it",
               cl.stdout + cl.stderr)
        if not ss:
            continue
        local, remote = ss[0]
        evs = [e for e in data_rows(lc.events()) if e["comm"] == "python3"]
        tap.ok(len(evs) >= 4, f"{host}: client reads and writes traced", len(evs))
        tap.ok(all(e.get("fd") == fd[0] for e in evs), f"{host}: client events carry fd {fd[0]}",
               sorted({e.get("fd") for e in evs}))
        tap.ok(all(e.get("local") == local and e.get("remote") == remote for e in evs),
               f"{host}: client local/remote match ss: {local} -> {remote}",
               sorted({(e.get("local"), e.get("remote")) for e in evs}))
        # The server's view of the same connection, mirrored.
        sev = [e for e in data_rows(lp.events()) if e.get("remote") == local]
        tap.ok(len(sev) >= 2, f"{host}: nginx events for the connection from {local}",
               sorted({(e.get("local"), e.get("remote")) for e in lp.events()}))
        tap.ok(all(e.get("local") == remote for e in sev),
               f"{host}: nginx local is {remote}", sorted({e.get("local") for e in sev}))
        tap.ok(all(isinstance(e.get("fd"), int) and e["fd"] > 2 for e in sev),
               f"{host}: nginx events carry an fd", sorted({e.get("fd") for e in sev}))
        lp.cleanup()
        lc.cleanup()
finally:
    nginx.stop()
tap.done()
