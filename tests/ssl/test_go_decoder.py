#!/usr/bin/env python3
"""What loupe reads from Go executables (src/gobin.c, src/x86len.c), checked
against the tools of others, on our Go programs and on the Go toolchain's own
stripped binaries (Debian's golang-go):

- the version: `go version FILE` (Go's debug/buildinfo);
- every instruction boundary of every function: binutils' `objdump -d`
  (Go 1.19 builds and a Go 1.15 one)
  (a RET missed would leave calls open; a false one would probe mid-instruction);
- functions found in the stripped builds where the unstripped build's
  .symtab puts them, with the same RETs.

Root is not needed: nothing is loaded into the kernel.
"""
import bisect
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import OUTPUT, TAP  # noqa: E402

DUMP = os.path.join(OUTPUT, "tests", "gobin_dump")
GO = os.path.join(OUTPUT, "tests", "go")
TOOLCHAIN = "/usr/lib/go-1.19/bin/go"  # stripped, cgo (linked by the system linker)
TLS_FUNCS = ["crypto/tls.(*Conn).Write", "crypto/tls.(*Conn).Read",
             "crypto/tls.(*Conn).clientHandshake", "crypto/tls.(*Conn).serverHandshake"]

tap = TAP()
for f in (DUMP, os.path.join(GO, "gotls")):
    if not os.access(f, os.X_OK):
        tap.ok(False, f"{f} is built (make check builds it)")
        tap.done()


def dump(binary, names):
    r = subprocess.run([DUMP, binary], input="\n".join(names), capture_output=True, text=True,
                       timeout=120)
    info, funcs, insns = {}, {}, {}
    for line in r.stdout.splitlines():
        f = line.split(" ")
        if f[0] == "version":
            info = {"version": f[1], "regabi": f[3], "symtab": f[5]}
        elif f[0] == "func":
            funcs[f[1]] = {"vaddr": int(f[2], 16), "size": int(f[3]), "err": int(f[5]),
                           "rets": [int(x, 16) for x in f[6:]]}
        elif f[0] == "insns":
            insns[f[1]] = [int(x, 16) for x in f[2:]]
    return r.returncode, info, funcs, insns


def objdump(binary):
    """Instruction starts and RET addresses, by objdump's linear sweep."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", binary], capture_output=True,
                         text=True, timeout=300).stdout
    starts, rets = [], set()
    for line in out.splitlines():
        m = re.match(r"\s+([0-9a-f]+):\t(\S+)", line)
        if m:
            a = int(m.group(1), 16)
            starts.append(a)
            if m.group(2) in ("ret", "retq"):
                rets.add(a)
    return sorted(set(starts)), rets


def go_version(binary):
    r = subprocess.run(["go", "version", binary], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, HOME=os.path.join(OUTPUT, "go"),
                                GOCACHE=os.path.join(OUTPUT, "go", "cache")))
    return r.stdout.split(": ", 1)[1].strip() if r.returncode == 0 else r.stderr


def func_names(binary):
    out = subprocess.run(["readelf", "-sW", binary], capture_output=True, text=True).stdout
    return sorted({f[7] for f in (line.split() for line in out.splitlines())
                   if len(f) >= 8 and f[3] == "FUNC" and f[6] != "UND"})


# Function names from the unstripped build; the stripped ones carry the same code.
names = func_names(os.path.join(GO, "gotls"))
tap.ok(len(names) > 3000, f"{len(names)} function names from gotls's .symtab")
ref = None
for name in ("gotls", "gotls-stripped", "gotls-cgo", "gotls-go115", "gonotls"):
    binary = os.path.join(GO, name)
    own = func_names(binary) if name == "gotls-go115" else names
    rc, info, funcs, insns = dump(binary, own if name != "gonotls" else TLS_FUNCS)
    tap.ok(rc == 0 and info.get("version") == go_version(binary),
           f"{name}: version {info.get('version')}, as go version says", info)
    if name == "gonotls":
        tap.ok(not funcs, "gonotls: no crypto/tls function found")
        continue
    tap.eq(info.get("regabi"), "0" if name == "gotls-go115" else "1",
           f"{name}: {'stack' if name == 'gotls-go115' else 'register'} ABI")
    tap.eq(info.get("symtab"), "1" if name in ("gotls", "gotls-go115") else "0",
           f"{name}: functions from {'.symtab' if info.get('symtab') == '1' else '.gopclntab'}")
    starts, rets = objdump(binary)
    bad, total = [], 0
    for fn, f in funcs.items():
        if f["size"] == 0 or fn.startswith("crypto/internal/boring/sig."):
            continue  # markers: bytes in .text that are no code
        theirs = starts[bisect.bisect_left(starts, f["vaddr"]):
                        bisect.bisect_left(starts, f["vaddr"] + f["size"])]
        total += len(theirs)
        if insns.get(fn) != theirs:
            bad.append(fn)
    tap.ok(len(funcs) > 3000 and not bad,
           f"{name}: {len(funcs)} functions, {total} instructions: every boundary as objdump's",
           bad[:5])
    tls = {fn: funcs.get(fn) for fn in TLS_FUNCS}
    ok = all(f and f["err"] == 0 and f["rets"] for f in tls.values())
    # RET offsets are file offsets; objdump speaks addresses: same distance from the entry.
    for fn, f in tls.items():
        if not ok:
            break
        want = sorted(a for a in rets if f["vaddr"] <= a < f["vaddr"] + f["size"])
        got_insn = insns.get(fn, [])
        ok &= len(want) == len(f["rets"]) and all(a in got_insn for a in want)
    tap.ok(ok, f"{name}: the crypto/tls functions, each RET as objdump's",
           {fn: (f and len(f["rets"])) for fn, f in tls.items()})
    if name == "gotls":
        ref = {fn: (f["vaddr"], f["size"], len(f["rets"])) for fn, f in funcs.items()}
    elif name == "gotls-stripped" and ref:
        same = [fn for fn in TLS_FUNCS if funcs.get(fn) and ref.get(fn) and
                funcs[fn]["vaddr"] == ref[fn][0] and len(funcs[fn]["rets"]) == ref[fn][2]]
        tap.eq(same, TLS_FUNCS, "stripped: .gopclntab puts the functions where .symtab does")

# The Go toolchain's own binary: stripped, linked by the system linker (cgo).
if os.path.exists(TOOLCHAIN):
    rc, info, funcs, insns = dump(TOOLCHAIN, TLS_FUNCS)
    starts, rets = objdump(TOOLCHAIN)
    # A client only: no serverHandshake in it.
    ok = rc == 0 and info.get("version") == go_version(TOOLCHAIN) and len(funcs) == 3
    for fn, f in funcs.items():
        want = sorted(a for a in rets if f["vaddr"] <= a < f["vaddr"] + f["size"])
        theirs = starts[bisect.bisect_left(starts, f["vaddr"]):
                        bisect.bisect_left(starts, f["vaddr"] + f["size"])]
        ok &= insns.get(fn) == theirs and len(want) == len(f["rets"]) > 0
    tap.ok(ok, f"{TOOLCHAIN} ({info.get('version')}, stripped, cgo): crypto/tls functions "
           "found, boundaries and RETs as objdump's", (info, {k: len(v["rets"]) for k, v in
                                                          funcs.items()}))
else:
    tap.ok(False, f"{TOOLCHAIN} is there (golang-go)")
tap.done()
