#!/usr/bin/python3
"""A gRPC server or client over TLS with Debian's python3-grpcio, for the
protocol tests; not a test itself.  No generated code: the methods take and
return raw bytes.

  grpc_peer.py server PORT CERT KEY        serves test.Echo until killed
  grpc_peer.py client PORT CERT            calls each method once, prints what it got

Methods of test.Echo: Say (unary: the request reversed), Count (server
streaming: N messages for a request of N bytes), Sum (client streaming:
the total length), Chat (bidirectional: each message echoed), Fail (unary:
NOT_FOUND "no such thing: <request>").
"""
import sys
import time
from concurrent import futures

import grpc


def say(req, ctx):
    return req[::-1]


def count(req, ctx):
    for i in range(len(req)):
        yield b"n" * (i + 1)


def total(reqs, ctx):
    return str(sum(len(r) for r in reqs)).encode()


def chat(reqs, ctx):
    for r in reqs:
        yield b"re:" + r


def fail(req, ctx):
    ctx.abort(grpc.StatusCode.NOT_FOUND, "no such thing: " + req.decode("latin-1"))


def server(port, cert, key):
    handler = grpc.method_handlers_generic_handler("test.Echo", {
        "Say": grpc.unary_unary_rpc_method_handler(say),
        "Count": grpc.unary_stream_rpc_method_handler(count),
        "Sum": grpc.stream_unary_rpc_method_handler(total),
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
    })
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    srv.add_generic_rpc_handlers((handler,))
    creds = grpc.ssl_server_credentials([(open(key, "rb").read(), open(cert, "rb").read())])
    srv.add_secure_port(f"127.0.0.1:{port}", creds)
    srv.start()
    print("serving", flush=True)
    while True:
        time.sleep(3600)


def client(port, cert):
    creds = grpc.ssl_channel_credentials(root_certificates=open(cert, "rb").read())
    with grpc.secure_channel(f"localhost:{port}", creds) as ch:
        # Metadata named like a credential: --redact masks its value.
        print("Say", ch.unary_unary("/test.Echo/Say")(
            b"hello", timeout=10, metadata=(("x-user-token", "tok-SECRET-4242"),)))
        print("Count", list(ch.unary_stream("/test.Echo/Count")(b"abc", timeout=10)))
        print("Sum", ch.stream_unary("/test.Echo/Sum")(iter([b"12", b"345"]), timeout=10))
        print("Chat", list(ch.stream_stream("/test.Echo/Chat")(iter([b"x", b"yz"]), timeout=10)))
        try:
            ch.unary_unary("/test.Echo/Fail")(b"widget", timeout=10)
        except grpc.RpcError as e:
            print("Fail", e.code().name, e.details())


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        client(int(sys.argv[2]), sys.argv[3])
