#!/usr/bin/env python3
"""ssl --redact: a request carrying a bearer token, a password and a cookie
(and an e-mail address) comes out masked in every output: JSON, columns,
the --http lines and the pcap, over HTTP/1.1 and HTTP/2.  Without --redact
the same secrets are visible (so the checks can fail).  --audit-log records
each capture's start and stop."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from loupetest import TAP, Loupe, own_copy, require_root  # noqa: E402
from tlsservers import Server, grep_bytes, http_rows, tshark  # noqa: E402

SECRETS = ["SEKRITTOKEN123", "HUNTER2PW", "COOKIEVAL456", "alice.secret@example.org"]

tap = TAP()
require_root(tap)
# curl under a name of its own: other suites' curl traffic must not reach --comm.
CURL, CURL_COMM = own_copy(shutil.which("curl"), "lpt-rd-")
tmp = tempfile.mkdtemp(prefix="loupe-ssl9-")
nginx = Server("nginx")


def curl(version):
    return subprocess.run(
        [CURL, "-sk", version, "-o", "/dev/null",
         "-H", "Authorization: Bearer SEKRITTOKEN123", "-b", "session=COOKIEVAL456",
         "-H", "X-Contact: alice.secret@example.org",
         "-d", "user=bob&password=HUNTER2PW", nginx.url("/ssl9/login?token=HUNTER2PW")],
        timeout=30)


try:
    for version in ("--http1.1", "--http2"):
        tag = version.strip("-")
        pcap = os.path.join(tmp, f"{tag}.pcap")
        cols = os.path.join(tmp, f"{tag}.txt")
        audit = os.path.join(tmp, f"{tag}.audit")
        lj = Loupe(["trace", "ssl", "--redact", "--http", "--pcap", pcap, "--comm", CURL_COMM,
                    "--audit-log", audit])
        lc = Loupe(["trace", "ssl", "--redact", "--http", "--comm", CURL_COMM, "--output-file",
                    cols, "-o", "columns"], json_output=False)
        lx = Loupe(["trace", "ssl", "--redact", "-x", "--comm", CURL_COMM], json_output=False)
        plain = Loupe(["trace", "ssl", "--http", "--comm", CURL_COMM])
        r = curl(version)
        for lp in (lj, lc, lx, plain):
            lp.stop()
        tap.ok(r.returncode == 0, f"{tag}: curl ran")
        leaked = grep_bytes(lj.out_path, SECRETS)
        tap.eq(leaked, [], f"{tag}: no secret in the JSON output")
        tap.eq(grep_bytes(cols, SECRETS), [], f"{tag}: no secret in the columns output")
        tap.eq(grep_bytes(lx.out_path, SECRETS), [], f"{tag}: no secret in the hex dump")
        tap.eq(grep_bytes(pcap, SECRETS), [], f"{tag}: no secret in the pcap bytes")
        tap.eq(grep_bytes(plain.out_path, SECRETS[:3]), SECRETS[:3],
               f"{tag}: without --redact the secrets are there")
        reqs = [e for e in http_rows(lj.events()) if e["operation"] == "http-request"]
        tap.ok(len(reqs) == 1 and reqs[0]["path"] == "/ssl9/login?token=*********",
               f"{tag}: the request line is decoded, its token masked", reqs)
        head = reqs[0].get("data", "") if reqs else ""
        tap.ok("Bearer **************" in head and "session=************" in head,
               f"{tag}: the decoded headers keep the scheme and cookie name", head)
        with open(cols, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        tap.ok("POST" in text and "/ssl9/login" in text, f"{tag}: columns show the request",
               text[-2000:])
        # tshark still decodes the masked capture.
        if tag == "http2":
            out, _ = tshark(pcap, "-d", f"tcp.port=={nginx.port},http2", "-Y",
                            "http2.headers.method", "-T", "fields", "-e", "http2.header.value")
        else:
            out, _ = tshark(pcap, "-Y", "http.request", "-T", "fields", "-e",
                            "http.authorization", "-e", "http.cookie")
        tap.ok("****" in out and not any(s in out for s in SECRETS),
               f"{tag}: tshark decodes the pcap, with masked values", out)
        with open(audit) as f:
            lines = f.read().splitlines()
        start = [x for x in lines if "event=start" in x]
        stop = [x for x in lines if "event=stop" in x]
        tap.ok(len(start) == 1 and "gadget=ssl" in start[0] and
               f'filters="--comm {CURL_COMM}"' in start[0] and f"pcap:{pcap}" in start[0] and
               "user=root" in start[0], f"{tag}: audit start record", lines)
        tap.ok(len(stop) == 1 and "status=0" in stop[0] and
               start and start[0].split("session=")[1].split()[0] in stop[0],
               f"{tag}: audit stop record of the same session", lines)
        tap.ok(os.stat(audit).st_mode & 0o777 == 0o600 and
               os.stat(pcap).st_mode & 0o777 == 0o600, f"{tag}: audit log and pcap are 0600")
        for lp in (lj, lx, plain):
            lp.cleanup()
        lc.cleanup()
    # An audit log that cannot be written stops the capture before it starts.
    r = subprocess.run([os.environ.get("LOUPE", "loupe"), "trace", "ssl", "--audit-log",
                        "/nonexistent/dir/audit.log", "--timeout", "1"], capture_output=True,
                       text=True, timeout=30)
    tap.ok(r.returncode != 0 and "audit" in r.stderr and "ready" not in r.stderr,
           "an unwritable --audit-log refuses to capture", r.stderr)
finally:
    nginx.stop()
tap.done()
