#!/usr/bin/python3
"""Trigger attacks on eskit's own writes (issue 9, "What must hold" 4): the append-only guard
knows what eskit is writing, not only that it is writing.

A template store is built once: main.db with streams target-1 (the subject of the calls),
victim-1 (a bystander), arch-1 (archived into x), tx-1 (archived into x, subject of restore and
of the tombstone/delete of an archived stream), a tail of 250 unindexed events (the next append
folds the index), caller-given ids (es_event_ids), a reserved id; and x.db, the archive.

For every call under attack
    es_append (folding the index tail), es_tombstone, es_delete, es_tombstone / es_delete of
    a stream archived in x, es_archive in place, es_restore in place, es_archive(s, 'x'),
    es_restore(s, 'x'), es_maintain with a pending clean-up
a dry run with marker triggers on es_events (BEFORE/AFTER INSERT/UPDATE/DELETE) finds the
trigger points the call passes, in three placements: a persistent trigger of main, a TEMP
trigger (on main's or x's table), and a persistent trigger stored in x (on x's table). (eskit's
bookkeeping tables take no user triggers at all: with one defined, a call that would write that
table refuses before writing, naming it — bookkeeping_triggers_refused.) Then,
on a fresh copy of the template per case, a trigger at each such point runs one attack:

    delete another stream's events; delete every event; update an event; insert a forged event;
    INSERT OR REPLACE over the row just inserted, or over another stream's event (REPLACE
    deletes without firing delete triggers); update and insert es_streams; forge, delete and
    retarget es_lifecycle rows (a tombstone for the bystander; strand an archived stream); forge
    and delete es_postings, es_event_ids, es_reserved_ids; change es_meta (store_id,
    indexed_upto); forge an es_cleanups row for another archived stream (its copy would be
    erased by the next es_maintain) or delete the pending ones; from TEMP triggers also call
    eskit's writers (es_append, es_tombstone, es_archive).

The call must then either fail with SQLITE_CONSTRAINT and one of the guard's messages (or, for
the nested eskit calls, invalid_argument "cannot be called while another eskit write is
running"; for a forged insert at the next permitted seq, the UNIQUE failure ext/guard.h
documents) with both databases logically unchanged, or succeed with exactly the state the same
call leaves without the trigger (events, seq, versions, ids, lifecycle states, bookkeeping,
compared without timestamps and move ids) — never anything else.

A second family uses a user function called by a TEMP trigger that runs arbitrary statements on
the same connection while eskit's statement is running (qualified names, so x's tables too):
no such nested write to an eskit table may succeed.

Projections keep working: a persistent AFTER INSERT / AFTER DELETE projection into a user table
and a TEMP one into a temp table, through append, tombstone, archive into x and restore.
"""
import json
import os
import shutil
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _lc  # noqa: E402

TS = 1700000000000000
GUARD_MESSAGES = {
    "es_events is append-only: add events with es_append()",
    "es_events is append-only: events cannot be updated",
    "es_events is append-only: remove streams with es_tombstone() or es_delete()",
    "es_streams is maintained by eskit: streams are created by es_append()",
    "es_streams is maintained by eskit: use es_append(), es_archive(), es_restore() or es_tombstone()",
    "es_streams is maintained by eskit: remove streams with es_delete()",
} | {"%s is maintained by eskit" % t for t in ("es_meta", "es_lifecycle", "es_postings", "es_event_ids",
                                              "es_reserved_ids", "es_cleanups")}
NESTED = "invalid_argument: %s: cannot be called while another eskit write is running on this connection"
# eskit's bookkeeping tables take no user triggers: a call that would write one refuses first.
FOREIGN_TRIGGER = ("invalid_argument: trigger '%s' on %s is not eskit's: eskit's bookkeeping tables "
                   "take no triggers of their own (they would run while eskit writes them); drop it")
BOOKKEEPING = ["es_lifecycle", "es_meta", "es_postings", "es_event_ids", "es_reserved_ids", "es_cleanups"]

TABLES = ["es_events", "es_lifecycle", "es_meta", "es_postings", "es_event_ids", "es_reserved_ids",
          "es_cleanups"]


def ev(items, ts=True):
    return _lc.events_json(items)


def build_template(tmp):
    m = _lc.connect(tmp("main.db"))
    m.execute("SELECT es_init()")
    m.execute("ATTACH ? AS x", (tmp("x.db"),))
    opts = json.dumps({"timestamp": TS})
    for s in ("target-1", "victim-1", "arch-1", "tx-1", "pend-1"):
        m.execute("SELECT es_append(?, 0, ?, ?)", (s, ev([("A", {"s": s, "i": i}, "%s-%d" % (s, i)) for i in range(2)]), opts))
    m.execute("SELECT es_archive('arch-1', 'x'), es_archive('tx-1', 'x'), es_archive('pend-1', 'x')")
    m.execute("DETACH x")
    m.execute("SELECT es_delete('pend-1')")  # x keeps its copy: a clean-up waits in es_cleanups
    for i in range(250):  # unindexed tail: the next append of a few events folds it
        m.execute("SELECT es_append('tail-1', -1, ?, ?)", (ev([("T", i, None)]), opts))
    m.close()


def calls():
    """name -> (SQL, needs x attached)"""
    opts = json.dumps({"timestamp": TS})
    return {
        "append": ("SELECT es_append('target-1', 2, '%s', '%s')" % (
            ev([("B", {"i": i}, "new-%d" % i) for i in range(8)]), opts), False),
        "tombstone": ("SELECT es_tombstone('target-1', 'attack')", False),
        "delete": ("SELECT es_delete('target-1')", False),
        "tombstone_archived": ("SELECT es_tombstone('tx-1', 'attack')", True),
        "delete_archived": ("SELECT es_delete('tx-1')", True),
        "archive_here": ("SELECT es_archive('target-1')", False),
        "restore_here": ("SELECT es_restore('arch-here-1')", False),
        "archive_to": ("SELECT es_archive('target-1', 'x')", True),
        "restore_from": ("SELECT es_restore('tx-1', 'x')", True),
        "maintain": ("SELECT es_maintain()", True),
    }


def prepare_case(tmp, case_dir):
    os.makedirs(case_dir)
    for f in ("main.db", "x.db"):
        shutil.copy(tmp(f), os.path.join(case_dir, f))
    m = _lc.connect(os.path.join(case_dir, "main.db"))
    m.execute("ATTACH ? AS x", (os.path.join(case_dir, "x.db"),))
    return m


def template_extra(m):
    """Per-case additions the template lacks: a stream archived in place (for restore_here)."""
    m.execute("SELECT es_append('arch-here-1', 0, ?, ?)", (ev([("A", 0, "arch-here-1-0")]),
                                                          json.dumps({"timestamp": TS})))
    m.execute("SELECT es_archive('arch-here-1')")


def normalized(m):
    """Everything eskit keeps, without timestamps and move ids (random per run)."""
    out = {}
    for db in ("main", "x"):
        out[db + ".events"] = _lc.rows(m, "SELECT seq, stream_id, version, type, data, metadata, event_id, "
                                          "idempotency_key, created_at FROM %s.es_events ORDER BY seq" % db)
        out[db + ".lifecycle"] = _lc.rows(m, "SELECT stream_id, state, version, archive_alias, "
                                             "archive_store IS NULL, moved_count, moved_last_id, "
                                             "moved_seq_lo, moved_seq_hi, origin_store, tombstone_reason "
                                             "FROM %s.es_lifecycle ORDER BY stream_id" % db)
        out[db + ".meta"] = _lc.rows(m, "SELECT key, value FROM %s.es_meta ORDER BY key" % db)
        out[db + ".postings"] = _lc.rows(m, "SELECT kind, key, last_seq, seqs FROM %s.es_postings ORDER BY 1, 2, 3" % db)
        out[db + ".event_ids"] = _lc.rows(m, "SELECT event_id, seq FROM %s.es_event_ids ORDER BY 1" % db)
        out[db + ".reserved"] = _lc.rows(m, "SELECT event_id, stream_id FROM %s.es_reserved_ids ORDER BY 1" % db)
        out[db + ".cleanups"] = _lc.rows(m, "SELECT store_id, stream_id, alias FROM %s.es_cleanups ORDER BY 1, 2" % db)
        out[db + ".snapshots"] = _lc.rows(m, "SELECT stream_id, version, state FROM %s.es_snapshots ORDER BY 1" % db)
    return out


def hook_points(tables=("es_events",)):
    """(placement, db of the table, table, timing, event). User triggers are attacks from
    es_events, the one eskit table that takes them (projections); a trigger on a bookkeeping
    table makes eskit refuse to write that table at all (bookkeeping_triggers_refused)."""
    points = []
    for table in tables:
        for timing in ("BEFORE", "AFTER"):
            for event in ("INSERT", "UPDATE", "DELETE"):
                points.append(("persistent", "main", table, timing, event))
                points.append(("temp", "main", table, timing, event))
                points.append(("temp", "x", table, timing, event))
                points.append(("persistent", "x", table, timing, event))
    return points


def trigger_sql(name, point, body):
    placement, db, table, timing, event = point
    if placement == "temp":
        return "CREATE TEMP TRIGGER %s %s %s ON %s.%s BEGIN %s END" % (name, timing, event, db, table, body)
    return "CREATE TRIGGER %s.%s %s %s ON %s BEGIN %s END" % (db, name, timing, event, table, body)


EV_COLS = "seq, stream_id, version, type, data, codec, schema_version, event_id, created_at"


def attacks(point):
    """(label, trigger body) for a trigger point; unqualified names resolve to the trigger's own
    database (persistent) or temp, main, then attached (TEMP)."""
    placement, db, table, timing, event = point
    out = [
        ("delete another stream's events", "DELETE FROM es_events WHERE stream_id = 'victim-1';"),
        ("delete every event", "DELETE FROM es_events;"),
        ("update an event", "UPDATE es_events SET data = '\"forged\"' WHERE stream_id = 'victim-1';"),
        ("insert a forged event", "INSERT INTO es_events(%s) VALUES ((SELECT max(seq) FROM es_events) + 1000, "
                                  "'forged-1', 1, 'F', '1', 'json', 1, 'forged-id', 0);" % EV_COLS),
        ("update es_streams", "UPDATE es_streams SET version = 99 WHERE stream_id = 'victim-1';"),
        ("insert es_streams", "INSERT INTO es_streams(stream_id, version, state) VALUES ('forged-2', 1, 'active');"),
        ("forge a tombstone", "INSERT OR REPLACE INTO es_lifecycle(stream_id, state, version, created_at, "
                              "updated_at, tombstone_reason) VALUES ('victim-1', 'tombstoned', 2, 0, 0, 'forged');"),
        ("strand archived streams", "DELETE FROM es_lifecycle WHERE state = 'archived';"),
        ("retarget an archive record", "UPDATE es_lifecycle SET archive_alias = 'elsewhere', version = 7 "
                                       "WHERE stream_id = 'arch-1';"),
        ("forge postings", "INSERT INTO es_postings(kind, key, last_seq, seqs) VALUES (1, 'forged', 1, x'01');"),
        ("delete postings", "DELETE FROM es_postings;"),
        ("forge an id listing", "INSERT INTO es_event_ids(event_id, seq) VALUES ('forged-id-2', 1);"),
        ("delete id listings", "DELETE FROM es_event_ids;"),
        ("change es_meta", "UPDATE es_meta SET value = 'forged' WHERE key IN ('store_id', 'indexed_upto');"),
        ("forge a reservation", "INSERT INTO es_reserved_ids(event_id, stream_id) VALUES ('forged-res', 'victim-1');"),
        ("release reservations", "DELETE FROM es_reserved_ids;"),
        ("forge a clean-up of another archived stream",
         "INSERT INTO es_cleanups(store_id, stream_id, move_id, alias) SELECT archive_store, stream_id, "
         "move_id, archive_alias FROM es_lifecycle WHERE stream_id = 'arch-1';"),
        ("drop pending clean-ups", "DELETE FROM es_cleanups;"),
    ]
    if event == "INSERT" and table == "es_events" and timing == "AFTER":
        out += [
            ("REPLACE the row just inserted",
             "INSERT OR REPLACE INTO es_events(%s) VALUES (NEW.seq, NEW.stream_id, NEW.version, 'F', "
             "'\"forged\"', 'json', 1, NEW.event_id, NEW.created_at);" % EV_COLS),
            ("REPLACE another stream's event",
             "INSERT OR REPLACE INTO es_events(%s) VALUES (NEW.seq, 'victim-1', 1, 'F', '\"forged\"', "
             "'json', 1, 'replaced-' || NEW.event_id, NEW.created_at);" % EV_COLS),
        ]
    if event == "INSERT" and table == "es_events" and timing == "BEFORE":
        out.append(("take the next seq", "INSERT INTO es_events(%s) VALUES (NEW.seq + 1, 'forged-3', 1, "
                                         "'F', '1', 'json', 1, 'forged-next', 0);" % EV_COLS))
    if placement == "temp":
        out += [
            ("nested es_append", "SELECT es_append('victim-1', -1, '{\"type\":\"X\",\"data\":1}');"),
            ("nested es_tombstone", "SELECT es_tombstone('victim-1', 'nested');"),
            ("nested es_archive", "SELECT es_archive('victim-1');"),
        ]
    return out


def acceptable_error(got, label=""):
    if got[0] != "error":
        return False
    if label == "take the next seq":
        # documented (ext/guard.h): a forged insert at the next permitted seq takes it, so
        # eskit's own row is refused by the guard (or fails on the table's own constraints),
        # and the call rolls back
        if got[1] in ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE") and \
                got[2].startswith("UNIQUE constraint failed: es_events."):
            return True
    if got[2] in GUARD_MESSAGES:
        return got[1].startswith("SQLITE_CONSTRAINT")
    for fn in ("es_append()", "es_tombstone()", "es_archive()"):
        if got[2] == NESTED % fn:
            return got[1] == "SQLITE_ERROR"
    return False


class Marks:
    def __init__(self):
        self.fired = set()

    def __call__(self, label):
        self.fired.add(label)
        return 1


def dry_run(tmp, root, name, sql):
    """The trigger points this call passes."""
    m = prepare_case(tmp, os.path.join(root, "dry-" + name))
    template_extra(m)
    marks = Marks()
    m.create_function("mark", 1, marks)
    points = hook_points()
    for i, p in enumerate(points):
        m.execute(trigger_sql("mark%d" % i, p, "SELECT mark(%d);" % i))
    m.execute(sql).fetchall()
    m.close()
    return [points[i] for i in sorted(marks.fired)]


def clean_result(tmp, root, name, sql):
    m = prepare_case(tmp, os.path.join(root, "clean-" + name))
    template_extra(m)
    m.execute(sql).fetchall()
    state = normalized(m)
    m.close()
    return state


def diff_of(want, state):
    keys = sorted(k for k in want if want[k] != state[k])
    return keys, "; ".join("%s: +%r -%r" % (k, [r for r in state[k] if r not in want[k]][:2],
                                            [r for r in want[k] if r not in state[k]][:2]) for k in keys)


def select_cases(points, full):
    """(point, label, body) to run. Full: every attack at every point. Otherwise every attack at
    up to two of the points it applies to (the first, and one chosen by the attack's index), so
    each attack meets each call and the trigger points rotate."""
    if full:
        return [(p, label, body) for p in points for label, body in attacks(p)]
    by_label = {}
    for p in points:
        for i, (label, body) in enumerate(attacks(p)):
            by_label.setdefault((i, label), []).append((p, body))
    out = []
    for (i, label), where in sorted(by_label.items()):
        picks = {0, (i * 7 + len(where) // 2) % len(where)}
        out += [(where[j][0], label, where[j][1]) for j in sorted(picks)]
    return out


def deferred_erasure(before, want, state):
    """The call took effect in main and the erasure of x's copy, refused by the attack, stays
    recorded for es_maintain (README: a clean-up that cannot run now is left pending, the call
    is not failed after main changed): main is as the clean call leaves it but for that
    clean-up record, and x is exactly as before."""
    for k in want:
        if k.startswith("x."):
            if state[k] != before[k]:
                return False
        elif k == "main.cleanups":
            if not set(want[k]) <= set(state[k]) or len(state[k]) != len(want[k]) + 1:
                return False
        elif state[k] != want[k]:
            return False
    return True


def trigger_attacks(t):
    tmp = _lc.TempDir("eskit-guard-")
    build_template(tmp)
    root = os.path.join(tmp.path, "cases")
    os.makedirs(root)
    full = bool(os.environ.get("ESKIT_GUARD_FULL"))
    n = 0
    refused = 0
    absorbed = {}
    start = time.monotonic()
    for name, (sql, _) in calls().items():
        points = dry_run(tmp, root, name, sql)
        if name not in ("archive_here", "restore_here"):  # they write es_lifecycle only
            t.check("%s passes at least one trigger point" % name, bool(points))
        want = clean_result(tmp, root, name, sql)
        for p, label, body in select_cases(points, full):
            n += 1
            m = prepare_case(tmp, os.path.join(root, "c%d" % n))
            template_extra(m)
            m.execute(trigger_sql("attack", p, body))
            before = normalized(m)
            got = _lc.attempt(m, sql)
            state = normalized(m)
            where = "%s: %s %s %s ON %s.%s: %s" % (name, p[0], p[3], p[4], p[1], p[2], label)
            if got[0] == "error":
                refused += 1
                t.check(where + ": refused with the guard's message", acceptable_error(got, label),
                        "%s %r" % (got[1], got[2]))
                keys, detail = diff_of(before, state)
                t.check(where + ": a refused call changed nothing", not keys, detail)
            else:
                keys, detail = diff_of(want, state)
                if keys and deferred_erasure(before, want, state):
                    absorbed["(erasure in x left pending) " + label] = \
                        absorbed.get("(erasure in x left pending) " + label, 0) + 1
                    keys = []
                t.check(where + ": succeeded only with the call's own effect", not keys, detail)
                if not keys:
                    absorbed[label] = absorbed.get(label, 0) + 1
            m.close()
            shutil.rmtree(os.path.join(root, "c%d" % n), ignore_errors=True)
    print("trigger attacks: %d cases (%s), %d refused, absorbed without effect: %r; %.1f s"
          % (n, "full matrix" if full else "sampled; ESKIT_GUARD_FULL=1 for all", refused, absorbed,
             time.monotonic() - start))
    tmp.cleanup()


def bookkeeping_triggers_refused(t):
    """A trigger of the user's on a bookkeeping table (main's, x's, or TEMP) never runs under
    eskit's permit: every call either refuses before writing, with the exact message, changing
    nothing, or succeeds without that table's trigger having fired (it does not write there)."""
    tmp = _lc.TempDir("eskit-bktrig-")
    build_template(tmp)
    root = os.path.join(tmp.path, "cases")
    os.makedirs(root)
    n = refused = 0
    for name, (sql, _) in calls().items():
        want = clean_result(tmp, root, name, sql)
        for placement in ("persistent", "temp"):
            for db in ("main", "x"):
                for table in BOOKKEEPING:
                    n += 1
                    m = prepare_case(tmp, os.path.join(root, "b%d" % n))
                    template_extra(m)
                    marks = Marks()
                    m.create_function("mark", 1, marks)
                    point = (placement, db, table, "AFTER", "INSERT")
                    m.execute(trigger_sql("spy", point, "SELECT mark(1);"))
                    before = normalized(m)
                    got = _lc.attempt(m, sql)
                    state = normalized(m)
                    where = "%s: %s trigger on %s.%s" % (name, placement, db, table)
                    if got[0] == "error":
                        refused += 1
                        t.check(where + ": refused with the message naming it",
                                got[1] == "SQLITE_ERROR" and got[2] == FOREIGN_TRIGGER % ("spy", table),
                                "%s %r" % (got[1], got[2]))
                        t.check(where + ": a refused call changed nothing", not diff_of(before, state)[0],
                                diff_of(before, state)[1])
                    elif deferred_erasure(before, want, state):
                        # main's part done; x's erasure refused (x has the trigger), pending
                        t.check(where + ": never fired under eskit's write", not marks.fired)
                    else:
                        t.check(where + ": never fired under eskit's write", not marks.fired)
                        t.check(where + ": the call's own effect", not diff_of(want, state)[0],
                                diff_of(want, state)[1])
                    m.close()
                    shutil.rmtree(os.path.join(root, "b%d" % n), ignore_errors=True)
    print("bookkeeping triggers: %d cases, %d refused" % (n, refused))
    t.check("some calls were refused", refused > 0)
    tmp.cleanup()


def nested_statement_attacks(t):
    """A TEMP trigger calls a user function that runs statements on the same connection while
    eskit's own statement runs (permits granted for that statement are live)."""
    tmp = _lc.TempDir("eskit-nested-")
    build_template(tmp)
    root = os.path.join(tmp.path, "cases")
    os.makedirs(root)
    stmts = [
        "DELETE FROM main.es_events WHERE stream_id = 'victim-1'",
        "DELETE FROM x.es_events WHERE stream_id = 'arch-1'",
        "UPDATE main.es_events SET data = '1' WHERE stream_id = 'victim-1'",
        "INSERT INTO x.es_events(%s) VALUES (999999, 'forged-1', 1, 'F', '1', 'json', 1, 'fx', 0)" % EV_COLS,
        "DELETE FROM main.es_lifecycle WHERE stream_id = 'arch-1'",
        "DELETE FROM x.es_lifecycle WHERE stream_id = 'arch-1'",
        "UPDATE x.es_lifecycle SET move_id = 'forged' WHERE stream_id = 'arch-1'",
        "INSERT INTO main.es_cleanups(store_id, stream_id, move_id, alias) SELECT archive_store, stream_id, "
        "move_id, archive_alias FROM main.es_lifecycle WHERE stream_id = 'arch-1'",
        "DELETE FROM main.es_reserved_ids",
        "INSERT INTO x.es_reserved_ids VALUES ('fr', 'arch-1')",
        "UPDATE main.es_meta SET value = value + 5 WHERE key = 'indexed_upto'",
        "UPDATE x.es_meta SET value = 'forged' WHERE key = 'store_id'",
        "DELETE FROM x.es_postings",
        "DELETE FROM main.es_event_ids",
    ]
    went_through = []
    n = 0
    clean = {}
    for name, (sql, _) in calls().items():
        for db in ("main", "x"):
            for timing in ("BEFORE", "AFTER"):
                for event in ("INSERT", "DELETE"):
                    n += 1
                    m = prepare_case(tmp, os.path.join(root, "n%d" % n))
                    template_extra(m)

                    def evil(_, m=m):
                        for s in stmts:
                            try:
                                m.execute(s)
                            except sqlite3.Error:
                                pass  # refused: the attacker tries the next one
                        return 1
                    m.create_function("evil", 1, evil)
                    m.execute("CREATE TEMP TRIGGER evil %s %s ON %s.es_events BEGIN SELECT evil(1); END"
                              % (timing, event, db))
                    before = normalized(m)
                    got = _lc.attempt(m, sql)
                    after = normalized(m)
                    if got[0] == "ok":
                        if name not in clean:
                            clean[name] = clean_result(tmp, root, name, sql)
                        want = clean[name]
                    else:
                        want = before
                    diff = sorted(k for k in want if want[k] != after[k])
                    if diff:
                        went_through.append((name, db, timing, event, diff))
                    m.close()
    for w in went_through[:20]:
        print("  nested write went through during %s (trigger %s %s ON %s.es_events): changed %s"
              % (w[0], w[2], w[3], w[1], w[4]))
    t.eq("no nested statement wrote eskit's tables during an eskit call (%d cases)" % n, len(went_through), 0)
    tmp.cleanup()


def projections(t):
    tmp = _lc.TempDir("eskit-proj-")
    m = _lc.connect(tmp("main.db"))
    m.execute("SELECT es_init()")
    m.execute("ATTACH ? AS x", (tmp("x.db"),))
    m.execute("CREATE TABLE proj(stream_id TEXT, version INTEGER, seq INTEGER)")
    m.execute("CREATE TABLE proj_gone(stream_id TEXT, version INTEGER)")
    m.execute("CREATE TRIGGER proj_in AFTER INSERT ON es_events BEGIN INSERT INTO proj VALUES "
              "(NEW.stream_id, NEW.version, NEW.seq); END")
    m.execute("CREATE TRIGGER proj_out AFTER DELETE ON es_events BEGIN INSERT INTO proj_gone VALUES "
              "(OLD.stream_id, OLD.version); DELETE FROM proj WHERE stream_id = OLD.stream_id "
              "AND version = OLD.version; END")
    m.execute("CREATE TEMP TABLE tproj(n INTEGER)")
    m.execute("CREATE TEMP TRIGGER tproj_in AFTER INSERT ON main.es_events BEGIN INSERT INTO tproj "
              "VALUES (NEW.seq); END")
    t.ok("projection: append", m, "SELECT es_append('p-1', 0, ?)", (ev([("A", i, None) for i in range(3)]),), want=[(3,)])
    t.eq("projection: rows", _lc.rows(m, "SELECT stream_id, version FROM proj ORDER BY version"),
         [("p-1", 1), ("p-1", 2), ("p-1", 3)])
    t.eq("projection: temp rows", _lc.one(m, "SELECT count(*) FROM tproj"), 3)
    t.ok("projection: archive into x", m, "SELECT es_archive('p-1', 'x')", want=[(3,)])
    t.eq("projection: archive deleted main's rows", _lc.one(m, "SELECT count(*) FROM proj"), 0)
    t.ok("projection: restore from x", m, "SELECT es_restore('p-1', 'x')", want=[(3,)])
    t.eq("projection: restored", _lc.one(m, "SELECT count(*) FROM proj"), 3)
    t.ok("projection: append in a caller's transaction", m, "SELECT 1")
    m.execute("BEGIN")
    m.execute("SELECT es_append('p-2', 0, ?)", (ev([("A", 0, None)]),))
    m.execute("ROLLBACK")
    t.eq("projection: rolled back with the caller", _lc.one(m, "SELECT count(*) FROM proj WHERE stream_id = 'p-2'"), 0)
    t.ok("projection: tombstone", m, "SELECT es_tombstone('p-1', 'r')", want=[(3,)])
    t.eq("projection: tombstone seen", _lc.one(m, "SELECT count(*) FROM proj"), 0)
    m.close()
    tmp.cleanup()


def main():
    t = _lc.Failures("guard_triggers")
    t.run(projections)
    t.run(trigger_attacks)
    t.run(bookkeeping_triggers_refused)
    t.run(nested_statement_attacks)
    t.finish()


if __name__ == "__main__":
    main()
