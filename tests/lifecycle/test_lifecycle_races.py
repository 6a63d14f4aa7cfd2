#!/usr/bin/python3
"""Multi-process lifecycle races on one stream, with counts by event id (issue 9, "What must
hold" 1 and 2).

Four worker processes (multiprocessing, spawn) share main.db and an archive arch.db attached as
"arch". Every round uses a fresh stream that the parent has put into a start state (active;
archived in place; archived into arch), with three acknowledged events. The four workers meet at
a barrier and then call, twice each, the two operations of the round's pair: workers 0 and 2 the
first, workers 1 and 3 the second. The pairs are every unordered pair (with repetition) of

    append, archive (in place), archive_to (es_archive(s, 'arch')), restore (in place),
    restore_from (es_restore(s, 'arch')), tombstone, delete

so 28 pairs x 3 start states x 3 delay modes = 252 rounds. Delay modes, for workers 2 and 3:
  none      no delay;
  between   a trace callback sleeps 0-12 ms before each BEGIN eskit runs, i.e. between the
            committed steps of a move (after step A, before B takes its lock; after B, before C)
            and before the first step;
  holding   the same sleep before each COMMIT: the step holds its write lock longer, so the
            other workers queue on it and then interleave their own steps.
Every append carries caller-given event ids (every third one generated ids, learned from
es_last_append()), so the database says which call wrote each row.

After every worker has finished, the parent runs es_maintain() (clean-ups a concurrent call
could not run because its archive copy was locked are allowed to wait for it) and checks:
  * no stream is left in the internal state 'archiving' and es_cleanups is empty: every call
    took full effect or none;
  * every acknowledged event (setup, or an append that returned) exists exactly once in main or
    arch, in the place the stream's state names (archived into arch: only in arch, whose copy
    carries main's move id and identity; otherwise only in main), with the version the call
    returned and the seq es_last_append() reported — unless a tombstone/delete that returned
    success might have committed after it (it returned after the append began); an event
    whose append returned before such an erasure began exists nowhere;
  * no row exists that was not acknowledged or in flight, and no failed append left a row;
  * versions are exactly 1..n in the database that holds the stream, seq rises with version,
    seq values are unique across both databases, es_streams/es_status agree with the rows;
  * a tombstoned or deleted stream has no rows left in either database;
  * every call that failed did so with a stable code (code prefix, matching SQLite result code)
    and one of the messages listed in ALLOWED for that operation; a bare "database is locked"
    or any other uncoded message is a failure;
  * integrity_check is ok on both files.
The run is repeated for the archive in rollback-journal (DELETE) mode with fewer rounds.

ESKIT_RACE_REPEAT=n repeats the whole run n times with other seeds (default 1; CI ~40 s).
"""
import json
import multiprocessing
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _lc  # noqa: E402

OPS = ["append", "archive", "archive_to", "restore", "restore_from", "tombstone", "delete",
       "archive_to2", "restore_from2"]
ARCHIVES = ("arch", "arch2")
PAIRS = [(a, b) for i, a in enumerate(OPS) for b in OPS[i:]]
STARTS = ["active", "archived_here", "archived_x"]
DELAYS = ["none", "between", "holding"]
WORKERS = 4

# Failures each operation may report under a race, as full-match patterns over the message with
# the round's stream id replaced by S. Anything else (an uncoded message, another text) fails.
ALLOWED = {
    "append": [
        r"archived: stream 'S' is archived and accepts no appends; es_restore\('S'\) reactivates it",
        r"archived: stream 'S' is archived in database 'arch' and accepts no appends; "
        r"es_restore\('S', 'arch'\) brings it back",
        r"archived: stream 'S' is being moved to archive database 'arch' and accepts no appends",
        r"tombstoned: stream 'S' is tombstoned \(reason: '[^']*'\)",
    ],
    "archive": [
        r"not_found: stream 'S' does not exist",
        r"tombstoned: stream 'S' is tombstoned \(reason: '[^']*'\)",
    ],
    "archive_to": [
        r"not_found: stream 'S' does not exist",
        r"tombstoned: stream 'S' is tombstoned \(reason: '[^']*'\)",
        r"conflict: es_archive\(\): stream 'S' changed while it was being moved to 'arch'; try again",
    ],
    "restore": [
        r"not_found: stream 'S' does not exist",
        r"tombstoned: stream 'S' is tombstoned \(reason: '[^']*'\)",
        r"archived: stream 'S' is archived in database 'arch'; es_restore\('S', 'arch'\) moves it back",
        r"archived: stream 'S' is being moved to database 'arch'; es_archive\('S', 'arch'\) "
        r"finishes that move",
    ],
    "restore_from": [
        r"not_found: stream 'S' does not exist in database 'arch'",
        r"tombstoned: stream 'S' is tombstoned \(reason: '[^']*'\)",
        r"invalid_argument: es_restore\(\): stream 'S' is not archived in database 'arch'",
        r"conflict: es_restore\(\): stream 'S' is being moved to database 'arch'; "
        r"es_archive\('S', 'arch'\) finishes that move",
    ],
    "tombstone": [
        r"not_found: stream 'S' does not exist",
        r"tombstoned: stream 'S' is tombstoned \(reason: '[^']*'\)",
    ],
    "delete": [
        r"not_found: stream 'S' does not exist",
    ],
}
ALLOWED["archive_to"] += [
    r"invalid_argument: es_archive\(\): stream 'S' is already archived in database 'X'; "
    r"restore it before moving it to 'X'",
    r"invalid_argument: es_archive\(\): stream 'S' is being moved to database 'X'; "
    r"es_archive\('S', 'X'\) finishes that move",
]
ALLOWED["restore_from"] += [
    r"invalid_argument: es_restore\(\): stream 'S' is archived in another database \(attached "
    r"as 'X' when it moved\), not in 'X'",
]
ALLOWED["archive_to2"] = ALLOWED["archive_to"]
ALLOWED["restore_from2"] = ALLOWED["restore_from"]
ALLOWED = {op: [re.compile(p.replace("'arch'", "'X'").replace("'X'", "'(?:arch|arch2)'"))
                for p in pats] for op, pats in ALLOWED.items()}


def sql_of(op, stream, tag):
    if op == "archive":
        return "SELECT es_archive(?)", (stream,)
    if op == "archive_to":
        return "SELECT es_archive(?, 'arch')", (stream,)
    if op == "archive_to2":
        return "SELECT es_archive(?, 'arch2')", (stream,)
    if op == "restore_from2":
        return "SELECT es_restore(?, 'arch2')", (stream,)
    if op == "restore":
        return "SELECT es_restore(?)", (stream,)
    if op == "restore_from":
        return "SELECT es_restore(?, 'arch')", (stream,)
    if op == "tombstone":
        return "SELECT es_tombstone(?, ?)", (stream, tag)
    if op == "delete":
        return "SELECT es_delete(?)", (stream,)
    raise ValueError(op)


def open_store(d, journal):
    # rollback-journal runs: a shorter busy timeout bounds what a lock cycle between two
    # databases costs (each one is reported as a failure anyway)
    conn = _lc.connect(os.path.join(d, "main.db"), wal=(journal == "wal"),
                       timeout=30 if journal == "wal" else 10)
    conn.execute("ATTACH ? AS arch", (os.path.join(d, "arch.db"),))
    conn.execute("ATTACH ? AS arch2", (os.path.join(d, "arch2.db"),))
    return conn


def worker(d, w, plan, barrier, log_path, journal, seed, stop=None):
    """Runs the plan: per round, wait at the barrier, then the round's calls. The background
    worker (stop given) instead loops over its own streams until stop is set."""
    rnd = random.Random(seed * 1000 + w)
    conn = open_store(d, journal)
    delay = {"mode": "none"}

    def trace(sql):
        mode = delay["mode"]
        if mode == "none" or not sql.startswith("-- /*eskit"):
            return
        if (mode == "between" and sql.endswith("*/BEGIN")) or \
           (mode == "holding" and sql.endswith("*/COMMIT")):
            time.sleep(rnd.uniform(0, 0.012))

    conn.set_trace_callback(trace)
    out = open(log_path, "w")
    has_last_append = _lc.attempt(conn, "SELECT es_last_append()")[0] == "ok"

    def call(r, k, stream, op):
        rec = {"round": r, "w": w, "k": k, "op": op, "stream": stream}
        if op == "append":
            n = rnd.randint(1, 3)
            given = (r + w + k) % 3 != 0 or not has_last_append
            ids = ["w%dr%dk%de%d" % (w, r, k, i) for i in range(n)] if given else None
            evs = [("T%d" % i, {"w": w, "r": r, "k": k, "i": i}, ids[i] if ids else None)
                   for i in range(n)]
            sql, args = "SELECT es_append(?, -1, ?)", (stream, _lc.events_json(evs))
            rec["n"] = n
            rec["ids"] = ids
        else:
            sql, args = sql_of(op, stream, "w%dr%dk%d" % (w, r, k))
        rec["t0"] = time.monotonic()
        got = _lc.attempt(conn, sql, args)
        rec["t1"] = time.monotonic()
        if got[0] == "ok":
            rec["ok"] = True
            rec["result"] = got[1][0][0]
            if op == "append":
                if has_last_append:
                    la = json.loads(_lc.one(conn, "SELECT es_last_append()"))
                    rec["ids"] = la["event_ids"]
                    rec["first_seq"] = la["first_seq"]
                    rec["first_version"] = la["first_version"]
                else:  # an eskit without es_last_append (to show the test fails on it)
                    rec["first_seq"] = None
                    rec["first_version"] = rec["result"] - n + 1
        else:
            rec["ok"] = False
            rec["errorname"] = got[1]
            rec["message"] = got[2]
        out.write(json.dumps(rec) + "\n")

    if stop is not None:  # background: moves and appends on its own streams, all along
        delay["mode"] = "between"
        k = 0
        while not stop.is_set():
            stream, _, _ = plan[k % len(plan)]
            call(-1, k, stream, rnd.choice(["append", "archive_to", "restore_from",
                                            "archive_to2", "restore_from2", "append"]))
            k += 1
    else:
        for r, (stream, ops, mode) in enumerate(plan):
            delay["mode"] = mode if w >= 2 else "none"
            barrier.wait()
            for k, op in enumerate(ops):
                call(r, k, stream, op)
    out.close()
    conn.close()


def setup(d, journal, plan_streams, starts):
    """Creates every round's stream in its start state; returns the acknowledged setup events
    {event_id: (stream, version, seq)}."""
    conn = open_store(d, journal)
    conn.execute("SELECT es_init()")
    for a in ARCHIVES:
        conn.execute("PRAGMA %s.journal_mode=%s" % (a, journal))
    acked = {}
    for stream, start in zip(plan_streams, starts):
        v = 0
        for batch in (2, 1):
            ids = ["setup-%s-%d" % (stream, v + i) for i in range(batch)]
            evs = [("Setup", {"s": stream}, i) for i in ids]
            v = _lc.one(conn, "SELECT es_append(?, -1, ?)", (stream, _lc.events_json(evs)))
            for i, eid in enumerate(ids):
                seq = _lc.one(conn, "SELECT seq FROM main.es_events WHERE event_id = ?", (eid,))
                acked[eid] = (stream, v - batch + 1 + i, seq)
        if start == "archived_here":
            conn.execute("SELECT es_archive(?)", (stream,))
        elif start == "archived_x":
            conn.execute("SELECT es_archive(?, 'arch')", (stream,))
    conn.close()
    return acked


def make_plan(rounds, seed, delays):
    rnd = random.Random(seed)
    plan = [[] for _ in range(WORKERS)]
    streams, starts = [], []
    for r in range(rounds):
        pair = PAIRS[r % len(PAIRS)]
        start = STARTS[(r // len(PAIRS)) % len(STARTS)]
        mode = delays[(r // (len(PAIRS) * len(STARTS)) + r) % len(delays)]
        stream = "race%d-r%d" % (seed, r)
        streams.append(stream)
        starts.append(start)
        for w in range(WORKERS):
            op = pair[w % 2]
            # the pair twice, then one call of any kind (a third party to the race)
            plan[w].append((stream, [op, op, rnd.choice(OPS)], mode))
    # A random order of rounds, so that a start state or delay mode is not always next to the
    # same neighbours.
    order = list(range(rounds))
    rnd.shuffle(order)
    plan = [[p[i] for i in order] for p in plan]
    return plan, streams, starts


def stream_rows(conn, schema, stream):
    return conn.execute(
        "SELECT event_id, version, seq FROM \"%s\".es_events WHERE stream_id = ? ORDER BY version"
        % schema, (stream,)).fetchall()


def check(t, d, journal, streams, starts, acked_setup, logs, label):
    conn = open_store(d, journal)
    for db in ("main",) + ARCHIVES:
        t.eq("%s: integrity %s" % (label, db), _lc.one(conn, "PRAGMA %s.integrity_check" % db), "ok")
    archiving = _lc.rows(conn, "SELECT stream_id FROM main.es_lifecycle WHERE state = 'archiving'")
    t.eq("%s: no stream left half-moved (state 'archiving') after every call returned" % label,
         archiving, [])
    pending_before = _lc.one(conn, "SELECT count(*) FROM main.es_cleanups")
    maint = json.loads(_lc.one(conn, "SELECT es_maintain()"))
    if maint["pending"]:
        print("%s: es_maintain answered %s; still recorded: %s" % (
            label, maint, _lc.rows(conn, "SELECT * FROM main.es_cleanups")))
    t.eq("%s: es_maintain leaves nothing pending" % label, maint["pending"], 0)
    t.eq("%s: es_cleanups empty after es_maintain (had %d)" % (label, pending_before),
         _lc.one(conn, "SELECT count(*) FROM main.es_cleanups"), 0)
    main_id = _lc.one(conn, "SELECT value FROM main.es_meta WHERE key = 'store_id'")
    alias_of = {}
    for a in ARCHIVES:
        try:
            alias_of[_lc.one(conn, "SELECT value FROM %s.es_meta WHERE key = 'store_id'" % a)] = a
        except Exception:
            pass  # never received a stream

    by_stream = {}
    for rec in logs:
        by_stream.setdefault(rec["stream"], []).append(rec)

    # Failed calls: stable code and an expected message.
    odd = {}
    for rec in logs:
        if rec["ok"]:
            continue
        msg = rec["message"].replace("'%s'" % rec["stream"], "'S'")
        good = _lc.stable(rec["errorname"], rec["message"]) and any(
            p.fullmatch(msg) for p in ALLOWED[rec["op"]])
        if not good:
            odd.setdefault((rec["op"], rec["errorname"], msg), []).append(rec["stream"])
    for (op, name, msg), where in sorted(odd.items()):
        if os.environ.get("ESKIT_RACE_DEBUG"):
            for rec in sorted(by_stream[where[0]], key=lambda r: r["t0"]):
                print("  %.4f-%.4f w%d %s %s" % (rec["t0"], rec["t1"], rec["w"], rec["op"],
                                              rec.get("result") if rec["ok"] else rec["message"]))
        t.check("%s: %s failed with a stable, expected error" % (label, op), False,
                "%s %r (%d times, e.g. %s)" % (name, msg, len(where), where[0]))

    all_seq = {}
    attempted_ids = set(acked_setup)
    for rec in logs:
        if rec["op"] == "append" and rec.get("ids"):
            attempted_ids.update(rec["ids"])
    violations = []
    checked = 0
    for stream in streams:
        recs = by_stream.get(stream, [])
        status = _lc.one(conn, "SELECT es_status(?)", (stream,))
        life = conn.execute("SELECT state, archive_store, move_id, moved_count, version FROM "
                            "main.es_lifecycle WHERE stream_id = ?", (stream,)).fetchone()
        held = {db: stream_rows(conn, db, stream) for db in ("main",) + ARCHIVES}
        arows = {a: conn.execute("SELECT state, move_id, origin_store FROM %s.es_lifecycle WHERE "
                                 "stream_id = ?" % a, (stream,)).fetchone()
                 if a in alias_of.values() else None for a in ARCHIVES}
        elsewhere = life is not None and life[1] is not None
        where = alias_of.get(life[1], "?unknown archive %r" % (life[1],)) if elsewhere else "main"
        here = held.get(where, [])
        if status in ("none", "tombstoned"):
            left = {db: len(r) for db, r in held.items() if r}
            left.update({a: "lifecycle row" for a, r in arows.items() if r is not None})
            if left:
                violations.append("%s: %s but rows remain: %r" % (stream, status, left))
        else:
            for db, r in held.items():
                if db != where and (r or arows.get(db) is not None):
                    violations.append("%s: %s in %s but %d rows (lifecycle row %r) in %s"
                                      % (stream, status, where, len(r), arows.get(db), db))
            if elsewhere:
                arow = arows.get(where)
                if arow is None or arow[1] != life[2] or arow[2] != main_id:
                    violations.append("%s: %s's copy %r does not carry main's move %r and identity"
                                      % (stream, where, arow, life[2]))
                if life[3] != len(here):
                    violations.append("%s: main recorded %r events leaving, %s holds %d"
                                      % (stream, life[3], where, len(here)))
            if [r[1] for r in here] != list(range(1, len(here) + 1)):
                violations.append("%s: versions in %s are %r" % (stream, where, [r[1] for r in here]))
            if [r[2] for r in here] != sorted(r[2] for r in here):
                violations.append("%s: seq does not rise with version in %s" % (stream, where))
            sv = conn.execute("SELECT version, state FROM main.es_streams WHERE stream_id = ?",
                              (stream,)).fetchone()
            want_state = "archived" if (life is not None and life[0] == "archived") else "active"
            if sv is None or sv[1] != want_state or status != want_state or (
                    here and sv[0] != len(here)):
                violations.append("%s: es_streams %r / es_status %r vs %d rows in %s, lifecycle %r"
                                  % (stream, sv, status, len(here), where, life))
        stored = {}
        for db, rs in held.items():
            for r in rs:
                if r[2] in all_seq:
                    violations.append("seq %d used twice (%s and %s)" % (r[2], all_seq[r[2]], stream))
                all_seq[r[2]] = stream
                if r[0] not in attempted_ids:
                    violations.append("%s: row %r in %s was never appended" % (stream, r, db))
                stored.setdefault(r[0], []).append((db, r[1], r[2]))
        erasures = [x for x in recs if x["ok"] and x["op"] in ("tombstone", "delete")]
        expected = []  # (event id, version, seq, t0, t1)
        for eid, (s, v, seq) in acked_setup.items():
            if s == stream:
                expected.append((eid, v, seq, -1.0, -1.0))
        for x in recs:
            if x["op"] != "append":
                continue
            if not x["ok"]:
                for eid in x["ids"] or []:
                    if eid in stored:
                        violations.append("%s: failed append (%s) left row %s" % (stream, x["message"], eid))
                continue
            for i, eid in enumerate(x["ids"]):
                expected.append((eid, x["first_version"] + i,
                                 None if x["first_seq"] is None else x["first_seq"] + i, x["t0"], x["t1"]))
            if x["result"] != x["first_version"] + x["n"] - 1:
                violations.append("%s: append returned %r for versions from %r"
                                  % (stream, x["result"], x["first_version"]))
        for eid, v, seq, t0, t1 in expected:
            checked += 1
            may_be_gone = any(e["t1"] > t0 for e in erasures)
            must_be_gone = any(e["t0"] > t1 for e in erasures)
            got = stored.get(eid, [])
            if must_be_gone and got:
                violations.append("%s: event %s survived an erasure that began after its append "
                                  "returned: %r" % (stream, eid, got))
            elif not may_be_gone:
                if len(got) != 1:
                    violations.append("%s: acknowledged event %s is stored %d times: %r"
                                      % (stream, eid, len(got), got))
                elif got[0] != (where, v, seq if seq is not None else got[0][2]):
                    violations.append("%s: acknowledged event %s is %r, want (%s, v%d, seq %d)"
                                      % (stream, eid, got[0], where, v, seq))
            elif len(got) > 1:
                violations.append("%s: event %s stored twice: %r" % (stream, eid, got))
    for a in alias_of.values():
        stray = _lc.rows(conn, "SELECT DISTINCT stream_id FROM %s.es_events EXCEPT SELECT stream_id "
                         "FROM main.es_lifecycle WHERE archive_store = ?" % a,
                         ([k for k, v in alias_of.items() if v == a][0],))
        if stray:
            violations.append("%s holds streams main does not record there: %r" % (a, stray[:5]))
    head = _lc.one(conn, "SELECT es_head()")
    if all_seq and head < max(all_seq):
        violations.append("es_head() %d below the highest seq %d" % (head, max(all_seq)))
    for v in violations[:30]:
        print("  violation: " + v)
    t.eq("%s: violations of the exactly-once invariants (%d acknowledged events checked)"
         % (label, checked), len(violations), 0)
    ok = sum(1 for x in logs if x["ok"])
    print("%s: %d calls, %d succeeded, %d failed with expected codes, %d otherwise; %d streams, "
          "%d acknowledged events checked"
          % (label, len(logs), ok, len(logs) - ok - sum(len(v) for v in odd.values()),
             sum(len(v) for v in odd.values()), len(streams), checked))
    conn.close()


def run_race(t, journal, rounds, seed, delays):
    tmp = _lc.TempDir("eskit-race-")
    d = tmp.path
    label = "%s/seed %d" % (journal, seed)
    plan, streams, starts = make_plan(rounds, seed, delays)
    background = ["bg%d-%d" % (seed, i) for i in range(6)]
    acked = setup(d, journal, streams + background, starts + ["active"] * len(background))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    stop = ctx.Event()
    logs_paths = [os.path.join(d, "log%d.jsonl" % w) for w in range(WORKERS + 1)]
    procs = [ctx.Process(target=worker, args=(d, w, plan[w], barrier, logs_paths[w], journal, seed))
             for w in range(WORKERS)]
    bg = ctx.Process(target=worker, args=(d, WORKERS, [(s, None, None) for s in background], None,
                                          logs_paths[WORKERS], journal, seed, stop))
    start = time.monotonic()
    bg.start()
    for p in procs:
        p.start()
    for p in procs:
        p.join(600)
    stop.set()
    bg.join(60)
    t.eq("%s: workers exited cleanly" % label, [p.exitcode for p in procs + [bg]], [0] * (WORKERS + 1))
    print("%s: %d rounds in %.1f s" % (label, rounds, time.monotonic() - start), flush=True)
    logs = []
    for path in logs_paths:
        if os.path.exists(path):
            with open(path) as f:
                logs.extend(json.loads(line) for line in f if line.strip())
    check(t, d, journal, streams + background, starts, acked, logs, label)
    tmp.cleanup()


def two_connections(d, journal, timeout):
    import threading  # noqa: F401  (used by the callers)
    conns = []
    for _ in range(2):
        c = _lc.connect(os.path.join(d, "main.db"), wal=(journal == "wal"), timeout=timeout,
                        check_same_thread=False)
        c.execute("ATTACH ? AS arch", (os.path.join(d, "arch.db"),))
        conns.append(c)
    return conns


def finding_rollback_deadlock(t):
    """Rollback-journal mode: es_archive(s1, X) in step B (write lock on X, read lock on main)
    and es_restore(s2, X) in its step A (write lock on main, read lock on X) wait for each
    other until the busy timeout; one fails with a bare 'database is locked'. Deterministic:
    the archive pauses (trace callback) before the COMMIT of its step B."""
    import threading
    tmp = _lc.TempDir("eskit-deadlock-")
    d = tmp.path
    c = _lc.connect(os.path.join(d, "main.db"), wal=False)
    c.execute("SELECT es_init()")
    c.execute("ATTACH ? AS arch", (os.path.join(d, "arch.db"),))
    for s in ("s1-a", "s2-a"):
        c.execute("SELECT es_append(?, -1, '{\"type\":\"A\",\"data\":1}')", (s,))
    c.execute("SELECT es_archive('s2-a', 'arch')")
    c.close()
    c1, c2 = two_connections(d, "delete", 3)
    commits = [0]

    def trace(sql):
        if sql.endswith("*/COMMIT"):
            commits[0] += 1
            if commits[0] == 3:  # prepare_archive, step A, step B: B holds X's write lock
                time.sleep(1.0)
    c1.set_trace_callback(trace)
    res = {}

    def archive():
        res["archive"] = _lc.attempt(c1, "SELECT es_archive('s1-a', 'arch')")
    th = threading.Thread(target=archive)
    th.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    res["restore"] = _lc.attempt(c2, "SELECT es_restore('s2-a', 'arch')")
    res["restore_s"] = time.monotonic() - t0
    th.join()
    t.eq("rollback deadlock: es_archive(s1) while es_restore(s2) runs", res["archive"], ("ok", [(1,)]))
    t.eq("rollback deadlock: es_restore(s2) while es_archive(s1) is in step B", res["restore"], ("ok", [(1,)]))
    t.check("rollback deadlock: es_restore did not wait out the busy timeout (%.1f s)" % res["restore_s"],
            res["restore_s"] < 2.5, "%.1f s" % res["restore_s"])
    c1.close()
    c2.close()
    tmp.cleanup()


def finding_precheck_false_conflict(t):
    """es_archive(s, X) racing the end of es_restore(s, X): es_archive's pre-check reads X's copy
    and main's es_cleanups in two snapshots; between them the restore erases the copy and drops
    its clean-up record, so the pre-check sees a copy nobody recorded: a false
    'conflict: ... already holds a stream'. Deterministic: both pause (trace callbacks)."""
    import threading
    tmp = _lc.TempDir("eskit-falseconflict-")
    d = tmp.path
    c = _lc.connect(os.path.join(d, "main.db"))
    c.execute("SELECT es_init()")
    c.execute("ATTACH ? AS arch", (os.path.join(d, "arch.db"),))
    c.execute("SELECT es_append('s-a', -1, '{\"type\":\"A\",\"data\":1}')")
    c.execute("SELECT es_archive('s-a', 'arch')")
    c.close()
    c1, c2 = two_connections(d, "wal", 10)
    n = {"begin": 0, "cleanups": 0}

    def t1(sql):
        if sql.endswith("*/BEGIN"):
            n["begin"] += 1
            if n["begin"] == 2:  # restore: copied back; erasing X's copy comes next
                time.sleep(0.5)

    def t2(sql):
        if "FROM main.es_cleanups" in sql and n["cleanups"] == 0:
            n["cleanups"] += 1
            time.sleep(1.0)  # archive's pre-check: X's copy read, clean-up not yet
    c1.set_trace_callback(t1)
    c2.set_trace_callback(t2)
    res = {}

    def restore():
        res["restore"] = _lc.attempt(c1, "SELECT es_restore('s-a', 'arch')")
    th = threading.Thread(target=restore)
    th.start()
    time.sleep(0.25)
    res["archive"] = _lc.attempt(c2, "SELECT es_archive('s-a', 'arch')")
    th.join()
    t.eq("false conflict: the restore", res["restore"], ("ok", [(1,)]))
    t.eq("false conflict: es_archive right after it archives (X's copy was main's own leftover)",
         res["archive"], ("ok", [(1,)]))
    c1.close()
    c2.close()
    tmp.cleanup()


def main():
    t = _lc.Failures("lifecycle_races")
    repeat = int(os.environ.get("ESKIT_RACE_REPEAT", "1"))
    full = len(PAIRS) * len(STARTS) * len(DELAYS)
    only = os.environ.get("ESKIT_RACE_ONLY", "")
    if only in ("", "findings"):
        t.run(finding_rollback_deadlock)
        t.run(finding_precheck_false_conflict)
    for i in range(repeat):
        if only in ("", "wal"):
            t.run(lambda t: run_race(t, "wal", full, 1 + i, DELAYS))
        if only in ("", "delete"):
            t.run(lambda t: run_race(t, "delete", len(PAIRS) * len(STARTS), 101 + i, DELAYS))
    t.finish()


if __name__ == "__main__":
    main()
