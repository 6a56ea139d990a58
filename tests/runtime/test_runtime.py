#!/usr/bin/env python3
"""The runtime's behaviour seen from the command line: commands, help, exit
statuses, --output-file, --fields, --timeout, lost-event accounting."""
import json
import os
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import LOUPE, OUTPUT, TAP, Loupe, own_copy, require_root, run  # noqa: E402

# Our loop under a name of its own: other suites may run tls_loop meanwhile.
TLS_LOOP, LOOP_COMM = own_copy(os.path.join(OUTPUT, "bench", "tls_loop"), "lpt-rt-")
tap = TAP()
require_root(tap)
tmp = tempfile.mkdtemp(prefix="loupe-rt-")

# --- commands -----------------------------------------------------------------
r = run([LOUPE, "version"])
tap.ok(r.returncode == 0 and r.stdout.decode().startswith("loupe "), "loupe version")
r = run([LOUPE, "list", "-o", "json"])
names = [g["name"] for g in json.loads(r.stdout)]
tap.eq(names, sorted(["ssl", "tcp", "capabilities", "fdpass"]), "loupe list -o json: the gadgets")
r = run([LOUPE, "list", "-v", "-o", "json"])
tap.ok(all(g.get("variant") for g in json.loads(r.stdout)), "loupe list -v: a hook variant each")
for args in (["help"], ["--help"], ["help", "trace", "ssl"], ["trace", "tcp", "--help"],
             ["help", "inspect"], ["list", "--help"], ["version", "--help"], ["help", "help"],
             ["trace", "--help"]):
    r = run([LOUPE] + args)
    tap.ok(r.returncode == 0 and b"Usage" in r.stdout and b"xample" in r.stdout,
           f"loupe {' '.join(args)}: usage with examples on stdout", r.stdout[-300:])
r = run([LOUPE, "trace", "ssl", "--help"])
tap.ok(b"Examples:" in r.stdout and b"--container-pid" in r.stdout and b"data" in r.stdout,
       "trace --help lists examples, common options and fields")
for args, what in ((["frobnicate"], "unknown command"), (["trace", "nope"], "unknown gadget"),
                   ([], "no command"), (["trace", "ssl", "extra"], "stray argument"),
                   (["trace", "ssl", "--timeout", "-1"], "negative --timeout"),
                   (["trace", "ssl", "--uid", "no-such-user-here"], "unknown user"),
                   (["trace", "ssl", "--fields", "pid,bogus"], "unknown field"),
                   (["trace", "ssl", "--buffer-size", "1K"], "buffer too small"),
                   (["trace", "ssl", "--pid"], "missing value")):
    r = run([LOUPE] + args)
    err = r.stderr.decode()
    first = err.splitlines()[0] if err else ""
    if not args:	# no command at all: the usage, on stderr
        good = err.startswith("Usage: loupe")
    else:		# anything else: one line saying what is wrong
        good = first.startswith("loupe: ") and len(err.splitlines()) == 1
    tap.ok(r.returncode == 2 and good, f"{what}: exit 2 with a message", f"{r.returncode} {err!r}")

# --- files that cannot be written: one line, exit 1 (I/O), whichever flag ----------
for args in (["--output-file", "/nonexistent-dir/x"], ["--pcap", "/nonexistent-dir/x.pcap"],
             ["--audit-log", "/nonexistent-dir/a"]):
    r = run([LOUPE, "trace", "ssl", "--timeout", "1"] + args)
    err = r.stderr.decode()
    tap.ok(r.returncode == 1 and err.startswith("loupe: ") and "/nonexistent-dir/" in err,
           f"unwritable {args[0]}: exit 1 naming the file", f"{r.returncode} {err!r}")

# --- --output-file: created 0600, even over an existing file --------------------
path = os.path.join(tmp, "events.json")
with open(path, "w") as f:
    f.write("old")
os.chmod(path, 0o644)
lp = Loupe(["trace", "ssl", "--comm", LOOP_COMM, "--output-file", path, "--fields",
            "comm,operation,len"], json_output=True)
run([TLS_LOOP, "bench", "100", "20"])
lp.stop()
mode = stat.S_IMODE(os.stat(path).st_mode)
tap.eq(oct(mode), oct(0o600), "--output-file is mode 0600")
with open(path) as f:
    lines = [json.loads(line) for line in f if line.strip()]
tap.ok(lines and all(list(e) == ["comm", "operation", "len"] for e in lines),
       "--fields: exactly those fields, in that order", lines[:2])
tap.ok(os.path.getsize(lp.out_path) == 0, "--output-file: nothing on stdout")
lp.cleanup()

# --- --timeout stops by itself, with statistics ----------------------------------
t0 = time.time()
r = run([LOUPE, "trace", "tcp", "--timeout", "1", "-o", "json"], timeout=30)
took = time.time() - t0
err = r.stderr.decode()
tap.ok(r.returncode == 0 and '{"stats"' in err, "--timeout: exits 0 with statistics")
tap.ok(took < 15, f"--timeout 1 stopped after {took:.1f}s")

# --- lost events are counted and shown, never silent -----------------------------
# A 4 KiB ring buffer cannot hold a 64 KiB write: every such record is lost.
lp = Loupe(["trace", "ssl", "--comm", LOOP_COMM, "--buffer-size", "4K"])
run([TLS_LOOP, "bench", "65536", "50"])
time.sleep(1.5)	# the running warning is printed once a second
lp.stop()
st = lp.stats() or {}
tap.ok(st.get("lost", 0) > 0, "a full ring buffer is counted in lost", st)
tap.ok("events lost" in lp.stderr and "--buffer-size" in lp.stderr,
       "a warning while running says what to do", lp.stderr)
tap.ok(all(e["truncated"] for e in lp.events() if e["direction"] == "write" and
           e["len"] > (e["captured"] or 0)), "events missing records say truncated")
lp.cleanup()

# --- both kinds of uprobe link capture the same calls -----------------------------
# uprobe_multi links where the kernel has them (6.6+), perf-event uprobes before:
# LOUPE_NO_UPROBE_MULTI=1 forces the older kind, to prove it here too.
for env, kind in (({}, "uprobe_multi or perf-event (best)"),
                  ({"LOUPE_NO_UPROBE_MULTI": "1"}, "perf-event uprobes (forced)")):
    os.environ.update(env)
    lp = Loupe(["trace", "ssl", "--comm", LOOP_COMM, "-v"])
    out = run([TLS_LOOP, "bench", "100", "20"])
    lp.stop()
    os.environ.pop("LOUPE_NO_UPROBE_MULTI", None)
    calls = int(dict(line.split() for line in out.stdout.decode().splitlines())["tls_calls"])
    st = lp.stats() or {}
    multi = "uprobe_multi links" in lp.stderr
    tap.ok(len(lp.events()) == calls and st.get("seen") == calls and st.get("lost") == 0,
           f"{kind}: every call captured ({calls}), uprobe_multi={multi}", st)
    if env:
        tap.ok(not multi, "LOUPE_NO_UPROBE_MULTI=1 uses perf-event uprobes")
    lp.cleanup()

# --- columns output escapes untrusted bytes ---------------------------------------
lp = Loupe(["trace", "ssl", "--comm", LOOP_COMM, "--fields", "comm,operation,data"],
           json_output=False)
run([TLS_LOOP, "stream", "4096", "8192", "3"])	# pseudo-random binary payloads
lp.stop()
with open(lp.out_path, "rb") as f:
    out = f.read()
tap.ok(out.startswith(b"COMM") and b"SSL_write" in out, "columns: header and rows", out[:200])
tap.ok(all(32 <= c < 127 or c == 10 for c in out), "columns: only printable bytes reach the terminal")
tap.ok(b"\\x" in out and b"..." in out, "columns: bytes escaped as \\xNN, long data cut with ...")
lp.cleanup()
# --- statistics: calls seen, filtered in the kernel, sampled out, capture rate --------
lp = Loupe(["trace", "ssl", "--comm", LOOP_COMM, "--sample", "2"])
out = run([TLS_LOOP, "bench", "64", "200"])
lp.stop()
calls = int(dict(line.split() for line in out.stdout.decode().splitlines())["tls_calls"])
st = lp.stats() or {}
passed = st.get("calls", 0) - st.get("filtered_in_kernel", 0)
# A call that passed makes an event, or is sampled out, or is a handshake that
# has to be retried or a read that returned nothing (both counted by the gadget).
no_event = st.get("handshakes_incomplete", 0) + st.get("calls_without_data", 0)
tap.ok(passed == st.get("events", -1) + st.get("sampled_out", -1) + no_event and
       st.get("sampled_out", 0) >= calls // 2 - 2 and st.get("calls", 0) >= calls,
       f"stats: calls = filtered in the kernel + sampled out + events + no-event calls ({calls} of ours)", st)
tap.ok(abs(st.get("capture_rate", 0) - st.get("events", 0) /
           max(1, st.get("events", 0) + st.get("sampled_out", 0))) < 1e-3 and
       0.3 < st.get("capture_rate", 0) < 0.7, "stats: capture rate about 1/2 under --sample 2", st)
lp.cleanup()

# --- --comm: a thread's name or its process's ----------------------------------
# A process (a copy of python3 under a name of ours) whose worker thread names
# itself, as gRPC's and the JVM's do, raises its own priority there: one
# CAP_SYS_NICE check made by the thread "lrt-worker" of the process PY_COMM.
PY, PY_COMM = own_copy(sys.executable, "lpt-py-")
RENAMED = """
import ctypes, os, threading
def work():
    ctypes.CDLL(None).prctl(15, b"lrt-worker", 0, 0, 0)  # PR_SET_NAME
    os.setpriority(os.PRIO_PROCESS, 0, -2)
t = threading.Thread(target=work); t.start(); t.join()
"""
for name, want in ((PY_COMM, 1), ("lrt-worker", 1), ("lrt-nobody", 0)):
    lp = Loupe(["trace", "capabilities", "--comm", name, "--cap", "CAP_SYS_NICE"])
    run([PY, "-c", RENAMED])
    lp.stop()
    evs = [e for e in lp.events() if e.get("cap") == "CAP_SYS_NICE"]
    tap.ok(len(evs) == want and all(e["comm"] == "lrt-worker" for e in evs),
           f"--comm {name}: {want} check(s) of the renamed thread", evs)
    lp.cleanup()

tap.done()
