#!/usr/bin/env python3
"""The measuring half of bench/capabilities/run.sh (which builds the tools).

Each configuration in turn, every round, the two loops of loop.c:
  getpid       a system call that checks no capability: what every other
               process pays while the gadget runs
  setpriority  setpriority(-20) as nobody: one refused CAP_SYS_NICE check per
               call, every one an event (the gadget's worst case)
Ratios to the untraced loop of the same round, median and worst round, in wall
time and in the loop's CPU time (probes run on it; a shared machine's run
queue inflates only wall time).  Per configuration, each BPF program's run
time per call (the kernel's BPF statistics) and loupe's counters.

    bench/capabilities/measure.py OUTDIR ROUNDS N_GETPID N_PRIO
"""
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LOUPE = os.path.join(ROOT, "loupe")
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
CONFIGS = {
    "untraced": None,
    "`loupe trace capabilities` (kernel stacks on, the default)":
        [LOUPE, "trace", "capabilities", "-o", "json"],
    "`--no-collect-kstack`": [LOUPE, "trace", "capabilities", "-o", "json",
                              "--no-collect-kstack"],
    "`--unique`": [LOUPE, "trace", "capabilities", "-o", "json", "--unique"],
    "probe on every syscall (IG's syscall tracking alone)": ["syscall_probe"],
}


def start(argv, out):
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for raw in p.stderr:
        if b"ready" in raw:
            return p
    raise RuntimeError(f"not ready: {argv}")


def stop(p, cpu0):
    progs = benchlib.owned_progs(p.pid)
    cpu = benchlib.cpu_s(p.pid) - cpu0
    p.send_signal(2)
    err = p.stderr.read().decode()
    p.wait()
    st = [json.loads(line)["stats"] for line in err.splitlines() if line.startswith('{"stats"')]
    if st:
        st[0]["cpu_us_per_event"] = round(cpu / max(st[0]["events"], 1) * 1e6, 1)
    return progs, st[0] if st else None


def main():
    out, rounds, n_getpid, n_prio = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    loop = os.path.join(out, "loop")
    CONFIGS["probe on every syscall (IG's syscall tracking alone)"] = [
        os.path.join(out, "syscall_probe")]
    res = {c: {"getpid": [], "prio": []} for c in CONFIGS}
    progs = {c: [] for c in CONFIGS}
    stats = {}
    with benchlib.bpf_stats():
        for r in range(rounds):
            for c, argv in CONFIGS.items():
                p = start(argv, out) if argv else None
                before = benchlib.owned_progs(p.pid) if p else {}
                cpu0 = benchlib.cpu_s(p.pid) if p else 0
                t0 = time.time()
                g = subprocess.run([loop, "getpid", n_getpid], capture_output=True, check=True)
                mid = benchlib.owned_progs(p.pid) if p else {}
                s = subprocess.run(NOBODY + [loop, "setpriority", n_prio], capture_output=True,
                                   check=True)
                res[c]["getpid"].append([float(x) for x in g.stdout.split()])
                res[c]["prio"].append([float(x) for x in s.stdout.split()])
                if p:
                    after, st = stop(p, cpu0)
                    # getpid phase: what the other programs cost the host meanwhile
                    progs[c].append((before, mid, after, time.time() - t0))
                    if st:
                        stats[c] = st
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    report(rounds, n_getpid, n_prio, res, progs, stats)


def ratios(res, c, loop, k):
    return [a[k] / b[k] for a, b in zip(res[c][loop], res["untraced"][loop])]


def fmt(vals):
    med, worst = benchlib.med_worst(vals)
    return f"**{med:.2f}x** ({worst:.2f}x)"


def report(rounds, n_getpid, n_prio, res, progs, stats):
    print(f"Kernel {os.uname().release}, {os.cpu_count()} CPUs, {rounds} rounds, getpid "
          f"x{n_getpid}, setpriority(-20) as nobody x{n_prio}; ns per call (median of the "
          "rounds) and ratio to the untraced loop of the same round: **median** (worst round)")
    print()
    print("| configuration | getpid ns (wall / CPU) | getpid / untraced, wall | ... CPU | "
          "denied setpriority ns (wall / CPU) | setpriority / untraced, wall | ... CPU |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for c in CONFIGS:
        row = [c]
        for loop in ("getpid", "prio"):
            w = statistics.median(x[0] for x in res[c][loop])
            u = statistics.median(x[1] for x in res[c][loop])
            row += [f"{w:.0f} / {u:.0f}", fmt(ratios(res, c, loop, 0)),
                    fmt(ratios(res, c, loop, 1))]
        print("| " + " | ".join(row) + " |")
    print()
    print("BPF programs, medians of the rounds: ns per call (calls), during the getpid loop "
          "(host-wide: other processes' checks and execs run them too) and during the "
          "denied setpriority loop")
    print()
    print("| configuration | program | getpid phase | setpriority phase |")
    print("|---|---|---:|---:|")
    for c, runs in progs.items():
        names = sorted({n for b, m, a, _ in runs for n in a})
        for n in names:
            cells = []
            for lo, hi in ((0, 1), (1, 2)):
                d = [(x[hi].get(n, (0, 0))[0] - x[lo].get(n, (0, 0))[0],
                      x[hi].get(n, (0, 0))[1] - x[lo].get(n, (0, 0))[1]) for x in runs]
                per = [t / k for t, k in d if k]
                cells.append(f"{statistics.median(per):.0f} ({statistics.median(k for _, k in d):.0f})"
                             if per else "- (0)")
            print(f"| {c} | {n} | {cells[0]} | {cells[1]} |")
    print()
    for c, st in stats.items():
        keep = {k: v for k, v in st.items() if k in ("events", "lost", "lost_ring_full",
                                                    "stacks_lost", "deduplicated",
                                                    "cpu_us_per_event")}
        print(f"- {c}, last round: {json.dumps(keep)}")


if __name__ == "__main__":
    main()
