#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""The man page loupe(8) and the bash completion, both made from the help
that a built loupe prints: `loupe --help`, `loupe help COMMAND` and
`loupe trace GADGET --help`.  That help is printed from the command, gadget,
option and field tables of the program, so neither can drift from them, and
neither is a second copy of the text.

usage: helpdoc.py man LOUPE [DATE] > loupe.8
       helpdoc.py bash LOUPE > loupe.bash

The help is text for people; what this reads of it:
  Usage: loupe CMD ...         synopsis lines (continued on indented lines)
  Title:                       a section, whose indented lines are items:
    TERM   DESCRIPTION         two or more spaces between them; a line
                               indented to the description column continues it
  anything else                a paragraph
"""

import re
import subprocess
import sys


def run(loupe, *args):
    r = subprocess.run([loupe, *args], capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.strip():
        sys.exit(f"helpdoc: '{loupe} {' '.join(args)}' failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


class Item:
    def __init__(self, term, desc, desc_col, raw):
        self.term, self.desc, self.desc_col, self.raw = term, desc, desc_col, raw

    def key(self):
        return (self.term, self.desc)

    def __eq__(self, other):
        return self.key() == other.key()


def parse(text):
    """Blocks of one help text: ("usage", [lines]), ("para", text) or
    ("section", title, [Item])."""
    blocks = []
    for chunk in re.split(r"\n\s*\n", text.strip("\n")):
        lines = chunk.split("\n")
        first = lines[0]
        if first.startswith("Usage: "):
            blocks.append(("usage", [first[len("Usage: "):].strip()] +
                           [l.strip() for l in lines[1:]]))
        elif re.fullmatch(r"\S.*:", first) and len(lines) > 1 and lines[1].startswith(" "):
            items = []
            for line in lines[1:]:
                indent = len(line) - len(line.lstrip())
                m = re.match(r"(\s*)(\S.*?)(?:\s{2,}(\S.*))?$", line)
                if items and indent == items[-1].desc_col and items[-1].desc:
                    items[-1].desc += " " + line.strip()  # a continued description
                    items[-1].raw += "\n" + line
                elif m.group(3):
                    items.append(Item(m.group(2), m.group(3), m.start(3), line))
                else:
                    items.append(Item(m.group(2), "", None, line))
            # A term as wide as its column is followed by one space only.
            cols = [i.desc_col for i in items if i.desc_col]
            col = max(set(cols), key=cols.count) if cols else None
            for i in items:
                if not i.desc and col and len(i.raw) > col and i.raw[col - 1] == " " \
                        and i.raw[col] != " ":
                    i.term, i.desc, i.desc_col = i.raw[:col].strip(), i.raw[col:], col
            blocks.append(("section", first[:-1], items))
        else:
            blocks.append(("para", " ".join(l.strip() for l in lines)))
    return blocks


def section(blocks, prefix):
    for b in blocks:
        if b[0] == "section" and b[1].startswith(prefix):
            return b
    return None


def collect(loupe):
    top = parse(run(loupe, "--help"))
    commands = [(i.term, i.desc) for i in section(top, "Commands")[2]]
    gadgets = [(i.term, i.desc) for i in section(top, "Gadgets")[2]]
    return {
        "version": run(loupe, "version").strip(),
        "top": top,
        "commands": commands,
        "gadgets": gadgets,
        "cmd_help": {c: parse(run(loupe, "help", c)) for c, _ in commands},
        "gadget_help": {g: parse(run(loupe, "trace", g, "--help")) for g, _ in gadgets},
    }


# --- options, as both outputs need them ----------------------------------------

def option_term(term):
    """'-o, --output FORMAT' -> (['-o', '--output'], 'FORMAT'); None if not an option."""
    if not term.startswith("-"):
        return None
    names, arg = [], None
    for tok in term.split():
        tok = tok.rstrip(",")
        if tok.startswith("-"):
            names.append(tok)
        else:
            arg = tok
    return names, arg


def choices(desc):
    """Values listed at the start of a description: 'columns (default) or json',
    'force tp_btf, tracepoint, fexit or kprobe'.  [] if it does not start so."""
    text = re.sub(r"\s*\([^)]*\)", "", desc)
    m = re.match(r"(?:force )?([a-z0-9_]+(?:, [a-z0-9_]+)* or [a-z0-9_]+)\b", text)
    return re.split(r", | or ", m.group(1)) if m else []


# What a placeholder asks for.  Anything else: the description's choices, or nothing.
METAVAR_KINDS = {"FILE": "file", "PATH": "file", "PID": "pid", "TID": "pid", "USER": "user",
                 "GROUP": "group", "A,B,...": "fields", "GADGET": "gadget", "COMMAND": "command"}
# Options whose placeholder is too general to say (NAME).
OPTION_KINDS = {"--comm": "comm", "--gadget": "gadget"}


def arg_kind(names, arg, desc):
    if arg is None:
        return None
    for n in names:
        if n in OPTION_KINDS:
            return OPTION_KINDS[n]
    if arg in METAVAR_KINDS:
        return METAVAR_KINDS[arg]
    if "|" in arg and re.fullmatch(r"[a-z0-9_|]+", arg):
        return "words:" + " ".join(arg.split("|"))
    words = choices(desc)
    return "words:" + " ".join(words) if words else "any"


def usage_grammar(usage_lines, cmd):
    """From 'loupe list containers [-o json]', 'loupe inspect [OPTIONS] FILE':
    literal sub-commands, positional placeholders, options with their values."""
    subs, positionals, opts = [], [], {}
    for line in usage_lines:
        toks = line.replace("[", " ").replace("]", " ").split()
        if toks[:2] != ["loupe", cmd]:
            continue
        toks = toks[2:]
        pos = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.startswith("-"):
                val = toks[i + 1] if i + 1 < len(toks) and not toks[i + 1].startswith("-") \
                    and toks[i + 1] not in ("OPTIONS", "ARGS") else None
                if val and val.islower():
                    opts[t] = "words:" + val
                    i += 1
                elif val:
                    opts[t] = METAVAR_KINDS.get(val, "any")
                    i += 1
                else:
                    opts.setdefault(t, None)
            elif t in ("OPTIONS", "ARGS"):
                pass
            elif t.isupper():
                pos.append(METAVAR_KINDS.get(t, "any"))
            elif re.fullmatch(r"[a-z]+", t):
                subs.append(t)
            i += 1
        if len(pos) > len(positionals):
            positionals = pos
    return subs, positionals, opts


# --- the man page --------------------------------------------------------------

def esc(s):
    s = s.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + s if s[:1] in (".", "'") else s


def fmt_words(s):
    """Options and literal words bold, placeholders (UPPER) italic."""
    out = []
    for tok in re.split(r"(\s+)", s):
        core = tok.strip("[],")
        if not core or tok.isspace():
            out.append(tok)
            continue
        lead, trail = tok[:tok.index(core)], tok[tok.index(core) + len(core):]
        if re.fullmatch(r"[A-Z][A-Z0-9_,.|]*", core):
            out.append(esc(lead) + "\\fI" + esc(core) + "\\fR" + esc(trail))
        else:
            out.append(esc(lead) + "\\fB" + esc(core) + "\\fR" + esc(trail))
    return "".join(out)


def man_blocks(blocks, out, skip=()):
    for b in blocks:
        if b in skip:
            continue
        if b[0] == "usage":
            out.append(".PP\n.nf")
            out.extend(fmt_words(u) for u in b[1])
            out.append(".fi")
        elif b[0] == "para":
            out.append(".PP\n" + esc(b[1]))
        else:
            man_section(b[1], b[2], out)


def man_section(title, items, out):
    out.append(".PP\n" + esc(title) + ":")
    if title.startswith("Examples"):
        # Commands and comments, aligned as in the help.
        lines = "\n".join(i.raw for i in items).split("\n")
        cut = min(len(l) - len(l.lstrip()) for l in lines)
        out.append(".RS 4\n.nf")
        out.extend(esc(l[cut:]) for l in lines)
        out.append(".fi\n.RE")
        return
    out.append(".RS 4")
    for i in items:
        out.append(".TP\n" + (fmt_words(i.term) if i.term.startswith("-") else
                               "\\fB" + esc(i.term) + "\\fR"))
        out.append(esc(i.desc) if i.desc else "\\&")
    out.append(".RE")


def manpage(d, date):
    out = []
    name, version = d["version"].split()[:2]
    top = d["top"]
    desc = next(b[1] for b in top if b[0] == "para")
    out.append(f'.TH LOUPE 8 "{date}" "loupe {version}" "System Administration"')
    out.append(".\\\" Generated by scripts/helpdoc.py from loupe's --help: do not edit.")
    out.append(".SH NAME\nloupe \\- " + esc(desc[0].lower() + desc[1:].rstrip(".")))
    out.append(".SH SYNOPSIS\n.nf")
    for c, _ in d["commands"]:
        for b in d["cmd_help"][c]:
            if b[0] == "usage":
                out.extend(fmt_words(u) for u in b[1])
    out.append(".fi")
    out.append(".SH DESCRIPTION")
    man_blocks([b for b in top if b[0] == "para" and not b[1].startswith("Exit status")], out)
    out.append(".SH COMMANDS")
    for c, summary in d["commands"]:
        out.append(".SS " + esc("loupe " + c))
        out.append(".PP\n" + esc(summary[0].upper() + summary[1:]) + ".")
        if c != "trace":
            man_blocks(d["cmd_help"][c], out)
    # What every gadget's help shares is said once; then each gadget's own.
    names = [g for g, _ in d["gadgets"]]
    helps = [d["gadget_help"][g] for g in names]

    def title(b, g):
        """A section's title without its gadget: 'Fields of tcp (...)' -> 'Fields (...)'."""
        return b[1].replace(f" of {g}", "")

    shared = [b for b in helps[0] if all(b in h for h in helps[1:]) and b[0] != "usage"]
    common_items = {}
    for b in helps[0]:
        if b[0] == "section" and b not in shared:
            # Items every gadget's section of that title begins with (the fields of every event).
            t, prefix = title(b, names[0]), b[2]
            for g, h in zip(names[1:], helps[1:]):
                other = next((o for o in h if o[0] == "section" and title(o, g) == t), None)
                if not other:
                    prefix = []
                    break
                n = 0
                while n < min(len(prefix), len(other[2])) and \
                        prefix[n].key() == other[2][n].key():
                    n += 1
                prefix = prefix[:n]
            if prefix:
                common_items[t] = prefix
    out.append(".SH TRACING")
    man_blocks(d["cmd_help"]["trace"], out)
    for b in shared:
        man_blocks([b], out)
    for t, items in common_items.items():
        man_section(t + ", of every gadget", items, out)
    out.append(".SH GADGETS")
    for g in names:
        out.append(".SS " + esc("loupe trace " + g))
        for b in d["gadget_help"][g]:
            if b in shared or b[0] == "usage":
                continue
            if b[0] == "section" and title(b, g) in common_items:
                n = len(common_items[title(b, g)])
                man_section(title(b, g).split(" ")[0] + " of " + g +
                            " (and those of every gadget)", b[2][n:], out)
            else:
                man_blocks([b], out)
    status = next((b[1] for b in top if b[0] == "para" and b[1].startswith("Exit status")), None)
    if status:
        out.append(".SH EXIT STATUS\n" + esc(status.split(":", 1)[1].strip()))
    out.append(".SH SEE ALSO\n\\fBbpftool\\fR(8), \\fBtshark\\fR(1)")
    return "\n".join(out) + "\n"


# --- bash completion -------------------------------------------------------------

def bash(d):
    opts, args, pos, subs, fields = {}, {}, {}, {}, {}

    def add_options(key, items):
        for i in items:
            o = option_term(i.term)
            if not o:
                continue
            names, arg = o
            opts.setdefault(key, []).extend(names)
            kind = arg_kind(names, arg, i.desc)
            for n in names:
                args[f"{key}|{n}"] = kind or "none"

    multi = False
    for c, _ in d["commands"]:
        h = d["cmd_help"][c]
        usage = next((b[1] for b in h if b[0] == "usage"), [])
        s, p, uopts = usage_grammar(usage, c)
        if c == "trace":
            # Several gadgets in one process where the usage says so.
            multi = any("[GADGET...]" in u for u in usage)
            continue
        subs[c], pos[c] = s, p
        for b in h:
            if b[0] == "section" and b[1].startswith("Options"):
                add_options(c, b[2])
        for n, kind in uopts.items():
            if f"{c}|{n}" not in args:
                opts.setdefault(c, []).append(n)
                args[f"{c}|{n}"] = kind or "none"
    for g, _ in d["gadgets"]:
        h = d["gadget_help"][g]
        key = "trace " + g
        for b in h:
            if b[0] == "section" and "options" in b[1].lower():
                add_options(key, b[2])
            if b[0] == "section" and b[1].startswith("Fields"):
                fields[g] = [i.term.lstrip("*") for i in b[2]]

    def arr(name, dct):
        lines = [f"declare -gA {name}=("]
        for k in sorted(dct):
            v = dct[k]
            v = " ".join(v) if isinstance(v, list) else v
            lines.append(f"\t[{shq(k)}]={shq(v)}")
        lines.append(")")
        return "\n".join(lines)

    out = [f"# bash completion for loupe(8), {d['version']}.",
           "# Generated by scripts/helpdoc.py from loupe's own help: do not edit.",
           "_loupe_commands=" + shq(" ".join(c for c, _ in d["commands"])),
           "_loupe_gadgets=" + shq(" ".join(g for g, _ in d["gadgets"])),
           "_loupe_multi=" + ("1" if multi else "0"),
           arr("_loupe_opts", opts), arr("_loupe_args", args), arr("_loupe_pos", pos),
           arr("_loupe_subs", subs), arr("_loupe_fields", fields), BASH_FUNC]
    return "\n".join(out) + "\n"


def shq(s):
    return "'" + s.replace("'", "'\\''") + "'"


BASH_FUNC = r'''
# Values of one kind, for the word being completed.
_loupe_values()
{
	local kind=$1 cur=$2 gadget=$3 # gadget: the gadgets named, for fields
	case $kind in
	file)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur")) ;;
	pid) COMPREPLY=($(compgen -W "$(cd /proc && printf '%s ' [0-9]*)" -- "$cur")) ;;
	user) COMPREPLY=($(compgen -u -- "$cur")) ;;
	group) COMPREPLY=($(compgen -g -- "$cur")) ;;
	comm) COMPREPLY=($(compgen -W "$(cat /proc/[0-9]*/comm 2>/dev/null | tr ' ' '?' | sort -u)" -- "$cur")) ;;
	gadget) COMPREPLY=($(compgen -W "$_loupe_gadgets" -- "$cur")) ;;
	command) COMPREPLY=($(compgen -W "$_loupe_commands" -- "$cur")) ;;
	fields)
		# A comma-separated list: complete its last element, from the
		# fields of every gadget named.
		local done=${cur%"${cur##*,}"} g all=""
		for g in $gadget; do all+=" ${_loupe_fields[$g]}"; done
		compopt -o nospace 2>/dev/null
		COMPREPLY=($(compgen -P "$done" -W "$(printf '%s\n' $all | sort -u)" -- "${cur##*,}")) ;;
	words:*) COMPREPLY=($(compgen -W "${kind#words:}" -- "$cur")) ;;
	esac
}

_loupe()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmd=${COMP_WORDS[1]} i w n=0 kind k opts="" rest
	local -a keys=() gadgets=()
	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$_loupe_commands" -- "$cur"))
		return
	fi
	# --opt=value: COMP_WORDBREAKS splits it into --opt, =, value.
	if [ "$cur" = = ]; then
		cur="" prev=${COMP_WORDS[COMP_CWORD - 1]}
	elif [ "$prev" = = ] && [ "$COMP_CWORD" -ge 2 ]; then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	fi
	keys=("$cmd")
	if [ "$cmd" = trace ]; then
		# The gadgets after `trace`: one, or several where its usage says [GADGET...].
		for ((i = 2; i < COMP_CWORD; i++)); do
			[[ " $_loupe_gadgets " == *" ${COMP_WORDS[i]} "* ]] || break
			gadgets+=("${COMP_WORDS[i]}")
			[ "$_loupe_multi" = 1 ] || break
		done
		keys=()
		for w in "${gadgets[@]}"; do keys+=("trace $w"); done
	fi
	for k in "${keys[@]}"; do
		kind=${_loupe_args[$k|$prev]}
		[ -n "$kind" ] && break
	done
	if [ -n "$kind" ] && [ "$kind" != none ]; then
		_loupe_values "$kind" "$cur" "${gadgets[*]}"
		return
	fi
	if [ "$cmd" = trace ] && [[ $cur != -* ]]; then
		if [ ${#gadgets[@]} -eq 0 ] || { [ "$_loupe_multi" = 1 ] && [ "$i" -eq "$COMP_CWORD" ]; }; then
			rest=" $_loupe_gadgets "
			for w in "${gadgets[@]}"; do rest=${rest/ $w / }; done
			COMPREPLY=($(compgen -W "$rest" -- "$cur"))
		fi
		return
	fi
	if [[ $cur == -* ]]; then
		for k in "${keys[@]}"; do opts+=" ${_loupe_opts[$k]}"; done
		COMPREPLY=($(compgen -W "$(printf '%s\n' $opts | sort -u)" -- "$cur"))
		return
	fi
	# The n-th word that is neither an option nor an option's value.
	for ((i = 2; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w == -* ]]; then
			kind=${_loupe_args[$cmd|$w]}
			[ -n "$kind" ] && [ "$kind" != none ] && [ "${COMP_WORDS[i + 1]}" != = ] && i=$((i + 1))
		elif [ "$w" != = ]; then
			n=$((n + 1))
		fi
	done
	if [ "$n" -eq 0 ] && [ -n "${_loupe_subs[$cmd]}" ]; then
		COMPREPLY=($(compgen -W "${_loupe_subs[$cmd]}" -- "$cur"))
	fi
	local -a p=(${_loupe_pos[$cmd]})
	if [ "$n" -lt "${#p[@]}" ]; then
		_loupe_values "${p[n]}" "$cur" "${COMP_WORDS[3]}"
	fi
}
complete -F _loupe loupe'''


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("man", "bash"):
        sys.exit(__doc__)
    d = collect(sys.argv[2])
    if sys.argv[1] == "man":
        date = sys.argv[3] if len(sys.argv) > 3 else subprocess.run(
            ["date", "+%Y-%m-%d"], capture_output=True, text=True).stdout.strip()
        sys.stdout.write(manpage(d, date))
    else:
        sys.stdout.write(bash(d))


if __name__ == "__main__":
    main()
