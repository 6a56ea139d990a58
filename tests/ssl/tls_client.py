"""A real TLS client (Python's ssl module, i.e. the system's libssl through
SSL_read_ex/SSL_write_ex) for the ssl gadget's tests; not a test itself.

    tls_client.py PORT PATH [--wait]

Prints "pid N" first; with --wait it then waits for a line on stdin, so a
test can start it before loupe and release it once loupe is ready.  It sends
"GET PATH HTTP/1.0", reads the whole answer and prints its first line.
"""
import os
import socket
import ssl
import sys

port, path = int(sys.argv[1]), sys.argv[2]
print(f"pid {os.getpid()}", flush=True)
if "--wait" in sys.argv:
    sys.stdin.readline()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with socket.create_connection(("127.0.0.1", port)) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        answer = b""
        while True:
            chunk = tls.recv(65536)
            if not chunk:
                break
            answer += chunk
print(answer.split(b"\r\n", 1)[0].decode("latin-1"), flush=True)
