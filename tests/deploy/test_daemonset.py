#!/usr/bin/env python3
"""deploy/kubernetes/daemonset.yaml: what a BPF agent's pod needs is in it
(privileged, hostPID, the kernel's and the runtimes' directories read-only,
limits, the metrics port and its scrape annotations, JSON on stdout), and its
pod template, turned into a Pod, runs under `podman kube play` (podman 4.3
cannot play a DaemonSet): it captures a curl on the host, names a curl in a
podman container by its container (the runtime's files read through the
manifest's /host mounts), stays under its memory limit, and stops on SIGTERM
with its books balanced.

Two changes to the template, both said here: the arguments get
`--comm NAME` (other people's traffic on this machine must not count), and
podman publishes every containerPort on the host, so the metrics port gets
a free hostPort.  podman 4.3 ignores hostPID (support came in podman 4.5,
containers/podman#17168): the test's containers.conf sets the host's pid
namespace as the default, which is what hostPID asks for, and checks that
the container got it."""

import os
import re
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import TAP, free_port, require_root  # noqa: E402
from podman import Podman  # noqa: E402
from deploy import DAEMONSET, TLSServer, build_image, check_capture, events, logs, \
    loupe_version, memory_peak, stats, wait_logs  # noqa: E402

COMM = "lpdscurl"
tap = TAP()
require_root(tap)

docs = list(yaml.safe_load_all(open(DAEMONSET)))
ds = next((d for d in docs if d and d.get("kind") == "DaemonSet"), None)
tap.ok(ds is not None, "daemonset.yaml holds a DaemonSet")
tmpl = ds["spec"]["template"]
spec = tmpl["spec"]
ctr = spec["containers"][0]
tap.ok(ds["spec"]["selector"]["matchLabels"].items() <= tmpl["metadata"]["labels"].items(),
       "its selector matches its pods' labels")
tap.ok(spec.get("hostPID") is True and ctr["securityContext"].get("privileged") is True,
       "privileged, in the host's pid namespace")
mounts = {m["name"]: m for m in ctr["volumeMounts"]}
host = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
for path, ro in (("/sys/kernel/btf", True), ("/sys/kernel/tracing", False),
                 ("/sys/fs/bpf", True), ("/etc", True), ("/run", True), ("/var/lib", True)):
    name = next((n for n, p in host.items() if p == path), None)
    m = mounts.get(name, {})
    tap.ok(name and bool(m.get("readOnly")) == ro,
           f"mounts the host's {path}{' read-only' if ro else ''} at {m.get('mountPath')}")
env = {e["name"]: e["value"] for e in ctr.get("env", [])}
tap.ok(env.get("LOUPE_HOST_ROOT") == "/host" and all(
       mounts[n]["mountPath"] == "/host" + host[n] for n in host if host[n] in ("/etc", "/run",
                                                                              "/var/lib")),
       "LOUPE_HOST_ROOT=/host, where the host's /etc, /run and /var/lib are")
ports = {p.get("name"): p for p in ctr.get("ports", [])}
ann = tmpl["metadata"].get("annotations", {})
tap.ok(ports.get("metrics", {}).get("containerPort") == 9464 and
       ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == "9464",
       "metrics port 9464, prometheus.io/scrape and port annotations")
res = ctr.get("resources", {})
tap.ok(res.get("requests", {}).get("cpu") and res.get("requests", {}).get("memory") and
       res.get("limits", {}).get("memory"), f"resource requests and a memory limit: {res}")
args = ctr["args"]
tap.ok(args[:2] == ["trace", "ssl"] and "--output=json" in args,
       f"JSON events on stdout: {' '.join(args)}")
version = loupe_version()
tap.eq(ctr["image"].rsplit(":", 1)[-1], version, "the image tag is loupe's version")


def mebibytes(q):
    m = re.fullmatch(r"(\d+)(Mi|Gi)", q)
    return int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1) if m else None


limit = mebibytes(res["limits"]["memory"])

tmp = tempfile.mkdtemp(prefix="loupe-daemonset-")
pm = Podman(os.path.join(tmp, "podman"))
# hostPID, for podman 4.3: the default pid namespace of its containers.
conf = os.path.join(pm.dir, "containers.conf")
with open(conf) as f:
    text = f.read()
with open(conf, "w") as f:
    f.write(text.replace("[containers]\n", '[containers]\npidns = "host"\n'))
podname = f"loupe-ds-{os.getpid()}"
ctrname = f"{podname}-{ctr['name']}"
server = tag = None
try:
    tag = build_image(tap, pm)
    ctr["image"] = tag
    ctr["args"] = args + ["--comm", COMM]
    ports["metrics"]["hostPort"] = free_port()
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": podname, "labels": tmpl["metadata"]["labels"],
                        "annotations": ann},
           "spec": spec}
    podfile = os.path.join(tmp, "pod.yaml")
    with open(podfile, "w") as f:
        yaml.safe_dump(pod, f)
    r = pm.podman("kube", "play", podfile)
    tap.ok(r.returncode == 0, "podman kube play runs the pod template", r.stdout + r.stderr)
    pidmode = pm.podman("inspect", "--format", "{{.HostConfig.PidMode}}", ctrname).stdout
    tap.eq(pidmode.decode().strip(), "host", "its container is in the host's pid namespace")
    out, err = wait_logs(pm, ctrname, lambda o, e: "loupe: ready" in e or "loupe: error" in e)
    tap.ok("loupe: ready" in err, "loupe in the pod is ready", err)

    server = TLSServer(tmp, COMM)
    tap.ok(server.ok, "openssl s_server listens on loopback")
    pid, rc = server.get()
    tap.ok(rc == 0, f"curl (pid {pid}) on the host gets its page")

    # A curl in a podman container: named by the runtime's files under /host.
    root = pm.rootfs("curl", ["/usr/bin/curl"])
    os.rename(os.path.join(root, "usr/bin/curl"), os.path.join(root, "usr/bin", COMM))
    cname = f"loupe-ds-curl-{os.getpid()}"
    r, cid = pm.run(cname, root, [f"/usr/bin/{COMM}", "-sk", "-o", "/dev/null",
                                   f"https://127.0.0.1:{server.port}/"])
    tap.ok(r.returncode == 0, f"curl in container {cname} gets its page", r.stderr)

    def seen(o, e):
        evs = events(o)
        return any(x.get("pid") == pid and x.get("operation", "").startswith("SSL_read")
                   for x in evs) and any(x.get("container_name") == cname for x in evs)
    out, err = wait_logs(pm, ctrname, seen, timeout=30)
    loupe_pid = int(pm.podman("inspect", "--format", "{{.State.Pid}}", ctrname).stdout or 0)
    peak = memory_peak(loupe_pid) if loupe_pid else None
    tap.ok(peak and peak < limit * 2**20 / 2,
           f"memory peak {peak and peak // 2**20} MiB: under half the limit ({limit} MiB)")

    r = pm.podman("pod", "stop", "-t", "30", podname)
    tap.ok(r.returncode == 0, "podman pod stop (SIGTERM)", r.stderr)
    code = pm.podman("inspect", "--format", "{{.State.ExitCode}}", ctrname).stdout
    out, err = logs(pm, ctrname)
    tap.eq(code.decode().strip(), "0", "loupe exits 0")
    evs = events(out)
    check_capture(tap, "pod", evs, pid, COMM, data="--no-data" not in args)
    theirs = [e for e in evs if e.get("container_name") == cname]
    tap.ok(theirs and theirs[0].get("runtime") == "podman" and
           theirs[0].get("container_id") == cid,
           "the container's curl is named by its container", theirs[:1] or evs[-3:])
    st = stats(err)
    tap.ok(st and st["unaccounted"] == 0 and st["seen"] == st["events"] + st["lost"],
           "statistics on stderr, the books balanced", st)
finally:
    if server:
        server.stop()
    pm.podman("pod", "rm", "-f", "-t", "0", podname)
    if tag:
        pm.podman("rmi", "-f", tag)
    pm.cleanup()
tap.done()
