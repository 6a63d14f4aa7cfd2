#!/usr/bin/python3
"""Crash-kill test: SIGKILL an appending writer at random moments and check the store each time.

A writer child process (this script re-invoked as `test_crash_kill.py writer ...`) opens one WAL
database with `PRAGMA synchronous=FULL` (phase 1) or `NORMAL` (phase 2), loads eskit and appends
batches in a loop as fast as it can:

  * 1-20 events per batch, caller-given event ids `r<run>-b<batch>-n<n>-i<index>` (so the
    database alone says which batch a row belongs to, how large the batch was and where in it
    the row stands) and the idempotency key `r<run>-b<batch>-n<n>`, unique per batch;
  * about 60 % of the batches go to a few hot streams: the writer reads the stream's version
    first and passes it as expected_version (now and then deliberately a stale one), and
    re-reads and retries on `conflict`; the others create a new stream (expected_version 0);
  * before each call it reports `TRY` (the batch it is about to send) and after es_append
    RETURNS, i.e. after the commit, it reports `ACK <key> <stream> <returned version> <n> <ids>`.
    Every report is one os.write() of one whole line (< PIPE_BUF bytes, so atomic) on an
    unbuffered pipe: a line the parent reads was written after the commit it describes.
  * a batch that was sent (TRY) but never acknowledged is re-sent by the next writer with the same
    key and ids (a client retrying after a lost reply); the answer must be exactly-once.

The parent starts the writer, waits for `READY`, lets it run for a uniformly random 3-100 ms and
SIGKILLs it; then it opens the file (WAL recovery) and checks:

  * PRAGMA integrity_check = 'ok';
  * per stream: versions exactly 1..N, es_streams.version = N, state 'active', no stream row
    without events nor events without a stream row (es_streams is a view over the events and
    es_lifecycle since schema 3: a stray lifecycle row shows as a wrong state or a row without
    events);
  * the category and type index (es_postings, trailing the log by at most 256 events, folded
    in by the append that reaches the bound, so kills land inside folds too) answers exactly:
    es_all(0) WHERE category = / type = returns the same seq values as plain SQL over es_events,
    and es_meta's indexed_upto never passes es_head();
  * seq unique and strictly increasing with version within each stream, es_head() >= max(seq),
    es_head() never decreases across checks;
  * no partial batch: every batch that has any row in the store has all n rows, in one stream,
    as consecutive versions in index order with consecutive seq, all carrying its key;
  * every acknowledged batch is present exactly once, in the acknowledged stream, ending at the
    returned version, with the reported ids. This is asserted in both modes: WAL with
    synchronous=NORMAL may lose the last transactions on power loss or OS crash, never on a
    process kill (committed frames are in the OS page cache).

How: integrity_check, the per-stream versions vs es_streams and the acknowledged batches (joined
from a temp table) are checked over the whole store in SQL after every kill; the per-row
invariants (version/seq order, whole batches) are checked in Python after every kill on the rows
added since the previous check, against a model of every stream's last (version, seq), and the
number of older rows must be unchanged; at the end of each phase the per-row invariants also run
over the whole store, once with SQL window functions and once as an independent Python scan.
Before the kills a self-test shows that the checks are not vacuous: a clean store passes, and
seven kinds of damage made by hand (lost last event of a batch, lost acknowledged batch, seq out
of order, a stream marked tombstoned while its events are there, a lifecycle row without
events, version gap, a lost index block) are each detected.

Finally a writer runs once more to completion (a fixed number of batches, exit code 0) to show the
store is still writable, and the checks run again.

Figures go to stdout; the last line reads
`crash_kill: <kills> kills, <events> events checked, <violations> violations`.
Exit status 1 on any violation.

Run: ES_EXT=/path/to/eskit.so /usr/bin/python3 tests/crash/test_crash_kill.py
Tunables: ESKIT_CRASH_KILLS (total kills, split evenly over FULL and NORMAL; default 200),
ESKIT_CRASH_SEED (random seed; default: time based, printed), ESKIT_CRASH_DIR (directory for the
database; default a fresh temporary directory, removed on success), ESKIT_CRASH_MAX_DELAY_MS
(default 100), ESKIT_CRASH_FINAL_BATCHES (default 300).
"""
import json
import os
import random
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients"))
from eskit_client import EXT, connect, one  # noqa: E402

HOT_STREAMS = ["hot-%d" % i for i in range(4)]
MIN_DELAY_S = 0.003


# ---------------------------------------------------------------------------------------------
# batch encoding, shared by writer and checker

def batch_key(run, batch, n):
    return "r%d-b%d-n%d" % (run, batch, n)


def parse_key(key):
    r, b, n = key.split("-")
    return int(r[1:]), int(b[1:]), int(n[1:])


def ids_of(key):
    n = parse_key(key)[2]
    return ["%s-i%d" % (key, i) for i in range(n)]


def parse_event_id(event_id):
    """'r3-b17-n5-i2' -> ('r3-b17-n5', 5, 2)"""
    key, _, idx = event_id.rpartition("-")
    return key, parse_key(key)[2], int(idx[1:])


def events_json(key):
    run, batch, n = parse_key(key)
    evs = []
    for i in range(n):
        pad = "x" * ((run * 31 + batch * 7 + i * 13) % 97)
        evs.append({"type": "Crash%d" % (i % 3), "id": "%s-i%d" % (key, i),
                    "data": {"run": run, "batch": batch, "i": i, "pad": pad}})
    return json.dumps(evs)


# ---------------------------------------------------------------------------------------------
# writer role

def emit(line):
    # One write() per line: atomic on a pipe (line < PIPE_BUF), nothing held in a buffer.
    os.write(1, (line + "\n").encode())


def writer_main(argv):
    # argv: db mode run nbatches(0 = endless) seed [retry_key:stream ...]
    db, mode, run, nbatches, seed = argv[0], argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    retries = [a.split(":", 1) for a in argv[5:]]
    rnd = random.Random(seed)
    conn = connect(db, timeout=30)
    conn.execute("PRAGMA synchronous=%s" % mode)
    # Small auto-checkpoint interval: kills also land inside WAL checkpoints.
    conn.execute("PRAGMA wal_autocheckpoint=64")
    sync = one(conn, "PRAGMA synchronous")
    want = {"FULL": 2, "NORMAL": 1}[mode]
    if sync != want:
        raise SystemExit("writer: PRAGMA synchronous is %r, want %r" % (sync, want))
    one(conn, "SELECT es_init()")
    emit("READY %d" % os.getpid())

    def version_of(stream):
        row = conn.execute("SELECT version FROM es_streams WHERE stream_id = ?",
                           (stream,)).fetchone()
        return row[0] if row else 0

    def send(key, stream, stale_ok):
        n = parse_key(key)[2]
        payload = events_json(key)
        opts = json.dumps({"idempotency_key": key})
        conflicts = 0
        emit("TRY %s %s" % (key, stream))
        while True:
            if stream.startswith("new-"):
                expected = 0
            else:
                expected = version_of(stream)
                if stale_ok and conflicts == 0 and expected > 0 and rnd.random() < 0.1:
                    expected -= 1  # stale read: must be refused with conflict, then retried
            try:
                v = one(conn, "SELECT es_append(?, ?, ?, ?)", (stream, expected, payload, opts))
            except sqlite3.IntegrityError as e:
                if str(e).startswith("conflict:") and conflicts < 100:
                    conflicts += 1
                    continue
                raise
            emit("ACK %s %s %d %d %d %s" % (key, stream, v, n, conflicts,
                                            ",".join(ids_of(key))))
            return

    for key, stream in retries:
        send(key, stream, False)
    batch = 0
    while nbatches == 0 or batch < nbatches:
        batch += 1
        r = rnd.random()
        n = 1 if r < 0.3 else rnd.randint(2, 5) if r < 0.7 else rnd.randint(6, 20)
        key = batch_key(run, batch, n)
        if rnd.random() < 0.6:
            stream = rnd.choice(HOT_STREAMS)
        else:
            stream = "new-" + key
        send(key, stream, True)
    conn.close()
    emit("DONE")


# ---------------------------------------------------------------------------------------------
# parent role

class Ack:
    __slots__ = ("key", "stream", "version", "n", "ids")

    def __init__(self, key, stream, version, n, ids):
        self.key, self.stream, self.version, self.n, self.ids = key, stream, version, n, ids


class State:
    def __init__(self):
        self.acks = {}        # key -> Ack
        self.pending = {}     # key -> stream: sent (TRY) but never acknowledged
        self.violations = []
        self.last_head = 0
        self.checks = 0
        self.t_ic = self.t_sql = self.t_py = 0.0
        self.lo = 0               # max(seq) at the last check: rows up to it are validated
        self.count = 0            # number of rows at the last check
        self.model = {}           # stream -> (version, seq) of its last validated row
        self.rows_checked = 0     # rows covered by the SQL checks, summed over all checks
        self.python_rows = 0      # rows scanned by the Python cross-check
        self.conflicts = 0
        self.retried = 0
        self.retried_present = 0  # of those, already committed by the killed writer
        self.present = set()      # batch keys present at the last check
        self.events_in_store = 0
        self.batches_in_store = 0

    def violation(self, where, msg):
        text = "VIOLATION [%s]: %s" % (where, msg)
        if len(self.violations) < 200:
            print(text, flush=True)
        self.violations.append(text)


def handle_line(st, line, run_tries, where):
    parts = line.split(" ")
    if parts[0] == "READY" or parts[0] == "DONE":
        return parts[0]
    if parts[0] == "TRY":
        run_tries[parts[1]] = parts[2]
        return "TRY"
    if parts[0] == "ACK":
        key, stream, v, n, conflicts, ids = (parts[1], parts[2], int(parts[3]), int(parts[4]),
                                             int(parts[5]), parts[6].split(","))
        if ids != ids_of(key) or n != len(ids):
            st.violation(where, "writer acknowledged %s with unexpected ids/n" % key)
        old = st.acks.get(key)
        if old is not None and (old.stream, old.version) != (stream, v):
            st.violation(where, "batch %s acknowledged twice with different answers: %s@%d then "
                                "%s@%d" % (key, old.stream, old.version, stream, v))
        if key in st.pending:
            st.retried += 1
            if key in st.present:
                st.retried_present += 1
            if st.pending[key] != stream:
                st.violation(where, "retry of %s went to %s, not %s" % (key, stream,
                                                                        st.pending[key]))
        st.acks[key] = Ack(key, stream, v, n, ids)
        st.conflicts += conflicts
        run_tries.pop(key, None)
        st.pending.pop(key, None)
        return "ACK"
    st.violation(where, "unexpected line from writer: %r" % line)
    return None


def spawn_writer(db, mode, run, nbatches, seed, pending):
    args = [sys.executable, os.path.abspath(__file__), "writer", db, mode, str(run),
            str(nbatches), str(seed)] + ["%s:%s" % kv for kv in pending.items()]
    return subprocess.Popen(args, stdout=subprocess.PIPE, bufsize=0)


def pump(st, proc, buf, run_tries, where, deadline=None):
    """Read complete lines from the writer until deadline (None: until EOF). Returns
    (buf, eof, saw) where saw is the set of line kinds seen."""
    fd = proc.stdout.fileno()
    saw = set()
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            kind = handle_line(st, line.decode(), run_tries, where)
            saw.add(kind)
            if deadline is not None and kind == "READY":
                return buf, False, saw
        timeout = None
        if deadline is not None:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                return buf, False, saw
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return buf, True, saw
        buf += chunk


# Whole-store checks in SQL, run after every kill (cheap: index scans and lookups). Each returns
# the offending rows.
SQL_EVERY_CHECK = [
    # versions 1..N per stream (UNIQUE(stream_id, version) + min 1 + max = count), es_streams
    # agrees, every stream is active, no stream row without events
    ("stream versions vs es_streams", """
        WITH g AS (SELECT stream_id, count(*) AS c, min(version) AS mn, max(version) AS mx
                   FROM es_events GROUP BY stream_id)
        SELECT g.stream_id, g.c, g.mn, g.mx, s.version, s.state
        FROM g LEFT JOIN es_streams s USING (stream_id)
        WHERE g.mn != 1 OR g.mx != g.c OR s.version IS NULL OR s.version != g.c
           OR s.state != 'active'
        UNION ALL
        SELECT s.stream_id, 0, NULL, NULL, s.version, s.state FROM es_streams s
        WHERE NOT EXISTS (SELECT 1 FROM es_events e WHERE e.stream_id = s.stream_id)"""),
    # every acknowledged batch: n rows with its key in the acknowledged stream, the last at the
    # returned version (with the batch check: nowhere else, ids as reported = exactly once)
    ("acknowledged batches present exactly once", """
        SELECT a.k, a.stream, a.v, a.n, count(e.seq), max(e.version) FROM temp.acks a
        LEFT JOIN es_events e ON e.stream_id = a.stream AND e.idempotency_key = a.k
        GROUP BY a.k HAVING count(e.seq) != a.n OR max(e.version) IS NOT a.v"""),
]

# The index answers what plain SQL answers (checked after every kill): category and type reads
# of es_all against es_events, and the indexed mark not ahead of the log.
INDEX_KEYS = [("category", "hot"), ("category", "new"), ("type", "Crash0"), ("type", "Crash1"),
              ("type", "Crash2")]


def index_violations(conn):
    bad = []
    for column, key in INDEX_KEYS:
        got = [r[0] for r in conn.execute("SELECT seq FROM es_all(0) WHERE %s = ?" % column,
                                          (key,))]
        plain = "es_category(stream_id)" if column == "category" else "type"
        want = [r[0] for r in conn.execute("SELECT seq FROM es_events WHERE %s = ? ORDER BY seq"
                                           % plain, (key,))]
        if got != want:
            missing = sorted(set(want) - set(got))[:5]
            extra = sorted(set(got) - set(want))[:5]
            bad.append("es_all %s = %r: %d rows, plain SQL %d (missing %r, extra %r)"
                       % (column, key, len(got), len(want), missing, extra))
    upto = one(conn, "SELECT value FROM es_meta WHERE key = 'indexed_upto'")
    head = one(conn, "SELECT es_head()")
    if upto is None or upto > head:
        bad.append("es_meta indexed_upto %r, es_head() %d" % (upto, head))
    return bad


# Whole-store per-row checks in SQL (window functions, slower): at the end of each phase; after
# each kill the same invariants are checked in Python on the rows added since the last check.
SQL_FULL_CHECK = [
    ("versions contiguous, seq increasing with version", """
        SELECT stream_id, version, seq, pv, ps FROM (
            SELECT stream_id, version, seq, lag(version) OVER w AS pv, lag(seq) OVER w AS ps
            FROM es_events WINDOW w AS (PARTITION BY stream_id ORDER BY version))
        WHERE (pv IS NULL AND version != 1) OR (pv IS NOT NULL AND (version != pv + 1
                                                                    OR seq <= ps))"""),
    # every row carries its batch key; all n rows of a batch (n is in the key) are in one stream
    # (a batch split over streams has fewer than n rows in each), consecutive versions with
    # consecutive seq, ids in index order
    ("batches whole and consecutive", """
        SELECT k, stream_id, version, seq, event_id, c FROM (
            SELECT idempotency_key AS k, stream_id, version, seq, event_id,
                   first_value(version) OVER w AS fv, first_value(seq) OVER w AS fs,
                   count(*) OVER w AS c
            FROM es_events WHERE idempotency_key IS NOT NULL
            WINDOW w AS (PARTITION BY stream_id, idempotency_key ORDER BY seq
                         ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING))
        WHERE version - fv >= c OR version < fv OR seq - fs != version - fv
           OR event_id != k || '-i' || (version - fv)
           OR c != CAST(substr(k, instr(k, '-n') + 2) AS INTEGER)"""),
    ("rows without a batch key", """
        SELECT seq, stream_id, version, event_id FROM es_events WHERE idempotency_key IS NULL"""),
]


def check_store(st, db, where, full=False):
    """The checks after a kill, on a fresh connection (which recovers the WAL):
    integrity_check, SQL_EVERY_CHECK over the whole store, es_head, the rows below the last
    checked max(seq) unchanged in number, and the rows added since the last check validated in
    Python against the per-stream model (versions, seq, whole batches). full=True adds
    SQL_FULL_CHECK and an independent Python scan of every row."""
    st.checks += 1
    try:
        conn = connect(db)
    except sqlite3.Error as e:
        st.violation(where, "cannot open the database after the kill: %s" % e)
        return
    try:
        t0 = time.monotonic()
        ic = conn.execute("PRAGMA integrity_check").fetchall()
        st.t_ic += time.monotonic() - t0
        t0 = time.monotonic()
        if ic != [("ok",)]:
            st.violation(where, "integrity_check: %r" % (ic[:10],))
        conn.execute("CREATE TEMP TABLE acks(k TEXT PRIMARY KEY, stream TEXT, v INTEGER, "
                     "n INTEGER) WITHOUT ROWID")
        conn.executemany("INSERT INTO temp.acks VALUES (?, ?, ?, ?)",
                         ((a.key, a.stream, a.version, a.n) for a in st.acks.values()))
        conn.execute("BEGIN")  # one snapshot for every read below
        head = one(conn, "SELECT es_head()")
        count, max_seq, old_count = conn.execute(
            "SELECT count(*), coalesce(max(seq), 0), count(*) FILTER (WHERE seq <= ?) "
            "FROM es_events", (st.lo,)).fetchone()
        for name, sql in SQL_EVERY_CHECK + (SQL_FULL_CHECK if full else []):
            bad = conn.execute(sql).fetchall()
            for row in bad[:20]:
                st.violation(where, "%s: %r" % (name, row))
            if len(bad) > 20:
                st.violation(where, "%s: %d more rows" % (name, len(bad) - 20))
        for msg in index_violations(conn):
            st.violation(where, "index: " + msg)
        present = set()
        for key, stream in st.pending.items():
            if conn.execute("SELECT 1 FROM es_events WHERE stream_id = ? AND idempotency_key = ?",
                            (stream, key)).fetchone():
                present.add(key)
        cols = "stream_id, version, seq, event_id, idempotency_key"
        new_rows = conn.execute("SELECT %s FROM es_events WHERE seq > ? "
                                "ORDER BY stream_id, version" % cols, (st.lo,)).fetchall()
        all_rows = streams = None
        if full:
            all_rows = conn.execute("SELECT %s FROM es_events ORDER BY stream_id, version"
                                    % cols).fetchall()
            streams = {s: (v, state) for s, v, state in
                       conn.execute("SELECT stream_id, version, state FROM es_streams")}
        conn.execute("COMMIT")
    except sqlite3.Error as e:
        st.violation(where, "reading the store failed: %s" % e)
        conn.close()
        return
    conn.close()
    st.t_sql += time.monotonic() - t0
    if head < max_seq:
        st.violation(where, "es_head() %d < max(seq) %d" % (head, max_seq))
    if head < st.last_head:
        st.violation(where, "es_head() went back from %d to %d" % (st.last_head, head))
    st.last_head = max(st.last_head, head)
    if old_count != st.count:
        st.violation(where, "%d rows with seq <= %d, %d at the previous check"
                     % (old_count, st.lo, st.count))
    t0 = time.monotonic()
    python_scan(st, where, new_rows, st.model)   # extends st.model
    st.python_rows += len(new_rows)
    if full:
        model = {}
        python_scan(st, where + " (full python scan)", all_rows, model, streams)
        st.python_rows += len(all_rows)
        if model != st.model:
            st.violation(where, "the full scan and the incremental checks disagree")
    st.t_py += time.monotonic() - t0
    st.lo = max(st.lo, max_seq)
    st.count = count
    st.events_in_store = count
    st.present = present
    st.rows_checked += count


def python_scan(st, where, rows, model, streams=None):
    """Validate rows (sorted by stream, version) that continue the streams in model
    ({stream: (version, seq) of its last validated row}; empty for a full scan) and extend model.
    Each batch must be complete within rows (a batch commits in one transaction, so it is all
    above or all below the last checked seq). With streams (es_streams of a full scan) also
    compare the per-stream versions and every acknowledged batch."""
    seqs = set()
    batches = {}   # key -> list of (stream, version, seq, index, n, idem)
    prev = None    # (stream, version, seq)
    for stream, version, seq, event_id, idem in rows:
        if seq in seqs:
            st.violation(where, "seq %d used twice" % seq)
        seqs.add(seq)
        if prev is None or prev[0] != stream:
            last = model.get(stream, (0, 0))
            prev = (stream, last[0], last[1])
        if version != prev[1] + 1:
            st.violation(where, "stream %s: version %d follows %d" % (stream, version, prev[1]))
        if seq <= prev[2]:
            st.violation(where, "stream %s: seq %d at version %d is not above seq %d at "
                                "version %d" % (stream, seq, version, prev[2], prev[1]))
        prev = (stream, version, seq)
        model[stream] = (version, seq)
        try:
            key, n, idx = parse_event_id(event_id)
        except (ValueError, IndexError):
            st.violation(where, "unexpected event id %r" % event_id)
            continue
        batches.setdefault(key, []).append((stream, version, seq, idx, n, idem))

    for key, evs in batches.items():
        n = evs[0][4]
        evs.sort(key=lambda e: e[1])
        ok = (len(evs) == n
              and all(e[0] == evs[0][0] for e in evs)
              and [e[3] for e in evs] == list(range(n))
              and all(evs[i][1] == evs[0][1] + i and evs[i][2] == evs[0][2] + i
                      for i in range(n))
              and all(e[5] == key for e in evs))
        if not ok:
            st.violation(where, "partial or scattered batch %s (n=%d): %r" % (key, n, evs))
    if streams is None:
        return
    st.batches_in_store = len(batches)
    for stream, (version, _) in model.items():
        row = streams.get(stream)
        if row is None:
            st.violation(where, "stream %s has %d events but no es_streams row"
                         % (stream, version))
        elif row[0] != version or row[1] != "active":
            st.violation(where, "stream %s: es_streams says version %d (%s), events 1..%d"
                         % (stream, row[0], row[1], version))
    for stream in streams:
        if stream not in model:
            st.violation(where, "es_streams row %s without events" % stream)
    if seqs and st.last_head < max(seqs):
        st.violation(where, "es_head() %d < max(seq) %d" % (st.last_head, max(seqs)))
    for key, ack in st.acks.items():
        evs = batches.get(key)
        if evs is None:
            st.violation(where, "acknowledged batch %s (%s@%d, %d events) is missing"
                         % (key, ack.stream, ack.version, ack.n))
            continue
        if (len(evs) != ack.n or evs[0][0] != ack.stream or evs[-1][1] != ack.version
                or [e[3] for e in evs] != list(range(ack.n))):
            st.violation(where, "acknowledged batch %s (%s@%d, %d events) stored as %r"
                         % (key, ack.stream, ack.version, ack.n,
                            [(e[0], e[1]) for e in evs]))


def run_phase(st, db, mode, kills, rnd, run0, max_delay):
    run = run0
    acks_before = len(st.acks)
    ready_waits = []
    for k in range(kills):
        run += 1
        where = "%s kill %d/%d run %d" % (mode, k + 1, kills, run)
        run_tries = {}
        pending = dict(st.pending)
        proc = spawn_writer(db, mode, run, 0, rnd.randrange(1 << 30), pending)
        t0 = time.monotonic()
        buf, eof, saw = pump(st, proc, b"", run_tries, where, deadline=t0 + 30)
        if "READY" not in saw:
            proc.kill()
            proc.wait()
            st.violation(where, "writer did not become ready (eof=%s, rc=%s)"
                         % (eof, proc.returncode))
            continue
        ready_waits.append(time.monotonic() - t0)
        delay = rnd.uniform(MIN_DELAY_S, max_delay)
        buf, eof, _ = pump(st, proc, buf, run_tries, where, deadline=time.monotonic() + delay)
        if eof:
            proc.wait()
            st.violation(where, "writer ended by itself before the kill, rc=%s"
                         % proc.returncode)
        else:
            os.kill(proc.pid, signal.SIGKILL)
            buf, eof, _ = pump(st, proc, buf, run_tries, where, deadline=None)
            rc = proc.wait()
            if rc != -signal.SIGKILL:
                st.violation(where, "writer exit status %s, expected SIGKILL" % rc)
        proc.stdout.close()
        # buf may hold a torn last line only if write() was interrupted; it was not acknowledged.
        for key, stream in run_tries.items():
            st.pending[key] = stream
        check_store(st, db, where, full=(k == kills - 1))
    return run, len(st.acks) - acks_before, ready_waits


def final_run(st, db, run, rnd, nbatches):
    where = "final run %d" % run
    run_tries = {}
    acks_before = len(st.acks)
    proc = spawn_writer(db, "FULL", run, nbatches, rnd.randrange(1 << 30), dict(st.pending))
    buf, eof, saw = pump(st, proc, b"", run_tries, where, deadline=None)
    rc = proc.wait()
    proc.stdout.close()
    if rc != 0 or "DONE" not in saw:
        st.violation(where, "final writer failed: rc=%s, done=%s" % (rc, "DONE" in saw))
    if run_tries:
        st.violation(where, "final writer left unacknowledged batches %r" % run_tries)
    if st.pending:
        st.violation(where, "batches sent but never acknowledged even after retry: %r"
                     % st.pending)
    check_store(st, db, where, full=True)
    return len(st.acks) - acks_before


MUTATIONS = [
    # (what, SQL run on a copy of a checked store with the append-only triggers dropped)
    ("last event of a batch lost", """
        DELETE FROM es_events WHERE seq = (SELECT max(seq) FROM es_events
                                           WHERE stream_id LIKE 'new-%' AND version > 1)"""),
    # (es_streams is a view over the events: it follows by itself, as an adjusted stream row
    # did in schema 2)
    ("acknowledged batch lost at the end of a hot stream", """
        DELETE FROM es_events WHERE idempotency_key = (SELECT idempotency_key FROM es_events
                                                       WHERE stream_id = 'hot-0'
                                                       ORDER BY version DESC LIMIT 1)"""),
    ("seq out of version order", """
        UPDATE es_events SET seq = (SELECT max(seq) + 1 FROM es_events)
        WHERE seq = (SELECT min(seq) FROM es_events WHERE stream_id = 'hot-1')"""),
    ("a stream marked tombstoned while its events are there", """
        INSERT INTO es_lifecycle(stream_id, state, version, created_at, updated_at)
        VALUES ('hot-2', 'tombstoned', 1, 0, 0)"""),
    ("a lifecycle row for a stream without events", """
        INSERT INTO es_lifecycle(stream_id, state, version, created_at, updated_at)
        VALUES ('ghost-1', 'archived', 3, 0, 0)"""),
    ("an index block lost", """
        DELETE FROM es_postings WHERE kind = 1 AND key = 'hot'
                                  AND last_seq = (SELECT min(last_seq) FROM es_postings
                                                  WHERE kind = 1 AND key = 'hot')"""),
    ("version gap", """
        UPDATE es_events SET version = version + 1
        WHERE stream_id = 'hot-3' AND version = (SELECT max(version) FROM es_events
                                                 WHERE stream_id = 'hot-3')"""),
]


def self_test(tmp):
    """The checks must not be vacuous: a clean store passes, each mutation is detected (by the
    per-kill checks alone, and by the full checks)."""
    db = os.path.join(tmp, "selftest.db")
    st = State()
    proc = spawn_writer(db, "FULL", 1, 150, 7, {})
    pump(st, proc, b"", {}, "self-test", deadline=None)
    if proc.wait() != 0:
        st.violation("self-test", "writer failed")
    check_store(st, db, "self-test clean", full=True)
    ok = not st.violations
    base = (dict(st.acks), dict(st.model), st.lo, st.count, st.last_head)
    detected = 0
    for what, sql in MUTATIONS:
        for full in (False, True):
            copy = os.path.join(tmp, "mutated.db")
            src = sqlite3.connect(db)
            dst = sqlite3.connect(copy)
            src.backup(dst)
            src.close()
            for (name,) in dst.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                       ).fetchall():
                dst.execute('DROP TRIGGER "%s"' % name)
            dst.executescript(sql)
            dst.commit()
            dst.close()
            m = State()
            m.acks, m.model, m.lo, m.count, m.last_head = (base[0], dict(base[1]), base[2],
                                                           base[3], base[4])
            sys.stdout = open(os.devnull, "w")
            try:
                check_store(m, copy, "mutation", full=full)
            finally:
                sys.stdout.close()
                sys.stdout = sys.__stdout__
            if m.violations:
                detected += 1
            else:
                ok = False
                print("crash_kill: self-test: mutation not detected (full=%s): %s" % (full, what))
            os.unlink(copy)
    print("crash_kill: self-test: clean store passes: %s, %d/%d mutations detected"
          % (not st.violations, detected, 2 * len(MUTATIONS)), flush=True)
    return ok


def parent_main():
    if not EXT:
        print("ES_EXT is not set", file=sys.stderr)
        return 2
    total = int(os.environ.get("ESKIT_CRASH_KILLS", "200"))
    seed = int(os.environ.get("ESKIT_CRASH_SEED", str(int(time.time() * 1000) % (1 << 31))))
    max_delay = float(os.environ.get("ESKIT_CRASH_MAX_DELAY_MS", "100")) / 1000.0
    final_batches = int(os.environ.get("ESKIT_CRASH_FINAL_BATCHES", "300"))
    kills = {"FULL": (total + 1) // 2, "NORMAL": total // 2}
    rnd = random.Random(seed)
    base = os.environ.get("ESKIT_CRASH_DIR")
    tmp = tempfile.mkdtemp(prefix="eskit-crash-", dir=base)
    db = os.path.join(tmp, "crash.db")
    print("crash_kill: seed %d, database %s, sqlite %s, %s" % (seed, db, sqlite3.sqlite_version,
                                                               EXT), flush=True)
    if not self_test(tmp):
        print("crash_kill: the self-test of the checks failed")
        return 1
    st = State()
    t_start = time.monotonic()
    run = 0
    for mode in ("FULL", "NORMAL"):
        t0 = time.monotonic()
        events0 = st.events_in_store
        run, acked, waits = run_phase(st, db, mode, kills[mode], rnd, run, max_delay)
        waits.sort()
        print("crash_kill: %-6s %d kills, %d batches acknowledged, store now %d events in %d "
              "batches (+%d), writer start-up median %.0f ms, %.1f s"
              % (mode, kills[mode], acked, st.events_in_store, st.batches_in_store,
                 st.events_in_store - events0,
                 1000 * waits[len(waits) // 2] if waits else 0, time.monotonic() - t0),
              flush=True)
    t0 = time.monotonic()
    final_acked = final_run(st, db, run + 1, rnd, final_batches)
    print("crash_kill: final writer ran to completion: %d batches acknowledged, %.1f s"
          % (final_acked, time.monotonic() - t0), flush=True)
    acked_events = sum(a.n for a in st.acks.values())
    print("crash_kill: %d batches acknowledged in all (%d events), %d conflicts retried, "
          "%d unacknowledged in-flight batches re-sent and answered exactly once (%d of them had "
          "been committed before the kill), %d store checks, "
          "%d event rows checked in all, head %d, %.1f s"
          % (len(st.acks), acked_events, st.conflicts, st.retried, st.retried_present, st.checks,
             st.rows_checked,
             st.last_head, time.monotonic() - t_start), flush=True)
    print("crash_kill: check time: integrity_check %.1f s, SQL checks %.1f s, python cross-check "
          "%.1f s (%d rows)" % (st.t_ic, st.t_sql, st.t_py, st.python_rows), flush=True)
    print("crash_kill: %d kills, %d events checked, %d violations"
          % (sum(kills.values()), st.events_in_store, len(st.violations)), flush=True)
    if st.violations:
        print("crash_kill: database kept for inspection: %s (seed %d)" % (db, seed))
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "writer":
        writer_main(sys.argv[2:])
    else:
        sys.exit(parent_main())
