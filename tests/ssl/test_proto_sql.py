#!/usr/bin/env python3
"""ssl --decode on databases over TLS, real servers and clients from Debian:
PostgreSQL (psql sslmode=require, python3-psycopg2 with PREPARE/EXECUTE and
--redact, pgbench -M prepared for Parse/Bind/Execute) and MariaDB (the
mariadb client with --ssl, PHP PDO with server-side prepared statements).
Queries, tags, row counts, error codes, pairs with latency; secrets masked."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from loupetest import TAP, Loupe, require_root  # noqa: E402
from protoservers import MariaDB, Postgres, pg_bin, proto_rows, wait_rows  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
tap = TAP()
require_root(tap)


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, timeout=60, env=env)
    return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def pairs(rows):
    """(request row, response row) in order, per connection."""
    out, pending = [], {}
    for r in rows:
        key = (r["pid"], r["conn"])
        if r["operation"].endswith("-request"):
            pending.setdefault(key, []).append(r)
        elif pending.get(key):
            out.append((pending[key].pop(0), r))
    return out


def find(prs, method, text):
    return [(q, a) for q, a in prs if q["method"] == method and text in (q["request"] or "")]


def check_psql(pg):
    lp = Loupe(["trace", "ssl", "--decode", "--comm", "psql"])
    rc, out = run(["psql", pg.dsn, "-X", "-c", "CREATE TABLE items (id int, name text)",
                   "-c", "INSERT INTO items VALUES (1, 'lamp'), (2, 'desk')",
                   "-c", "SELECT name FROM items ORDER BY id", "-c", "SELECT * FROM nosuch"])
    tap.ok("relation \"nosuch\" does not exist" in out, "psql ran its four commands", out)
    wait_rows(lp, lambda evs: len(proto_rows(evs, "postgres")) >= 10)
    lp.stop()
    rows = proto_rows(lp.events(), "postgres")
    prs = pairs(rows)
    start = [p for p in prs if p[0]["method"] == "startup"]
    tap.ok(len(start) == 1 and "user=postgres" in start[0][0]["request"]
           and start[0][1]["result"] == "OK", "psql: the startup message and its OK",
           [(q["request"], a["result"]) for q, a in start])
    ins = find(prs, "query", "INSERT INTO items")
    tap.ok(len(ins) == 1 and ins[0][1]["result"] == "INSERT 0 2" and ins[0][1]["rows"] == 2,
           "psql: INSERT paired with its tag INSERT 0 2", ins)
    sel = find(prs, "query", "SELECT name FROM items")
    tap.ok(len(sel) == 1 and sel[0][1]["result"] == "SELECT 2" and sel[0][1]["rows"] == 2
           and sel[0][1]["latency"] > 0, "psql: SELECT paired: SELECT 2, rows, latency", sel)
    bad = find(prs, "query", "nosuch")
    tap.ok(len(bad) == 1 and bad[0][1]["code"] == "42P01"
           and "does not exist" in bad[0][1]["error"],
           "psql: the failing query shows SQLSTATE 42P01 and the message", bad)
    tap.ok(not [r for r in rows if r["method"] == "query" and "SCRAM" in (r["request"] or "")],
           "psql: the authentication phase is not shown as a query")
    tap.eq(len(prs), len(rows) // 2, "psql: every row is in a request/response pair")
    lp.cleanup()


def check_psycopg2(pg):
    lp = Loupe(["trace", "ssl", "--decode", "--redact", "--comm", "pg_prepared.py"])
    # Run by its #! line (Debian's python3): its comm is its name.
    rc, out = run([os.path.join(HERE, "pg_prepared.py"), pg.dsn])
    tap.ok(rc == 0 and out.split("\n")[:2] == ["42", "ssl True"],
           "psycopg2: PREPARE/EXECUTE over TLS ran", out)
    wait_rows(lp, lambda evs: len(proto_rows(evs, "postgres")) >= 12)
    lp.stop()
    evs = lp.events()
    prs = pairs(proto_rows(evs, "postgres"))
    ex = find(prs, "query", "EXECUTE add_one(41)")
    tap.ok(len(ex) == 1 and ex[0][1]["result"] == "SELECT 1" and ex[0][1]["rows"] == 1,
           "psycopg2: the prepared statement's EXECUTE paired with SELECT 1", ex)
    ins = find(prs, "query", "INSERT INTO users")
    tap.ok(len(ins) == 1 and "'*****', '**********'" in ins[0][0]["request"],
           "--redact: SQL string literals masked in the decoded request",
           [q["request"] for q, _ in ins])
    raw = b"".join(e["data"].encode("latin-1") for e in evs if e.get("data"))
    tap.ok(b"hunter2-pw" not in raw and b"carol" not in raw,
           "--redact: the literal's bytes are masked in every output")
    lp.cleanup()


def check_pgbench(pg):
    """The extended protocol: Parse (named), Bind, Execute, Sync, from pgbench."""
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)
    script.write("\\set x 41\nSELECT :x::int + 1;\n")
    script.close()
    os.chmod(script.name, 0o644)
    lp = Loupe(["trace", "ssl", "--decode", "--comm", "pgbench"])
    env = dict(os.environ, PGSSLMODE="require")
    rc, out = run([pg_bin("pgbench"), "-n", "-M", "prepared", "-t", "3", "-f", script.name,
                   f"host=127.0.0.1 port={pg.port} user=postgres dbname=postgres"], env=env)
    tap.ok(rc == 0, "pgbench -M prepared ran", out[-500:])
    wait_rows(lp, lambda evs: len(find(pairs(proto_rows(evs, "postgres")), "execute",
                                       "SELECT $1::int + 1")) >= 3)
    lp.stop()
    prs = pairs(proto_rows(lp.events(), "postgres"))
    ex = find(prs, "execute", "SELECT $1::int + 1")
    tap.ok(len(ex) == 3 and all(a["result"] == "SELECT 1" for _, a in ex),
           "pgbench: three Executes of the named statement, each with its text and SELECT 1",
           [(q["request"], a["result"]) for q, a in prs])
    os.unlink(script.name)
    lp.cleanup()


def check_mariadb(my):
    lp = Loupe(["trace", "ssl", "--decode", "--redact", "--comm", "mariadb"])
    rc, out = run(["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{my.port}", f"-u{my.USER}",
                   f"-p{my.PASSWORD}", "--ssl", "--ssl-verify-server-cert=0", "shop", "-e",
                   "CREATE TABLE t (a int); INSERT INTO t VALUES (1),(2),(3); "
                   "SELECT a FROM t WHERE a > 1; SELECT * FROM nosuch"])
    tap.ok("1146" in out, "mariadb --ssl ran its queries", out)
    wait_rows(lp, lambda evs: len(proto_rows(evs, "mysql")) >= 10)
    lp.stop()
    evs = lp.events()
    prs = pairs(proto_rows(evs, "mysql"))
    login = [p for p in prs if p[0]["method"] == "login"]
    tap.ok(len(login) == 1 and login[0][0]["request"] == f"user={my.USER} database=shop"
           and login[0][1]["result"] == "OK", "mariadb: the login (user, database) and its OK",
           login)
    ins = find(prs, "query", "INSERT INTO t")
    tap.ok(len(ins) == 1 and ins[0][1]["rows"] == 3, "mariadb: INSERT OK with 3 rows affected",
           ins)
    sel = find(prs, "query", "SELECT a FROM t")
    tap.ok(len(sel) == 1 and sel[0][1]["rows"] == 2 and sel[0][1]["latency"] > 0,
           "mariadb: the SELECT's result set has 2 rows, with latency", sel)
    bad = find(prs, "query", "nosuch")
    tap.ok(len(bad) == 1 and bad[0][1]["status"] == 1146 and bad[0][1]["code"] == "42S02",
           "mariadb: the error shows number 1146 and SQLSTATE 42S02", bad)
    raw = b"".join(e["data"].encode("latin-1") for e in evs if e.get("data"))
    tap.ok(my.PASSWORD.encode() not in raw, "--redact: nothing of the password shows")
    lp.cleanup()


def check_php(my):
    lp = Loupe(["trace", "ssl", "--decode", "--comm", "php"])
    rc, out = run(["php", os.path.join(HERE, "my_prepared.php"), str(my.port), my.cert,
                   my.USER, my.PASSWORD])
    tap.ok(rc == 0 and '"n":42' in out and "TLS" in out,
           "PHP PDO: a server-side prepared statement over TLS ran", out)
    wait_rows(lp, lambda evs: len(proto_rows(evs, "mysql")) >= 8)
    lp.stop()
    prs = pairs(proto_rows(lp.events(), "mysql"))
    prep = find(prs, "prepare", "SELECT ? + 1")
    tap.ok(len(prep) == 1 and prep[0][1]["result"].startswith("statement ")
           and "2 params, 2 columns" in prep[0][1]["result"],
           "php: COM_STMT_PREPARE paired: statement id, 2 params, 2 columns", prep)
    ex = find(prs, "execute", "SELECT ? + 1")
    tap.ok(len(ex) == 1 and ex[0][1]["rows"] == 1,
           "php: COM_STMT_EXECUTE shows the statement's text and its 1 row", ex)
    lp.cleanup()


pg = my = None
try:
    pg = Postgres()
    check_psql(pg)
    check_psycopg2(pg)
    check_pgbench(pg)
    pg.stop()
    pg = None
    my = MariaDB()
    check_mariadb(my)
    check_php(my)
finally:
    for srv in (pg, my):
        if srv:
            srv.stop()
tap.done()
