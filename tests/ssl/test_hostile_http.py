#!/usr/bin/env python3
"""Hostile plaintext: hostile_peer.py sends malformed HTTP/1 and HTTP/2 over
TLS (a 1 MiB header line on 24 connections held open, invalid chunk sizes,
10,000 pipelined requests, invalid HPACK, a 2 MiB header block, an HPACK
bomb, 10,000 streams), then the same connections well formed (benign).

loupe trace ssl --http keeps running, marks each abandoned direction with an
http-malformed row saying which bound or what broke, counts them
(http_malformed), still shows every byte as raw rows, and its peak RSS
(VmHWM) stays within BOUND_MB of the benign run's.  Then --decode --redact
--pcap in columns, the other paths into the HTTP decoder, the same way."""
import os
import secrets
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import TAP, Loupe, make_cert, require_root  # noqa: E402

# What the hostile run may take beyond the benign one.  The decoder's own
# bound (http.h) is 64 KiB per open head and 64 MiB for all connections;
# what buffered the 24 open 1 MiB lines, or kept 10,000 streams' requests
# (2.4 KiB each), or decoded the bomb (240 MB) would pass this.
# Under SANITIZE=1 ASan's shadow memory and quarantine grow with every
# allocation: the bound is for loupe's own memory, in a release build.
BOUND_MB = 16 if os.environ.get("SANITIZE") != "1" else 256
HERE = os.path.dirname(os.path.abspath(__file__))
CASES = 31
WANT_ERRORS = {
    "malformed: head over 65536 bytes": 24,
    "malformed: invalid chunk size": 2,
    "malformed: more than 256 requests waiting for responses": 2,
    "malformed: header block over 65536 bytes": 1,
    "malformed: decoded header list over 65536 bytes": 1,
}

tap = TAP()
require_root(tap)
tmp = tempfile.mkdtemp(prefix="loupe-hostile-")
cert, key = make_cert(tmp)


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def wait_for(path, needle, timeout=90):
    """Until loupe's output (flushed after every poll) holds needle."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path, "rb") as f:
            if needle in f.read():
                return True
        time.sleep(0.2)
    return False


def run(mode, extra, json_output=True):
    comm = ("lp19" + secrets.token_hex(8))[:15]
    lp = Loupe(["trace", "ssl", "--comm", comm, "--buffer-size", "16M"] + extra,
               json_output=json_output)
    peer = subprocess.Popen([sys.executable, os.path.join(HERE, "hostile_peer.py"), comm,
                             cert, key, mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    line = peer.stdout.readline().decode()
    seen = wait_for(lp.out_path, b"/peer/done")
    hwm = vm_hwm_kb(lp.proc.pid)
    alive = lp.proc.poll() is None
    peer.communicate(b"go\n", timeout=60)
    rc = lp.stop()
    tap.ok(line.startswith("cases"), f"{mode}: the peer sent every case", peer.stderr.read()
           if peer.stderr and not peer.stderr.closed else line)
    tap.ok(seen and alive, f"{mode} {' '.join(extra)}: loupe kept running and decoded the "
           "last request", lp.stderr[-2000:])
    tap.eq(rc, 0, f"{mode}: loupe exits with status 0")
    stats = lp.stats() if json_output else None
    lp.written = int(line.split()[3]) if line.startswith("cases") else -1
    return lp, peer.pid, hwm, stats


def lost(lp, stats):
    return stats.get("lost") if stats else None


# --- benign -------------------------------------------------------------------------
lp, pid, benign_hwm, stats = run("benign", ["--http"])
evs = lp.events()
reqs = [e for e in evs if e.get("operation") == "http-request" and e["pid"] == pid]
tap.eq(len(reqs), 24 + 2 + 200 + 3 + 200 + 1, "benign: every request decoded")
tap.eq(stats.get("http_malformed"), 0, "benign: nothing malformed")
tap.eq(lost(lp, stats), 0, "benign: nothing lost")
lp.cleanup()

# --- hostile, JSON --------------------------------------------------------------------
lp, pid, hostile_hwm, stats = run("hostile", ["--http"])
evs = lp.events()
bad = [e for e in evs if e.get("operation") == "http-malformed"]
errors = {}
for e in bad:
    errors[e["error"]] = errors.get(e["error"], 0) + 1
hpack = [k for k in errors if k.startswith("malformed: invalid HPACK: ")]
tap.eq(len(bad), CASES, "hostile: one http-malformed row per hostile connection")
tap.ok(all(errors.get(k) == n for k, n in WANT_ERRORS.items()) and len(hpack) == 1 and
       errors[hpack[0]] == 1, "hostile: each row says which bound or what broke", errors)
tap.ok(all(e["pid"] == pid and e["proto"] == "http" and e["direction"] == "write" and
           e["data"].startswith(("HTTP/1 from the client: ", "HTTP/2 from the client: "))
           for e in bad), "hostile: rows carry the process, proto, direction and a summary",
       bad[:2])
tap.eq(stats.get("http_malformed"), CASES, "hostile: http_malformed counts them")
tap.eq(stats.get("http_over_limit"), 24 + 2 + 1 + 1, "hostile: http_over_limit: the bounds")
tap.ok(0 < stats.get("http_held_peak_bytes", -1) <= 4 << 20,
       "hostile: the decoder held at most 4 MiB at once (24 open heads of 64 KiB...)",
       stats.get("http_held_peak_bytes"))
tap.eq(lost(lp, stats), 0, "hostile: nothing lost")
tap.ok("malformed or passed a bound" in lp.stderr, "hostile: a warning at exit",
       lp.stderr[-1500:])
# Nothing hidden: every byte the peer wrote is in the raw rows.
written = sum(e["len"] for e in evs if e["pid"] == pid and e.get("direction") == "write"
              and e.get("operation", "").startswith("SSL_write"))
long_rows = [e for e in evs if e["pid"] == pid and e.get("operation", "").startswith(
    "SSL_write") and b"aaaa" in e["data"].encode("latin-1")]
tap.eq(written, lp.written, "hostile: every byte written is in the raw rows")
tap.ok(len(long_rows) >= 24 * 16, "hostile: the long lines' calls are shown raw", len(long_rows))
print(f"# VmHWM: benign {benign_hwm} kB, hostile {hostile_hwm} kB, "
      f"decoder peak {stats.get('http_held_peak_bytes')} bytes", flush=True)
tap.ok(0 < hostile_hwm <= benign_hwm + BOUND_MB * 1024,
       f"hostile: peak RSS within {BOUND_MB} MiB of the benign run's",
       f"benign {benign_hwm} kB, hostile {hostile_hwm} kB")
lp.cleanup()

# --- hostile, columns, through --decode, --redact and --pcap ----------------------------
pcap = os.path.join(tmp, "hostile.pcap")
lp, pid, hwm, _ = run("hostile", ["--decode", "--redact", "--pcap", pcap, "--fields",
                                  "comm,operation,error,data"], json_output=False)
with open(lp.out_path, "rb") as f:
    out = f.read()
lines = out.split(b"\n")
tap.eq(sum(b"http-malformed" in ln for ln in lines), CASES,
       "columns: an http-malformed line per hostile connection")
tap.ok(any(b"from the client: head over 65536 bytes" in ln for ln in lines) and
       any(b"invalid HPACK" in ln for ln in lines), "columns: the reasons are shown",
       [ln for ln in lines if b"malformed" in ln][:3])
tap.ok(all(32 <= c < 127 for ln in lines for c in ln), "columns: every byte printable (escaped)")
tap.ok(sum(b"SSL_write" in ln for ln in lines) > 24 * 16,
       "columns: the raw rows of abandoned directions are shown")
tap.ok(os.path.getsize(pcap) > 24 << 20, "--pcap: the plaintext is written", os.path.getsize(pcap))
tap.ok(0 < hwm <= benign_hwm + BOUND_MB * 1024,
       f"--decode --redact --pcap: peak RSS within {BOUND_MB} MiB of the benign run's",
       f"benign {benign_hwm} kB, this {hwm} kB")
lp.cleanup()
tap.done()
