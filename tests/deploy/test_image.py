#!/usr/bin/env python3
"""The container image (make image, deploy/container/Containerfile): one
layer holding the static loupe alone, no shell; run privileged in the host's
pid namespace it captures a curl on the host (TLS plaintext, the host's user
name), and stops on SIGTERM with its books balanced and its audit records
on stderr."""

import json
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import TAP, OUTPUT, require_root  # noqa: E402
from podman import Podman  # noqa: E402
from deploy import TLSServer, build_image, check_capture, events, loupe_version, \
    memory_peak, stats  # noqa: E402

COMM = "lpimgcurl"
tap = TAP()
require_root(tap)
tmp = tempfile.mkdtemp(prefix="loupe-image-")
pm = Podman(os.path.join(tmp, "podman"))
version = loupe_version()
name = f"loupe-image-{os.getpid()}"
server = tag = None
try:
    tag = build_image(tap, pm)
    info = pm.podman("image", "inspect", tag).stdout
    info = json.loads(info)[0] if info else {}
    cfg = info.get("Config", {})
    binary = os.path.getsize(os.path.join(OUTPUT, "image", "loupe"))
    tap.eq(cfg.get("Entrypoint"), ["/usr/sbin/loupe"], "entrypoint: the static loupe")
    tap.ok(len(info.get("RootFS", {}).get("Layers", [])) == 1 and
           binary <= info.get("Size", 0) <= binary + 65536,
           f"one layer, the size of the binary ({info.get('Size')} bytes, binary {binary})")
    tap.eq((cfg.get("Labels") or {}).get("org.opencontainers.image.version"), version,
           "labelled with loupe's version")
    r = pm.podman("run", "--rm", "--network", "none", tag, "version")
    tap.ok(r.returncode == 0 and r.stdout.decode().startswith(f"loupe {version}"),
           f"podman run {tag} version: {r.stdout.decode().strip()}", r.stderr)
    r = pm.podman("run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", tag, "-c", "true")
    tap.ok(r.returncode != 0, "no shell in the image")

    server = TLSServer(tmp, COMM)
    tap.ok(server.ok, "openssl s_server listens on loopback")
    # What docs/deploy.md says to run: privileged, the host's pid namespace,
    # the host's /etc for user names.
    cmd = ["podman", "run", "--rm", "--name", name, "--privileged", "--pid=host",
           "--network=host", "-v", "/etc:/host/etc:ro", "-e", "LOUPE_HOST_ROOT=/host", tag,
           "trace", "ssl", "--comm", COMM, "-o", "json", "--audit-log=/dev/stderr"]
    proc = subprocess.Popen(cmd, env=pm.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pm.names.append(name)
    err_lines, ready = [], threading.Event()

    def read_err():
        for raw in proc.stderr:
            err_lines.append(raw.decode("utf-8", "replace"))
            if "loupe: ready" in err_lines[-1]:
                ready.set()
        ready.set()

    out_lines = []
    threads = [threading.Thread(target=read_err, daemon=True),
               threading.Thread(target=lambda: out_lines.extend(
                   l.decode("utf-8", "replace") for l in proc.stdout), daemon=True)]
    for t in threads:
        t.start()
    tap.ok(ready.wait(60) and proc.poll() is None, "loupe in the container is ready",
           "".join(err_lines))
    pid, rc = server.get()
    tap.ok(rc == 0, f"curl (pid {pid}) on the host gets its page")
    loupe_pid = int(pm.podman("inspect", "--format", "{{.State.Pid}}", name).stdout or 0)
    peak = memory_peak(loupe_pid) if loupe_pid else None
    # podman stop: SIGTERM, as Kubernetes stops a pod.
    pm.podman("stop", "-t", "30", name)
    rc = proc.wait(60)
    for t in threads:
        t.join(10)
    err = "".join(err_lines)
    tap.ok(rc == 0, f"SIGTERM stops it, exit status {rc}", err[-2000:])
    check_capture(tap, "image", events(out_lines), pid, COMM)
    st = stats(err)
    tap.ok(st and st["unaccounted"] == 0 and st["seen"] == st["events"] + st["lost"],
           "statistics on stderr, the books balanced", st)
    tap.ok("audit: event=start" in err and "audit: event=stop" in err,
           "audit records of the capture on stderr (--audit-log=/dev/stderr)")
    tap.ok(peak is not None, f"memory peak of the container: {peak and peak // 1024} KiB")
finally:
    if server:
        server.stop()
    if tag:
        pm.podman("rmi", "-f", tag)
    pm.cleanup()
tap.done()
