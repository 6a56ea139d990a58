#!/usr/bin/env python3
"""loupe as a node agent: several gadgets in one process, Prometheus metrics
scraped by a real Prometheus, and reconfiguration on SIGHUP without detaching
a probe."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import TAP, Loupe, OUTPUT, free_port, make_cert, require_root, run, \
    wait_port  # noqa: E402

TLS_LOOP = os.path.join(OUTPUT, "bench", "tls_loop")
tap = TAP()
require_root(tap)
tmp = tempfile.mkdtemp(prefix="loupe-agent-")
os.chmod(tmp, 0o755)

cert, key = make_cert(tmp)
port = free_port()
server = subprocess.Popen(["openssl", "s_server", "-accept", str(port), "-cert", cert, "-key",
                           key, "-www", "-quiet"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
wait_port(port)
refused = free_port()  # nobody listens there: a TCP failure of our making
# Our curl under a name of its own: other tests' curls stay out.
curl = os.path.join(tmp, "lpt-agent-curl")
shutil.copy("/usr/bin/curl", curl)
os.chmod(curl, 0o755)
COMM = "lpt-agent-curl"


def fetch(path):
    return run([curl, "-sk", f"https://127.0.0.1:{port}/{path}", "-o", "/dev/null"])


try:
    # --- several gadgets in one process: one stream, each event says its gadget --------
    lp = Loupe(["trace", "ssl", "tcp", "--comm", COMM])
    fetch("both")
    lp.stop()
    evs = lp.events()
    gadgets = {e.get("gadget") for e in evs}
    tap.ok(gadgets == {"ssl", "tcp"}, "loupe trace ssl tcp: both gadgets' events, each tagged",
           [(e.get("gadget"), e.get("operation") or e.get("type")) for e in evs])
    tap.ok(any(e.get("gadget") == "ssl" and "GET /both" in (e.get("data") or "") for e in evs)
           and any(e.get("gadget") == "tcp" and e["type"] == "connect" and
                   e["dst"] == f"127.0.0.1:{port}" for e in evs),
           "the request's plaintext and its connection, from one curl run")
    stats = [json.loads(l)["stats"] for l in lp.stderr.splitlines() if l.startswith('{"stats"')]
    tap.ok([st["gadget"] for st in stats] == ["ssl", "tcp"] and
           all(st["unaccounted"] == 0 for st in stats),
           "one statistics block per gadget, books balanced", stats)
    tap.eq(len(re.findall(r"loupe: ready", lp.stderr)), 1, "one process, one ready line")
    lp.cleanup()

    # --- Prometheus scrapes loupe ---------------------------------------------------------
    mport = free_port()
    lm = Loupe(["trace", "ssl", "tcp", "--comm", COMM, "--http", "--no-events",
                "--metrics", f"127.0.0.1:{mport}"], json_output=False)
    pport = free_port()
    pdir = os.path.join(tmp, "prom")
    os.makedirs(pdir)
    with open(os.path.join(pdir, "prometheus.yml"), "w") as f:
        f.write(f"global: {{scrape_interval: 1s}}\n"
                f"scrape_configs:\n- job_name: loupe\n"
                f"  static_configs: [{{targets: ['127.0.0.1:{mport}']}}]\n")
    prom = subprocess.Popen(["prometheus", f"--config.file={pdir}/prometheus.yml",
                             f"--storage.tsdb.path={pdir}/data",
                             f"--web.listen-address=127.0.0.1:{pport}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for i in range(3):
        fetch(f"m{i}")
    run([curl, "-s", f"https://127.0.0.1:{refused}/", "-o", "/dev/null"])

    def query(expr):
        url = f"http://127.0.0.1:{pport}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.load(r)["data"]["result"]
        except (OSError, ValueError, KeyError):
            return []

    got = {}
    deadline = time.time() + 60
    while time.time() < deadline and len(got) < 2:
        r = query('loupe_http_responses_total{method="GET",status="200"}')
        if r and float(r[0]["value"][1]) >= 3:
            got["http"] = r
        r = query('loupe_tcp_connect_failures_total{errno="ECONNREFUSED"}')
        if r and float(r[0]["value"][1]) >= 1:
            got["tcp"] = r
        time.sleep(1)
    prom.terminate()
    prom.wait(30)
    with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5) as r:
        page = r.read().decode()
    lm.stop()
    tap.ok("http" in got, "Prometheus has our 3 requests: loupe_http_responses_total"
           '{method="GET",status="200"}', got)
    tap.ok("tcp" in got, 'and the refused connect: loupe_tcp_connect_failures_total'
           '{errno="ECONNREFUSED"}', got)
    tap.ok('loupe_tls_call_duration_seconds_count{library="openssl",operation="SSL_write"}'
           in page and 'loupe_events_total{gadget="tcp"}' in page and
           'loupe_lost_total{gadget="ssl",reason="ring_full"} 0' in page,
           "/metrics: call latency by library and operation, and the books", page[:2000])
    tap.ok(not re.search(r'\{[^}]*(pid|path)=', page), "no pid or path is a label")
    tap.ok(os.path.getsize(lm.out_path) == 0, "--no-events: no event printed")
    lm.cleanup()

    # --- SIGHUP: new filters, no probe re-attached, nothing lost ------------------------------
    loops = [subprocess.Popen([TLS_LOOP, "bench", "64", "100000000"],
                              stdout=subprocess.DEVNULL) for _ in range(2)]
    a, b = loops[0].pid, loops[1].pid
    time.sleep(0.5)
    cfg = os.path.join(tmp, "loupe.conf")
    with open(cfg, "w") as f:
        f.write(f"# the first loop only\n--pid {a}\n--sample 100\n")
    lh = Loupe(["trace", "ssl", "--config", cfg, "--no-data"])
    time.sleep(1.5)
    lh.reconfigure(cfg, f"--pid {b}\n--sample 100\n")
    time.sleep(1.5)
    lh.reconfigure(cfg, "--pid not-a-pid\n", wait_for="keeping the previous")
    time.sleep(1.5)
    lh.stop()
    for p in loops:
        p.kill()
        p.wait()
    evs = lh.events()
    # The pids in the order printed: the first loop's, then the second's, never mixed.
    order = []
    for e in evs:
        if not order or order[-1] != e["pid"]:
            order.append(e["pid"])
    ready = re.search(r"with (\d+) links", lh.stderr)
    recon = re.search(r"reconfigured from .*\((\d+) links, none re-attached\)", lh.stderr)
    tap.ok(ready and recon and ready.group(1) == recon.group(1),
           "SIGHUP: reconfigured, the same links (nothing detached or re-attached)", lh.stderr)
    tap.eq(order, [a, b], f"events of the first pid, then of the new one only "
           f"({sum(e['pid'] == a for e in evs)}, then {sum(e['pid'] == b for e in evs)})")
    st = lh.stats() or {}
    tap.ok(st.get("lost") == 0 and st.get("unaccounted") == 0 and
           st.get("seen") == st.get("events"), "no event lost across the change", st)
    tap.ok("--pid needs a number" in lh.stderr and "keeping the previous configuration"
           in lh.stderr, "a broken file is refused in one line, saying so", lh.stderr)
    tap.ok(evs[-1]["pid"] == b, "and the filters stay as they were (the second pid)")
    lh.cleanup()
finally:
    server.terminate()
    server.wait()
tap.done()
