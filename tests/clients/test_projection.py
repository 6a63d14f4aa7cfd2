#!/usr/bin/python3
"""Exactly-once projections in plain SQL with es_checkpoint's compare-and-set.

A projector is this script re-invoked with --projector (Debian python3, loads ES_EXT). It
folds the log into a read model in the same database:

    totals(stream_id PRIMARY KEY, sum, n)   -- per stream: sum of data.amount, event count
    applied(seq PRIMARY KEY, pid)           -- one row per applied event: a second application
                                            -- of an event violates the primary key

Mode "locked" (the README's recipe) loops:
    BEGIN IMMEDIATE; cp = es_checkpoint('totals');
    SELECT seq, stream_id, data FROM es_all(cp) LIMIT 37;
    per event: upsert totals, INSERT INTO applied;  es_checkpoint('totals', cp, last_seq); COMMIT
Mode "optimistic" reads cp and the page outside any transaction, then BEGIN IMMEDIATE, upserts
totals, es_checkpoint('totals', cp, last_seq), INSERT INTO applied, COMMIT. Two such projectors
on one consumer name really race (under BEGIN IMMEDIATE first they could not: the lock
serialises them), and the compare-and-set must refuse the loser with IntegrityError
'conflict: ...', whose ROLLBACK undoes its read-model writes.

TestKilledProjector: a file db seeded with 5,000 events over 50 streams; an appender process
keeps appending while a locked-mode projector is started and SIGKILLed at random moments
(ES_PROJ_KILLS, at least 30, random delays of a few ms after it is ready), restarted each
time; then the appender stops and one projector runs to completion.
TestRacingProjectors: two optimistic projectors on the same consumer name with the appender
running, one of them killed and restarted now and then, then both run to completion.

Both assert: applied holds exactly the set of all seq values in es_events; totals equal the
sums computed from es_events with json_extract; es_checkpoint('totals') = es_head() = max(seq);
no projector ever hit an error other than the expected conflicts (a double application would
surface as a UNIQUE violation in applied); PRAGMA integrity_check is ok. The racing test also
asserts that conflicts happened and were all 'conflict:' IntegrityErrors.
TestCompareAndSet checks the same in one process, step by step.

Run: ES_EXT=/path/to/eskit.so /usr/bin/python3 tests/clients/test_projection.py
Tunables: ES_PROJ_EVENTS (5000), ES_PROJ_KILLS (40), ES_PROJ_RACE_S (4).
"""
import argparse
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
import traceback
import unittest

from eskit_client import EXT, one
import eskit_client


def connect(path):
    return eskit_client.connect(path, timeout=BUSY_TIMEOUT_S)
SEED_EVENTS = int(os.environ.get("ES_PROJ_EVENTS", "5000"))
KILLS = max(30, int(os.environ.get("ES_PROJ_KILLS", "40")))
RACE_S = float(os.environ.get("ES_PROJ_RACE_S", "4"))
STREAMS = ["acct-%02d" % i for i in range(50)]
PAGE = 37
CONSUMER = "totals"
BUSY_TIMEOUT_S = 30.0

FIGURES = {}

READ_MODEL = """
CREATE TABLE IF NOT EXISTS totals(stream_id TEXT PRIMARY KEY, sum INTEGER NOT NULL,
                                  n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS applied(seq INTEGER PRIMARY KEY, pid INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS batches(id INTEGER PRIMARY KEY, pid INTEGER NOT NULL,
                                   from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL,
                                   n INTEGER NOT NULL, mode TEXT NOT NULL);
"""
UPSERT = ("INSERT INTO totals(stream_id, sum, n) VALUES (?1, json_extract(?2, '$.amount'), 1) "
          "ON CONFLICT(stream_id) DO UPDATE SET sum = sum + excluded.sum, n = n + 1")

BATCH = "INSERT INTO batches(pid, from_seq, to_seq, n, mode) VALUES (?, ?, ?, ?, ?)"


def log_line(path, record):
    """One short O_APPEND write: survives a SIGKILL right after it, never interleaves."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (json.dumps(record) + "\n").encode())
    finally:
        os.close(fd)


def read_log(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def random_events(rng, k):
    return [{"type": rng.choice(["Deposited", "Withdrawn", "Adjusted"]),
             "data": {"amount": rng.randint(-100, 1000), "note": "n%d" % rng.randint(0, 99)}}
            for _ in range(k)]


# ----------------------------------------------------------------------------- child roles

def run_projector(a):
    rng = random.Random(a.seed)
    pid = os.getpid()
    conn = connect(a.db)
    phase = os.open(a.phase, os.O_RDWR | os.O_CREAT, 0o644) if a.phase else None

    def mark(b):  # 'T' inside a transaction, 'I' outside: tells the parent where a kill hit
        if phase is not None:
            os.pwrite(phase, b, 0)

    print("ready", flush=True)
    batches = 0
    try:
        while True:
            if a.mode == "locked":
                conn.execute("BEGIN IMMEDIATE")
                mark(b"T")
                cp = one(conn, "SELECT es_checkpoint(?)", (CONSUMER,))
                rows = conn.execute("SELECT seq, stream_id, data FROM es_all(?) LIMIT %d" % PAGE,
                                    (cp,)).fetchall()
                if rows:
                    for seq, stream, data in rows:
                        conn.execute(UPSERT, (stream, data))
                        conn.execute("INSERT INTO applied(seq, pid) VALUES (?, ?)", (seq, pid))
                    if rng.random() < 0.5:
                        time.sleep(rng.uniform(0, 0.003))  # give kills a wide target
                    one(conn, "SELECT es_checkpoint(?, ?, ?)", (CONSUMER, cp, rows[-1][0]))
                    conn.execute(BATCH, (pid, cp, rows[-1][0], len(rows), a.mode))
                conn.execute("COMMIT")
                mark(b"I")
            else:
                cp = one(conn, "SELECT es_checkpoint(?)", (CONSUMER,))
                rows = conn.execute("SELECT seq, stream_id, data FROM es_all(?) LIMIT %d" % PAGE,
                                    (cp,)).fetchall()
                if rows:
                    time.sleep(rng.uniform(0, 0.002))  # let the other projector read cp too
                    conn.execute("BEGIN IMMEDIATE")
                    mark(b"T")
                    for seq, stream, data in rows:
                        conn.execute(UPSERT, (stream, data))
                    try:
                        one(conn, "SELECT es_checkpoint(?, ?, ?)", (CONSUMER, cp, rows[-1][0]))
                    except sqlite3.IntegrityError as e:
                        in_txn = conn.in_transaction
                        conn.execute("ROLLBACK")
                        mark(b"I")
                        log_line(a.conflicts, {"pid": pid, "class": type(e).__name__,
                                               "msg": str(e), "name": e.sqlite_errorname,
                                               "in_txn": in_txn})
                        continue
                    conn.executemany("INSERT INTO applied(seq, pid) VALUES (?, ?)",
                                     [(r[0], pid) for r in rows])
                    conn.execute(BATCH, (pid, cp, rows[-1][0], len(rows), a.mode))
                    conn.execute("COMMIT")
                    mark(b"I")
            if rows:
                batches += 1
                if rng.random() < 0.3:
                    time.sleep(rng.uniform(0, 0.001))
                continue
            if a.stop and os.path.exists(a.stop):
                break  # caught up, and the appender has exited: no more events will come
            one(conn, "SELECT es_wait(?, 50)", (cp,))
    except Exception as e:
        log_line(a.errors, {"pid": pid, "role": "projector", "class": type(e).__name__,
                            "msg": str(e), "trace": traceback.format_exc()})
        return 3
    print(json.dumps({"batches": batches}), flush=True)
    return 0


def run_appender(a):
    rng = random.Random(a.seed)
    conn = connect(a.db)
    print("ready", flush=True)
    n = 0
    try:
        while not os.path.exists(a.stop):
            k = rng.randint(1, 3)
            one(conn, "SELECT es_append(?, -1, ?)",
                (rng.choice(STREAMS), json.dumps(random_events(rng, k))))
            n += k
            time.sleep(rng.uniform(0.001, 0.005))
    except Exception as e:
        log_line(a.errors, {"pid": os.getpid(), "role": "appender", "class": type(e).__name__,
                            "msg": str(e), "trace": traceback.format_exc()})
        return 3
    print(json.dumps({"appended": n}), flush=True)
    return 0


# ----------------------------------------------------------------------------- the tests

class Child:
    def __init__(self, tmp, role, *args):
        self.role = role
        self.err_path = os.path.join(tmp, "%s-%d-%d.stderr" % (role, os.getpid(),
                                                              random.getrandbits(32)))
        self.err = open(self.err_path, "w")
        self.p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--" + role] +
                                  list(args), stdout=subprocess.PIPE, stderr=self.err,
                                  text=True)
        line = self.p.stdout.readline().strip()
        if line != "ready":
            self.p.wait()
            raise AssertionError("%s did not start: %r, stderr: %s" % (role, line, self.stderr()))

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.err_path) as f:
            return f.read()

    def kill(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.communicate()
        self.err.close()
        return self.p.returncode

    def finish(self, timeout):
        out, _ = self.p.communicate(timeout=timeout)
        self.err.close()
        return self.p.returncode, out


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="eskit-projection-")
        # Runs after tearDown, and also when setUp fails half-way.
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.db = os.path.join(self.tmp, "store.db")
        self.stop = os.path.join(self.tmp, "stop")  # the appender stops
        self.done = os.path.join(self.tmp, "done")  # the appender has exited: drain and exit
        self.errors = os.path.join(self.tmp, "errors.log")
        self.conflicts = os.path.join(self.tmp, "conflicts.log")
        self.children = []
        self.conn = connect(self.db)
        self.conn.executescript(READ_MODEL)

    def tearDown(self):
        for ch in self.children:
            if ch.p.poll() is None:
                ch.p.kill()
                ch.p.communicate()
            if not ch.err.closed:
                ch.err.close()
        self.conn.close()

    def seed(self, n, seed):
        rng = random.Random(seed)
        written = 0
        while written < n:
            k = min(n - written, rng.randint(1, 8))
            one(self.conn, "SELECT es_append(?, -1, ?)",
                (rng.choice(STREAMS), json.dumps(random_events(rng, k))))
            written += k
        self.assertEqual(one(self.conn, "SELECT count(*) FROM es_events"), n)

    def start(self, role, *args):
        ch = Child(self.tmp, role, "--db", self.db, "--errors", self.errors, *args)
        self.children.append(ch)
        return ch

    def start_projector(self, mode, seed, phase=None):
        args = ["--mode", mode, "--seed", str(seed), "--stop", self.done,
                "--conflicts", self.conflicts]
        if phase:
            args += ["--phase", phase]
        return self.start("projector", *args)

    def stop_appender(self, appender):
        with open(self.stop, "w"):
            pass
        rc, out = appender.finish(60)
        self.assertEqual(rc, 0, "appender failed: %s %s" % (read_log(self.errors),
                                                            appender.stderr()))
        with open(self.done, "w"):  # only now can an empty page mean "caught up for good"
            pass
        return json.loads(out)["appended"]

    def assert_exactly_once(self):
        c = self.conn
        self.assertEqual(read_log(self.errors), [], "a child hit an unexpected error")
        n_events = one(c, "SELECT count(*) FROM es_events")
        missing = [r[0] for r in c.execute(
            "SELECT seq FROM es_events e WHERE NOT EXISTS "
            "(SELECT 1 FROM applied a WHERE a.seq = e.seq) ORDER BY seq")]
        if missing:
            detail = []
            for seq in missing[:5]:
                detail.append((seq, c.execute(
                    "SELECT seq, stream_id, version, created_at FROM es_events WHERE seq = ?",
                    (seq,)).fetchone(), c.execute(
                    "SELECT * FROM batches WHERE from_seq < ?1 AND to_seq >= ?1",
                    (seq,)).fetchall()))
            self.fail("%d events never applied, e.g. %r" % (len(missing), detail))
        self.assertEqual(one(c, "SELECT count(*) FROM applied a WHERE NOT EXISTS "
                                "(SELECT 1 FROM es_events e WHERE e.seq = a.seq)"), 0,
                         "applied rows for seq values that are no events")
        self.assertEqual(one(c, "SELECT count(*) FROM applied"), n_events)
        # The committed batches tile (0, head] without gaps or overlaps.
        ranges = c.execute("SELECT from_seq, to_seq FROM batches ORDER BY id").fetchall()
        self.assertEqual(ranges[0][0], 0)
        for (f1, t1), (f2, t2) in zip(ranges, ranges[1:]):
            self.assertEqual(f2, t1, "batch (%d, %d] does not follow (%d, %d]" % (f2, t2, f1, t1))
        expected = c.execute("SELECT stream_id, sum(json_extract(data, '$.amount')), count(*) "
                             "FROM es_events GROUP BY stream_id ORDER BY stream_id").fetchall()
        got = c.execute("SELECT stream_id, sum, n FROM totals ORDER BY stream_id").fetchall()
        self.assertEqual(got, expected, "the read model differs from the log")
        self.assertEqual(one(c, "SELECT sum(n) FROM totals"), n_events)
        head = one(c, "SELECT es_head()")
        self.assertEqual(head, one(c, "SELECT max(seq) FROM es_events"))
        self.assertEqual(one(c, "SELECT es_checkpoint(?)", (CONSUMER,)), head)
        self.assertEqual(one(c, "PRAGMA integrity_check"), "ok")
        return n_events


class TestKilledProjector(Base):
    def test_sigkill_and_restart(self):
        self.seed(SEED_EVENTS, 11)
        rng = random.Random(12)
        appender = self.start("appender", "--seed", "13", "--stop", self.stop)
        phase = os.path.join(self.tmp, "phase")
        kills = in_txn = progressed = 0
        t0 = time.monotonic()
        for i in range(KILLS):
            with open(phase, "wb") as f:
                f.write(b"-")
            before = one(self.conn, "SELECT es_checkpoint(?)", (CONSUMER,))
            proj = self.start_projector("locked", 100 + i, phase)
            time.sleep(rng.uniform(0.002, 0.030))
            if proj.p.poll() is not None:
                self.fail("the projector exited on its own (rc %s): %s %s" % (
                    proj.p.returncode, read_log(self.errors), proj.stderr()))
            self.assertEqual(proj.kill(), -signal.SIGKILL)
            kills += 1
            with open(phase, "rb") as f:
                in_txn += f.read(1) == b"T"
            progressed += one(self.conn, "SELECT es_checkpoint(?)", (CONSUMER,)) > before
            self.assertEqual(read_log(self.errors), [])
        appended = self.stop_appender(appender)
        killed_at = one(self.conn, "SELECT es_checkpoint(?)", (CONSUMER,))
        final = self.start_projector("locked", 999)
        rc, out = final.finish(120)
        self.assertEqual(rc, 0, "final projector: %s %s" % (read_log(self.errors),
                                                          final.stderr()))
        n = self.assert_exactly_once()
        self.assertGreaterEqual(kills, 30)
        self.assertGreater(in_txn, 0, "no kill landed inside a projector transaction")
        self.assertGreater(killed_at, 0, "the killed projectors made no progress at all")
        FIGURES.update(kills=kills, kills_in_txn=in_txn, kills_after_progress=progressed,
                       events=n, appended_during=appended, checkpoint_at_last_kill=killed_at,
                       kill_phase_s=round(time.monotonic() - t0, 1))


class TestRacingProjectors(Base):
    def test_two_projectors_one_consumer(self):
        self.seed(SEED_EVENTS // 2, 21)
        rng = random.Random(22)
        appender = self.start("appender", "--seed", "23", "--stop", self.stop)
        procs = [self.start_projector("optimistic", 200), self.start_projector("optimistic", 201)]
        kills = restarts = 0
        deadline = time.monotonic() + RACE_S
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0.05, 0.3))
            for p in procs:
                if p.p.poll() is not None:
                    self.fail("a projector exited on its own (rc %s): %s %s" % (
                        p.p.returncode, read_log(self.errors), p.stderr()))
            if rng.random() < 0.4:
                k = rng.randrange(2)
                self.assertEqual(procs[k].kill(), -signal.SIGKILL)
                kills += 1
                procs[k] = self.start_projector("optimistic", 300 + restarts)
                restarts += 1
        appended = self.stop_appender(appender)
        for p in procs:
            rc, _ = p.finish(120)
            self.assertEqual(rc, 0, "projector: %s %s" % (read_log(self.errors), p.stderr()))
        n = self.assert_exactly_once()
        conflicts = read_log(self.conflicts)
        self.assertGreater(len(conflicts), 0, "the two projectors never collided")
        for c in conflicts:
            self.assertEqual(c["class"], "IntegrityError", c)
            self.assertTrue(c["msg"].startswith("conflict: checkpoint 'totals' is at "), c)
            self.assertEqual(c["name"], "SQLITE_CONSTRAINT", c)
            self.assertTrue(c["in_txn"], "a failed CAS must leave the caller's transaction open")
        appliers = {r[0] for r in self.conn.execute("SELECT DISTINCT pid FROM applied")}
        self.assertGreater(len(appliers), 1, "only one projector ever won")
        FIGURES.update(race_events=n, race_conflicts=len(conflicts), race_kills=kills,
                       race_appended_during=appended, race_winning_pids=len(appliers))


class TestCompareAndSet(Base):
    """The race of TestRacingProjectors, one step at a time on two connections."""

    def test_cas_step_by_step(self):
        self.seed(100, 31)
        a, b = self.conn, connect(self.db)
        try:
            self.assertEqual(one(a, "SELECT es_checkpoint(?)", (CONSUMER,)), 0)  # unknown: 0
            cp_a = one(a, "SELECT es_checkpoint(?)", (CONSUMER,))
            cp_b = one(b, "SELECT es_checkpoint(?)", (CONSUMER,))
            page = a.execute("SELECT seq, stream_id, data FROM es_all(?) LIMIT 10",
                             (cp_a,)).fetchall()
            a.execute("BEGIN IMMEDIATE")
            for seq, s, d in page:
                a.execute(UPSERT, (s, d))
            self.assertEqual(one(a, "SELECT es_checkpoint(?, ?, ?)", (CONSUMER, cp_a,
                                                                      page[-1][0])), page[-1][0])
            a.execute("COMMIT")
            model = b.execute("SELECT * FROM totals ORDER BY stream_id").fetchall()
            b.execute("BEGIN IMMEDIATE")
            for seq, s, d in page:
                b.execute(UPSERT, (s, d))
            with self.assertRaises(sqlite3.IntegrityError) as cm:
                b.execute("SELECT es_checkpoint(?, ?, ?)", (CONSUMER, cp_b, page[-1][0]))
            self.assertEqual(str(cm.exception), "conflict: checkpoint 'totals' is at %d, "
                             "expected %d" % (page[-1][0], cp_b))
            self.assertEqual(cm.exception.sqlite_errorname, "SQLITE_CONSTRAINT")
            self.assertTrue(b.in_transaction, "the failed CAS ended the caller's transaction")
            b.execute("ROLLBACK")
            self.assertEqual(b.execute("SELECT * FROM totals ORDER BY stream_id").fetchall(),
                             model, "the rolled-back writes of the loser are visible")
            self.assertEqual(one(b, "SELECT es_checkpoint(?)", (CONSUMER,)), page[-1][0])
            # Two-argument form: stores unconditionally, also backwards (rebuilds).
            self.assertEqual(one(b, "SELECT es_checkpoint(?, 3)", (CONSUMER,)), 3)
            self.assertEqual(one(a, "SELECT es_checkpoint(?)", (CONSUMER,)), 3)
            self.assertEqual(one(a, "SELECT es_checkpoint(?, 3, 5)", (CONSUMER,)), 5)
            for sql in ("SELECT es_checkpoint('totals', -1)", "SELECT es_checkpoint('totals', 'x')",
                        "SELECT es_checkpoint('totals', 1.5)", "SELECT es_checkpoint('', 1)",
                        "SELECT es_checkpoint('totals', -2, 1)", "SELECT es_checkpoint(NULL)"):
                with self.assertRaises(sqlite3.OperationalError, msg=sql) as cm:
                    a.execute(sql).fetchall()
                self.assertTrue(str(cm.exception).startswith("invalid_argument:"),
                                "%s: %s" % (sql, cm.exception))
            self.assertEqual(one(a, "SELECT es_checkpoint(?)", (CONSUMER,)), 5)
        finally:
            b.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--projector", action="store_true")
    p.add_argument("--appender", action="store_true")
    for opt in ("db", "errors", "conflicts", "stop", "phase"):
        p.add_argument("--" + opt)
    p.add_argument("--mode", default="locked")
    p.add_argument("--seed", type=int, default=1)
    a, rest = p.parse_known_args()
    if a.projector:
        return run_projector(a)
    if a.appender:
        return run_appender(a)
    if not EXT:
        print("ES_EXT is not set", file=sys.stderr)
        return 2
    t = time.monotonic()
    result = unittest.main(argv=[sys.argv[0], "-v"] + rest, exit=False).result
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print("test_projection: %d run, %d failed, %d skipped in %.1f s; %s" % (
        result.testsRun, failed, len(result.skipped), time.monotonic() - t,
        ", ".join("%s=%s" % kv for kv in FIGURES.items()) or "-"))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
