#!/usr/bin/python3
"""Erasure touches only what eskit owns (issue 9, "What must hold" 3): attached backups and
second stores are checked byte for byte before and after every lifecycle call.

For both journal modes (WAL, DELETE) a store main.db with an archive arch.db is set up, then
these bystanders are attached next to them:
  bak      a VACUUM INTO backup of main (same identity as main), read-write
  bakro    the same backup again, read-only (file:...?mode=ro)
  other    another eskit store holding streams of the same names, among them a tombstoned one
           and one it archived itself (its own es_lifecycle rows are what the old code erased)
  main2    main.db itself, attached a second time
  archbak  a VACUUM INTO backup of arch (same identity as arch), attached next to arch
Then every lifecycle call runs and must succeed with its documented result: es_tombstone and
es_delete of active and of archived streams, es_archive in place and into arch, es_restore in
place and from arch, es_maintain. Afterwards (every connection closed) the files of bak, other
and archbak are byte-identical to before, bakro too, `other` still has its tombstone (an append
there is refused with `tombstoned`) and its streams, and main seen through main2 equals main.
Calls that name a bystander as their target are refused with a stable code and write nothing:
es_archive into bak/bakro/main2 (this store: invalid_argument), es_restore from bak/other.

Also here:
  * another store attached under the archive's recorded alias while the real archive is
    detached: tombstone/delete of streams archived there succeed in main, the clean-up waits
    (es_maintain reports it pending) and the impostor is not written; attaching the real archive
    under a new alias lets es_maintain erase there (found by identity);
  * finding_readonly_archive: the recorded archive attached read-only: es_tombstone and es_delete
    must succeed in main and leave the clean-up pending (not fail after committing), es_restore
    must be refused before it changes anything, es_maintain must not fail;
  * finding_archive_into_copy_of_main: es_archive into a byte copy of main is refused as "this
    store" (the brief), also for a stream the copy holds.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _lc  # noqa: E402


def ev(n, tag):
    return _lc.events_json([("E", {"n": i, "tag": tag}, None) for i in range(n)])


def build(tmp, journal):
    """main (streams a.., with some archived into arch), arch, other, and the two backups."""
    wal = journal == "wal"
    m = _lc.connect(tmp("main.db"), wal=wal)
    if not wal:
        m.execute("PRAGMA journal_mode=DELETE")
    m.execute("SELECT es_init()")
    m.execute("ATTACH ? AS arch", (tmp("arch.db"),))
    m.execute("PRAGMA arch.journal_mode=%s" % journal)
    for s in ("t-1", "t-2", "d-1", "d-2", "ar-1", "ar-2", "ip-1", "rs-1", "mv-1", "tx-1", "dx-1"):
        m.execute("SELECT es_append(?, -1, ?)", (s, ev(3, s)))
    for s in ("ar-1", "ar-2", "rs-1", "tx-1", "dx-1"):
        m.execute("SELECT es_archive(?, 'arch')", (s,))
    m.execute("VACUUM INTO ?", (tmp("bak.db"),))
    m.execute("VACUUM arch INTO ?", (tmp("archbak.db"),))
    m.close()
    o = _lc.connect(tmp("other.db"), wal=wal)
    if not wal:
        o.execute("PRAGMA journal_mode=DELETE")
    o.execute("SELECT es_init()")
    o.execute("ATTACH ? AS oarch", (tmp("other_arch.db"),))
    for s in ("t-1", "t-2", "d-1", "d-2", "ar-1", "tx-1", "dx-1", "ot-1", "oa-1"):
        o.execute("SELECT es_append(?, -1, ?)", (s, ev(2, "other " + s)))
    o.execute("SELECT es_tombstone('ot-1', 'other tombstone')")
    o.execute("SELECT es_tombstone('tx-1', 'other tombstone of tx-1')")
    o.execute("SELECT es_archive('oa-1', 'oarch')")
    o.execute("SELECT es_archive('ar-1')")  # archived in place there
    o.close()


def digests(tmp, names):
    return {n: _lc.file_digest(tmp(n)) for n in names}


def open_all(tmp, journal, archive_alias="arch"):
    m = _lc.connect(tmp("main.db"), wal=(journal == "wal"))
    m.execute("ATTACH ? AS bak", (tmp("bak.db"),))
    m.execute("ATTACH ? AS bakro", ("file:%s?mode=ro" % tmp("bak.db"),))
    m.execute("ATTACH ? AS other", (tmp("other.db"),))
    m.execute("ATTACH ? AS main2", (tmp("main.db"),))
    if archive_alias:
        m.execute("ATTACH ? AS %s" % archive_alias, (tmp("arch.db"),))
    m.execute("ATTACH ? AS archbak", (tmp("archbak.db"),))
    return m


def bystanders(t, journal):
    tmp = _lc.TempDir("eskit-attached-")
    build(tmp, journal)
    files = ["bak.db", "other.db", "archbak.db", "other_arch.db"]
    before = digests(tmp, files)
    m = open_all(tmp, journal)
    fp_other = _lc.fingerprint(m, "other")
    j = journal
    # Every lifecycle call, each with its documented answer.
    t.ok("%s: tombstone active" % j, m, "SELECT es_tombstone('t-1', 'r')", want=[(3,)])
    t.ok("%s: delete active" % j, m, "SELECT es_delete('d-1')", want=[(3,)])
    t.ok("%s: tombstone archived in arch" % j, m, "SELECT es_tombstone('tx-1', 'r')", want=[(3,)])
    t.ok("%s: delete archived in arch" % j, m, "SELECT es_delete('dx-1')", want=[(3,)])
    t.ok("%s: archive in place" % j, m, "SELECT es_archive('ip-1')", want=[(0,)])
    t.ok("%s: restore in place" % j, m, "SELECT es_restore('ip-1')", want=[(0,)])
    t.ok("%s: archive into arch" % j, m, "SELECT es_archive('mv-1', 'arch')", want=[(3,)])
    t.ok("%s: restore from arch" % j, m, "SELECT es_restore('rs-1', 'arch')", want=[(3,)])
    t.ok("%s: restore then archive again" % j, m, "SELECT es_restore('ar-2', 'arch'), es_archive('ar-2', 'arch')",
         want=[(3, 3)])
    got = _lc.attempt(m, "SELECT es_maintain()")
    t.check("%s: es_maintain: nothing erased, nothing pending" % j, got[0] == "ok" and
            (json.loads(got[1][0][0])["erased"], json.loads(got[1][0][0])["pending"]) == (0, 0), repr(got))
    m.execute("BEGIN")
    t.ok("%s: tombstone in a caller's transaction" % j, m, "SELECT es_tombstone('t-2', 'txn')", want=[(3,)])
    t.ok("%s: delete in a caller's transaction" % j, m, "SELECT es_delete('d-2')", want=[(3,)])
    m.execute("COMMIT")
    # the archive's copies of tx-1 and dx-1 are gone; arch's backup still has them
    t.eq("%s: arch's copies erased" % j, _lc.rows(
        m, "SELECT count(*) FROM arch.es_events WHERE stream_id IN ('tx-1', 'dx-1')"), [(0,)])
    t.eq("%s: archbak still has them" % j, _lc.rows(
        m, "SELECT count(*) FROM archbak.es_events WHERE stream_id IN ('tx-1', 'dx-1')"), [(6,)])
    t.eq("%s: main2 shows main" % j, _lc.fingerprint(m, "main2"), _lc.fingerprint(m, "main"))
    # Calls that target a bystander: refused, stable code, nothing written.
    for target in ("bak", "bakro", "main2"):
        got = _lc.attempt(m, "SELECT es_archive('ip-1', ?)", (target,))
        t.check("%s: es_archive into %s refused with a stable code" % (j, target),
                got[0] == "error" and _lc.stable(got[1], got[2]), repr(got))
    t.error("%s: es_restore from the backup of main" % j, m, "SELECT es_restore('ar-1', 'bak')", (),
            "SQLITE_ERROR", "invalid_argument: es_restore(): stream 'ar-1' is archived in another "
            "database (attached as 'arch' when it moved), not in 'bak'")
    t.error("%s: es_restore from another store" % j, m, "SELECT es_restore('ar-1', 'other')", (),
            "SQLITE_ERROR", "invalid_argument: es_restore(): stream 'ar-1' is archived in another "
            "database (attached as 'arch' when it moved), not in 'other'")
    t.error("%s: es_restore of main's unknown stream from another store's tombstone" % j, m,
            "SELECT es_restore('ot-1', 'other')", (), "SQLITE_ERROR",
            "not_found: stream 'ot-1' does not exist in database 'other'")
    t.eq("%s: other unchanged (logical)" % j, _lc.fingerprint(m, "other"), fp_other)
    m.close()
    after = digests(tmp, files)
    for f in files:
        t.eq("%s: %s byte-identical" % (j, f), after[f], before[f])
    o = _lc.connect(tmp("other.db"), wal=(journal == "wal"))
    t.error("%s: other still refuses appends to its tombstoned stream" % j, o,
            "SELECT es_append('ot-1', -1, '{\"type\":\"X\",\"data\":1}')", (), "SQLITE_CONSTRAINT",
            "tombstoned: stream 'ot-1' is tombstoned (reason: 'other tombstone')")
    t.eq("%s: other's streams intact" % j, _lc.rows(
        o, "SELECT stream_id, version, state FROM es_streams ORDER BY stream_id"),
        [("ar-1", 2, "archived"), ("d-1", 2, "active"), ("d-2", 2, "active"), ("dx-1", 2, "active"),
         ("oa-1", 2, "archived"), ("ot-1", 2, "tombstoned"), ("t-1", 2, "active"), ("t-2", 2, "active"),
         ("tx-1", 2, "tombstoned")])
    o.close()
    tmp.cleanup()


def impostor_under_archive_alias(t, journal):
    """Another store attached as 'arch' while the real archive is away."""
    tmp = _lc.TempDir("eskit-impostor-")
    build(tmp, journal)
    j = journal
    before = _lc.file_digest(tmp("other.db"))
    m = _lc.connect(tmp("main.db"), wal=(journal == "wal"))
    m.execute("ATTACH ? AS arch", (tmp("other.db"),))  # the impostor, under the recorded alias
    t.ok("%s/impostor: tombstone of a stream archived in the real arch" % j, m,
         "SELECT es_tombstone('tx-1', 'r')", want=[(0,)])
    t.ok("%s/impostor: delete of a stream archived in the real arch" % j, m,
         "SELECT es_delete('dx-1')", want=[(0,)])
    t.error("%s/impostor: restore refused" % j, m, "SELECT es_restore('ar-1', 'arch')", (),
            "SQLITE_ERROR", "invalid_argument: es_restore(): stream 'ar-1' is archived in another "
            "database (attached as 'arch' when it moved), not in 'arch'")
    got = _lc.attempt(m, "SELECT es_maintain()")
    t.check("%s/impostor: es_maintain leaves both clean-ups pending" % j, got[0] == "ok" and
            (json.loads(got[1][0][0])["erased"], json.loads(got[1][0][0])["pending"]) == (0, 2), repr(got))
    t.eq("%s/impostor: main's state" % j, _lc.rows(
        m, "SELECT stream_id, state FROM main.es_streams WHERE stream_id IN ('tx-1', 'dx-1', 'ar-1') "
        "ORDER BY 1"), [("ar-1", "archived"), ("tx-1", "tombstoned")])
    m.execute("DETACH arch")
    m.close()
    t.eq("%s/impostor: not written" % j, _lc.file_digest(tmp("other.db")), before)
    m = _lc.connect(tmp("main.db"), wal=(journal == "wal"))
    m.execute("ATTACH ? AS arch", (tmp("other.db"),))
    m.execute("ATTACH ? AS real_archive", (tmp("arch.db"),))
    got = _lc.attempt(m, "SELECT es_maintain()")
    t.check("%s/impostor: es_maintain erases in the real archive, found by identity" % j,
            got[0] == "ok" and (json.loads(got[1][0][0])["erased"], json.loads(got[1][0][0])["pending"]) == (6, 0),
            repr(got))
    t.eq("%s/impostor: real archive's copies gone" % j, _lc.rows(
        m, "SELECT count(*) FROM real_archive.es_events WHERE stream_id IN ('tx-1', 'dx-1')"), [(0,)])
    t.ok("%s/impostor: restore from the real archive under a new alias" % j, m,
         "SELECT es_restore('ar-1', 'real_archive')", want=[(3,)])
    m.close()
    t.eq("%s/impostor: still not written" % j, _lc.file_digest(tmp("other.db")), before)
    tmp.cleanup()


def finding_readonly_archive(t, journal):
    """The recorded archive attached read-only (a mounted snapshot, a file without write
    permission). Old and new code alike must not leave a call that failed after committing."""
    tmp = _lc.TempDir("eskit-roarch-")
    build(tmp, journal)
    j = journal + "/read-only archive"
    before = _lc.file_digest(tmp("arch.db"))
    m = _lc.connect(tmp("main.db"), wal=(journal == "wal"))
    m.execute("ATTACH ? AS arch", ("file:%s?mode=ro" % tmp("arch.db"),))
    fp = _lc.fingerprint(m, "main")
    got = _lc.attempt(m, "SELECT es_restore('rs-1', 'arch')")
    if got[0] == "error":
        t.check("%s: es_restore refused with a stable code" % j, _lc.stable(got[1], got[2]), repr(got))
        t.eq("%s: a refused es_restore changed nothing in main" % j, _lc.fingerprint(m, "main"), fp)
    else:
        t.eq("%s: es_restore copied back" % j, got[1], [(3,)])
    got = _lc.attempt(m, "SELECT es_tombstone('tx-1', 'r')")
    t.eq("%s: es_tombstone succeeds in main" % j, got, ("ok", [(0,)]))
    t.eq("%s: tx-1 tombstoned" % j, _lc.one(m, "SELECT es_status('tx-1')"), "tombstoned")
    got = _lc.attempt(m, "SELECT es_delete('dx-1')")
    t.eq("%s: es_delete succeeds in main" % j, got, ("ok", [(0,)]))
    got = _lc.attempt(m, "SELECT es_maintain()")
    t.check("%s: es_maintain does not fail; clean-ups pending" % j,
            got[0] == "ok" and json.loads(got[1][0][0])["pending"] >= 2, repr(got))
    m.close()
    t.eq("%s: the read-only archive was not written" % j, _lc.file_digest(tmp("arch.db")), before)
    m = _lc.connect(tmp("main.db"), wal=(journal == "wal"))
    m.execute("ATTACH ? AS arch", (tmp("arch.db"),))
    got = _lc.attempt(m, "SELECT es_maintain()")
    t.check("%s: attached writable, es_maintain erases the copies" % j,
            got[0] == "ok" and json.loads(got[1][0][0])["pending"] == 0, repr(got))
    t.eq("%s: arch no longer holds tx-1, dx-1" % j, _lc.rows(
        m, "SELECT count(*) FROM arch.es_events WHERE stream_id IN ('tx-1', 'dx-1')"), [(0,)])
    m.close()
    tmp.cleanup()


def finding_archive_into_copy_of_main(t, journal):
    tmp = _lc.TempDir("eskit-copyofmain-")
    build(tmp, journal)
    j = journal
    m = _lc.connect(tmp("main.db"), wal=(journal == "wal"))
    m.execute("SELECT es_append('new-1', -1, ?)", (ev(1, "after the backup"),))
    m.execute("ATTACH ? AS bak", (tmp("bak.db"),))
    before = _lc.file_digest(tmp("bak.db"))
    this_store = re.compile(r"invalid_argument: es_archive\(\): database 'bak' is this store .*")
    t.error("%s: archive a stream the copy lacks into a copy of main" % j, m,
            "SELECT es_archive('new-1', 'bak')", (), "SQLITE_ERROR", this_store)
    t.error("%s: archive a stream the copy holds into a copy of main" % j, m,
            "SELECT es_archive('ip-1', 'bak')", (), "SQLITE_ERROR", this_store)
    m.close()
    t.eq("%s: the copy was not written" % j, _lc.file_digest(tmp("bak.db")), before)
    tmp.cleanup()


def finding_restore_steals_from_another_store(t, journal):
    """Another eskit store attached (not an archive of main's): a stream it archived in place
    (its events are there) and main never knew. es_restore(s, 'other') adopts it into main AND
    erases it from the other store, which loses the stream. A store main never moved anything
    to must not be written; its streams are not archive copies to adopt."""
    tmp = _lc.TempDir("eskit-steal-")
    j = journal
    o = _lc.connect(tmp("other.db"), wal=(journal == "wal"))
    if journal != "wal":
        o.execute("PRAGMA journal_mode=DELETE")
    o.execute("SELECT es_init()")
    o.execute("SELECT es_append('inv-1', 0, ?)", (ev(2, "other's invoice"),))
    o.execute("SELECT es_archive('inv-1')")
    o.close()
    before = _lc.file_digest(tmp("other.db"))
    m = _lc.connect(tmp("main.db"), wal=(journal == "wal"))
    m.execute("SELECT es_init()")
    m.execute("ATTACH ? AS other", (tmp("other.db"),))
    got = _lc.attempt(m, "SELECT es_restore('inv-1', 'other')")
    t.check("%s: es_restore from a store main never archived into is refused" % j,
            got[0] == "error" and _lc.stable(got[1], got[2]), repr(got))
    t.eq("%s: main took nothing" % j, _lc.one(m, "SELECT count(*) FROM main.es_events"), 0)
    m.close()
    t.eq("%s: the other store was not written" % j, _lc.file_digest(tmp("other.db")), before)
    tmp.cleanup()


def main():
    t = _lc.Failures("attached_untouched")
    for journal in ("wal", "delete"):
        t.run(bystanders, journal)
        t.run(impostor_under_archive_alias, journal)
        t.run(finding_readonly_archive, journal)
        t.run(finding_archive_into_copy_of_main, journal)
        t.run(finding_restore_steals_from_another_store, journal)
    t.finish()


if __name__ == "__main__":
    main()
