#!/usr/bin/env python3
"""Data at rest: --output-file and --pcap rotated by size (--rotate-size,
--rotate-keep), encrypted to a certificate (--encrypt-to) and decrypted with
`openssl cms -decrypt`, files that exist or are links at the target, the
audit record of the files, and rotation through a SIGHUP reload.

Real traffic: our tls_loop under a command name of its own, in stream mode
(pseudo-random bytes whose SHA-256 the client and the server print), traced
by four loupes at once: plain and unrotated (the reference), rotated,
rotated and encrypted, rotated keeping two files."""
import glob
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import LOUPE, OUTPUT, TAP, Loupe, own_copy, require_root, run  # noqa: E402

TLS_LOOP, COMM = own_copy(os.path.join(OUTPUT, "bench", "tls_loop"), "lpt-dar-")
FIELDS = "comm,pid,tid,operation,len,data"
SIZE = 128 << 10
tap = TAP()
require_root(tap)
tmp = tempfile.mkdtemp(prefix="loupe-dar-")


def files_of(path):
    """The rotated files of path, in order (their names sort in order)."""
    return sorted(glob.glob(glob.escape(path) + ".*"))


def rows_of(texts):
    rows = []
    for t in texts:
        rows += [json.loads(line) for line in t.decode("latin-1").splitlines() if line]
    return rows


def read(path):
    with open(path, "rb") as f:
        return f.read()


def payloads(pcap, by_port=False):
    """The TCP payload bytes of a pcap file in packet order, as tshark reads them; or,
    by_port, each sender's (by source port) in its order."""
    r = run(["tshark", "-r", pcap, "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.payload"],
            timeout=120)
    out, ports = b"", {}
    for line in r.stdout.decode().splitlines():
        port, _, hexdata = line.partition("\t")
        data = bytes.fromhex(hexdata.replace(":", ""))
        out += data
        ports[port] = ports.get(port, b"") + data
    return r.returncode, ports if by_port else out


def by_thread(rows):
    """Rows of each thread in their order: the order between two threads running at
    once on two CPUs may differ between two loupes' ring buffers."""
    return sorted(rows, key=lambda r: r["tid"])


def decrypt(path, cert, key):
    return run(["openssl", "cms", "-decrypt", "-inform", "DER", "-in", path, "-recip", cert,
                "-inkey", key])


def trace(name, *extra):
    d = os.path.join(tmp, name)
    os.mkdir(d)
    args = ["trace", "ssl", "--comm", COMM, "--fields", FIELDS, "--buffer-size", "8M",
            "--output-file", os.path.join(d, "ev.json"), "--pcap", os.path.join(d, "cap.pcap"),
            "--audit-log", os.path.join(d, "audit.log"), *extra]
    return d, Loupe(args)


# --- the command line: one line, exit 2 -----------------------------------------------
cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
     "-days", "2", "-subj", "/CN=loupe data at rest"]).check_returncode()
out_arg = ["--output-file", os.path.join(tmp, "never")]
for args, what, needle in (
        (["--rotate-keep", "3"] + out_arg, "--rotate-keep without --rotate-size", "--rotate-size"),
        (["--rotate-size", "1M"], "--rotate-size without a file", "--output-file FILE or --pcap"),
        (["--encrypt-to", cert], "--encrypt-to without a file", "--output-file FILE or --pcap"),
        (["--rotate-size", "100"] + out_arg, "--rotate-size below 4096", "out of range"),
        (["--encrypt-to", os.path.join(tmp, "nope.pem")] + out_arg, "a missing certificate",
         "nope.pem: No such file"),
        (["--encrypt-to", key] + out_arg, "a key instead of a certificate", "not an X.509")):
    r = run([LOUPE, "trace", "ssl", "--timeout", "1"] + args)
    err = r.stderr.decode()
    tap.ok(r.returncode == 2 and err.startswith("loupe: ") and len(err.splitlines()) == 1
           and needle in err, f"{what}: exit 2, one line", f"{r.returncode} {err!r}")
tap.ok(not os.path.exists(os.path.join(tmp, "never")), "a refused command line writes no file")

# --- a link or a file at the target -----------------------------------------------------
victim, planted = os.path.join(tmp, "victim"), os.path.join(tmp, "planted.json")
with open(victim, "w") as f:
    f.write("precious")
os.symlink(victim, planted)
r = run([LOUPE, "trace", "ssl", "--comm", COMM, "--timeout", "1", "--output-file", planted])
err = r.stderr.decode()
tap.ok(r.returncode == 1 and "symbolic link" in err and planted in err,
       "--output-file at a symbolic link: refused, exit 1", f"{r.returncode} {err!r}")
tap.eq(read(victim), b"precious", "the link's target is not written")
old, other = os.path.join(tmp, "old.json"), os.path.join(tmp, "old-hardlink")
with open(old, "w") as f:
    f.write("old capture")
os.chmod(old, 0o644)
os.link(old, other)
r = run([LOUPE, "trace", "ssl", "--comm", COMM, "--timeout", "1", "--output-file", old])
tap.ok(r.returncode == 0 and stat.S_IMODE(os.stat(old).st_mode) == 0o600
       and os.stat(old).st_ino != os.stat(other).st_ino,
       "an existing --output-file is replaced by a new 0600 file", r.stderr)
tap.eq(read(other), b"old capture", "...not written into: another name for it keeps its bytes")

# --- four loupes, one workload ----------------------------------------------------------
ref_dir, ref = trace("ref")
rot_dir, rot = trace("rot", "--rotate-size", str(SIZE))
enc_dir, enc = trace("enc", "--rotate-size", str(SIZE), "--encrypt-to", cert)
keep_dir = os.path.join(tmp, "keep")
os.mkdir(keep_dir)
keep = Loupe(["trace", "ssl", "--comm", COMM, "--fields", FIELDS, "--buffer-size", "8M",
              "--output-file",
              os.path.join(keep_dir, "ev.json"), "--rotate-size", str(SIZE), "--rotate-keep", "2"])
w = run([TLS_LOOP, "stream", "1000", "300000", "7"], timeout=120)
sums = dict(line.split() for line in w.stdout.decode().splitlines() if " " in line)
time.sleep(1)
for lp in (ref, rot, enc, keep):
    lp.stop()
tap.ok(w.returncode == 0 and "sent_sha256" in sums, "tls_loop stream ran", w.stderr)

ref_rows = rows_of([read(os.path.join(ref_dir, "ev.json"))])
ref_data = b"".join((r["data"] or "").encode("latin-1") for r in ref_rows)
client = b"".join(r["data"].encode("latin-1") for r in ref_rows
                  if r["operation"] == "SSL_write" and r["data"] and r["len"] > 1)
server = b"".join(r["data"].encode("latin-1") for r in ref_rows
                  if r["operation"] == "SSL_read" and r["data"] and r["len"] > 1)
tap.ok(hashlib.sha256(client).hexdigest() == sums.get("sent_sha256")
       and hashlib.sha256(server).hexdigest() == sums.get("received_sha256"),
       f"the reference capture holds exactly the bytes sent and received ({len(client)} each)")
rc, ref_pcap = payloads(os.path.join(ref_dir, "cap.pcap"))
ref_ports = payloads(os.path.join(ref_dir, "cap.pcap"), by_port=True)[1]


def join_ports(parts):
    out = {}
    for p in parts:
        for port, data in p.items():
            out[port] = out.get(port, b"") + data
    return out

tap.ok(rc == 0 and ref_pcap == ref_data and len(ref_data) >= 600000,
       f"the reference pcap's payloads are the rows' data ({len(ref_pcap)} bytes)")

# --- rotation of --output-file -----------------------------------------------------------
names = files_of(os.path.join(rot_dir, "ev.json"))
tap.ok(len(names) >= 4, f"--rotate-size {SIZE}: several JSON files ({len(names)})")
pat = re.compile(r"ev\.json\.\d{8}T\d{6}Z\.(\d{6})$")
seqs = [int(pat.search(n).group(1)) if pat.search(n) else -1 for n in names]
tap.eq(seqs, list(range(1, len(names) + 1)), "named FILE.<UTC time>.<N>, N from 1 in order")
texts = [read(n) for n in names]
big = [n for n, t in zip(names, texts) if len(t) > SIZE]
tap.eq(big, [], f"every file is at most {SIZE} bytes")
tap.ok(all(t.endswith(b"\n") for t in texts), "every file ends at the end of a row")
tap.ok(all(stat.S_IMODE(os.stat(n).st_mode) == 0o600 for n in names), "every file is 0600")
rot_rows = rows_of(texts)


def first_difference(got, want):
    """Where two captures part: the index and both rows, or the lengths."""
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return i, g, w
    return len(got), len(want)


tap.ok(by_thread(rot_rows) == by_thread(ref_rows) and len(rot_rows) > 100,
       f"the files together are exactly the unrotated capture ({len(rot_rows)} rows)",
       first_difference(by_thread(rot_rows), by_thread(ref_rows)))

# --- rotation of --pcap --------------------------------------------------------------------
pnames = files_of(os.path.join(rot_dir, "cap.pcap"))
got, bad = [], []
for n in pnames:
    rc, p = payloads(n, by_port=True)
    if rc != 0 or os.path.getsize(n) > SIZE:
        bad.append(n)
    got.append(p)
got = join_ports(got)
tap.ok(len(pnames) >= 3 and not bad, f"--pcap: {len(pnames)} files, tshark reads each alone", bad)
tap.ok(got == ref_ports and sum(map(len, got.values())) == len(ref_data),
       f"their payloads, file after file, are the captured plaintext "
       f"({sum(map(len, got.values()))} bytes, each direction in order)")
first = run(["tshark", "-r", pnames[-1], "-c", "3", "-T", "fields", "-e", "tcp.flags.syn"])
tap.eq(first.stdout.decode().split(), ["1", "1", "0"],
       "a later file opens its streams with a handshake of their own")

# --- --rotate-keep -------------------------------------------------------------------------
knames = files_of(os.path.join(keep_dir, "ev.json"))
krows = rows_of(read(n) for n in knames)
ref_by_tid = {}
for r in ref_rows:
    ref_by_tid.setdefault(r["tid"], []).append(r)
k_by_tid = {}
for r in krows:
    k_by_tid.setdefault(r["tid"], []).append(r)
tap.ok(len(knames) == 2 and krows and
       all(rs == ref_by_tid.get(t, [])[-len(rs):] for t, rs in k_by_tid.items())
       and len(krows) < len(ref_rows),
       f"--rotate-keep 2: the newest two files are left, the last {len(krows)} rows")
tap.ok(keep.proc.returncode == 0, "...and loupe stopped normally", keep.stderr)

# --- --encrypt-to ----------------------------------------------------------------------------
enames = files_of(os.path.join(enc_dir, "ev.json"))
epnames = files_of(os.path.join(enc_dir, "cap.pcap"))
markers = [COMM.encode(), ref_data[1000:1032], b'"operation"']
leaks = [n for n in enames + epnames if any(m in read(n) for m in markers)]
tap.ok(len(enames) >= 4 and len(epnames) >= 3 and not leaks,
       f"--encrypt-to: {len(enames)} + {len(epnames)} files, no plaintext marker in any", leaks)
tap.ok(all(stat.S_IMODE(os.stat(n).st_mode) == 0o600 for n in enames + epnames),
       "encrypted files are 0600 too")
dec = [decrypt(n, cert, key) for n in enames]
dec_rows = rows_of(d.stdout for d in dec)
tap.ok(all(d.returncode == 0 for d in dec) and by_thread(dec_rows) == by_thread(ref_rows),
       "openssl cms -decrypt of each file gives back exactly the rows",
       ([d.stderr for d in dec if d.returncode][:1],
        first_difference(by_thread(dec_rows), by_thread(ref_rows))))
got, ok = [], True
for n in epnames:
    d = decrypt(n, cert, key)
    plain = os.path.join(enc_dir, "dec.pcap")
    with open(plain, "wb") as f:
        f.write(d.stdout)
    rc, p = payloads(plain, by_port=True)
    ok = ok and d.returncode == 0 and rc == 0
    got.append(p)
tap.ok(ok and join_ports(got) == ref_ports,
       "each decrypted pcap reads with tshark; the payloads are exact")
other_cert, other_key = os.path.join(tmp, "other.pem"), os.path.join(tmp, "other-key.pem")
run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", other_key, "-out",
     other_cert, "-days", "2", "-subj", "/CN=someone else"]).check_returncode()
d = decrypt(enames[0], other_cert, other_key)
tap.ok(d.returncode != 0 and not d.stdout, "another key cannot decrypt them")

# --- the audit records ------------------------------------------------------------------
fp = run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"]).stdout.decode()
fp = fp.strip().split("=", 1)[1].replace(":", "").lower()
audit = read(os.path.join(enc_dir, "audit.log")).decode()
stop = [line for line in audit.splitlines() if "event=stop" in line]
start = [line for line in audit.splitlines() if "event=start" in line]
want = (f'events:{enames[0]}..{enames[-1]}({len(enames)} files,0 removed)')
tap.ok(stop and want in stop[0] and f"pcap:{epnames[0]}..{epnames[-1]}" in stop[0],
       "the stop record names the files: first..last, how many", stop)
tap.ok(stop and start and all(f"encrypted_to=\"CN=loupe data at rest sha256:{fp}\"" in s
                              for s in (start[0], stop[0])),
       "start and stop records say to whom the files are encrypted (subject, fingerprint)",
       start + stop)
kaudit = [line for line in read(os.path.join(rot_dir, "audit.log")).decode().splitlines()
          if "event=stop" in line]
tap.ok(kaudit and "encrypted_to" not in kaudit[0] and f"({len(names)} files,0 removed)"
       in kaudit[0], "unencrypted: no encrypted_to, the count of files", kaudit)

# --- SIGHUP, several gadgets: rotation goes on across a reload -------------------------------
hup = os.path.join(tmp, "hup")
os.mkdir(hup)
cfg = os.path.join(hup, "loupe.conf")
with open(cfg, "w") as f:
    f.write(f"--comm {COMM}\n")
lh = Loupe(["trace", "ssl", "tcp", "--config", cfg, "--fields", FIELDS, "--output-file",
            os.path.join(hup, "ev.json"), "--rotate-size", "64K"])
w1 = run([TLS_LOOP, "stream", "1000", "100000", "3"], timeout=120)
reloaded = lh.reconfigure(cfg, f"# the same process, said again\n--comm {COMM}\n")
w2 = run([TLS_LOOP, "stream", "1000", "100000", "4"], timeout=120)
time.sleep(1)
lh.stop()
hnames = files_of(os.path.join(hup, "ev.json"))
hseqs = [int(pat.search(n).group(1)) if pat.search(n) else -1 for n in hnames]
hrows = rows_of(read(n) for n in hnames)
sent = b"".join(r["data"].encode("latin-1") for r in hrows
                if r.get("operation") == "SSL_write" and r.get("data") and r["len"] > 1)
want = b""
for wr in (w1, w2):
    s = dict(line.split() for line in wr.stdout.decode().splitlines() if " " in line)
    want += s.get("sent_sha256", "").encode()
hashes = []
for part in (sent[:100000], sent[100000:]):
    hashes.append(hashlib.sha256(part).hexdigest().encode())
tap.ok(reloaded and lh.proc.returncode == 0, "ssl+tcp reconfigured on SIGHUP",
       lh.stderr)
tap.ok(len(hnames) >= 3 and hseqs == list(range(1, len(hnames) + 1)),
       f"one numbering of files across the reload ({len(hnames)} files)")
tap.ok(b"".join(hashes) == want, "the rows before and after the reload hold both runs' bytes")

# --- a full disk: one line, exit 1, the files before it whole ------------------------------
full = os.path.join(tmp, "full")
os.mkdir(full)
if run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", full]).returncode != 0:
    tap.ok(False, "mount a 200k tmpfs for the full-disk case")
else:
    try:
        lf = Loupe(["trace", "ssl", "--comm", COMM, "--fields", FIELDS, "--output-file",
                    os.path.join(full, "ev.json"), "--rotate-size", "64K"])
        run([TLS_LOOP, "stream", "1000", "300000", "5"], timeout=120)
        lf.stop()
        errs = [line for line in lf.stderr.splitlines() if not line.startswith('{"stats"')
                and "probing" not in line and "ready" not in line]
        fnames = files_of(os.path.join(full, "ev.json"))
        tap.ok(lf.proc.returncode == 1 and any("No space left on device; stopping" in e
                                               for e in errs),
               "disk full: one line naming the file, exit 1", lf.stderr)
        whole = rows_of(read(n) for n in fnames[:-1])
        tap.ok(len(fnames) >= 2 and whole and all(r["comm"] == COMM for r in whole),
               f"disk full: the {len(fnames) - 1} files before the last are whole rows")
    finally:
        run(["umount", full])

tap.done()
