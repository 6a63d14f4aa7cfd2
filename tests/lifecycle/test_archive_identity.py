#!/usr/bin/python3
"""Moves act on the recorded archive only (issue 9, "What must hold" 1 and 3): swapped and stale
archives, archives that cannot outlive the connection, event id reservation, and moves refused
half-way that must leave nothing behind.

swapped_archive      Store M archives s into X1 ('arch'); store M2 archives its own stream s
                     into X2. X2 attached to M under the recorded alias: es_restore(s, 'arch')
                     is refused (invalid_argument naming the alias it moved under), M and X2 are
                     byte-identical afterwards, es_head and es_all unchanged; es_archive of
                     another stream of that name into X2 is refused (conflict). The real X1
                     then restores s under any alias, original seq values and ids.
stale_archive_copy   A backup of X1 taken at an earlier move of s (same identity, other move
                     id, fewer events), attached while X1 is away: es_restore refused (conflict:
                     the copy does not match what left), nothing changes; X1 then works.
adoption             A stream main never knew, archived into X2 by M2, is adopted by
                     es_restore(t, X2): new seq values after main's head (so es_all(head)
                     shows them), same versions and ids; with an id that main already has it
                     is refused (duplicate_event) and nothing changes.
memory_targets       es_archive into ATTACH ':memory:', '' (temporary file), a memdb URI, a
                     shared-cache memory database, a deserialized database and 'temp' is
                     refused with the exact invalid_argument text; the target gets no tables;
                     the stream is not wedged: appends, archive into a real file, restore,
                     tombstone and delete all work, and after delete its ids can be reused.
id_reservation       Ids (caller-given and generated) of a stream archived into X cannot be
                     used by another stream in main (duplicate_event, exact text), alone, mixed
                     with new ids, and with X detached; the stream restores and its own append
                     replays; after restore nothing is reserved; after es_delete of an archived
                     stream its ids are free again.
refused_midway       X holds another store's events at the seq values (or with the event ids)
                     of the stream being archived: es_archive fails with conflict
                     (duplicate_event) after recording its intent, and the move is given up:
                     the stream is back in its former state (active, or archived in place),
                     appendable when it was, no 'archiving' row, X byte-identical.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _lc  # noqa: E402


def ev(items):
    return _lc.events_json(items)


def new_store(path):
    c = _lc.connect(path)
    c.execute("SELECT es_init()")
    return c


def stream_dump(c, schema, s):
    return _lc.rows(c, "SELECT seq, version, event_id, type, data FROM \"%s\".es_events WHERE "
                       "stream_id = ? ORDER BY version" % schema, (s,))


def swapped_archive(t):
    tmp = _lc.TempDir("eskit-swap-")
    m = new_store(tmp("m.db"))
    m.execute("SELECT es_append('s-1', 0, ?)", (ev([("Mine", {"n": i}, "m-%d" % i) for i in range(3)]),))
    m.execute("ATTACH ? AS arch", (tmp("x1.db"),))
    mine = stream_dump(m, "main", "s-1")
    t.ok("swap: archive into X1", m, "SELECT es_archive('s-1', 'arch')", want=[(3,)])
    m.execute("SELECT es_append('z-1', -1, ?)", (ev([("Z", 1, None)]),))
    m.execute("DETACH arch")
    m2 = new_store(tmp("m2.db"))
    for i in range(5):  # M2's positions overlap M's
        m2.execute("SELECT es_append('f-%d', -1, ?)" % i, (ev([("F", i, None)]),))
    m2.execute("SELECT es_append('s-1', 0, ?)", (ev([("Foreign", {"n": i}, "f-%d" % i) for i in range(4)]),))
    m2.execute("ATTACH ? AS x2", (tmp("x2.db"),))
    m2.execute("SELECT es_archive('s-1', 'x2')")
    m2.execute("SELECT es_append('t-1', 0, ?)", (ev([("T", {"n": i}, "t-%d" % i) for i in range(2)]),))
    m2.execute("SELECT es_append('z-1', 0, ?)", (ev([("Z", 0, None)]),))
    m2.execute("SELECT es_archive('t-1', 'x2'), es_archive('z-1', 'x2')")
    m2.close()
    x2_bytes = _lc.file_digest(tmp("x2.db"))
    m.execute("ATTACH ? AS arch", (tmp("x2.db"),))  # the swapped archive, under the recorded alias
    fp_main = _lc.fingerprint(m, "main")
    head = _lc.one(m, "SELECT es_head()")
    t.error("swap: es_restore from another store's archive under the recorded alias", m,
            "SELECT es_restore('s-1', 'arch')", (), "SQLITE_ERROR",
            "invalid_argument: es_restore(): stream 's-1' is archived in another database (attached "
            "as 'arch' when it moved), not in 'arch'")
    t.eq("swap: es_last_error says so", json.loads(_lc.one(m, "SELECT es_last_error()"))["code"],
         "invalid_argument")
    t.error("swap: es_archive of the stream into the swapped archive", m,
            "SELECT es_archive('s-1', 'arch')", (), "SQLITE_ERROR",
            "invalid_argument: es_archive(): stream 's-1' is already archived in database 'arch'; "
            "restore it before moving it to 'arch'")
    t.error("swap: es_archive of another stream of a name the swapped archive holds", m,
            "SELECT es_archive('z-1', 'arch')", (), "SQLITE_CONSTRAINT", "conflict: es_archive(): "
            "archive database 'arch' already holds a stream 'z-1'")
    t.eq("swap: main unchanged", _lc.fingerprint(m, "main"), fp_main)
    t.eq("swap: head unchanged", _lc.one(m, "SELECT es_head()"), head)
    t.eq("swap: nothing foreign in es_all", _lc.rows(m, "SELECT count(*) FROM es_all WHERE type = 'Foreign'"),
         [(0,)])
    t.error("swap: reading the stream still says where it is", m, "SELECT * FROM es_stream('s-1')", (),
            "SQLITE_CONSTRAINT", "archived: stream 's-1' was moved to archive database 'arch'; read it "
            "from \"arch\".es_events or es_restore('s-1', 'arch')")
    m.execute("DETACH arch")
    m.close()
    t.eq("swap: the swapped archive was not written", _lc.file_digest(tmp("x2.db")), x2_bytes)
    m = _lc.connect(tmp("m.db"))
    m.execute("ATTACH ? AS arch", (tmp("x2.db"),))
    m.execute("ATTACH ? AS the_real_one", (tmp("x1.db"),))
    t.ok("swap: the real archive restores under another alias", m,
         "SELECT es_restore('s-1', 'the_real_one')", want=[(3,)])
    t.eq("swap: original seq values, ids and data", stream_dump(m, "main", "s-1"), mine)
    t.eq("swap: X1 no longer holds it", _lc.rows(m, "SELECT count(*) FROM the_real_one.es_events"), [(0,)])
    m.close()
    t.eq("swap: X2 still not written", _lc.file_digest(tmp("x2.db")), x2_bytes)
    tmp.cleanup()


def stale_archive_copy(t):
    tmp = _lc.TempDir("eskit-stale-")
    m = new_store(tmp("m.db"))
    m.execute("ATTACH ? AS arch", (tmp("x1.db"),))
    m.execute("SELECT es_append('s-1', 0, ?)", (ev([("A", i, None) for i in range(2)]),))
    m.execute("SELECT es_archive('s-1', 'arch')")
    m.execute("VACUUM arch INTO ?", (tmp("x1-old.db"),))  # holds move 1 of s-1 (2 events)
    m.execute("SELECT es_restore('s-1', 'arch')")
    m.execute("SELECT es_append('s-1', 2, ?)", (ev([("B", 1, None)]),))
    m.execute("SELECT es_archive('s-1', 'arch')")  # move 2 (3 events)
    m.execute("DETACH arch")
    m.execute("ATTACH ? AS arch", (tmp("x1-old.db"),))
    fp = _lc.fingerprint(m, "main"), _lc.fingerprint(m, "arch")
    t.error("stale: es_restore from an old copy of the archive", m, "SELECT es_restore('s-1', 'arch')", (),
            "SQLITE_CONSTRAINT", "conflict: es_restore(): the copy of stream 's-1' in 'arch' does not "
            "match what left this store (3 events up to version 3)")
    t.eq("stale: nothing changed", (_lc.fingerprint(m, "main"), _lc.fingerprint(m, "arch")), fp)
    t.ok("stale: tombstone meanwhile is fine and does not erase in the old copy", m,
         "SELECT es_tombstone('s-1', 'r')", want=[(0,)])
    t.eq("stale: the old copy keeps its rows", _lc.rows(m, "SELECT count(*) FROM arch.es_events"), [(2,)])
    # (stale copy drops the clean-up): the old copy has the archive's identity but not
    # the recorded move's copy; the tombstone must keep the clean-up of the real copy recorded.
    t.eq("stale: the clean-up of the real archive's copy stays recorded",
         _lc.rows(m, "SELECT count(*) FROM es_cleanups WHERE stream_id = 's-1'"), [(1,)])
    m.execute("DETACH arch")
    m.execute("ATTACH ? AS arch", (tmp("x1.db"),))
    got = _lc.attempt(m, "SELECT es_maintain()")
    t.check("stale: es_maintain erases the tombstoned stream's copy in the real archive",
            got[0] == "ok" and json.loads(got[1][0][0])["erased"] == 3, repr(got))
    t.eq("stale: the real archive no longer holds the tombstoned events",
         _lc.rows(m, "SELECT count(*) FROM arch.es_events WHERE stream_id = 's-1'"), [(0,)])
    t.ok("stale: delete of the tombstoned stream", m, "SELECT es_delete('s-1')")
    t.error("stale: the deleted stream cannot be brought back from the archive", m,
            "SELECT es_restore('s-1', 'arch')", (), "SQLITE_ERROR",
            "not_found: stream 's-1' does not exist in database 'arch'")
    t.eq("stale: main holds none of the erased events",
         _lc.rows(m, "SELECT count(*) FROM es_events WHERE stream_id = 's-1'"), [(0,)])
    m.close()
    tmp.cleanup()


def adoption(t):
    tmp = _lc.TempDir("eskit-adopt-")
    m2 = new_store(tmp("m2.db"))
    m2.execute("ATTACH ? AS x2", (tmp("x2.db"),))
    m2.execute("SELECT es_append('t-1', 0, ?)", (ev([("T", {"n": i}, "t-%d" % i) for i in range(3)]),))
    m2.execute("SELECT es_append('u-1', 0, ?)", (ev([("U", 0, "shared-id")]),))
    m2.execute("SELECT es_archive('t-1', 'x2'), es_archive('u-1', 'x2')")
    m2.close()
    m = new_store(tmp("m.db"))
    for i in range(10):
        m.execute("SELECT es_append('m-%d', -1, ?)" % i, (ev([("M", i, None)]),))
    m.execute("SELECT es_append('m-10', -1, ?)", (ev([("M", 0, "shared-id")]),))
    head = _lc.one(m, "SELECT es_head()")
    m.execute("ATTACH ? AS x2", (tmp("x2.db"),))
    t.ok("adopt: a stream main never knew", m, "SELECT es_restore('t-1', 'x2')", want=[(3,)])
    t.eq("adopt: new seq values after the head, same versions and ids",
         _lc.rows(m, "SELECT seq, version, event_id FROM es_events WHERE stream_id = 't-1' ORDER BY version"),
         [(head + 1, 1, "t-0"), (head + 2, 2, "t-1"), (head + 3, 3, "t-2")])
    t.eq("adopt: a consumer at the old head sees them", _lc.rows(
        m, "SELECT event_id FROM es_all(?)", (head,)), [("t-0",), ("t-1",), ("t-2",)])
    t.eq("adopt: the adopted ids are found", _lc.rows(
        m, "SELECT stream_id FROM es_all WHERE event_id IN ('t-0', 't-2')"), [("t-1",), ("t-1",)])
    fp = _lc.fingerprint(m, "main"), _lc.fingerprint(m, "x2")
    t.error("adopt: ids main already has", m, "SELECT es_restore('u-1', 'x2')", (), "SQLITE_CONSTRAINT",
            "duplicate_event: es_restore(): event ids of stream 'u-1' in database 'x2' already exist in main")
    t.eq("adopt: nothing changed", (_lc.fingerprint(m, "main"), _lc.fingerprint(m, "x2")), fp)
    m.close()
    tmp.cleanup()


MEMORY_TARGETS = [
    ("mem", ":memory:", False),
    ("tmpfile", "", False),
    ("memdb", "file:/eskit-memdb-target?vfs=memdb", True),
    ("sharedmem", "file:eskit-shared-mem?mode=memory&cache=shared", True),
]


def memory_targets(t):
    tmp = _lc.TempDir("eskit-memtarget-")
    m = new_store(tmp("m.db"))
    m.execute("SELECT es_append('s-1', 0, ?)", (ev([("A", i, "s-%d" % i) for i in range(3)]),))
    fp = _lc.fingerprint(m, "main")
    for alias, target, uri in MEMORY_TARGETS:
        m.execute("ATTACH ? AS %s" % alias, (target,))
        t.error("memory: es_archive into %s" % alias, m, "SELECT es_archive('s-1', ?)", (alias,),
                "SQLITE_ERROR", "invalid_argument: es_archive(): database '%s' cannot outlive this "
                "connection (in memory or temporary): an archive must be a file" % alias)
        t.eq("memory: %s got no tables" % alias, _lc.rows(
            m, "SELECT count(*) FROM %s.sqlite_schema" % alias), [(0,)])
    # a real archive, deserialized into memory
    side = new_store(tmp("x.db"))
    side.execute("PRAGMA journal_mode=DELETE")
    side.close()
    m.execute("ATTACH ':memory:' AS dz")
    m.deserialize(open(tmp("x.db"), "rb").read(), name="dz")
    t.eq("memory: the deserialized database is an eskit store",
         _lc.one(m, "SELECT value FROM dz.es_meta WHERE key = 'schema_version'"), 3)
    dz_fp = _lc.fingerprint(m, "dz")
    t.error("memory: es_archive into a deserialized database", m, "SELECT es_archive('s-1', 'dz')", (),
            "SQLITE_ERROR", "invalid_argument: es_archive(): database 'dz' cannot outlive this "
            "connection (in memory or temporary): an archive must be a file")
    t.eq("memory: deserialized store unchanged", _lc.fingerprint(m, "dz"), dz_fp)
    t.error("memory: es_archive into temp", m, "SELECT es_archive('s-1', 'temp')", (), "SQLITE_ERROR",
            "invalid_argument: es_archive(): schema must be an attached archive database, not 'temp'")
    t.eq("memory: main unchanged", _lc.fingerprint(m, "main"), fp)
    for alias, _, _ in MEMORY_TARGETS:
        m.execute("DETACH %s" % alias)
    m.execute("DETACH dz")
    # not wedged
    t.eq("memory: still active", _lc.one(m, "SELECT es_status('s-1')"), "active")
    t.ok("memory: append", m, "SELECT es_append('s-1', 3, ?)", (ev([("B", 1, None)]),), want=[(4,)])
    m.execute("ATTACH ? AS arch", (tmp("arch.db"),))
    t.ok("memory: archive into a file", m, "SELECT es_archive('s-1', 'arch')", want=[(4,)])
    t.ok("memory: restore", m, "SELECT es_restore('s-1', 'arch')", want=[(4,)])
    t.ok("memory: tombstone", m, "SELECT es_tombstone('s-1', 'r')", want=[(4,)])
    t.ok("memory: delete", m, "SELECT es_delete('s-1')", want=[(0,)])
    t.ok("memory: ids reusable after delete", m, "SELECT es_append('other-1', 0, ?)",
         (ev([("A", 0, "s-0")]),), want=[(1,)])
    m.close()
    tmp.cleanup()


def id_reservation(t):
    tmp = _lc.TempDir("eskit-ids-")
    m = new_store(tmp("m.db"))
    m.execute("ATTACH ? AS arch", (tmp("arch.db"),))
    m.execute("SELECT es_append('s-1', 0, ?)", (ev([("A", 1, "id-1"), ("A", 2, "id-2"), ("A", 3, None)]),))
    gen = json.loads(_lc.one(m, "SELECT es_last_append()"))["event_ids"][2]
    m.execute("SELECT es_archive('s-1', 'arch')")
    for detached in (False, True):
        if detached:
            m.execute("DETACH arch")
        w = " (archive detached)" if detached else ""
        fp = _lc.fingerprint(m, "main")
        for label, events, culprit in (("a caller-given id", [("X", 1, "id-1")], "id-1"),
                                       ("mixed with new ids", [("X", 1, "fresh-1"), ("X", 2, "id-2")], "id-2"),
                                       ("a generated id", [("X", 1, gen)], gen)):
            t.error("ids: %s of the archived stream on another stream%s" % (label, w), m,
                    "SELECT es_append('o-1', -1, ?)", (ev(events),), "SQLITE_CONSTRAINT",
                    "duplicate_event: event id '%s' belongs to stream 's-1', whose events were moved "
                    "to an archive" % culprit)
        t.eq("ids: refused appends changed nothing%s" % w, _lc.fingerprint(m, "main"), fp)
    m.execute("ATTACH ? AS arch", (tmp("arch.db"),))
    t.ok("ids: the stream restores", m, "SELECT es_restore('s-1', 'arch')", want=[(3,)])
    t.ok("ids: its own append replays", m, "SELECT es_append('s-1', -1, ?)",
         (ev([("A", 1, "id-1"), ("A", 2, "id-2")]),), want=[(2,)])
    t.eq("ids: nothing reserved after restore", _lc.rows(m, "SELECT count(*) FROM es_reserved_ids"), [(0,)])
    t.error("ids: after restore the id is the stream's own again", m, "SELECT es_append('o-1', -1, ?)",
            (ev([("X", 1, "id-1")]),), "SQLITE_CONSTRAINT",
            re.compile(r"duplicate_event: .*'id-1'.*"))
    m.execute("SELECT es_archive('s-1', 'arch')")
    t.ok("ids: delete of the archived stream", m, "SELECT es_delete('s-1')", want=[(3,)])
    t.ok("ids: its ids are free after delete", m, "SELECT es_append('o-1', -1, ?)",
         (ev([("X", 1, "id-1"), ("X", 2, gen)]),), want=[(2,)])
    m.close()
    tmp.cleanup()


def refused_midway(t):
    tmp = _lc.TempDir("eskit-midway-")
    # X: an archive of store Y holding events at seq 1..3 and an event with id 'dup-id'
    y = new_store(tmp("y.db"))
    y.execute("ATTACH ? AS x", (tmp("x.db"),))
    y.execute("SELECT es_append('y-1', 0, ?)", (ev([("Y", i, None) for i in range(3)]),))
    y.execute("SELECT es_append('y-2', 0, ?)", (ev([("Y", 9, "dup-id")]),))
    for _ in range(20):
        y.execute("SELECT es_append('y-3', -1, ?)", (ev([("Y", 0, None)]),))
    y.execute("SELECT es_archive('y-1', 'x'), es_archive('y-2', 'x')")
    y.close()
    m = new_store(tmp("m.db"))
    m.execute("SELECT es_append('a-1', 0, ?)", (ev([("A", i, None) for i in range(2)]),))  # seq 1, 2
    m.execute("SELECT es_append('b-1', 0, ?)", (ev([("B", 0, None)]),))  # seq 3
    m.execute("SELECT es_archive('b-1')")  # archived in place
    for _ in range(10):
        m.execute("SELECT es_append('pad-1', -1, ?)", (ev([("P", 0, None)]),))
    m.execute("SELECT es_append('c-1', 0, ?)", (ev([("C", 0, "dup-id")]),))  # seq 14, id in X
    m.close()
    x_bytes = _lc.file_digest(tmp("x.db"))
    m = _lc.connect(tmp("m.db"))
    m.execute("ATTACH ? AS x", (tmp("x.db"),))
    for s, seqs, state, code, msg in (
            ("a-1", "1", "active", "SQLITE_CONSTRAINT",
             "conflict: es_archive(): seq values of stream 'a-1' are already used in archive database "
             "'x' (by another store's events)"),
            ("b-1", "3", "archived", "SQLITE_CONSTRAINT",
             "conflict: es_archive(): seq values of stream 'b-1' are already used in archive database "
             "'x' (by another store's events)"),
            ("c-1", "14", "active", "SQLITE_CONSTRAINT",
             "duplicate_event: es_archive(): event ids of stream 'c-1' already exist in archive "
             "database 'x'")):
        before = stream_dump(m, "main", s)
        t.error("midway: es_archive(%s) refused" % s, m, "SELECT es_archive(?, 'x')", (s,), code, msg)
        t.eq("midway: %s back in its state" % s, _lc.one(m, "SELECT es_status(?)", (s,)), state)
        t.eq("midway: %s has no lifecycle row but its own" % s, _lc.rows(
            m, "SELECT state, archive_store, move_id FROM es_lifecycle WHERE stream_id = ?", (s,)),
            [("archived", None, None)] if state == "archived" else [])
        t.eq("midway: %s's events untouched" % s, stream_dump(m, "main", s), before)
        if state == "active":
            t.ok("midway: %s appendable" % s, m, "SELECT es_append(?, -1, ?)", (s, ev([("Z", 0, None)])))
    m.close()
    t.eq("midway: X byte-identical", _lc.file_digest(tmp("x.db")), x_bytes)
    tmp.cleanup()


def finding_failed_copy_wedges_stream(t):
    """The archive refuses the copy for a reason of its own (here a user trigger in the archive
    file: RAISE(ABORT, 'archive is frozen')). es_archive fails, and as a failed call it must
    change nothing: the stream stays active and appendable. Today the intent of step A stays
    committed: state 'archiving', appends refused, es_restore refused, until es_archive succeeds."""
    tmp = _lc.TempDir("eskit-frozen-")
    x = new_store(tmp("x.db"))
    x.execute("CREATE TRIGGER frozen BEFORE INSERT ON es_events BEGIN SELECT RAISE(ABORT, 'archive is frozen'); END")
    x.close()
    m = new_store(tmp("m.db"))
    m.execute("SELECT es_append('s-1', 0, ?)", (ev([("A", i, None) for i in range(2)]),))
    m.execute("ATTACH ? AS x", (tmp("x.db"),))
    before = _lc.fingerprint(m, "main")
    t.error("frozen: es_archive fails with the archive's own message", m, "SELECT es_archive('s-1', 'x')", (),
            "SQLITE_CONSTRAINT_TRIGGER", "archive is frozen")
    t.eq("frozen: the failed es_archive changed nothing in main", _lc.fingerprint(m, "main"), before)
    t.eq("frozen: the stream is active", _lc.one(m, "SELECT es_status('s-1')"), "active")
    t.ok("frozen: the stream accepts appends", m, "SELECT es_append('s-1', 2, ?)",
         (ev([("B", 0, None)]),), want=[(3,)])
    m.close()
    tmp.cleanup()


def finding_duplicate_generated_id_in_archive(t):
    """An id generated by store M2 for a stream now archived in X is given by the caller of
    another store M to one of its events; archiving that stream into X must be refused
    (duplicate_event): X would hold two events with one id. The check of step B consults X's
    listed ids only, and generated ids are not listed (they carry their seq)."""
    tmp = _lc.TempDir("eskit-dupid-")
    m2 = new_store(tmp("m2.db"))
    m2.execute("ATTACH ? AS x", (tmp("x.db"),))
    for i in range(5):
        m2.execute("SELECT es_append('pad-%d', -1, ?)" % i, (ev([("P", 1, None)]),))
    m2.execute("SELECT es_append('t-1', -1, ?)", (ev([("T", 1, None)]),))
    gen = json.loads(_lc.one(m2, "SELECT es_last_append()"))["event_ids"][0]
    m2.execute("SELECT es_archive('t-1', 'x')")
    m2.close()
    m = new_store(tmp("m.db"))
    m.execute("ATTACH ? AS x", (tmp("x.db"),))
    t.ok("dup id: main accepts the id (it is not in main)", m, "SELECT es_append('c-1', -1, ?)",
         (ev([("C", 1, gen)]),), want=[(1,)])
    x_fp = _lc.fingerprint(m, "x")
    t.error("dup id: archiving it into X, which holds that id", m, "SELECT es_archive('c-1', 'x')", (),
            "SQLITE_CONSTRAINT", "duplicate_event: es_archive(): event ids of stream 'c-1' already exist "
            "in archive database 'x'")
    t.eq("dup id: X holds the id once", _lc.rows(m, "SELECT count(*) FROM x.es_events WHERE event_id = ?",
                                                         (gen,)), [(1,)])
    t.eq("dup id: X unchanged", _lc.fingerprint(m, "x"), x_fp)
    m.close()
    tmp.cleanup()


def finding_archive_copy_used_as_own_stream(t):
    """The archive file opened on its own: a stream it holds for store M (archived there by M)
    shows as 'archived'; es_restore(s) in place, or es_archive(s, Y) onward, turn M's copy into
    the archive's own stream (or move it away), and M can never restore it (conflict forever).
    Such a copy must be refused by these calls, with a stable code, and left as it is."""
    tmp = _lc.TempDir("eskit-copyasown-")
    m = new_store(tmp("m.db"))
    m.execute("ATTACH ? AS x", (tmp("x.db"),))
    for s in ("s-1", "s-2"):
        m.execute("SELECT es_append(?, -1, ?)", (s, ev([("A", 1, None)])))
        m.execute("SELECT es_archive(?, 'x')", (s,))
    m.close()
    x = _lc.connect(tmp("x.db"))
    x.execute("ATTACH ? AS y", (tmp("y.db"),))
    fp = _lc.fingerprint(x, "main")
    for sql in ("SELECT es_restore('s-1')", "SELECT es_archive('s-2', 'y')"):
        got = _lc.attempt(x, sql)
        t.check("copy as own: %s in the archive is refused with a stable code" % sql,
                got[0] == "error" and _lc.stable(got[1], got[2]), repr(got))
    t.eq("copy as own: the archive's copies unchanged", _lc.fingerprint(x, "main"), fp)
    x.close()
    m = _lc.connect(tmp("m.db"))
    m.execute("ATTACH ? AS x", (tmp("x.db"),))
    t.ok("copy as own: main restores s-1", m, "SELECT es_restore('s-1', 'x')", want=[(1,)])
    t.ok("copy as own: main restores s-2", m, "SELECT es_restore('s-2', 'x')", want=[(1,)])
    m.close()
    tmp.cleanup()


def failed_cleanup_listed(t):
    """A clean-up that fails (its archive locked by another connection) stays pending and
    es_maintain() lists its error under "failed"; once the lock is gone it erases the copy."""
    tmp = _lc.TempDir("eskit-failedclean-")
    m = new_store(tmp("m.db"))
    m.execute("ATTACH ? AS arch", (tmp("x.db"),))
    m.execute("SELECT es_append('s-1', 0, ?)", (ev([("A", i, None) for i in range(3)]),))
    m.execute("SELECT es_archive('s-1', 'arch')")
    m.execute("PRAGMA busy_timeout = 100")
    holder = _lc.connect(tmp("x.db"), timeout=0.1)
    holder.execute("BEGIN IMMEDIATE")
    t.ok("failed clean-up: the tombstone succeeds in main", m, "SELECT es_tombstone('s-1', 'r')",
         want=[(0,)])
    got = json.loads(_lc.one(m, "SELECT es_maintain()"))
    t.eq("failed clean-up: still pending", got.get("pending"), 1)
    t.eq("failed clean-up: its error is listed", got.get("failed"), ["database is locked"])
    t.eq("failed clean-up: the copy is still in the archive",
         _lc.one(m, "SELECT count(*) FROM arch.es_events WHERE stream_id = 's-1'"), 3)
    holder.rollback()
    holder.close()
    got = json.loads(_lc.one(m, "SELECT es_maintain()"))
    t.eq("failed clean-up: erased once the archive is free",
         (got.get("erased"), got.get("pending"), "failed" in got), (3, 0, False))
    t.eq("failed clean-up: nothing recorded any more",
         _lc.one(m, "SELECT count(*) FROM main.es_cleanups"), 0)
    m.close()
    tmp.cleanup()


def main():
    t = _lc.Failures("archive_identity")
    for fn in (swapped_archive, stale_archive_copy, adoption, memory_targets, id_reservation,
               refused_midway, finding_failed_copy_wedges_stream,
               finding_duplicate_generated_id_in_archive, finding_archive_copy_used_as_own_stream,
               failed_cleanup_listed):
        t.run(fn)
    t.finish()


if __name__ == "__main__":
    main()
