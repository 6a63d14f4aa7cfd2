#!/usr/bin/python3
"""The smaller items of issue 9 ("What must hold" 7).

hidden_arguments     constraints on the hidden argument columns that contradict the call's
                     arguments answer no rows, as SQL says: es_all(10) WHERE after_seq = 50,
                     es_stream('a-1') WHERE stream = 'b-1', es_stream('a-1', 3) WHERE
                     from_version = 5, both forms given twice, IN lists on the hidden column,
                     and the agreeing forms (es_stream('a-1') WHERE from_version = 5 is
                     es_stream('a-1', 5)) still answer every row
sql_length_limit     with SQLITE_LIMIT_SQL_LENGTH lowered below the length of eskit's own
                     statements (set before the first call, and again after eskit prepared),
                     every eskit function and both tables, with every filter shape, answer
                     correctly or fail with a stable code whose message does not blame
                     SQLITE_LIMIT_LENGTH; the limit is the caller's again afterwards
read_only            on a read-only connection (mode=ro, and PRAGMA query_only) to an up-to-date
                     store: es_init() returns 3, es_snapshot_invalidate of a stream without a
                     snapshot and es_snapshot_invalidate(NULL) on a store without snapshots
                     return 0, es_maintain with nothing to do works, reads work; writers fail
                     with a readonly error; the file is byte-identical afterwards
"""
import json
import os
import re
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _lc  # noqa: E402


def store(path, n=30):
    c = _lc.connect(path)
    c.execute("SELECT es_init()")
    for i in range(n):
        c.execute("SELECT es_append(?, -1, ?)", ("ab"[i % 2] + "-1",
                                                 _lc.events_json([("T%d" % (i % 3), {"i": i}, "e-%d" % i)])))
    return c


def hidden_arguments(t):
    tmp = _lc.TempDir("eskit-hidden-")
    c = store(tmp("h.db"))
    cases = [
        ("SELECT count(*) FROM es_all(10) WHERE after_seq = 50", 0),
        ("SELECT count(*) FROM es_all(50) WHERE after_seq = 10", 0),
        ("SELECT count(*) FROM es_all WHERE after_seq = 10 AND after_seq = 20", 0),
        ("SELECT count(*) FROM es_all(10) WHERE after_seq IN (20, 30)", 0),
        ("SELECT count(*) FROM es_all(10) WHERE after_seq = 10", 20),
        ("SELECT count(*) FROM es_all WHERE after_seq = 10", 20),
        ("SELECT count(*) FROM es_all(10) WHERE after_seq IN (10, 30)", 20),
        ("SELECT count(*) FROM es_stream('a-1') WHERE stream = 'b-1'", 0),
        ("SELECT count(*) FROM es_stream WHERE stream = 'a-1' AND stream = 'b-1'", 0),
        ("SELECT count(*) FROM es_stream('a-1') WHERE stream IN ('b-1', 'c-1')", 0),
        ("SELECT count(*) FROM es_stream('a-1') WHERE stream = 'a-1'", 15),
        ("SELECT count(*) FROM es_stream('a-1') WHERE stream IN ('a-1', 'b-1')", 15),
        ("SELECT count(*) FROM es_stream('a-1', 3) WHERE from_version = 5", 0),
        ("SELECT count(*) FROM es_stream('a-1', 3) WHERE from_version = 3", 13),
        ("SELECT count(*) FROM es_stream('a-1') WHERE from_version = 5", 11),  # = es_stream('a-1', 5)
        ("SELECT count(*) FROM es_stream('a-1', 1) WHERE from_version = 1", 15),
        ("SELECT count(*) FROM es_all(10) WHERE after_seq = 50 AND type = 'T1'", 0),
        ("SELECT count(*) FROM es_all(10) WHERE after_seq = 50 AND category = 'a'", 0),
    ]
    for sql, want in cases:
        t.ok("hidden: " + sql, c, sql, want=[(want,)])
    c.close()
    tmp.cleanup()


CALLS = [
    ("SELECT es_append('a-1', -1, '{\"type\":\"X\",\"data\":1}')", None),
    ("SELECT es_append('n-1', 0, '[{\"type\":\"X\",\"data\":1,\"id\":\"n1\"},{\"type\":\"Y\",\"data\":2}]', "
     "'{\"idempotency_key\":\"k\",\"metadata\":{\"m\":1}}')", [(2,)]),
    ("SELECT es_append('n-1', 0, '[{\"type\":\"X\",\"data\":1,\"id\":\"n1\"},{\"type\":\"Y\",\"data\":2}]', "
     "'{\"idempotency_key\":\"k\",\"metadata\":{\"m\":1}}')", [(2,)]),
    ("SELECT count(*) FROM es_all", None),
    ("SELECT count(*) FROM es_all(5)", None),
    ("SELECT count(*) FROM es_all WHERE type = 'T1'", [(10,)]),
    ("SELECT count(*) FROM es_all WHERE type IN ('T0', 'T2')", [(20,)]),
    ("SELECT count(*) FROM es_all WHERE category = 'b'", [(15,)]),
    ("SELECT count(*) FROM es_all WHERE stream_id = 'b-1'", [(15,)]),
    ("SELECT count(*) FROM es_all WHERE event_id IN ('e-1', 'e-2', 'n1')", [(3,)]),
    ("SELECT count(*) FROM es_stream('b-1')", [(15,)]),
    ("SELECT count(*) FROM es_stream('b-1') WHERE type = 'T2'", [(5,)]),
    ("SELECT version FROM es_stream('b-1') ORDER BY version DESC LIMIT 1", [(15,)]),
    ("SELECT es_head() > 0", [(1,)]),
    ("SELECT es_status('b-1')", [("active",)]),
    ("SELECT es_snapshot_save('b-1', 3, '{}')", None),
    ("SELECT es_snapshot_invalidate('b-1')", None),
    ("SELECT es_checkpoint('c', 4)", [(4,)]),
    ("SELECT es_checkpoint('c', 4, 5)", [(5,)]),
    ("SELECT es_archive('b-1')", [(0,)]),
    ("SELECT es_restore('b-1')", [(0,)]),
    ("SELECT es_archive('b-1', 'arch')", [(15,)]),
    ("SELECT es_restore('b-1', 'arch')", [(15,)]),
    ("SELECT es_tombstone('n-1', 'r')", [(2,)]),
    ("SELECT es_delete('n-1')", [(0,)]),
    ("SELECT json_extract(es_maintain(), '$.pending')", [(0,)]),
    ("SELECT es_wait(0, 0) > 0", [(1,)]),
    ("SELECT es_init()", [(3,)]),
    ("SELECT es_last_error() IS NULL", [(1,)]),
]


def sql_length_limit(t):
    for when in ("before the first call", "after eskit prepared"):
        tmp = _lc.TempDir("eskit-sqllen-")
        c = store(tmp("s.db"))
        c.close()
        c = _lc.connect(tmp("s.db"))
        c.execute("ATTACH ? AS arch", (tmp("arch.db"),))
        if when == "after eskit prepared":
            for sql, _ in CALLS:
                c.execute(sql).fetchall()
        limit = 160  # every call above fits; eskit's own statements do not
        c.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, limit)
        for sql, want in CALLS:
            got = _lc.attempt(c, sql)
            label = "sql length %d (%s): %s" % (limit, when, sql[:60])
            if got[0] == "ok":
                if want is not None:
                    t.eq(label, got[1], want)
                else:
                    t.check(label, True)
            else:
                t.check(label + ": fails with a stable code", _lc.stable(got[1], got[2]), repr(got))
                t.check(label + ": does not blame SQLITE_LIMIT_LENGTH", "SQLITE_LIMIT_LENGTH" not in got[2],
                        repr(got))
        t.eq("sql length (%s): the caller's limit stays" % when,
             c.getlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH), limit)
        c.close()
        tmp.cleanup()


def read_only(t):
    tmp = _lc.TempDir("eskit-ro-")
    c = store(tmp("r.db"))
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.execute("PRAGMA journal_mode=DELETE")
    c.close()
    before = _lc.file_digest(tmp("r.db"))
    for how in ("mode=ro", "query_only"):
        if how == "mode=ro":
            r = _lc.connect("file:%s?mode=ro" % tmp("r.db"), uri=True, wal=False)
        else:
            r = _lc.connect(tmp("r.db"), wal=False)
            r.execute("PRAGMA query_only=1")
        t.ok("read-only (%s): es_init on an up-to-date store" % how, r, "SELECT es_init()", want=[(3,)])
        t.ok("read-only (%s): es_init twice" % how, r, "SELECT es_init(), es_init()", want=[(3, 3)])
        t.ok("read-only (%s): invalidate a stream without a snapshot" % how, r,
             "SELECT es_snapshot_invalidate('a-1')", want=[(0,)])
        t.ok("read-only (%s): invalidate an unknown stream" % how, r,
             "SELECT es_snapshot_invalidate('nobody-1')", want=[(0,)])
        t.ok("read-only (%s): invalidate all with none stored" % how, r,
             "SELECT es_snapshot_invalidate(NULL)", want=[(0,)])
        t.ok("read-only (%s): reads" % how, r, "SELECT count(*) FROM es_all WHERE type = 'T1'", want=[(10,)])
        t.ok("read-only (%s): status, head, checkpoint read" % how, r,
             "SELECT es_status('a-1'), es_head(), es_checkpoint('nobody')", want=[("active", 30, 0)])
        got = _lc.attempt(r, "SELECT es_append('a-1', -1, '{\"type\":\"X\",\"data\":1}')")
        t.check("read-only (%s): an append fails with a readonly error" % how,
                got[0] == "error" and got[1].startswith("SQLITE_READONLY"), repr(got))
        r.close()
    t.eq("read-only: the file is byte-identical", _lc.file_digest(tmp("r.db")), before)
    tmp.cleanup()


def main():
    t = _lc.Failures("small_items")
    for fn in (hidden_arguments, sql_length_limit, read_only):
        t.run(fn)
    t.finish()


if __name__ == "__main__":
    main()
