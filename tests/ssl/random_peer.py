#!/usr/bin/python3
"""TLS connections that carry random bytes, both ends in this process: a
server that echoes and N clients that send random chunks of random sizes.
For the test that no decoder mistakes them for a protocol.
  random_peer.py CERT KEY N SEED"""
import random
import socket
import ssl
import sys
import threading

cert, key, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)
srv_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
srv_ctx.load_cert_chain(cert, key)
cli_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
cli_ctx.check_hostname = False
cli_ctx.verify_mode = ssl.CERT_NONE
lsock = socket.socket()
lsock.bind(("127.0.0.1", 0))
lsock.listen(n)
port = lsock.getsockname()[1]


def echo(conn):
    with srv_ctx.wrap_socket(conn, server_side=True) as s:
        while True:
            data = s.recv(65536)
            if not data:
                break
            s.sendall(data)


def serve():
    threads = []
    for _ in range(n):
        conn, _ = lsock.accept()
        threads.append(threading.Thread(target=echo, args=(conn,)))
        threads[-1].start()
    for t in threads:
        t.join(30)


# Every connection open at once: each has its own TLS handle, so loupe sees
# n connections, not one handle reused n times.
t = threading.Thread(target=serve)
t.start()
sent = 0
clients = [cli_ctx.wrap_socket(socket.create_connection(("127.0.0.1", port))) for _ in range(n)]
for c in clients:
    for _ in range(3):
        size = rnd.choice([1, 7, 24, 100, 1000, 5000, 20000])
        data = rnd.randbytes(size)
        c.sendall(data)
        got = b""
        while len(got) < size:
            got += c.recv(65536)
        sent += size
for c in clients:
    c.close()
t.join(30)
print("sent", sent)
