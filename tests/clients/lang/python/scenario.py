"""The client scenario of issue 12, in Python (Debian's python3, the eskit wheel in a venv).

The same steps, with the same values, run in every language (tests/clients/lang/*/):
  1. order-1 gets OrderPlaced + ItemAdded(qty 2) at expected version 0 -> version 2.
  2. A rival connection appends ItemAdded(qty 1) at 2 -> 3; our OrderPaid at the stale
     expected version 2 hits `conflict`, re-reads, and lands at 4 on the second attempt.
  3. es_stream('order-1') reads back versions 1-4 with their types and quantities.
  4. The projection fills order_items (items per order) from es_all and moves the checkpoint
     with es_checkpoint's compare-and-set in the same transaction: 4 events, {order-1: 3},
     checkpoint 4; a second run applies 0; a stale compare-and-set is refused and rolled back.
  5. A second process appends OrderPlaced + ItemAdded(qty 5) to order-2 while we wait with
     es_wait: the loop picks up head 6; the projection then shows {order-1: 3, order-2: 5}.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

import eskit


# snippet: python-core
def open_store(path):
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)  # autocommit, busy timeout
    eskit.load(conn)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def append_with_retry(conn, stream, expected, events, attempts=5):
    """es_append; on `conflict` re-read the stream's version and try again.
    Returns (version, attempt)."""
    for attempt in range(1, attempts + 1):
        try:
            version = conn.execute("SELECT es_append(?, ?, ?)",
                                   (stream, expected, json.dumps(events))).fetchone()[0]
            return version, attempt
        except sqlite3.IntegrityError as e:
            if eskit.code(e) != "conflict" or attempt == attempts:
                raise
            # Someone else appended first: look at the stream again (and re-decide).
            expected = conn.execute("SELECT coalesce(max(version), 0) FROM es_stream(?)",
                                    (stream,)).fetchone()[0]


def project(conn):
    """Applies the events after the checkpoint to order_items, exactly once."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        pos = conn.execute("SELECT es_checkpoint('order_items')").fetchone()[0]
        rows = conn.execute("SELECT seq, stream_id, type, data FROM es_all(?) LIMIT 500",
                            (pos,)).fetchall()
        for seq, stream, type_, data in rows:
            if type_ == "ItemAdded":
                conn.execute("INSERT INTO order_items(order_id, items) VALUES (?, ?) "
                             "ON CONFLICT(order_id) DO UPDATE SET items = items + excluded.items",
                             (stream, json.loads(data)["qty"]))
        if rows:  # compare-and-set: fails with `conflict` if another projector moved it
            conn.execute("SELECT es_checkpoint('order_items', ?, ?)", (pos, rows[-1][0]))
        conn.execute("COMMIT")
        return len(rows)
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def wait_for_events(conn, after, timeout_s=10):
    """Blocks until an event after `after` is committed, by any process; returns the head."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        head = conn.execute("SELECT es_wait(?, 1000)", (after,)).fetchone()[0]
        if head > after:
            return head
    raise TimeoutError("no event after %d" % after)
# end snippet


# The second process of step 5: the same venv's python, appending to the same file.
WRITER = """
import sqlite3, sys, time
import eskit
time.sleep(0.2)  # let the parent start waiting first
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
eskit.load(conn)
print(conn.execute("SELECT es_append('order-2', 0, ?)", (sys.argv[2],)).fetchone()[0])
"""


def ev(type_, **data):
    return {"type": type_, "data": data}


class Scenario(unittest.TestCase):
    def test_scenario(self):
        # The module comes from the installed wheel, not from a source tree.
        self.assertTrue(os.path.isfile(eskit.path()), eskit.path())
        self.assertTrue(eskit.__file__.startswith(sys.prefix), eskit.__file__)
        tmp = tempfile.mkdtemp(prefix="eskit-py-scenario-")
        path = os.path.join(tmp, "store.db")
        conn = open_store(path)
        self.assertEqual(conn.execute("PRAGMA journal_mode").fetchone()[0], "wal")
        conn.execute("CREATE TABLE order_items(order_id TEXT PRIMARY KEY, items INTEGER NOT NULL)")

        # 1-2: append, a rival, the retry.
        v, _ = append_with_retry(conn, "order-1", 0,
                                 [ev("OrderPlaced", total=2500), ev("ItemAdded", sku="A-1", qty=2)])
        self.assertEqual(v, 2)
        rival = open_store(path)
        self.assertEqual(rival.execute("SELECT es_append('order-1', 2, ?)",
                                       (json.dumps(ev("ItemAdded", sku="B-7", qty=1)),)).fetchone()[0], 3)
        rival.close()
        with self.assertRaises(sqlite3.IntegrityError) as cm:
            conn.execute("SELECT es_append('order-1', 2, ?)", (json.dumps(ev("OrderPaid")),))
        self.assertEqual(eskit.code(cm.exception), "conflict")
        self.assertEqual(append_with_retry(conn, "order-1", 2, [ev("OrderPaid", amount=2500)]), (4, 2))

        # 3: read the stream.
        rows = conn.execute("SELECT version, type, json_extract(data, '$.qty') "
                            "FROM es_stream('order-1')").fetchall()
        self.assertEqual(rows, [(1, "OrderPlaced", None), (2, "ItemAdded", 2),
                                (3, "ItemAdded", 1), (4, "OrderPaid", None)])

        # 4: the projection, exactly once.
        self.assertEqual(project(conn), 4)
        self.assertEqual(project(conn), 0)
        items = "SELECT order_id, items FROM order_items ORDER BY order_id"
        self.assertEqual(conn.execute(items).fetchall(), [("order-1", 3)])
        self.assertEqual(conn.execute("SELECT es_checkpoint('order_items')").fetchone()[0], 4)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE order_items SET items = 99")
        with self.assertRaises(sqlite3.IntegrityError) as cm:
            conn.execute("SELECT es_checkpoint('order_items', 0, 4)")  # a projector that is behind
        self.assertEqual(eskit.code(cm.exception), "conflict")
        conn.execute("ROLLBACK")
        self.assertEqual(conn.execute(items).fetchall(), [("order-1", 3)])

        # 5: a second process appends while we wait.
        head = conn.execute("SELECT es_head()").fetchone()[0]
        self.assertEqual(head, 4)
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, path,
             json.dumps([ev("OrderPlaced", total=900), ev("ItemAdded", sku="C-3", qty=5)])],
            stdout=subprocess.PIPE, text=True)
        self.assertEqual(wait_for_events(conn, head), 6)
        out, _ = writer.communicate(timeout=30)
        self.assertEqual((writer.returncode, out.strip()), (0, "2"))
        self.assertEqual(project(conn), 2)
        self.assertEqual(conn.execute(items).fetchall(), [("order-1", 3), ("order-2", 5)])
        self.assertEqual(conn.execute("SELECT es_checkpoint('order_items')").fetchone()[0], 6)
        conn.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
