#!/usr/bin/env python3
"""make install into a DESTDIR: the binary, loupe(8) and the bash completion
where PREFIX says; man finds and renders the page, which holds every gadget
and option the program's help lists; bash-completion loads the completion
from PREFIX/share the way it does on a Tab; make uninstall removes them.
No root needed: nothing outside the DESTDIR is written."""

import filecmp
import os
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from loupetest import TAP, LOUPE, SRCDIR  # noqa: E402
from installed import check_completion, gadgets, man_text, options  # noqa: E402

tap = TAP()
dest = tempfile.mkdtemp(prefix="loupe-install-")
prefix = "/opt/loupe-test"
root = dest + prefix


def make(*targets):
    return subprocess.run(["make", "-C", SRCDIR, "--no-print-directory", *targets,
                           f"DESTDIR={dest}", f"PREFIX={prefix}"],
                          capture_output=True, text=True, timeout=600)


try:
    r = make("install")
    tap.ok(r.returncode == 0, "make install DESTDIR=... PREFIX=/opt/loupe-test", r.stderr)
    files = {"sbin/loupe": 0o755, "share/man/man8/loupe.8": 0o644,
             "share/bash-completion/completions/loupe": 0o644}
    for f, mode in files.items():
        p = os.path.join(root, f)
        tap.ok(os.path.isfile(p) and stat.S_IMODE(os.stat(p).st_mode) == mode,
               f"{prefix}/{f} installed, mode {mode:o}")
    binary = os.path.join(root, "sbin/loupe")
    tap.ok(filecmp.cmp(binary, LOUPE, shallow=False), "the installed loupe is the one built")
    installed_files = [os.path.relpath(os.path.join(d, f), dest)
                       for d, _, fs in os.walk(dest) for f in fs]
    tap.eq(sorted(installed_files), sorted(prefix[1:] + "/" + f for f in files),
           "nothing else is installed, nothing outside PREFIX")

    # man, told where the prefix's pages are, finds the page and renders it.
    manpath = {"MANPATH": os.path.join(root, "share/man")}
    w = subprocess.run(["man", "-w", "loupe"], capture_output=True, text=True,
                       env=dict(os.environ, **manpath))
    tap.eq(w.stdout.strip(), os.path.join(root, "share/man/man8/loupe.8"),
           "man -w loupe finds the installed page")
    rc, text, err = man_text(env=manpath)
    tap.ok(rc == 0 and "loupe - look inside running processes" in text,
           "man loupe renders it, NAME first", err)
    w = subprocess.run(["lexgrog", os.path.join(root, "share/man/man8/loupe.8")],
                       capture_output=True, text=True)
    tap.ok(w.returncode == 0 and "loupe - " in w.stdout,
           f"mandb can index it (whatis: {w.stdout.strip()})")
    warn = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z",
                           os.path.join(root, "share/man/man8/loupe.8")],
                          capture_output=True, text=True)
    tap.ok(warn.returncode == 0 and not warn.stderr, "groff reads it without a warning",
           warn.stderr)
    for g in gadgets(LOUPE):
        want = {o for o in options(LOUPE, g) if o.startswith("--")}
        missing = {o for o in want if o not in text}
        tap.ok(f"loupe trace {g}" in text and not missing,
               f"the page has gadget {g} and its {len(want)} long options", sorted(missing))
    version = subprocess.run([binary, "version"], capture_output=True, text=True).stdout.split()
    tap.ok(f"loupe {version[1]}" in text, f"the page names version {version[1]}")

    # bash-completion looks in $XDG_DATA_DIRS/bash-completion/completions
    # (/usr/local/share and /usr/share by default): PREFIX/share here.
    check_completion(tap, LOUPE, "completion", env={"XDG_DATA_DIRS": os.path.join(root, "share")})

    r = make("uninstall")
    left = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs]
    tap.ok(r.returncode == 0 and not left, "make uninstall removes every file", left)
finally:
    shutil.rmtree(dest, ignore_errors=True)
tap.done()
