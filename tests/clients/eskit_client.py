"""Shared helpers of the client tests: Debian's python3 sqlite3 module driving the built eskit.so.

The tests run as `python3 tests/clients/<test>.py`, so this module is importable from the
script's own directory. ES_EXT names the module (meson sets it).
"""
import os
import sqlite3

EXT = os.environ.get("ES_EXT", "")


def connect(path, load=True, wal=True, **kw):
    """A connection in autocommit (isolation_level=None) with a 10 s busy timeout unless given,
    eskit loaded (load=False: a plain client that never loaded it) and WAL mode (wal=True)."""
    kw.setdefault("isolation_level", None)
    kw.setdefault("timeout", 10)
    conn = sqlite3.connect(path, **kw)
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
