#!/usr/bin/env python3
"""loupe under faults: a signal while it starts, kill -9 in the middle of a
capture, and several loupe processes tracing the same programs at once."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import (LOUPE, OUTPUT, TAP, Loupe, bpf_ids, free_port, loupe_links,  # noqa: E402
                       loupe_maps, loupe_progs, own_copy, require_root, run)

TLS_LOOP, LOOP_COMM = own_copy(os.path.join(OUTPUT, "bench", "tls_loop"), "lpt-ft-")
RENICE, RENICE_COMM = own_copy("/usr/bin/renice", "lpt-rn-")
tap = TAP()
require_root(tap)
tmp = tempfile.mkdtemp(prefix="loupe-faults-")


def tls_calls(size=100, iters=200):
    out = run([TLS_LOOP, "bench", str(size), str(iters)]).stdout.decode()
    return int(dict(line.split() for line in out.splitlines())["tls_calls"])


def gone(ids, kind, timeout=5.0):
    """The ids of kind still loaded after up to timeout s (RCU frees them late)."""
    deadline = time.time() + timeout
    while ids & bpf_ids(kind) and time.time() < deadline:
        time.sleep(0.1)
    return ids & bpf_ids(kind)


# --- a signal while programs load stops the run ---------------------------------
# A shell starts a background job with SIGINT ignored; loupe must still obey a
# kill -INT that arrives before "ready" (it used to be lost: loupe then traced
# until killed, the forced-tracepoint intermittent of the kernel matrix).
def ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


for args, sig, delay in ((["trace", "capabilities", "--hook", "tracepoint"], signal.SIGINT, 0.05),
                         (["trace", "ssl", "tcp"], signal.SIGINT, 0.2),
                         (["trace", "tcp"], signal.SIGTERM, 0.05)):
    p = subprocess.Popen([LOUPE] + args + ["-o", "json"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, preexec_fn=ignore_sigint)
    time.sleep(delay)
    p.send_signal(sig)
    try:
        _, err = p.communicate(timeout=15)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        rc = "still running 15 s later"
    tap.ok(rc == 0, f"{' '.join(args)}: {sig.name} {int(delay * 1000)} ms after start "
           "(SIGINT inherited ignored) ends the run", f"{rc} {err.decode()[-300:]!r}")

# --- kill -9 in the middle of a capture leaves nothing behind ---------------------
lp = Loupe(["trace", "ssl", "tcp", "capabilities", "fdpass"])
pid = lp.proc.pid
progs, links = loupe_progs(pid), loupe_links(pid)
maps = set(loupe_maps(pid).values())
tap.ok(len(progs) >= 10 and len(links) >= 10 and len(maps) >= 10,
       f"four gadgets: {len(progs)} programs, {len(links)} links, {len(maps)} maps held")
stop = threading.Event()


def traffic():
    while not stop.is_set():
        run([TLS_LOOP, "bench", "1024", "50"])


worker = threading.Thread(target=traffic)
worker.start()
time.sleep(1.0)
lp.proc.kill()
lp.proc.wait()
stop.set()
worker.join()
lp.stop()
# (its last line may be cut: the process died in the middle of writing it)
size = os.path.getsize(lp.out_path)
tap.ok(size > 10000, f"kill -9 came in the middle of a capture ({size} bytes written)")
tap.eq(gone(progs, "prog"), set(), "kill -9: no loupe program left loaded")
tap.eq(gone(links, "link"), set(), "kill -9: no loupe link left")
tap.eq(gone(maps, "map"), set(), "kill -9: no loupe map left")
lp.cleanup()

lp = Loupe(["trace", "ssl", "--comm", LOOP_COMM])
calls = tls_calls()
lp.stop()
st = lp.stats() or {}
tap.ok(len(lp.events()) == calls and st.get("seen") == calls and st.get("lost") == 0,
       f"after kill -9, a new loupe starts and captures every call ({calls})", st)
lp.cleanup()

# --- several loupe processes at once: each gets every event ------------------------
port = free_port()
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(64)
CONNECTS = 50
sessions = {
    # Filters are shared by the gadgets of one process: ssl is host-wide here.
    "ssl+tcp": Loupe(["trace", "ssl", "tcp", "--tcp.port", str(port)]),
    "ssl": Loupe(["trace", "ssl", "--comm", LOOP_COMM]),
    "tcp (tracepoint)": Loupe(["trace", "tcp", "--port", str(port), "--hook", "tracepoint"]),
    "capabilities": Loupe(["trace", "capabilities", "--comm", RENICE_COMM, "--cap",
                           "CAP_SYS_NICE"]),
    "capabilities (tracepoint)": Loupe(["trace", "capabilities", "--comm", RENICE_COMM, "--cap",
                                        "CAP_SYS_NICE", "--hook", "tracepoint"]),
}
calls = tls_calls()
for _ in range(CONNECTS):
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = listener.accept()
    c.close()
    a.close()
listener.close()
RENICES = 5
sleeper = subprocess.Popen(["sleep", "60"])
for n in range(1, RENICES + 1):	# each time a lower nice value: CAP_SYS_NICE is checked
    run([RENICE, "-n", str(-n), "-p", str(sleeper.pid)])
sleeper.kill()
sleeper.wait()
for lp in sessions.values():
    lp.stop()


def count(lp, **kw):
    return sum(all(e.get(k) == v for k, v in kw.items()) for e in lp.events())


for name, lp in sessions.items():
    st = lp.stats() or {}
    tap.ok(st.get("lost") == 0, f"five loupes at once: {name}: nothing lost", st)
for name in ("ssl+tcp", "ssl"):
    lp = sessions[name]
    tap.eq(count(lp, gadget="ssl", comm=LOOP_COMM) if name == "ssl+tcp" else len(lp.events()), calls,
           f"five loupes at once: {name}: every TLS call ({calls})")
for name in ("ssl+tcp", "tcp (tracepoint)"):
    lp = sessions[name]
    got = count(lp, type="connect"), count(lp, type="accept")
    tap.eq(got, (CONNECTS, CONNECTS),
           f"five loupes at once: {name}: every connect and accept ({CONNECTS} each)")
for name in ("capabilities", "capabilities (tracepoint)"):
    lp = sessions[name]
    tap.ok(count(lp, cap="CAP_SYS_NICE") == RENICES,
           f"five loupes at once: {name}: every renice's CAP_SYS_NICE check ({RENICES})",
           count(lp, cap="CAP_SYS_NICE"))
for lp in sessions.values():
    lp.cleanup()
tap.done()
