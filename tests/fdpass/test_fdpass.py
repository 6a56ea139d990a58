#!/usr/bin/env python3
"""loupe trace fdpass: descriptors passed over unix sockets, both ends.

Our own senders and receivers (fdpass_peer.py, mmsg.c) say what their
/proc/self/fd shows; every event must match it: fd numbers, file names as
readlink gives them, the socket and the peer on both sides.
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import LOUPE, TAP, Loupe, require_root, run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "fdpass_peer.py")

tap = TAP()
require_root(tap)
started = []
tmp = tempfile.mkdtemp(prefix="loupe-fdpass-")


def trace(*args):
    """A loupe session that is stopped even if the test dies half-way."""
    lp = Loupe(["trace", "fdpass", *args])
    started.append(lp)
    return lp


def cleanup():
    for lp in started:
        if lp.proc.poll() is None:
            lp.stop()
        lp.cleanup()
    shutil.rmtree(tmp, ignore_errors=True)


atexit.register(cleanup)
COMM = "fdpt%d" % os.getpid()	# ours alone; < 16 characters
COMM = COMM[:15]


def peer(*args):
    r = run([sys.executable, PEER, args[0], COMM, *map(str, args[1:])], timeout=60)
    lines = [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]
    if r.returncode:
        tap.ok(False, f"workload {args[0]} ran", r.stderr.decode())
    return {line["role"]: line for line in lines}


def of(evs, pid, typ):
    return [e for e in evs if e["pid"] == pid and e["type"] == typ]


def check_side(evs, side, other, typ, what):
    """Events of one side, in order, against what the side itself saw."""
    got = of(evs, side["pid"], typ)
    tap.eq(len(got), len(side["fds"]), f"{what}: one {typ} event per descriptor")
    tap.eq([e["fd"] for e in got], side["fds"], f"{what}: {typ} fd numbers")
    tap.eq([e["file"] for e in got], side["links"], f"{what}: {typ} files as readlink shows them")
    tap.ok(all(e["sockfd"] == side["sockfd"] and e["socket_ino"] == side["socket_ino"]
               for e in got), f"{what}: {typ} socket fd and inode",
           [(e["sockfd"], e["socket_ino"]) for e in got] + [side["sockfd"], side["socket_ino"]])
    tap.ok(got and all(e["peer_pid"] == other["pid"] and e["peer_comm"] == COMM for e in got),
           f"{what}: {typ} events name the other end ({other['pid']})",
           [(e["peer_pid"], e["peer_comm"]) for e in got])
    return got


# --- one session for our own workloads ---------------------------------------------
mmsg_bin = os.path.join(tmp, "mmsg")
cc = run(["cc", "-O2", "-Wall", "-o", mmsg_bin, os.path.join(HERE, "mmsg.c")])
tap.ok(cc.returncode == 0, "the sendmmsg workload compiles", cc.stderr.decode())
mnt = os.path.join(tmp, "private")
os.mkdir(mnt)

lp = trace("--comm", COMM)
five = peer("five")
many = peer("many", 40)
pty = peer("pty")
nofds = peer("nofds")
failed = peer("failed")
r = run([mmsg_bin, COMM])
mm = {line["role"]: line for line in map(json.loads, r.stdout.decode().splitlines())}
tap.ok(r.returncode == 0 and "receiver" in mm, "sendmmsg/recvmmsg workload ran",
       r.stdout.decode() + r.stderr.decode())
ns = peer("mntns", mnt)
# A send nobody receives is printed once --peer-wait (500 ms) is over, not held.
un = subprocess.Popen([sys.executable, PEER, "unread", COMM], stdout=subprocess.PIPE)
unread = json.loads(un.stdout.readline())
time.sleep(1.5)
early = [e for e in lp.events() if e["pid"] == unread["pid"]]
un.wait()
lp.stop()
evs = lp.events()
stats = lp.stats()
tap.ok(all(e["comm"] == COMM for e in evs), "--comm keeps our processes only",
       {e["comm"] for e in evs})

# Five kinds of files in one message.
snd, rcv = five["sender"], five["receiver"]
tap.eq(snd["links"][1:], ["pipe:[%s]" % snd["links"][1][6:-1],
                          "socket:[%s]" % snd["links"][2][8:-1],
                          "/memfd:loupe-test (deleted)", "/dev/null"],
       "workload: the sender passed a pipe, a socket, a memfd and /dev/null")
s = check_side(evs, snd, rcv, "send", "five files")
check_side(evs, rcv, snd, "receive", "five files")
tap.ok(s and all(e["uid"] == 0 and e["tid"] == snd["pid"] and e["mntns_id"] > 0 for e in s),
       "send events carry the process fields", s[:1])

# A pty handed over, as runc does through its console socket.
tap.ok(pty["sender"]["links"][0] in ("/dev/ptmx", "/dev/pts/ptmx") and
       pty["sender"]["links"][1].startswith("/dev/pts/"), "workload: a pty master and its slave",
       pty["sender"]["links"])
check_side(evs, pty["sender"], pty["receiver"], "send", "pty")
check_side(evs, pty["receiver"], pty["sender"], "receive", "pty")

# More descriptors than the kernel walks: reported, not silently cut.
snd, rcv = many["sender"], many["receiver"]
for typ, side in (("send", snd), ("receive", rcv)):
    got = of(evs, side["pid"], typ)
    tap.eq(len(got), 32, f"40 descriptors: the first 32 {typ} events")
    tap.eq([e["fd"] for e in got], side["fds"][:32], f"40 descriptors: {typ} fd numbers")
    tap.eq([e["more"] for e in got[-1:]], [8], f"40 descriptors: {typ} says 8 more")
tap.ok(stats and stats.get("fds_not_walked") == 16,
       "the fds_not_walked counter says 16 (8 sent, 8 received)", stats)

tap.ok(len(early) == 1 and early[0]["fd"] == unread["fd"] and early[0]["peer_pid"] is None
       and early[0]["file"] == "/dev/null",
       "a send never received is printed within 1.5 s, without a peer", early)

# No SCM_RIGHTS, or a send that failed: nothing.
tap.eq([e for e in evs if e["pid"] == nofds["nofds"]["pid"]], [],
       "messages without SCM_RIGHTS (plain, SCM_CREDENTIALS) make no event")
tap.eq(failed["failed"]["errno"], 32, "workload: the send to a closed peer failed (EPIPE)")
tap.eq([e for e in evs if e["pid"] == failed["failed"]["pid"]], [],
       "a failed send makes no event")
tap.ok(stats and stats.get("failed_sends", 0) >= 1, "the failed send is counted", stats)

# sendmmsg: three datagrams, the third without descriptors.
if "sender" in mm:
    for typ, side, other in (("send", mm["sender"], mm["receiver"]),
                             ("receive", mm["receiver"], mm["sender"])):
        want = [(m["msg"], f["fd"], f["link"]) for m in side["msgs"] for f in m["fds"]]
        got = of(evs, side["pid"], typ)
        tap.eq([(e["msg_index"], e["fd"], e["file"]) for e in got], want,
               f"{typ[:4]}mmsg: message index, fd and file of each descriptor")
        tap.ok(got and all(e["peer_pid"] == other["pid"] and e["socket_ino"] == side["socket_ino"]
                           for e in got), f"{typ[:4]}mmsg: socket and peer", got)

# A tmpfs mounted in a private mount namespace: the path as the sender sees it.
snd, rcv = ns["sender"], ns["receiver"]
tap.ok(snd["links"] == [os.path.join(mnt, "secret")] and not os.path.exists(
    os.path.join(mnt, "secret")), "workload: the file lives in the sender's namespace only",
    snd["links"])
check_side(evs, snd, rcv, "send", "private mount namespace")
check_side(evs, rcv, snd, "receive", "private mount namespace")
tap.ok(stats and stats["lost"] == 0 and stats["map_full"] == 0, "nothing lost", stats)

# --- --send-only / --receive-only ----------------------------------------------------
lp = trace("--comm", COMM, "--receive-only")
w = peer("five")
lp.stop()
evs = lp.events()
tap.eq({e["type"] for e in evs}, {"receive"}, "--receive-only: receive events only")
check_side(evs, w["receiver"], w["sender"], "receive", "--receive-only")

lp = trace("--comm", COMM, "--send-only")
w = peer("five")
lp.stop()
evs = lp.events()
tap.eq({e["type"] for e in evs}, {"send"}, "--send-only: send events only")
# The receiver is learnt from the kernel's map, its events being off.
check_side(evs, w["sender"], w["receiver"], "send", "--send-only")

# --- Python's multiprocessing forkserver -------------------------------------------
FORKSERVER = r"""
import json, multiprocessing as mp, os
from multiprocessing import forkserver
def child(q):
    q.put(os.getpid())
if __name__ == "__main__":
    mp.set_start_method("forkserver")
    q = mp.Queue()
    p = mp.Process(target=child, args=(q,))
    p.start()
    got = q.get(timeout=30)
    p.join()
    print(json.dumps({"pid": os.getpid(), "child": got,
                      "forkserver": forkserver._forkserver._forkserver_pid}))
"""
script = os.path.join(tmp, "fs.py")
with open(script, "w") as f:
    f.write(FORKSERVER)
exe_comm = os.path.basename(sys.executable)[:15]
# The fork server is a fresh interpreter: on a loaded host it takes its first
# descriptors well after the default 500 ms a send waits for its receiver.
lp = trace("--comm", exe_comm, "--peer-wait", "10000")
r = run([sys.executable, script], cwd=tmp)
lp.stop()
evs = lp.events()
try:
    fs = json.loads(r.stdout.decode().strip().splitlines()[-1])
except (ValueError, IndexError):
    fs = None
tap.ok(fs is not None, "the forkserver workload ran", r.stdout.decode() + r.stderr.decode())
if fs:
    sends = [e for e in of(evs, fs["pid"], "send") if e["peer_pid"] == fs["forkserver"]]
    recvs = [e for e in of(evs, fs["forkserver"], "receive") if e["peer_pid"] == fs["pid"]]
    tap.ok(len(sends) >= 2, "forkserver: the parent's passes to the fork server are seen",
           [(e["pid"], e["type"], e["fd"], e["file"], e.get("peer_pid")) for e in evs])
    tap.eq([e["file"] for e in recvs], [e["file"] for e in sends],
           "forkserver: the fork server receives the same files, naming the parent")
    tap.ok(sends and all(e["file"].startswith("pipe:[") for e in sends[:2]),
           "forkserver: the first passes are pipes (the child's status pipe)",
           [e["file"] for e in sends])

# --- usage errors ----------------------------------------------------------------------
r = run([LOUPE, "trace", "fdpass", "--send-only", "--receive-only"])
tap.ok(r.returncode == 2 and r.stderr.decode().count("\n") == 1 and b"loupe:" in r.stderr,
       "--send-only with --receive-only: one line, exit 2", r.stderr.decode())
r = run([LOUPE, "trace", "fdpass", "--peer-wait", "soon"])
tap.ok(r.returncode == 2 and b"--peer-wait" in r.stderr, "--peer-wait needs a number",
       r.stderr.decode())

tap.done()
