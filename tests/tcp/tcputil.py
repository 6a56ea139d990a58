"""Helpers shared by the tcp gadget's tests (not a test itself)."""

import json
import os
import select
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from loupetest import LOUPE, loupe_maps, map_entries  # noqa: E402,F401

PEER = os.path.join(HERE, "tcp_peer.py")


class Peer:
    """A tcp_peer.py process; .line() returns its next JSON line."""

    def __init__(self, *args, netns=None):
        cmd = [sys.executable, PEER] + [str(a) for a in args]
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.buf = b""

    def line(self, timeout=10.0):
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise RuntimeError("peer said nothing: %r" % self.buf)
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    raise RuntimeError("peer exited: %s" % self.proc.stderr.read().decode())
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def wait(self, timeout=30):
        return self.proc.wait(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def events_now(loupe):
    """Events written so far (a line still being written is skipped)."""
    evs = []
    try:
        with open(loupe.out_path, "rb") as f:
            for line in f:
                try:
                    evs.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return evs


def wait_for(loupe, pred, timeout=10.0):
    """Poll loupe's output until pred(events) holds; return the events."""
    deadline = time.time() + timeout
    while True:
        evs = events_now(loupe)
        if pred(evs) or time.time() > deadline:
            return evs
        time.sleep(0.05)


def of_type(evs, t):
    return [e for e in evs if e.get("type") == t]


def netns_inode(pid="self"):
    return os.stat(f"/proc/{pid}/ns/net").st_ino



