"""eskit, an event store inside SQLite, for Python's sqlite3 module.

The wheel carries the loadable extension eskit.so next to this file::

    import sqlite3
    import eskit

    conn = sqlite3.connect("events.db")
    eskit.load(conn)
    conn.execute("SELECT es_append('order-1', 0, ?)", ['{"type":"OrderPlaced","data":{}}'])
"""
import os
import sqlite3

__all__ = ["load", "path", "code", "CODES"]


def path() -> str:
    """The absolute path of the eskit.so shipped in this package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "eskit.so")


def load(conn: sqlite3.Connection) -> None:
    """Loads eskit into `conn`. Extension loading is switched on only for this call."""
    conn.enable_load_extension(True)
    try:
        conn.load_extension(path())
    finally:
        conn.enable_load_extension(False)


# The stable error codes of eskit's messages ("conflict: stream 'x' is at version 5, ...").
CODES = ("conflict", "duplicate_event", "archived", "tombstoned", "not_found", "invalid_argument")


def code(error: BaseException):
    """The eskit error code that starts `error`'s message ('conflict', ...), or None."""
    head = str(error).split(":", 1)[0]
    return head if head in CODES else None
