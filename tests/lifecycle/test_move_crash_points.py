#!/usr/bin/python3
"""A mover killed between (and inside) the steps of a move (issue 9, "What must hold" 1-2:
"The existing crash-kill and fault-injection tests extend to every step of every move").

Part 1, every statement boundary. For each operation below, a dry run counts the statements
the call executes on its connection (sqlite3 trace callback: eskit's BEGIN/COMMIT of each step,
every read and write in between, the statements of triggers). Then, for every k, a forked child
opens the store, starts the call on a fresh stream and exits with os._exit() just before its
k-th statement (no rollback, no close: as a crash; the file locks go with the process). The
parent then checks the store as the crash left it:
  * the authoritative copy is complete: main's state says where the stream is (active or being
    moved: main; archived into arch: arch, whose copy carries main's move id), and that database
    holds exactly the acknowledged events, versions 1..n, with their original seq;
  * any other copy is either the pending copy of the recorded move or one main recorded in
    es_cleanups for erasure: never an unrecorded leftover;
  * a tombstoned or deleted stream has no events in main.
and then recovers the way a user would, alternating by k:
  retry   the same call again (must succeed; a repeated tombstone may answer `tombstoned`, a
          repeated delete `not_found`), then es_maintain();
  other   a different call (restore in place after an archive, delete after a restore, append
          after a tombstone, ...) that must succeed or fail with its documented code, then the
          original call and es_maintain();
after which the stream must be exactly where the call puts it, exactly once, with nothing left
in the other database and es_cleanups empty.

Operations: es_archive(s, 'arch') of an active stream and of one archived in place;
es_restore(s, 'arch'); es_tombstone and es_delete of a stream archived into arch (its copy is
erased in steps too); es_maintain() running a clean-up recorded while arch was detached.

Part 2, random kills: a child loops over archive/restore/tombstone/delete/append on a few
streams and is SIGKILLed after a random 5-80 ms (also mid-statement, mid-commit); after each
kill the same checks run over every stream (recovery: es_maintain and finishing any move left
half-done by calling es_archive again). ESKIT_CRASH_MOVE_KILLS sets the number (default 40).
"""
import json
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _lc  # noqa: E402

STREAM_EVENTS = 3


class Store:
    def __init__(self, d):
        self.d = d
        self.main = os.path.join(d, "main.db")
        self.arch = os.path.join(d, "arch.db")

    def open(self, attach=True):
        c = _lc.connect(self.main, timeout=10)
        if attach:
            c.execute("ATTACH ? AS arch", (self.arch,))
        return c


def make_stream(st, name, start):
    """A stream with STREAM_EVENTS acknowledged events in start state; returns its events
    {event_id: (version, seq)}."""
    c = st.open()
    ids = ["%s-e%d" % (name, i) for i in range(STREAM_EVENTS)]
    c.execute("SELECT es_append(?, 0, ?)", (name, _lc.events_json([("E", {"i": i}, e) for i, e in enumerate(ids[:2])])))
    first = json.loads(_lc.one(c, "SELECT es_last_append()"))["first_seq"]
    c.execute("SELECT es_append(?, 2, ?)", (name, _lc.events_json([("E", {"i": 2}, None)])))
    la = json.loads(_lc.one(c, "SELECT es_last_append()"))
    ids[2] = la["event_ids"][0]
    events = {ids[0]: (1, first), ids[1]: (2, first + 1), ids[2]: (3, la["first_seq"])}
    if start in ("archived_x", "tomb_pending"):
        c.execute("SELECT es_archive(?, 'arch')", (name,))
    elif start == "archived_here":
        c.execute("SELECT es_archive(?)", (name,))
    if start == "tomb_pending":  # tombstoned while arch was not attached: a clean-up waits
        c.execute("DETACH arch")
        c.execute("SELECT es_tombstone(?, 'while detached')", (name,))
    c.close()
    return events


OPS = {
    # name: (start state, SQL, final state after success)
    "archive_to": ("active", "SELECT es_archive(?1, 'arch')", "in_arch"),
    "archive_to_from_inplace": ("archived_here", "SELECT es_archive(?1, 'arch')", "in_arch"),
    "restore_from": ("archived_x", "SELECT es_restore(?1, 'arch')", "active"),
    "tombstone_archived": ("archived_x", "SELECT es_tombstone(?1, 'crash')", "tombstoned"),
    "delete_archived": ("archived_x", "SELECT es_delete(?1)", "none"),
    "maintain_cleanup": ("tomb_pending", "SELECT es_maintain() WHERE ?1 IS NOT NULL", "tombstoned"),
}

# Answers of a repeated call that are not failures of the recovery.
RETRY_OK = {
    "tombstone_archived": ["tombstoned: stream 'S' is tombstoned (reason: 'crash')"],
    "delete_archived": ["not_found: stream 'S' does not exist"],
    # the restore completed (only dropping its clean-up record was left): the same answer as
    # repeating a restore that returned
    "restore_from": ["invalid_argument: es_restore(): stream 'S' is not archived in database 'arch'"],
}

# The "other" recovery call per operation, with the answers it may give.
OTHER = {
    "archive_to": ("SELECT es_restore(?1)", ["archived: stream 'S' is being moved to database 'arch'; es_archive('S', 'arch') finishes that move",
                                              "archived: stream 'S' is archived in database 'arch'; es_restore('S', 'arch') moves it back"]),
    "archive_to_from_inplace": ("SELECT es_append(?1, -1, '{\"type\":\"X\",\"data\":1}')",
                                ["archived: stream 'S' is archived and accepts no appends; es_restore('S') reactivates it",
                                 "archived: stream 'S' is being moved to archive database 'arch' and accepts no appends",
                                 "archived: stream 'S' is archived in database 'arch' and accepts no appends; es_restore('S', 'arch') brings it back"]),
    "restore_from": ("SELECT es_archive(?1, 'arch')", []),
    "tombstone_archived": ("SELECT es_restore(?1, 'arch')", ["tombstoned: stream 'S' is tombstoned (reason: 'crash')"]),
    "delete_archived": ("SELECT es_restore(?1, 'arch')", ["not_found: stream 'S' does not exist in database 'arch'",
                                                          "archived: stream 'S' is being moved to database 'arch'; es_archive('S', 'arch') finishes that move"]),
    "maintain_cleanup": ("SELECT es_delete(?1)", []),
}


def count_statements(st, op):
    """Statements of one call, counted on its second dry run (the first may also create the
    archive's tables)."""
    counts = []
    for i in range(2):
        name = "dry%d-%s" % (i, op)
        make_stream(st, name, OPS[op][0])
        c = st.open()
        n = [0]
        c.set_trace_callback(lambda sql: n.__setitem__(0, n[0] + 1))
        c.execute(OPS[op][1], (name,)).fetchall()
        c.set_trace_callback(None)
        c.close()
        counts.append(n[0])
    return counts[-1]


def crash_at(st, op, name, k):
    """Runs op on stream name in a forked child that dies just before its k-th statement.
    Returns 'died' or 'finished' (k beyond the call's statements)."""
    pid = os.fork()
    if pid == 0:
        try:
            c = st.open()
            n = [0]

            def trace(sql):
                n[0] += 1
                if n[0] == k:
                    os._exit(77)
            c.set_trace_callback(trace)
            c.execute(OPS[op][1], (name,)).fetchall()
            os._exit(0)
        except BaseException:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return {77: "died", 0: "finished"}.get(code, "exit %d" % code)


def state_of(c, s):
    """Where main says the stream is: (state, archive_store, move_id)."""
    life = c.execute("SELECT state, archive_store, move_id FROM main.es_lifecycle WHERE stream_id = ?",
                     (s,)).fetchone()
    if life is None:
        has = _lc.one(c, "SELECT count(*) FROM main.es_events WHERE stream_id = ?", (s,))
        return ("active" if has else "none", None, None)
    if life[0] == "archived" and life[1] is not None:
        return ("in_arch", life[1], life[2])
    return life


def held(c, db, s):
    return [tuple(r) for r in c.execute("SELECT event_id, version, seq FROM %s.es_events WHERE stream_id = ? "
                                        "ORDER BY version" % db, (s,))]


def want_rows(events):
    return sorted(((eid, v, seq) for eid, (v, seq) in events.items()), key=lambda r: r[1])


def check_crashed(t, c, s, events, label, strict=False, tried=None):
    """The store right after a crash (strict: after recovery, no pending copies at all).
    tried: event ids of appends that may have committed without being acknowledged (the
    writer was killed before it could report); those found are added to events."""
    state, store, move = state_of(c, s)
    main_rows, arch_rows = held(c, "main", s), held(c, "arch", s)
    if tried:
        for eid, v, seq in main_rows + arch_rows:
            if eid in tried and eid not in events:
                events[eid] = (v, seq)
    arch_life = c.execute("SELECT move_id FROM arch.es_lifecycle WHERE stream_id = ?", (s,)).fetchone()
    cleanups = [r[0] for r in c.execute("SELECT move_id FROM main.es_cleanups WHERE stream_id = ?", (s,))]
    arch_id = _lc.one(c, "SELECT value FROM arch.es_meta WHERE key = 'store_id'")
    problems = []
    if state == "in_arch":
        if store != arch_id:
            problems.append("recorded archive %r is not arch" % store)
        if arch_rows != want_rows(events) or main_rows:
            problems.append("archived into arch: arch holds %r, main %r" % (arch_rows, main_rows))
        if arch_life is None or arch_life[0] != move:
            problems.append("arch's copy %r does not carry the recorded move %r" % (arch_life, move))
    elif state in ("tombstoned", "none"):
        if main_rows:
            problems.append("%s but main holds %r" % (state, main_rows))
        if (arch_rows or arch_life) and (strict or not arch_life or arch_life[0] not in cleanups):
            problems.append("%s but arch holds %d rows (move %r) with clean-ups %r"
                            % (state, len(arch_rows), arch_life, cleanups))
    else:  # active, archived in place, or being moved ('archiving'): main holds the events
        if main_rows != want_rows(events):
            problems.append("%s: main holds %r" % (state, main_rows))
        if arch_rows or arch_life:
            pending_ok = arch_life is not None and (
                (state == "archiving" and arch_life[0] == move) or arch_life[0] in cleanups)
            if strict or not pending_ok:
                problems.append("%s: arch holds %d rows (move %r), main's move %r, clean-ups %r"
                                % (state, len(arch_rows), arch_life, move, cleanups))
    if strict and cleanups:
        problems.append("clean-ups left: %r" % cleanups)
    t.check("%s: store consistent" % label, not problems, "; ".join(problems))
    return state


def expect_answer(t, label, got, allowed, s):
    if got[0] == "ok":
        return True
    msg = got[2].replace("'%s'" % s, "'S'")
    t.check(label, _lc.stable(got[1], got[2]) and msg in allowed, "%s %r" % (got[1], got[2]))
    return False


def recover(t, st, op, s, events, variant, label):
    c = st.open()
    sql = OPS[op][1]
    if variant == "other":
        osql, allowed = OTHER[op]
        expect_answer(t, "%s: other call after the crash" % label, _lc.attempt(c, osql, (s,)), allowed, s)
        if op == "restore_from":
            # the stream was archived again: bring it back for the final state check
            sql = "SELECT es_restore(?1, 'arch')"
        if op == "maintain_cleanup":
            # deleted: the final state is none
            got = _lc.attempt(c, sql, (s,))
            t.check("%s: es_maintain after the delete" % label, got[0] == "ok", repr(got))
            c.close()
            return "none"
    got = _lc.attempt(c, sql, (s,))
    if got[0] != "ok":
        allowed = RETRY_OK.get(op, [])
        expect_answer(t, "%s: the call repeated after the crash" % label, got, allowed, s)
    m = _lc.attempt(c, "SELECT es_maintain()")
    t.check("%s: es_maintain after recovery" % label, m[0] == "ok" and json.loads(m[1][0][0])["pending"] == 0,
            repr(m))
    c.close()
    return OPS[op][2]


def sweep(t, st, op, variants=("retry", "other")):
    total = count_statements(st, op)
    died = 0
    for k in range(1, total + 1):
        s = "%s-k%d" % (op.replace("_", ""), k)
        events = make_stream(st, s, OPS[op][0])
        how = crash_at(st, op, s, k)
        label = "%s, killed before statement %d/%d" % (op, k, total)
        if how not in ("died", "finished"):
            t.check("%s: child ran" % label, False, how)
            continue
        died += how == "died"
        c = st.open()
        check_crashed(t, c, s, events, label)
        c.close()
        variant = variants[k % len(variants)]
        final = recover(t, st, op, s, events, variant, label + " (" + variant + ")")
        c = st.open()
        state = check_crashed(t, c, s, events, label + " after recovery", strict=True)
        t.eq("%s after recovery: state" % label, state, final)
        c.close()
    print("%s: %d statements, %d crash points" % (op, total, died), flush=True)


def random_kills(t, st, kills):
    names = ["rk-%d" % i for i in range(6)]
    acked = {s: make_stream(st, s, "active") for s in names}
    rnd = random.Random(7)
    log_path = os.path.join(st.d, "rk.log")
    for n in range(kills):
        pid = os.fork()
        if pid == 0:
            try:
                c = st.open()
                r = random.Random(n)
                log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
                while True:
                    s = r.choice(names)
                    op = r.choice(["archive_to", "restore_from", "archive_to", "restore_from",
                                   "archive", "restore", "append"])
                    if op == "append":
                        eid = "rk%d-%d-%f" % (n, os.getpid(), time.time())
                        os.write(log, ("TRY %s\n" % eid).encode())
                        got = _lc.attempt(c, "SELECT es_append(?, -1, ?)",
                                          (s, _lc.events_json([("R", {}, eid)])))
                        if got[0] == "ok":
                            seq = json.loads(_lc.one(c, "SELECT es_last_append()"))["first_seq"]
                            os.write(log, ("ACK %s %s %d %d\n" % (s, eid, got[1][0][0], seq)).encode())
                    else:
                        sql = {"archive_to": "SELECT es_archive(?, 'arch')",
                               "restore_from": "SELECT es_restore(?, 'arch')",
                               "archive": "SELECT es_archive(?)",
                               "restore": "SELECT es_restore(?)"}[op]
                        _lc.attempt(c, sql, (s,))
            except BaseException:
                os._exit(3)
        time.sleep(rnd.uniform(0.005, 0.08))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        tried = set()
        if os.path.exists(log_path):
            with open(log_path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 5 and parts[0] == "ACK":
                        acked[parts[1]][parts[2]] = (int(parts[3]), int(parts[4]))
                    elif len(parts) == 2 and parts[0] == "TRY":
                        tried.add(parts[1])
        c = st.open()
        for s in names:
            check_crashed(t, c, s, acked[s], "random kill %d, %s" % (n, s), tried=tried)
        # recovery: finish half-done moves, run clean-ups, then strict checks
        for s in names:
            if state_of(c, s)[0] == "archiving":
                got = _lc.attempt(c, "SELECT es_archive(?, 'arch')", (s,))
                t.check("random kill %d: finishing the move of %s" % (n, s), got[0] == "ok", repr(got))
        _lc.attempt(c, "SELECT es_maintain()")
        for s in names:
            check_crashed(t, c, s, acked[s], "random kill %d, %s after recovery" % (n, s), strict=True)
        c.close()
    print("random kills: %d" % kills)


def main():
    t = _lc.Failures("move_crash_points")
    tmp = _lc.TempDir("eskit-crashpoints-")
    st = Store(tmp.path)
    c = st.open()
    c.execute("SELECT es_init()")
    c.execute("PRAGMA arch.journal_mode=WAL")
    c.close()
    start = time.monotonic()
    for op in OPS:
        t.run(sweep, st, op)
    t.run(random_kills, st, int(os.environ.get("ESKIT_CRASH_MOVE_KILLS", "40")))
    c = st.open()
    t.eq("integrity main", _lc.one(c, "PRAGMA main.integrity_check"), "ok")
    t.eq("integrity arch", _lc.one(c, "PRAGMA arch.integrity_check"), "ok")
    c.close()
    print("%.1f s" % (time.monotonic() - start))
    tmp.cleanup()
    t.finish()


if __name__ == "__main__":
    main()
