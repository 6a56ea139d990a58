#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets from real captures.

As root, after `make loupe`: starts nginx (HTTP/1.1 and HTTP/2) and nghttpd
on loopback, runs curl --http1.1, curl --http2 and nghttp against them under
`loupe trace ssl -o json`, and turns each connection's calls into seeds in
the input format of each target (see the comment at the top of each
fuzz/<name>_fuzz.c):

  fuzz/corpus/http/    a connection's calls
  fuzz/corpus/http2/   an HTTP/2 connection's frames
  fuzz/corpus/redact/  single calls that carry secrets
  fuzz/corpus/output/  single calls, text and binary
  fuzz/corpus/pcap/    connections' calls as pcap operations

Seeds named regress-* are inputs of past findings, kept by hand: this
script never touches them.
"""
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ssl"))
from loupetest import Loupe  # noqa: E402
from tlsservers import Server  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")
MAX_SEED = 8192  # bytes of one seed: small seeds fuzz faster
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SECRET = ["-H", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.abc",
          "-H", "X-Api-Key: k-123456", "-b", "sid=s3cr3t; theme=dark"]


def capture(comm, port, cmds):
    """Each connection's data calls, in order: [(write, bytes)]."""
    lp = Loupe(["trace", "ssl", "--comm", comm])
    try:
        for cmd in cmds:
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           input=b"", timeout=60, check=False)
    finally:
        lp.stop()
    events = lp.events()
    lp.cleanup()
    conns = {}
    for e in events:
        if e.get("direction") not in ("read", "write") or not e.get("data"):
            continue
        # Other people's traffic on this machine has other ports.
        if not (e.get("remote") or "").endswith(f":{port}"):
            continue
        key = (e["pid"], e.get("conn"))
        conns.setdefault(key, []).append((e["direction"] == "write",
                                          e["data"].encode("latin-1")))
    return list(conns.values())


def write_seed(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data[:MAX_SEED])


def http_seed(calls):
    """fuzz/http_fuzz.c: dir byte (time 100 us apart), 16-bit length, bytes."""
    out = b""
    for write, data in calls:
        out += struct.pack("<BH", int(write) | 100 << 1, len(data)) + data
    return out


def h2_seed(calls):
    """fuzz/http2_fuzz.c: the frames of both directions, preface left out."""
    out, pending = b"", {True: b"", False: b""}
    for write, data in calls:
        buf = pending[write] + data
        if write and buf.startswith(PREFACE):
            buf = buf[len(PREFACE):]
        joined = False
        while len(buf) >= 9:
            flen = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + flen:
                break
            ftype, flags, sid = buf[3], buf[4], int.from_bytes(buf[5:9], "big")
            head = int(write) | int(joined) << 1 | 25 << 2
            out += struct.pack("<BBBBH", head, ftype, flags, sid & 0xff, flen)
            out += buf[9:9 + flen]
            buf = buf[9 + flen:]
            joined = True
        pending[write] = buf
    return out


def pcap_seed(conns):
    """fuzz/pcap_fuzz.c: Ethernet; each connection known (IPv4) or not, closed at its end."""
    out = b"\x00"
    for i, calls in enumerate(conns[:16]):
        kind = (i % 3) << 3  # unknown, IPv4, IPv6
        for write, data in calls:
            data = data[:1024]
            out += struct.pack("<BBH", i << 2 | 1 << 6, int(write) | 1 << 1 | kind, len(data))
            out += data
        out += bytes([i << 2 | 3])
    return out


def main():
    if os.geteuid() != 0:
        sys.exit("make-corpus.py: loupe needs root")
    nginx, nghttpd = Server("nginx"), Server("nghttpd")
    try:
        u = nginx.url
        curl1 = capture("curl", nginx.port, [
            ["curl", "-sk", "--http1.1", u("/ssl9/index.html"), u("/ssl9/a.txt")],
            ["curl", "-sk", "--http1.1", "-I", u("/ssl9/index.html")],
            ["curl", "-sk", "--http1.1", *SECRET, "-d", "user=bob&password=hunter2",
             u("/ssl9/login")],
            ["curl", "-sk", "--http1.1", "-H", "Transfer-Encoding: chunked",
             "-H", "Content-Type: application/json",
             "-d", '{"user": "bob@example.com", "token": "abc\\"def"}', u("/ssl9/login")],
            ["curl", "-sk", "--http1.1", u("/ssl9/missing")],
        ])
        curl2 = capture("curl", nginx.port, [
            ["curl", "-sk", "--http2", u("/ssl9/index.html"), u("/ssl9/a.txt")],
            ["curl", "-sk", "--http2", *SECRET, "-d", "password=hunter2",
             u("/ssl9/login?token=t0k3n")],
        ])
        nght = capture("nghttp", nghttpd.port, [
            ["nghttp", "-n", nghttpd.url("/ssl9/a.txt"), nghttpd.url("/ssl9/index.html")],
            ["nghttp", "-n", "-H", "cookie: sid=s3cr3t", "-d", "/etc/hostname",
             nghttpd.url("/ssl9/index.html")],
        ])
    finally:
        nginx.stop()
        nghttpd.stop()

    h1 = [c for c in curl1 if c]
    h2 = [c for c in curl2 + nght if c and c[0][1].startswith(PREFACE)]
    if len(h1) < 5 or len(h2) < 4:
        sys.exit(f"make-corpus.py: {len(h1)} HTTP/1 and {len(h2)} HTTP/2 connections "
                 "captured, want 5 and 4")
    for i, c in enumerate(h1):
        write_seed("http", f"curl-http1-{i}", http_seed(c))
    for i, c in enumerate(h2):
        write_seed("http", f"http2-{i}", http_seed(c))
        write_seed("http2", f"http2-{i}", h2_seed(c))
    calls = [d for c in h1 for _, d in c]
    for i, d in enumerate(x for x in calls if b"Authorization" in x or b"password" in x
                          or b"token" in x):
        write_seed("redact", f"curl-http1-{i}", d)
    for i, d in enumerate(calls[:4] + [d for c in h2[:2] for _, d in c[:3]]):
        write_seed("output", f"call-{i}", d)
    write_seed("pcap", "curl-http1", pcap_seed(h1))
    write_seed("pcap", "http2", pcap_seed(h2))
    print(f"make-corpus.py: {len(h1)} HTTP/1 and {len(h2)} HTTP/2 connections "
          f"into {CORPUS}")


if __name__ == "__main__":
    main()
