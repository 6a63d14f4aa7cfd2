"""Helpers shared by the Python test programs (clients, crash, hostile, lifecycle suites):
connections to the built eskit.so through Debian's python3, exact error assertions, digests that
prove a refused call changed nothing, and a self-kill at a chosen statement for crash tests.

The tests run as `/usr/bin/python3 tests/<suite>/<test>.py`; each suite's small module
(eskit_client.py, _hostile.py, _lc.py) puts this directory on sys.path. ES_EXT names the module
(meson sets it).
"""
import hashlib
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import traceback

EXT = os.environ.get("ES_EXT", "")

# Messages of eskit's own errors start with one of these (SPEC section 2).
CODES = ("conflict", "duplicate_event", "archived", "tombstoned", "not_found", "invalid_argument")
# The primary SQLite result code each code is returned with.
CODE_RC = {"conflict": "SQLITE_CONSTRAINT", "duplicate_event": "SQLITE_CONSTRAINT",
           "archived": "SQLITE_CONSTRAINT", "tombstoned": "SQLITE_CONSTRAINT",
           "not_found": "SQLITE_ERROR", "invalid_argument": "SQLITE_ERROR"}


def connect(path, uri=False, wal=True, timeout=10.0, load=True, **kw):
    """Autocommit connection (isolation_level=None unless given), busy timeout `timeout` s,
    eskit loaded (load=False: a plain client that never loaded it), WAL unless wal=False (then
    the file's journal mode is left alone)."""
    if load and not EXT:
        raise SystemExit("ES_EXT is not set (meson passes the path of eskit.so)")
    kw.setdefault("isolation_level", None)
    conn = sqlite3.connect(path, timeout=timeout, uri=uri, **kw)
    if load:
        conn.enable_load_extension(True)
        conn.load_extension(EXT)
        conn.enable_load_extension(False)  # loaded functions stay; loading is closed again
    if wal:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise RuntimeError("journal_mode is %r, not wal" % mode)
    return conn


def one(conn, sql, args=()):
    """The first column of the first row."""
    return conn.execute(sql, args).fetchone()[0]


def rows(conn, sql, args=()):
    return conn.execute(sql, args).fetchall()


def attempt(conn, sql, args=()):
    """('ok', rows) or ('error', sqlite_errorname, message)."""
    try:
        return ("ok", conn.execute(sql, args).fetchall())
    except sqlite3.Error as e:
        return ("error", getattr(e, "sqlite_errorname", None), str(e))


def code_of(message):
    """The eskit code a message starts with, or None (a bare SQLite message)."""
    m = re.match(r"([a-z_]+): ", message or "")
    return m.group(1) if m and m.group(1) in CODES else None


def stable(errorname, message):
    """An eskit error with a stable code and the SQLite result code of that code."""
    code = code_of(message)
    return code is not None and (errorname or "").split("_")[0:2] == CODE_RC[code].split("_")[0:2]


class Failures:
    """Runs every check, records failures instead of stopping at the first, exits 1 if any."""

    def __init__(self, title=""):
        self.title = title
        self.failed = []
        self.count = 0

    def check(self, name, cond, detail=""):
        self.count += 1
        if not cond:
            self.failed.append(name)
            print("FAIL %s %s" % (name, detail), flush=True)
        return cond

    def eq(self, name, got, want):
        return self.check(name, got == want, "got %r, want %r" % (got, want))

    def run(self, fn, *args):
        print("-- %s" % fn.__name__, flush=True)
        try:
            fn(self, *args)
        except Exception:  # one test function crashing is a failure; the others still run
            self.failed.append(fn.__name__)
            print("FAIL %s raised:" % fn.__name__, flush=True)
            traceback.print_exc()
            sys.stdout.flush()

    def finish(self):
        print("%s%d checks, %d failed" % (self.title + ": " if self.title else "", self.count,
                                         len(self.failed)))
        for n in dict.fromkeys(self.failed):
            print("  failed: %s" % n)
        sys.exit(1 if self.failed else 0)

    def error(self, name, conn, sql, args, errorname, message):
        """The statement fails with exactly this SQLite error name and message (message may be
        a compiled regex, matched in full)."""
        got = attempt(conn, sql, args)
        if got[0] == "ok":
            return self.check(name, False, "succeeded with %r, want %s %r" % (got[1], errorname, message))
        if hasattr(message, "fullmatch"):
            ok = message.fullmatch(got[2]) is not None
        else:
            ok = got[2] == message
        return self.check(name, ok and got[1] == errorname,
                          "got %s %r, want %s %r" % (got[1], got[2], errorname,
                                                     getattr(message, "pattern", message)))

    def ok(self, name, conn, sql, args=(), want=None):
        """The statement succeeds (with rows `want` when given); returns its rows."""
        got = attempt(conn, sql, args)
        if got[0] != "ok":
            self.check(name, False, "failed: %s %r" % (got[1], got[2]))
            return None
        if want is not None:
            self.eq(name, got[1], want)
        else:
            self.check(name, True)
        return got[1]


def fingerprint(conn, schema="main"):
    """A digest of the schema and every row of every table of one database."""
    return fingerprint_tables(conn, schema)[0]


def fingerprint_tables(conn, schema="main"):
    """fingerprint() and the names of the database's tables."""
    h = hashlib.sha256()
    q = '"' + schema.replace('"', '""') + '"'
    objs = conn.execute("SELECT type, name, tbl_name, sql FROM %s.sqlite_schema "
                        "ORDER BY type, name" % q).fetchall()
    for o in objs:
        h.update(repr(o).encode())
        if o[0] == "table":
            tq = '"' + o[1].replace('"', '""') + '"'
            for r in sorted(repr(x) for x in conn.execute("SELECT * FROM %s.%s" % (q, tq))):
                h.update(r.encode())
    return h.hexdigest(), [o[1] for o in objs if o[0] == "table"]


def file_digest(path):
    """The bytes of a database file and of its -wal and -journal files (absent or empty ones
    alike: a reader may leave an empty -wal behind)."""
    h = hashlib.sha256()
    for suffix in ("", "-wal", "-journal"):
        p = path + suffix
        if os.path.exists(p) and os.path.getsize(p) > 0:
            with open(p, "rb") as f:
                h.update(suffix.encode() + b":" + f.read())
        else:
            h.update(suffix.encode() + b":absent")
    return h.hexdigest()


def events_json(events):
    """es_append's events argument from (type, data, id-or-None) triples."""
    import json
    out = []
    for typ, data, eid in events:
        e = {"type": typ, "data": data}
        if eid is not None:
            e["id"] = eid
        out.append(e)
    return json.dumps(out)


class TempDir:
    """A scratch directory (removed at exit unless ESKIT_KEEP_TMP is set)."""

    def __init__(self, prefix):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def __call__(self, name):
        return os.path.join(self.path, name)

    def cleanup(self):
        if os.environ.get("ESKIT_KEEP_TMP"):
            print("kept %s" % self.path)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


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


# The category of a stream id (SPEC 1: the part before the first '-', the whole id without one)
# in plain SQL over a stream_id column, for reading es_events (which has no category column
# since schema 3) on connections with or without eskit.
CATEGORY_SQL = ("CASE WHEN instr(stream_id, '-') > 0 "
                "THEN substr(stream_id, 1, instr(stream_id, '-') - 1) ELSE stream_id END")


def kill_at_statement(conn, k, log=None):
    """Makes this process SIGKILL itself just before conn runs its k-th statement (1-based).

    Counts every statement SQLite starts on conn (sqlite3_trace_v2 through
    set_trace_callback): the caller's own, the ones eskit prepares and steps inside its SQL
    functions (traced with a '-- ' prefix, BEGIN and COMMIT included) and trigger programs.
    A run of the same text (a trigger firing once per row) counts once, so the points are
    "before statement n" for every statement of an eskit call. k = 0 only counts; log(n, sql)
    is called for each point. Returns a dict whose "n" is the number of points seen so far.
    """
    import signal
    seen = {"n": 0, "last": None}

    def trace(sql):
        if sql == seen["last"]:
            return
        seen["last"] = sql
        seen["n"] += 1
        if log is not None:
            log(seen["n"], sql)
        if seen["n"] == k:
            os.kill(os.getpid(), signal.SIGKILL)

    conn.set_trace_callback(trace)
    return seen
