#!/usr/bin/env python3
"""Seeds for the protocol decoders' fuzz targets from a real capture.

  loupe trace ssl --comm CLIENT -o json > capture.json   (while CLIENT talks)
  fuzz/proto_seeds.py capture.json fuzz/corpus/NAME/     one seed per connection

Each connection (pid, conn) becomes one input in the targets' format
(fuzz/proto_fuzz.h): a first byte (0: no masking), then per call a byte
(bit 7: direction, 1 for writes; bits 0-6: length) and the bytes, a call
longer than 127 bytes cut in pieces.
"""
import hashlib
import json
import os
import sys


def main(capture, outdir):
    convs = {}
    with open(capture) as f:
        for line in f:
            e = json.loads(line)
            if e.get("data") is None or e.get("direction") not in ("read", "write") \
                    or e["operation"].endswith(("-request", "-response")):
                continue
            data = e["data"].encode("latin-1")
            d = 0x80 if e["direction"] == "write" else 0
            out = convs.setdefault((e["pid"], e["conn"]), bytearray(b"\0"))
            for i in range(0, len(data), 127):
                piece = data[i:i + 127]
                out += bytes([d | len(piece)]) + piece
    os.makedirs(outdir, exist_ok=True)
    for conv in convs.values():
        name = hashlib.sha1(conv).hexdigest()[:16]
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(conv)
    print(f"{len(convs)} seeds in {outdir}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
