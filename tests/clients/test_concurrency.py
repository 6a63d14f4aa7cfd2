#!/usr/bin/python3
"""eskit.so under contention: several processes appending to one WAL database file.

The parent re-invokes this script with a role argument (--worker / --lazy-worker /
--inline-worker); every worker writes what it saw to its own JSON result file and the parent
checks the database against those records:

  * no append or read ever surfaced SQLITE_BUSY / "database is locked" / BUSY_SNAPSHOT
    (every connection has a 10 s busy timeout, isolation_level=None, so SELECT es_append(...)
    runs in autocommit);
  * per stream, versions are exactly 1..N and seq grows with version; seq is globally unique
    and the events of one append occupy consecutive seq values;
  * every acknowledged append is present exactly once, at versions returned-n+1..returned,
    with its ids and payloads; the event count equals the sum of acknowledged events;
  * replays (caller-given ids re-sent with a stale expected_version, idempotency keys re-sent)
    return the original version and write nothing;
  * conflicts really happened (the retry path was exercised);
  * PRAGMA integrity_check is ok; es_head() equals max(seq); es_all paging sees every event
    once, in seq order.

Plus: processes calling es_append at the same moment on a fresh file (no eskit tables yet)
all succeed (lazy schema creation under contention), in WAL and in rollback-journal mode;
and the single-statement idiom SELECT es_append(s, (SELECT version ...), ...) under
contention (the expected version read by the same statement).

Run: ES_EXT=/path/to/eskit.so /usr/bin/python3 tests/clients/test_concurrency.py
Tunables: ES_CONC_PROCS (6), ES_CONC_APPENDS (300), ES_LAZY_ROUNDS (8), ES_LAZY_PROCS (4).
"""
import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

from eskit_client import EXT
import eskit_client


def connect(path, wal=True):
    return eskit_client.connect(path, wal=wal, timeout=BUSY_TIMEOUT_S)
PROCS = int(os.environ.get("ES_CONC_PROCS", "6"))
APPENDS = int(os.environ.get("ES_CONC_APPENDS", "300"))
HOT_STREAMS = 3
OWN_STREAMS = 3
BUSY_TIMEOUT_S = 10.0


# ------------------------------------------------------------------------------- workers

def is_busy(e):
    name = getattr(e, "sqlite_errorname", "") or ""
    msg = str(e).lower()
    return (name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED")
            or "locked" in msg or "busy" in msg)


def describe(e):
    return {"class": type(e).__name__, "message": str(e),
            "code": getattr(e, "sqlite_errorcode", None),
            "name": getattr(e, "sqlite_errorname", None)}


def wait_for(path, limit=60.0):
    deadline = time.monotonic() + limit
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError("no start signal")
        time.sleep(0.0002)


class Recorder:
    """Runs statements, classifying every error; nothing here raises past the worker loop."""

    def __init__(self, conn):
        self.conn = conn
        self.busy = []        # SQLITE_BUSY & co: the contract says these never surface
        self.errors = []      # anything else unexpected
        self.conflicts = 0
        self.retries = 0

    def version_of(self, stream):
        for _ in range(100):
            try:
                row = self.conn.execute("SELECT version FROM es_streams WHERE stream_id = ?",
                                        (stream,)).fetchone()
                return row[0] if row else 0
            except sqlite3.Error as e:
                (self.busy if is_busy(e) else self.errors).append(
                    dict(describe(e), op="read", stream=stream))
        raise RuntimeError("cannot read the version of %s" % stream)

    def append(self, stream, expected, events, options=None):
        """-> ("ok", version) | ("conflict", message) | ("error", None)."""
        sql = "SELECT es_append(?, ?, ?)"
        args = [stream, expected, json.dumps(events)]
        if options is not None:
            sql = "SELECT es_append(?, ?, ?, ?)"
            args.append(json.dumps(options))
        try:
            return "ok", self.conn.execute(sql, args).fetchone()[0]
        except sqlite3.IntegrityError as e:
            if str(e).startswith("conflict: "):
                return "conflict", str(e)
            self.errors.append(dict(describe(e), op="append", stream=stream))
        except sqlite3.Error as e:
            (self.busy if is_busy(e) else self.errors).append(
                dict(describe(e), op="append", stream=stream))
        return "error", None


def run_worker(a):
    w = a.index
    rnd = random.Random(a.seed * 1000 + w)
    out = {"worker": w, "pid": os.getpid(), "acks": [], "replays": 0, "replay_mismatch": [],
           "busy": [], "errors": [], "conflicts": 0, "retries": 0}
    conn = connect(a.db, wal=a.journal == "wal")
    rec = Recorder(conn)
    open(a.ready, "w").close()
    wait_for(a.go)
    t0 = time.monotonic()
    own_version = {}
    pending = []  # appends to re-send later: (stream, stale expected, events, options, version)

    def replay(item):
        stream, stale, events, options, version = item
        before = rec.version_of(stream) if stream.startswith("proc") else None
        status, got = rec.append(stream, stale, events, options)
        out["replays"] += 1
        if status != "ok" or got != version:
            out["replay_mismatch"].append({"stream": stream, "expected_return": version,
                                           "status": status, "got": got})
        if before is not None and rec.version_of(stream) != before:
            out["replay_mismatch"].append({"stream": stream, "wrote": True})

    for i in range(a.appends):
        with_ids = rnd.random() < 0.35
        if i % 2 == 0:
            # A shared hot stream: read the version, append with it as expected_version,
            # retry on conflict. Real races between processes happen here.
            stream = "hot-%d" % rnd.randrange(HOT_STREAMS)
            n = rnd.randint(1, 2)
            options = None
        else:
            # A stream only this process writes: batches of 1-5 under an idempotency key.
            stream = "proc%d-%d" % (w, rnd.randrange(OWN_STREAMS))
            n = rnd.randint(1, 5)
            options = {"idempotency_key": "w%d-i%d" % (w, i)}
        events = []
        for j in range(n):
            e = {"type": "Hot" if options is None else "Own",
                 "data": {"w": w, "i": i, "j": j, "pad": "x" * rnd.randrange(0, 200)}}
            if with_ids:
                e["id"] = "ev-w%d-i%d-j%d" % (w, i, j)
            events.append(e)
        ids = [e["id"] for e in events] if with_ids else None

        attempts = 0
        while True:
            attempts += 1
            if options is None:
                expected = rec.version_of(stream)
                time.sleep(rnd.random() * 0.002)  # "think time": lets other writers race us
            else:
                expected = own_version.get(stream, 0)  # sole writer: we know it exactly
            status, got = rec.append(stream, expected, events, options)
            if status == "ok":
                break
            if status == "conflict":
                rec.conflicts += 1
                if options is not None:  # nobody else writes this stream
                    rec.errors.append({"op": "append", "stream": stream,
                                       "message": "unexpected " + got})
                    break
            if attempts >= 200:
                rec.errors.append({"op": "append", "stream": stream, "message": "gave up"})
                break
            rec.retries += 1
        if status != "ok":
            continue
        if got != expected + n:
            rec.errors.append({"op": "append", "stream": stream,
                               "message": "returned %d after expected %d with %d events"
                               % (got, expected, n)})
        if options is not None:
            own_version[stream] = got
        out["acks"].append({"stream": stream, "version": got, "n": n, "i": i, "ids": ids,
                            "key": options and options["idempotency_key"]})
        # Re-send some calls later: exact replays with caller ids (stale expected_version),
        # and idempotent retries. Both must return `got` and write nothing.
        if (with_ids or options is not None) and rnd.random() < 0.4:
            pending.append((stream, expected, events, options, got))
        if pending and rnd.random() < 0.25:
            replay(pending.pop(rnd.randrange(len(pending))))
    for item in pending:
        replay(item)
    out["seconds"] = time.monotonic() - t0
    out["busy"], out["errors"] = rec.busy, rec.errors
    out["conflicts"], out["retries"] = rec.conflicts, rec.retries
    conn.close()
    with open(a.out, "w") as f:
        json.dump(out, f)


def run_lazy_worker(a):
    """Two appends on a file that has no eskit tables yet, started at the same moment."""
    out = {"worker": a.index, "results": [], "busy": [], "errors": []}
    conn = sqlite3.connect(a.db, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    conn.enable_load_extension(True)
    conn.load_extension(EXT)
    open(a.ready, "w").close()
    wait_for(a.go)
    for stream, expected in [("shared", None), ("own-%d" % a.index, 0)]:
        try:
            v = conn.execute("SELECT es_append(?, ?, ?)", (
                stream, expected,
                json.dumps([{"type": "Lazy", "data": {"w": a.index}}]))).fetchone()[0]
            out["results"].append([stream, v])
        except sqlite3.Error as e:
            (out["busy"] if is_busy(e) else out["errors"]).append(describe(e))
    conn.close()
    with open(a.out, "w") as f:
        json.dump(out, f)


def run_inline_worker(a):
    """Appends whose expected version is read by the same statement (pure-SQL idiom)."""
    out = {"worker": a.index, "acks": 0, "conflicts": 0, "busy": [], "errors": []}
    conn = connect(a.db)
    open(a.ready, "w").close()
    wait_for(a.go)
    sql = ("SELECT es_append(?1, coalesce((SELECT version FROM es_streams "
           "WHERE stream_id = ?1), 0), ?2)")
    for i in range(a.appends):
        stream = "inline-%d" % (i % 2)
        events = json.dumps([{"type": "Inline", "data": {"w": a.index, "i": i}}])
        for _ in range(200):
            try:
                conn.execute(sql, (stream, events)).fetchone()
                out["acks"] += 1
                break
            except sqlite3.IntegrityError as e:
                if not str(e).startswith("conflict: "):
                    out["errors"].append(describe(e))
                    break
                out["conflicts"] += 1
            except sqlite3.Error as e:
                (out["busy"] if is_busy(e) else out["errors"]).append(describe(e))
                if len(out["busy"]) + len(out["errors"]) > 50:
                    break
    conn.close()
    with open(a.out, "w") as f:
        json.dump(out, f)


# ------------------------------------------------------------------------------- parent

def spawn_all(tmp, role, db, count, appends=0, seed=1, journal="wal"):
    """Starts count workers, releases them together, returns their result dicts."""
    go = os.path.join(tmp, "go-%s" % role)
    procs, outs, readies = [], [], []
    for w in range(count):
        out = os.path.join(tmp, "%s-%d.json" % (role, w))
        ready = os.path.join(tmp, "%s-%d.ready" % (role, w))
        outs.append(out)
        readies.append(ready)
        procs.append(subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--" + role, "--index", str(w),
             "--db", db, "--out", out, "--ready", ready, "--go", go,
             "--appends", str(appends), "--seed", str(seed), "--journal", journal],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ)))
    deadline = time.monotonic() + 60
    while not all(os.path.exists(r) for r in readies):
        if time.monotonic() > deadline or any(p.poll() not in (None, 0) for p in procs):
            break
        time.sleep(0.001)
    open(go, "w").close()
    results, failures = [], []
    for w, (p, out) in enumerate(zip(procs, outs)):
        try:
            log, _ = p.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            p.kill()
            log, _ = p.communicate()
        if p.returncode != 0 or not os.path.exists(out):
            failures.append("worker %d exited %s:\n%s" % (w, p.returncode,
                                                          log.decode(errors="replace")))
            continue
        with open(out) as f:
            results.append(json.load(f))
    os.remove(go)
    return results, failures


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="eskit-conc-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class TestConcurrentAppends(Base):
    def test_processes_append_to_one_wal_file(self):
        self.run_workload("wal", PROCS, APPENDS)

    def test_processes_append_to_one_rollback_journal_file(self):
        # SPEC 3 does not restrict the no-SQLITE_BUSY rule to WAL: a smaller run in the
        # default journal mode, where readers and the committing writer do block each other.
        self.run_workload("delete", max(2, PROCS * 2 // 3), max(10, APPENDS // 3))

    def run_workload(self, journal, PROCS, APPENDS):
        db = os.path.join(self.tmp, "store.db")
        init = connect(db, wal=journal == "wal")  # WAL is persistent: set once, up front
        init.execute("SELECT es_init()")  # the hot-stream readers query es_streams directly
        self.assertEqual(init.execute("PRAGMA journal_mode").fetchone()[0], journal)
        init.close()
        t0 = time.monotonic()
        results, failures = spawn_all(self.tmp, "worker", db, PROCS, APPENDS, journal=journal)
        elapsed = time.monotonic() - t0
        self.assertEqual(failures, [])
        self.assertEqual(len(results), PROCS)

        busy = [b for r in results for b in r["busy"]]
        errors = [e for r in results for e in r["errors"]]
        mismatches = [m for r in results for m in r["replay_mismatch"]]
        acks = [dict(a, w=r["worker"]) for r in results for a in r["acks"]]
        conflicts = sum(r["conflicts"] for r in results)
        retries = sum(r["retries"] for r in results)
        replays = sum(r["replays"] for r in results)
        acked_events = sum(a["n"] for a in acks)

        conn = connect(db, wal=journal == "wal")
        rows = conn.execute("SELECT seq, stream_id, version, type, data, event_id, "
                            "idempotency_key FROM es_events ORDER BY seq").fetchall()
        print("\nconcurrency (journal_mode=%s): %d processes x %d appends in %.1fs: "
              "%d acknowledged appends, %d events, %d conflicts, %d retries, %d replays, "
              "%d busy, %d other errors; %d events checked" % (
                  journal, PROCS, APPENDS, elapsed, len(acks), acked_events,
                                     conflicts, retries, replays, len(busy), len(errors),
                                     len(rows)))
        sys.stdout.flush()
        self.assertEqual(busy, [], "SQLITE_BUSY surfaced to a caller with a busy timeout")
        self.assertEqual(errors, [])
        self.assertEqual(mismatches, [], "replays must return the original version, no write")
        self.assertEqual(len(acks), PROCS * APPENDS)
        self.assertGreater(conflicts, 0, "the workload produced no conflicts")

        # seq: unique and, per stream, increasing with version; versions 1..N contiguous.
        seqs = [r[0] for r in rows]
        self.assertEqual(len(seqs), len(set(seqs)))
        by_stream = {}
        for r in rows:
            by_stream.setdefault(r[1], []).append(r)
        streams = dict(conn.execute("SELECT stream_id, version FROM es_streams").fetchall())
        self.assertEqual(set(streams), set(by_stream))
        for stream, evs in by_stream.items():
            evs.sort(key=lambda r: r[2])
            self.assertEqual([r[2] for r in evs], list(range(1, len(evs) + 1)), stream)
            s = [r[0] for r in evs]
            self.assertTrue(all(x < y for x, y in zip(s, s[1:])), stream)
            self.assertEqual(streams[stream], len(evs), stream)

        # Every acknowledged append exactly once, where its returned version says.
        at = {(r[1], r[2]): r for r in rows}
        seen = set()
        for a in acks:
            first = a["version"] - a["n"] + 1
            span = []
            for j in range(a["n"]):
                r = at.get((a["stream"], first + j))
                self.assertIsNotNone(r, a)
                d = json.loads(r[4])
                self.assertEqual((d["w"], d["i"], d["j"]), (a["w"], a["i"], j), (a, r))
                if a["ids"]:
                    self.assertEqual(r[5], a["ids"][j])
                self.assertEqual(r[6], a["key"])
                span.append(r[0])
                seen.add(r[0])
            self.assertEqual(span, list(range(span[0], span[0] + a["n"])),
                             "one append's events must have consecutive seq: %r" % a)
        self.assertEqual(len(rows), acked_events)
        self.assertEqual(seen, set(seqs))
        payloads = [(json.loads(r[4])["w"], json.loads(r[4])["i"], json.loads(r[4])["j"])
                    for r in rows]
        self.assertEqual(len(payloads), len(set(payloads)))

        self.assertEqual(conn.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        self.assertEqual(conn.execute("SELECT es_head()").fetchone()[0], max(seqs))
        # A consumer paging through es_all sees every event once, in seq order.
        paged, after = [], 0
        while True:
            page = [r[0] for r in conn.execute("SELECT seq FROM es_all(?) LIMIT 97", (after,))]
            if not page:
                break
            paged += page
            after = page[-1]
        self.assertEqual(paged, seqs)
        conn.close()


class TestLazySchema(Base):
    ROUNDS = int(os.environ.get("ES_LAZY_ROUNDS", "8"))
    PROCS = int(os.environ.get("ES_LAZY_PROCS", "4"))

    def run_rounds(self, wal):
        for rnd in range(self.ROUNDS):
            with self.subTest(wal=wal, round=rnd):
                db = os.path.join(self.tmp, "lazy-%s-%d.db" % ("wal" if wal else "rj", rnd))
                if wal:  # a WAL file that has no eskit tables yet
                    c = sqlite3.connect(db)
                    self.assertEqual(c.execute("PRAGMA journal_mode=WAL").fetchone()[0], "wal")
                    c.close()
                results, failures = spawn_all(self.tmp, "lazy-worker", db, self.PROCS)
                self.assertEqual(failures, [])
                self.assertEqual([b for r in results for b in r["busy"]], [])
                self.assertEqual([e for r in results for e in r["errors"]], [])
                got = sorted(v for r in results for s, v in r["results"] if s == "shared")
                self.assertEqual(got, list(range(1, self.PROCS + 1)))
                for r in results:
                    self.assertIn(["own-%d" % r["worker"], 1], r["results"])
                c = connect(db, wal=False)
                self.assertEqual(c.execute("SELECT count(*) FROM es_events").fetchone()[0],
                                 2 * self.PROCS)
                self.assertEqual(c.execute("SELECT value FROM es_meta WHERE key = "
                                           "'schema_version'").fetchone()[0],
                                 c.execute("SELECT es_init()").fetchone()[0])
                self.assertEqual(c.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
                c.close()

    def test_fresh_wal_file(self):
        self.run_rounds(wal=True)

    def test_fresh_file_rollback_journal(self):
        self.run_rounds(wal=False)


class TestInlineExpectedVersion(Base):
    """SELECT es_append(s, (SELECT version FROM es_streams ...), ...) is one autocommit
    statement, so SPEC 3 (no SQLITE_BUSY outside a transaction) applies to it too. The
    statement's own read opens the snapshot before es_append runs."""

    def test_expected_version_read_in_the_same_statement(self):
        db = os.path.join(self.tmp, "inline.db")
        c = connect(db)
        c.execute("SELECT es_init()")
        c.close()
        results, failures = spawn_all(self.tmp, "inline-worker", db, 4, appends=100)
        self.assertEqual(failures, [])
        busy = [b for r in results for b in r["busy"]]
        errors = [e for r in results for e in r["errors"]]
        acks = sum(r["acks"] for r in results)
        print("\ninline: 4 processes x 100 appends: %d acknowledged, %d conflicts, %d busy "
              "(%s), %d other errors" % (
                  acks, sum(r["conflicts"] for r in results), len(busy),
                  ", ".join(sorted({"%s: %s" % (b["name"], b["message"]) for b in busy})),
                  len(errors)))
        sys.stdout.flush()
        self.assertEqual(errors, [])
        self.assertEqual(busy, [], "SQLITE_BUSY surfaced to an autocommit caller")
        c = connect(db)
        self.assertEqual(c.execute("SELECT count(*) FROM es_events").fetchone()[0], acks)
        c.close()


class TestStaleReadSnapshot(Base):
    """Deterministic, single-process forms of the case above: es_append runs in autocommit
    (the caller never said BEGIN) while the caller's own statement already holds a read
    snapshot that another connection's commit has made stale. Whatever eskit answers, it must
    not be SQLITE_BUSY/BUSY_SNAPSHOT (SPEC 3), it must carry a code prefix (SPEC 2), and it
    must write nothing."""

    EV = json.dumps({"type": "A", "data": 1})

    def setUp(self):
        super().setUp()
        db = os.path.join(self.tmp, "stale.db")
        self.a, self.b = connect(db), connect(db)
        self.a.execute("SELECT es_append('s', 0, ?)", (json.dumps([{"type": "A", "data": i}
                                                                    for i in range(5)]),))

    def tearDown(self):
        self.a.close()
        self.b.close()
        super().tearDown()

    def check(self, run):
        before = self.b.execute("SELECT count(*), es_head() FROM es_events").fetchone()
        try:
            run()
            return
        except sqlite3.Error as e:
            err = e
        after = self.b.execute("SELECT count(*), es_head() FROM es_events").fetchone()
        # Only b's own append (one event) happened.
        self.assertEqual(after, (before[0] + 1, before[1] + 1), "a failed call changes nothing")
        self.assertFalse(is_busy(err), "SQLITE_BUSY surfaced in autocommit: %s %s" % (
            err.sqlite_errorname, err))
        self.assertRegex(str(err), r"^[a-z_]+: ")

    def test_append_while_iterating_a_read_on_the_same_connection(self):
        # The reactor pattern: for event in es_all(...): es_append(reaction).
        def run():
            cur = self.a.execute("SELECT seq FROM es_all()")
            cur.fetchone()  # statement still open: a holds a read snapshot
            self.b.execute("SELECT es_append('t', -1, ?)", (self.EV,)).fetchone()
            try:
                self.a.execute("SELECT es_append('u', -1, ?)", (self.EV,)).fetchone()
            finally:
                cur.close()
        self.check(run)

    def test_expected_version_read_by_the_same_statement(self):
        def other_writes():
            return self.b.execute("SELECT es_append('s', -1, ?)", (self.EV,)).fetchone()[0]
        self.a.create_function("other_writes", 0, other_writes)
        self.check(lambda: self.a.execute(
            "SELECT other_writes(), es_append('s', v.version, ?) FROM es_streams v "
            "WHERE v.stream_id = 's'", (self.EV,)).fetchone())


def main():
    p = argparse.ArgumentParser()
    for role in ("worker", "lazy-worker", "inline-worker"):
        p.add_argument("--" + role, action="store_true")
    for opt in ("db", "out", "ready", "go"):
        p.add_argument("--" + opt)
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--appends", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--journal", default="wal")
    a, rest = p.parse_known_args()
    if a.worker:
        run_worker(a)
        return 0
    if a.lazy_worker:
        run_lazy_worker(a)
        return 0
    if a.inline_worker:
        run_inline_worker(a)
        return 0
    if not EXT:
        print("ES_EXT is not set", file=sys.stderr)
        return 2
    result = unittest.main(argv=[sys.argv[0], "-v"] + rest, exit=False).result
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print("test_concurrency: %d run, %d failed, %d skipped" % (
        result.testsRun, failed, len(result.skipped)))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
