#!/usr/bin/env python3
"""Cost of `loupe trace ssl` on a TLS write/read loop, as ratios in one run.

Three ways, interleaved round by round so that the noise of a shared machine
falls on all of them alike:
  untraced  the loop alone (bench/tls_loop.c: client SSL_write, server SSL_read)
  floor     empty BPF programs on the same hooks (bench/empty_probes.c)
  loupe     loupe trace ssl, full data capture, JSON written to a file
Also: loupe's peak RSS, its start-to-ready time, and its lost counter.
The JSON file is removed and the page cache synced after each loupe run, so
that disk writeback of one round cannot stall the next.

    sudo bench/ssl_bench.py [--rounds 5]      (make bench runs it)
    sudo bench/ssl_bench.py --go [--rounds 5] the same for Go's crypto/tls:
        bench/go_tls_loop.go (client (*Conn).Write, server (*Conn).Read), the
        floor on the entry and every RET of the Go functions loupe probes
Prints a markdown table for docs/performance.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
LOUPE = os.path.join(ROOT, "loupe")
TLS_LOOP = os.path.join(ROOT, ".output", "bench", "tls_loop")
GO_TLS_LOOP = os.path.join(ROOT, ".output", "bench", "go_tls_loop")
EMPTY = os.path.join(ROOT, ".output", "bench", "empty_probes")
LIBSSL = "/lib/x86_64-linux-gnu/libssl.so.3"
SIZES = {64: 30000, 1024: 30000, 16384: 8000}


def wait_ready(proc, word):
    t0 = time.time()
    for raw in proc.stderr:
        if word in raw.decode():
            return time.time() - t0
    raise RuntimeError("tracer died before it was ready")


def loop(prog, size, iters):
    out = subprocess.run([prog, "bench", str(size), str(iters)], check=True,
                         capture_output=True).stdout.decode()
    return float(out.split()[1])


def start_loupe(out_path, comm):
    t0 = time.time()
    p = subprocess.Popen([LOUPE, "trace", "ssl", "--comm", comm, "-o", "json",
                          "--output-file", out_path], stderr=subprocess.PIPE)
    wait_ready(p, "loupe: ready")
    return p, time.time() - t0


def stop_loupe(p):
    with open(f"/proc/{p.pid}/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
    p.send_signal(2)
    err = p.stderr.read().decode()
    p.wait()
    stats = next(json.loads(line)["stats"] for line in err.splitlines()
                 if line.startswith('{"stats"'))
    return hwm, stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--go", action="store_true", help="Go's crypto/tls instead of OpenSSL")
    args = ap.parse_args()
    prog = GO_TLS_LOOP if args.go else TLS_LOOP
    empty = [EMPTY, "--go", GO_TLS_LOOP] if args.go else [EMPTY, LIBSSL]
    comm = os.path.basename(prog)
    if os.geteuid():
        sys.exit("ssl_bench: run as root")
    tmp = tempfile.mkdtemp(prefix="loupe-bench-")
    res = {s: {"untraced": [], "floor": [], "loupe": []} for s in SIZES}
    rss, ready, lost, events = [], [], 0, 0
    for r in range(args.rounds):
        for size, iters in SIZES.items():
            res[size]["untraced"].append(loop(prog, size, iters))
            e = subprocess.Popen(empty, stderr=subprocess.PIPE)
            wait_ready(e, "ready")
            res[size]["floor"].append(loop(prog, size, iters))
            e.send_signal(2)
            e.wait()
            p, t = start_loupe(os.path.join(tmp, "out.json"), comm)
            ready.append(t)
            res[size]["loupe"].append(loop(prog, size, iters))
            hwm, st = stop_loupe(p)
            # Start every round with clean page cache: writeback of an earlier
            # round's output must not stall this one's writer.
            os.unlink(os.path.join(tmp, "out.json"))
            os.sync()
            rss.append(hwm)
            lost += st["lost"]
            events += st["events"]
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    print("| message | untraced | empty probes (floor) | loupe | loupe / floor | "
          "floor / untraced |")
    print("|---:|---:|---:|---:|---:|---:|")
    for size in SIZES:
        u, f, l_ = (statistics.median(res[size][k]) for k in ("untraced", "floor", "loupe"))
        print(f"| {size} B | {u / 1000:.2f} us | {f / 1000:.2f} us | {l_ / 1000:.2f} us | "
              f"**{l_ / f:.2f}x** | {f / u:.2f}x |")
    print()
    print(f"- loupe events: {events}, lost: {lost}")
    print(f"- loupe peak RSS (VmHWM): median {statistics.median(rss) / 1024:.1f} MB, "
          f"max {max(rss) / 1024:.1f} MB")
    print(f"- start to ready: median {statistics.median(ready) * 1000:.0f} ms, "
          f"max {max(ready) * 1000:.0f} ms")
    print(f"- per-iteration times are medians of {args.rounds} interleaved rounds; "
          f"iterations per run: " + ", ".join(f"{s} B: {n}" for s, n in SIZES.items()))


if __name__ == "__main__":
    main()
