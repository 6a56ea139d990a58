#!/usr/bin/env python3
"""ssl --verify: a client that turns certificate verification off (curl -k:
SSL_CTX_set_verify with SSL_VERIFY_NONE) or goes on after a failed
verification (SSL_get_verify_result != X509_V_OK) gets warning events; a
client that verifies (curl --cacert with the test's certificate) gets none."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from loupetest import OUTPUT, TAP, Loupe, require_root  # noqa: E402
from tlsservers import Server  # noqa: E402

VERIFY_OPS = ("SSL_CTX_set_verify", "SSL_set_verify", "SSL_get_verify_result",
              "gnutls_certificate_verify_peers2", "gnutls_certificate_verify_peers3")

tap = TAP()
require_root(tap)
nginx = Server("nginx")
try:
    lp = Loupe(["trace", "ssl", "--verify", "--comm", "curl"])
    url = nginx.url("/ssl9/index.html")
    k = subprocess.run(["curl", "-sk", "-o", "/dev/null", url], timeout=30)
    # Popen to learn the pids.
    pk = subprocess.Popen(["curl", "-sk", "-o", "/dev/null", url])
    pk.wait(30)
    pv = subprocess.Popen(["curl", "-s", "--cacert", nginx.cert, "-o", "/dev/null", url])
    pv.wait(30)
    lp.stop()
    evs = [e for e in lp.events() if e.get("operation") in VERIFY_OPS]
    tap.ok(k.returncode == 0 and pk.returncode == 0 and pv.returncode == 0,
           "curl -k and curl --cacert both fetched the page")
    off = [e for e in evs if e["pid"] == pk.pid and e["operation"].endswith("set_verify")]
    tap.ok(len(off) >= 1, "curl -k: an SSL_*set_verify event", evs)
    tap.ok(all(e.get("verify_result") == 0 and "SSL_VERIFY_NONE" in e.get("error", "")
               for e in off), "curl -k: it says SSL_VERIFY_NONE", off)
    res = [e for e in evs if e["pid"] == pk.pid and e["operation"] == "SSL_get_verify_result"]
    tap.ok(len(res) == 1 and res[0].get("verify_result") == 18,
           "curl -k: the failed verification (18, self-signed certificate) is reported", res)
    tap.ok(res and "self-signed" in res[0].get("error", ""), "curl -k: with its name", res)
    tap.ok(all(e.get("remote") == f"127.0.0.1:{nginx.port}" for e in res),
           "curl -k: the verify result carries the connection's remote endpoint", res)
    mine = [e for e in evs if e["pid"] == pv.pid]
    tap.eq(mine, [], "curl --cacert (verifying, verification succeeds): no warning")
    lp.cleanup()

    # GnuTLS: wget --no-check-certificate carries on after a failed verification.
    lw = Loupe(["trace", "ssl", "--verify", "--comm", "wget"])
    w1 = subprocess.Popen(["wget", "-q", "--no-check-certificate", "-O", "/dev/null", url])
    w1.wait(30)
    w2 = subprocess.Popen(["wget", "-q", "--ca-certificate", nginx.cert, "-O", "/dev/null", url])
    w2.wait(30)
    lw.stop()
    evs = [e for e in lw.events() if e.get("operation") in VERIFY_OPS]
    bad = [e for e in evs if e["pid"] == w1.pid]
    tap.ok(w1.returncode == 0 and w2.returncode == 0, "wget with and without verification ran")
    tap.ok(len(bad) >= 1 and all(e.get("verify_result", 0) != 0 for e in bad),
           "wget --no-check-certificate: GnuTLS verification failure reported", evs)
    tap.eq([e for e in evs if e["pid"] == w2.pid], [], "wget --ca-certificate: no warning")
    tap.ok(all(e["operation"] == "gnutls_certificate_verify_peers2" for e in bad),
           "wget: reported once, as the call it made (verify_peers2 calls verify_peers)", bad)
    lw.cleanup()

    # GnuTLS verify_peers3 (a client naming the host it expects; ours, since no
    # Debian program calls it) and the typed verify_peers (gnutls-cli --insecure):
    # a failed verification reads as one, with GnuTLS's reasons, never as
    # "verification disabled".
    port = nginx.port
    lg = Loupe(["trace", "ssl", "--verify", "--comm", "gnutls_verify3"])
    g3 = subprocess.run([os.path.join(OUTPUT, "tests", "gnutls_verify3"), "localhost",
                         str(port)], capture_output=True, timeout=30)
    lg.stop()
    ev3 = [e for e in lg.events() if e.get("operation") in VERIFY_OPS + ("gnutls_certificate_verify_peers",)]
    status = g3.stdout.decode().split()[-1] if g3.returncode == 0 else "?"
    tap.ok(len(ev3) == 1 and ev3[0]["operation"] == "gnutls_certificate_verify_peers3" and
           hex(ev3[0]["verify_result"]) == status, "verify_peers3: the failed status, once",
           (g3.stdout, ev3))
    tap.ok(ev3 and "verification failed" in ev3[0]["error"] and
           "signer not found" in ev3[0]["error"] and "disabled" not in ev3[0]["error"],
           "verify_peers3: said to fail, with GnuTLS's reason", ev3)
    lg.cleanup()
    lc = Loupe(["trace", "ssl", "--verify", "--comm", "gnutls-cli"])
    subprocess.run(["gnutls-cli", "--insecure", "-p", str(port), "localhost"],
                   input=b"GET / HTTP/1.0\r\n\r\n", capture_output=True, timeout=30)
    lc.stop()
    evc = [e for e in lc.events() if e.get("direction") == "verify"]
    tap.ok(len(evc) == 1 and evc[0]["operation"] == "gnutls_certificate_verify_peers" and
           "verification failed" in evc[0]["error"], "gnutls-cli --insecure: reported", evc)
    lc.cleanup()
finally:
    nginx.stop()
tap.done()
