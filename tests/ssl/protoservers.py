"""Database, cache and gRPC servers over TLS for the protocol decoding tests;
not a test itself.  Each is a real Debian server in a throw-away directory,
on a free loopback port, with a certificate made for the test, stopped by
stop() (and its directory removed).

  Postgres   initdb + pg_ctl as the postgres user, ssl = on, trust auth
  MariaDB    mariadb-install-db + mariadbd, TLS, a user with a password
  Redis      redis-server --tls-port with --requirepass
  Grpc       tests/ssl/grpc_peer.py server (python3-grpcio)
"""
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import free_port, make_cert, wait_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# Debian's python3-grpcio and python3-psycopg2 live in Debian's python3: the
# scripts that use them say #!/usr/bin/python3 and are run by that line.


def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError(f"no PostgreSQL {name} (package postgresql)")
    return found[-1]


class Postgres:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="loupe-pg-")
        self.port = free_port()
        pw = pwd.getpwnam("postgres")
        os.chmod(self.dir, 0o755)
        data = os.path.join(self.dir, "data")
        self.data = data
        self.cert, self.key = make_cert(self.dir)
        for f in (self.cert, self.key):
            os.chown(f, pw.pw_uid, pw.pw_gid)
        os.chmod(self.key, 0o600)
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._as_pg([pg_bin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-N"])
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c ssl=on "
                f"-c ssl_cert_file={self.cert} -c ssl_key_file={self.key} -c fsync=off")
        self._as_pg([pg_bin("pg_ctl"), "-D", data, "-l", os.path.join(self.dir, "log"), "-w",
                     "-t", "60", "-o", opts, "start"])
        self.dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres " \
                   "sslmode=require"

    def _as_pg(self, cmd):
        r = subprocess.run(["runuser", "-u", "postgres", "--"] + cmd, capture_output=True,
                           timeout=120, cwd=self.dir)
        if r.returncode:
            raise RuntimeError(f"{cmd[0]} failed: {r.stderr.decode()[-500:]}")

    def stop(self):
        try:
            self._as_pg([pg_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"])
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class MariaDB:
    USER, PASSWORD = "shop", "s3cret-pw"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="loupe-my-")
        self.port = free_port()
        self.cert, self.key = make_cert(self.dir)
        data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        r = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}",
                            "--user=root", "--auth-root-authentication-method=socket",
                            "--skip-test-db"], capture_output=True, timeout=120)
        if r.returncode:
            raise RuntimeError(f"mariadb-install-db failed: {r.stderr.decode()[-500:]}")
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", "--user=root", f"--datadir={data}",
             f"--socket={self.sock}", f"--port={self.port}", "--bind-address=127.0.0.1",
             f"--ssl-cert={self.cert}", f"--ssl-key={self.key}",
             f"--pid-file={self.dir}/pid", f"--log-error={self.dir}/err.log",
             "--skip-log-bin", "--innodb-buffer-pool-size=16M", "--skip-name-resolve"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(self.port, timeout=60):
            self.stop()
            raise RuntimeError("mariadbd did not start")
        self.admin(f"DELETE FROM mysql.global_priv WHERE User=''; FLUSH PRIVILEGES; "
                   f"CREATE USER {self.USER}@'%' IDENTIFIED BY '{self.PASSWORD}'; "
                   f"GRANT ALL ON *.* TO {self.USER}@'%'; CREATE DATABASE shop")

    def admin(self, sql):
        r = subprocess.run(["mariadb", "--no-defaults", f"--socket={self.sock}", "-uroot",
                            "-e", sql], capture_output=True, timeout=60)
        if r.returncode:
            raise RuntimeError(f"mariadb -e failed: {r.stderr.decode()[-500:]}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    PASSWORD = "r3dis-pw"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="loupe-redis-")
        self.port = free_port()
        self.cert, self.key = make_cert(self.dir)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1",
             "--tls-cert-file", self.cert, "--tls-key-file", self.key,
             "--tls-auth-clients", "no", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--requirepass", self.PASSWORD],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(self.port):
            self.stop()
            raise RuntimeError("redis-server did not start")

    def cli(self):
        return ["redis-cli", "--tls", "--cacert", self.cert, "-h", "localhost",
                "-p", str(self.port), "--user", "default", "--pass", self.PASSWORD,
                "--no-auth-warning"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        shutil.rmtree(self.dir, ignore_errors=True)


class Grpc:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="loupe-grpc-")
        self.port = free_port()
        self.cert, self.key = make_cert(self.dir)
        self.proc = subprocess.Popen(
            [os.path.join(HERE, "grpc_peer.py"), "server", str(self.port),
             self.cert, self.key], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if not wait_port(self.port, timeout=30):
            err = self.proc.stderr.read1(4096) if self.proc.poll() is not None else b""
            self.stop()
            raise RuntimeError(f"grpc_peer.py server did not start: {err!r}")

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        shutil.rmtree(self.dir, ignore_errors=True)


def proto_rows(evs, proto=None, pid=None):
    """The decoded rows (operation <proto>-request/-response) of a capture."""
    return [e for e in evs if e.get("proto") and e["operation"].endswith(("-request",
                                                                          "-response"))
            and (proto is None or e["proto"] == proto) and (pid is None or e["pid"] == pid)]


def wait_rows(lp, pred, timeout=10.0):
    """Poll the capture until pred(events) holds (rows arrive as calls end)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred(lp.events()):
            return True
        time.sleep(0.1)
    return False
