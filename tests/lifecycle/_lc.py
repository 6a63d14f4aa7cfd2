"""Shared helpers of the lifecycle reliability tests (issue 9): connections to the built
eskit.so through Debian's python3, exact error assertions, and digests that prove a refused or
foreign-facing call changed nothing (logical: schema and every row; physical: the file bytes).

The tests run as `/usr/bin/python3 tests/lifecycle/<test>.py`; ES_EXT names the module.
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
    """Autocommit connection (isolation_level=None), busy timeout `timeout` s, eskit loaded,
    WAL unless wal=False (then the file's journal mode is left alone)."""
    if not EXT:
        raise SystemExit("ES_EXT is not set (meson passes the path of eskit.so)")
    conn = sqlite3.connect(path, isolation_level=None, timeout=timeout, uri=uri, **kw)
    if load:
        conn.enable_load_extension(True)
        conn.load_extension(EXT)
        conn.enable_load_extension(False)
    if wal:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise RuntimeError("journal_mode is %r, not wal" % mode)
    return conn


def one(conn, sql, args=()):
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

    def __init__(self, title):
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
        print("%s: %d checks, %d failed" % (self.title, self.count, len(self.failed)))
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
    return h.hexdigest()


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
