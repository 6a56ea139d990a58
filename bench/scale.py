#!/usr/bin/env python3
"""`loupe trace ssl` on a host with many TLS processes and many libssl files.

200 running processes (tls_loop idle: one TLS exchange a second, forever)
using 50 distinct copies of the system libssl (private copies under a
temporary directory, chosen by LD_LIBRARY_PATH, as containers each bring
their own).  loupe starts while they run; measured, each round:
  - start to ready (the `loupe: ready` line);
  - memory: the peak of loupe's process tree in a memory cgroup of its own
    (user and kernel memory, as a container limit counts it), and VmHWM;
  - that it sees them: libraries probed, and distinct processes in its
    output after a few seconds.
The same is measured first with none of them running, as the baseline.

    sudo bench/scale.py [--rounds 3] [--procs 200] [--libs 50]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
LOUPE = os.path.join(ROOT, "loupe")
TLS_LOOP = os.path.join(ROOT, ".output", "bench", "tls_loop")
LIBSSL = "/lib/x86_64-linux-gnu/libssl.so.3"


def run_loupe(tmp, comm, watch_s):
    out = os.path.join(tmp, "out.json")
    t0 = time.time()
    p = benchlib.Tree([LOUPE, "trace", "ssl", "--comm", comm, "-o", "json", "--output-file",
                       out], stderr=subprocess.PIPE)
    probing = 0
    for raw in p.proc.stderr:
        line = raw.decode(errors="replace")
        probing += line.startswith("loupe: probing")
        if "loupe: ready" in line:
            break
    else:
        raise RuntimeError("loupe died before it was ready")
    ready = time.time() - t0
    time.sleep(watch_s)
    hwm = benchlib.vm_hwm(p.pid)
    err = []
    reader = threading.Thread(target=lambda: err.append(p.proc.stderr.read().decode()))
    reader.start()
    p.stop(signal.SIGINT)
    reader.join()
    err = err[0]
    peak, kmem = p.wait()
    pids = set()
    with open(out) as f:
        for line in f:
            ev = json.loads(line)
            if ev.get("operation") in ("SSL_write", "SSL_read"):
                pids.add(ev.get("pid"))
    os.unlink(out)
    probing += err.count("loupe: probing")
    st = next((json.loads(x)["stats"] for x in err.splitlines() if x.startswith('{"stats"')), {})
    return {"ready": ready, "peak": peak, "kmem": kmem, "hwm": hwm, "probing": probing,
            "pids": len(pids), "lost": st.get("lost", 0)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--procs", type=int, default=200)
    ap.add_argument("--libs", type=int, default=50)
    ap.add_argument("--watch", type=float, default=3.0, help="seconds traced after ready")
    args = ap.parse_args()
    if os.geteuid():
        sys.exit("scale: run as root")
    tmp = tempfile.mkdtemp(prefix="loupe-scale-")
    prog = os.path.join(tmp, f"lscale{os.getpid()}")  # a name no other test uses
    shutil.copy(TLS_LOOP, prog)
    comm = os.path.basename(prog)[:15]
    for i in range(args.libs):
        os.mkdir(os.path.join(tmp, f"lib{i}"))
        shutil.copy(LIBSSL, os.path.join(tmp, f"lib{i}", "libssl.so.3"))
    res = {"baseline": [], "scale": []}
    procs = []
    try:
        for _ in range(args.rounds):
            res["baseline"].append(run_loupe(tmp, comm, args.watch))
        t0 = time.time()
        for i in range(args.procs):
            env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(tmp, f"lib{i % args.libs}"))
            procs.append(subprocess.Popen([prog, "idle", "1000"], env=env,
                                          stdout=subprocess.PIPE))
        for p in procs:  # each prints its pid once its handshake is done
            p.stdout.readline()
        started = time.time() - t0
        libs = set()
        for p in procs:
            with open(f"/proc/{p.pid}/maps") as f:
                libs |= {line.split()[-1] for line in f if "libssl.so.3" in line}
        print(f"{len(procs)} processes started in {started:.1f} s, using {len(libs)} "
              "distinct libssl files", file=sys.stderr)
        for r in range(args.rounds):
            res["scale"].append(run_loupe(tmp, comm, args.watch))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"{args.rounds} rounds each; median (worst); {args.procs} processes "
          f"(`tls_loop idle`: one exchange a second) on {len(libs)} distinct libssl files")
    print()
    print("| host | start to ready | cgroup peak (tree, user + kernel) | of it kernel | "
          "VmHWM | libraries probed | processes seen in {:.0f} s | lost |".format(args.watch))
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, runs in (("no TLS process", res["baseline"]),
                       (f"{args.procs} processes, {len(libs)} libssl copies", res["scale"])):
        def mw(key, f):
            return benchlib.fmt_med_worst(runs, key, f)

        print(f"| {name} | {mw('ready', lambda v: f'{v * 1000:.0f} ms')} | "
              f"{mw('peak', benchlib.mb)} | {mw('kmem', benchlib.mb)} | "
              f"{mw('hwm', benchlib.mb)} | {mw('probing', lambda v: f'{v:.0f}')} | "
              f"{benchlib.med_worst([x['pids'] for x in runs], min)[0]:.0f} "
              f"(min {min(x['pids'] for x in runs)}) | {max(x['lost'] for x in runs)} |")


if __name__ == "__main__":
    main()
