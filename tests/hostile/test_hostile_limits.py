"""Oversize input and SQLITE_LIMIT_LENGTH (conn.setlimit, Python 3.11): a batch or a state over
the limit is refused with SQLITE_TOOBIG (DataError) and writes nothing; so must be an event
whose merged metadata (options metadata + event metadata) or whose stored row exceeds the
limit although every argument is under it."""
import json
import sqlite3

from _hostile import Failures, connect, error_of, expect_error, fingerprint, one

LIMIT = 100_000


def setup():
    c = connect(":memory:", wal=False)
    c.execute("SELECT es_append('keep', 0, '{\"type\":\"T\",\"data\":1}')")
    c.execute("CREATE TEMP TABLE big(v)")
    c.execute("INSERT INTO temp.big VALUES (?)", (json.dumps({"type": "T", "data": "x" * 200_000}),))
    c.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, LIMIT)
    return c


def test_over_limit_arguments(t):
    c = setup()
    before, _ = fingerprint(c)
    big_batch = json.dumps([{"type": "T", "data": "x" * 200_000}])
    for name, sql, args in [
            ("batch parameter", "SELECT es_append('a', 0, ?)", (big_batch,)),
            ("batch from a column", "SELECT es_append('a', 0, v) FROM temp.big", ()),
            ("options parameter", "SELECT es_append('a', 0, '[]', ?)",
             (json.dumps({"metadata": {"m": "m" * 200_000}}),)),
            ("json state", "SELECT es_snapshot_save('keep', 1, ?)", (json.dumps("s" * 200_000),)),
            ("blob state", "SELECT es_snapshot_save('keep', 1, ?)", (b"s" * 200_000,)),
            ("reason", "SELECT es_tombstone('keep', ?)", ("r" * 200_000,))]:
        got = error_of(c, sql, args)
        t.check(name + " refused TOOBIG", got[0] == "DataError" and got[1] == "SQLITE_TOOBIG", repr(got)[:200])
    t.check("over-limit arguments wrote nothing", fingerprint(c)[0] == before)


def test_merged_metadata(t):
    c = setup()
    before, _ = fingerprint(c)
    events = json.dumps({"type": "T", "data": 1, "metadata": {"e": "e" * 60_000}})
    options = json.dumps({"metadata": {"o": "o" * 60_000}})
    got = error_of(c, "SELECT es_append('m', 0, ?, ?)", (events, options))
    rows = c.execute("SELECT length(metadata) FROM es_events WHERE stream_id = 'm'").fetchall()
    print("merged metadata over the limit: %r, stored rows: %r" % (got, rows))
    t.check("merged metadata over the limit refused TOOBIG", got[0] == "DataError" and got[1] == "SQLITE_TOOBIG"
            and (got[2] or "").startswith("invalid_argument: es_append(): "), repr(got)[:300])
    t.check("merged metadata: nothing written (no event with metadata silently NULL)", rows == [], repr(rows))
    t.check("merged metadata: database unchanged", fingerprint(c)[0] == before)


def test_row_over_limit(t):
    c = setup()
    before, _ = fingerprint(c)
    events = json.dumps({"type": "T", "data": "d" * 60_000})
    options = json.dumps({"metadata": {"o": "o" * 60_000}})
    got = error_of(c, "SELECT es_append('w', 0, ?, ?)", (events, options))
    print("stored row over the limit: %r" % (got,))
    t.check("row over the limit refused TOOBIG", got[0] == "DataError" and got[1] == "SQLITE_TOOBIG", repr(got))
    t.check("row over the limit: message starts with a stable code",
            (got[2] or "").startswith("invalid_argument: "), repr(got[2]))
    t.check("row over the limit: nothing written", fingerprint(c)[0] == before)
    t.check("still usable", one(c, "SELECT es_append('w', 0, '{\"type\":\"T\",\"data\":1}')") == 1)


def test_under_limit(t):
    c = setup()
    n = one(c, "SELECT es_append('u', 0, ?)", (json.dumps({"type": "T", "data": "x" * (LIMIT - 100)}),))
    t.check("event just under the limit", n == 1)
    t.check("state under the limit", one(c, "SELECT es_snapshot_save('u', 1, ?)", (b"s" * (LIMIT - 1000),)) == 1)
    # A state 10 bytes under the limit makes a snapshot row over it.
    before, _ = fingerprint(c)
    got = error_of(c, "SELECT es_snapshot_save('u', 1, ?)", (b"S" * (LIMIT - 10),))
    print("snapshot row over the limit: %r" % (got,))
    t.check("snapshot row over the limit refused TOOBIG", got[0] == "DataError" and got[1] == "SQLITE_TOOBIG", repr(got))
    t.check("snapshot row over the limit: message starts with a stable code",
            (got[2] or "").startswith("invalid_argument: "), repr(got[2]))
    t.check("snapshot row over the limit: nothing written", fingerprint(c)[0] == before)


if __name__ == "__main__":
    t = Failures()
    for f in (test_over_limit_arguments, test_merged_metadata, test_row_over_limit, test_under_limit):
        t.run(f)
    t.finish()
