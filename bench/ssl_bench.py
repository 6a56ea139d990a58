#!/usr/bin/env python3
"""Cost of `loupe trace ssl` on a TLS write/read loop, as ratios in one run.

Ways to run the loop, interleaved round by round so that the noise of a shared
machine falls on all of them alike:
  untraced   the loop alone (bench/tls_loop.c: client SSL_write, server SSL_read)
  floor      empty BPF programs on loupe's own hooks: entry and return of the
             reads, writes and the handshake (bench/empty_probes.c)
  floor_min  empty programs on the least any capture needs: write entry, read
             entry and return (empty_probes --min)
  loupe      loupe trace ssl, full data capture, JSON written to a file
  bpftrace   Debian's bpftrace capturing the same calls (bench/ssl.bt)
Every ratio is taken per round (each round's configurations ran back to back)
and reported as the median and the worst of the rounds.

Where the time goes, per run: each BPF program's run time per call (the
kernel's BPF statistics, on while the benchmark runs), the BPF time per loop
iteration, and the tracer's own CPU per event (user+system, after ready).
Memory as a container limit sees it: loupe (and its BTF child) in a memory
cgroup of its own: the peak of the whole tree, user and kernel (maps).

    sudo bench/ssl_bench.py [--rounds 5] [--quick] [--no-bpftrace]
    sudo bench/ssl_bench.py --go [--rounds 5]   Go's crypto/tls
        (bench/go_tls_loop.go; the floor on the entry and every RET of the Go
        functions loupe probes; no floor_min and no bpftrace there)
Prints markdown tables for docs/performance.md.
"""
import argparse
import json
import os
import shutil
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
GO_TLS_LOOP = os.path.join(ROOT, ".output", "bench", "go_tls_loop")
EMPTY = os.path.join(ROOT, ".output", "bench", "empty_probes")
BT_SCRIPT = os.path.join(ROOT, "bench", "ssl.bt")
LIBSSL = "/lib/x86_64-linux-gnu/libssl.so.3"
SIZES = {64: 20000, 1024: 20000, 16384: 6000}


def wait_line(stream, word):
    t0 = time.time()
    for raw in stream:
        if word in raw.decode(errors="replace"):
            return time.time() - t0
    raise RuntimeError(f"tracer died before it printed {word!r}")


def loop(prog, size, iters):
    """(wall ns, CPU ns (None if not told), per iteration; TLS calls made)"""
    out = subprocess.run([prog, "bench", str(size), str(iters)], check=True,
                         capture_output=True).stdout.decode()
    kv = dict(line.split() for line in out.splitlines())
    cpu = kv.get("cpu_ns_per_iter")
    return float(kv["ns_per_iter"]), cpu and float(cpu), int(kv["tls_calls"])


class Tracer:
    """One tracer for one run of the loop: started, measured, stopped."""

    def __init__(self, kind, args, tmp):
        self.kind, self.out = kind, os.path.join(tmp, f"{kind}.out")
        t0 = time.time()
        if kind in ("floor", "floor_min"):
            argv = [EMPTY] + (["--min", LIBSSL] if kind == "floor_min" else
                              (["--go", args.prog] if args.go else [LIBSSL]))
            self.p = benchlib.Tree(argv, stderr=subprocess.PIPE)
            wait_line(self.p.proc.stderr, "ready")
        elif kind.startswith("loupe"):
            # mem: the same to /dev/null, so the file's page cache is not in its peak
            out = "/dev/null" if args.mem else self.out
            env = dict(os.environ)
            if kind != "loupe":  # loupe[K=V]: a variant, loupe run with K=V in its environment
                k, v = kind[6:-1].split("=", 1)
                env[k] = v
            self.p = benchlib.Tree([LOUPE, "trace", "ssl", "--comm", args.comm, "-o", "json",
                                    "--output-file", out], stderr=subprocess.PIPE, env=env)
            wait_line(self.p.proc.stderr, "loupe: ready")
        else:  # bpftrace: its BEGIN probe prints "ready" once every probe is attached
            self.f = open(self.out, "w")
            env = dict(os.environ, BPFTRACE_STRLEN="200")  # the most it can copy
            self.p = benchlib.Tree(["bpftrace", BT_SCRIPT, args.comm], stdout=self.f,
                                   stderr=subprocess.DEVNULL, env=env)
            while True:
                with open(self.out) as f:
                    if "ready" in f.read(4096):
                        break
                if self.p.proc.poll() is not None:
                    raise RuntimeError("bpftrace died before it was ready")
                time.sleep(0.02)
        self.ready = time.time() - t0
        self.cpu0 = benchlib.cpu_s(self.p.pid)

    def stop(self):
        """Stops it; returns what it cost besides the loop's time."""
        progs = benchlib.owned_progs(self.p.pid)
        maps = benchlib.owned_maps(self.p.pid)[0]
        hwm = benchlib.vm_hwm(self.p.pid)
        if self.p.proc.stderr:  # drained meanwhile: a full pipe must not block its exit
            err = []
            reader = threading.Thread(target=lambda: err.append(self.p.proc.stderr.read()))
            reader.start()
        signals = self.p.stop()
        if self.p.proc.stderr:
            reader.join()
        err = err[0].decode() if self.p.proc.stderr else ""
        peak, kmem = self.p.wait()
        if signals != 1:
            print(f"{self.kind}: {signals} signals to stop it (-1: killed)", file=sys.stderr)
        res = {"progs": progs, "ready": self.ready, "peak": peak, "kmem": kmem,
               "hwm": hwm, "maps": maps, "cpu": self.p.cpu_total() - self.cpu0,
               "events": 0, "lost": 0}
        if self.kind.startswith("loupe"):
            st = next(json.loads(line)["stats"] for line in err.splitlines()
                      if line.startswith('{"stats"'))
            res["events"], res["lost"] = st["events"], st["lost"]
        elif self.kind == "bpftrace":
            self.f.close()
            with open(self.out, errors="replace") as f:
                for line in f:
                    if line.startswith(("W ", "R ")):
                        res["events"] += 1
                    elif line.startswith("Lost "):
                        res["lost"] += int(line.split()[1])
        if os.path.exists(self.out):
            os.unlink(self.out)
        # Unlinked before writeback, its dirty pages are dropped, not written:
        # one run's output does not stall the next.
        return res


def fmt_ratio(vals):
    med, worst = benchlib.med_worst(vals)
    return f"**{med:.2f}x** ({worst:.2f}x)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--go", action="store_true", help="Go's crypto/tls instead of OpenSSL")
    ap.add_argument("--quick", action="store_true", help="few iterations: a smoke test")
    ap.add_argument("--no-bpftrace", action="store_true")
    ap.add_argument("--variant", action="append", default=[], metavar="K=V",
                    help="also loupe with K=V in its environment (repeatable), to compare")
    args = ap.parse_args()
    if os.geteuid():
        sys.exit("ssl_bench: run as root")
    tmp = tempfile.mkdtemp(prefix="loupe-bench-")
    # A name of its own: other tests on this machine run tls_loop too, and
    # their calls must not count as this loop's events.
    prog = os.path.join(tmp, f"lbench{os.getpid()}")
    shutil.copy(GO_TLS_LOOP if args.go else TLS_LOOP, prog)
    args.comm, args.prog = os.path.basename(prog)[:15], prog
    args.mem = False
    sizes = {s: max(n // 50, 200) for s, n in SIZES.items()} if args.quick else SIZES
    configs = ["untraced", "floor", "loupe"] + [f"loupe[{v}]" for v in args.variant]
    if not args.go:
        configs[2:2] = ["floor_min"]
        if not args.no_bpftrace and shutil.which("bpftrace"):
            configs.append("bpftrace")
    t = {s: {c: [] for c in configs} for s in sizes}  # ns per iteration
    tc = {s: {c: [] for c in configs} for s in sizes}  # the loop's CPU ns per iteration
    cost = {s: {c: [] for c in configs[1:]} for s in sizes}
    iters, mem = {}, []
    with benchlib.bpf_stats():
        for r in range(args.rounds):
            for size, n in sizes.items():
                for c in configs:
                    tr = Tracer(c, args, tmp) if c != "untraced" else None
                    ns, cpu, calls = loop(prog, size, n)
                    t[size][c].append(ns)
                    tc[size][c].append(cpu)
                    iters[size] = (n, calls)
                    if tr:
                        cost[size][c].append(tr.stop())
            # loupe's memory without its output file's page cache (1 KiB loop)
            args.mem = True
            tr = Tracer("loupe", args, tmp)
            loop(prog, 1024, sizes[1024] // 4)
            mem.append(tr.stop())
            args.mem = False
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)
    report(args, configs, sizes, t, tc, cost, iters, mem)


def ratio_table(configs, sizes, t):
    traced = configs[1:]
    floors = [c for c in ("floor", "floor_min") if c in configs]
    others = [c for c in traced if c not in floors]
    head = ["message"] + configs
    head += [f"{o} / {f}" for o in others for f in floors] + ["floor / untraced"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---:|" * len(head))
    for size in sizes:
        row = [f"{size} B"] + [f"{statistics.median(t[size][c]) / 1000:.2f} us"
                               for c in configs]
        for o in others:
            for f in floors:
                row.append(fmt_ratio([a / b for a, b in zip(t[size][o], t[size][f])]))
        row.append(fmt_ratio([a / b for a, b in zip(t[size]["floor"], t[size]["untraced"])]))
        print("| " + " | ".join(row) + " |")
    print()


def report(args, configs, sizes, t, tc, cost, iters, mem):
    traced = configs[1:]
    print(f"{args.rounds} rounds; wall time per iteration (one write plus one read), median "
          "of the rounds; ratios: **median** (worst round)")
    print()
    ratio_table(configs, sizes, t)
    if all(v is not None for s in sizes for c in configs for v in tc[s][c]):
        print("The same, in CPU time of the traced process (probes run on it; the run "
              "queue of a shared machine does not inflate it; loupe's reader is not in it)")
        print()
        ratio_table(configs, sizes, tc)

    print("Where the time goes (medians of the rounds): BPF = the kernel's run time of "
          "the tracer's programs (not the uprobe trap itself), per loop iteration; "
          "CPU = the tracer's user+system time after ready, per event")
    print()
    print("| message | tracer | BPF ns / iteration | CPU us / event | events / run | "
          "lost / run | programs: ns per call (calls per iteration) |")
    print("|---|---|---:|---:|---:|---:|---|")
    for size in sizes:
        n = iters[size][0]
        for c in traced:
            runs = cost[size][c]
            bpf = statistics.median(sum(v[0] for v in x["progs"].values()) / n for x in runs)
            ev = statistics.median(x["events"] for x in runs)
            cpu = (statistics.median(x["cpu"] / x["events"] * 1e6 for x in runs)
                   if all(x["events"] for x in runs) else None)
            progs = {}
            for x in runs:
                for name, (ns, cnt) in x["progs"].items():
                    if cnt:
                        progs.setdefault(name, []).append((ns / cnt, cnt / n))
            detail = ", ".join(
                f"{name} {statistics.median(a for a, _ in v):.0f} "
                f"({statistics.median(b for _, b in v):.2f})"
                for name, v in sorted(progs.items(), key=lambda kv: -sum(a * b for a, b in kv[1]))
                if statistics.median(b for _, b in v) >= 0.01)
            print(f"| {size} B | {c} | {bpf:.0f} | "
                  f"{'-' if cpu is None else f'{cpu:.2f}'} | {ev:.0f} | "
                  f"{max(x['lost'] for x in runs)} | {detail} |")
    print()
    print("Start and memory (all runs): median (worst); peak = the tracer's process tree "
          "in a memory cgroup of its own (user and kernel memory, as a container limit "
          "counts it; loupe's from runs writing to /dev/null: the page cache of an output "
          "file is not loupe's); VmHWM = the main process's peak RSS")
    print()
    print("| tracer | start to ready | cgroup peak | of it kernel | maps (memlock) | "
          "VmHWM |")
    print("|---|---:|---:|---:|---:|---:|")
    for c in traced:
        if c.startswith("loupe["):
            continue  # variants: their runs wrote files, whose page cache would count
        runs = mem if c == "loupe" else [x for s in sizes for x in cost[s][c]]

        def mw(key, f=benchlib.mb):
            return benchlib.fmt_med_worst(runs, key, f)

        print(f"| {c} | {mw('ready', lambda v: f'{v * 1000:.0f} ms')} | {mw('peak')} | "
              f"{mw('kmem')} | {mw('maps')} | {mw('hwm')} |")
    print()
    if "loupe" in traced:
        ev = sum(x["events"] for s in sizes for x in cost[s]["loupe"])
        lost = sum(x["lost"] for s in sizes for x in cost[s]["loupe"])
        want = sum(iters[s][1] * len(cost[s]["loupe"]) for s in sizes)
        print(f"- loupe events: {ev} (the loop made {want} TLS calls), lost: {lost}")
    if "bpftrace" in traced:
        ev = sum(x["events"] for s in sizes for x in cost[s]["bpftrace"])
        lost = sum(x["lost"] for s in sizes for x in cost[s]["bpftrace"])
        print(f"- bpftrace events: {ev}, lost: {lost} (it copies at most 200 bytes of "
              "each buffer)")
    print("- iterations per run: " + ", ".join(f"{s} B: {v[0]}" for s, v in iters.items()))


if __name__ == "__main__":
    main()
