#!/usr/bin/env python3
"""The ssl gadget beyond the system's OpenSSL: GnuTLS, NSS, OpenSSL linked into
an executable (node), a private libssl in another mount namespace, processes
started after loupe, libcrypto latency (--crypto), and program names.

Real clients and servers only: gnutls-cli/wget against gnutls-serv, NSS tstclnt
against selfserv, node and curl against openssl s_server.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import (LOUPE, TAP, Loupe, free_port, make_cert, require_root,  # noqa: E402
                       run, wait_port)

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.join(HERE, "tls_client.py")
PY = "/usr/bin/python3"
NODE = "/usr/bin/node"
SYS_LIBSSL = "/usr/lib/x86_64-linux-gnu/libssl.so.3"

tap = TAP()
require_root(tap)
tmp = tempfile.mkdtemp(prefix="loupe-ssl-libs-")
cert, key = make_cert(tmp)
eccert, eckey = make_cert(tmp, "ec")
servers = []


def data(ev):
    return (ev.get("data") or "").encode("latin-1")


def serve(cmd, port):
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    servers.append(p)
    if not wait_port(port):
        tap.ok(False, f"server listens: {' '.join(cmd)}")
        tap.done()
    return p


def s_server(cert_, key_):
    port = free_port()
    p = serve(["openssl", "s_server", "-quiet", "-www", "-accept", str(port), "-cert", cert_,
               "-key", key_], port)
    return p, port


def by_pid(evs, pid):
    return [e for e in evs if e["pid"] == pid]


# --- GnuTLS: gnutls-cli and wget against gnutls-serv --http ------------------------
gport = free_port()
gserv = serve(["gnutls-serv", "--http", "-p", str(gport), "--x509certfile", cert,
               "--x509keyfile", key], gport)
lp = Loupe(["trace", "ssl"])
cli = subprocess.Popen(["gnutls-cli", "--insecure", "-p", str(gport), "127.0.0.1"],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
cli_out = cli.communicate(b"GET /loupe-gnutls-cli HTTP/1.0\r\n\r\n", timeout=30)[0]
wg = subprocess.Popen(["wget", "-q", "--no-check-certificate", "-O", "/dev/null",
                       f"https://127.0.0.1:{gport}/loupe-wget"])
wg.wait(30)
time.sleep(0.3)
lp.stop()
evs = lp.events()
for name, pid, path in (("gnutls-cli", cli.pid, b"/loupe-gnutls-cli"),
                        ("wget", wg.pid, b"/loupe-wget")):
    mine = by_pid(evs, pid)
    tap.ok(any(e["operation"] == "gnutls_record_send" and e["direction"] == "write" and
               data(e).startswith(b"GET " + path) for e in mine),
           f"{name}: request captured on gnutls_record_send",
           [(e["operation"], data(e)[:40]) for e in mine] or lp.stderr)
    tap.ok(any(e["operation"] == "gnutls_record_recv" and e["direction"] == "read" and
               data(e).startswith(b"HTTP/1.0 200 OK") for e in mine),
           f"{name}: response captured on gnutls_record_recv")
    tap.ok(mine and all(e["library"] == "gnutls" and e["comm"] == name for e in mine),
           f"{name}: library gnutls, comm {name}")
srv = by_pid(evs, gserv.pid)
tap.ok(any(e["operation"] == "gnutls_record_recv" and b"/loupe-wget" in data(e) for e in srv),
       "gnutls-serv: the request seen on the server side too")
tap.ok(all(e["len"] == e["captured"] == len(data(e)) for e in by_pid(evs, wg.pid)),
       "gnutls: whole buffers (ssize_t return read right)")
lp.cleanup()

# --- NSS: tstclnt against selfserv; tstclnt's stdin is not TLS ----------------------
nssdb = os.path.join(tmp, "nssdb")
os.mkdir(nssdb)
noise = os.path.join(tmp, "noise")
with open(noise, "wb") as f:
    f.write(os.urandom(64))
run(["certutil", "-N", "--empty-password", "-d", f"sql:{nssdb}"])
r = run(["certutil", "-S", "-s", "CN=localhost", "-n", "server", "-x", "-t", "CT,,", "-d",
         f"sql:{nssdb}", "-z", noise, "-k", "rsa", "-g", "2048", "-8", "localhost"])
tap.ok(r.returncode == 0, "NSS certificate database made", r.stderr)
nport = free_port()
sserv = serve(["selfserv", "-d", f"sql:{nssdb}", "-n", "server", "-p", str(nport)], nport)
req_file = os.path.join(tmp, "nss-request")
with open(req_file, "wb") as f:
    f.write(b"GET /loupe-nss-test HTTP/1.0\r\n\r\n")
lp = Loupe(["trace", "ssl"])
with open(req_file, "rb") as stdin:
    tc = subprocess.Popen(["tstclnt", "-h", "localhost", "-p", str(nport), "-d", f"sql:{nssdb}",
                           "-o"], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    tc_out = tc.communicate(timeout=30)[0]
time.sleep(0.3)
lp.stop()
evs = lp.events()
mine = by_pid(evs, tc.pid)
tap.ok(b"HTTP/1.0 200 OK" in tc_out, "tstclnt got its answer (the test is meaningful)", tc_out)
tap.ok(any(e["direction"] == "write" and e["operation"] in ("PR_Write", "PR_Send") and
           data(e).startswith(b"GET /loupe-nss-test") for e in mine),
       "tstclnt: HTTP request captured on PR_Write/PR_Send",
       [(e["operation"], data(e)[:40]) for e in mine] or lp.stderr)
tap.ok(any(e["direction"] == "read" and data(e).startswith(b"HTTP/1.0 200 OK") for e in mine),
       "tstclnt: HTTP reply captured on PR_Read/PR_Recv")
tap.ok(any(e["operation"] == "PR_Read" and b"/loupe-nss-test" in data(e)
           for e in by_pid(evs, sserv.pid)), "selfserv: the request read on the server side")
tap.ok(mine and all(e["library"] == "nss" for e in mine), "tstclnt: library nss")
# selfserv's answer echoes the request; the stdin read would be the request alone.
tap.ok(not any(e["direction"] == "read" and data(e).startswith(b"GET /loupe-nss-test")
               for e in mine),
       "tstclnt: its read of the request from stdin is not reported as TLS")
st = lp.stats() or {}
tap.ok(st.get("nspr_not_tls", 0) >= 1, "the plain NSPR reads were seen and counted", st)
lp.cleanup()

# --- node: OpenSSL linked into the executable --------------------------------------
NODE_JS = os.path.join(tmp, "client.js")
with open(NODE_JS, "w") as f:
    f.write("""
const https = require('https');
const [path, port] = [process.argv[2], +process.argv[3]];
const go = () => https.get({host: '127.0.0.1', port, path, rejectUnauthorized: false,
                            agent: false}, res => {
  let body = ''; res.on('data', d => body += d);
  res.on('end', () => { console.log('status', res.statusCode); process.exit(0); });
});
console.log('pid', process.pid);
if (process.argv[4] === '--wait') process.stdin.once('data', () => { process.stdin.pause(); go(); });
else go();
""")
_, sport = s_server(cert, key)


class Waiting:
    """A client that prints "pid N", then waits for a line on stdin."""

    def __init__(self, cmd):
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pid = int(self.p.stdout.readline().split()[1])

    def release(self):
        self.p.stdin.write(b"go\n")
        self.p.stdin.flush()
        self.p.stdin.close()
        out = self.p.stdout.read().decode()
        self.p.wait(30)
        return out


node = Waiting([NODE, NODE_JS, "/loupe-node-auto", str(sport), "--wait"])
lp = Loupe(["trace", "ssl", "-v", "--comm", "node"])
out = node.release()
time.sleep(0.3)
lp.stop()
mine = by_pid(lp.events(), node.pid)
tap.ok("status 200" in out, "node: the request succeeded", out)
tap.ok(re.search(r"probing /usr/bin/node \(\d+ functions: openssl", lp.stderr) and
       "found as the executable of pid" in lp.stderr,
       "node: its executable found through /proc/PID/exe and probed", lp.stderr)
tap.ok(any(e["operation"] in ("SSL_write", "SSL_write_ex") and
           data(e).startswith(b"GET /loupe-node-auto") for e in mine),
       "node (running before loupe): request captured", [e["operation"] for e in mine])
tap.ok(any(e["direction"] == "read" and data(e).startswith(b"HTTP/1.0 200 ok") for e in mine),
       "node: response captured")
tap.ok(mine and all(e["library"] == "openssl" for e in mine), "node: library openssl")
lp.cleanup()

# --bin, without discovery of new processes: node started after loupe is seen only
# because of --bin.
lp = Loupe(["trace", "ssl", "--bin", NODE, "--no-follow", "--comm", "node"])
r = run([NODE, NODE_JS, "/loupe-node-bin", str(sport)], timeout=30)
node_pid = int(r.stdout.split()[1])
time.sleep(0.3)
lp.stop()
mine = by_pid(lp.events(), node_pid)
tap.ok(any(data(e).startswith(b"GET /loupe-node-bin") for e in mine),
       "--bin /usr/bin/node: a node started later is captured", lp.stderr)
lp.cleanup()

# ...and without --bin nor discovery it is not: the check above is meaningful.
lp = Loupe(["trace", "ssl", "--no-follow", "--comm", "node"])
r = run([NODE, NODE_JS, "/loupe-node-none", str(sport)], timeout=30)
time.sleep(0.3)
lp.stop()
tap.ok(not any(b"/loupe-node-none" in data(e) for e in lp.events()),
       "without --bin or discovery, node's own OpenSSL is not probed")
lp.cleanup()

# node started after loupe, found through the exec notice.
lp = Loupe(["trace", "ssl", "-v", "--comm", "node"])
node = Waiting([NODE, NODE_JS, "/loupe-node-later", str(sport), "--wait"])
time.sleep(1.2)
out = node.release()
time.sleep(0.3)
lp.stop()
tap.ok(any(data(e).startswith(b"GET /loupe-node-later") for e in by_pid(lp.events(), node.pid)),
       "node started after loupe: found through exec within a second, captured", lp.stderr)
lp.cleanup()

# --- a private libssl in another mount namespace ------------------------------------
private = os.path.join(tmp, "libssl.so.3")
shutil.copy(SYS_LIBSSL, private)


def ns_client(path):
    # The copy is bind-mounted over the system path in a new mount namespace only.
    return Waiting(["unshare", "-m", "sh", "-c",
                    f"mount --bind {private} {SYS_LIBSSL} && exec {PY} {CLIENT} {sport} "
                    f"{path} --wait"])


def private_inode(pid):
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            if line.rstrip().endswith("/libssl.so.3"):
                return int(line.split()[4])
    return None


sys_ino = os.stat(SYS_LIBSSL).st_ino
c = ns_client("/loupe-mntns-before")
ino = private_inode(c.pid)
tap.ok(ino and ino != sys_ino and ino == os.stat(private).st_ino,
       "the namespaced client maps the private copy (another inode)", (ino, sys_ino))
lp = Loupe(["trace", "ssl", "-v", "--comm", "python3"])
c.release()
time.sleep(0.3)
lp.stop()
tap.ok(any(data(e).startswith(b"GET /loupe-mntns-before") for e in by_pid(lp.events(), c.pid)),
       "private libssl in a mount namespace (running before loupe): captured", lp.stderr)
tap.ok(f"was found mapped by pid {c.pid}" in lp.stderr,
       "-v says the private copy was found in the process's maps")
lp.cleanup()

lp = Loupe(["trace", "ssl", "--comm", "python3"])
c = ns_client("/loupe-mntns-after")
time.sleep(1.2)
c.release()
time.sleep(0.3)
lp.stop()
tap.ok(any(data(e).startswith(b"GET /loupe-mntns-after") for e in by_pid(lp.events(), c.pid)),
       "private libssl in a mount namespace, started after loupe: captured", lp.stderr)
lp.cleanup()

# --- --crypto: handshake signing and key agreement latency ---------------------------
for kind, (crt, k) in (("rsa", (cert, key)), ("ecdsa", (eccert, eckey))):
    srv, port = s_server(crt, k)
    lp = Loupe(["trace", "ssl", "--crypto", "--pid", str(srv.pid)])
    run(["curl", "-sk", f"https://127.0.0.1:{port}/", "-o", "/dev/null"])
    time.sleep(0.3)
    lp.stop()
    cr = [e for e in lp.events() if e["library"] == "libcrypto"]
    signs = [e for e in cr if e["operation"] in ("EVP_DigestSign", "EVP_DigestSignFinal",
                                                  "EVP_PKEY_sign", "RSA_sign")]
    derives = [e for e in cr if e["operation"] == "EVP_PKEY_derive"]
    tap.ok(signs and all(e["latency"] > 0 and e["error"] == "" and e["direction"] == "crypto"
                         for e in signs),
           f"--crypto ({kind}): server signing events with latency",
           [(e["operation"], e["latency"]) for e in cr] or lp.stderr)
    tap.ok(derives and all(e["latency"] > 0 for e in derives),
           f"--crypto ({kind}): key derivation with latency")
    tap.ok(all(e["data"] is None and e["len"] is None for e in cr),
           f"--crypto ({kind}): latency only, no data")
    lp.cleanup()

lp = Loupe(["trace", "ssl"])
srv, port = s_server(cert, key)
run(["curl", "-sk", f"https://127.0.0.1:{port}/", "-o", "/dev/null"])
lp.stop()
tap.ok(not any(e["library"] == "libcrypto" for e in lp.events()),
       "without --crypto no libcrypto events")
lp.cleanup()

# --- program names, and what cannot attach does not stop loupe ----------------------
lp = Loupe(["trace", "ssl", "-v", "--crypto", "--lib", "/usr/bin/true"])
lp.stop()
att = re.findall(r"attached (\S+) to (\S+):(\S+)", lp.stderr)
libs = {"SSL_": "libssl", "gnutls_": "libgnutls", "PR_": "libnss"}


def want_lib(func):
    if func == "SSL_ImportFD":
        return "libnss"
    for pre, lib in libs.items():
        if func.startswith(pre):
            return lib
    return "libcrypto"


# Go programs running on the host are probed too: their symbols are not C
# names, their programs are trace_uprobe_go_<name> and _ret (on each RET).
bad = [(p, f) for p, _, f in att
       if not re.fullmatch(rf"trace_(uprobe|uretprobe)_{want_lib(f)}_{re.escape(f)}", p) and
       not (f.startswith("crypto/tls.") and re.fullmatch(r"trace_uprobe_go_\w+", p))]
funcs = {f for _, _, f in att}
tap.ok(att and not bad, f"{len(att)} uprobes, each named trace_u[ret]probe_<lib>_<func>", bad)
tap.ok({"gnutls_record_send", "gnutls_record_recv", "PR_Write", "PR_Send", "PR_Read", "PR_Recv",
        "SSL_write", "EVP_PKEY_derive", "EVP_DigestSign"} <= funcs, "every library is probed",
       funcs)
rets = {f for p, _, f in att if p.startswith("trace_uretprobe_libcrypto_")}
tap.ok("EVP_DigestSign" in rets, "libcrypto exits are real uretprobes")
tap.ok("warning: /usr/bin/true: no TLS functions" in lp.stderr and lp.proc.returncode == 0,
       "a --lib without TLS functions: a warning naming it, loupe still runs", lp.stderr)
lp.cleanup()

r = run([LOUPE, "trace", "ssl", "--bin",
         "/usr/bin/true"])
err = r.stderr.decode()
tap.ok(r.returncode == 2 and err.count("\n") == 1 and "--bin /usr/bin/true" in err,
       "--bin on an executable without TLS: one line, exit 2", err)

for p in servers:
    p.terminate()
    p.wait()
shutil.rmtree(tmp, ignore_errors=True)
tap.done()
