#!/usr/bin/env python3
"""Real TCP endpoints for the tcp gadget's tests.

Each mode names its thread with prctl (so that loupe's --comm can pick it),
prints one JSON line per fact the test needs (pid, fds, ports) and moves an
exact number of bytes, so that the close events' byte counts can be checked.

  tcp_peer.py server COMM FAMILY PORT SEND [HTTP]   accept one, read to EOF, send SEND, close
  tcp_peer.py client COMM FAMILY PORT SEND RECV     connect, send SEND, read RECV, close
  tcp_peer.py refused COMM FAMILY PORT              connect to a closed port
  tcp_peer.py loop COMM N PORT SPORTS_FILE          N loopback connections in one process
  tcp_peer.py accept-forever COMM                   block in accept() (to be killed)
  tcp_peer.py connect-forever COMM ADDR PORT        block in connect() (to be killed)
  tcp_peer.py multi COMM HOST,PORT...               connect to each at once (threads); the
                                                   target "listener" is a local listener
"""

import ctypes
import json
import os
import socket
import sys
import threading


def set_comm(name):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME


def say(**kw):
    print(json.dumps(kw), flush=True)


def fam(f):
    return (socket.AF_INET6, "::1") if f == "6" else (socket.AF_INET, "127.0.0.1")


def recv_exact(s, n):
    got = 0
    while got < n:
        b = s.recv(65536)
        if not b:
            break
        got += len(b)
    return got


def main():
    mode, comm = sys.argv[1], sys.argv[2]
    set_comm(comm)
    if mode == "server":
        af, host = fam(sys.argv[3])
        port, send = int(sys.argv[4]), int(sys.argv[5])
        http = len(sys.argv) > 6
        ls = socket.socket(af)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host, port))
        ls.listen(16)
        say(pid=os.getpid(), listen_fd=ls.fileno(), port=ls.getsockname()[1])
        s, peer = ls.accept()
        say(accept_fd=s.fileno(), peer_port=peer[1])
        if http:
            req = b""
            while b"\r\n\r\n" not in req:
                b = s.recv(4096)
                if not b:
                    break
                req += b
            body = b"x" * send
            s.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            s.shutdown(socket.SHUT_WR)
            received = len(req) + recv_exact(s, 1 << 30)
        else:
            received = recv_exact(s, 1 << 30)  # to EOF: the client closes first
            s.sendall(b"s" * send)
        s.close()
        say(received=received)
    elif mode == "client":
        af, host = fam(sys.argv[3])
        port, send, want = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
        c = socket.socket(af)
        c.connect((host, port))
        say(pid=os.getpid(), fd=c.fileno(), sport=c.getsockname()[1])
        c.sendall(b"c" * send)
        c.shutdown(socket.SHUT_WR)
        got = recv_exact(c, want)
        c.close()
        say(received=got)
    elif mode == "refused":
        af, host = fam(sys.argv[3])
        c = socket.socket(af)
        err = c.connect_ex((host, int(sys.argv[4])))
        say(pid=os.getpid(), fd=c.fileno(), err=err)
    elif mode == "loop":
        n, path = int(sys.argv[3]), sys.argv[5]
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", int(sys.argv[4])))
        ls.listen(128)
        port = ls.getsockname()[1]
        say(pid=os.getpid(), port=port)
        sports = []
        for _ in range(n):
            c = socket.socket()
            c.connect(("127.0.0.1", port))
            s, _ = ls.accept()
            sports.append(c.getsockname()[1])
            c.sendall(b"ping")
            s.recv(16)
            c.close()
            s.close()
        with open(path, "w") as f:
            json.dump(sports, f)
        say(done=n)
    elif mode == "accept-forever":
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        say(pid=os.getpid(), port=ls.getsockname()[1])
        ls.accept()
    elif mode == "connect-forever":
        c = socket.socket()
        say(pid=os.getpid(), fd=c.fileno())
        c.connect((sys.argv[3], int(sys.argv[4])))
    elif mode == "multi":
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(8)
        results, threads = {}, []

        def one(target):
            host, port = (("127.0.0.1", ls.getsockname()[1]) if target == "listener"
                          else target.split(","))
            c = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            results[target] = [c.connect_ex((host, int(port))), c.fileno(),
                               threading.get_native_id()]
            c.close()

        for t in sys.argv[3:]:
            threads.append(threading.Thread(target=one, args=(t,)))
            threads[-1].start()
        for t in threads:
            t.join()
        say(pid=os.getpid(), results=results)


if __name__ == "__main__":
    main()
