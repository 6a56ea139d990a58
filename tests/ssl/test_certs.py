#!/usr/bin/env python3
"""ssl --certs: real clients of each library (curl: OpenSSL; gnutls-cli:
GnuTLS; tstclnt: NSS; python3 ssl: OpenSSL) against openssl s_server
presenting certificates this test makes with openssl: a valid chain (leaf and
intermediate) from a test root the client trusts, a self-signed certificate,
an expired one, one for another name, and a 1024-bit RSA key; with curl
also a 21 KB certificate (400 names: its bytes come in two records) and a
73 KB one (more than loupe copies: shown cut, counted, never decoded).

Each client's row shows the leaf's subject, issuer, serial and SHA-256
fingerprint as `openssl x509` prints them for the served certificate, the
chain as sent, the server name, and exactly the findings the certificate
was made to have; verification_failed exactly when the client itself says
that verification failed (curl -v, gnutls-cli), verification_disabled for
curl -k (SSL_VERIFY_NONE).  Then: the same chain twice is decoded once (the
cache), --certs-findings-only, and counters equal to the rows."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import TAP, Loupe, free_port, require_root, run, wait_port  # noqa: E402

CERT_FIELDS = ("subject", "issuer", "serial", "fingerprint")

tap = TAP()
require_root(tap)
tmp = tempfile.mkdtemp(prefix="loupe-certs-")
servers = []


def path(name):
    return os.path.join(tmp, name)


def alias(prog, name):
    """prog under a command name of this test's own (a process's comm is the name
    it was started by): other tests' curl on this machine cannot get in."""
    link = path(name)
    os.symlink(shutil.which(prog) or prog, link)
    return link


CURL = alias("curl", "lp18curl")
GNUTLS_CLI = alias("gnutls-cli", "lp18gnutls")
TSTCLNT = alias("tstclnt", "lp18tstclnt")
PY = alias("/usr/bin/python3", "lp18python")


def ossl(*args):
    r = run(["openssl", *args], cwd=tmp)
    if r.returncode:
        raise RuntimeError(f"openssl {' '.join(args)}: {r.stderr.decode()}")
    return r.stdout.decode()


def write(name, text):
    with open(path(name), "w") as f:
        f.write(text)


# --- the certificates ------------------------------------------------------------
write("ca.ext", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
      "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
write("leaf.ext", "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
write("other.ext", "basicConstraints=CA:FALSE\nsubjectAltName=DNS:other.example\n")
for name, n in (("big", 400), ("huge", 1400)):
    write(f"{name}.ext", "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost," + ",".join(
        f"DNS:host{i:04d}.a-rather-long-subdomain-name.example.test" for i in range(n)) + "\n")
ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-out", "root.pem",
     "-days", "30", "-subj", "/O=loupe test/CN=loupe18 Root CA",
     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "inter.key", "-out", "inter.csr",
     "-subj", "/O=loupe test/CN=loupe18 Intermediate")
ossl("x509", "-req", "-in", "inter.csr", "-CA", "root.pem", "-CAkey", "root.key",
     "-CAcreateserial", "-days", "30", "-extfile", "ca.ext", "-out", "inter.pem")


def leaf(name, cn, ext, bits=2048, dates=None):
    """A leaf signed by the intermediate; dates (start, end) through `openssl ca`."""
    ossl("req", "-newkey", f"rsa:{bits}", "-nodes", "-keyout", f"{name}.key", "-out",
         f"{name}.csr", "-subj", f"/O=loupe test/CN={cn}")
    if not dates:
        ossl("x509", "-req", "-in", f"{name}.csr", "-CA", "inter.pem", "-CAkey", "inter.key",
             "-CAcreateserial", "-days", "5", "-extfile", ext, "-out", f"{name}.pem")
        return
    os.makedirs(path("newcerts"), exist_ok=True)
    write("index.txt", "")
    write("serial", "1000\n")
    write("ca.cnf", "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=newcerts\n"
          "serial=serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n"
          "[p]\ncommonName=supplied\norganizationName=optional\n")
    ossl("ca", "-batch", "-config", "ca.cnf", "-cert", "inter.pem", "-keyfile", "inter.key",
         "-in", f"{name}.csr", "-out", f"{name}.pem", "-extfile", ext, "-notext",
         "-startdate", dates[0], "-enddate", dates[1])


leaf("valid", "localhost", "leaf.ext")
leaf("expired", "localhost", "leaf.ext", dates=("20200101000000Z", "20200201000000Z"))
leaf("other", "other.example", "other.ext")
leaf("weak", "localhost", "leaf.ext", bits=1024)
leaf("big", "localhost", "big.ext")
leaf("huge", "localhost", "huge.ext")
ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self.key", "-out", "self.pem",
     "-days", "5", "-subj", "/O=loupe test/CN=localhost",
     "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")


def x509_facts(pem):
    """subject, issuer, serial, fingerprint as `openssl x509` prints them."""
    out = ossl("x509", "-in", pem, "-noout", "-subject", "-issuer", "-serial", "-fingerprint",
               "-sha256", "-nameopt", "RFC2253")
    facts = {}
    for line in out.splitlines():
        key, _, val = line.partition("=")
        key = "fingerprint" if "Fingerprint" in key else key
        facts[key] = val
    return facts


INTER = x509_facts(path("inter.pem"))

# kind: (certificate, sent with the intermediate, findings of the certificate itself)
KINDS = {
    "valid": ("valid", True, set()),
    "self-signed": ("self", False, {"self_signed"}),
    "expired": ("expired", True, {"expired"}),
    "wrong-name": ("other", True, {"name_mismatch"}),
    "weak-key": ("weak", True, {"weak_key"}),
    "big": ("big", True, set()),
    "huge": ("huge", True, set()),
}
DER_SIZE = {kind: len(subprocess.run(["openssl", "x509", "-in", path(f"{KINDS[kind][0]}.pem"),
                                      "-outform", "DER"], capture_output=True).stdout)
            for kind in ("big", "huge")}


# --- the servers ---------------------------------------------------------------------
def s_server(kind):
    name, chain, _ = KINDS[kind]
    port = free_port()
    cmd = ["openssl", "s_server", "-quiet", "-www", "-accept", f"127.0.0.1:{port}",
           "-cert", path(f"{name}.pem"), "-key", path(f"{name}.key")]
    if chain:
        cmd += ["-cert_chain", path("inter.pem")]
    if kind == "weak-key":
        # OpenSSL 3's default security level (2) refuses to load a 1024-bit key.
        cmd += ["-cipher", "DEFAULT:@SECLEVEL=0"]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    servers.append(p)
    if not wait_port(port):
        raise RuntimeError(f"s_server for {kind} did not start")
    return port


PORTS = {kind: s_server(kind) for kind in KINDS}
FACTS = {kind: x509_facts(path(f"{KINDS[kind][0]}.pem")) for kind in KINDS}

# NSS databases: one that trusts the test root, one that trusts nothing.
for db, trust in (("nss-trust", True), ("nss-empty", False)):
    os.mkdir(path(db))
    run(["certutil", "-N", "--empty-password", "-d", f"sql:{path(db)}"])
    if trust:
        r = run(["certutil", "-A", "-n", "loupe18-root", "-t", "C,,", "-i", path("root.pem"),
                 "-d", f"sql:{path(db)}"])
        tap.ok(r.returncode == 0, "NSS database trusting the test root made", r.stderr)


def certs_rows(lp, pid):
    return [e for e in lp.events() if e["pid"] == pid and e["operation"] == "certificates"]


def findings(row):
    return set(filter(None, row.get("findings", "").split(",")))


def check_row(label, rows, kind, want, library):
    """Exactly one row, with the served certificate's facts and exactly `want`."""
    if not tap.ok(len(rows) == 1, f"{label}: one certificates row", rows):
        return
    row, facts = rows[0], FACTS[kind]
    tap.eq({k: row.get(k) for k in CERT_FIELDS}, facts,
           f"{label}: subject, issuer, serial, fingerprint as openssl x509 prints them")
    tap.eq(findings(row), want, f"{label}: findings {sorted(want) or 'none'}")
    chain = 2 if KINDS[kind][1] else 1
    tap.ok(row.get("chain_len") == chain and row.get("library") == library and
           row.get("sni") == "localhost" and
           row.get("remote") == f"127.0.0.1:{PORTS[kind]}" and
           (chain == 1 or INTER["fingerprint"].replace(":", "") in row.get("chain", "")) and
           row.get("truncated") is False and row.get("error") == "",
           f"{label}: chain of {chain} as sent, {library}, sni localhost, remote endpoint",
           row)


def run_client(lp_args, clients):
    """Start loupe, run each client (label, kind, argv, stdin) and return
    (loupe, [(label, kind, pid, output)])."""
    lp = Loupe(["trace", "ssl", "--certs", *lp_args])
    done = []
    for label, kind, argv, stdin in clients:
        # A file, not a pipe: tstclnt reads a pipe in a thread and never sees its end.
        with open(path("stdin"), "wb") as f:
            f.write(stdin or b"")
        with open(path("stdin"), "rb") as f:
            p = subprocess.Popen(argv, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            out = p.communicate(timeout=30)[0].decode(errors="replace")
        done.append((label, kind, p.pid, out))
    lp.stop()
    return lp, done


try:
    url = "https://localhost:{}/loupe18"
    root = path("root.pem")

    # --- curl (OpenSSL) --------------------------------------------------------------
    curl = [
        ("curl", "valid", [CURL, "-sv", "--cacert", root, url.format(PORTS["valid"])]),
        ("curl -k", "self-signed", [CURL, "-svk", url.format(PORTS["self-signed"])]),
        ("curl -k", "expired", [CURL, "-svk", "--cacert", root, url.format(PORTS["expired"])]),
        ("curl -k", "wrong-name",
         [CURL, "-svk", "--cacert", root, url.format(PORTS["wrong-name"])]),
        ("curl -k", "weak-key", [CURL, "-svk", "--cacert", root, url.format(PORTS["weak-key"])]),
        ("curl again", "valid", [CURL, "-sv", "--cacert", root, url.format(PORTS["valid"])]),
        ("curl", "big", [CURL, "-sv", "--cacert", root, url.format(PORTS["big"])]),
        ("curl", "huge", [CURL, "-sv", "--cacert", root, url.format(PORTS["huge"])]),
    ]
    lp, done = run_client(["--comm", "lp18curl"], [(lbl, k, a, None) for lbl, k, a in curl])
    for label, kind, pid, out in done:
        m = re.search(r"SSL certificate verify (ok|result: .*\((\d+)\))", out)
        tap.ok(m and "HTTP/1.0 200" in out,
               f"{label} {kind}: the page was fetched and curl said what verification gave",
               out[-600:])
        want = set(KINDS[kind][2])
        if "-k" in label:
            want.add("verification_disabled")
        if m and m.group(1) != "ok":
            want.add("verification_failed")
        rows = certs_rows(lp, pid)
        if kind == "huge":
            # Over SSL_CERT_MAX (64 KiB): cut, so neither decoded nor fingerprinted.
            r = rows[0] if len(rows) == 1 else {}
            tap.ok(r.get("truncated") is True and r.get("fingerprint") is None and
                   r.get("subject") is None and findings(r) == want and
                   r.get("error") == "certificates: 0 undecodable, 1 cut, 0 missing" and
                   r.get("chain", "").startswith(f"cut, {DER_SIZE['huge']} bytes |"),
                   f"curl huge ({DER_SIZE['huge']} bytes): one row, the certificate cut, "
                   "not fingerprinted", rows)
            continue
        check_row(f"curl {kind}", rows, kind, want, "openssl")
        if m and m.group(2) and rows:
            tap.eq(rows[0].get("verify_result"), int(m.group(2)),
                   f"curl {kind}: verify_result {m.group(2)}, as curl printed it")
    st = lp.stats() or {}
    rows = [e for e in lp.events() if e["operation"] == "certificates"]
    tap.ok(st.get("certs_chains") == len(rows) == len(curl),
           "curl: certs_chains counts every handshake's chain", st)
    tap.ok(all(st.get(f"certs_{f}") == sum(f in findings(r) for r in rows)
               for f in ("expired", "self_signed", "name_mismatch", "weak_key",
                         "verification_disabled", "verification_failed", "not_yet_valid",
                         "sha1_signature")),
           "curl: each finding counted in the statistics as often as shown", st)
    # Distinct certificates: valid, intermediate, self, expired, other, weak, big (the
    # huge one is cut: not decoded); the second valid chain and every intermediate
    # after the first come from the cache.
    tap.ok(st.get("certs_decoded") == 7 and st.get("certs_cache_hits") == 7 and
           st.get("certs_cache_evictions") == 0 and st.get("certs_undecodable") == 0,
           "curl: each distinct certificate decoded once, the rest from the cache", st)
    tap.ok(st.get("certs_cut") == 1 and "1 certificates were larger than 65536 bytes" in
           lp.stderr, "curl: the cut certificate counted and said at exit", lp.stderr)
    tap.ok(DER_SIZE["big"] > 16384, f"the big certificate ({DER_SIZE['big']} bytes) needs "
           "more than one 16 KiB record")
    tap.ok(st.get("unaccounted") == 0 and st.get("lost") == 0, "curl: the books balance", st)
    lp.cleanup()

    # --- gnutls-cli (GnuTLS) -----------------------------------------------------------
    req = b"GET /loupe18 HTTP/1.0\r\n\r\n"
    gnutls = [("gnutls-cli", "valid", [GNUTLS_CLI, "--x509cafile", root, "-p",
                                       str(PORTS["valid"]), "localhost"], req)]
    for kind in ("self-signed", "expired", "wrong-name", "weak-key"):
        gnutls.append(("gnutls-cli --insecure", kind,
                       [GNUTLS_CLI, "--insecure", "--x509cafile", root, "-p", str(PORTS[kind]),
                        "localhost"], req))
    lp, done = run_client(["--comm", "lp18gnutls"], gnutls)
    for label, kind, pid, out in done:
        trusted = "The certificate is trusted" in out
        untrusted = "The certificate is NOT trusted" in out
        tap.ok((trusted or untrusted) and "HTTP/1.0 200" in out,
               f"{label} {kind}: the page was fetched and gnutls-cli said whether it trusts it",
               out[-600:])
        want = set(KINDS[kind][2]) | ({"verification_failed"} if untrusted else set())
        check_row(f"gnutls-cli {kind}", certs_rows(lp, pid), kind, want, "gnutls")
    lp.cleanup()

    # --- tstclnt (NSS): -o overrides a bad certificate ---------------------------------
    nss = [("tstclnt", "valid", [TSTCLNT, "-h", "127.0.0.1", "-a", "localhost", "-p",
                                 str(PORTS["valid"]), "-d", f"sql:{path('nss-trust')}"], req),
           ("tstclnt -o", "self-signed",
            [TSTCLNT, "-h", "127.0.0.1", "-a", "localhost", "-p", str(PORTS["self-signed"]),
             "-d", f"sql:{path('nss-empty')}", "-o"], req)]
    for kind in ("expired", "wrong-name", "weak-key"):
        nss.append(("tstclnt -o", kind,
                    [TSTCLNT, "-h", "127.0.0.1", "-a", "localhost", "-p", str(PORTS[kind]),
                     "-d", f"sql:{path('nss-trust')}", "-o"], req))
    lp, done = run_client(["--comm", "lp18tstclnt"], nss)
    for label, kind, pid, out in done:
        tap.ok("HTTP/1.0 200" in out, f"{label} {kind}: the page was fetched", out[-600:])
        # NSS's verification calls are not probed (docs): the certificate's own findings.
        check_row(f"tstclnt {kind}", certs_rows(lp, pid), kind, set(KINDS[kind][2]), "nss")
    lp.cleanup()

    # --- python3 ssl, default verification, the valid chain: nothing to say ----------
    client = ("import socket, ssl, sys\n"
              "ctx = ssl.create_default_context(cafile=sys.argv[1])\n"
              "s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[2]))),"
              " server_hostname='localhost')\n"
              "s.sendall(b'GET /loupe18 HTTP/1.0\\r\\n\\r\\n'); print(s.recv(100))\n")
    lp, done = run_client(["--comm", "lp18python"],
                          [("python3 ssl", "valid", [PY, "-c", client, root,
                                                      str(PORTS["valid"])], None)])
    label, kind, pid, out = done[0]
    tap.ok("HTTP/1.0 200" in out, "python3 ssl (verifying) fetched the page", out)
    check_row("python3 ssl valid", certs_rows(lp, pid), "valid", set(), "openssl")
    lp.cleanup()

    # --- --certs-findings-only ----------------------------------------------------------
    lp, done = run_client(["--comm", "lp18curl", "--certs-findings-only"],
                          [("curl", "valid", [CURL, "-s", "--cacert", root,
                                              url.format(PORTS["valid"])], None),
                           ("curl -k", "self-signed",
                            [CURL, "-sk", url.format(PORTS["self-signed"])], None)])
    rows = [e for e in lp.events() if e["operation"] == "certificates"]
    st = lp.stats() or {}
    tap.ok(len(rows) == 1 and rows[0]["pid"] == done[1][2] and findings(rows[0]),
           "--certs-findings-only: only the handshake with findings is shown", rows)
    tap.eq([e["operation"] for e in lp.events() if e["operation"] != "certificates"], [],
           "--certs-findings-only: no call rows")
    tap.ok(st.get("certs_chains") == 2 and st.get("bytes") == 0 and st.get("events", 0) > 2,
           "--certs-findings-only: both chains counted, the calls seen without plaintext", st)
    lp.cleanup()

    # --- --no-data: the calls still end the wait (they carry no bytes, only a count) ------
    lp, done = run_client(["--comm", "lp18curl", "--no-data"],
                          [("curl", "valid", [CURL, "-s", "--cacert", root,
                                              url.format(PORTS["valid"])], None)])
    ops = [e["operation"] for e in lp.events() if e["pid"] == done[0][2]]
    first_write = next((i for i, op in enumerate(ops) if op.startswith("SSL_write")), None)
    tap.ok(ops.count("certificates") == 1 and first_write is not None and
           ops.index("certificates") < first_write,
           "--no-data: the row is shown when the connection first carries data", ops)
    lp.cleanup()

    # --- columns: a readable summary in data ---------------------------------------------
    lp = Loupe(["trace", "ssl", "--certs", "--comm", "lp18curl", "--fields",
                "comm,operation,data"], json_output=False)
    run([CURL, "-sk", "-o", "/dev/null", url.format(PORTS["expired"])])
    lp.stop()
    with open(lp.out_path) as f:
        text = f.read()
    tap.ok(re.search(r"certificates\s+" + re.escape(FACTS["expired"]["subject"]) + " <- " +
                     re.escape(INTER["subject"]) + ", chain 2, sni localhost, "
                     r"until 2020-02-01T00:00:00Z, RSA 2048; findings: expired,", text),
           "columns: the certificate's summary and findings in data", text)
    lp.cleanup()
finally:
    for p in servers:
        p.terminate()
        p.wait(10)
    shutil.rmtree(tmp, ignore_errors=True)
tap.done()
