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
