"""What the benchmarks share: where a tracer's time and memory go.

- bpf_stats(): keeps the kernel's BPF run-time statistics on while held (the
  BPF_ENABLE_STATS file descriptor: reference counted by the kernel, so it
  neither fights nor undoes anyone else's `sysctl kernel.bpf_stats_enabled`).
- owned_progs(pid): the BPF programs a process holds (its fdinfo), with
  run_time_ns and run_cnt; owned_maps(pid): its maps' kernel memory.
- Tree: runs a command in a memory cgroup of its own, below ours, so that the
  peak of the whole process tree (helper children, and the kernel memory it
  is charged for: BPF maps, ring buffers) is read as a container limit sees it.
- cpu_s(pid): user+system CPU of a process and its waited-for children.
"""
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from loupetest import _fd_ids  # noqa: E402  the BPF objects a process holds

SYS_BPF = 321  # x86_64
BPF_ENABLE_STATS = 32
CLK_TCK = os.sysconf("SC_CLK_TCK")


class bpf_stats:
    """with bpf_stats(): ... : BPF program run times are counted inside."""

    def __enter__(self):
        libc = ctypes.CDLL(None, use_errno=True)
        attr = ctypes.create_string_buffer(16)  # { __u32 type = BPF_STATS_RUN_TIME (0) }
        self.fd = libc.syscall(SYS_BPF, BPF_ENABLE_STATS, attr, 16)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "BPF_ENABLE_STATS")
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def _bpftool(kind):
    out = subprocess.run(["bpftool", kind, "show", "-j"], capture_output=True, check=True)
    return json.loads(out.stdout)


def owned_progs(pid):
    """{name: (run_time_ns, run_cnt)} of the programs pid holds, same names summed."""
    ids = _fd_ids(pid, "bpf-prog", "prog_id:")
    res = {}
    for p in _bpftool("prog"):
        if p["id"] in ids:
            t, c = res.get(p.get("name", "?"), (0, 0))
            res[p.get("name", "?")] = (t + p.get("run_time_ns", 0), c + p.get("run_cnt", 0))
    return res


def owned_maps(pid):
    """Kernel memory of the maps pid holds: (bytes, [(name, bytes)] largest first)."""
    ids = _fd_ids(pid, "bpf-map", "map_id:")
    maps = [(m.get("name", "?"), m.get("bytes_memlock", 0)) for m in _bpftool("map")
            if m["id"] in ids]
    maps.sort(key=lambda m: -m[1])
    return sum(b for _, b in maps), maps


def cpu_s(pid):
    """utime+stime of pid and of the children it waited for, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def vm_hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))


def _own_memcg():
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrl, path = line.rstrip("\n").split(":", 2)
            if "memory" in ctrl.split(","):
                return "/sys/fs/cgroup/memory" + path
            if ctrl == "" and os.path.exists(f"/sys/fs/cgroup{path}/memory.peak"):
                return "/sys/fs/cgroup" + path  # cgroup v2
    return None


class Tree:
    """A command in a transient memory cgroup of its own (v1 or v2)."""

    def __init__(self, argv, **popen):
        parent = _own_memcg()
        self.cg = None
        if parent and os.access(parent, os.W_OK):
            self.cg = os.path.join(parent, f"loupe-bench-{os.getpid()}-{time.monotonic_ns()}")
            os.mkdir(self.cg)
        cg = self.cg

        def enter():
            if cg:
                with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))

        self.proc = subprocess.Popen(argv, preexec_fn=enter, **popen)
        self.pid = self.proc.pid
        self.rusage = None

    def _read(self, name):
        try:
            with open(os.path.join(self.cg, name)) as f:
                return int(f.read().split()[0])
        except (OSError, TypeError, ValueError):
            return None

    def stop(self, sig=2):
        """Signal it until it exits (bpftrace 0.17 sometimes misses a SIGINT; seen),
        SIGKILL after 30 s; returns the number of signals it took."""
        for n in range(1, 7):
            os.kill(self.pid, sig)
            for _ in range(100):
                if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                    return n
                time.sleep(0.05)
        os.kill(self.pid, 9)
        return -1

    def wait(self):
        """Reap; returns (peak of the tree, of it kernel memory), None if unknown."""
        _, status, self.rusage = os.wait4(self.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        peak = self._read("memory.max_usage_in_bytes") or self._read("memory.peak")
        kmem = self._read("memory.kmem.max_usage_in_bytes")
        if self.cg:
            for _ in range(50):
                try:
                    os.rmdir(self.cg)
                    break
                except OSError:
                    time.sleep(0.02)
        # Not ru_maxrss: Linux carries the forking parent's peak across exec.
        return peak, kmem

    def cpu_total(self):
        return self.rusage.ru_utime + self.rusage.ru_stime


def med_worst(values, worst=max):
    return statistics.median(values), worst(values)


def fmt_med_worst(runs, key, f):
    """"median (worst)" of runs' key, each formatted by f; "n/a" if none known."""
    vals = [x[key] for x in runs if x[key] is not None]
    if not vals:
        return "n/a"
    med, worst = med_worst(vals)
    return f"{f(med)} ({f(worst)})"


def mb(b):
    return "n/a" if b is None else f"{b / 1e6:.1f} MB"
