#!/usr/bin/env python3
"""ssl --decode on Redis and gRPC over TLS, real servers and clients from
Debian (redis-server --tls-port and redis-cli --tls; python3-grpcio server
and client: unary, server, client and bidirectional streaming, an error
status), with --redact; and random bytes on TLS connections, which no
decoder may take for its protocol."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from loupetest import TAP, Loupe, make_cert, require_root  # noqa: E402
from protoservers import Grpc, Redis, proto_rows, wait_rows  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
tap = TAP()
require_root(tap)


def run(cmd, stdin=None):
    p = subprocess.run(cmd, capture_output=True, timeout=60, input=stdin)
    return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def raw_bytes(evs, pids=None):
    return b"".join(e["data"].encode("latin-1") for e in evs
                    if e.get("data") and (pids is None or e["pid"] in pids))


def check_redis(rd):
    lp = Loupe(["trace", "ssl", "--decode", "--redact", "--comm", "redis-cli"])
    cli = rd.cli()
    outs = [run(cli + ["SET", "greeting", "hello"]), run(cli + ["GET", "greeting"]),
            run(cli + ["LPUSH", "greeting", "x"]),
            run(cli + ["--pipe"], b"SET n 1\r\nGET n\r\nINCR n\r\nINCR greeting\r\n")]
    tap.ok(outs[1][1].strip() == "hello" and "WRONGTYPE" in outs[2][1]
           and "replies: 4" in outs[3][1], "redis-cli --tls ran", outs)
    wait_rows(lp, lambda evs: len(proto_rows(evs, "redis")) >= 22)
    lp.stop()
    evs = lp.events()
    rows = proto_rows(evs, "redis")
    resp = [r for r in rows if r["operation"] == "redis-response"]
    got = [(r["method"], r["key"], r["result"], r["code"]) for r in resp if r["method"] != "AUTH"]
    want = [("SET", "greeting", "OK", None), ("GET", "greeting", '"hello"', None),
            ("LPUSH", "greeting", "", "WRONGTYPE"),
            ("SET", "n", "OK", None), ("GET", "n", '"1"', None), ("INCR", "n", "(integer) 2", None),
            ("INCR", "greeting", "", "ERR")]
    # redis-cli --pipe ends with an ECHO of its own: its reply pairs too.
    tap.eq(got[:len(want)], want, "redis: replies paired with their commands, the pipeline "
           "in order, errors with their code")
    tap.ok(len(got) == len(want) + 1 and got[-1][0] == "ECHO", "redis: --pipe's ECHO paired",
           got[len(want):])
    tap.ok(all(r["latency"] > 0 for r in resp), "redis: every reply has a latency")
    auth = [r for r in rows if r["operation"] == "redis-request" and r["method"] == "AUTH"]
    tap.ok(len(auth) == 4 and all(re.fullmatch(r"AUTH \*+ \*+", r["request"]) for r in auth),
           "--redact: AUTH arguments masked in the rows", [r["request"] for r in auth])
    tap.ok(rd.PASSWORD.encode() not in raw_bytes(evs),
           "--redact: the password is in no output bytes")
    tap.ok(not [e for e in evs if e["operation"] in ("SSL_write", "SSL_read") and
                not e.get("data")], "redis: data rows kept in JSON")
    lp.cleanup()


def check_grpc(gr):
    lp = Loupe(["trace", "ssl", "--decode", "--redact", "--comm", "grpc_peer.py"])
    # The same calls as HTTP/2 rows, masked and not: the metadata check can fail.
    lp_http = Loupe(["trace", "ssl", "--http", "--redact", "--comm", "grpc_peer.py"])
    lp_plain = Loupe(["trace", "ssl", "--http", "--comm", "grpc_peer.py"])
    cli = subprocess.Popen([os.path.join(HERE, "grpc_peer.py"), "client", str(gr.port), gr.cert],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = cli.communicate(timeout=60)
    tap.ok(cli.returncode == 0 and b"Fail NOT_FOUND no such thing: widget" in out,
           "grpc: the python3-grpcio client made its five calls over TLS", out + err)
    for lpx in (lp, lp_http, lp_plain):
        wait_rows(lpx, lambda evs: len([e for e in proto_rows(evs)
                                        if e["operation"].endswith("-response")]) >= 10)
        lpx.stop()
    evs = lp.events()
    for side, pid in (("client", cli.pid), ("server", gr.pid)):
        resp = {r["method"]: r for r in proto_rows(evs, "grpc", pid)
                if r["operation"] == "grpc-response"}
        got = {m: (r["status"], r["code"], r["req_messages"], r["messages"])
               for m, r in resp.items()}
        want = {"Say": (0, "OK", 1, 1), "Count": (0, "OK", 1, 3), "Sum": (0, "OK", 2, 1),
                "Chat": (0, "OK", 2, 2), "Fail": (5, "NOT_FOUND", 1, 0)}
        tap.eq(got, want, f"grpc {side}: each call's status and message counts both ways")
        tap.ok(resp.get("Fail", {}).get("error") == "no such thing: widget",
               f"grpc {side}: grpc-message of the failed call", resp.get("Fail"))
        tap.ok(all(r["service"] == "test.Echo" and r["latency"] > 0 for r in resp.values()),
               f"grpc {side}: service test.Echo, latency on every response")
        tap.ok(resp.get("Count", {}).get("body_len") == 6,
               f"grpc {side}: sizes of the streamed replies (1+2+3 bytes)", resp.get("Count"))
    heads = [e["data"] for e in lp_http.events() if e["operation"] == "http-request"]
    plain = [e["data"] for e in lp_plain.events() if e["operation"] == "http-request"]
    tap.ok(any("x-user-token: tok-SECRET-4242" in h for h in plain),
           "without --redact the metadata is there to see", plain)
    tap.ok(heads and not any("tok-SECRET" in h for h in heads)
           and any("x-user-token: ***************" in h for h in heads),
           "--redact: metadata named like a credential is masked", heads)
    for lpx in (lp, lp_http, lp_plain):
        lpx.cleanup()


def check_random():
    d = tempfile.mkdtemp(prefix="loupe-rnd-")
    cert, key = make_cert(d)
    n = 12
    lp = Loupe(["trace", "ssl", "--decode", "--comm", "random_peer.py"])
    lp_cols = Loupe(["trace", "ssl", "--decode", "--comm", "random_peer.py"], json_output=False)
    rc, out = run([os.path.join(HERE, "random_peer.py"), cert, key, str(n), "17"])
    tap.ok(rc == 0 and out.startswith("sent "), "random bytes sent over TLS", out)
    sent = int(out.split()[1]) if rc == 0 else -1
    wait_rows(lp, lambda evs: len(raw_bytes(evs)) >= 4 * sent)
    lp.stop()
    lp_cols.stop()
    evs = lp.events()
    tap.eq(proto_rows(evs), [], "random bytes: no decoded row of any protocol")
    tap.eq(len(raw_bytes(evs)), 4 * sent, "random bytes: every byte is in raw rows "
           "(client and server, both directions)")
    m = re.search(r"(\d+) connections were not recognised", lp.stderr)
    tap.ok(m and int(m.group(1)) == 2 * n, "random bytes: the undecoded connections are "
           f"counted ({2 * n}: both ends)", lp.stderr)
    with open(lp_cols.out_path) as f:
        cols = [line for line in f if " SSL_write " in line or " SSL_read" in line]
    tap.ok(len(cols) >= 6 * n, "columns: undecoded connections fall back to data rows",
           len(cols))
    lp.cleanup()
    lp_cols.cleanup()


rd = gr = None
try:
    rd = Redis()
    check_redis(rd)
    rd.stop()
    rd = None
    gr = Grpc()
    check_grpc(gr)
    gr.stop()
    gr = None
    check_random()
finally:
    for srv in (rd, gr):
        if srv:
            srv.stop()
tap.done()
