"""Trust: a database file whose schema was written by a client that never loaded eskit holds
views and triggers calling eskit's writers. Opened with eskit loaded, with trusted_schema at its
default and OFF, every use is refused with "unsafe use of es_...()" and changes nothing; the
readers (es_head, es_status, es_checkpoint(c), es_version, es_stream, es_all) work in views of
the file even with trusted_schema=OFF. Last, CHECK constraints: SQLite 3.40 does not apply
SQLITE_DIRECTONLY there; eskit's own guards refuse writers and es_wait inside a writing
statement, so such a CHECK makes the INSERT fail at once instead of stalling it. (Since schema 3
es_snapshot_invalidate with nothing to remove answers 0 without writing, also on a read-only
connection; so the CHECK store holds a snapshot for it to refuse removing, and the no-op case
is checked on its own: it writes nothing of eskit's.)"""
import os
import tempfile
import time

from _hostile import Failures, connect, expect_error, fingerprint, one

EVIL = "'{\"type\":\"Evil\",\"data\":1}'"
WRITERS = {  # name: (SQL expression, the function SQLite names in the refusal)
    "append": ("es_append('s-1', -1, %s)" % EVIL, "es_append"),
    "tombstone": ("es_tombstone('s-1', 'evil')", "es_tombstone"),
    "delete": ("es_delete('s-1')", "es_delete"),
    "init": ("es_init()", "es_init"),
    "checkpoint2": ("es_checkpoint('c', 99)", "es_checkpoint"),
    "checkpoint3": ("es_checkpoint('c', 1, 99)", "es_checkpoint"),
    "snapshot_save": ("es_snapshot_save('s-1', 2, '{}')", "es_snapshot_save"),
    "snapshot_invalidate": ("es_snapshot_invalidate(NULL)", "es_snapshot_invalidate"),
    "archive": ("es_archive('s-1')", "es_archive"),
    "archive2": ("es_archive('s-1', 'cold')", "es_archive"),
    "restore": ("es_restore('s-1')", "es_restore"),
    "wait": ("es_wait(1000000, 3000)", "es_wait"),
}


def make_file(path):
    # The store itself, written with eskit.
    c = connect(path)
    c.execute("SELECT es_append('s-1', 0, '[{\"type\":\"A\",\"data\":1},{\"type\":\"B\",\"data\":2}]')")
    c.execute("SELECT es_checkpoint('c', 1)")
    c.execute("SELECT es_snapshot_save('s-1', 1, '{}')")
    c.close()
    # The hostile schema, written by a client that never loaded eskit.
    p = connect(path, load=False)
    p.execute("CREATE TABLE victim(x)")
    for name, (expr, _) in WRITERS.items():
        p.execute("CREATE VIEW v_%s AS SELECT %s AS r" % (name, expr))
        p.execute("CREATE TABLE t_%s(x)" % name)
        p.execute("CREATE TRIGGER tr_%s AFTER INSERT ON t_%s BEGIN SELECT %s; END" % (name, name, expr))
    p.execute("CREATE TRIGGER tr_ckpt AFTER UPDATE ON es_checkpoints BEGIN SELECT es_delete('s-1'); END")
    p.execute("CREATE VIEW v_read AS SELECT es_head() AS head, es_status('s-1') AS status, "
              "es_checkpoint('c') AS cp, es_version() AS version")
    p.execute("CREATE VIEW v_stream AS SELECT version, type FROM es_stream('s-1')")
    p.execute("CREATE VIEW v_all AS SELECT seq, stream_id, type FROM es_all()")
    p.execute("CREATE TABLE t_reader(x)")
    p.execute("CREATE TRIGGER tr_reader AFTER INSERT ON t_reader BEGIN INSERT INTO victim SELECT "
              "es_head() || ':' || es_status('s-1') || ':' || es_checkpoint('c') || ':' || "
              "(SELECT count(*) FROM es_all()) || ':' || (SELECT group_concat(type) FROM es_stream('s-1')); END")
    p.close()


def test_views_and_triggers(t):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "hostile.db")
        make_file(path)
        for trusted in (None, "OFF"):
            c = connect(path)
            if trusted:
                c.execute("PRAGMA trusted_schema = OFF")
            tag = "trusted_schema=%s" % (trusted or "default")
            before, _ = fingerprint(c)
            for name, (_, fn) in WRITERS.items():
                t0 = time.monotonic()
                expect_error(t, "%s view %s" % (tag, name), c, "SELECT * FROM v_%s" % name, (),
                             "SQLITE_ERROR", "unsafe use of %s()" % fn)
                expect_error(t, "%s trigger %s" % (tag, name), c, "INSERT INTO t_%s VALUES (1)" % name, (),
                             "SQLITE_ERROR", "unsafe use of %s()" % fn)
                t.check("%s %s did not wait" % (tag, name), time.monotonic() - t0 < 1.0)
            expect_error(t, "%s trigger on es_checkpoints" % tag, c, "SELECT es_checkpoint('c', 2)", (),
                         "SQLITE_ERROR", "unsafe use of es_delete()")
            t.check("%s nothing changed" % tag, fingerprint(c)[0] == before)
            t.check("%s v_read" % tag, c.execute("SELECT * FROM v_read").fetchall() == [(2, "active", 1, "0.1.0")],
                    repr(c.execute("SELECT * FROM v_read").fetchall()))
            t.check("%s v_stream" % tag, c.execute("SELECT * FROM v_stream").fetchall() == [(1, "A"), (2, "B")])
            t.check("%s v_all" % tag, c.execute("SELECT * FROM v_all").fetchall() == [(1, "s-1", "A"), (2, "s-1", "B")])
            c.execute("INSERT INTO t_reader VALUES (1)")
            t.check("%s reader trigger" % tag, one(c, "SELECT x FROM victim ORDER BY rowid DESC") == "2:active:1:2:A,B")
            t.check("%s integrity" % tag, one(c, "PRAGMA integrity_check") == "ok")
            c.close()
        c = connect(path)
        t.check("store unchanged", c.execute("SELECT es_head(), es_status('s-1'), es_checkpoint('c'), "
                                             "(SELECT count(*) FROM es_snapshots)").fetchall() == [(2, "active", 1, 1)])
        c.close()


def test_check_constraints(t):
    """A CHECK constraint can only be created while the function exists, so the hostile author
    had eskit loaded. SQLite 3.40.1 does not refuse DIRECTONLY functions in CHECK constraints."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "check.db")
        c = connect(path)
        c.execute("SELECT es_append('s-1', 0, '{\"type\":\"A\",\"data\":1}')")
        c.execute("SELECT es_checkpoint('c', 1)")
        c.execute("SELECT es_snapshot_save('s-1', 1, '{}')")  # something to invalidate
        for name, (expr, _) in WRITERS.items():
            c.execute("CREATE TABLE k_%s(x CHECK ((%s) IS NOT NULL))" % (name, expr))
        c.execute("CREATE TABLE k_noop(x CHECK (es_snapshot_invalidate('nope-1') = 0))")
        c.close()
        for trusted in (None, "OFF"):
            c = connect(path)
            if trusted:
                c.execute("PRAGMA trusted_schema = OFF")
            tag = "trusted_schema=%s" % (trusted or "default")
            before, _ = fingerprint(c)
            for name, (_, fn) in WRITERS.items():
                t0 = time.monotonic()
                got = expect_error(
                    t, "%s CHECK %s refused" % (tag, name), c, "INSERT INTO k_%s VALUES (1)" % name, (),
                    "SQLITE_ERROR", lambda m, fn=fn: m == "unsafe use of %s()" % fn or m.startswith(
                        "invalid_argument: %s(): cannot run inside a statement that writes" % fn) or m ==
                        "invalid_argument: es_archive(): no attached database named 'cold'" or m == (
                        "invalid_argument: es_wait(): cannot wait inside a statement or transaction "
                        "that writes: its write lock keeps out the commits it would wait for"))
                took = time.monotonic() - t0
                t.check("%s CHECK %s did not stall (%.1f s)" % (tag, name, took), took < 1.0,
                        "got %r" % (got,))
            t.check("%s CHECK: nothing changed" % tag, fingerprint(c)[0] == before)
            t.check("%s CHECK: store unchanged" % tag, c.execute(
                "SELECT es_head(), es_status('s-1'), es_checkpoint('c'), "
                "(SELECT count(*) FROM es_snapshots)").fetchall() == [(1, "active", 1, 1)])
            # Nothing to remove: a no-op that writes nothing of eskit's, so the user's row goes in.
            eskit_before = [c.execute("SELECT * FROM %s" % tb).fetchall() for tb in (
                "es_events", "es_meta", "es_snapshots", "es_checkpoints", "es_lifecycle")]
            c.execute("INSERT INTO k_noop VALUES (1)")
            t.check("%s CHECK no-op invalidate" % tag, one(c, "SELECT count(*) FROM k_noop") == 1)
            t.check("%s CHECK no-op invalidate wrote nothing of eskit's" % tag, eskit_before == [
                c.execute("SELECT * FROM %s" % tb).fetchall() for tb in (
                    "es_events", "es_meta", "es_snapshots", "es_checkpoints", "es_lifecycle")])
            c.execute("DELETE FROM k_noop")
            c.close()


if __name__ == "__main__":
    t = Failures()
    for f in (test_views_and_triggers, test_check_constraints):
        t.run(f)
    t.finish()
