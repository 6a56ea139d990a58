#!/usr/bin/env python3
"""A TLS client that sends hostile HTTP plaintext, and the server it sends
it to; for test_hostile_http.py, not a test itself.

    hostile_peer.py COMM CERT KEY hostile|benign

The process names itself COMM (so that loupe's --comm sees the client and
nothing else), forks a server named after it with a "s" in front that reads
and drops every byte, then runs one case per connection:

  hostile: 24 connections kept open, each sending an HTTP/1 header line of
           1 MiB that never ends; an invalid chunk size; a chunk size of 21
           digits; 10,000 pipelined HTTP/1 requests; invalid HPACK; an HTTP/2
           header block of 2 MiB (HEADERS + CONTINUATION); an HPACK bomb (a
           60 KB block of one-byte references to a 4000-byte table entry:
           240 MB decoded); 10,000 HTTP/2 streams opened and never answered.
  benign:  the same connections and byte counts, well formed: 1 MiB bodies,
           valid chunks, 200 pipelined requests, 200 HTTP/2 requests.

Both end with "GET /peer/done" on a connection of its own, so the test knows
when loupe has seen everything.  Prints "cases N bytes N": the connections
with a case, the plaintext bytes written (the done request included).
"""
import ctypes
import os
import socket
import ssl
import struct
import sys
import threading

comm, cert, key, mode = sys.argv[1:5]
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_NAME = 15


def set_comm(name):
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


# --- the server: reads and drops every byte -------------------------------------
lsock = socket.socket()
lsock.bind(("127.0.0.1", 0))
lsock.listen(128)
port = lsock.getsockname()[1]
server = os.fork()
if server == 0:
    set_comm(("s" + comm)[:15])
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)

    def drain(conn):
        try:
            with sctx.wrap_socket(conn, server_side=True) as tls:
                while tls.recv(1 << 16):
                    pass
        except (OSError, ssl.SSLError):
            pass

    while True:
        c, _ = lsock.accept()
        threading.Thread(target=drain, args=(c,), daemon=True).start()
lsock.close()
set_comm(comm)

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def connect():
    raw = socket.create_connection(("127.0.0.1", port))
    return ctx.wrap_socket(raw, server_hostname="localhost")


written = 0


def send(tls, data, piece=65536):
    """Calls of at most 64 KiB, as real clients make them."""
    global written
    for i in range(0, len(data), piece):
        tls.sendall(data[i:i + piece])
    written += len(data)


def one(data):
    """A case on a connection of its own, open until the end: a freed SSL is
    reused at the same address, and loupe's conn would mix two connections."""
    tls = connect()
    send(tls, data)
    held.append(tls)


# --- HTTP/2 by hand -----------------------------------------------------------------
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = struct.pack(">I", 0)[1:] + b"\x04\x00" + struct.pack(">I", 0)
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(ftype, flags, sid, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid) + payload


def hpack_len(n, prefix_bits, first=0):
    """An HPACK integer with an n-bit prefix (RFC 7541 5.1)."""
    top = (1 << prefix_bits) - 1
    if n < top:
        return bytes([first | n])
    out, n = [first | top], n - top
    while n >= 128:
        out.append(n % 128 + 128)
        n //= 128
    return bytes(out + [n])


def literal(name_index, value, indexing=False):
    """A literal field with an indexed name (with or without incremental indexing)."""
    v = value.encode() if isinstance(value, str) else value
    head = hpack_len(name_index, 6, 0x40) if indexing else hpack_len(name_index, 4)
    return head + hpack_len(len(v), 7) + v


def get_block(path):
    # :method GET, :scheme https (static 2, 7), :path and :authority literal, not indexed.
    return b"\x82\x87" + literal(4, path) + literal(1, "localhost")


def h2(frames):
    return PREFACE + frame(4, 0, 0, b"") + b"".join(frames)


def h2_streams(n, path):
    return h2(frame(1, END_STREAM | END_HEADERS, 2 * i + 1, get_block(f"{path}/{i}"))
              for i in range(n))


# --- the cases ----------------------------------------------------------------------
held = []
def h1_head(method, path, extra=""):
    return f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n{extra}".encode()


MIB = 1 << 20
if mode == "hostile":
    for i in range(24):
        tls = connect()
        send(tls, h1_head("GET", f"/peer/long/{i}", "X-Long: ") + b"a" * MIB)
        held.append(tls)
    chunked = h1_head("POST", "/peer/chunk", "Transfer-Encoding: chunked\r\n\r\n")
    one(chunked + b"5\r\nhello\r\nzz\r\n" + b"b" * 1000)
    one(chunked + b"1" * 21 + b"\r\n" + b"c" * 1000)
    one(b"".join(h1_head("GET", f"/peer/pipelined/{i}", "\r\n") for i in range(10000)))
    one(h2([frame(1, END_STREAM | END_HEADERS, 1, b"\x80")]))
    block = get_block("/peer/huge") + literal(58, "d" * (2 * MIB))
    one(h2([frame(1, END_STREAM, 1, block[:16384])] +
           [frame(9, 0 if i + 16384 < len(block) else END_HEADERS, 1, block[i:i + 16384])
            for i in range(16384, len(block), 16384)]))
    bomb = get_block("/peer/bomb") + literal(58, "e" * 4000, indexing=True) + b"\xbe" * 60000
    one(h2([frame(1, END_STREAM, 1, bomb[:16384])] +
           [frame(9, 0 if i + 16384 < len(bomb) else END_HEADERS, 1, bomb[i:i + 16384])
            for i in range(16384, len(bomb), 16384)]))
    one(h2_streams(10000, "/peer/stream"))
else:
    for i in range(24):
        tls = connect()
        send(tls, h1_head("POST", f"/peer/body/{i}", f"Content-Length: {MIB}\r\n\r\n") +
             b"a" * MIB)
        held.append(tls)
    chunked = h1_head("POST", "/peer/chunk", "Transfer-Encoding: chunked\r\n\r\n")
    one(chunked + b"5\r\nhello\r\n3e8\r\n" + b"b" * 1000 + b"\r\n0\r\n\r\n")
    one(chunked + b"3e8\r\n" + b"c" * 1000 + b"\r\n0\r\n\r\n")
    one(b"".join(h1_head("GET", f"/peer/pipelined/{i}", "\r\n") for i in range(200)))
    one(h2([frame(1, END_STREAM | END_HEADERS, 1, get_block("/peer/small"))]))
    one(h2([frame(1, END_STREAM | END_HEADERS, 1,
                  get_block("/peer/big") + literal(58, "d" * 8000))]))
    one(h2([frame(1, END_STREAM | END_HEADERS, 1,
                  get_block("/peer/indexed") + literal(58, "e" * 4000, indexing=True) +
                  b"\xbe" * 4)]))
    one(h2_streams(200, "/peer/stream"))
one(h1_head("GET", "/peer/done", "\r\n"))
print(f"cases {24 + 7} bytes {written}", flush=True)
# The test reads loupe's rows, then lets go.
sys.stdin.readline()
for tls in held:
    tls.close()
os.kill(server, 9)
os.waitpid(server, 0)
