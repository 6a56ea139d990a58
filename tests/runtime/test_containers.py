#!/usr/bin/env python3
"""Real containers (podman, runc, cgroupfs): TLS inside them from the first
request, every gadget's events say which container, --container keeps one
container's events and drops the others', and nothing stays behind.

Containers run --rootfs root file systems built from the host's binaries and
libraries, so their libssl is a copy of their own (another inode than the
host's), as in a real image.  LOUPE_CONTAINER_RUNS sets the first-request
runs (default 20).
"""

import datetime
import fcntl
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import TAP, Loupe, LOUPE, free_port, loupe_maps, make_cert, map_entries, \
    require_root, run, wait_port  # noqa: E402
from podman import Podman  # noqa: E402

RUNS = int(os.environ.get("LOUPE_CONTAINER_RUNS", "20"))
tap = TAP()
require_root(tap)
tmp = tempfile.mkdtemp(prefix="loupe-containers-")
os.chmod(tmp, 0o755)
pm = Podman(os.path.join(tmp, "podman"))


def data(e):
    return (e.get("data") or "").encode("latin-1")


def wall_ns(ts):
    """"2026-12-01T16:26:17.257007075Z" as ns since the epoch."""
    whole, frac = ts.rstrip("Z").split(".")
    t = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * 10**9 + int(frac.ljust(9, "0"))


cert, key = make_cert(tmp)
port = free_port()
server = subprocess.Popen(["openssl", "s_server", "-accept", str(port), "-cert", cert, "-key",
                           key, "-www", "-quiet"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
if not wait_port(port):
    tap.ok(False, "openssl s_server listens")
    tap.done()
url = f"https://127.0.0.1:{port}"

try:
    curl_root = pm.rootfs("curl-base", ["/usr/bin/curl", "/bin/busybox"])

    def first_request(name, argv_run, path):
        """loupe starts, then a container makes one request: (captured, labelled, margin ms)."""
        lp = Loupe(["trace", "ssl", "--comm", "curl", "-v"])
        r, cid = argv_run(name, path)
        lp.stop()
        req = [e for e in lp.events()
               if e["direction"] == "write" and f"GET /{path} ".encode() in data(e)]
        # That curl's calls only: other tests may run a curl of their own meanwhile.
        evs = [e for e in lp.events() if req and e["pid"] == req[0]["pid"]]
        resp = [e for e in evs if e["direction"] == "read" and b"HTTP/1.0 200" in data(e)]
        mine = req + resp
        labelled = bool(mine) and all(e["container_id"] == cid and e["container_name"] == name
                                      and e["runtime"] == "podman" for e in mine)
        margin = None
        m = req and re.search(rf"new root of pid {req[0]['pid']} probed [\d.]+ ms after its "
                              r"exec \(exec (\d+), probed (\d+)\)", lp.stderr)
        if m and evs:
            first_call = min(wall_ns(e["timestamp"]) - (e["latency"] or 0) for e in evs)
            margin = (first_call - int(m.group(2))) / 1e6
        ok = bool(req and resp)
        diag = None if ok else f"{name}: podman rc {r.returncode}, {len(lp.events())} events: " \
            + r.stderr.decode()[-200:] + lp.stderr[-400:]
        lp.cleanup()
        return ok, labelled, margin, diag

    def import_image(tag, root):
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        r = subprocess.run(["podman", "import", "-", tag], stdin=tar.stdout, env=pm.env,
                           capture_output=True, timeout=120)
        tar.wait()
        return r.returncode == 0

    def run_image(tag):
        return lambda name, path: pm.run_image(name, tag, ["/bin/curl", "-sk", f"{url}/{path}",
                                                           "-o", "/dev/null"])

    # --- a container from an image, started after loupe: its first and only request ----
    # Each run imports a new image (a new layer: files never seen); loupe probes the
    # TLS libraries of the runtimes' image layers, so the container's are probed before
    # it exists.
    results = []
    for i in range(RUNS):
        tag = f"localhost/loupe-test-first:{i}"
        if not import_image(tag, pm.clone(curl_root, f"img-{i}")):
            results.append((False, False, None, f"podman import {tag} failed"))
            continue
        results.append(first_request(f"lpt-first-{i}", run_image(tag), f"first{i}"))
        pm.podman("rmi", "-f", tag)
    ok = sum(r[0] for r in results)
    tap.eq(ok, RUNS, f"a container from an image, started after loupe: curl's only request "
           f"and its response captured in {ok} of {RUNS} runs")
    if ok < RUNS:
        tap.ok(False, "runs that missed", "\n".join(r[3] for r in results if r[3])[:3000])
    tap.eq(sum(r[1] for r in results), RUNS,
           "and their container_id (podman's), container_name and runtime")

    # An image imported after loupe started: found by the layer scan (every 5 s).
    lp_late = Loupe(["trace", "ssl", "--comm", "curl", "-v"])
    late_ok = import_image("localhost/loupe-test-late:1", pm.clone(curl_root, "img-late"))
    deadline = time.time() + 15
    while time.time() < deadline and "image layer" not in lp_late.stderr:
        time.sleep(0.2)
    time.sleep(0.5)
    r, _ = run_image("localhost/loupe-test-late:1")("lpt-late", "late")
    lp_late.stop()
    tap.ok(late_ok and any(b"GET /late " in data(e) for e in lp_late.events()),
           "an image imported after loupe started: its containers' first request too",
           lp_late.stderr[-600:])
    lp_late.cleanup()
    pm.podman("rmi", "-f", "localhost/loupe-test-late:1")

    # --- a container of its own root directory (--rootfs), started after loupe -----------
    # No image: its libssl is found at its first exec and probed before its loader maps
    # it; how long before its first TLS call is measured.
    margins = []
    bad = []
    rootfs_runs = max(RUNS // 2, 1)
    for i in range(rootfs_runs):
        root = pm.clone(curl_root, f"curl-{i}")  # new inodes: a root never seen
        ok1, lab1, margin, diag = first_request(
            f"lpt-rootfs-{i}", lambda name, path, root=root: pm.run(
                name, root, ["/bin/curl", "-sk", f"{url}/{path}", "-o", "/dev/null"]),
            f"rootfs{i}")
        if margin is not None:
            margins.append(margin)
        if not (ok1 and lab1):
            bad.append(diag or f"run {i}: not labelled")
    tap.ok(not bad, f"--rootfs containers started after loupe: {rootfs_runs - len(bad)} of "
           f"{rootfs_runs} first requests captured and labelled", "\n".join(bad)[:3000])
    # A sanitizer build runs several times slower: the race is a release figure.
    slow = os.environ.get("SANITIZE") == "1"
    tap.ok(len(margins) == rootfs_runs and (min(margins) > 0 or slow),
           f"their libssl was probed before their first TLS call: margin min "
           f"{min(margins or [0]):.1f} ms, median {statistics.median(margins or [0]):.1f} ms",
           margins)

    # --- python3's ssl in a container started before loupe ------------------------------
    py_root = pm.rootfs("python", ["/usr/bin/python3"], trees=["/usr/lib/python3.11"])
    script = ("import socket,ssl,time\n"
              "ctx=ssl.create_default_context(); ctx.check_hostname=False;"
              " ctx.verify_mode=ssl.CERT_NONE\n"
              "for i in range(600):\n"
              f"  s=ctx.wrap_socket(socket.create_connection(('127.0.0.1',{port})))\n"
              "  s.sendall(b'GET /py%d HTTP/1.0\\r\\n\\r\\n' % i); s.recv(100); s.close()\n"
              "  time.sleep(0.1)\n")
    r, pycid = pm.run("lpt-python", py_root, ["/usr/bin/python3", "-c", script], detach=True)
    time.sleep(1)  # it runs before loupe starts
    lp = Loupe(["trace", "ssl", "--container", "lpt-python"])
    deadline = time.time() + 10
    while time.time() < deadline and not any(b"GET /py" in data(e) for e in lp.events()):
        time.sleep(0.2)
    lp.stop()
    pm.stop("lpt-python")
    evs = [e for e in lp.events() if b"GET /py" in data(e)]
    tap.ok(r.returncode == 0 and evs and all(e["operation"] == "SSL_write_ex" for e in evs),
           "python3 in a container running before loupe: its requests (SSL_write_ex)",
           r.stderr.decode() + lp.stderr)
    tap.ok(evs and all(e["container_id"] == pycid and e["container_name"] == "lpt-python"
                       for e in evs), "with its container", evs[:1])
    lp.cleanup()

    # --- --container NAME: ssl and tcp keep one container, drop another and the host -----
    a_root, b_root = pm.clone(curl_root, "curl-a"), pm.clone(curl_root, "curl-b")
    ls = Loupe(["trace", "ssl", "--container", "lpt-a"])
    lt = Loupe(["trace", "tcp", "--container", "lpt-a", "--port", str(port)])
    la = Loupe(["trace", "tcp", "--comm", "curl", "--port", str(port)])  # everyone, labelled
    _, a_id = pm.run("lpt-a", a_root, ["/bin/curl", "-sk", f"{url}/from-a", "-o", "/dev/null"])
    _, b_id = pm.run("lpt-b", b_root, ["/bin/curl", "-sk", f"{url}/from-b", "-o", "/dev/null"])
    run(["curl", "-sk", f"{url}/from-host", "-o", "/dev/null"])
    time.sleep(0.5)
    for lp in (ls, lt, la):
        lp.stop()
    sevs, tevs, aevs = ls.events(), lt.events(), la.events()
    tap.ok(any(b"/from-a" in data(e) for e in sevs) and
           not any(b"/from-b" in data(e) or b"/from-host" in data(e) for e in sevs),
           "--container lpt-a (ssl): lpt-a's request, not lpt-b's nor the host's",
           [(e["container_name"], data(e)[:20]) for e in sevs])
    tap.ok(tevs and all(e["container_id"] == a_id for e in tevs) and
           {e["type"] for e in tevs} >= {"connect", "close"},
           "--container lpt-a (tcp): lpt-a's connect and close only",
           [(e["type"], e["container_name"]) for e in tevs])
    for lp in (ls, lt):
        st = lp.stats() or {}
        tap.ok(st.get("unaccounted") == 0 and st.get("seen") == st.get("events", -1) +
               st.get("filtered", 0) + st.get("lost", 0), "and the books balance", st)
    by = {e["container_id"]: e["container_name"] for e in aevs if e["type"] == "connect"}
    tap.ok(by.get(a_id) == "lpt-a" and by.get(b_id) == "lpt-b" and by.get(None, "host") is None,
           "tcp events carry their container (lpt-a, lpt-b), and none for the host", by)
    for lp in (ls, lt, la):
        lp.cleanup()

    # --- capabilities: a check refused inside a container --------------------------------
    # podman grants no CAP_SYS_NICE, and its seccomp profile lets setpriority through to
    # the capability check (unlike sethostname, refused by seccomp before any check).
    lc = Loupe(["trace", "capabilities", "--comm", "busybox", "--cap", "CAP_SYS_NICE"])
    _, c_id = pm.run("lpt-nice", pm.clone(curl_root, "nice"),
                     ["/bin/busybox", "renice", "-n", "-20", "-p", "1"])
    lc.stop()
    cevs = lc.events()
    tap.ok(cevs and all(e["container_id"] == c_id and e["container_name"] == "lpt-nice" and
                        e["capable"] is False for e in cevs),
           "capabilities: CAP_SYS_NICE refused in the container, with its container", cevs[:2])
    lc.cleanup()

    # --- docker (with containerd under it): the same, from an image made of a tarball ----
    dockerd = None
    if subprocess.run(["docker", "info"], capture_output=True).returncode:
        # No daemon on a fresh machine: one of ours, without touching the host's network.
        dockerd = subprocess.Popen(["dockerd", "--iptables=false", "--bridge=none"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline and \
                subprocess.run(["docker", "info"], capture_output=True).returncode:
            time.sleep(0.5)
    tar = subprocess.Popen(["tar", "-C", pm.clone(curl_root, "docker"), "-c", "."],
                           stdout=subprocess.PIPE)
    imp = subprocess.run(["docker", "import", "-", "loupe-test/curl:1"], stdin=tar.stdout,
                         capture_output=True, timeout=120)
    tar.wait()
    tap.ok(imp.returncode == 0, "docker: an image from our root file system", imp.stderr)
    ld = Loupe(["trace", "ssl", "--comm", "curl"])
    cidfile = os.path.join(tmp, "docker.cid")
    r = subprocess.run(["docker", "run", "--rm", "--network", "host", "--name", "lpt-docker",
                        "--cidfile", cidfile, "loupe-test/curl:1", "/bin/curl", "-sk",
                        f"{url}/docker", "-o", "/dev/null"], capture_output=True, timeout=120)
    ld.stop()
    d_id = open(cidfile).read().strip() if os.path.exists(cidfile) else "?"
    devs = [e for e in ld.events() if b"GET /docker " in data(e)]
    tap.ok(r.returncode == 0 and devs, "docker: a container's first request captured",
           r.stderr.decode() + ld.stderr[-300:])
    tap.ok(devs and all(e["runtime"] == "docker" and e["container_id"] == d_id and
                        e["container_name"] == "lpt-docker" and
                        e["image"] == "loupe-test/curl:1" for e in devs),
           "docker: with its id, name and image", devs[:1])
    ld.cleanup()
    subprocess.run(["docker", "rmi", "-f", "loupe-test/curl:1"], capture_output=True)
    if dockerd:
        dockerd.terminate()
        dockerd.wait(30)

    # --- nothing stays behind after the containers exit -----------------------------------
    lw = Loupe(["trace", "tcp", "--container", "lpt-gone", "-v"])
    maps = loupe_maps(lw.proc.pid)
    for i in range(3):
        pm.run(f"lpt-gone-{i}", pm.clone(curl_root, f"gone-{i}"),
               ["/bin/curl", "-sk", f"{url}/gone", "-o", "/dev/null"])
    # A sweep after the last one exited (they run every 5 s; an earlier one may have
    # forgotten the first containers only).
    mark = len(lw.stderr)
    deadline = time.time() + 15
    while time.time() < deadline and "forgot" not in lw.stderr[mark:]:
        time.sleep(0.5)

    def live_keys():
        keys = set()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/ns/mnt") as f:
                    buf = fcntl.ioctl(f.fileno(), 0x8008b705, b"\0" * 8)  # NS_GET_MNTNS_ID
                keys.add(struct.unpack("Q", buf)[0])
            except OSError:
                pass
        return keys

    alive = live_keys()
    stale = {}
    for m in ("loupe_known_mntns", "gadget_container_filter_map"):
        keys = {int.from_bytes(bytes(int(b, 16) for b in e["key"]), "little")
                for e in map_entries(maps[m[:15]])}  # the kernel keeps 15 characters
        stale[m] = keys - alive
    lw.stop()
    tap.ok("forgot" in lw.stderr[mark:], "exited containers' namespaces are forgotten",
           lw.stderr[-500:])
    tap.ok(not any(stale.values()), "no BPF map entry of an exited container stays behind",
           stale)
    lw.cleanup()
finally:
    server.terminate()
    server.wait()
    pm.cleanup()
tap.done()
