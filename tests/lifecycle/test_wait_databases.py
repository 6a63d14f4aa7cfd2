#!/usr/bin/python3
"""es_wait on every database a connection can have (issue 9, "What must hold" 5).

huge_timeouts        timeout_ms = INT64_MAX and 10^13 wait (no overflow) and return as soon as
                     another process appends; a REAL 1e13 either does the same or is refused
                     with invalid_argument (never an immediate wrong answer)
deserialized         a store deserialized into a :memory: connection: the right head at once,
                     a 200 ms timeout honoured, its own appends seen; inside a transaction the
                     exact invalid_argument refusal
memdb_shared         "file:/name?vfs=memdb" shared by two connections of one process: wakes on
                     the other connection's append
memdb_lock_held      the same while another connection holds BEGIN IMMEDIATE (memdb keeps readers
                     out then): busy_timeout 0.2 s, es_wait(head, 3000) returns the new head when
                     the holder commits after 1 s; busy_timeout 10 s, es_wait(head, 500) returns
                     the head within its own timeout; inside a transaction it waits (a shared
                     memdb is watched through a connection of its own, like a file)
shared_cache         a caller opened with cache=shared, inside a transaction: es_wait sees another
                     process's commit (its connection of its own does not share the caller's
                     snapshot)
uri_and_vfs          a file opened by URI with parameters and vfs=unix-dotfile, under a path
                     that needs percent-encoding (space, '#', '%', '?'): wakes on another
                     process's append and reports that file's head
unix_none            vfs=unix-none: the right head, timeouts honoured
finding_unix_none_open_journal   vfs=unix-none while another process has a write transaction
                     with its rollback journal open: es_wait keeps waiting and returns the new
                     head, it does not fail with SQLite's bare "attempt to write a readonly
                     database" (the read-only side connection meeting a "hot" journal)
exclusive            locking_mode=EXCLUSIVE (WAL and rollback journal): a 100 ms timeout returns
                     promptly with the right head; a head already past returns at once
finding_lock_held    rollback journal, another process holds the write lock (BEGIN EXCLUSIVE):
                     with busy_timeout 1 s, es_wait(head, 5000) returns the new head when the
                     holder commits after 3 s (no bare "database is locked" after 1 s); with
                     busy_timeout 10 s, es_wait(head, 1000) returns within its own timeout;
                     es_wait(head, 0) returns at once; a connection whose first call is es_wait
                     (nothing read yet) keeps to its timeout too; the caller's busy timeout is
                     its own again afterwards
"""
import os
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _lc  # noqa: E402

APPEND = "SELECT es_append('w-%d', -1, '{\"type\":\"W\",\"data\":1}')"


def later(path, delay, uri=False, hold=0.0, exclusive=False, append=True):
    """Another process: after delay s opens path, optionally holds BEGIN EXCLUSIVE for hold s,
    appends one event (append=True) and commits."""
    code = """
import sqlite3, sys, time
time.sleep(%r)
c = sqlite3.connect(%r, isolation_level=None, timeout=30, uri=%r)
c.enable_load_extension(True)
c.load_extension(%r)
if %r:
    c.execute("BEGIN EXCLUSIVE")
    if %r:
        c.execute(%r)
    else:
        c.execute("CREATE TABLE IF NOT EXISTS lock_holder(x)")
        c.execute("INSERT INTO lock_holder VALUES (1)")
    time.sleep(%r)
    c.execute("COMMIT")
elif %r:
    c.execute(%r)

""" % (delay, path, uri, _lc.EXT, exclusive, append, APPEND % os.getpid(), hold, append,
       APPEND % os.getpid())
    return subprocess.Popen(["/usr/bin/python3", "-c", code])


def timed(conn, sql, args=()):
    t0 = time.monotonic()
    got = _lc.attempt(conn, sql, args)
    return got, time.monotonic() - t0


def new_store(path, wal=True, uri=False):
    c = _lc.connect(path, uri=uri, wal=wal)
    c.execute("SELECT es_init()")
    for i in range(3):
        c.execute(APPEND % i)
    return c


def huge_timeouts(t):
    tmp = _lc.TempDir("eskit-wait-huge-")
    c = new_store(tmp("w.db"))
    for timeout in (9223372036854775807, 10 ** 13):
        head = _lc.one(c, "SELECT es_head()")
        p = later(tmp("w.db"), 0.4)
        got, dt = timed(c, "SELECT es_wait(?, ?)", (head, timeout))
        p.wait()
        t.eq("huge: timeout %d returns the new head" % timeout, got, ("ok", [(head + 1,)]))
        t.check("huge: timeout %d waited for the append (%.2f s)" % (timeout, dt), 0.2 < dt < 5, "%.2f s" % dt)
    head = _lc.one(c, "SELECT es_head()")
    p = later(tmp("w.db"), 0.4)
    got, dt = timed(c, "SELECT es_wait(?, 1e13)", (head,))
    p.wait()
    t.check("huge: REAL 1e13 waits or is refused with invalid_argument",
            got == ("ok", [(head + 1,)]) and dt > 0.2 or (
                got[0] == "error" and got[2].startswith("invalid_argument: es_wait(): timeout_ms")),
            "%r after %.2f s" % (got, dt))
    c.close()
    tmp.cleanup()


def deserialized(t):
    tmp = _lc.TempDir("eskit-wait-deser-")
    src = new_store(tmp("src.db"), wal=False)
    head = _lc.one(src, "SELECT es_head()")
    image = src.serialize()
    src.close()
    other = new_store(tmp("other.db"))  # a file whose head differs
    for i in range(10):
        other.execute(APPEND % (100 + i))
    other.close()
    c = _lc.connect(":memory:", wal=False)
    c.deserialize(image)
    t.eq("deserialized: head", _lc.one(c, "SELECT es_head()"), head)
    got, dt = timed(c, "SELECT es_wait(?, 200)", (head,))
    t.eq("deserialized: a timeout returns the head", got, ("ok", [(head,)]))
    t.check("deserialized: 200 ms honoured (%.2f s)" % dt, 0.15 < dt < 1.5, "%.2f s" % dt)
    got, dt = timed(c, "SELECT es_wait(?, 5000)", (head - 1,))
    t.check("deserialized: a head already past returns at once", got == ("ok", [(head,)]) and dt < 0.5,
            "%r %.2f s" % (got, dt))
    c.execute(APPEND % 7)
    t.eq("deserialized: its own append is seen", _lc.attempt(c, "SELECT es_wait(?, 1000)", (head,)),
         ("ok", [(head + 1,)]))
    c.execute("BEGIN")
    t.error("deserialized: refused inside a transaction", c, "SELECT es_wait(0, 100)", (), "SQLITE_ERROR",
            "invalid_argument: es_wait(): cannot wait inside a transaction or a statement that reads "
            "tables on a database no second connection can see (in memory, memdb, or "
            "locking_mode=EXCLUSIVE), whose snapshot never shows new commits; call it in a SELECT of "
            "its own")
    c.execute("ROLLBACK")
    c.close()
    tmp.cleanup()


def memdb_shared(t):
    name = "file:/eskit-wait-memdb-%d?vfs=memdb" % os.getpid()
    a = _lc.connect(name, uri=True, wal=False, check_same_thread=False)
    a.execute("SELECT es_init()")
    head = _lc.one(a, "SELECT es_head()")

    def writer():
        time.sleep(0.3)
        b = _lc.connect(name, uri=True, wal=False, check_same_thread=False)
        b.execute(APPEND % 1)
        b.close()
    th = threading.Thread(target=writer)
    th.start()
    got, dt = timed(a, "SELECT es_wait(?, 5000)", (head,))
    th.join()
    t.eq("memdb: the other connection's append", got, ("ok", [(head + 1,)]))
    t.check("memdb: woke promptly (%.2f s)" % dt, dt < 2.0, "%.2f s" % dt)
    a.close()


def memdb_lock_held(t):
    name = "file:/eskit-wait-memdb-lock-%d?vfs=memdb" % os.getpid()
    keep = _lc.connect(name, uri=True, wal=False, check_same_thread=False)  # keeps the memdb alive
    keep.execute("SELECT es_init()")
    keep.execute(APPEND % 1)

    def holder(seconds, append, ready):
        h = _lc.connect(name, uri=True, wal=False, check_same_thread=False)
        h.execute("BEGIN IMMEDIATE")
        h.execute(APPEND % 2 if append else "CREATE TABLE IF NOT EXISTS lock_holder(x)")
        ready.set()
        time.sleep(seconds)
        h.execute("COMMIT")
        h.close()

    for busy, hold, append, timeout in ((0.2, 1.0, True, 3000), (10.0, 2.0, False, 500)):
        c = _lc.connect(name, uri=True, wal=False, timeout=busy, check_same_thread=False)
        head = _lc.one(c, "SELECT es_head()")
        ready = threading.Event()
        th = threading.Thread(target=holder, args=(hold, append, ready))
        th.start()
        ready.wait(5)
        got, dt = timed(c, "SELECT es_wait(?, ?)", (head, timeout))
        th.join()
        if append:
            t.check("memdb lock held 1 s, busy_timeout 0.2 s: es_wait(head, 3000) returns the new "
                    "head", got == ("ok", [(head + 1,)]) and dt < 2.5, "%r after %.2f s" % (got, dt))
        else:
            t.check("memdb lock held 2 s, busy_timeout 10 s: es_wait(head, 500) returns within its "
                    "timeout", got == ("ok", [(head,)]) and dt < 1.2, "%r after %.2f s" % (got, dt))
        c.close()
    keep.execute("BEGIN")
    head = _lc.one(keep, "SELECT es_head()")
    got, dt = timed(keep, "SELECT es_wait(?, 100)", (head,))
    t.check("memdb: watched like a file, so es_wait works inside a transaction too",
            got == ("ok", [(head,)]) and dt < 1.0, "%r after %.2f s" % (got, dt))
    keep.execute("COMMIT")
    keep.close()


def shared_cache(t):
    tmp = _lc.TempDir("eskit-wait-shared-")
    path = tmp("s.db")
    new_store(path).close()
    c = _lc.connect("file:%s?cache=shared" % path, uri=True)
    c.execute("BEGIN")
    head = _lc.one(c, "SELECT es_head()")
    p = later(path, 0.3)
    got, dt = timed(c, "SELECT es_wait(?, 3000)", (head,))
    p.wait()
    t.check("cache=shared, inside a transaction: the other process's append",
            got == ("ok", [(head + 1,)]) and dt < 2.0, "%r after %.2f s" % (got, dt))
    t.eq("cache=shared: the caller's snapshot is unchanged",
         _lc.one(c, "SELECT count(*) FROM es_events"), head)
    c.execute("COMMIT")
    c.close()
    tmp.cleanup()


def uri_and_vfs(t):
    tmp = _lc.TempDir("eskit-wait-uri-")
    d = os.path.join(tmp.path, "dir with space#and%percent?q")
    os.makedirs(d)
    path = os.path.join(d, "w.db")
    esc = path.replace("%", "%25").replace(" ", "%20").replace("#", "%23").replace("?", "%3F")
    uri = "file:%s?vfs=unix-dotfile&cache=private&psow=1" % esc
    c = new_store(uri, wal=False, uri=True)
    other = new_store(tmp("decoy.db"))  # another file with another head
    for i in range(5):
        other.execute(APPEND % (50 + i))
    other.close()
    t.eq("uri: the file was opened through unix-dotfile",
         _lc.one(c, "SELECT count(*) FROM pragma_database_list WHERE file = ?", (path,)), 1)
    head = _lc.one(c, "SELECT es_head()")
    t.eq("uri: head", head, 3)
    p = later(uri, 0.4, uri=True)
    got, dt = timed(c, "SELECT es_wait(?, 5000)", (head,))
    p.wait()
    t.eq("uri: woke on the other process's append to this file", got, ("ok", [(head + 1,)]))
    t.check("uri: promptly (%.2f s)" % dt, dt < 2.5, "%.2f s" % dt)
    got, dt = timed(c, "SELECT es_wait(?, 300)", (head + 1,))
    t.eq("uri: timeout returns this file's head", got, ("ok", [(head + 1,)]))
    t.check("uri: 300 ms honoured (%.2f s)" % dt, 0.25 < dt < 2.0, "%.2f s" % dt)
    c.close()
    tmp.cleanup()


def unix_none(t):
    tmp = _lc.TempDir("eskit-wait-none-")
    uri = "file:%s?vfs=unix-none" % tmp("n.db")
    c = new_store(uri, wal=False, uri=True)
    got, dt = timed(c, "SELECT es_wait(2, 1000)")
    t.check("unix-none: head already past", got == ("ok", [(3,)]) and dt < 0.5, "%r %.2f s" % (got, dt))
    got, dt = timed(c, "SELECT es_wait(3, 200)")
    t.check("unix-none: timeout", got == ("ok", [(3,)]) and 0.15 < dt < 1.5, "%r %.2f s" % (got, dt))
    c.close()
    tmp.cleanup()


def finding_unix_none_open_journal(t):
    tmp = _lc.TempDir("eskit-wait-none2-")
    uri = "file:%s?vfs=unix-none" % tmp("n.db")
    c = new_store(uri, wal=False, uri=True)
    c.close()
    c = _lc.connect(uri, uri=True, wal=False)
    p = later(uri, 0.2, uri=True, hold=1.5, exclusive=True)
    got, dt = timed(c, "SELECT es_wait(3, 6000)")
    p.wait()
    t.check("unix-none with another process's open journal: the new head, not an error",
            got == ("ok", [(4,)]), "%r after %.2f s" % (got, dt))
    c.close()
    tmp.cleanup()


def exclusive(t):
    tmp = _lc.TempDir("eskit-wait-excl-")
    for wal in (True, False):
        mode = "wal" if wal else "delete"
        c = new_store(tmp("x-%s.db" % mode), wal=wal)
        c.execute("PRAGMA locking_mode=EXCLUSIVE")
        c.execute(APPEND % 9)  # takes the exclusive lock
        head = _lc.one(c, "SELECT es_head()")
        got, dt = timed(c, "SELECT es_wait(?, 100)", (head,))
        t.eq("exclusive/%s: the right head" % mode, got, ("ok", [(head,)]))
        t.check("exclusive/%s: 100 ms timeout returns promptly (%.2f s)" % (mode, dt), 0.08 < dt < 0.6,
                "%.2f s" % dt)
        got, dt = timed(c, "SELECT es_wait(?, 100)", (head - 1,))
        t.check("exclusive/%s: a head already past at once" % mode, got == ("ok", [(head,)]) and dt < 0.08,
                "%r %.3f s" % (got, dt))
        c.close()
    tmp.cleanup()


def finding_lock_held(t):
    tmp = _lc.TempDir("eskit-wait-lock-")
    path = tmp("l.db")
    c = new_store(path, wal=False)
    c.close()
    # the case: busy timeout 1 s, es_wait 5 s, the lock held 3 s, then an append commits
    c = _lc.connect(path, wal=False, timeout=1.0)
    head = _lc.one(c, "SELECT es_head()")
    p = later(path, 0.0, hold=3.0, exclusive=True, append=True)
    time.sleep(0.5)
    got, dt = timed(c, "SELECT es_wait(?, 5000)", (head,))
    p.wait()
    t.check("lock held 3 s, busy_timeout 1 s: es_wait(head, 5000) returns the new head",
            got == ("ok", [(head + 1,)]), "%r after %.2f s" % (got, dt))
    c.close()
    # a lock held past the timeout: es_wait keeps to its own timeout
    c = _lc.connect(path, wal=False, timeout=10.0)
    head = _lc.one(c, "SELECT es_head()")
    p = later(path, 0.0, hold=4.0, exclusive=True, append=False)
    time.sleep(0.5)
    got, dt = timed(c, "SELECT es_wait(?, 1000)", (head,))
    t.check("lock held 4 s, busy_timeout 10 s: es_wait(head, 1000) returns within its timeout",
            got == ("ok", [(head,)]) and dt < 1.8, "%r after %.2f s" % (got, dt))
    got, dt = timed(c, "SELECT es_wait(?, 0)", (head,))
    t.check("lock held, busy_timeout 10 s: es_wait(head, 0) returns at once",
            got == ("ok", [(head,)]) and dt < 0.3, "%r after %.2f s" % (got, dt))
    # the caller's busy handler is untouched: its own read still waits for the holder
    got, dt = timed(c, "SELECT es_head()")
    t.check("lock held: the caller's own read still waits out the lock with its busy timeout",
            got == ("ok", [(head,)]) and dt > 1.0, "%r after %.2f s" % (got, dt))
    p.wait()
    c.close()
    # a connection that has read nothing yet (no schema loaded, no statement prepared)
    p = later(path, 0.0, hold=3.0, exclusive=True, append=False)
    time.sleep(0.5)
    c = _lc.connect(path, wal=False, timeout=10.0)
    got, dt = timed(c, "SELECT es_wait(?, 500)", (head,))
    t.check("lock held, es_wait the first call of a connection: returns within its timeout",
            got == ("ok", [(head,)]) and dt < 1.2, "%r after %.2f s" % (got, dt))
    p.wait()
    c.close()
    tmp.cleanup()


def main():
    t = _lc.Failures("wait_databases")
    for fn in (huge_timeouts, deserialized, memdb_shared, memdb_lock_held, shared_cache, uri_and_vfs,
               unix_none, exclusive, finding_lock_held, finding_unix_none_open_journal):
        t.run(fn)
    t.finish()


if __name__ == "__main__":
    main()
