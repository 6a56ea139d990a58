#!/usr/bin/python3
"""psycopg2 (Debian's python3-psycopg2) over TLS: a prepared statement by
SQL PREPARE/EXECUTE, and an INSERT with a password in a string literal.
For the protocol tests.   pg_prepared.py DSN"""
import sys

import psycopg2

conn = psycopg2.connect(sys.argv[1])
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE TABLE IF NOT EXISTS users (name text, password text)")
cur.execute("PREPARE add_one(int) AS SELECT $1 + 1")
cur.execute("EXECUTE add_one(%s)", (41,))
print(cur.fetchone()[0])
cur.execute("INSERT INTO users VALUES (%s, %s)", ("carol", "hunter2-pw"))
cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
print("ssl", cur.fetchone()[0])
conn.close()
