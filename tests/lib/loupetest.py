"""Shared helpers for loupe's integration tests.

Tests print TAP ("ok N - what" / "not ok N - what"), start the real loupe
binary, wait for its ready notice on stderr (never a sleep), run real
programs, stop loupe with a signal and look at its JSON output.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

LOUPE = os.environ.get("LOUPE") or os.path.join(
    os.path.dirname(__file__), "..", "..", "loupe")
SRCDIR = os.environ.get("SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
OUTPUT = os.environ.get("OUTPUT") or os.path.join(SRCDIR, ".output")


class TAP:
    """Minimal TAP producer; exit status 1 if anything failed."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, diag=None):
        self.n += 1
        if cond:
            print(f"ok {self.n} - {desc}", flush=True)
        else:
            self.failed += 1
            print(f"not ok {self.n} - {desc}", flush=True)
            if diag is not None:
                for line in str(diag).splitlines()[:40]:
                    print(f"#   {line}", flush=True)
        return cond

    def eq(self, got, want, desc):
        return self.ok(got == want, desc, f"got {got!r}, want {want!r}")

    def done(self):
        sys.exit(1 if self.failed or self.n == 0 else 0)


def require_root(tap):
    if os.geteuid() != 0:
        tap.ok(False, "integration tests need root")
        tap.done()


class Loupe:
    """A running `loupe trace ...` with JSON output in a temp file."""

    def __init__(self, args, json_output=True, ready_timeout=30):
        self.dir = tempfile.mkdtemp(prefix="loupe-test-")
        self.out_path = os.path.join(self.dir, "out")
        cmd = [LOUPE] + list(args)
        if json_output and "-o" not in args:
            cmd += ["-o", "json"]
        self.cmd = cmd
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.PIPE)
        self.stderr_lines = []
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()
        if not self.ready.wait(ready_timeout):
            self.stop()
            raise RuntimeError(
                f"loupe not ready after {ready_timeout}s: {' '.join(cmd)}\n"
                + "".join(self.stderr_lines))

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            self.stderr_lines.append(line)
            if "loupe: ready" in line:
                self.ready.set()
        self.ready.set()

    def stop(self, sig=signal.SIGINT, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # loupe has exited: its stderr ends; read it all (-v is long, the host may be slow).
        self.reader.join(60)
        self.out.close()
        return self.proc.returncode

    @property
    def stderr(self):
        return "".join(self.stderr_lines)

    def events(self):
        evs = []
        with open(self.out_path, "rb") as f:
            for line in f:
                # Read while loupe writes: a last line without its newline is
                # still being written, and comes whole at the next read.
                if not line.endswith(b"\n"):
                    break
                line = line.strip()
                if line:
                    evs.append(json.loads(line))
        return evs

    def stats(self):
        for line in reversed(self.stderr_lines):
            if line.startswith('{"stats"'):
                return json.loads(line)["stats"]
        return None

    def reconfigure(self, config, text, wait_for="reconfigured", timeout=10):
        """Write text to the --config file, send SIGHUP, wait until stderr says
        wait_for once more; returns whether it did."""
        seen = self.stderr.count(wait_for)
        with open(config, "w") as f:
            f.write(text)
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + timeout
        while time.time() < deadline and self.stderr.count(wait_for) == seen:
            time.sleep(0.1)
        return self.stderr.count(wait_for) > seen

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def own_copy(path, prefix):
    """A copy of program `path` under a name of its own (prefix + random, 15
    characters: a whole command name), so that --comm matches this test's
    process and no other, even with other suites running at the same time.
    Returns (the copy's path, its command name)."""
    import secrets
    comm = (prefix + secrets.token_hex(8))[:15]
    d = tempfile.mkdtemp(prefix="loupe-own-")
    os.chmod(d, 0o755)
    dst = os.path.join(d, comm)
    shutil.copy(path, dst)
    os.chmod(dst, 0o755)
    return dst, comm


def run(cmd, timeout=60, **kw):
    return subprocess.run(cmd, timeout=timeout, capture_output=True, **kw)


def wait_port(port, host="127.0.0.1", timeout=10.0):
    import socket
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), 0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_cert(directory, key_type="rsa"):
    """A self-signed certificate for localhost; returns (cert, key)."""
    cert = os.path.join(directory, f"cert-{key_type}.pem")
    key = os.path.join(directory, f"key-{key_type}.pem")
    if key_type == "rsa":
        newkey = ["-newkey", "rsa:2048"]
    else:
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    subprocess.run(["openssl", "req", "-x509", *newkey, "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def _fd_ids(pid, kind, key):
    """Ids of the BPF objects of one kind ("bpf-map", "bpf-prog", "bpf_link")
    that process pid holds open, read from /proc/PID/fdinfo."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if kind not in os.readlink(f"/proc/{pid}/fd/{fd}"):
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith(key):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def loupe_maps(loupe_pid):
    """{map name: map id} of the BPF maps a loupe process holds open."""
    maps = {}
    for i in _fd_ids(loupe_pid, "bpf-map", "map_id:"):
        r = subprocess.run(["bpftool", "-j", "map", "show", "id", str(i)], capture_output=True)
        if r.returncode == 0:
            maps[json.loads(r.stdout)["name"]] = i
    return maps


def loupe_progs(loupe_pid):
    """Ids of the BPF programs a loupe process holds open."""
    return _fd_ids(loupe_pid, "bpf-prog", "prog_id:")


def loupe_links(loupe_pid):
    """Ids of the BPF links a loupe process holds open."""
    return _fd_ids(loupe_pid, "bpf_link", "link_id:") | _fd_ids(loupe_pid, "bpf-link", "link_id:")


def map_entries(map_id):
    r = subprocess.run(["bpftool", "-j", "map", "dump", "id", str(map_id)], capture_output=True)
    if r.returncode:
        raise RuntimeError(r.stderr.decode())
    return json.loads(r.stdout)


def bpf_ids(kind):
    """Ids of every loaded BPF object of a kind ("prog", "link", "map")."""
    r = subprocess.run(["bpftool", "-j", kind, "show"], capture_output=True)
    return {o["id"] for o in json.loads(r.stdout or b"[]")}
