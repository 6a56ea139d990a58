#!/usr/bin/env python3
"""What `loupe trace ssl` costs every OTHER process on the host: the extra time
of a one-byte read or write system call while it runs (bench/sysloop.c), with
its default endpoints (the socket layer's tracepoints where the kernel has
them), with the older per-system-call hooks (LOUPE_SYSCALL_ENDPOINTS=1, what
kernels before 6.3 get), and with --no-endpoints.  Rounds interleave the
setups; the table gives the median and the worst round.  Times are the loop's
own CPU time (a busy machine's run-queue waits do not count), and, from the
kernel's BPF statistics, the run time per call of loupe's endpoint programs.

    bench/endpoints_tax.py [--rounds 5] [--calls 2000000]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.environ.get("OUTPUT", os.path.join(ROOT, ".output"))
LOUPE = os.environ.get("LOUPE", os.path.join(ROOT, "loupe"))
SYSLOOP = os.path.join(OUT, "bench", "sysloop")

SETUPS = [
    ("untraced", None, {}),
    ("loupe (default)", [], {}),
    ("loupe, syscall hooks", [], {"LOUPE_SYSCALL_ENDPOINTS": "1"}),
    ("loupe --no-endpoints", ["--no-endpoints"], {}),
]


def start_loupe(extra, env):
    # --comm of no program: only the host-wide hooks run, no event is made.
    p = subprocess.Popen([LOUPE, "trace", "ssl", "--comm", "lpt-tax-none", "-o", "json",
                          "--output-file", "/dev/null"] + extra,
                         stderr=subprocess.PIPE, env=dict(os.environ, **env))
    err = b""
    deadline = time.time() + 30
    while b"ready" not in err and time.time() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        err += line
    if b"ready" not in err:
        p.kill()
        sys.exit(f"loupe did not start: {err.decode(errors='replace')}")
    return p


def prog_stats(pid):
    """run_time_ns and run_cnt of the endpoint programs loupe `pid` holds."""
    progs = benchlib.owned_progs(pid)
    sel = [v for name, v in progs.items()
           if name.startswith(("trace_sys_enter", "trace_sock_send", "trace_sock_recv"))]
    return sum(t for t, _ in sel), sum(n for _, n in sel)


def one(mode, calls):
    return float(subprocess.run([SYSLOOP, mode, str(calls)], check=True,
                                capture_output=True).stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=2000000)
    a = ap.parse_args()
    res = {(s[0], m): [] for s in SETUPS for m in ("file", "socket")}
    progs = {s[0]: [] for s in SETUPS}
    with benchlib.bpf_stats():
        for r in range(a.rounds):
            for name, extra, env in SETUPS:
                p = start_loupe(extra, env) if extra is not None else None
                before = prog_stats(p.pid) if p else (0, 0)
                for mode in ("file", "socket"):
                    res[(name, mode)].append(one(mode, a.calls))
                if p:
                    after = prog_stats(p.pid)
                    progs[name].append((after[0] - before[0], after[1] - before[1]))
                    p.terminate()
                    p.wait(30)
    print(f"\nA one-byte system call of another process while loupe trace ssl runs "
          f"({a.rounds} rounds, {a.calls} calls each; ns per call, extra over untraced: "
          f"median / worst round)\n")
    print("| setup | read/write on files (dd bs=1) | extra | read/write on a socket | extra "
          "| endpoint programs: runs, ns per run |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, _, _ in SETUPS:
        cells = []
        for mode in ("file", "socket"):
            base = res[("untraced", mode)]
            mine = res[(name, mode)]
            extra = [m - b for m, b in zip(mine, base)]
            cells.append(f"{statistics.median(mine):.0f} ns")
            cells.append("—" if name == "untraced" else
                         f"{statistics.median(extra):+.0f} / {max(extra):+.0f} ns")
        runs = sum(n for _, n in progs[name])
        ns = sum(t for t, _ in progs[name]) / runs if runs else 0
        cells.append("—" if name == "untraced" else
                     f"{runs // max(1, a.rounds)} per round, {ns:.0f} ns" if runs else "none")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
