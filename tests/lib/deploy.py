"""loupe's container image and Kubernetes manifest under podman, for
tests/deploy/: the image built by `make image`, a TLS server on loopback,
curl run under a command name of the test's own, and loupe's output read
from the container's logs.
"""

import json
import os
import shutil
import subprocess
import time

from loupetest import LOUPE, SRCDIR, free_port, make_cert, wait_port

DAEMONSET = os.path.join(SRCDIR, "deploy", "kubernetes", "daemonset.yaml")


def loupe_version():
    return subprocess.run([LOUPE, "version"], capture_output=True, text=True).stdout.split()[1]


def build_image(tap, pm):
    """make image under a tag of the test's own (the test removes it);
    reports the build and returns the tag."""
    tag = f"localhost/loupe-test-{os.getpid()}:{loupe_version()}"
    r = subprocess.run(["make", "-C", SRCDIR, "--no-print-directory", "image", f"IMAGE={tag}"],
                       env=pm.env, capture_output=True, text=True, timeout=600)
    tap.ok(r.returncode == 0, f"make image IMAGE={tag}", r.stdout + r.stderr)
    return tag


class TLSServer:
    """openssl s_server -www on a free loopback port, and a copy of curl
    named `comm` (the command name loupe filters on) to ask it."""

    def __init__(self, tmp, comm):
        cert, key = make_cert(tmp)
        self.port = free_port()
        self.proc = subprocess.Popen(["openssl", "s_server", "-accept", str(self.port), "-cert",
                                      cert, "-key", key, "-www", "-quiet"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ok = wait_port(self.port)
        self.curl = os.path.join(tmp, comm)
        shutil.copy2("/usr/bin/curl", self.curl)

    def get(self):
        """One request; returns (pid of curl, its exit status)."""
        p = subprocess.Popen([self.curl, "-sk", "-o", "/dev/null",
                              f"https://127.0.0.1:{self.port}/"])
        return p.pid, p.wait(30)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def logs(pm, name):
    """(stdout lines, stderr text) of a container so far."""
    r = pm.podman("logs", name, timeout=60)
    out = r.stdout.decode("utf-8", "replace").splitlines()
    return out, r.stderr.decode("utf-8", "replace")


def wait_logs(pm, name, cond, timeout=60):
    """Poll the logs until cond(stdout lines, stderr) holds; returns the last logs."""
    deadline = time.time() + timeout
    while True:
        out, err = logs(pm, name)
        if cond(out, err) or time.time() > deadline:
            return out, err
        time.sleep(0.5)


def events(lines):
    evs = []
    for line in lines:
        if line.startswith("{") and '"stats"' not in line[:10]:
            try:
                evs.append(json.loads(line))
            except ValueError:
                pass
    return evs


def stats(err):
    for line in reversed(err.splitlines()):
        if line.startswith('{"stats"'):
            return json.loads(line)["stats"]
    return None


def memory_peak(pid):
    """Peak memory of the memory cgroup of a process (cgroup v1 here): what a
    Kubernetes memory limit is enforced against."""
    for line in open(f"/proc/{pid}/cgroup"):
        _, ctrl, path = line.rstrip("\n").split(":", 2)
        if "memory" in ctrl.split(","):
            with open(f"/sys/fs/cgroup/memory{path}/memory.max_usage_in_bytes") as f:
                return int(f.read())
    return None


def check_capture(tap, label, evs, pid, comm, data=True):
    """The request and the response of one curl, with the host's user name:
    their plaintext, or with data=False (--no-data) their calls and lengths."""
    mine = [e for e in evs if e.get("pid") == pid]
    writes = [e for e in mine if e.get("operation", "").startswith("SSL_write")]
    reads = [e for e in mine if e.get("operation", "").startswith("SSL_read")]
    if data:
        req = [e for e in writes if (e.get("data") or "").startswith("GET / HTTP/1.1\r\n")]
        resp = [e for e in reads if (e.get("data") or "").startswith("HTTP/1.0 200 ok")]
        what = "plaintext"
    else:
        # curl's request line and headers; no byte of them kept.
        req = [e for e in writes if (e.get("len") or 0) > 40 and not e.get("data")]
        resp = [e for e in reads if (e.get("len") or 0) > 0 and not e.get("data")]
        what = "calls and lengths, no plaintext"
    tap.ok(req and req[0].get("comm") == comm,
           f"{label}: curl's request (SSL_write) captured: {what}",
           [(e.get("operation"), e.get("len"), (e.get("data") or "")[:40]) for e in mine]
           or evs[-5:])
    tap.ok(bool(resp), f"{label}: and the response (SSL_read)")
    tap.ok(req and req[0].get("user") == "root" and req[0].get("container_id") is None,
           f"{label}: a host process, user named from the host's /etc/passwd",
           req[0] if req else None)
