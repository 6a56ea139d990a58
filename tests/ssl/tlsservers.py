"""Servers and helpers for the ssl gadget's analysis tests (HTTP decoding,
endpoints, pcap, verification warnings, redaction, audit); not a test itself.

Real servers: nginx (HTTP/1.1 and HTTP/2 over TLS on one port) and nghttpd
(HTTP/2 only), each on a free port with a certificate made for the test.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import free_port, make_cert, wait_port  # noqa: E402

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        listen [::1]:{port} ssl http2;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {dir}/www;
        location = /ssl9/login {{ return 200 "welcome\\n"; }}
    }}
}}
"""


class Server:
    """nginx or nghttpd on a free port, serving DIR/www (index.html, a.txt)."""

    def __init__(self, kind, exe=None):
        """exe: the program to start (a link under a command name of the test's own)."""
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix=f"loupe-ssl9-{kind}-")
        self.port = free_port()
        self.cert, self.key = make_cert(self.dir)
        www = os.path.join(self.dir, "www")
        os.makedirs(os.path.join(www, "ssl9"))
        with open(os.path.join(www, "ssl9", "index.html"), "w") as f:
            f.write("<h1>hello from " + kind + "</h1>\n")
        with open(os.path.join(www, "ssl9", "a.txt"), "w") as f:
            f.write("a" * 3000 + "\n")
        if kind == "nginx":
            conf = os.path.join(self.dir, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(dir=self.dir, port=self.port, cert=self.cert,
                                          key=self.key))
            cmd = [exe or "nginx", "-c", conf, "-p", self.dir]
        else:
            cmd = ["nghttpd", "-a", "127.0.0.1", "-d", www, str(self.port), self.key,
                   self.cert]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_port(self.port):
            err = self.proc.stderr.read1(4096) if self.proc.poll() is not None else b""
            self.stop()
            raise RuntimeError(f"{kind} did not start on port {self.port}: {err!r}")

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path):
        return f"https://localhost:{self.port}{path}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def http_rows(events, pid=None):
    """The --http request and response rows, optionally of one process."""
    return [e for e in events
            if e.get("operation") in ("http-request", "http-response")
            and (pid is None or e.get("pid") == pid)]


def data_rows(events, pid=None):
    return [e for e in events
            if e.get("direction") in ("read", "write") and e.get("operation") not in
            ("http-request", "http-response") and (pid is None or e.get("pid") == pid)]


def ss_connections(pid):
    """[(local, remote)] of the TCP connections of pid, as `ss -tnp` shows them."""
    r = subprocess.run(["ss", "-tnpH"], capture_output=True, text=True)
    out = []
    for line in r.stdout.splitlines():
        if f"pid={pid}," not in line:
            continue
        cols = line.split()
        out.append((cols[3], cols[4]))
    return out


def tshark(pcap, *args):
    r = subprocess.run(["tshark", "-r", pcap, *args], capture_output=True, text=True,
                       timeout=60)
    return r.stdout, r.stderr


def wait_for(pred, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def grep_bytes(path, needles):
    """The needles found in a file's raw bytes."""
    with open(path, "rb") as f:
        data = f.read()
    return [n for n in needles if n.encode() in data]


__all__ = ["Server", "http_rows", "data_rows", "ss_connections", "tshark", "wait_for",
           "grep_bytes", "re"]
