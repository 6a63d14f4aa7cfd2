"""Hostile strings from Python: values bound as parameters (so NUL bytes inside a str reach
eskit intact), round-trips through es_stream / es_all / es_status / es_checkpoint / the
tombstone reason, NUL and oversize refusals with exact codes, hostile ATTACH names, and proof
that no refused call changed the database (fingerprint of schema and all rows)."""
import json
import os
import sqlite3
import tempfile

from _hostile import Failures, connect, expect_error, fingerprint, one

HOSTILE = [
    "it's",
    'say "hi"',
    "'); DROP TABLE es_events; --",
    '"); DROP TABLE es_events; --',
    '"]`x`[',
    "%s%n%Q%q%w%z%.*c%99999999d%",
    "C:\\temp\\new\\\\x00\\",
    "ünï-cødé ✓ 🎉 \u202ertl \U0001F600",
    "a\nb\tc\rd\x01e\x7f",
    "x" * 1024,
    "ä" * 512,  # 1024 bytes, 512 characters
]
NUL = ["a\x00b", "\x00", "tail\x00", "\x00\x00"]


def test_roundtrip(t):
    with tempfile.TemporaryDirectory() as d:
        c = connect(os.path.join(d, "h.db"))
        c.execute("CREATE TABLE sentinel(x)")
        c.execute("INSERT INTO sentinel VALUES ('untouched')")
        for i, v in enumerate(HOSTILE):
            eid = "id:" + v if len(v.encode()) <= 1000 else "id:%d" % i
            n = one(c, "SELECT es_append(?, 0, ?, ?)", (v, json.dumps(
                [{"type": v, "data": {"v": v}, "id": eid, "codec": "json",
                  "metadata": {v: v}}]), json.dumps({"idempotency_key": v, "timestamp": 7})))
            t.check("append %d" % i, n == 1, repr(n))
            rows = c.execute("SELECT stream_id, type, data, metadata, event_id, idempotency_key, "
                             "category FROM es_stream(?)", (v,)).fetchall()
            t.check("es_stream %d" % i, len(rows) == 1 and rows[0][0] == v and rows[0][1] == v
                    and json.loads(rows[0][2]) == {"v": v} and json.loads(rows[0][3]) == {v: v}
                    and rows[0][4] == eid and rows[0][5] == v
                    and rows[0][6] == v.split("-", 1)[0], repr(rows)[:200])
            allrows = c.execute("SELECT stream_id, type FROM es_all() WHERE stream_id = ?", (v,)).fetchall()
            t.check("es_all %d" % i, allrows == [(v, v)], repr(allrows)[:200])
            bytype = c.execute("SELECT count(*) FROM es_all() WHERE type = ?", (v,)).fetchone()[0]
            t.check("es_all type %d" % i, bytype == 1, bytype)
            t.check("es_status %d" % i, one(c, "SELECT es_status(?)", (v,)) == "active")
            t.check("replay key %d" % i, one(c, "SELECT es_append(?, 0, '[]', ?)",
                                             (v, json.dumps({"idempotency_key": v}))) == 1)
            t.check("checkpoint set %d" % i, one(c, "SELECT es_checkpoint(?, ?)", (v, i + 1)) == i + 1)
            t.check("checkpoint get %d" % i, one(c, "SELECT es_checkpoint(?)", (v,)) == i + 1)
            t.check("checkpoint row %d" % i, c.execute(
                "SELECT consumer FROM es_checkpoints WHERE seq = ?", (i + 1,)).fetchall() == [(v,)])
            expect_error(t, "conflict %d" % i, c, "SELECT es_append(?, 0, '{\"type\":\"T\",\"data\":1}')",
                         (v,), "SQLITE_CONSTRAINT",
                         "conflict: stream %s is at version 1, expected 0" % ("'" + v.replace("'", "''") + "'"))
            t.check("snapshot %d" % i, one(c, "SELECT es_snapshot_save(?, 1, ?, 2, ?)",
                                           (v, v.encode(), v)) == 1)
            t.check("snapshot row %d" % i, c.execute(
                "SELECT codec, state FROM es_snapshots WHERE stream_id = ?", (v,)).fetchall()
                == [(v, v.encode())])
        # tombstone reasons, NUL bytes included (a reason is free text)
        for i, v in enumerate(HOSTILE + NUL + ["R" * (1 << 20)]):
            s = "r-%d" % i
            c.execute("SELECT es_append(?, 0, '{\"type\":\"T\",\"data\":1}')", (s,))
            t.check("tombstone %d" % i, one(c, "SELECT es_tombstone(?, ?)", (s, v)) == 1)
            t.check("reason %d" % i, one(c, "SELECT tombstone_reason FROM es_streams WHERE stream_id = ?",
                                         (s,)) == v)
            t.check("status tombstoned %d" % i, one(c, "SELECT es_status(?)", (s,)) == "tombstoned")
            if "\x00" not in v:
                expect_error(t, "tombstoned message %d" % i, c,
                             "SELECT es_append(?, -1, '{\"type\":\"T\",\"data\":1}')", (s,),
                             "SQLITE_CONSTRAINT", "tombstoned: stream '%s' is tombstoned (reason: '%s')"
                             % (s, v.replace("'", "''")))
        before, tables = fingerprint(c)

        # refusals: nothing may change
        for i, v in enumerate(NUL):
            for fn, sql, args in [
                    ("es_append", "SELECT es_append(?, 0, '{\"type\":\"T\",\"data\":1}')", (v,)),
                    ("es_status", "SELECT es_status(?)", (v,)),
                    ("es_tombstone", "SELECT es_tombstone(?, 'r')", (v,)),
                    ("es_delete", "SELECT es_delete(?)", (v,)),
                    ("es_archive", "SELECT es_archive(?)", (v,)),
                    ("es_restore", "SELECT es_restore(?)", (v,)),
                    ("es_snapshot_save", "SELECT es_snapshot_save(?, 1, '{}')", (v,)),
                    ("es_snapshot_invalidate", "SELECT es_snapshot_invalidate(?)", (v,)),
                    ("es_stream", "SELECT * FROM es_stream(?)", (v,))]:
                name = fn + ("" if fn == "es_stream" else "()")
                expect_error(t, "NUL %s %d" % (fn, i), c, sql, args, "SQLITE_ERROR",
                             "invalid_argument: %s: stream_id must not contain NUL bytes" % name)
            for sql in ["SELECT es_checkpoint(?)", "SELECT es_checkpoint(?, 5)", "SELECT es_checkpoint(?, 0, 5)"]:
                expect_error(t, "NUL consumer %d %s" % (i, sql), c, sql, (v,), "SQLITE_ERROR",
                             "invalid_argument: es_checkpoint(): consumer must not contain NUL bytes")
            for key in ("type", "codec", "id"):
                ev = {"type": "T", "data": "AA==" if key == "codec" else 1}
                ev[key] = v
                expect_error(t, "NUL %s %d" % (key, i), c, "SELECT es_append('ok', 0, ?)", (json.dumps(ev),),
                             "SQLITE_ERROR",
                             "invalid_argument: es_append(): events[0].%s must not contain NUL bytes" % key)
            expect_error(t, "NUL key %d" % i, c, "SELECT es_append('ok', 0, '{\"type\":\"T\",\"data\":1}', ?)",
                         (json.dumps({"idempotency_key": v}),), "SQLITE_ERROR",
                         "invalid_argument: es_append(): option idempotency_key must be a non-empty "
                         "string without NUL bytes, got %s" % json.dumps(v))
            expect_error(t, "NUL schema %d" % i, c, "SELECT es_archive('r-0', ?)", ("cold" + v,),
                         "SQLITE_ERROR", lambda m: m.startswith(
                             "invalid_argument: es_archive(): no attached database named 'cold"))
        for v, what in [("s" * 1025, "stream_id is 1025 bytes"), ("ä" * 513, "stream_id is 1026 bytes"),
                        ("s" * (1 << 20), "stream_id is 1048576 bytes")]:
            expect_error(t, "TOOBIG " + what, c, "SELECT es_append(?, 0, '{\"type\":\"T\",\"data\":1}')",
                         (v,), "SQLITE_TOOBIG", "invalid_argument: es_append(): %s, maximum 1024" % what)
            expect_error(t, "TOOBIG status " + what, c, "SELECT es_status(?)", (v,), "SQLITE_TOOBIG",
                         "invalid_argument: es_status(): %s, maximum 1024" % what)
            expect_error(t, "TOOBIG consumer " + what, c, "SELECT es_checkpoint(?, 1)", (v,), "SQLITE_TOOBIG",
                         "invalid_argument: es_checkpoint(): %s, maximum 1024" % what.replace("stream_id", "consumer"))
        for key in ("type", "codec", "id"):
            ev = {"type": "T", "data": "AA==" if key == "codec" else 1, key: "k" * 1025}
            expect_error(t, "TOOBIG %s" % key, c, "SELECT es_append('ok', 0, ?)", (json.dumps(ev),),
                         "SQLITE_TOOBIG",
                         "invalid_argument: es_append(): events[0].%s is 1025 bytes, maximum 1024" % key)
        expect_error(t, "blob id", c, "SELECT es_append(?, 0, '[]')", (b"abc",), "SQLITE_ERROR",
                     "invalid_argument: es_append(): stream_id must be text, got a 3-byte blob")
        after, tables_after = fingerprint(c)
        t.check("nothing changed by refusals", before == after)
        t.check("no extra tables", tables == tables_after, repr(tables_after))
        t.check("sentinel", one(c, "SELECT x FROM sentinel") == "untouched")
        t.check("integrity", one(c, "PRAGMA integrity_check") == "ok")
        c.close()


# The tables of a schema 3 store (es_streams is a view over es_events and es_lifecycle).
V3_TABLES = sorted(["es_checkpoints", "es_cleanups", "es_event_ids", "es_events", "es_lifecycle",
                    "es_meta", "es_postings", "es_reserved_ids", "es_snapshots"])


def test_schemas(t):
    names = ['we"ird; DROP', "it's", 'x"; DROP TABLE main.es_events; --', "x'); DROP TABLE es_events; --",
             "%s%n%Q", "a]b`c", "ünï 🎉", "n" * 2000]
    with tempfile.TemporaryDirectory() as d:
        c = connect(os.path.join(d, "main.db"))
        for i, name in enumerate(names):
            s = "s-%d" % i
            c.execute("ATTACH ? AS \"%s\"" % name.replace('"', '""'), (os.path.join(d, "a%d.db" % i),))
            c.execute("SELECT es_append(?, 0, ?, '{\"timestamp\":5}')", (s, json.dumps(
                [{"type": "A", "data": {"i": i}, "id": s + "-a"}, {"type": "B", "data": 2, "id": s + "-b"}])))
            rows = c.execute("SELECT * FROM es_events WHERE stream_id = ?", (s,)).fetchall()
            main_before = c.execute("SELECT * FROM main.sqlite_schema ORDER BY name").fetchall()
            t.check("archive %d" % i, one(c, "SELECT es_archive(?, ?)", (s, name)) == 2)
            q = '"' + name.replace('"', '""') + '"'
            t.check("moved %d" % i, c.execute("SELECT * FROM %s.es_events" % q).fetchall() == rows)
            t.check("archived_to %d" % i, one(c, "SELECT archived_to FROM es_streams WHERE stream_id = ?", (s,)) == name)
            # Main recorded the archive by its identity (and the alias, byte for byte).
            t.check("recorded %d" % i, c.execute(
                "SELECT archive_store = (SELECT value FROM %s.es_meta WHERE key = 'store_id'), "
                "archive_alias = ?, archive_store <> (SELECT value FROM main.es_meta WHERE key = "
                "'store_id') FROM es_lifecycle WHERE stream_id = ?" % q, (name, s)).fetchone()
                == (1, 1, 1))
            expect_error(t, "read archived %d" % i, c, "SELECT * FROM es_stream(?)", (s,), "SQLITE_CONSTRAINT",
                         lambda m, name=name, s=s, q=q: m == "archived: stream '%s' was moved to archive database "
                         "'%s'; read it from %s.es_events or es_restore('%s', '%s')"
                         % (s, name.replace("'", "''"), q, s, name.replace("'", "''")))
            t.check("restore %d" % i, one(c, "SELECT es_restore(?, ?)", (s, name)) == 2)
            t.check("back %d" % i, c.execute("SELECT * FROM es_events WHERE stream_id = ?", (s,)).fetchall() == rows)
            t.check("archive empty %d" % i, one(c, "SELECT count(*) FROM %s.es_events" % q) == 0)
            t.check("main schema as before %d" % i,
                    c.execute("SELECT * FROM main.sqlite_schema ORDER BY name").fetchall() == main_before)
            t.check("archive integrity %d" % i, one(c, "PRAGMA %s.integrity_check" % q) == "ok")
            t.check("archive tables %d" % i, sorted(fingerprint(c, name)[1]) == V3_TABLES,
                    repr(fingerprint(c, name)[1]))
            t.check("archive es_streams view %d" % i, one(
                c, "SELECT type FROM %s.sqlite_schema WHERE name = 'es_streams'" % q) == "view")
            c.execute("DETACH \"%s\"" % name.replace('"', '""'))
        t.check("main tables", sorted(fingerprint(c)[1]) == V3_TABLES, repr(fingerprint(c)[1]))
        t.check("main integrity", one(c, "PRAGMA integrity_check") == "ok")
        t.check("main events", one(c, "SELECT count(*) FROM es_events") == 2 * len(names))


if __name__ == "__main__":
    t = Failures()
    for f in (test_roundtrip, test_schemas):
        t.run(f)
    t.finish()
