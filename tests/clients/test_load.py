#!/usr/bin/env python3
"""Load: 8 writer processes, 4 readers paging es_all, 2 es_wait listeners on one WAL file.

For a fixed duration (ESKIT_LOAD_SECONDS, default 8) the writers append single events and small
batches to their own streams and to a shared hot stream (expected version read first, retried
on conflict); the readers page `es_all(checkpoint) LIMIT 100` like a subscription; the
listeners loop on es_wait. Afterwards the parent checks that

  * no process ever saw SQLITE_BUSY (or any error other than an expected conflict),
  * every acknowledged append is present exactly once, versions contiguous per stream,
  * every reader saw every event exactly once, in seq order (nothing missed or repeated),
  * the listeners' heads never went backwards and ended at the final head,
  * memory stayed flat: each process reports its peak RSS after warm-up and at the end.

Run: ES_EXT=/path/to/eskit.so /usr/bin/python3 tests/clients/test_load.py
"""
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eskit_client import EXT, connect, one  # noqa: E402

SECONDS = float(os.environ.get("ESKIT_LOAD_SECONDS", "8"))
WRITERS, READERS, LISTENERS = 8, 4, 2
FIGURES = {}


def rss_kb():
    """Peak resident set size so far (VmHWM), in kB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def busy(e):
    return "locked" in str(e) or "busy" in str(e).lower() or \
        getattr(e, "sqlite_errorname", "").startswith("SQLITE_BUSY")


def writer(path, out, idx, deadline):
    c = connect(path)
    rng = random.Random(idx)
    acked, errors, conflicts = [], [], 0
    own = "w%d-1" % idx
    version = 0
    start_rss = None
    n = 0
    while time.time() < deadline:
        n += 1
        if n == 50:
            start_rss = rss_kb()
        k = rng.randint(1, 4)
        ids = ["w%d-%d-%d" % (idx, n, i) for i in range(k)]
        events = json.dumps([{"type": "T%d" % rng.randint(1, 3), "data": {"n": n, "i": i},
                              "id": ids[i]} for i in range(k)])
        try:
            if rng.random() < 0.3:  # the hot stream: read, then append with that version
                while True:
                    v = one(c, "SELECT coalesce((SELECT version FROM es_streams "
                               "WHERE stream_id = 'hot-1'), 0)")
                    try:
                        got = one(c, "SELECT es_append('hot-1', ?, ?)", (v, events))
                        acked.append(["hot-1", got, ids])
                        break
                    except sqlite3.IntegrityError as e:
                        if not str(e).startswith("conflict:"):
                            raise
                        conflicts += 1
            else:
                got = one(c, "SELECT es_append(?, ?, ?)", (own, version, events))
                version = got
                acked.append([own, got, ids])
        except sqlite3.Error as e:
            errors.append("%s: %s" % (getattr(e, "sqlite_errorname", "?"), e))
    end_rss = rss_kb()
    c.close()
    with open(out, "w") as f:
        json.dump({"acked": acked, "errors": errors, "conflicts": conflicts,
                   "rss": [start_rss or end_rss, end_rss]}, f)


def reader(path, out, deadline):
    c = connect(path)
    seen, errors = [], []
    after = 0
    start_rss = None
    pages = 0
    while True:
        try:
            rows = c.execute("SELECT seq FROM es_all(?) LIMIT 100", (after,)).fetchall()
        except sqlite3.Error as e:
            errors.append("%s: %s" % (getattr(e, "sqlite_errorname", "?"), e))
            rows = []
        pages += 1
        if pages == 50:
            start_rss = rss_kb()
        for (seq,) in rows:
            seen.append(seq)
            after = seq
        if not rows:
            if time.time() > deadline + 1.0:  # writers are done: one more empty page ends it
                break
            time.sleep(0.002)
    end_rss = rss_kb()
    c.close()
    with open(out, "w") as f:
        json.dump({"seen": seen, "errors": errors, "rss": [start_rss or end_rss, end_rss]}, f)


def listener(path, out, deadline):
    c = connect(path)
    heads, errors = [], []
    last = 0
    start_rss = None
    while time.time() < deadline + 1.0:
        try:
            h = one(c, "SELECT es_wait(?, 200)", (last,))
        except sqlite3.Error as e:
            errors.append("%s: %s" % (getattr(e, "sqlite_errorname", "?"), e))
            continue
        heads.append(h)
        if len(heads) == 50:
            start_rss = rss_kb()
        last = max(last, h)
    end_rss = rss_kb()
    c.close()
    with open(out, "w") as f:
        json.dump({"heads": heads, "errors": errors, "rss": [start_rss or end_rss, end_rss]}, f)


class TestLoad(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="eskit-load-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.path = os.path.join(self.tmp, "store.db")
        c = connect(self.path)
        one(c, "SELECT es_init()")
        c.close()

    def test_writers_readers_listeners(self):
        deadline = time.time() + 1.0 + SECONDS
        procs = []
        for role, count in (("writer", WRITERS), ("reader", READERS), ("listener", LISTENERS)):
            for i in range(count):
                out = os.path.join(self.tmp, "%s-%d.json" % (role, i))
                procs.append((role, out, subprocess.Popen(
                    [sys.executable, os.path.abspath(__file__), role, self.path, out, str(i),
                     repr(deadline)])))
        for role, out, p in procs:
            p.wait(timeout=SECONDS + 120)
            self.assertEqual(p.returncode, 0, "%s process failed" % role)
        results = {}
        for role, out, p in procs:
            with open(out) as f:
                results.setdefault(role, []).append(json.load(f))

        c = connect(self.path)
        all_rows = c.execute("SELECT seq, stream_id, version, event_id FROM es_events "
                             "ORDER BY seq").fetchall()
        head = one(c, "SELECT es_head()")
        self.assertEqual(one(c, "PRAGMA integrity_check"), "ok")
        all_seqs = [r[0] for r in all_rows]

        # No errors anywhere (conflicts on the hot stream are retried, not errors).
        for role, rs in results.items():
            for r in rs:
                self.assertEqual(r["errors"], [], "%s saw errors" % role)

        # Every acknowledged append exactly once, at the versions it returned.
        by_id = {}
        for seq, stream, version, event_id in all_rows:
            self.assertNotIn(event_id, by_id)
            by_id[event_id] = (stream, version)
        acked_events = 0
        for w in results["writer"]:
            for stream, got, ids in w["acked"]:
                for i, event_id in enumerate(ids):
                    self.assertEqual(by_id.get(event_id),
                                     (stream, got - len(ids) + 1 + i), event_id)
                    acked_events += 1
        self.assertEqual(acked_events, len(all_rows), "unacknowledged events in the store")
        streams = {}
        for seq, stream, version, _ in all_rows:
            streams.setdefault(stream, []).append(version)
        for stream, versions in streams.items():
            self.assertEqual(versions, list(range(1, len(versions) + 1)), stream)

        # Readers: every event exactly once, in seq order.
        for r in results["reader"]:
            self.assertEqual(r["seen"], all_seqs, "a reader missed or repeated events")
        # Listeners: heads never decrease and end at the final head.
        for r in results["listener"]:
            self.assertEqual(r["heads"], sorted(r["heads"]))
            self.assertEqual(r["heads"][-1], head)

        # Memory stays flat: no process grew by more than 8 MB after its warm-up. (Not under
        # AddressSanitizer, whose quarantine keeps freed memory on purpose.)
        rss = [(role, r["rss"]) for role, rs in results.items() for r in rs]
        if "libasan" not in os.environ.get("LD_PRELOAD", ""):
            for role, (start, end) in rss:
                self.assertLess(end - start, 8 * 1024, "%s RSS grew from %d to %d kB" %
                                (role, start, end))
        conflicts = sum(w["conflicts"] for w in results["writer"])
        self.assertGreater(conflicts, 0, "the hot stream saw no conflicts")
        FIGURES.update({
            "seconds": SECONDS, "writers": WRITERS, "readers": READERS, "listeners": LISTENERS,
            "appends": sum(len(w["acked"]) for w in results["writer"]),
            "events": len(all_rows), "conflicts_retried": conflicts, "busy": 0,
            "events_read": sum(len(r["seen"]) for r in results["reader"]),
            "wakeups": sum(len(r["heads"]) for r in results["listener"]),
            "rss_kb_start_end": ";".join("%s=%d->%d" % (role, s, e) for role, (s, e) in rss[:1] +
                                         rss[WRITERS:WRITERS + 1] + rss[-1:]),
            "max_rss_growth_kb": max(e - s for _, (s, e) in rss),
        })


def main():
    if len(sys.argv) == 6 and sys.argv[1] in ("writer", "reader", "listener"):
        role, path, out, idx, deadline = sys.argv[1:]
        if role == "writer":
            writer(path, out, int(idx), float(deadline))
        elif role == "reader":
            reader(path, out, float(deadline))
        else:
            listener(path, out, float(deadline))
        return 0
    if not EXT:
        print("ES_EXT is not set", file=sys.stderr)
        return 2
    result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
    failed = len(result.failures) + len(result.errors)
    print("test_load: %d run, %d failed; %s" % (
        result.testsRun, failed, ", ".join("%s=%s" % kv for kv in FIGURES.items())))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
