#!/usr/bin/env python3
"""Workloads for test_fdpass.py: pass descriptors over unix sockets and say,
as JSON lines on stdout, what each side saw in its own /proc/self/fd.

  fdpass_peer.py five COMM        a file, a pipe, a socket, a memfd, /dev/null
  fdpass_peer.py many COMM N      N descriptors of /dev/null in one message
  fdpass_peer.py pty COMM        both ends of a new pty (runc's console socket)
  fdpass_peer.py unread COMM      a send nobody receives; exits 3 s later
  fdpass_peer.py nofds COMM       messages without SCM_RIGHTS
  fdpass_peer.py failed COMM      a send to a closed peer (EPIPE)
  fdpass_peer.py mntns COMM DIR   a file on a tmpfs mounted in a private mount namespace

Both ends set their command name to COMM, so that a test can filter on it.
"""
import ctypes
import json
import os
import socket
import sys
import tempfile
import time

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_NAME = 15
CLONE_NEWNS = 0x20000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18


def set_comm(name):
    libc.prctl(PR_SET_NAME, name.encode(), 0, 0, 0)


def link(fd):
    return os.readlink(f"/proc/self/fd/{fd}")


def ino(fd):
    return os.fstat(fd).st_ino


def say(**kw):
    # One write: both ends share stdout.
    os.write(1, (json.dumps(kw) + "\n").encode())


def receive(sock, maxfds):
    """Receive one message with descriptors and report them."""
    msg, fds, _, _ = socket.recv_fds(sock, 16, maxfds)
    say(role="receiver", pid=os.getpid(), sockfd=sock.fileno(),
        socket_ino=ino(sock.fileno()), fds=fds, links=[link(f) for f in fds])


def pair_run(send, maxfds=64):
    """Fork: the child receives, the parent sends with send(sock)."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        a.close()
        os.close(go_w)
        os.read(go_r, 1)	# the sender is ready: its fds are open
        receive(b, maxfds)
        os._exit(0)
    b.close()
    os.close(go_r)
    fds = send(a, lambda: os.write(go_w, b"g"))
    say(role="sender", pid=os.getpid(), sockfd=a.fileno(), socket_ino=ino(a.fileno()),
        fds=fds, links=[link(f) for f in fds], receiver_pid=pid)
    os.waitpid(pid, 0)


def five(comm):
    d = tempfile.mkdtemp(prefix="fdpass-")
    path = os.path.join(d, "regular file")

    def send(sock, go):
        f = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        r, w = os.pipe()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        m = os.memfd_create("loupe-test")
        n = os.open("/dev/null", os.O_RDONLY)
        fds = [f, r, s.fileno(), m, n]
        go()
        socket.send_fds(sock, [b"x"], fds)
        # Keep them open until the receiver is done: fds stay comparable.
        send.keep = (s, w)
        return fds

    pair_run(send)
    os.unlink(path)
    os.rmdir(d)


def many(comm, n):
    def send(sock, go):
        fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(n)]
        go()
        socket.send_fds(sock, [b"x"], fds)
        return fds

    pair_run(send, maxfds=n + 8)


def pty(comm):
    def send(sock, go):
        master, slave = os.openpty()
        go()
        socket.send_fds(sock, [b"x"], [master, slave])
        return [master, slave]

    pair_run(send)


def unread(comm):
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    n = os.open("/dev/null", os.O_RDONLY)
    socket.send_fds(a, [b"x"], [n])
    say(role="unread", pid=os.getpid(), fd=n)
    time.sleep(3)


def nofds(comm):
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    a.sendmsg([b"plain"])
    # Control data without SCM_RIGHTS: our own credentials.
    creds = (os.getpid()).to_bytes(4, "little") + os.getuid().to_bytes(4, "little") + \
        os.getgid().to_bytes(4, "little")
    a.sendmsg([b"creds"], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds)])
    b.recvmsg(16, 256)
    b.recvmsg(16, 256)
    say(role="nofds", pid=os.getpid())


def failed(comm):
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    b.close()
    n = os.open("/dev/null", os.O_RDONLY)
    try:
        socket.send_fds(a, [b"x"], [n])
        err = None
    except OSError as e:
        err = e.errno
    say(role="failed", pid=os.getpid(), errno=err)


def mntns(comm, d):
    def child_setup():
        if libc.unshare(CLONE_NEWNS):
            raise OSError(ctypes.get_errno(), "unshare")
        if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None):
            raise OSError(ctypes.get_errno(), "mount --make-rprivate /")
        if libc.mount(b"loupe-test", d.encode(), b"tmpfs", 0, None):
            raise OSError(ctypes.get_errno(), "mount tmpfs")

    def send(sock, go):
        child_setup()	# the sender only: the receiver stays in the host's namespace
        with open(os.path.join(d, "secret"), "w") as f:
            f.write("x")
        fd = os.open(os.path.join(d, "secret"), os.O_RDONLY)
        go()
        socket.send_fds(sock, [b"x"], [fd])
        return [fd]

    pair_run(send)


def main():
    mode, comm = sys.argv[1], sys.argv[2]
    set_comm(comm)
    if mode == "five":
        five(comm)
    elif mode == "many":
        many(comm, int(sys.argv[3]))
    elif mode == "pty":
        pty(comm)
    elif mode == "unread":
        unread(comm)
    elif mode == "nofds":
        nofds(comm)
    elif mode == "failed":
        failed(comm)
    elif mode == "mntns":
        mntns(comm, sys.argv[3])
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
