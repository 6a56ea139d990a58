#!/usr/bin/env python3
"""Go calls on many goroutines: 200 concurrent HTTP/1.1 uploads (each body
distinct, 10 KiB to 1 MiB) over a few connections of one Go client, our Go
server on the other end.  From loupe's JSON alone, each connection's byte
stream is rebuilt on both sides and parsed as HTTP/1.1: every body is there
once, byte for byte, in one connection, nothing else and nothing mixed in;
the responses of a connection answer its requests in order; nothing lost.
"""
import hashlib
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import OUTPUT, TAP, Loupe, require_root  # noqa: E402

GOTLS = os.path.join(OUTPUT, "tests", "go", "gotls")
N, CONNS, SEED = 200, 6, f"loupe-{os.getpid()}"
MIN, MAX = 10 << 10, 1 << 20

tap = TAP()
require_root(tap)
if not os.access(GOTLS, os.X_OK):
    tap.ok(False, f"{GOTLS} is built (make check builds it)")
    tap.done()


def body(i):
    """gotls.go's body(): the same bytes, made independently here."""
    h = hashlib.sha256(f"{SEED}/{i}/len".encode()).digest()
    lo = MIN << (h[0] % 7)
    n = min(lo + int.from_bytes(h[1:5], "big") % lo, MAX)
    blocks = (n + 63) // 64
    return "".join(hashlib.sha256(f"{SEED}/{i}/{blk}".encode()).hexdigest()
                   for blk in range(blocks)).encode()[:n]


def parse(stream, first_line):
    """Split a byte stream into HTTP/1.1 messages: [(first line, headers, body)];
    raises ValueError at the first byte that does not fit."""
    msgs, pos = [], 0
    while pos < len(stream):
        end = stream.find(b"\r\n\r\n", pos)
        if end < 0:
            raise ValueError(f"no end of headers at {pos}: {stream[pos:pos + 60]!r}")
        head = stream[pos:end].decode("latin-1").split("\r\n")
        if not re.match(first_line, head[0]):
            raise ValueError(f"unexpected line at {pos}: {head[0][:80]!r}")
        length = next((int(h.split(":", 1)[1]) for h in head[1:]
                       if h.lower().startswith("content-length:")), None)
        if length is None:
            raise ValueError(f"no Content-Length: {head!r}")
        b = stream[end + 4:end + 4 + length]
        if len(b) != length:
            raise ValueError(f"body cut short: {len(b)} of {length}")
        msgs.append((head[0], head[1:], b))
        pos = end + 4 + length
    return msgs


def streams(evs, pid, op):
    out = {}
    for e in evs:
        if e["pid"] == pid and e["operation"] == op:
            out.setdefault(e["conn"], []).append(e)
    return {c: b"".join(e["data"].encode("latin-1") for e in es) for c, es in out.items()}, out


srv = subprocess.Popen([GOTLS, "server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
port = int(srv.stdout.readline().split()[1])
try:
    # Both ends are gotls: one --comm catches the client and the server.
    lp = Loupe(["trace", "ssl", "--comm", "gotls", "--data-size", "2M", "--buffer-size", "256M"])
    t0 = time.time()
    r = subprocess.run([GOTLS, "upload", f"https://127.0.0.1:{port}", SEED, str(N), str(CONNS),
                        "h1"], capture_output=True, timeout=120)
    took = time.time() - t0
    time.sleep(0.5)
    lp.stop()
    st = lp.stats()
    lines = r.stdout.decode().split("\n")
    want = {i: body(i) for i in range(N)}
    tap.ok(r.returncode == 0 and sum(" ok " in x for x in lines) == N,
           f"the client's {N} uploads succeeded ({took:.1f}s traced)", r.stderr.decode()[-500:])
    tap.eq(sorted(int(x.split()[2]) for x in lines if " ok " in x),
           sorted(len(b) for b in want.values()), "the client and this test make the same bodies")
    tap.ok(min(len(b) for b in want.values()) >= MIN and max(len(b) for b in want.values()) <= MAX
           and len({len(b) for b in want.values()}) > N // 2,
           "bodies of 10 KiB to 1 MiB, lengths all over")
    evs = lp.events()
    cli = next((e["pid"] for e in evs if e["pid"] != srv.pid), None)
    for side, pid, op in (("client", cli, "tls.(*Conn).Write"),
                          ("server", srv.pid, "tls.(*Conn).Read")):
        by_conn, calls = streams(evs, pid, op)
        seen, errors = {}, []
        for conn, stream in by_conn.items():
            try:
                msgs = parse(stream, r"POST /upload/\d+ HTTP/1\.1$")
            except ValueError as e:
                errors.append(f"{conn}: {e}")
                continue
            for line, _, b in msgs:
                i = int(line.split()[1].rsplit("/", 1)[1])
                seen.setdefault(i, []).append(conn)
                if b != want.get(i):
                    errors.append(f"{conn}: body {i} differs ({len(b)} bytes)")
        tap.ok(not errors, f"{side}: every connection's stream is whole HTTP/1.1 requests "
               f"with the right bodies", errors[:5])
        tap.ok(sorted(seen) == list(range(N)) and all(len(c) == 1 for c in seen.values()),
               f"{side}: each of the {N} bodies exactly once, in one connection",
               (len(seen), [i for i, c in seen.items() if len(c) != 1][:5]))
        # At most CONNS at once; on a slow host Go's transport may replace one
        # (a dial it gave up waiting for), so over the run a few more.
        tap.ok(2 <= len(by_conn) <= 2 * CONNS,
               f"{side}: {len(by_conn)} connections (several, at most {CONNS} at once)")
        tids = {e["tid"] for es in calls.values() for e in es}
        tap.ok(len(tids) > 1, f"{side}: calls made on {len(tids)} threads")
    # Responses: on each client connection, in the order of its requests.
    reqs, _ = streams(evs, cli, "tls.(*Conn).Write")
    resps, _ = streams(evs, cli, "tls.(*Conn).Read")
    bad = []
    for conn, stream in reqs.items():
        try:
            ids = [line.split()[1] for line, _, _ in parse(stream, r"POST ")]
            got = [b.split()[1].decode() for _, _, b in parse(resps.get(conn, b""), r"HTTP/1\.1 200")]
        except ValueError as e:
            bad.append(str(e))
            continue
        if ids != got:
            bad.append(f"{conn}: requests {ids[:3]}..., responses {got[:3]}...")
    tap.ok(not bad, "client: each connection's responses answer its requests, in order", bad[:3])
    tap.eq((st["lost"], st["truncated"], st["unaccounted"], st["map_full"]), (0, 0, 0, 0),
           "nothing lost, truncated or unaccounted, no full map")
    lp.cleanup()
finally:
    srv.stdin.close()
    srv.wait(10)
tap.done()
