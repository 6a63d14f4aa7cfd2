#!/usr/bin/python3
"""Archiving into an ATTACHed database and back, from Debian's python3 (stdlib sqlite3).

The round trip (TestAttachedRoundTrip): a WAL store holds a stream of 100,000 events (batches
of 1000 through es_append with JSON arrays: metadata from the event and from the call,
caller-given ids, fixed timestamps, idempotency keys, schema versions, a non-json codec whose
data is a BLOB with NUL bytes, unicode text) interleaved with other streams, plus a snapshot.
es_archive(s, 'cold') into a freshly ATTACHed cold.db must

  * return 100000 and finish well under ARCHIVE_LIMIT_S (it is a set operation);
  * leave no event or snapshot of s in main, and put byte-identical rows into cold.es_events
    (same seq, ids, created_at, metadata, data and its storage class, codec, ...), the snapshot
    into cold.es_snapshots and a lifecycle row (state 'archived', tagged with the move id and
    main's identity) into cold.es_lifecycle, so cold.es_streams shows the stream archived;
  * record the move in main (schema 3): es_lifecycle names cold by its identity (store_id) and
    alias and says what left (count, last version, last event id, seq range), and the ids of
    the moved events stay reserved in main (es_reserved_ids: reusing one is duplicate_event);
  * create the eskit schema in cold by itself (schema version 3, an identity of its own),
    including the guard triggers: a connection that never loaded eskit cannot
    INSERT/UPDATE/DELETE cold's es_events, es_streams or bookkeeping tables (the statements fail
    to prepare with "no such function: ..."), but can read cold and run integrity_check on it;
  * make es_status(s) 'archived', es_stream(s) in main fail with IntegrityError 'archived: ...'
    naming 'cold', appends and snapshots fail with 'archived:'; other streams are untouched and
    es_all in main simply skips s; es_head() never decreases.

es_restore(s, 'cold') must return 100000 and bring back rows byte-identical to the originals
(original seq, so es_all is exactly the log from before), the snapshot and an active stream
row; cold no longer holds s; idempotency keys and caller ids still answer replays; the next
append continues at version 100001 with a seq above the old head.

Also: archive in place (readable, appends refused, key replays still answered, restore makes
it appendable). Erasure (TestArchiveErasure, schema 3): es_tombstone / es_delete of a stream
whose events are in cold take effect in main at once; with cold attached (autocommit) its copy
is erased in the same call; with cold detached, or inside the caller's transaction, the copy is
recorded in main's es_cleanups, cold's file is not touched, and es_maintain() erases it once
cold is attached. Attached backups (byte copies of main and of cold) and another store are
never written; another store's archive attached under the recorded alias is not taken for
ours (archives are known by identity).

Crash atomicity (TestCrashAtomicity): the mover process is SIGKILLed before every statement of
es_archive(s, 'cold') and of es_restore(s, 'cold') in turn (and at random moments); after each
kill every event is in main or in cold, never partly, never lost; a second copy exists only as
one main recorded (the intent's move id, or a clean-up); the next es_archive finishes the move
and the next es_restore finishes its clean-up, leaving exactly one copy. A copy main never
recorded (cold put back from a file copy) is not erased by a tombstone; a recorded leftover is.

Run: ES_EXT=/path/to/eskit.so /usr/bin/python3 tests/clients/test_archive.py
Tunables: ES_ARCHIVE_EVENTS (100000), ES_ARCHIVE_LIMIT_S (10).
"""
import base64
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

from eskit_client import CATEGORY_SQL, EXT, connect, kill_at_statement, one
BIG_EVENTS = int(os.environ.get("ES_ARCHIVE_EVENTS", "100000"))
BATCH = 1000
ARCHIVE_LIMIT_S = float(os.environ.get("ES_ARCHIVE_LIMIT_S", "10"))

# Read from es_stream/es_all (their category column) ...
COLS = ("seq, stream_id, category, version, type, data, typeof(data), metadata, codec, "
        "schema_version, event_id, idempotency_key, created_at")
# ... and from es_events, which has no category column since schema 3: the same tuples, the
# category computed from the stream id in plain SQL (also on connections without eskit).
EVENT_COLS = COLS.replace("category", CATEGORY_SQL)
STREAM_COLS = ("stream_id, category, version, state, archived_to, created_at, "
               "tombstone_reason, tombstoned_at")

FIGURES = {}

# eskit's own tables besides es_events, guarded like it (schema 3).
BOOKKEEPING = ("es_lifecycle", "es_postings", "es_event_ids", "es_reserved_ids", "es_cleanups")

# The function the append-only triggers call; only eskit registers it (sql/schema/current.sql).
WRITER_FUNCTION = "es_events and es_streams are written only by eskit: load the eskit extension"
NO_WRITER_MESSAGE = "no such function: " + WRITER_FUNCTION


def append(conn, stream, expected, events, options=None):
    text = events if isinstance(events, str) else json.dumps(events)
    if options is None:
        return one(conn, "SELECT es_append(?, ?, ?)", (stream, expected, text))
    return one(conn, "SELECT es_append(?, ?, ?, ?)", (stream, expected, text, json.dumps(options)))


def rows_of(conn, stream, schema="main"):
    return conn.execute("SELECT %s FROM %s.es_events WHERE stream_id = ? ORDER BY seq"
                        % (EVENT_COLS, schema), (stream,)).fetchall()


def stream_row(conn, stream, schema="main"):
    return conn.execute("SELECT %s FROM %s.es_streams WHERE stream_id = ?" % (STREAM_COLS, schema),
                        (stream,)).fetchone()


def snapshot_of(conn, stream, schema="main"):
    return conn.execute("SELECT stream_id, version, schema_version, codec, state, typeof(state), "
                        "created_at FROM %s.es_snapshots WHERE stream_id = ?" % schema,
                        (stream,)).fetchone()


def lifecycle_of(conn, stream, schema="main"):
    """The stream's es_lifecycle row (schema 3's record of moves), as a dict, or None."""
    cur = conn.execute("SELECT * FROM %s.es_lifecycle WHERE stream_id = ?" % schema, (stream,))
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row))


def store_id(conn, schema="main"):
    return one(conn, "SELECT value FROM %s.es_meta WHERE key = 'store_id'" % schema)


def cleanups(conn, schema="main"):
    return conn.execute("SELECT store_id, stream_id, move_id, alias FROM %s.es_cleanups "
                        "ORDER BY 1, 2, 3" % schema).fetchall()


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def count(conn, stream, schema="main"):
    return one(conn, "SELECT count(*) FROM %s.es_events WHERE stream_id = ?" % schema, (stream,))


def big_batch(b, rng):
    """Batch b of the big stream: a JSON array text and the options of its call (or None)."""
    events = []
    for i in range(BATCH):
        n = b * BATCH + i
        e = {"type": ("Deposited", "Withdrawn", "Noted")[n % 3],
             "data": {"n": n, "amount": n % 97, "note": "caf\u00e9 \u2603 \U0001f600 \"q\" \\",
                      "nested": {"a": [1, 2.5, None, True], "s": "x" * (n % 40)}}}
        if n % 10 == 7:  # non-json codec: BLOB of the decoded bytes, NUL bytes included
            raw = bytes([0, 255, n % 256]) + rng.randbytes(n % 23) + b"\x00"
            e = {"type": "Packed", "codec": "msgpack", "data": base64.b64encode(raw).decode()}
        if n % 4 == 1:
            e["metadata"] = {"user": "u-%d" % (n % 13), "trace": "ev-%d" % n}
        if n % 11 == 3:
            e["schema_version"] = 2 + n % 3
        if b % 5 == 0:
            e["id"] = "big-e-%07d" % n  # caller-given ids
        events.append(e)
    options = {}
    if b % 3 == 0:
        options["idempotency_key"] = "batch-%d" % b
    if b % 4 == 0:
        options["timestamp"] = 1_700_000_000_000_000 + b
    if b % 2 == 0:
        options["metadata"] = {"trace": "call-%d" % b, "batch": b}
    return json.dumps(events, ensure_ascii=(b % 2 == 0)), (options or None)


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="eskit-archive-")
        # Runs after tearDown, and also when setUp fails half-way.
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.path = os.path.join(self.tmp, "main.db")
        self.cold_path = os.path.join(self.tmp, "cold.db")
        self.conns = []
        self.c = self.open()
        self.heads = []

    def tearDown(self):
        for c in self.conns:
            c.close()

    def open(self, path=None, **kw):
        c = connect(path or self.path, **kw)
        self.conns.append(c)
        return c

    def attach(self, conn=None, alias="cold", path=None):
        (conn or self.c).execute("ATTACH ? AS %s" % alias, (path or self.cold_path,))

    def detach(self, conn=None, alias="cold"):
        (conn or self.c).execute("DETACH %s" % alias)

    def head(self):
        """es_head(), asserting it never went backwards during the test."""
        h = one(self.c, "SELECT es_head()")
        if self.heads:
            self.assertGreaterEqual(h, self.heads[-1], "es_head() decreased")
        self.heads.append(h)
        return h

    def assert_error(self, exc_type, prefix, sql, args=(), conn=None, contains=()):
        with self.assertRaises(exc_type) as cm:
            (conn or self.c).execute(sql, args).fetchall()
        msg = str(cm.exception)
        self.assertTrue(msg.startswith(prefix), "%r does not start with %r" % (msg, prefix))
        for s in contains:
            self.assertIn(s, msg)
        return msg

    def everything(self, conn=None, schema="main"):
        """Every row eskit keeps in a schema, to prove a refused call changed nothing."""
        conn = conn or self.c
        if one(conn, "SELECT count(*) FROM %s.sqlite_schema WHERE name = 'es_events'"
               % schema) == 0:
            return ("no schema",)
        # es_meta: schema_version and the seq_floor es_head() reads; the bookkeeping tables of
        # schema 3 (lifecycle, index blocks, id lists, clean-ups); sqlite_schema: no table,
        # index or trigger appeared or went away.
        return tuple(conn.execute("SELECT %s FROM %s.%s" % (cols, schema, t)).fetchall()
                     for cols, t in (
            ("*", "es_events ORDER BY seq"), ("*", "es_streams ORDER BY stream_id"),
            ("*", "es_snapshots ORDER BY stream_id"), ("*", "es_meta ORDER BY key"),
            ("*", "es_lifecycle ORDER BY stream_id"), ("*", "es_postings ORDER BY 1, 2, 3"),
            ("*", "es_event_ids ORDER BY 1"), ("*", "es_reserved_ids ORDER BY 1"),
            ("*", "es_cleanups ORDER BY 1, 2, 3"),
            ("type, name, sql", "sqlite_schema ORDER BY name")))

    def small_stream(self, stream, n=50, marker="payload"):
        for i in range(0, n, 10):
            append(self.c, stream, i, [{"type": "T", "data": {"i": i + k, "m": marker},
                                        "metadata": {"k": k}} for k in range(10)])
        self.assertEqual(one(self.c, "SELECT es_snapshot_save(?, ?, ?)",
                             (stream, n // 2, json.dumps({"upto": n // 2, "m": marker}))), n // 2)


class TestAttachedRoundTrip(Base):
    def test_round_trip_100k(self):
        c = self.c
        rng = random.Random(20260)
        s = "big-1"
        t0 = time.monotonic()
        batches = []
        for b in range(BIG_EVENTS // BATCH):
            text, options = big_batch(b, rng)
            batches.append((text, options))
            self.assertEqual(append(c, s, b * BATCH, text, options), (b + 1) * BATCH)
            # Other streams between the batches, so the big stream's seq values have gaps.
            append(c, "other-%d" % (b % 3), -1, [{"type": "O", "data": {"b": b}}])
            if b % 10 == 0:
                append(c, "bigger-2", -1, [{"type": "B", "data": {"b": b, "k": k}}
                                           for k in range(7)])
        FIGURES["append_s"] = time.monotonic() - t0
        self.assertEqual(one(c, "SELECT es_snapshot_save(?, ?, ?, 3)",
                             (s, BIG_EVENTS // 2, json.dumps({"balance": 4242, "n": 50000}))),
                         BIG_EVENTS // 2)
        append(c, "other-0", -1, [{"type": "O", "data": {"after": True}}])
        self.assertEqual(one(c, "SELECT es_snapshot_save('other-1', 1, '{\"o\":1}')"), 1)

        before = rows_of(c, s)
        self.assertEqual(len(before), BIG_EVENTS)
        self.assertEqual([r[3] for r in before], list(range(1, BIG_EVENTS + 1)))
        # The fixture really has what the round trip must preserve.
        self.assertTrue(any(r[6] == "blob" and b"\x00" in r[5] for r in before))
        self.assertTrue(any(r[7] is not None for r in before) and
                        any(r[7] is None for r in before))
        self.assertTrue(any(r[10].startswith("big-e-") for r in before))
        self.assertTrue(any(r[11] is not None for r in before))
        self.assertTrue(any(r[12] == 1_700_000_000_000_000 for r in before))
        self.assertTrue(any(r[9] > 1 for r in before))
        seqs = [r[0] for r in before]
        self.assertGreater(seqs[-1] - seqs[0] + 1, BIG_EVENTS, "seq values must have gaps")
        stream_before = stream_row(c, s)
        snap_before = snapshot_of(c, s)
        self.assertIsNotNone(snap_before)
        log_before = c.execute("SELECT %s FROM es_all()" % COLS).fetchall()
        others_before = [r for r in log_before if r[1] != s]
        other_snap = snapshot_of(c, "other-1")
        head0 = self.head()
        self.assertEqual(head0, log_before[-1][0])

        self.assertFalse(os.path.exists(self.cold_path))
        self.attach()
        self.assertEqual(self.everything(schema="cold"), ("no schema",))

        # --- archive into cold
        t = time.monotonic()
        moved = one(c, "SELECT es_archive(?, 'cold')", (s,))
        FIGURES["archive_s"] = archive_s = time.monotonic() - t
        self.assertEqual(moved, BIG_EVENTS)
        self.assertLess(archive_s, ARCHIVE_LIMIT_S, "es_archive into cold must be a set operation")
        self.assertEqual(self.head(), head0)

        self.assertEqual(count(c, s), 0, "main still holds events of the archived stream")
        self.assertIsNone(snapshot_of(c, s), "the snapshot must move with the stream")
        self.assertEqual(rows_of(c, s, "cold"), before, "cold rows differ from the originals")
        self.assertEqual(snapshot_of(c, s, "cold"), snap_before)
        self.assertEqual(one(c, "SELECT count(*) FROM cold.es_events"), BIG_EVENTS)
        cold_row = stream_row(c, s, "cold")
        self.assertEqual(cold_row[:4], (s, "big", BIG_EVENTS, "archived"))
        self.assertEqual(cold_row[5], stream_before[5], "created_at of the stream row")
        main_row = stream_row(c, s)
        self.assertEqual(main_row[:5], (s, "big", BIG_EVENTS, "archived", "cold"))
        self.assertEqual(one(c, "SELECT es_status(?)", (s,)), "archived")
        # Schema 3: main recorded the move: cold by identity (and the alias it had), and what
        # left; cold's lifecycle row carries the same move id and names main as the origin.
        main_id, cold_id = store_id(c), store_id(c, "cold")
        self.assertNotEqual(main_id, cold_id)
        life = lifecycle_of(c, s)
        self.assertEqual((life["state"], life["archive_store"], life["archive_alias"],
                          life["version"], life["moved_count"], life["moved_last_id"],
                          life["moved_seq_lo"], life["moved_seq_hi"], life["prior_state"]),
                         ("archived", cold_id, "cold", BIG_EVENTS, BIG_EVENTS, before[-1][10],
                          seqs[0], seqs[-1], None))
        cold_life = lifecycle_of(c, s, "cold")
        self.assertEqual((cold_life["state"], cold_life["move_id"], cold_life["origin_store"],
                          cold_life["moved_count"]),
                         ("archived", life["move_id"], main_id, BIG_EVENTS))
        self.assertEqual(cleanups(c), [])
        # The moved events' ids stay taken in main: reusing one on another stream is refused.
        self.assertEqual(one(c, "SELECT count(*) FROM es_reserved_ids WHERE stream_id = ?", (s,)),
                         BIG_EVENTS)
        msg = self.assert_error(sqlite3.IntegrityError, "duplicate_event:",
                                "SELECT es_append('thief-1', 0, ?)",
                                (json.dumps([{"type": "T", "data": {}, "id": before[0][10]}]),))
        self.assertEqual(msg, "duplicate_event: event id '%s' belongs to stream '%s', whose events "
                              "were moved to an archive" % (before[0][10], s))
        self.assertEqual(one(c, "SELECT es_status('thief-1')"), "none")
        # The eskit schema was created in cold, with its migrations recorded and the triggers.
        cold_objects = {r[0] for r in c.execute("SELECT name FROM cold.sqlite_schema")}
        guards = ["%s_guard_%s" % (t, op)
                  for t in ("es_events", "es_streams", "es_meta") + BOOKKEEPING
                  for op in ("insert", "update", "delete")]
        for name in ["es_meta", "es_events", "es_streams", "es_snapshots", "es_checkpoints",
                     "es_events_idempotency"] + list(BOOKKEEPING) + guards:
            self.assertIn(name, cold_objects)
        self.assertEqual(one(c, "SELECT type FROM cold.sqlite_schema WHERE name = 'es_streams'"),
                         "view")
        # Version 3 layout: no guard table, no AUTOINCREMENT (so no sqlite_sequence), none of
        # version 2's per-append indexes and triggers, no category column; every guard trigger
        # asks the writer function about cold's own identity.
        for name in ("es_guard", "sqlite_sequence", "es_events_event_id", "es_events_category",
                     "es_events_type", "es_events_no_insert", "es_streams_no_update"):
            self.assertNotIn(name, cold_objects)
        self.assertNotIn("category", [r[1] for r in c.execute("PRAGMA cold.table_info(es_events)")])
        self.assertEqual(one(c, "SELECT value FROM cold.es_meta WHERE key = 'schema_version'"), 3)
        self.assertEqual(one(c, "SELECT count(*) FROM cold.sqlite_schema WHERE type = 'trigger' "
                                "AND instr(sql, ?) > 0 AND instr(sql, ?) > 0",
                             ('"%s"(' % WRITER_FUNCTION, "'%s'" % cold_id)), len(guards))
        self.assertEqual(one(c, "SELECT count(*) FROM cold.sqlite_schema WHERE type = 'trigger'"),
                         len(guards))
        self.assertEqual(one(c, "SELECT count(*) FROM main.sqlite_schema "
                                "WHERE name IN ('es_guard', 'sqlite_sequence')"), 0)

        # Reads and writes of the moved stream in main are refused, naming the archive.
        self.assert_error(sqlite3.IntegrityError, "archived:",
                          "SELECT * FROM es_stream(?)", (s,), contains=("'cold'", "'%s'" % s))
        self.assert_error(sqlite3.IntegrityError, "archived:",
                          "SELECT es_append(?, ?, '{\"type\":\"X\",\"data\":{}}')",
                          (s, BIG_EVENTS))
        self.assert_error(sqlite3.IntegrityError, "archived:",
                          "SELECT es_append(?, -1, '[{\"type\":\"X\",\"data\":{}}]')", (s,))
        self.assert_error(sqlite3.IntegrityError, "archived:",
                          "SELECT es_snapshot_save(?, 1, '{}')", (s,))
        # Archiving again into the same database is a no-op; into another one it is refused.
        self.assertEqual(one(c, "SELECT es_archive(?, 'cold')", (s,)), 0)
        self.assertEqual(one(c, "SELECT es_archive(?)", (s,)), 0)
        cold2 = os.path.join(self.tmp, "cold2.db")
        self.attach(alias="cold2", path=cold2)
        msg = self.assert_error(sqlite3.OperationalError, "invalid_argument:",
                                "SELECT es_archive(?, 'cold2')", (s,))
        self.assertEqual(msg, "invalid_argument: es_archive(): stream '%s' is already archived in "
                              "database 'cold'; restore it before moving it to 'cold2'" % s)
        msg = self.assert_error(sqlite3.IntegrityError, "archived:", "SELECT es_restore(?)", (s,))
        self.assertEqual(msg, "archived: stream '%s' is archived in database 'cold'; "
                              "es_restore('%s', 'cold') moves it back" % (s, s))
        msg = self.assert_error(sqlite3.OperationalError, "not_found:",
                                "SELECT es_restore(?, 'cold2')", (s,))
        self.assertEqual(msg, "not_found: stream '%s' does not exist in database 'cold2'" % s)
        # cold2 an eskit store of its own (another identity): still not the recorded archive.
        self.detach(alias="cold2")
        other = self.open(cold2, wal=False)
        self.assertEqual(one(other, "SELECT es_init()"), 3)
        other.close()
        self.conns.remove(other)
        self.attach(alias="cold2", path=cold2)
        cold2_before = self.everything(schema="cold2")
        msg = self.assert_error(sqlite3.OperationalError, "invalid_argument:",
                                "SELECT es_restore(?, 'cold2')", (s,))
        self.assertEqual(msg, "invalid_argument: es_restore(): stream '%s' is archived in another "
                              "database (attached as 'cold' when it moved), not in 'cold2'" % s)
        self.assertEqual(self.everything(schema="cold2"), cold2_before)
        self.detach(alias="cold2")
        self.assertEqual(rows_of(c, s, "cold"), before)
        # Everything else is as it was; es_all in main just lacks the moved stream.
        log_archived = c.execute("SELECT %s FROM es_all()" % COLS).fetchall()
        self.assertEqual(log_archived, others_before)
        self.assertEqual(snapshot_of(c, "other-1"), other_snap)
        self.assertEqual(append(c, "other-2", -1, []), stream_row(c, "other-2")[2])
        self.assertEqual(self.head(), head0)

        # A connection that never loaded eskit opens cold.db: the triggers are there too, so
        # no write even prepares; reads and integrity_check work.
        raw = self.open(self.cold_path, load=False, wal=False)
        self.assertEqual(one(raw, "SELECT count(*) FROM es_events WHERE stream_id = ?", (s,)),
                         BIG_EVENTS)
        self.assertEqual(rows_of(raw, s), before)
        self.assertEqual(raw.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        cold_state = self.everything(raw)
        for sql, args in [
            ("INSERT INTO es_events(stream_id, version, type, data, event_id, "
             "created_at) VALUES (?, ?, 'X', '{}', 'forged-1', 0)", (s, BIG_EVENTS + 1)),
            ("DELETE FROM es_events WHERE stream_id = ?", (s,)),
            ("DELETE FROM es_events WHERE seq = ?", (seqs[-1],)),
            ("UPDATE es_events SET data = '{}' WHERE seq = ?", (seqs[0],)),
            ("INSERT INTO es_streams(stream_id, category, version, state, created_at, updated_at)"
             " VALUES ('forged', 'forged', 1, 'active', 0, 0)", ()),
            ("UPDATE es_streams SET state = 'active' WHERE stream_id = ?", (s,)),
            ("DELETE FROM es_streams WHERE stream_id = ?", (s,)),
            # The record of the move in cold, and cold's identity.
            ("UPDATE es_lifecycle SET move_id = 'forged' WHERE stream_id = ?", (s,)),
            ("DELETE FROM es_lifecycle WHERE stream_id = ?", (s,)),
            ("UPDATE es_meta SET value = 'forged' WHERE key = 'store_id'", ()),
        ]:
            msg = self.assert_error(sqlite3.OperationalError, "no such function: ", sql, args,
                                    conn=raw)
            self.assertEqual(msg, NO_WRITER_MESSAGE)
        self.assertEqual(self.everything(raw), cold_state)
        raw.close()
        self.conns.remove(raw)
        # With eskit loaded, the same triggers in the attached cold refuse with their message.
        self.assert_error(sqlite3.IntegrityError,
                          "es_events is append-only: remove streams with es_tombstone()",
                          "DELETE FROM cold.es_events WHERE stream_id = ?", (s,))
        self.assert_error(sqlite3.IntegrityError,
                          "es_streams is maintained by eskit: use es_append()",
                          "UPDATE cold.es_streams SET state = 'active' WHERE stream_id = ?", (s,))
        msg = self.assert_error(sqlite3.IntegrityError, "es_lifecycle",
                                "UPDATE cold.es_lifecycle SET move_id = 'forged' "
                                "WHERE stream_id = ?", (s,))
        self.assertEqual(msg, "es_lifecycle is maintained by eskit")
        self.assertEqual(self.everything(schema="cold"), cold_state)

        # --- restore from cold
        t = time.monotonic()
        back = one(c, "SELECT es_restore(?, 'cold')", (s,))
        FIGURES["restore_s"] = restore_s = time.monotonic() - t
        self.assertEqual(back, BIG_EVENTS)
        self.assertLess(restore_s, ARCHIVE_LIMIT_S, "es_restore from cold must be a set operation")
        after = rows_of(c, s)
        self.assertEqual(after, before, "restored rows differ from the originals")
        self.assertEqual(count(c, s, "cold"), 0)
        self.assertIsNone(stream_row(c, s, "cold"))
        self.assertIsNone(snapshot_of(c, s, "cold"))
        self.assertEqual(snapshot_of(c, s), snap_before)
        # The record of the move is gone on both sides, nothing is left to clean up, and the
        # ids are the restored events' own again (no longer reserved).
        self.assertIsNone(lifecycle_of(c, s))
        self.assertIsNone(lifecycle_of(c, s, "cold"))
        self.assertEqual(cleanups(c), [])
        self.assertEqual(one(c, "SELECT count(*) FROM es_reserved_ids"), 0)
        restored_row = stream_row(c, s)
        self.assertEqual(restored_row[:5], (s, "big", BIG_EVENTS, "active", None))
        self.assertEqual(restored_row[5], stream_before[5])
        self.assertEqual(one(c, "SELECT es_status(?)", (s,)), "active")
        self.assertEqual(self.head(), head0)
        log_after = c.execute("SELECT %s FROM es_all()" % COLS).fetchall()
        self.assertEqual(log_after, log_before, "es_all after the round trip")
        self.assertEqual([r[0] for r in log_after], sorted({r[0] for r in log_after}))
        self.assertEqual(c.execute("SELECT %s FROM es_stream(?)" % COLS, (s,)).fetchall(), before)
        # Replays are still answered from the restored events: a key and caller-given ids.
        self.assertEqual(append(c, s, 0, "[]", {"idempotency_key": "batch-6"}), 7 * BATCH)
        self.assertEqual(append(c, s, 3, batches[5][0], batches[5][1]), 6 * BATCH)
        # The stream continues where it was; new events get seq values above the old head.
        self.assertEqual(append(c, s, BIG_EVENTS, [{"type": "AfterRestore", "data": {}}]),
                         BIG_EVENTS + 1)
        last = c.execute("SELECT seq, version FROM es_stream(?) ORDER BY version DESC LIMIT 1",
                         (s,)).fetchone()
        self.assertEqual(last, (head0 + 1, BIG_EVENTS + 1))
        self.assertEqual(self.head(), head0 + 1)
        self.assertEqual(one(c, "PRAGMA integrity_check"), "ok")
        self.assertEqual(one(c, "PRAGMA cold.integrity_check"), "ok")
        FIGURES["events"] = BIG_EVENTS


class TestInPlace(Base):
    def test_archive_in_place(self):
        c = self.c
        s = "order-7"
        append(c, s, 0, [{"type": "Placed", "data": {"t": 1}, "id": "o7-1"},
                         {"type": "Paid", "data": {"t": 2}, "id": "o7-2"}],
               {"idempotency_key": "k-1"})
        append(c, "order-8", 0, [{"type": "Placed", "data": {}}])
        before = rows_of(c, s)
        head0 = self.head()
        self.assertEqual(one(c, "SELECT es_archive(?)", (s,)), 0)
        self.assertEqual(one(c, "SELECT es_status(?)", (s,)), "archived")
        self.assertEqual(stream_row(c, s)[3:5], ("archived", None))
        # Readable, in place.
        self.assertEqual(c.execute("SELECT %s FROM es_stream(?)" % COLS, (s,)).fetchall(), before)
        self.assertEqual(c.execute("SELECT %s FROM es_all() WHERE stream_id = ?" % COLS,
                                   (s,)).fetchall(), before)
        # Appends refused, nothing written; replays of what succeeded are still answered.
        state = self.everything()
        msg = self.assert_error(sqlite3.IntegrityError, "archived:",
                                "SELECT es_append(?, 2, '{\"type\":\"X\",\"data\":{}}')", (s,))
        self.assertIn("es_restore", msg)
        self.assert_error(sqlite3.IntegrityError, "archived:",
                          "SELECT es_append(?, -1, '[]')", (s,))
        self.assertEqual(self.everything(), state)
        self.assertEqual(append(c, s, 0, "[]", {"idempotency_key": "k-1"}), 2)
        self.assertEqual(append(c, s, 0, [{"type": "Placed", "data": {"t": 1}, "id": "o7-1"}]), 1)
        self.assertEqual(self.everything(), state)
        # Other streams are unaffected; archiving twice is a no-op; snapshots still save.
        self.assertEqual(append(c, "order-8", 1, [{"type": "Paid", "data": {}}]), 2)
        self.assertEqual(one(c, "SELECT es_archive(?)", (s,)), 0)
        self.assertEqual(one(c, "SELECT es_snapshot_save(?, 2, '{\"t\":3}')", (s,)), 2)
        # Restore makes it appendable again.
        self.assertEqual(one(c, "SELECT es_restore(?)", (s,)), 0)
        self.assertEqual(one(c, "SELECT es_status(?)", (s,)), "active")
        self.assertEqual(append(c, s, 2, [{"type": "Shipped", "data": {}}]), 3)
        self.assertEqual(rows_of(c, s)[:2], before)
        self.assertEqual(one(c, "SELECT es_restore(?)", (s,)), 0)  # active: no-op
        self.assertGreater(self.head(), head0)
        self.assert_error(sqlite3.OperationalError, "not_found:", "SELECT es_archive('nope-1')")


class TestArchiveErasure(Base):
    """Tombstone and delete of a stream whose events live in cold storage (schema 3).

    The call takes effect in main at once. cold's copy is erased in the same call when cold is
    attached (found by its identity, under any alias) and the call runs in autocommit;
    otherwise main records it in es_cleanups, cold's file is not touched, and es_maintain()
    erases it once cold is attached. Databases that are not the recorded archive (byte copies
    of main and of cold attached as backups, another store holding a stream of the same name)
    are never written.
    """

    def prepare(self, stream):
        self.small_stream(stream, 50, marker="SECRET-%s-PAYLOAD" % stream)
        self.small_stream("keep-1", 20, marker="keep")
        append(self.c, "live-1", 0, [{"type": "L", "data": {}}])
        self.attach()
        self.assertEqual(one(self.c, "SELECT es_archive(?, 'cold')", (stream,)), 50)
        self.assertEqual(one(self.c, "SELECT es_archive('keep-1', 'cold')"), 20)
        self.cold_rows = rows_of(self.c, stream, "cold")
        self.assertEqual(len(self.cold_rows), 50)
        self.cold_id = store_id(self.c, "cold")
        self.move_id = lifecycle_of(self.c, stream)["move_id"]
        self.assertEqual(lifecycle_of(self.c, stream, "cold")["move_id"], self.move_id)
        self.head0 = self.head()

    def maintain(self, erased, pending):
        """es_maintain() must answer exactly: the main tail it folds, the events it erased and
        the clean-ups still waiting for their archive."""
        tail = one(self.c, "SELECT count(*) FROM es_events WHERE seq > "
                           "(SELECT value FROM es_meta WHERE key = 'indexed_upto')")
        self.assertEqual(json.loads(one(self.c, "SELECT es_maintain()")),
                         {"indexed": tail, "erased": erased, "pending": pending})

    def assert_cold_untouched(self, stream):
        """cold.db, read by a connection without eskit, still holds the copy, byte for byte."""
        raw = connect(self.cold_path, load=False, wal=False)
        try:
            self.assertEqual(rows_of(raw, stream), self.cold_rows)
            self.assertIsNotNone(snapshot_of(raw, stream))
            self.assertEqual(stream_row(raw, stream)[3], "archived")
            self.assertEqual(lifecycle_of(raw, stream)["move_id"], self.move_id)
        finally:
            raw.close()

    def assert_erased_in_cold(self, stream, alias="cold"):
        c = self.c
        self.assertEqual(count(c, stream, alias), 0)
        self.assertIsNone(snapshot_of(c, stream, alias))
        self.assertIsNone(stream_row(c, stream, alias))
        self.assertIsNone(lifecycle_of(c, stream, alias))
        self.assertEqual(count(c, "keep-1", alias), 20, "another archived stream was touched")
        self.assertIsNotNone(snapshot_of(c, "keep-1", alias))
        self.assertEqual(count(c, stream), 0)
        self.assertIsNone(snapshot_of(c, stream))
        self.assertEqual(cleanups(c), [], "the clean-up is done, its record must go")
        self.assertEqual(self.head(), self.head0)
        self.assertEqual(one(c, "PRAGMA %s.integrity_check" % alias), "ok")
        # Debian's SQLite zeroes deleted content (SECURE_DELETE); cold is in rollback mode,
        # so once the transaction is committed the payload is gone from cold.db itself.
        self.assertEqual(one(c, "PRAGMA %s.secure_delete" % alias), 1)
        self.assertNotIn(("SECRET-%s-PAYLOAD" % stream).encode(), file_bytes(self.cold_path))

    def assert_tombstoned(self, s):
        row = stream_row(self.c, s)
        self.assertEqual(row[:5], (s, "user", 50, "tombstoned", None))
        self.assertEqual(row[6], "gdpr")
        self.assertEqual(one(self.c, "SELECT es_status(?)", (s,)), "tombstoned")
        self.assertEqual(one(self.c, "SELECT count(*) FROM es_reserved_ids WHERE stream_id = ?",
                             (s,)), 0)
        self.assert_error(sqlite3.IntegrityError, "tombstoned:", "SELECT * FROM es_stream(?)", (s,))
        self.assert_error(sqlite3.IntegrityError, "tombstoned:",
                          "SELECT es_append(?, -1, '{\"type\":\"X\",\"data\":{}}')", (s,))
        self.assert_error(sqlite3.IntegrityError, "tombstoned:", "SELECT es_tombstone(?, 'x')",
                          (s,))

    def bystanders(self, stream):
        """Attaches what must never be written: byte copies of main and of cold (the same
        identities, as a VACUUM INTO backup has) and another store with a tombstoned stream
        of the same name. Returns a function that detaches them and asserts their files are
        byte-identical to before (after DETACH nothing of them is left in a WAL)."""
        paths = {"main_backup": os.path.join(self.tmp, "main-backup.db"),
                 "cold_backup": os.path.join(self.tmp, "cold-backup.db"),
                 "other": os.path.join(self.tmp, "other.db")}
        self.c.execute("VACUUM main INTO ?", (paths["main_backup"],))
        self.c.execute("VACUUM cold INTO ?", (paths["cold_backup"],))
        o = connect(paths["other"], wal=False)
        append(o, stream, 0, [{"type": "Other", "data": {"mine": True}}])
        self.assertEqual(one(o, "SELECT es_tombstone(?, 'theirs')", (stream,)), 1)
        o.close()
        before = {alias: file_bytes(p) for alias, p in paths.items()}
        for alias, p in paths.items():
            self.attach(alias=alias, path=p)
        self.assertEqual(store_id(self.c, "cold_backup"), self.cold_id)

        def check():
            states = {alias: self.everything(schema=alias) for alias in paths}
            for alias in paths:
                self.detach(alias=alias)
            for alias, p in paths.items():
                self.assertEqual(file_bytes(p), before[alias], "%s was written" % alias)
            return states
        return check

    def test_tombstone_with_archive_attached(self):
        s = "user-5"
        self.prepare(s)
        check = self.bystanders(s)
        # In main nothing of s is left to remove; the 50 are cold's copy, erased in this call.
        self.assertEqual(one(self.c, "SELECT es_tombstone(?, 'gdpr')", (s,)), 50)
        states = check()
        self.assertEqual(len(states["cold_backup"][0]), 70, "the backup of cold lost events")
        self.assertEqual(states["other"][1][0][3], "tombstoned")  # its own row, untouched
        self.assert_erased_in_cold(s)
        self.assert_tombstoned(s)
        self.assert_error(sqlite3.IntegrityError, "tombstoned:",
                          "SELECT es_restore(?, 'cold')", (s,))
        self.maintain(erased=0, pending=0)
        self.assertEqual(append(self.c, "live-1", 1, [{"type": "L", "data": {}}]), 2)
        self.assertEqual(one(self.c, "PRAGMA integrity_check"), "ok")

    def test_tombstone_with_archive_detached(self):
        # Changed in schema 3: the tombstone no longer waits for the archive (it used to fail
        # with 'archived: ... attach ...'). It takes effect in main, the copy is recorded.
        s = "user-5"
        self.prepare(s)
        self.detach()
        cold_before = file_bytes(self.cold_path)
        self.assertEqual(one(self.c, "SELECT es_tombstone(?, 'gdpr')", (s,)), 0)
        self.assert_tombstoned(s)
        self.assertEqual(cleanups(self.c), [(self.cold_id, s, self.move_id, "cold")])
        self.maintain(erased=0, pending=1)  # cold is not attached: nothing to do yet
        self.assertEqual(file_bytes(self.cold_path), cold_before, "cold.db was written")
        self.assert_cold_untouched(s)
        # Attached again, under another name: found by identity, erased by es_maintain().
        self.attach(alias="vault")
        self.maintain(erased=50, pending=0)
        self.assert_erased_in_cold(s, alias="vault")
        self.maintain(erased=0, pending=0)
        self.assert_tombstoned(s)
        self.assertEqual(one(self.c, "PRAGMA integrity_check"), "ok")

    def test_tombstone_inside_transaction(self):
        # Inside the caller's transaction the tombstone takes effect in main with the caller's
        # commit (and goes with a rollback); cold's copy is left to es_maintain().
        s = "user-5"
        self.prepare(s)
        cold_state = self.everything(schema="cold")
        self.c.execute("BEGIN")
        self.assertEqual(one(self.c, "SELECT es_tombstone(?, 'gdpr')", (s,)), 0)
        self.assertEqual(one(self.c, "SELECT es_status(?)", (s,)), "tombstoned")
        self.c.execute("ROLLBACK")
        self.assertEqual(one(self.c, "SELECT es_status(?)", (s,)), "archived")
        self.assertEqual(cleanups(self.c), [])
        self.c.execute("BEGIN")
        self.assertEqual(one(self.c, "SELECT es_tombstone(?, 'gdpr')", (s,)), 0)
        self.c.execute("COMMIT")
        self.assert_tombstoned(s)
        self.assertEqual(cleanups(self.c), [(self.cold_id, s, self.move_id, "cold")])
        self.assertEqual(self.everything(schema="cold"), cold_state, "cold was written")
        self.maintain(erased=50, pending=0)
        self.assert_erased_in_cold(s)

    def test_delete_with_archive_attached(self):
        s = "user-6"
        self.prepare(s)
        check = self.bystanders(s)
        self.assertEqual(one(self.c, "SELECT es_delete(?)", (s,)), 50)
        states = check()
        self.assertEqual(len(states["cold_backup"][0]), 70, "the backup of cold lost events")
        self.assert_erased_in_cold(s)
        self.assertIsNone(stream_row(self.c, s))
        self.assertIsNone(lifecycle_of(self.c, s))
        self.assertEqual(one(self.c, "SELECT es_status(?)", (s,)), "none")
        self.assertEqual(self.c.execute("SELECT * FROM es_stream(?)", (s,)).fetchall(), [])
        # The id starts again from version 0, with seq values above the old head.
        self.assertEqual(append(self.c, s, 0, [{"type": "Again", "data": {}}]), 1)
        self.assertEqual(one(self.c, "SELECT seq FROM es_stream(?)", (s,)), self.head0 + 1)
        self.assert_error(sqlite3.OperationalError, "not_found:", "SELECT es_delete('nope-2')")
        self.assertEqual(one(self.c, "PRAGMA integrity_check"), "ok")

    def test_delete_with_archive_detached(self):
        # Changed in schema 3: es_delete with the archive detached works in main at once (it
        # used to fail with 'archived:'); the old copy in cold is erased later by its move id,
        # and a stream of the same name written meanwhile is not touched by that.
        s = "user-6"
        self.prepare(s)
        self.detach()
        cold_before = file_bytes(self.cold_path)
        self.assertEqual(one(self.c, "SELECT es_delete(?)", (s,)), 0)
        self.assertEqual(one(self.c, "SELECT es_status(?)", (s,)), "none")
        self.assertIsNone(stream_row(self.c, s))
        self.assertEqual(cleanups(self.c), [(self.cold_id, s, self.move_id, "cold")])
        self.assertEqual(file_bytes(self.cold_path), cold_before, "cold.db was written")
        # The id, and the ids of its old events, are free again in main.
        reused = self.cold_rows[0][10]
        self.assertEqual(append(self.c, s, 0, [{"type": "Again", "data": {"n": 1}, "id": reused}]),
                         1)
        new_rows = rows_of(self.c, s)
        self.assertEqual(new_rows[0][0], self.head0 + 1)
        self.maintain(erased=0, pending=1)
        self.attach()
        self.maintain(erased=50, pending=0)
        self.head0 += 1
        self.assertEqual(count(self.c, s, "cold"), 0)
        self.assertIsNone(lifecycle_of(self.c, s, "cold"))
        self.assertEqual(count(self.c, "keep-1", "cold"), 20)
        self.assertEqual(rows_of(self.c, s), new_rows, "the new stream of that name was touched")
        self.assertEqual(cleanups(self.c), [])
        self.assertNotIn(("SECRET-%s-PAYLOAD" % s).encode(), file_bytes(self.cold_path))
        self.assertEqual(one(self.c, "PRAGMA integrity_check"), "ok")
        self.assertEqual(one(self.c, "PRAGMA cold.integrity_check"), "ok")

    def test_swapped_archive_under_the_recorded_alias(self):
        # Changed in schema 3: archives are known by identity, not by their ATTACH name. Another
        # store's archive attached under the recorded alias 'cold' (holding a stream of the
        # same name) is not ours: es_restore refuses and writes nothing anywhere, es_tombstone
        # works in main and never writes that file, and our copy is erased once the real
        # archive is attached (under any name).
        s = "user-5"
        self.prepare(s)
        self.detach()
        theirs = os.path.join(self.tmp, "theirs.db")
        their_cold = os.path.join(self.tmp, "theirs-cold.db")
        o = connect(theirs)
        append(o, s, 0, [{"type": "Theirs", "data": {"n": i}} for i in range(7)])
        o.execute("ATTACH ? AS cold", (their_cold,))
        self.assertEqual(one(o, "SELECT es_archive(?, 'cold')", (s,)), 7)
        o.close()
        self.attach(path=their_cold)  # under the alias main recorded
        before_main, before_cold = self.everything(), self.everything(schema="cold")
        msg = self.assert_error(sqlite3.OperationalError, "invalid_argument:",
                                "SELECT es_restore(?, 'cold')", (s,))
        self.assertEqual(msg, "invalid_argument: es_restore(): stream '%s' is archived in another "
                              "database (attached as 'cold' when it moved), not in 'cold'" % s)
        self.assertEqual((self.everything(), self.everything(schema="cold")),
                         (before_main, before_cold))
        self.assertEqual(one(self.c, "SELECT es_tombstone(?, 'gdpr')", (s,)), 0)
        self.assertEqual(self.everything(schema="cold"), before_cold, "their archive was written")
        self.assertEqual(cleanups(self.c), [(self.cold_id, s, self.move_id, "cold")])
        self.maintain(erased=0, pending=1)  # our archive is not attached
        self.detach()
        self.attach(alias="ours", path=self.cold_path)
        self.maintain(erased=50, pending=0)
        self.assert_erased_in_cold(s, alias="ours")
        self.assert_tombstoned(s)


class TestCrashAtomicity(Base):
    """A process killed (SIGKILL) while es_archive(s, 'cold') or es_restore(s, 'cold') runs,
    main in WAL mode, cold in rollback mode.

    SQLite commits a multi-database transaction atomically only in rollback-journal mode
    (https://sqlite.org/lang_attach.html), so eskit moves a stream in steps that each write one
    database (ext/moves.h): archive A. main records the intent (state 'archiving', cold's
    identity, a move id, what leaves), B. cold receives the copy tagged with the move id,
    C. main deletes its events; restore A. main copies back and records a clean-up of cold's
    copy, B. cold erases it, C. main drops the record.

    The mover is killed before each statement it runs in turn (kill_at_statement: every
    statement of the eskit call, BEGIN and COMMIT included, so between A, B and C and inside
    each), and at random moments. After every kill: no event is lost, altered or partly copied;
    a second copy exists only as main recorded it (the intent's move id, or a clean-up); and the
    next es_archive finishes the move, the next es_restore finishes its clean-up, leaving exactly
    one copy and nothing recorded. Each window between the steps must have been hit.
    """
    N = 5000       # the random-moment kills: a move of tens of milliseconds
    STEP_N = 300   # the step kills: more than the index tail bound (256), so B folds it
    KILLS = 12     # random-moment kills per direction

    def setUp(self):
        super().setUp()
        self.attach()
        self.assertEqual(one(self.c, "SELECT es_init()"), 3)

    def fill(self, n):
        for b in range(0, n, 1000):
            append(self.c, "big-1", -1, [{"type": "T", "data": {"i": b + i, "p": "x" * 64}}
                                         for i in range(min(1000, n - b))])
        self.n = n
        self.original = rows_of(self.c, "big-1")
        self.assertEqual(len(self.original), n)

    def run_mover(self, op, kill_at=0, delay=None):
        """Runs es_<op>('big-1', 'cold') in a child: killed by itself before statement kill_at
        (an int), right after its n-th COMMIT (kill_at = ('commit', n)), or by the parent after
        delay seconds. Returns True when the child was killed, False when the call returned."""
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--mover", self.path,
                              self.cold_path, op, repr(kill_at)], stdout=subprocess.PIPE,
                             text=True)
        try:
            self.assertEqual(p.stdout.readline().strip(), "ready")
            if delay is not None:
                time.sleep(delay)
                if p.poll() is None:
                    os.kill(p.pid, signal.SIGKILL)
            out, _ = p.communicate(timeout=60)
            if p.returncode == -signal.SIGKILL:
                return True
            self.assertEqual((p.returncode, out.split(" ")[0]), (0, "done"), out)
            return False
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()

    def locate(self, what):
        """Where big-1 is, on a fresh connection (WAL and hot-journal recovery), checked
        against the rules of the recorded-intent design. Returns one of
          'active'           in main only, nothing recorded
          'active+leftover'  in main, and cold's copy recorded for erasure (restore A done)
          'active+record'    in main, a clean-up recorded whose copy is gone (restore B done)
          'archiving'        in main, the intent recorded, nothing in cold (archive A done)
          'archiving+copy'   in main, and in cold tagged with the intent's move (archive B done)
          'archived'         in cold only, tagged with the recorded move (archive C done)"""
        c = self.open()
        self.attach(c)
        self.assertEqual(one(c, "PRAGMA integrity_check"), "ok", what)
        self.assertEqual(one(c, "PRAGMA cold.integrity_check"), "ok", what)
        has_cold = one(c, "SELECT count(*) FROM cold.sqlite_schema WHERE name = 'es_events'")
        in_main = rows_of(c, "big-1")
        in_cold = rows_of(c, "big-1", "cold") if has_cold else []
        life = lifecycle_of(c, "big-1")
        cold_life = lifecycle_of(c, "big-1", "cold") if has_cold else None
        cold_id = store_id(c, "cold") if has_cold else None
        todo = cleanups(c)
        status = one(c, "SELECT es_status('big-1')")
        self.conns.remove(c)
        c.close()
        for rows in (in_main, in_cold):
            self.assertIn(rows, ([], self.original), "%s: a partial or altered copy" % what)
        self.assertTrue(in_main or in_cold, "%s: the events are in neither database" % what)
        self.assertEqual(cold_life is not None, bool(in_cold),
                         "%s: cold's lifecycle row and its events disagree" % what)
        recorded = {m for sid, stream, m, _ in todo if sid == cold_id and stream == "big-1"}
        self.assertEqual(len(recorded), len(todo), "%s: a clean-up for something else: %r"
                         % (what, todo))
        if life is None:
            self.assertEqual((status, in_main), ("active", self.original), what)
            if in_cold:
                self.assertIn(cold_life["move_id"], recorded,
                              "%s: a copy in cold main did not record" % what)
                return "active+leftover"
            return "active+record" if recorded else "active"
        self.assertEqual((status, life["archive_store"], life["archive_alias"]),
                         ("archived", cold_id, "cold"), what)
        if life["state"] == "archiving":
            self.assertEqual(in_main, self.original, what)
            self.assertEqual(recorded, set(), what)
            if in_cold:
                self.assertEqual(cold_life["move_id"], life["move_id"],
                                 "%s: cold holds a copy of another move" % what)
                return "archiving+copy"
            return "archiving"
        self.assertEqual((life["state"], in_main, in_cold), ("archived", [], self.original), what)
        self.assertEqual((cold_life["move_id"], recorded), (life["move_id"], set()), what)
        return "archived"

    def fresh_cold(self):
        """A new, empty cold.db (the stream is in main and nothing refers to cold)."""
        self.assertEqual(self.locate("before a fresh cold"), "active")
        self.detach()
        for suffix in ("", "-journal", "-wal", "-shm"):
            if os.path.exists(self.cold_path + suffix):
                os.unlink(self.cold_path + suffix)
        self.attach()

    def retry(self, op, where):
        """The next call after a kill: finishes what the killed one began."""
        if op == "archive":
            want = 0 if where == "archived" else self.n
            self.assertEqual(one(self.c, "SELECT es_archive('big-1', 'cold')"), want, where)
            self.assertEqual(self.locate("after the retried archive (%s)" % where), "archived")
        else:
            want = self.n if where == "archived" else 0
            try:
                got = one(self.c, "SELECT es_restore('big-1', 'cold')")
            except sqlite3.Error as e:
                self.fail("%s: the retried es_restore failed: %s%s" % (
                    where, e, " (see test_retried_restore_after_its_erasure)"
                    if where == "active+record" else ""))
            self.assertEqual(got, want, where)
            self.assertEqual(self.locate("after the retried restore (%s)" % where), "active")

    def kill_every_step(self, op):
        seen = {}
        for k in range(1, 10000):
            if op == "archive":
                self.fresh_cold()  # the first move into cold also creates its schema
            killed = self.run_mover(op, kill_at=k)
            where = self.locate("%s killed before statement %d" % (op, k))
            if not killed:
                self.assertEqual(where, "archived" if op == "archive" else "active")
                break
            seen[where] = seen.get(where, 0) + 1
            self.retry(op, where)
            back = "restore" if op == "archive" else "archive"
            self.assertEqual(one(self.c, "SELECT es_%s('big-1', 'cold')" % back), self.n)
        FIGURES["steps_" + op] = "%d:%s" % (k - 1, "/".join("%s=%d" % kv for kv in
                                                             sorted(seen.items())))
        return seen

    def test_kill_archive_at_every_step(self):
        self.fill(self.STEP_N)
        seen = self.kill_every_step("archive")
        # Before A's commit, between A and B, between B and C ('archived' only once the call
        # returned: C's COMMIT is its last statement).
        self.assertEqual(set(seen), {"active", "archiving", "archiving+copy"})

    def test_kill_restore_at_every_step(self):
        self.fill(self.STEP_N)
        self.assertEqual(one(self.c, "SELECT es_archive('big-1', 'cold')"), self.n)
        seen = self.kill_every_step("restore")
        # Before A's commit, between A and B, between B and C.
        self.assertEqual(set(seen), {"archived", "active+leftover", "active+record"})

    def test_retried_restore_after_its_erasure(self):
        """es_restore killed after its step B (cold's copy erased) and before step C (main drops
        the clean-up record): the retried es_restore(s, 'cold') finishes that clean-up (returns
        0 and leaves no record), as it does when killed between A and B."""
        self.fill(10)
        self.assertEqual(one(self.c, "SELECT es_archive('big-1', 'cold')"), 10)
        self.assertTrue(self.run_mover("restore", kill_at=("commit", 2)))
        self.assertEqual(self.locate("restore killed after B"), "active+record")
        self.assertEqual(one(self.c, "SELECT es_restore('big-1', 'cold')"), 0)
        self.assertEqual(cleanups(self.c), [])

    def kill_at_random_moments(self, op):
        """Kills es_<op> at spread-out moments; returns the kills."""
        kills = 0
        seen = {}
        for i in range(self.KILLS):
            where = self.locate("before %s %d" % (op, i))
            want_before = "active" if op == "archive" else "archived"
            if where != want_before:  # put the stream where this direction starts from
                other = "restore" if op == "archive" else "archive"
                self.assertEqual(one(self.c, "SELECT es_%s('big-1', 'cold')" % other), self.n)
            # A move of N events takes some tens of milliseconds: spread the kills over it.
            if self.run_mover(op, delay=0.002 + 0.12 * i / self.KILLS):
                kills += 1
            where = self.locate("after killing %s %d" % (op, i))
            seen[where] = seen.get(where, 0) + 1
            if where not in ("active", "archived"):
                self.retry(op, where)
        FIGURES["random_" + op] = "kills=%d:%s" % (kills, "/".join("%s=%d" % kv for kv in
                                                                  sorted(seen.items())))
        # The next calls leave exactly one copy each way.
        if self.locate("final") == "active":
            self.assertEqual(one(self.c, "SELECT es_archive('big-1', 'cold')"), self.n)
        self.assertEqual(self.locate("final archive"), "archived")
        self.assertEqual(one(self.c, "SELECT es_restore('big-1', 'cold')"), self.n)
        self.assertEqual(self.locate("final restore"), "active")
        return kills

    def test_kill_archive_at_random_moments(self):
        self.fill(self.N)
        self.assertGreater(self.kill_at_random_moments("archive"), 0)

    def test_kill_restore_at_random_moments(self):
        self.fill(self.N)
        self.assertEqual(one(self.c, "SELECT es_archive('big-1', 'cold')"), self.N)
        self.assertGreater(self.kill_at_random_moments("restore"), 0)

    def test_tombstone_erases_a_recorded_leftover(self):
        """A restore killed between A and B leaves cold's copy recorded for erasure: a
        tombstone then erases it too (its move id is recorded), and the record."""
        self.fill(100)
        self.assertEqual(one(self.c, "SELECT es_archive('big-1', 'cold')"), 100)
        self.assertTrue(self.run_mover("restore", kill_at=("commit", 1)))
        self.assertEqual(self.locate("restore killed after A"), "active+leftover")
        self.assertEqual(one(self.c, "SELECT es_tombstone('big-1', 'gdpr')"), 2 * 100)
        self.assertEqual(rows_of(self.c, "big-1", "cold"), [])
        self.assertIsNone(lifecycle_of(self.c, "big-1", "cold"))
        self.assertEqual(rows_of(self.c, "big-1"), [])
        self.assertEqual(cleanups(self.c), [])
        self.assertEqual(one(self.c, "SELECT es_status('big-1')"), "tombstoned")

    def test_tombstone_leaves_an_unrecorded_copy(self):
        """Changed in schema 3: a copy main never recorded as its own leftover is not erased,
        even if it looks identical. Here cold.db is put back from a file copy taken while the
        stream was archived; main restored the stream and dropped the clean-up since, so the
        copy in the old file is no leftover of main's: the tombstone erases main's events only
        and never writes cold."""
        self.fill(100)
        self.assertEqual(one(self.c, "SELECT es_archive('big-1', 'cold')"), 100)
        self.detach()
        snapshot = file_bytes(self.cold_path)
        self.attach()
        self.assertEqual(one(self.c, "SELECT es_restore('big-1', 'cold')"), 100)
        self.detach()
        with open(self.cold_path, "wb") as f:
            f.write(snapshot)
        self.attach()
        self.assertEqual(rows_of(self.c, "big-1", "cold"), self.original)  # the old copy
        self.assertEqual(cleanups(self.c), [])
        self.assertEqual(one(self.c, "SELECT es_tombstone('big-1', 'gdpr')"), 100)
        self.assertEqual(rows_of(self.c, "big-1"), [])
        self.detach()
        self.assertEqual(file_bytes(self.cold_path), snapshot, "cold.db was written")
        self.attach()
        self.assertEqual(cleanups(self.c), [])
        self.assertEqual(one(self.c, "SELECT es_status('big-1')"), "tombstoned")


def mover(db, cold, op, kill_at):
    """The child of TestCrashAtomicity.run_mover."""
    import ast
    kill_at = ast.literal_eval(kill_at)
    c = connect(db, wal=False)
    c.execute("ATTACH ? AS cold", (cold,))
    if isinstance(kill_at, int):
        if kill_at:
            kill_at_statement(c, kill_at)
    else:  # ('commit', n): at the point right after the n-th COMMIT
        commits = [0]

        def after_commit(n, sql):
            if commits[0] == kill_at[1]:
                os.kill(os.getpid(), signal.SIGKILL)
            if sql.rstrip().upper().endswith("COMMIT"):
                commits[0] += 1
        kill_at_statement(c, 0, log=after_commit)
    print("ready", flush=True)
    result = one(c, "SELECT es_%s('big-1', 'cold')" % op)
    print("done %s" % result, flush=True)
    return 0


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "--mover":
        return mover(*sys.argv[2:])
    if not EXT:
        print("ES_EXT is not set", file=sys.stderr)
        return 2
    t = time.monotonic()
    result = unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[1:], exit=False).result
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    figures = ", ".join("%s=%s" % (k, ("%.3f" % v) if isinstance(v, float) else v)
                        for k, v in FIGURES.items())
    print("test_archive: %d run, %d failed, %d skipped in %.1f s; %s" % (
        result.testsRun, failed, len(result.skipped), time.monotonic() - t, figures or "-"))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
