#!/usr/bin/env python3
"""make deb, then the package on this machine: dpkg -i installs it, man finds
loupe(8), bash-completion completes gadgets and options, the installed
(stripped, static) loupe traces a real connection; dpkg -r removes it all.

The package is installed for real (/usr/sbin/loupe): the test refuses to run
where a loupe package is already installed rather than replace it."""

import ctypes
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import loupetest  # noqa: E402
from loupetest import TAP, LOUPE, SRCDIR, OUTPUT, free_port, require_root  # noqa: E402
from installed import check_completion, gadgets, man_text  # noqa: E402

tap = TAP()
require_root(tap)


def dpkg(*args):
    """dpkg, waiting for its lock if apt or another dpkg holds it."""
    for _ in range(120):
        r = subprocess.run(["dpkg", *args], capture_output=True, text=True)
        if r.returncode == 0 or "lock" not in r.stderr:
            return r
        time.sleep(1)
    return r


def installed():
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "loupe"], capture_output=True,
                       text=True)
    return r.stdout.strip()


if installed() not in ("", "unknown ok not-installed", "deinstall ok config-files"):
    tap.ok(False, f"a loupe package is already installed here ({installed()}): "
           "remove it (dpkg -r loupe) to run this test")
    tap.done()

r = subprocess.run(["make", "-C", SRCDIR, "--no-print-directory", "deb"], capture_output=True,
                   text=True, timeout=600)
debs = [f for f in os.listdir(OUTPUT) if f.startswith("loupe_") and f.endswith(".deb")]
tap.ok(r.returncode == 0 and len(debs) == 1, f"make deb builds one package ({debs})", r.stderr)
if not debs:
    tap.done()
deb = os.path.join(OUTPUT, debs[0])
fields = subprocess.run(["dpkg-deb", "-f", deb], capture_output=True, text=True).stdout
version = subprocess.run([LOUPE, "version"], capture_output=True, text=True).stdout.split()[1]
tap.ok("Package: loupe" in fields and f"Version: {version}" in fields,
       f"its control file names loupe {version}", fields)
tap.ok("Depends:" not in fields and "Built-Using: libbpf (" in fields,
       "no Depends (static); Built-Using names what was linked in", fields)

try:
    r = dpkg("-i", deb)
    tap.ok(r.returncode == 0 and installed() == "install ok installed", "dpkg -i installs it",
           r.stdout + r.stderr)
    listed = subprocess.run(["dpkg", "-L", "loupe"], capture_output=True, text=True).stdout
    for f in ("/usr/sbin/loupe", "/usr/share/man/man8/loupe.8.gz",
              "/usr/share/bash-completion/completions/loupe", "/usr/share/doc/loupe/copyright"):
        tap.ok(f in listed.split() and os.path.isfile(f), f"{f} is the package's")

    v = subprocess.run(["/usr/sbin/loupe", "version"], capture_output=True, text=True).stdout
    tap.eq(v, subprocess.run([LOUPE, "version"], capture_output=True, text=True).stdout,
           "/usr/sbin/loupe is this build")
    ldd = subprocess.run(["ldd", "/usr/sbin/loupe"], capture_output=True, text=True)
    tap.ok("statically linked" in ldd.stdout or "not a dynamic" in ldd.stdout + ldd.stderr,
           "the packaged loupe is static", ldd.stdout + ldd.stderr)

    w = subprocess.run(["man", "-w", "loupe"], capture_output=True, text=True)
    tap.eq(w.stdout.strip(), "/usr/share/man/man8/loupe.8.gz", "man -w loupe")
    rc, text, err = man_text()
    tap.ok(rc == 0 and all(f"loupe trace {g}" in text for g in gadgets(LOUPE)),
           "man loupe shows every gadget", err)
    apropos = subprocess.run(["man", "-f", "loupe"], capture_output=True, text=True)
    tap.ok("loupe (8)" in apropos.stdout, f"man -f loupe: {apropos.stdout.strip()}",
           apropos.stderr)

    # The default search path of bash-completion: /usr/local/share, /usr/share.
    check_completion(tap, LOUPE, "packaged completion", env={"XDG_DATA_DIRS": ""})

    # The packaged binary traces: a refused connect by a process of our own name.
    loupetest.LOUPE = "/usr/sbin/loupe"
    lp = loupetest.Loupe(["trace", "tcp", "--comm", "lpdebtest", "--failure-only"])
    port = free_port()
    pid = os.fork()
    if pid == 0:
        ctypes.CDLL(None).prctl(15, b"lpdebtest", 0, 0, 0)  # PR_SET_NAME
        try:
            socket.create_connection(("127.0.0.1", port), 2)
        except OSError:
            pass
        os._exit(0)
    os.waitpid(pid, 0)
    deadline = time.time() + 10
    while time.time() < deadline and not lp.events():
        time.sleep(0.1)
    lp.stop()
    evs = lp.events()
    tap.ok(any(e.get("pid") == pid and e.get("error") == "ECONNREFUSED" and
               e.get("dst", "").endswith(f":{port}") for e in evs),
           "the packaged loupe reports a refused connect", evs or lp.stderr)
    lp.cleanup()
finally:
    r = dpkg("-r", "loupe")
tap.ok(r.returncode == 0 and installed() in ("", "unknown ok not-installed"),
       "dpkg -r removes it", r.stdout + r.stderr + installed())
gone = [f for f in ("/usr/sbin/loupe", "/usr/share/man/man8/loupe.8.gz",
                    "/usr/share/bash-completion/completions/loupe", "/usr/share/doc/loupe")
        if os.path.exists(f)]
tap.ok(not gone, "no file of it stays", gone)
w = subprocess.run(["man", "-w", "loupe"], capture_output=True, text=True)
tap.ok(w.returncode != 0, "man -w loupe finds nothing any more", w.stdout)
tap.done()
