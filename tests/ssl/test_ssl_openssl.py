#!/usr/bin/env python3
"""The ssl gadget on real OpenSSL clients and servers, in the real kernel.

curl and Python's ssl module against `openssl s_server -www`, a byte-exact
64 MiB stream of our own, the filters, sampling, a thread killed inside
SSL_read, clean detach, and bad command lines.
"""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import (LOUPE, OUTPUT, TAP, Loupe, free_port, loupe_links,  # noqa: E402
                       loupe_maps, loupe_progs, bpf_ids, make_cert, map_entries,
                       require_root, run, wait_port)

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.join(HERE, "tls_client.py")
PY = "/usr/bin/python3"		# Debian's python3: the system libssl
TLS_LOOP = os.path.join(OUTPUT, "bench", "tls_loop")

tap = TAP()
require_root(tap)
tmp = tempfile.mkdtemp(prefix="loupe-ssl-")
# The client runs as nobody too (--uid): give it a copy it can read wherever
# the tree was cloned (mktemp -d makes 0700 directories).
os.chmod(tmp, 0o755)
CLIENT = shutil.copy(CLIENT, tmp)
os.chmod(CLIENT, 0o644)
cert, key = make_cert(tmp)
port = free_port()
server = subprocess.Popen(["openssl", "s_server", "-quiet", "-www", "-accept", str(port),
                           "-cert", cert, "-key", key],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if not wait_port(port):
    tap.ok(False, "openssl s_server listens")
    tap.done()


def data(ev):
    return (ev.get("data") or "").encode("latin-1")


def curl(path):
    p = subprocess.Popen(["curl", "-sk", "--http1.1", f"https://127.0.0.1:{port}{path}",
                          "-o", "/dev/null"])
    p.wait(30)
    return p.pid


class Client:
    """tls_client.py started before loupe, released by release()."""

    def __init__(self, path, prefix=()):
        self.p = subprocess.Popen(list(prefix) + [PY, CLIENT, str(port), path, "--wait"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pid = int(self.p.stdout.readline().split()[1])

    def release(self):
        self.p.stdin.write(b"go\n")
        self.p.stdin.flush()
        out = self.p.stdout.read().decode()
        self.p.wait(30)
        return out


# --- curl: request on the write side, response on the read side ---------------
lp = Loupe(["trace", "ssl", "--comm", "curl"])
curl_pid = curl("/loupe-curl-test")
lp.stop()
evs = [e for e in lp.events() if e["pid"] == curl_pid]
writes = [e for e in evs if e["operation"] == "SSL_write"]
reads = [e for e in evs if e["operation"] == "SSL_read"]
tap.ok(any(data(e).startswith(b"GET /loupe-curl-test HTTP/1.1\r\n") for e in writes),
       "curl: GET request captured on SSL_write", evs)
tap.ok(any(b"HTTP/1.0 200 ok" in data(e) for e in reads),
       "curl: HTTP response captured on SSL_read", [e["operation"] for e in evs])
tap.ok(evs and all(e["comm"] == "curl" and e["library"] == "openssl" for e in evs),
       "curl: comm is curl, library openssl")
tap.ok(all(e["direction"] == "write" for e in writes) and
       all(e["direction"] == "read" for e in reads), "curl: directions")
tap.ok(all(e["len"] == e["captured"] == len(data(e)) and not e["truncated"]
           for e in writes + reads), "curl: whole buffers, not truncated")
tap.ok(any(e["operation"] == "SSL_do_handshake" and e["error"] == "" for e in evs),
       "curl: a successful handshake is not an error")
tap.ok(lp.stats() and lp.stats()["lost"] == 0, "curl: nothing lost", lp.stderr)
lp.cleanup()

# --- python3's ssl module uses SSL_write_ex / SSL_read_ex ------------------------
lp = Loupe(["trace", "ssl", "--comm", "python3"])
c = Client("/loupe-python-test")
c.release()
lp.stop()
evs = [e for e in lp.events() if e["pid"] == c.pid]
tap.ok(any(e["operation"] == "SSL_write_ex" and
           data(e).startswith(b"GET /loupe-python-test HTTP/1.0") for e in evs),
       "python3: request captured on SSL_write_ex", [e["operation"] for e in evs])
tap.ok(any(e["operation"] == "SSL_read_ex" and b"HTTP/1.0 200 ok" in data(e) for e in evs),
       "python3: response captured on SSL_read_ex")
tap.ok(all(e["comm"] == "python3" for e in evs), "python3: comm")
lp.cleanup()

# --- byte-exact: 64 MiB through TLS in 16 KiB and 1 MiB writes --------------------
lp = Loupe(["trace", "ssl", "--comm", "tls_loop", "--buffer-size", "256M"])
runs = []
for wsize, seed in ((16384, 1), (1 << 20, 2)):
    out = run([TLS_LOOP, "stream", str(wsize), str(32 << 20), str(seed)], timeout=120)
    info = dict(line.split() for line in out.stdout.decode().splitlines())
    runs.append((wsize, info))
lp.stop()
streams = defaultdict(bytearray)
truncated = 0
for e in lp.events():
    if e["operation"] in ("SSL_write", "SSL_read"):
        streams[(e["pid"], e["direction"])] += data(e)
        truncated += bool(e["truncated"])
for wsize, info in runs:
    sent = hashlib.sha256(streams[(int(info["client_pid"]), "write")]).hexdigest()
    got = hashlib.sha256(streams[(int(info["server_pid"]), "read")]).hexdigest()
    tap.eq(sent, info["sent_sha256"], f"byte-exact: writes of {wsize} rebuild the sent stream")
    tap.eq(got, info["received_sha256"], f"byte-exact: reads rebuild the stream ({wsize})")
st = lp.stats() or {}
tap.eq(st.get("lost"), 0, "byte-exact: lost counter is 0")
tap.eq(truncated, 0, "byte-exact: no event truncated")
tap.ok(st.get("bytes", 0) >= 2 * (64 << 20), "byte-exact: statistics count the bytes", st)
lp.cleanup()

# --- filters: the matching process is kept, a concurrent one dropped ---------------
def filter_case(name, args_for, a_prefix=(), b_prefix=()):
    a = Client(f"/keep-{name}", a_prefix)
    b = Client(f"/drop-{name}", b_prefix)
    lp = Loupe(["trace", "ssl"] + args_for(a))
    a.release()
    b.release()
    lp.stop()
    evs = lp.events()
    keep = [e for e in evs if f"/keep-{name}".encode() in data(e)]
    drop = [e for e in evs if f"/drop-{name}".encode() in data(e)]
    tap.ok(keep and not drop, f"--{name} keeps the match and drops the other",
           f"keep={len(keep)} drop={len(drop)} {lp.stderr}")
    tap.ok(all(e["pid"] == a.pid for e in evs if e["comm"] == "python3"),
           f"--{name}: only the matching pid among python3 events")
    lp.cleanup()


filter_case("pid", lambda a: ["--pid", str(a.pid)])
filter_case("uid", lambda a: ["--uid", "nobody"],
            a_prefix=("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"))
filter_case("container-pid", lambda a: ["--container-pid", str(a.pid)],
            a_prefix=("unshare", "-m"))

# --comm: curl kept, a concurrent python3 client dropped.
b = Client("/drop-comm")
lp = Loupe(["trace", "ssl", "--comm", "curl"])
cp = subprocess.Popen(["curl", "-sk", f"https://127.0.0.1:{port}/keep-comm", "-o", "/dev/null"])
b.release()
cp.wait(30)
lp.stop()
evs = lp.events()
tap.ok(any(b"/keep-comm" in data(e) for e in evs) and
       not any(b"/drop-comm" in data(e) for e in evs) and
       all(e["comm"] == "curl" for e in evs), "--comm keeps curl, drops python3")
lp.cleanup()

# --- --sample, --no-reads, --no-data ------------------------------------------------
ITERS = 2000	# the loop also does ITERS/10+1 warm-up rounds
calls = 2 * (ITERS + ITERS // 10 + 1)
lp = Loupe(["trace", "ssl", "--comm", "tls_loop", "--sample", "10"])
run([TLS_LOOP, "bench", "64", str(ITERS)])
lp.stop()
rw = [e for e in lp.events() if e["direction"] != "handshake"]
tap.ok(0.07 * calls <= len(rw) <= 0.13 * calls,
       f"--sample 10: about one call in ten ({len(rw)} of {calls})")
tap.ok((lp.stats() or {}).get("sampled_out", 0) >= 0.8 * calls,
       "--sample: the skipped calls are counted", lp.stats())
lp.cleanup()

lp = Loupe(["trace", "ssl", "--comm", "tls_loop", "--no-reads"])
run([TLS_LOOP, "bench", "64", "100"])
lp.stop()
evs = lp.events()
tap.ok(any(e["direction"] == "write" for e in evs) and
       not any(e["direction"] == "read" for e in evs), "--no-reads: writes only")
lp.cleanup()

lp = Loupe(["trace", "ssl", "--comm", "tls_loop", "--no-data"])
run([TLS_LOOP, "bench", "1024", "100"])
lp.stop()
rw = [e for e in lp.events() if e["direction"] != "handshake"]
tap.ok(rw and all(e["len"] == 1024 and e["captured"] == 0 and e["data"] == "" and
                  e["truncated"] for e in rw), "--no-data: lengths without bytes",
       rw[:2])
lp.cleanup()

# --data-size cuts and says so.
lp = Loupe(["trace", "ssl", "--comm", "tls_loop", "--data-size", "100"])
run([TLS_LOOP, "bench", "1024", "10"])
lp.stop()
w = [e for e in lp.events() if e["direction"] == "write"]
tap.ok(w and all(e["captured"] == 100 and len(data(e)) == 100 and e["len"] == 1024 and
                 e["truncated"] for e in w), "--data-size 100: 100 bytes kept, truncated set")
lp.cleanup()

# --- a thread killed between SSL_read entry and return leaves nothing behind --------
lp = Loupe(["trace", "ssl", "--comm", "tls_loop"])
hold = subprocess.Popen([TLS_LOOP, "hold"], stdout=subprocess.PIPE)
tid = int(hold.stdout.readline().split()[3])
ctx_id = loupe_maps(lp.proc.pid)["ssl_context"]


def ctx_tids():
    return {int.from_bytes(bytes(int(x, 16) for x in e["key"]), "little")
            if isinstance(e["key"], list) else e["key"] for e in map_entries(ctx_id)}


deadline = time.time() + 10
while tid not in ctx_tids() and time.time() < deadline:
    time.sleep(0.05)
tap.ok(tid in ctx_tids(), "blocked SSL_read has its entry in ssl_context")
hold.kill()
hold.wait()
deadline = time.time() + 5
while tid in ctx_tids() and time.time() < deadline:
    time.sleep(0.05)
tap.ok(tid not in ctx_tids(), "killed thread's ssl_context entry is gone")
lp.stop()
lp.cleanup()

# --- SIGTERM: every program and link detached ------------------------------------
lp = Loupe(["trace", "ssl"])
progs, links = loupe_progs(lp.proc.pid), loupe_links(lp.proc.pid)
tap.ok(len(progs) >= 10 and len(links) >= 10, f"loupe holds {len(progs)} programs, "
       f"{len(links)} links")
rc = lp.stop(signal.SIGTERM)
tap.eq(rc, 0, "SIGTERM: clean exit status")
tap.ok("events" in lp.stderr and "lost" in lp.stderr, "SIGTERM: statistics printed")
# The kernel frees programs after an RCU grace period: give it a moment.
deadline = time.time() + 5
while progs & bpf_ids("prog") and time.time() < deadline:
    time.sleep(0.1)
tap.ok(not (progs & bpf_ids("prog")), "SIGTERM: no loupe program left loaded",
       progs & bpf_ids("prog"))
tap.ok(not (links & bpf_ids("link")), "SIGTERM: no loupe link left")
lp.cleanup()

# --- bad command lines -----------------------------------------------------------
notelf = os.path.join(tmp, "not-elf.so")
with open(notelf, "w") as f:
    f.write("this is not a library\n")
for args, what, want in (
        (["--bogus"], "unknown flag", "unknown option"),
        (["--pid", "999999999"], "--pid of no process", "no such process"),
        (["--lib", notelf], "--lib on a non-ELF file", "not an ELF file"),
        (["--data-size", "lots"], "non-numeric --data-size", "--data-size needs a size"),
        (["--sample", "0"], "--sample 0", "out of range"),
        (["-o", "xml"], "unknown output format", "unknown format")):
    r = run([LOUPE, "trace", "ssl"] + args)
    err = r.stderr.decode()
    tap.ok(r.returncode == 2 and err.count("\n") == 1 and err.startswith("loupe: ") and
           want in err, f"bad input: {what} -> one line, exit 2", f"{r.returncode} {err!r}")

r = run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all",
         LOUPE, "trace", "ssl"])
err = r.stderr.decode()
tap.ok(r.returncode == 1 and err.count("\n") == 1 and "root" in err,
       "without privileges: one line saying what is needed, exit 1", f"{r.returncode} {err!r}")

server.terminate()
server.wait()
tap.done()
