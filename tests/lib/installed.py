"""Checks of an installed loupe, for tests/packaging/: its man page as man
renders it, and its bash completion as bash-completion loads it.  What they
are compared with is what the program itself prints (`loupe --help`,
`loupe list`, `loupe trace GADGET --help`), read here with a regex of our
own, not with the generator that made them.
"""

import os
import re
import subprocess

BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


def gadgets(loupe):
    out = subprocess.run([loupe, "list"], capture_output=True, text=True, check=True).stdout
    return [l.split()[0] for l in out.splitlines() if l.strip()]


def options(loupe, gadget):
    """Every option a gadget's help lists: '--pid', '-o', '--output', ..."""
    out = subprocess.run([loupe, "trace", gadget, "--help"], capture_output=True, text=True,
                         check=True).stdout
    opts = set()
    for line in out.splitlines():
        m = re.match(r"\s+(?:(-\w), )?(--[\w-]+)", line)
        if m:
            opts.update(o for o in m.groups() if o)
    return opts


def man_text(page=None, env=None):
    """The page rendered by man (a file with -l, else `man loupe`), plain text."""
    args = ["man", "-l", page] if page else ["man", "loupe"]
    e = dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="200", **(env or {}))
    r = subprocess.run(args, capture_output=True, text=True, env=e)
    # Backspace overstrike, if the pager kept it.
    return r.returncode, re.sub(r".\x08", "", r.stdout), r.stderr


def complete(words, env=None):
    """What bash offers for `words` (the last one being completed): bash-completion
    loads loupe's completion by itself (__load_completion, as on a Tab), then
    the function `complete -p loupe` names is called.  Returns (spec, offers)."""
    script = f"""
source {BASH_COMPLETION}
__load_completion loupe || {{ echo 'no completion found' >&2; exit 3; }}
spec=$(complete -p loupe) || exit 4
echo "SPEC $spec"
fn=$(echo "$spec" | sed -n 's/.*-F \\([^ ]*\\) .*/\\1/p')
COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))
COMP_LINE="$*"; COMP_POINT=${{#COMP_LINE}}
"$fn" loupe "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD - 1]}}"
printf 'OFFER %s\\n' "${{COMPREPLY[@]}}"
"""
    # Not a completion of the user's own (~/.local/share/bash-completion).
    e = dict(os.environ, BASH_COMPLETION_USER_DIR="/nonexistent", **(env or {}))
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", *words],
                       capture_output=True, text=True, env=e)
    spec = next((l[5:] for l in r.stdout.splitlines() if l.startswith("SPEC ")), None)
    offers = [l[6:] for l in r.stdout.splitlines() if l.startswith("OFFER ") and l[6:]]
    return spec, offers, r.stderr


def check_completion(tap, loupe, label, env=None):
    """The completion offers the commands, the gadgets, each gadget's options,
    fields for --fields and values for -o."""
    gs = gadgets(loupe)
    spec, offers, err = complete(["loupe", ""], env)
    tap.ok(spec is not None and "loupe" in spec, f"{label}: bash-completion loads it "
           f"({spec})", err)
    tap.ok({"trace", "list", "inspect", "help"} <= set(offers),
           f"{label}: 'loupe <Tab>' offers the commands", offers)
    _, offers, err = complete(["loupe", "trace", ""], env)
    tap.eq(sorted(offers), sorted(gs), f"{label}: 'loupe trace <Tab>' offers every gadget")
    for g in gs:
        want = options(loupe, g)
        _, offers, err = complete(["loupe", "trace", g, "-"], env)
        tap.ok(want and want <= set(offers),
               f"{label}: 'loupe trace {g} -<Tab>' offers its {len(want)} options",
               f"missing {sorted(want - set(offers))}; {err}")
    _, offers, _ = complete(["loupe", "trace", "tcp", "--failure"], env)
    tap.eq(offers, ["--failure-only"], f"{label}: a prefix completes to the one option")
    _, offers, _ = complete(["loupe", "trace", "ssl", "-o", ""], env)
    tap.eq(sorted(offers), ["columns", "json"], f"{label}: -o offers the output formats")
    _, offers, _ = complete(["loupe", "trace", "tcp", "--fields", "comm,er"], env)
    tap.eq(offers, ["comm,error"], f"{label}: --fields completes a field inside a list")
    usage = subprocess.run([loupe, "trace", "--help"], capture_output=True, text=True).stdout
    if "[GADGET...]" in usage:
        # Several gadgets in one process: more gadgets, and every named one's options.
        _, offers, _ = complete(["loupe", "trace", gs[0], ""], env)
        tap.eq(sorted(offers), sorted(gs[1:]), f"{label}: after a gadget, the other gadgets")
        _, offers, _ = complete(["loupe", "trace", "ssl", "tcp", "--failure"], env)
        tap.eq(offers, ["--failure-only"], f"{label}: 'trace ssl tcp' offers tcp's options too")
