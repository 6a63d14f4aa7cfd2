"""Shared helpers of the hostile tests: connections through tests/clients/eskit_client.py,
exact error assertions, and a fingerprint of everything in a database (schema and every row)
to prove that refused calls changed nothing."""
import hashlib
import os
import sqlite3
import sys
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients"))
import eskit_client  # noqa: E402

EXT = eskit_client.EXT
connect = eskit_client.connect
one = eskit_client.one


class Failures:
    """Runs every check, records failures instead of stopping at the first, exits 1 if any."""

    def __init__(self):
        self.failed = []
        self.count = 0

    def check(self, name, cond, detail=""):
        self.count += 1
        if not cond:
            self.failed.append(name)
            print("FAIL %s %s" % (name, detail), flush=True)

    def run(self, fn):
        try:
            fn(self)
        except Exception:  # a crash of one test function is a failure, the others still run
            self.failed.append(fn.__name__)
            print("FAIL %s raised:" % fn.__name__, flush=True)
            traceback.print_exc()

    def finish(self):
        print("%d checks, %d failed" % (self.count, len(self.failed)))
        for n in self.failed:
            print("  failed: %s" % n)
        sys.exit(1 if self.failed else 0)


def error_of(conn, sql, args=()):
    """(exception class name, sqlite_errorname, message) of a statement expected to fail, or
    ('ok', result rows) when it did not fail."""
    try:
        rows = conn.execute(sql, args).fetchall()
    except sqlite3.Error as e:
        return (type(e).__name__, getattr(e, "sqlite_errorname", None), str(e))
    return ("ok", rows, None)


def expect_error(t, name, conn, sql, args, errorname, message):
    got = error_of(conn, sql, args)
    want_msg = message if isinstance(message, str) else None
    ok = got[0] != "ok" and got[1] == errorname and (
        got[2] == message if want_msg is not None else message(got[2]))
    t.check(name, ok, "got %r, want %s %r" % (
        (got[0], got[1], (got[2] or "")[:300]) if got[0] != "ok" else got[:2],
        errorname, message if want_msg is not None else "<predicate>"))
    return got


def fingerprint(conn, schema="main"):
    """A digest of the schema and every row of every table of one database."""
    h = hashlib.sha256()
    q = '"' + schema.replace('"', '""') + '"'
    objs = conn.execute(
        "SELECT type, name, tbl_name, sql FROM %s.sqlite_schema ORDER BY type, name" % q).fetchall()
    for o in objs:
        h.update(repr(o).encode())
        if o[0] == "table":
            tq = '"' + o[1].replace('"', '""') + '"'
            for row in sorted(repr(r) for r in conn.execute("SELECT * FROM %s.%s" % (q, tq))):
                h.update(row.encode())
    return h.hexdigest(), [o[1] for o in objs if o[0] == "table"]
