#!/usr/bin/python3
"""eskit.so as seen from Debian's python3 (stdlib sqlite3 module).

Checks: loading with enable_load_extension/load_extension; es_version(); appends to two
streams read back through es_stream and es_all with every column and its Python type; the
error contract (exception class, message prefix, sqlite_errorcode/sqlite_errorname, nothing
written); the append-only triggers as seen by a connection that never loaded eskit (writes
fail to prepare with "no such function: ..."; reads, user indexes and integrity_check work),
also on the bookkeeping tables of schema 3 (es_meta, es_lifecycle, es_postings, es_event_ids,
es_reserved_ids, es_cleanups); the schema 3 shape as a client sees it (no category column in
es_events, es_streams a view, es_category(), schema_version 3 and a UUID v4 store_id); and the
rule that es_append joins the caller's transaction.

Run: ES_EXT=/path/to/eskit.so /usr/bin/python3 tests/clients/test_python_load.py
"""
import base64
import json
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import time
import unittest

from eskit_client import EXT
import eskit_client


def connect(path, load=True, **kw):
    return eskit_client.connect(path, load=load, wal=False, **kw)

COLUMNS = ["seq", "stream_id", "category", "version", "type", "data", "metadata", "codec",
           "schema_version", "event_id", "idempotency_key", "created_at"]
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# A store's identity (es_meta 'store_id'): a random UUID, version 4.
STORE_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# Primary result codes (sqlite3.h); Python 3.11 exposes them on exceptions.
SQLITE_ERROR = 1
SQLITE_TOOBIG = 18
SQLITE_CONSTRAINT = 19
SQLITE_CONSTRAINT_TRIGGER = 1811  # SQLITE_CONSTRAINT | (7 << 8): RAISE(ABORT) in a trigger

# The function the append-only triggers call (sql/schema/current.sql). Only eskit registers it,
# so a connection without eskit cannot even prepare a write on es_events or es_streams.
WRITER_FUNCTION = "es_events and es_streams are written only by eskit: load the eskit extension"
NO_WRITER_MESSAGE = "no such function: " + WRITER_FUNCTION


def ev(type_, data, **kw):
    e = {"type": type_, "data": data}
    e.update(kw)
    return e


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="eskit-pyload-")
        self.path = os.path.join(self.tmp, "store.db")
        self.conns = []

    def tearDown(self):
        for c in self.conns:
            c.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def open(self, load=True, **kw):
        c = connect(self.path, load=load, **kw)
        self.conns.append(c)
        return c

    def append(self, conn, stream, expected, events, options=None):
        args = [stream, expected, json.dumps(events)]
        if options is None:
            return conn.execute("SELECT es_append(?, ?, ?)", args).fetchone()[0]
        args.append(json.dumps(options))
        return conn.execute("SELECT es_append(?, ?, ?, ?)", args).fetchone()[0]

    def state(self, conn):
        """Everything an append could touch, to prove that a failed call wrote nothing."""
        has = conn.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'es_events'")
        if has.fetchone()[0] == 0:
            return ("no schema",)
        # es_meta holds schema_version and the seq_floor es_head() reads; the other bookkeeping
        # tables of schema 3 (lifecycle, index blocks, id lists, clean-ups) are eskit's too;
        # sqlite_schema shows that no table, index or trigger appeared or went away.
        return (conn.execute("SELECT * FROM es_events ORDER BY seq").fetchall(),
                conn.execute("SELECT * FROM es_streams ORDER BY stream_id").fetchall(),
                conn.execute("SELECT * FROM es_meta ORDER BY key").fetchall(),
                [conn.execute("SELECT * FROM %s ORDER BY 1, 2" % t).fetchall()
                 for t in ("es_lifecycle", "es_postings", "es_event_ids", "es_reserved_ids",
                           "es_cleanups")],
                conn.execute("SELECT type, name, sql FROM sqlite_schema ORDER BY name").fetchall())

    def assert_sqlite_error(self, exc_type, code, name, prefix, fn, *args):
        with self.assertRaises(exc_type) as cm:
            fn(*args)
        e = cm.exception
        msg = str(e)
        self.assertTrue(msg.startswith(prefix), "message %r does not start with %r" % (msg, prefix))
        self.assertNotIn("SQL logic error", msg)
        self.assertEqual(e.sqlite_errorcode, code, msg)
        self.assertEqual(e.sqlite_errorname, name, msg)
        return msg


class TestLoad(Base):
    def test_load_and_version(self):
        self.assertTrue(EXT and os.path.isfile(EXT), "ES_EXT must name the built eskit.so")
        c = self.open()
        v = c.execute("SELECT es_version()").fetchone()[0]
        self.assertIsInstance(v, str)
        self.assertRegex(v, r"^\d+\.\d+\.\d+")
        # Registering creates nothing (SPEC 1); es_head on an empty file is 0.
        self.assertEqual(c.execute("SELECT es_head()").fetchone()[0], 0)
        self.assertEqual(c.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0], 0)
        self.assertEqual(c.execute("SELECT count(*) FROM es_all()").fetchone()[0], 0)


class TestAppendRead(Base):
    def test_two_streams_all_columns(self):
        c = self.open()
        before = int(time.time() * 1_000_000)
        v1 = self.append(c, "order-17", 0, [
            ev("OrderPlaced", {"customerId": "c-1", "total": 12.5, "items": [1, 2]},
               metadata={"user": "alice", "trace": "t1"}),
            ev("OrderPaid", "cGF5bG9hZA==", codec="bin", schema_version=3),
        ])
        self.assertEqual(v1, 2)
        v2 = self.append(c, "cart", -1, [ev("CartOpened", [1, "x", None],
                                             id="cart-ev-1", metadata={"a": 1})],
                         {"idempotency_key": "k-1", "timestamp": 1_700_000_000_123_456,
                          "metadata": {"a": 0, "b": "call"}})
        self.assertEqual(v2, 1)
        v3 = self.append(c, "order-17", 2, ev("OrderShipped", None))  # one object, not array
        self.assertEqual(v3, 3)
        after = int(time.time() * 1_000_000)

        cur = c.execute("SELECT * FROM es_stream('order-17')")
        self.assertEqual([d[0] for d in cur.description], COLUMNS)
        rows = [dict(zip(COLUMNS, r)) for r in cur.fetchall()]
        self.assertEqual([r["version"] for r in rows], [1, 2, 3])
        self.assertEqual([r["type"] for r in rows], ["OrderPlaced", "OrderPaid", "OrderShipped"])
        for r in rows:
            self.assertIsInstance(r["seq"], int)
            self.assertEqual(r["stream_id"], "order-17")
            self.assertEqual(r["category"], "order")
            self.assertIsInstance(r["version"], int)
            self.assertIsInstance(r["schema_version"], int)
            self.assertIsInstance(r["created_at"], int)
            self.assertGreaterEqual(r["created_at"], before - 1000)  # µs, not ms or s
            self.assertLessEqual(r["created_at"], after + 1000)
            self.assertRegex(r["event_id"], UUID_RE)  # generated: UUIDv7 text
            self.assertIsNone(r["idempotency_key"])
        self.assertEqual([r["seq"] for r in rows], sorted(r["seq"] for r in rows))
        self.assertEqual(rows[1]["seq"], rows[0]["seq"] + 1)  # one append: consecutive seq
        # json codec: TEXT that parses to the value given; other codecs: BLOB of the bytes.
        self.assertIsInstance(rows[0]["data"], str)
        self.assertEqual(json.loads(rows[0]["data"]),
                         {"customerId": "c-1", "total": 12.5, "items": [1, 2]})
        self.assertEqual(rows[0]["codec"], "json")
        self.assertEqual(rows[0]["schema_version"], 1)
        self.assertEqual(json.loads(rows[0]["metadata"]), {"user": "alice", "trace": "t1"})
        self.assertIsInstance(rows[1]["data"], bytes)
        self.assertEqual(rows[1]["data"], base64.b64decode("cGF5bG9hZA=="))
        self.assertEqual(rows[1]["codec"], "bin")
        self.assertEqual(rows[1]["schema_version"], 3)
        self.assertIsNone(rows[1]["metadata"])
        self.assertEqual(rows[2]["data"], "null")
        self.assertEqual(len({r["event_id"] for r in rows}), 3)

        cart = [dict(zip(COLUMNS, r)) for r in c.execute("SELECT * FROM es_stream('cart')")]
        self.assertEqual(len(cart), 1)
        r = cart[0]
        self.assertEqual((r["category"], r["version"], r["event_id"], r["idempotency_key"],
                          r["created_at"]),
                         ("cart", 1, "cart-ev-1", "k-1", 1_700_000_000_123_456))
        self.assertEqual(json.loads(r["data"]), [1, "x", None])
        self.assertEqual(json.loads(r["metadata"]), {"a": 1, "b": "call"})  # event key wins

        # The global log: every event once, in seq order, same columns and values.
        cur = c.execute("SELECT * FROM es_all()")
        self.assertEqual([d[0] for d in cur.description], COLUMNS)
        log = cur.fetchall()
        self.assertEqual(len(log), 4)
        seqs = [x[0] for x in log]
        self.assertEqual(seqs, sorted(set(seqs)))
        self.assertEqual([x[1] for x in log], ["order-17", "order-17", "cart", "order-17"])
        by_id = {x[9]: x for x in log}
        for x in c.execute("SELECT * FROM es_stream('order-17')"):
            self.assertEqual(by_id[x[9]], x)
        self.assertEqual(log[1:], c.execute("SELECT * FROM es_all(?)", (seqs[0],)).fetchall())
        self.assertEqual(c.execute("SELECT es_head()").fetchone()[0], max(seqs))
        # SQL storage classes in the table itself.
        types = c.execute("SELECT typeof(seq), typeof(data), typeof(metadata), "
                          "typeof(created_at), typeof(version) FROM es_events ORDER BY seq")
        self.assertEqual(types.fetchall(), [
            ("integer", "text", "text", "integer", "integer"),
            ("integer", "blob", "null", "integer", "integer"),
            ("integer", "text", "text", "integer", "integer"),
            ("integer", "text", "null", "integer", "integer"),
        ])
        # json_extract works on data (SPEC 1).
        self.assertEqual(c.execute("SELECT json_extract(data, '$.customerId') FROM es_events "
                                   "WHERE type = 'OrderPlaced'").fetchone()[0], "c-1")
        st = c.execute("SELECT stream_id, category, version, state FROM es_streams "
                       "ORDER BY stream_id").fetchall()
        self.assertEqual(st, [("cart", "cart", 1, "active"), ("order-17", "order", 3, "active")])
        # Schema 3: es_events keeps no category column; the category is computed from the id
        # (es_category(), and the category column of es_all/es_stream/es_streams).
        self.assertNotIn("category", [r[1] for r in c.execute("PRAGMA table_info(es_events)")])
        self.assertEqual(c.execute("SELECT type FROM sqlite_schema WHERE name = 'es_streams'"
                                   ).fetchone(), ("view",))
        self.assertEqual(c.execute("SELECT count(*) FROM es_all() "
                                   "WHERE category IS NOT es_category(stream_id)").fetchone(),
                         (0,))
        self.assertEqual(c.execute("SELECT es_category('order-17-x'), es_category('cart')"
                                   ).fetchone(), ("order", "cart"))
        # Unknown stream: no rows.
        self.assertEqual(c.execute("SELECT count(*) FROM es_stream('nope')").fetchone()[0], 0)

    def test_idempotency_and_replay_from_python(self):
        c = self.open()
        self.assertEqual(self.append(c, "s-1", 0, [ev("A", 1)], {"idempotency_key": "k"}), 1)
        self.assertEqual(self.append(c, "s-1", 1, [ev("B", 2, id="e-2"), ev("C", 3, id="e-3")]), 3)
        snap = self.state(c)
        # Same key, stale expected version: returns the version that append reached.
        self.assertEqual(self.append(c, "s-1", 0, [ev("A", 1)], {"idempotency_key": "k"}), 1)
        # Exact replay with caller ids: returns the last version, whatever expected says.
        self.assertEqual(self.append(c, "s-1", 1, [ev("B", 2, id="e-2"), ev("C", 3, id="e-3")]), 3)
        self.assertEqual(self.state(c), snap)
        msg = self.assert_sqlite_error(sqlite3.IntegrityError, SQLITE_CONSTRAINT,
                                       "SQLITE_CONSTRAINT", "duplicate_event: ",
                                       self.append, c, "s-2", 0, [ev("B", 2, id="e-2")])
        self.assertIn("e-2", msg)
        self.assertEqual(self.state(c), snap)


class TestErrors(Base):
    def setUp(self):
        super().setUp()
        self.c = self.open()
        self.append(self.c, "order-17", 0, [ev("A", {})] * 5)
        self.append(self.c, "other", 0, [ev("A", {})])
        self.snap = self.state(self.c)

    def tearDown(self):
        # Nothing written after any error, seen by this and by a fresh connection.
        self.assertEqual(self.state(self.c), self.snap)
        self.assertEqual(self.state(self.open(load=False)), self.snap)
        super().tearDown()

    def test_conflict(self):
        msg = self.assert_sqlite_error(sqlite3.IntegrityError, SQLITE_CONSTRAINT,
                                       "SQLITE_CONSTRAINT", "conflict: ",
                                       self.append, self.c, "order-17", 3, [ev("B", 1)])
        self.assertEqual(msg, "conflict: stream 'order-17' is at version 5, expected 3")
        msg = self.assert_sqlite_error(sqlite3.IntegrityError, SQLITE_CONSTRAINT,
                                       "SQLITE_CONSTRAINT", "conflict: ",
                                       self.append, self.c, "new-1", 4, [ev("B", 1)])
        self.assertIn("'new-1'", msg)
        self.assertIn("version 0", msg)
        self.assertIn("expected 4", msg)
        msg = self.assert_sqlite_error(sqlite3.IntegrityError, SQLITE_CONSTRAINT,
                                       "SQLITE_CONSTRAINT", "conflict: ",
                                       self.append, self.c, "new-2", -2, [ev("B", 1)])
        self.assertIn("'new-2'", msg)
        # An empty batch still checks expected_version.
        self.assert_sqlite_error(sqlite3.IntegrityError, SQLITE_CONSTRAINT, "SQLITE_CONSTRAINT",
                                 "conflict: ", self.append, self.c, "order-17", 4, [])
        self.assertEqual(self.append(self.c, "order-17", 5, []), 5)
        self.assertEqual(self.append(self.c, "order-17", -1, []), 5)

    def test_invalid_argument(self):
        cases = [
            ("order-17", -5, json.dumps([ev("A", 1)]), None),
            ("order-17", "3", json.dumps([ev("A", 1)]), None),
            ("order-17", 1.5, json.dumps([ev("A", 1)]), None),
            ("order-17", 5, json.dumps([ev("A", 1, colour="red")]), None),
            ("order-17", 5, json.dumps([{"data": 1}]), None),
            ("order-17", 5, json.dumps([{"type": "A"}]), None),
            ("order-17", 5, json.dumps([ev("", 1)]), None),
            ("order-17", 5, json.dumps([ev("A", "not base64!", codec="bin")]), None),
            ("order-17", 5, json.dumps([ev("A", 1, metadata=[1])]), None),
            ("order-17", 5, json.dumps([ev("A", 1, schema_version=0)]), None),
            ("order-17", 5, '[{"type": "A", "data": [tru]}]', None),
            ("order-17", 5, "not json", None),
            ("order-17", 5, b"[]", None),
            ("order-17", 5, 42, None),
            ("order-17", 5, None, None),
            ("order-17", 5, json.dumps([ev("A", 1)]), json.dumps({"bogus": 1})),
            ("order-17", 5, json.dumps([ev("A", 1)]), json.dumps({"timestamp": "now"})),
            ("order-17", 5, json.dumps([ev("A", 1)]), "[]"),
            ("", 5, json.dumps([ev("A", 1)]), None),
            (None, 5, json.dumps([ev("A", 1)]), None),
            (17, 5, json.dumps([ev("A", 1)]), None),
            (b"order-17", 5, json.dumps([ev("A", 1)]), None),
        ]
        for args in cases:
            with self.subTest(args=args):
                sql = "SELECT es_append(?, ?, ?, ?)" if args[3] is not None \
                    else "SELECT es_append(?, ?, ?)"
                params = args if args[3] is not None else args[:3]
                self.assert_sqlite_error(sqlite3.OperationalError, SQLITE_ERROR, "SQLITE_ERROR",
                                         "invalid_argument: ",
                                         lambda: self.c.execute(sql, params).fetchone())
        msg = self.assert_sqlite_error(
            sqlite3.OperationalError, SQLITE_ERROR, "SQLITE_ERROR", "invalid_argument: ",
            self.append, self.c, "order-17", -5, [ev("A", 1)])
        self.assertIn("-5", msg)
        msg = self.assert_sqlite_error(
            sqlite3.OperationalError, SQLITE_ERROR, "SQLITE_ERROR", "invalid_argument: ",
            self.append, self.c, "order-17", 5, [ev("A", 1, colour="red")])
        self.assertIn("colour", msg)

    def test_oversized(self):
        events = json.dumps([ev("A", 1)])
        for sid in ["x" * 1025, "é" * 512 + "x", "y" * 100_000]:  # bytes, not characters
            with self.subTest(length=len(sid.encode())):
                msg = self.assert_sqlite_error(
                    sqlite3.DataError, SQLITE_TOOBIG, "SQLITE_TOOBIG", "invalid_argument: ",
                    lambda: self.c.execute("SELECT es_append(?, 0, ?)", (sid, events)).fetchone())
                self.assertIn("stream_id", msg)
                self.assertIn(str(len(sid.encode())), msg)
        for key, value in [("type", "t" * 1025), ("id", "i" * 1025)]:
            with self.subTest(field=key):
                e = ev("A", 1)
                e[key] = value
                self.assert_sqlite_error(sqlite3.DataError, SQLITE_TOOBIG, "SQLITE_TOOBIG",
                                         "invalid_argument: ", self.append, self.c, "big", 0, [e])
        self.assert_sqlite_error(sqlite3.DataError, SQLITE_TOOBIG, "SQLITE_TOOBIG",
                                 "invalid_argument: ", self.append, self.c, "big", 0,
                                 [ev("A", 1)], {"idempotency_key": "k" * 1025})

    def test_max_length_is_accepted(self):
        # 1024 bytes is the limit, inclusive; undo it so that tearDown's check still holds.
        self.c.execute("BEGIN")
        sid = "z" * 1024
        self.assertEqual(self.append(self.c, sid, 0, [ev("A", 1, id="i" * 1024)]), 1)
        self.assertEqual(self.c.execute("SELECT count(*) FROM es_stream(?)", (sid,)).fetchone(),
                         (1,))
        self.c.execute("ROLLBACK")

    def test_errors_inside_caller_transaction_keep_it_usable(self):
        c = self.c
        c.execute("CREATE TABLE audit(x)")
        self.snap = self.state(c)
        c.execute("BEGIN")
        c.execute("INSERT INTO audit VALUES (1)")
        self.assertEqual(self.append(c, "tx-1", 0, [ev("A", 1)]), 1)
        with self.assertRaises(sqlite3.IntegrityError):
            self.append(c, "order-17", 0, [ev("A", 1)])
        with self.assertRaises(sqlite3.OperationalError):
            self.append(c, "order-17", 5, [ev("A", 1, nope=1)])
        with self.assertRaises(sqlite3.DataError):
            self.append(c, "x" * 1025, 5, [ev("A", 1)])
        self.assertTrue(c.in_transaction, "a failed append must not end the caller's txn")
        self.assertEqual(self.append(c, "tx-1", 1, [ev("B", 2)]), 2)
        c.execute("ROLLBACK")
        self.assertEqual(c.execute("SELECT count(*) FROM audit").fetchone()[0], 0)


TRIGGER_CASES = [
    ("INSERT INTO es_events(stream_id, version, type, data, event_id, created_at) "
     "VALUES ('order-17', 6, 'X', '{}', 'forged', 1)",
     "es_events is append-only: add events with es_append()"),
    ("UPDATE es_events SET data = '{\"hacked\":1}' WHERE version = 1",
     "es_events is append-only: events cannot be updated"),
    ("DELETE FROM es_events WHERE stream_id = 'order-17'",
     "es_events is append-only: remove streams with es_tombstone() or es_delete()"),
    ("INSERT INTO es_streams(stream_id, category, version, created_at, updated_at) "
     "VALUES ('forged', 'forged', 1, 1, 1)",
     "es_streams is maintained by eskit: streams are created by es_append()"),
    ("UPDATE es_streams SET version = 99",
     "es_streams is maintained by eskit: use es_append(), es_archive(), es_restore() or "
     "es_tombstone()"),
    ("DELETE FROM es_streams",
     "es_streams is maintained by eskit: remove streams with es_delete()"),
    # Schema 3's bookkeeping tables are guarded the same way (es_meta always has rows, so its
    # UPDATE and DELETE triggers fire; the others are empty here, so an INSERT shows theirs).
    ("UPDATE es_meta SET value = 0 WHERE key = 'seq_floor' OR key = 'indexed_upto'",
     "es_meta is maintained by eskit"),
    ("DELETE FROM es_meta", "es_meta is maintained by eskit"),
    ("INSERT INTO es_meta(key, value) VALUES ('forged', 1)", "es_meta is maintained by eskit"),
    ("INSERT INTO es_lifecycle(stream_id, state, version, created_at, updated_at) "
     "VALUES ('order-17', 'tombstoned', 2, 1, 1)", "es_lifecycle is maintained by eskit"),
    ("INSERT INTO es_postings(kind, key, last_seq, seqs) VALUES (1, 'order', 9, x'09')",
     "es_postings is maintained by eskit"),
    ("INSERT INTO es_event_ids(event_id, seq) VALUES ('forged', 1)",
     "es_event_ids is maintained by eskit"),
    ("INSERT INTO es_reserved_ids(event_id, stream_id) VALUES ('forged', 'x')",
     "es_reserved_ids is maintained by eskit"),
    ("INSERT INTO es_cleanups(store_id, stream_id, move_id) VALUES ('s', 'order-17', 'm')",
     "es_cleanups is maintained by eskit"),
]


class TestAppendOnly(Base):
    def setUp(self):
        super().setUp()
        self.c = self.open()
        self.append(self.c, "order-17", 0, [ev("A", {"n": 1}), ev("B", {"n": 2})])
        self.snap = self.state(self.c)

    def check_refused(self, conn, loaded=True):
        """Every direct write fails. With eskit loaded: the trigger's RAISE message
        (SQLITE_CONSTRAINT_TRIGGER). Without: the statement does not even prepare, because the
        triggers call a function only eskit registers (SQLITE_ERROR, "no such function")."""
        for sql, text in TRIGGER_CASES:
            with self.subTest(sql=sql[:40], loaded=loaded):
                if loaded:
                    with self.assertRaises(sqlite3.IntegrityError) as cm:
                        conn.execute(sql)
                    self.assertEqual(str(cm.exception), text)
                    self.assertEqual(cm.exception.sqlite_errorcode, SQLITE_CONSTRAINT_TRIGGER)
                    self.assertEqual(cm.exception.sqlite_errorname, "SQLITE_CONSTRAINT_TRIGGER")
                else:
                    with self.assertRaises(sqlite3.OperationalError) as cm:
                        conn.execute(sql)
                    self.assertEqual(str(cm.exception), NO_WRITER_MESSAGE)
                    self.assertEqual(cm.exception.sqlite_errorcode, SQLITE_ERROR)
                    self.assertEqual(cm.exception.sqlite_errorname, "SQLITE_ERROR")
        self.assertEqual(self.state(conn), self.snap)
        self.assertEqual(self.state(self.c), self.snap)

    def test_plain_connection_is_refused(self):
        plain = self.open(load=False)
        with self.assertRaises(sqlite3.OperationalError):  # really has no eskit
            plain.execute("SELECT es_version()")
        self.check_refused(plain, loaded=False)
        # Also inside an explicit transaction, which must stay usable afterwards.
        plain.execute("BEGIN IMMEDIATE")
        self.check_refused(plain, loaded=False)
        self.assertTrue(plain.in_transaction)
        plain.execute("COMMIT")
        self.assertEqual(self.state(self.c), self.snap)
        # Writes to the other eskit tables are not guarded: they still prepare and run there.
        plain.execute("INSERT INTO es_checkpoints(consumer, seq, updated_at) VALUES ('p', 1, 1)")
        self.assertEqual(self.c.execute("SELECT es_checkpoint('p')").fetchone()[0], 1)
        plain.execute("DELETE FROM es_checkpoints")
        self.assertEqual(self.state(self.c), self.snap)

    def test_plain_connection_integrity_check(self):
        # A store with events, a deleted stream (so es_meta holds a seq_floor) and a user
        # index: integrity_check walks every table and index without calling the writer
        # function, so it passes on a connection that never loaded eskit.
        self.append(self.c, "gone-1", 0, [ev("G", {"n": 9})])
        self.append(self.c, "order-17", 2, [ev("C", {"n": 3})])
        self.assertEqual(self.c.execute("SELECT es_delete('order-17')").fetchone()[0], 3)
        self.c.execute("CREATE INDEX by_n ON es_events(json_extract(data, '$.n'))")
        head = self.c.execute("SELECT es_head()").fetchone()[0]
        self.assertEqual(head, 4)
        self.snap = self.state(self.c)
        plain = self.open(load=False)
        self.assertEqual(plain.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        self.assertEqual(plain.execute("PRAGMA quick_check").fetchall(), [("ok",)])
        self.assertEqual(plain.execute("PRAGMA foreign_key_check").fetchall(), [])
        # Plain reads see the rows and the high-water mark es_head() is computed from.
        self.assertEqual(plain.execute("SELECT seq, stream_id, version, type FROM es_events "
                                       "ORDER BY seq").fetchall(), [(3, "gone-1", 1, "G")])
        self.assertEqual(plain.execute("SELECT value FROM es_meta WHERE key = 'seq_floor'"
                                       ).fetchone(), (head,))
        self.assertEqual(plain.execute("SELECT value FROM es_meta WHERE key = 'schema_version'"
                                       ).fetchone(), (3,))
        self.assertRegex(plain.execute("SELECT value FROM es_meta WHERE key = 'store_id'"
                                       ).fetchone()[0], STORE_ID_RE)
        self.assertEqual(plain.execute("SELECT type FROM es_events "
                                       "WHERE json_extract(data, '$.n') = 9").fetchone(), ("G",))
        self.assertEqual(self.state(plain), self.snap)

    def test_plain_connection_can_read(self):
        plain = self.open(load=False)
        rows = plain.execute("SELECT stream_id, version, type, json_extract(data, '$.n') "
                             "FROM es_events ORDER BY seq").fetchall()
        self.assertEqual(rows, [("order-17", 1, "A", 1), ("order-17", 2, "B", 2)])
        self.assertEqual(plain.execute("SELECT version, state FROM es_streams").fetchall(),
                         [(2, "active")])
        # Users may build indexes on the tables (SPEC 1).
        plain.execute("CREATE INDEX by_n ON es_events(json_extract(data, '$.n'))")
        self.assertEqual(plain.execute("SELECT type FROM es_events "
                                       "WHERE json_extract(data, '$.n') = 2").fetchone(), ("B",))
        # And eskit keeps appending with that index present.
        self.assertEqual(self.append(self.c, "order-17", 2, [ev("C", {"n": 3})]), 3)
        self.snap = self.state(self.c)

    def test_loaded_connection_is_refused_too(self):
        self.check_refused(self.c)
        # The writer function exists here, with the three arities the triggers use (store),
        # (store, seq) and (store, op, stream), and says "no" outside an eskit call, also for
        # this store's own identity and the seq the next append would take.
        store = self.c.execute("SELECT value FROM es_meta WHERE key = 'store_id'").fetchone()[0]
        f = '"%s"' % WRITER_FUNCTION
        self.assertEqual(self.c.execute(
            "SELECT %s(?), %s(?, 3), %s(?, 'delete', 'order-17'), %s(?, 'update', 'order-17')"
            % (f, f, f, f), (store,) * 4).fetchone(), (0, 0, 0, 0))
        for args in ("", "1, 2, 3, 4"):
            with self.assertRaises(sqlite3.OperationalError) as cm:
                self.c.execute("SELECT %s(%s)" % (f, args))
            self.assertEqual(str(cm.exception),
                             "wrong number of arguments to function %s()" % WRITER_FUNCTION)

    def test_writer_flag_does_not_leak_into_the_callers_transaction(self):
        c = self.c
        c.execute("BEGIN")
        self.assertEqual(self.append(c, "order-17", 2, [ev("C", {})]), 3)
        self.snap = self.state(c)
        self.check_refused(c)  # after an append in the same transaction
        with self.assertRaises(sqlite3.IntegrityError):
            self.append(c, "order-17", 0, [ev("D", {})])
        self.check_refused(c)  # after a failed append in the same transaction
        c.execute("COMMIT")
        self.assertEqual(self.state(self.open(load=False)), self.snap)


class TestTransactions(Base):
    def setUp(self):
        super().setUp()
        self.c = self.open()
        self.c.execute("CREATE TABLE orders(id INTEGER PRIMARY KEY, note TEXT)")

    def counts(self, conn):
        n_orders = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        n_events = conn.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'es_events'"
                                ).fetchone()[0] and \
            conn.execute("SELECT count(*) FROM es_events").fetchone()[0]
        n_streams = n_events and conn.execute("SELECT count(*) FROM es_streams").fetchone()[0]
        return n_orders, n_events, n_streams

    def test_rollback_undoes_both(self):
        c = self.c
        self.append(c, "seed", 0, [ev("S", 1)])  # schema exists before the transaction
        head = c.execute("SELECT es_head()").fetchone()[0]
        c.execute("BEGIN")
        c.execute("INSERT INTO orders(note) VALUES ('o1')")
        self.assertEqual(c.execute("SELECT es_append('order-1', 0, ?)",
                                   (json.dumps([ev("Placed", {})]),)).fetchone()[0], 1)
        self.assertEqual(self.counts(c), (1, 2, 2))  # visible inside the transaction
        c.execute("ROLLBACK")
        self.assertEqual(self.counts(c), (0, 1, 1))
        self.assertEqual(self.counts(self.open(load=False)), (0, 1, 1))
        self.assertEqual(c.execute("SELECT es_status('order-1')").fetchone()[0], "none")
        self.assertEqual(c.execute("SELECT es_head()").fetchone()[0], head)

    def test_rollback_of_lazy_schema_creation(self):
        # The first append on a fresh file creates the tables inside the caller's transaction;
        # a ROLLBACK removes them again. The connection must notice and create them anew
        # (es_append and es_init), not fail with "no such table: main.es_meta".
        c = self.c
        c.execute("BEGIN")
        c.execute("INSERT INTO orders(note) VALUES ('o1')")
        self.assertEqual(self.append(c, "order-1", 0, [ev("Placed", {})]), 1)
        c.execute("ROLLBACK")
        self.assertEqual(self.counts(c), (0, 0, 0))
        self.assertEqual(c.execute("SELECT es_head()").fetchone()[0], 0)
        self.assertEqual(self.append(c, "order-1", 0, [ev("Placed", {})]), 1)
        self.assertEqual(self.counts(self.open(load=False)), (0, 1, 1))
        # Same with es_init() rolled back, on a second fresh file.
        e = sqlite3.connect(os.path.join(self.tmp, "second.db"), isolation_level=None)
        self.conns.append(e)
        e.enable_load_extension(True)
        e.load_extension(EXT)
        e.execute("BEGIN")
        self.assertEqual(e.execute("SELECT es_init()").fetchone()[0], 3)
        e.execute("ROLLBACK")
        self.assertEqual(e.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0], 0)
        self.assertEqual(e.execute("SELECT es_init()").fetchone()[0], 3)
        self.assertEqual(e.execute("SELECT count(*) FROM sqlite_schema WHERE name IN "
                                   "('es_events', 'es_streams', 'es_meta')").fetchone()[0], 3)
        self.assertEqual(e.execute("SELECT value FROM es_meta WHERE key = 'schema_version'"
                                   ).fetchone(), (3,))

    def test_commit_keeps_both(self):
        c = self.c
        c.execute("BEGIN")
        c.execute("INSERT INTO orders(note) VALUES ('o1')")
        self.assertEqual(self.append(c, "order-1", 0, [ev("Placed", {})]), 1)
        c.execute("INSERT INTO orders(note) VALUES ('o2')")
        self.assertEqual(self.append(c, "order-1", 1, [ev("Paid", {}), ev("Shipped", {})]), 3)
        # Another connection sees nothing before the commit.
        other = self.open()
        self.assertEqual(other.execute("SELECT count(*) FROM orders").fetchone()[0], 0)
        self.assertEqual(other.execute("SELECT es_status('order-1')").fetchone()[0], "none")
        c.execute("COMMIT")
        self.assertEqual(self.counts(other), (2, 3, 1))
        self.assertEqual(other.execute("SELECT version FROM es_stream('order-1') ORDER BY "
                                       "version").fetchall(), [(1,), (2,), (3,)])

    def test_python_default_isolation_level(self):
        # With the module's default (legacy) transaction handling, an INSERT opens an implicit
        # transaction and the following SELECT es_append(...) joins it.
        self.c.execute("SELECT es_init()")  # schema first: this test is about the transaction
        c = self.open(isolation_level="")
        c.execute("INSERT INTO orders(note) VALUES ('o1')")
        self.assertTrue(c.in_transaction)
        self.assertEqual(self.append(c, "order-9", 0, [ev("Placed", {})]), 1)
        c.rollback()
        self.assertEqual(self.counts(c)[0], 0)
        self.assertEqual(c.execute("SELECT es_status('order-9')").fetchone()[0], "none")
        c.execute("INSERT INTO orders(note) VALUES ('o1')")
        self.assertEqual(self.append(c, "order-9", 0, [ev("Placed", {})]), 1)
        c.commit()
        self.assertEqual(self.counts(self.open(load=False)), (1, 1, 1))
        # Without a pending INSERT, es_append in a SELECT commits on its own (autocommit).
        self.assertEqual(self.append(c, "order-9", 1, [ev("Paid", {})]), 2)
        self.assertFalse(c.in_transaction)
        self.assertEqual(self.counts(self.open(load=False)), (1, 2, 1))


def main():
    if not EXT:
        print("ES_EXT is not set", file=sys.stderr)
        return 2
    result = unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[1:], exit=False).result
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print("test_python_load: %d run, %d failed, %d skipped, sqlite %s, python %s" % (
        result.testsRun, failed, len(result.skipped), sqlite3.sqlite_version,
        sys.version.split()[0]))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
