/*
** Schema upgrades to version 3 (sql/schema/002_writer_function.sql, 003_schema3.sql and the
** runner in ext/schema.cpp), on real files in WAL mode.
**
** The stores are those of upgrade_fixture.h: a version 1 and a version 2 store with data, built
** with plain SQLite as those versions of eskit wrote them (several streams, caller and
** generated-looking ids, idempotency keys, metadata, a BLOB of another codec, a stream archived
** in place, two tombstoned ones with the head above max(seq), one moved to the attached archive
** "cold", snapshots, checkpoints, the user's index, view and trigger on es_events).
**
** What is checked:
**   * es_init(), and separately the first write, upgrades each to version 3 in one transaction
**     (one commit) and keeps everything: events, snapshots, checkpoints (full rows), the head,
**     es_streams (full rows, now from the view), the user's objects (and they keep working);
**     category, type and event-id reads answer right away (the upgrade folded every event);
**     AUTOINCREMENT is gone and a seq is still never reused; a failed first write upgrades
**     nothing; inside the caller's transaction the upgrade commits or rolls back with it; a
**     connection in defensive mode upgrades too (keeping the keyword);
**   * the stream a version 2 store moved to "cold" comes back with es_restore(s, 'cold'), which
**     upgrades the archive; a version 3 move there and back works after that;
**   * connections without eskit cannot write any eskit table ("no such function: ..."), while
**     reads and integrity_check work; with eskit, direct writes get the triggers' messages;
**   * an upgraded v1 store, an upgraded v2 store and a fresh version 3 store have the same schema
**     objects, and answer a fixed list of queries alike after the same calls;
**   * a user object that uses the dropped category column stops the upgrade with SQLite's
**     message, and nothing changes.
** Crash safety (faults, interrupts, SIGKILL) is in test_upgrade_crash.cpp.
**
** Regression tests for what this suite found in the upgrade (each says why in its comment): a
** user view over es_streams; ids of a stream a version 2 store moved, taken again before its
** restore; reads of a store not upgraded yet; es_init after the newest events were deleted;
** a refused es_restore from an older archive; an error while removing AUTOINCREMENT
** (test_upgrade_crash.cpp).
*/
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "eskit.h"
#include "upgrade_fixture.h"

using namespace upgrade_test;

namespace {

// es_events' columns that every version has (version 1 and 2 also had category).
const std::string kEventCols =
    "seq, stream_id, version, type, quote(data), metadata, codec, schema_version, event_id, "
    "idempotency_key, created_at";

// What the tests compare across an upgrade, read with plain SQL.
struct Content {
    std::string events, snapshots, checkpoints, streams, user_log, user_totals;
};

Content content(sqlite3* db, const std::string& schema = "main") {
    const std::string s = "\"" + schema + "\".";
    Content c;
    c.events = run(db, "SELECT " + kEventCols + " FROM " + s + "es_events ORDER BY seq");
    c.snapshots = run(db,
                      "SELECT stream_id, version, schema_version, codec, quote(state), "
                      "created_at FROM " +
                          s + "es_snapshots ORDER BY stream_id");
    c.checkpoints = run(db, "SELECT * FROM " + s + "es_checkpoints ORDER BY consumer");
    c.streams = run(db,
                    "SELECT stream_id, category, version, state, archived_to, created_at, "
                    "updated_at, tombstone_reason, tombstoned_at FROM " +
                        s + "es_streams ORDER BY stream_id");
    if (schema == "main") {
        c.user_log = run(db, "SELECT * FROM user_log ORDER BY rowid");
        c.user_totals = run(db, "SELECT * FROM user_totals ORDER BY stream_id");
    }
    return c;
}

void check_same(const Content& a, const Content& b) {
    CHECK(a.events == b.events);
    CHECK(a.snapshots == b.snapshots);
    CHECK(a.checkpoints == b.checkpoints);
    CHECK(a.streams == b.streams);
    CHECK(a.user_log == b.user_log);
    CHECK(a.user_totals == b.user_totals);
}

int count_commit(void* n) {
    ++*static_cast<int*>(n);
    return 0;
}

// The fixture as built, checked once so that the upgrade tests start from what they claim.
void check_fixture(sqlite3* db, Flavor f) {
    CHECK(schema_version(db) == (f == Flavor::V1 ? "1" : "2"));
    CHECK(run(db, "SELECT group_concat(seq) FROM (SELECT seq FROM es_events ORDER BY seq)") ==
          "1,2,3,4,7,8,11");
    CHECK(run(db, "SELECT seq FROM sqlite_sequence WHERE name = 'es_events'") == "12");
    CHECK(run(db,
              "SELECT instr(sql, 'AUTOINCREMENT') > 0 FROM sqlite_schema WHERE name = "
              "'es_events'") == "1");
    if (f == Flavor::V1) {
        CHECK(run(db, "SELECT count(*) FROM es_meta WHERE key = 'seq_floor'") == "0");
        CHECK(run(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'es_guard'") == "1");
        CHECK(run(db, "DELETE FROM es_events") ==
              "error: es_events is append-only: remove streams with es_tombstone() or "
              "es_delete()");
    } else {
        // Version 2's head: seq_floor, recorded by the tombstone of temp-1 (seq 12).
        CHECK(run(db, "SELECT value FROM es_meta WHERE key = 'seq_floor'") == "12");
        CHECK(run(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'es_guard'") == "0");
        CHECK(run(db,
                  "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND "
                  "instr(sql, '\"" +
                      std::string(kWriterFunction) + "\"()') > 0") == "6");
        CHECK(run(db, "DELETE FROM es_events") == kNoWriter);
    }
    CHECK(run(db, "SELECT stream_id, state, archived_to FROM es_streams ORDER BY stream_id") ==
          "cart-1|archived|NULL\ngone-1|tombstoned|NULL\nimg-1|active|NULL\n"
          "old-1|archived|cold\norder-1|active|NULL\ntemp-1|tombstoned|NULL");
    CHECK(run(db, "SELECT typeof(data), codec FROM es_events WHERE seq = 4") == "blob|png");
    CHECK(run(db, "SELECT * FROM user_totals ORDER BY stream_id") ==
          "cart-1|3\nimg-1|NULL\norder-1|70");
    CHECK(run(db, "SELECT count(*), group_concat(seq) FROM user_log") ==
          "12|1,2,3,4,5,6,7,8,9,10,11,12");
}

// A store of the flavor in dir, checked; returns its paths.
StorePaths fixture(const TempDir& dir, Flavor f, const std::string& prefix = "") {
    const StorePaths p = copy_of_store(dir, f, prefix);
    Db d;
    open_file(d, p.main, false);
    check_fixture(d.db, f);
    exec(d.db, "ATTACH " + q(p.cold) + " AS cold");
    CHECK(schema_version(d.db, "cold") == (f == Flavor::V1 ? "1" : "2"));
    CHECK(run(d.db, "SELECT group_concat(seq), min(stream_id) FROM cold.es_events") ==
          "9,10|old-1");
    CHECK(run(d.db, "SELECT stream_id, state FROM cold.es_streams") == "old-1|archived");
    return p;
}

bool is_uuid_v4(const std::string& s) {
    if (s.size() != 36 || s[14] != '4' || std::string("89ab").find(s[19]) == std::string::npos) {
        return false;
    }
    for (size_t i = 0; i < s.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash != (s[i] == '-')) return false;
        if (!dash && std::string("0123456789abcdef").find(s[i]) == std::string::npos) return false;
    }
    return true;
}

// Everything a just-upgraded fixture store must show, on the eskit connection e.
void check_upgraded(sqlite3* e, const Content& before) {
    CHECK(schema_version(e) == "3");
    const std::string id = store_id(e);
    CHECK(is_uuid_v4(id));
    // The identity is written into every guard trigger (6 from v3_objects, 18 bookkeeping).
    CHECK(run(e, "SELECT count(*), sum(instr(sql, '''" + id +
                     "''') > 0) FROM sqlite_schema "
                     "WHERE type = 'trigger' AND name LIKE 'es\\_%' ESCAPE '\\'") == "24|24");
    // The head: seq_floor kept (12: temp-1's deleted event), the next append gets 13.
    CHECK(run(e, "SELECT value FROM es_meta WHERE key = 'seq_floor'") == "12");
    CHECK(run(e, "SELECT es_head()") == "12");
    // The rows, unchanged (es_streams now from the view, same values).
    check_same(content(e), before);
    CHECK(run(e, "PRAGMA integrity_check") == "ok");
    // AUTOINCREMENT is gone, and with it the sqlite_sequence bookkeeping.
    CHECK(run(e,
              "SELECT instr(sql, 'AUTOINCREMENT') FROM sqlite_schema WHERE name = "
              "'es_events'") == "0");
    CHECK(run(e, "SELECT count(*) FROM sqlite_sequence") == "0");
    // No category column, no index on event_id, category or type.
    CHECK(run(e,
              "SELECT count(*) FROM pragma_table_xinfo('es_events') WHERE name = "
              "'category'") == "0");
    CHECK(run(e,
              "SELECT group_concat(name) FROM (SELECT name FROM sqlite_schema WHERE type = "
              "'index' AND tbl_name = 'es_events' ORDER BY name)") ==
          "es_events_idempotency,sqlite_autoindex_es_events_1,user_total");

    // Lifecycle states.
    CHECK(run(e,
              "SELECT es_status('order-1'), es_status('img-1'), es_status('cart-1'), "
              "es_status('old-1'), es_status('gone-1'), es_status('temp-1'), "
              "es_status('nope')") == "active|active|archived|archived|tombstoned|tombstoned|none");
    CHECK(run(e, "SELECT group_concat(version) FROM es_stream('cart-1')") == "1,2");
    CHECK(run(e, "SELECT * FROM es_stream('old-1')") ==
          "error: archived: stream 'old-1' was moved to archive database 'cold'; read it from "
          "\"cold\".es_events or es_restore('old-1', 'cold')");
    CHECK(run(e, "SELECT * FROM es_stream('gone-1')") ==
          "error: tombstoned: stream 'gone-1' is tombstoned (reason: 'gdpr')");

    // The upgrade folded every event: nothing left in the tail, the blocks list them all.
    CHECK(run(e,
              "SELECT count(*) FROM es_events WHERE seq > (SELECT value FROM es_meta WHERE "
              "key = 'indexed_upto')") == "0");
    CHECK(run(e, "SELECT group_concat(seq) FROM es_index_seqs(1, 'order', 0, 1000)") == "1,2,3,11");
    CHECK(run(e, "SELECT group_concat(seq) FROM es_index_seqs(2, 'Added', 0, 1000)") == "2,3,8");
    CHECK(run(e, "SELECT kind, key FROM es_postings ORDER BY kind, key") ==
          "1|cart\n1|img\n1|order\n2|Added\n2|Opened\n2|Paid\n2|Placed\n2|Uploaded");
    // Every existing id is listed (none of them carries its seq the version 3 way).
    CHECK(run(e,
              "SELECT count(*) FROM es_event_ids AS i JOIN es_events AS v ON v.seq = i.seq "
              "AND v.event_id = i.event_id") == "7");
    CHECK(run(e, "SELECT count(*) FROM es_event_ids") == "7");
    // Reads by category, type and event id answer right away.
    CHECK(run(e, "SELECT group_concat(seq) FROM es_all WHERE category = 'order'") == "1,2,3,11");
    CHECK(run(e, "SELECT group_concat(seq) FROM es_all WHERE category IN ('cart', 'img')") ==
          "4,7,8");
    CHECK(run(e, "SELECT group_concat(seq) FROM es_all WHERE type = 'Added'") == "2,3,8");
    CHECK(run(e,
              "SELECT group_concat(seq) FROM es_all WHERE category = 'order' AND "
              "type = 'Added'") == "2,3");
    CHECK(run(e, "SELECT seq FROM es_all WHERE event_id = 'order-1/placed'") == "1");
    CHECK(run(e, std::string("SELECT seq FROM es_all WHERE event_id = '") + kG2 + "'") == "3");
    CHECK(run(e, std::string("SELECT seq, quote(data) FROM es_all WHERE event_id = '") + kG3 +
                     "'") == "4|X'89504E470D0A1A0A00FF'");
    CHECK(run(e, std::string("SELECT group_concat(seq) FROM es_all WHERE event_id IN ('") + kG1 +
                     "', 'cart-1/b', 'order-1/paid', 'gone-1/a', 'old-1/a')") == "2,8,11");
    CHECK(run(e, "SELECT es_maintain()") == R"({"indexed":0,"erased":0,"pending":0})");
}

// The checks of a working upgraded store that write (run after check_upgraded).
void check_writes_after_upgrade(sqlite3* e, const std::string& path) {
    // An existing id is a duplicate, the old idempotency key still answers the replay.
    CHECK(run(e, R"(SELECT es_append('x-1', 0, '{"type":"X","data":{},"id":"order-1/placed"}'))")
              .rfind("error: duplicate_event: ", 0) == 0);
    CHECK(run(e, std::string("SELECT es_append('x-1', 0, '{\"type\":\"X\",\"data\":{},\"id\":\"") +
                     kG3 + "\"}')")
              .rfind("error: duplicate_event: ", 0) == 0);
    CHECK(run(e, R"(SELECT es_append('order-1', 0, '{"type":"Added","data":{"total":20}}', )"
                 R"('{"idempotency_key":"k-1"}'))") == "3");
    CHECK(run(e, "SELECT es_append('cart-1', 2, '{\"type\":\"X\",\"data\":1}')") ==
          "error: archived: stream 'cart-1' is archived and accepts no appends; "
          "es_restore('cart-1') reactivates it");
    // The next append takes one past the head; the user's trigger, index and view see it.
    CHECK(run(e, R"(SELECT es_append('order-1', 4, '{"type":"Shipped","data":{"total":5}}'))") ==
          "5");
    CHECK(run(e, "SELECT seq FROM es_stream('order-1', 5)") == "13");
    CHECK(run(e, "SELECT seq, stream_id FROM user_log ORDER BY rowid DESC LIMIT 1") ==
          "13|order-1");
    CHECK(run(e, "SELECT total FROM user_totals WHERE stream_id = 'order-1'") == "75");
    CHECK(run(e,
              "EXPLAIN QUERY PLAN SELECT seq FROM es_events WHERE codec = 'json' AND "
              "json_extract(data, '$.total') = 5")
              .find("user_total") != std::string::npos);
    CHECK(run(e,
              "SELECT group_concat(seq) FROM es_events WHERE codec = 'json' AND "
              "json_extract(data, '$.total') = 5") == "3,13");
    // AUTOINCREMENT really is gone, also on this connection: the append left sqlite_sequence
    // alone. And a seq is still never reused: delete the newest stream, reopen, append.
    CHECK(run(e, "SELECT count(*) FROM sqlite_sequence") == "0");
    CHECK(run(e,
              R"(SELECT es_append('new-1', 0, '[{"type":"A","data":1},{"type":"B","data":2}]'))") ==
          "2");
    CHECK(run(e, "SELECT group_concat(seq) FROM es_stream('new-1')") == "14,15");
    CHECK(run(e, "SELECT es_delete('new-1')") == "2");
    CHECK(run(e, "SELECT es_head(), (SELECT max(seq) FROM es_events)") == "15|13");
    Db again;
    open_file(again, path, true);
    CHECK(run(again.db, "SELECT es_head()") == "15");
    CHECK(run(again.db, R"(SELECT es_append('new-1', 0, '{"type":"A","data":1}'))") == "1");
    CHECK(run(again.db, "SELECT seq FROM es_stream('new-1')") == "16");
    CHECK(run(again.db, "SELECT count(*) FROM sqlite_sequence") == "0");
    CHECK(run(again.db, "PRAGMA integrity_check") == "ok");
}

// One insert into each bookkeeping table (their triggers fire per row: an insert always does).
const std::vector<std::pair<std::string, std::string>> kBookkeepingInserts = {
    {"es_meta", "INSERT INTO es_meta VALUES ('x', 1)"},
    {"es_lifecycle",
     "INSERT INTO es_lifecycle(stream_id, state, version, created_at, "
     "updated_at) VALUES ('x', 'archived', 1, 1, 1)"},
    {"es_postings", "INSERT INTO es_postings VALUES (1, 'x', 1, X'01')"},
    {"es_event_ids", "INSERT INTO es_event_ids VALUES ('x', 1)"},
    {"es_reserved_ids", "INSERT INTO es_reserved_ids VALUES ('x', 'y')"},
    {"es_cleanups", "INSERT INTO es_cleanups VALUES ('a', 'b', 'c', NULL)"},
};

// Writes that must fail on an upgraded store: with eskit, the triggers' messages; without it,
// no statement that writes an eskit table even prepares. Reads keep working there and answer
// what the eskit connection saw (seen).
void check_guards(const std::string& path, const Content& seen) {
    {
        Db e;
        open_file(e, path, true);
        auto [rc, msg] = failure(e.db,
                                 "INSERT INTO es_events(stream_id, version, type, data, "
                                 "event_id, created_at) VALUES ('f-1', 1, 'F', '{}', 'f', "
                                 "1)");
        CHECK(rc == SQLITE_CONSTRAINT_TRIGGER);
        CHECK(msg == "es_events is append-only: add events with es_append()");
        std::tie(rc, msg) = failure(e.db, "UPDATE es_events SET data = '{}' WHERE seq = 1");
        CHECK(rc == SQLITE_CONSTRAINT_TRIGGER);
        CHECK(msg == "es_events is append-only: events cannot be updated");
        std::tie(rc, msg) = failure(e.db, "DELETE FROM es_events WHERE seq = 1");
        CHECK(rc == SQLITE_CONSTRAINT_TRIGGER);
        CHECK(msg == "es_events is append-only: remove streams with es_tombstone() or es_delete()");
        std::tie(rc, msg) = failure(e.db, "UPDATE es_streams SET version = 99");
        CHECK(rc == SQLITE_CONSTRAINT_TRIGGER);
        CHECK(msg ==
              "es_streams is maintained by eskit: use es_append(), es_archive(), "
              "es_restore() or es_tombstone()");
        for (const auto& [table, insert] : kBookkeepingInserts) {
            CAPTURE(insert);
            std::tie(rc, msg) = failure(e.db, insert);
            CHECK(rc == SQLITE_CONSTRAINT_TRIGGER);
            CHECK(msg == table + " is maintained by eskit");
        }
        std::tie(rc, msg) = failure(e.db, "UPDATE es_meta SET value = 1");
        CHECK(rc == SQLITE_CONSTRAINT_TRIGGER);
        CHECK(msg == "es_meta is maintained by eskit");
        std::tie(rc, msg) = failure(e.db, "DELETE FROM es_postings");
        CHECK(rc == SQLITE_CONSTRAINT_TRIGGER);
        CHECK(msg == "es_postings is maintained by eskit");
    }
    Db p;
    open_file(p, path, false);
    const std::vector<std::string> writes = {
        "INSERT INTO es_events(stream_id, version, type, data, event_id, created_at) "
        "VALUES ('f-1', 1, 'F', '{}', 'f', 1)",
        "UPDATE es_events SET data = '{}'",
        "DELETE FROM es_events",
        "INSERT INTO es_streams(stream_id, category, version, state, created_at, updated_at) "
        "VALUES ('x', 'x', 1, 'active', 1, 1)",
        "UPDATE es_streams SET version = 99",
        "DELETE FROM es_streams",
        "UPDATE es_meta SET value = 1",
        "DELETE FROM es_postings",
    };
    std::vector<std::string> all = writes;
    for (const auto& [table, insert] : kBookkeepingInserts) all.push_back(insert);
    for (const std::string& w : all) {
        CAPTURE(w);
        auto [rc, msg] = failure(p.db, w);
        CHECK(rc == SQLITE_ERROR);
        CHECK("error: " + msg == kNoWriter);
    }
    CHECK(run(p.db, "SELECT es_head()") == "error: no such function: es_head");
    check_same(content(p.db), seen);
    CHECK(run(p.db, "SELECT stream_id, state FROM es_streams WHERE stream_id = 'gone-1'") ==
          "gone-1|tombstoned");
    CHECK(run(p.db, "PRAGMA integrity_check") == "ok");
    CHECK(run(p.db, "PRAGMA journal_mode") == "wal");
}

void upgrade_with_es_init(Flavor f) {
    TempDir dir;
    const StorePaths p = fixture(dir, f);
    Db e;
    open_file(e, p.main, true);
    const Content before = content(e.db);
    int commits = 0;
    sqlite3_commit_hook(e.db, count_commit, &commits);
    CHECK(run(e.db, "SELECT es_init()") == "3");
    CHECK(commits == 1);  // one transaction
    sqlite3_commit_hook(e.db, nullptr, nullptr);
    check_upgraded(e.db, before);
    // es_init again: nothing to do, nothing changes.
    const std::string after = dump(e.db);
    CHECK(run(e.db, "SELECT es_init()") == "3");
    CHECK(dump(e.db) == after);
    {  // another connection sees the upgraded store (it was committed)
        Db other;
        open_file(other, p.main, true);
        check_upgraded(other.db, before);
    }
    check_writes_after_upgrade(e.db, p.main);
    const Content seen = content(e.db);
    e.close();
    check_guards(p.main, seen);
}

void upgrade_with_first_write(Flavor f) {
    TempDir dir;
    const StorePaths p = fixture(dir, f);
    Db e;
    open_file(e, p.main, true);
    const Content before = content(e.db);
    const std::string untouched = dump(e.db);
    // A first write that fails upgrades nothing (one transaction: it rolls back whole).
    CHECK(run(e.db, R"(SELECT es_append('order-1', 2, '{"type":"Shipped","data":{}}'))") ==
          "error: conflict: stream 'order-1' is at version 4, expected 2");
    CHECK(dump(e.db) == untouched);
    // The first write that succeeds upgrades and appends, in one commit.
    int commits = 0;
    sqlite3_commit_hook(e.db, count_commit, &commits);
    CHECK(run(e.db, R"(SELECT es_append('order-1', 4, '{"type":"Shipped","data":{"total":5},)"
                    R"("id":"order-1/shipped"}', '{"timestamp":1700000000099000}'))") == "5");
    CHECK(commits == 1);
    sqlite3_commit_hook(e.db, nullptr, nullptr);
    CHECK(schema_version(e.db) == "3");
    CHECK(run(e.db, "SELECT seq, event_id, created_at FROM es_stream('order-1', 5)") ==
          "13|order-1/shipped|1700000000099000");
    CHECK(run(e.db, "SELECT seq FROM es_all WHERE event_id = 'order-1/shipped'") == "13");
    CHECK(run(e.db, "SELECT group_concat(seq) FROM es_all WHERE category = 'order'") ==
          "1,2,3,11,13");
    // Everything else as es_init leaves it (the append added one row to events and user_log).
    Content now = content(e.db);
    CHECK(now.events.substr(0, before.events.size()) == before.events);
    CHECK(now.snapshots == before.snapshots);
    CHECK(now.checkpoints == before.checkpoints);
    CHECK(now.user_log == before.user_log + "\n13|order-1");
    CHECK(run(e.db, "SELECT value FROM es_meta WHERE key = 'seq_floor'") == "12");
    CHECK(run(e.db, "SELECT es_status('old-1'), es_status('cart-1'), es_status('gone-1')") ==
          "archived|archived|tombstoned");
    CHECK(run(e.db, "SELECT count(*) FROM sqlite_sequence") == "0");
    CHECK(run(e.db, "PRAGMA integrity_check") == "ok");
    const Content seen = content(e.db);
    e.close();
    check_guards(p.main, seen);
}

}  // namespace

TEST_CASE("es_init upgrades a version 1 store with data to version 3") {
    upgrade_with_es_init(Flavor::V1);
}

TEST_CASE("es_init upgrades a version 2 store with data to version 3") {
    upgrade_with_es_init(Flavor::V2);
}

TEST_CASE("the first eskit write upgrades a version 1 store without es_init") {
    upgrade_with_first_write(Flavor::V1);
}

TEST_CASE("the first eskit write upgrades a version 2 store without es_init") {
    upgrade_with_first_write(Flavor::V2);
}

TEST_CASE("other first writes upgrade a version 2 store too, in the write's transaction") {
    struct Case {
        const char* call;
        const char* result;
    };
    const Case cases[] = {
        {"SELECT es_tombstone('order-1', 'bye')", "4"},
        {"SELECT es_archive('img-1')", "0"},
        {"SELECT es_restore('cart-1')", "0"},
        {"SELECT es_delete('cart-1')", "2"},
        {"SELECT es_checkpoint('projector', 4, 11)", "11"},
        {"SELECT es_snapshot_save('order-1', 4, '{\"total\":70}')", "4"},
        {"SELECT es_maintain()", R"({"indexed":0,"erased":0,"pending":0})"},
    };
    for (const Case& k : cases) {
        CAPTURE(k.call);
        TempDir dir;
        const StorePaths p = copy_of_store(dir, Flavor::V2);
        Db e;
        open_file(e, p.main, true);
        int commits = 0;
        sqlite3_commit_hook(e.db, count_commit, &commits);
        CHECK(run(e.db, k.call) == k.result);
        CHECK(commits == 1);
        sqlite3_commit_hook(e.db, nullptr, nullptr);
        CHECK(schema_version(e.db) == "3");
        CHECK(run(e.db, "SELECT es_head()") == "12");
        CHECK(run(e.db,
                  "SELECT count(*) FROM es_events WHERE seq > (SELECT value FROM es_meta "
                  "WHERE key = 'indexed_upto')") == "0");
        CHECK(run(e.db, "PRAGMA integrity_check") == "ok");
    }
}

TEST_CASE(
    "a legacy archived stream comes back with es_restore(s, 'cold'), which upgrades the "
    "archive") {
    for (Flavor f : {Flavor::V1, Flavor::V2}) {
        CAPTURE(flavor_name(f));
        TempDir dir;
        const StorePaths p = fixture(dir, f);
        Db e;
        open_file(e, p.main, true);
        CHECK(run(e.db, "SELECT es_init()") == "3");
        // Without the archive nothing moves (under another name: a test below).
        CHECK(run(e.db, "SELECT es_restore('old-1', 'cold')") ==
              "error: invalid_argument: es_restore(): no attached database named 'cold'");
        exec(e.db, "ATTACH " + q(p.cold) + " AS cold");
        CHECK(schema_version(e.db, "cold") == (f == Flavor::V1 ? "1" : "2"));
        const Content cold_before = content(e.db, "cold");

        CHECK(run(e.db, "SELECT es_restore('old-1', 'cold')") == "2");
        CHECK(run(e.db, "SELECT es_status('old-1')") == "active");
        // The rows came back as they were (same seq, ids, times), with the snapshot.
        CHECK(run(e.db, "SELECT " + kEventCols +
                            " FROM es_events WHERE stream_id = 'old-1' "
                            "ORDER BY seq") == cold_before.events);
        CHECK(run(e.db,
                  "SELECT stream_id, version, schema_version, codec, quote(state), "
                  "created_at FROM es_snapshots WHERE stream_id = 'old-1'") ==
              cold_before.snapshots);
        CHECK(run(e.db,
                  "SELECT stream_id, version, state, archived_to FROM es_streams WHERE "
                  "stream_id = 'old-1'") == "old-1|2|active|NULL");
        CHECK(run(e.db, "SELECT group_concat(seq) FROM es_all WHERE category = 'old'") == "9,10");
        CHECK(run(e.db, "SELECT group_concat(seq) FROM es_all WHERE type = 'Old'") == "9,10");
        CHECK(run(e.db, "SELECT seq FROM es_all WHERE event_id = 'old-1/b'") == "10");
        CHECK(run(e.db, "SELECT group_concat(seq) FROM es_stream('old-1')") == "9,10");
        // The archive: upgraded (its own identity), its copy erased.
        CHECK(schema_version(e.db, "cold") == "3");
        CHECK(is_uuid_v4(store_id(e.db, "cold")));
        CHECK(store_id(e.db, "cold") != store_id(e.db));
        CHECK(run(e.db, "SELECT count(*) FROM cold.es_events") == "0");
        CHECK(run(e.db, "SELECT count(*) FROM cold.es_streams") == "0");
        CHECK(run(e.db, "SELECT count(*) FROM cold.es_snapshots") == "0");
        CHECK(run(e.db, "SELECT count(*) FROM main.es_cleanups") == "0");
        CHECK(run(e.db, "PRAGMA cold.integrity_check") == "ok");
        // Appends go on after the head; a version 3 move to the upgraded archive and back.
        CHECK(run(e.db, R"(SELECT es_append('old-1', 2, '{"type":"Old","data":{"o":3}}'))") == "3");
        CHECK(run(e.db, "SELECT seq FROM es_stream('old-1', 3)") == "13");
        CHECK(run(e.db, "SELECT es_archive('old-1', 'cold')") == "3");
        CHECK(run(e.db, "SELECT group_concat(seq) FROM cold.es_events") == "9,10,13");
        CHECK(run(e.db, "SELECT es_restore('old-1', 'cold')") == "3");
        CHECK(run(e.db, "SELECT group_concat(seq) FROM es_stream('old-1')") == "9,10,13");
        CHECK(run(e.db, "PRAGMA integrity_check") == "ok");
        // The archive file without eskit: guarded like any version 3 store.
        e.close();
        Db pc;
        open_file(pc, p.cold, false);
        CHECK(run(pc.db, "DELETE FROM es_events") == kNoWriter);
        CHECK(run(pc.db, "PRAGMA integrity_check") == "ok");
    }
}

TEST_CASE(
    "a user object that uses the dropped category column stops the upgrade, which "
    "changes nothing") {
    struct Case {
        const char* object;
        const char* drop;
        const char* message;
    };
    const Case cases[] = {
        {"CREATE VIEW user_cats AS SELECT DISTINCT category FROM es_events", "DROP VIEW user_cats",
         "error in view user_cats after drop column: no such column: category"},
        {"CREATE INDEX user_cat ON es_events(category, seq)", "DROP INDEX user_cat",
         "error in index user_cat after drop column: no such column: category"},
        {"CREATE INDEX user_cat_types ON es_events(type) WHERE category = 'order'",
         "DROP INDEX user_cat_types",
         "error in index user_cat_types after drop column: no such column: category"},
        {"CREATE TABLE user_cats(c); CREATE TRIGGER user_cat_log AFTER INSERT ON es_events "
         "BEGIN INSERT INTO user_cats VALUES (new.category); END",
         "DROP TRIGGER user_cat_log",
         "error in trigger user_cat_log after drop column: no such column: new.category"},
    };
    for (Flavor f : {Flavor::V1, Flavor::V2}) {
        for (const Case& k : cases) {
            CAPTURE(flavor_name(f));
            CAPTURE(k.object);
            TempDir dir;
            const StorePaths p = copy_of_store(dir, f);
            {
                Db d;
                open_file(d, p.main, false);
                exec(d.db, k.object);
            }
            Db e;
            open_file(e, p.main, true);
            const std::string untouched = dump(e.db);
            const std::string expected = std::string(k.message) + " (003_schema3.sql)";
            // es_init: SQLite's message (eskit adds the file's name), SQLITE_ERROR, no change.
            auto [rc, msg] = failure(e.db, "SELECT es_init()");
            CHECK(rc == SQLITE_ERROR);
            CHECK(msg == expected);
            CHECK(run(e.db,
                      "SELECT json_extract(es_last_error(), '$.code'), "
                      "json_extract(es_last_error(), '$.message')") == "sqlite|" + expected);
            CHECK(dump(e.db) == untouched);
            CHECK(sqlite3_get_autocommit(e.db) == 1);
            // The first write: the same, and the append is not made either.
            std::tie(rc, msg) = failure(e.db, R"(SELECT es_append('order-1', 4, )"
                                              R"('{"type":"Shipped","data":{}}'))");
            CHECK(rc == SQLITE_ERROR);
            CHECK(msg == expected);
            CHECK(dump(e.db) == untouched);
            e.close();
            {  // another connection finds the store as it was
                Db d;
                open_file(d, p.main, false);
                CHECK(dump(d.db) == untouched);
                CHECK(run(d.db, "PRAGMA integrity_check") == "ok");
                exec(d.db, k.drop);  // the user removes the object: the upgrade goes through
            }
            open_file(e, p.main, true);
            CHECK(run(e.db, "SELECT es_init()") == "3");
            CHECK(run(e.db, "SELECT group_concat(seq) FROM es_all WHERE category = 'order'") ==
                  "1,2,3,11");
        }
    }
}

TEST_CASE("a version 1 store whose user dropped one of the old triggers still upgrades") {
    TempDir dir;
    const StorePaths p = copy_of_store(dir, Flavor::V1);
    {
        Db d;
        open_file(d, p.main, false);
        exec(d.db, "DROP TRIGGER es_events_no_update");
    }
    Db e;
    open_file(e, p.main, true);
    CHECK(run(e.db, "SELECT es_init()") == "3");
    CHECK(run(e.db,
              "SELECT group_concat(name) FROM (SELECT name FROM sqlite_schema WHERE "
              "type = 'trigger' AND tbl_name = 'es_events' ORDER BY name)") ==
          "es_events_guard_delete,es_events_guard_insert,es_events_guard_update,user_on_event");
    auto [rc, msg] = failure(e.db, "UPDATE es_events SET data = '{}' WHERE seq = 1");
    CHECK(rc == SQLITE_CONSTRAINT_TRIGGER);
    CHECK(msg == "es_events is append-only: events cannot be updated");
    CHECK(run(e.db, R"(SELECT es_append('order-1', 4, '{"type":"Shipped","data":{}}'))") == "5");
    CHECK(run(e.db, "SELECT seq FROM es_stream('order-1', 5)") == "13");
}

// ---------------------------------------------------------------------------------------------
// Upgraded v1, upgraded v2 and fresh v3: the same schema objects, the same answers.

namespace {

std::string jq(const char* s) { return std::string("\"") + s + "\""; }

std::string event_json(const Ev& e) {
    std::string j = std::string("{\"type\":") + jq(e.type) +
                    ",\"data\":" + (e.json ? std::string(e.json) : jq(e.base64)) +
                    ",\"codec\":" + jq(e.codec);
    if (e.metadata) j += std::string(",\"metadata\":") + e.metadata;
    j += ",\"id\":" + jq(e.id) + ",\"schema_version\":" + std::to_string(e.schema_version) + "}";
    return j;
}

// The fixture's script through eskit, on a fresh store with "cold" attached.
void replay(sqlite3* e) {
    for (const Op& op : script()) {
        std::string sql;
        switch (op.kind) {
            case OpKind::Append: {
                std::string events = "[";
                for (const Ev& ev : op.events) {
                    events += (events.size() > 1 ? "," : "") + event_json(ev);
                }
                std::string options = "{\"timestamp\":" + std::to_string(op.at);
                if (op.key) options += std::string(",\"idempotency_key\":") + jq(op.key);
                sql = "SELECT es_append(" + q(op.stream) + ", " + std::to_string(op.expected) +
                      ", " + q(events + "]") + ", " + q(options + "}") + ")";
                break;
            }
            case OpKind::ArchiveInPlace: sql = "SELECT es_archive(" + q(op.stream) + ")"; break;
            case OpKind::Tombstone:
                sql = "SELECT es_tombstone(" + q(op.stream) + ", " + q(op.text) + ")";
                break;
            case OpKind::Move: sql = "SELECT es_archive(" + q(op.stream) + ", 'cold')"; break;
            case OpKind::Snapshot:
                sql = "SELECT es_snapshot_save(" + q(op.stream) + ", " + std::to_string(op.number) +
                      ", " + q(op.text) + ")";
                break;
            case OpKind::Checkpoint:
                sql = "SELECT es_checkpoint(" + q(op.text) + ", " + std::to_string(op.number) + ")";
                break;
            case OpKind::Era2: continue;
        }
        const std::string r = run(e, sql);
        INFO(sql);
        REQUIRE(r.rfind("error", 0) != 0);
    }
}

// SELECT es_append(stream, expected, events [, options]) with the JSON texts quoted.
std::string append_sql(const char* stream, int expected, const std::string& events,
                       const std::string& options = "") {
    return "SELECT es_append(" + q(stream) + ", " + std::to_string(expected) + ", " + q(events) +
           (options.empty() ? "" : ", " + q(options)) + ")";
}

std::string at(int64_t offset) { return "{\"timestamp\":" + std::to_string(kT0 + offset) + "}"; }

// The same calls after the upgrade on every store: appends (one crossing the fold bound of 256),
// replays, restores (the legacy move, in place), archive, tombstone.
void later_calls(sqlite3* e) {
    const std::string shipped = R"({"type":"Shipped","data":{"total":1},"id":"order-1/shipped"})";
    const std::vector<std::pair<std::string, std::string>> calls = {
        {append_sql("order-1", 4, shipped,
                    R"({"timestamp":1700000000020000,"idempotency_key":"k-3"})"),
         "5"},
        {append_sql("order-1", 5, R"({"type":"Other","data":{}})", R"({"idempotency_key":"k-3"})"),
         "5"},
        {append_sql("order-1", -1, shipped), "5"},
        {append_sql("order-2", 0, R"({"type":"Placed","data":{"total":7},"id":"order-2/placed"})",
                    at(21000)),
         "1"},
        {"SELECT es_restore('old-1', 'cold')", "2"},
        {append_sql("old-1", 2, R"({"type":"Old","data":{"o":3},"id":"old-1/c"})", at(22000)), "3"},
        {"SELECT es_restore('cart-1')", "0"},
        {append_sql("cart-1", 2, R"({"type":"Paid","data":{"total":3},"id":"cart-1/c"})",
                    at(23000)),
         "3"},
        {"SELECT es_archive('img-1')", "0"},
        {append_sql("gone-1", -1, R"({"type":"X","data":{}})"),
         "error: tombstoned: stream 'gone-1' is tombstoned (reason: 'gdpr')"},
        {"SELECT es_tombstone('order-2', 'test')", "1"},
        {append_sql("new-1", 0,
                    R"([{"type":"A","data":1,"id":"new-1/a"},{"type":"Added","data":2,)"
                    R"("id":"new-1/b"},{"type":"A","data":3,"id":"new-1/c"}])",
                    at(24000)),
         "3"},
    };
    for (const auto& [sql, want] : calls) {
        CAPTURE(sql);
        CHECK(run(e, sql) == want);
    }
    std::string many = "[";
    for (int i = 0; i < 300; ++i) {
        many += (i ? "," : "") + std::string("{\"type\":\"M") + std::to_string(i % 3) +
                "\",\"data\":" + std::to_string(i) + ",\"id\":\"many-1/" + std::to_string(i) +
                "\"}";
    }
    CHECK(run(e, append_sql("many-1", 0, many + "]", at(25000))) == "300");
    // Generated ids (different in every store: the queries compare their positions only).
    CHECK(run(e, append_sql("gen-1", 0, R"([{"type":"G","data":1},{"type":"Added","data":2}])",
                            at(26000))) == "2");
}

const std::vector<std::string>& fixed_queries() {
    static const std::vector<std::string> qs = {
        "SELECT seq, stream_id, category, version, type, quote(data), metadata, codec, "
        "schema_version, idempotency_key, created_at FROM es_all",
        "SELECT seq, event_id FROM es_all WHERE stream_id <> 'gen-1'",
        "SELECT group_concat(seq) FROM es_all(10)",
        "SELECT seq, type FROM es_all WHERE category = 'order'",
        "SELECT group_concat(seq) FROM es_all WHERE category IN ('order', 'old', 'cart', 'img')",
        "SELECT count(*), min(seq), max(seq) FROM es_all WHERE category = 'many'",
        "SELECT group_concat(seq) FROM es_all WHERE type = 'Added'",
        "SELECT group_concat(seq) FROM es_all WHERE type IN ('Old', 'Paid', 'G')",
        "SELECT count(*), sum(seq) FROM es_all WHERE type = 'M1'",
        "SELECT group_concat(seq) FROM es_all WHERE category = 'order' AND type = 'Shipped'",
        "SELECT seq FROM es_all WHERE event_id = 'order-1/placed'",
        std::string("SELECT seq FROM es_all WHERE event_id = '") + kG2 + "'",
        std::string("SELECT seq FROM es_all WHERE event_id = '") + kG3 + "'",
        "SELECT seq FROM es_all WHERE event_id = 'old-1/a'",
        "SELECT seq FROM es_all WHERE event_id = 'gone-1/a'",
        "SELECT seq FROM es_all WHERE event_id = 'order-2/placed'",
        "SELECT seq, type FROM es_all WHERE event_id = (SELECT event_id FROM es_events WHERE "
        "stream_id = 'gen-1' AND version = 2)",
        std::string("SELECT group_concat(seq) FROM es_all WHERE event_id IN ('") + kG1 +
            "', 'old-1/b', 'many-1/299', 'new-1/b', 'nope')",
        "SELECT group_concat(seq) FROM (SELECT seq FROM es_all WHERE category = 'many' ORDER BY "
        "seq DESC LIMIT 3)",
        "SELECT group_concat(seq) FROM (SELECT seq FROM es_all(12) WHERE category = 'order' "
        "LIMIT 2)",
        "SELECT seq, version, type, quote(data), metadata, event_id FROM es_stream('order-1')",
        "SELECT seq, version FROM es_stream('order-1', 3)",
        "SELECT seq, version, event_id FROM es_stream('old-1')",
        "SELECT seq, version FROM es_stream('cart-1')",
        "SELECT seq, quote(data), codec, schema_version FROM es_stream('img-1')",
        "SELECT * FROM es_stream('gone-1')",
        "SELECT * FROM es_stream('order-2')",
        "SELECT * FROM es_stream('nope')",
        "SELECT seq FROM es_stream('many-1') ORDER BY version DESC LIMIT 1",
        "SELECT stream_id, category, version, state, archived_to, created_at, CASE state WHEN "
        "'active' THEN updated_at END, tombstone_reason FROM es_streams ORDER BY stream_id",
        "SELECT stream_id, version, state FROM es_streams WHERE category = 'order' ORDER BY 1",
        "SELECT stream_id, version, state, archived_to FROM es_streams WHERE stream_id = 'old-1'",
        "SELECT es_status('order-1'), es_status('order-2'), es_status('img-1'), "
        "es_status('gone-1'), es_status('cart-1'), es_status('old-1'), es_status('temp-1'), "
        "es_status('new-1'), es_status('many-1'), es_status('nope')",
        "SELECT es_head()",
        "SELECT es_checkpoint('projector'), es_checkpoint('mailer')",
        "SELECT stream_id, version, schema_version, codec, state FROM es_snapshots ORDER BY 1",
        "SELECT * FROM user_log ORDER BY rowid",
        "SELECT * FROM user_totals ORDER BY stream_id",
        "SELECT es_maintain()",
    };
    return qs;
}

std::vector<std::string> answers(sqlite3* e) {
    std::vector<std::string> out;
    for (const std::string& sql : fixed_queries()) out.push_back(run(e, sql));
    return out;
}

// Schema objects of main as the comparison sees them: type, name and table of every object but
// SQLite's own; the columns of every table and view; every index's flags and columns; table
// kinds (WITHOUT ROWID); the SQL of triggers, views and indexes with the identity replaced.
std::string schema_signature(sqlite3* db) {
    std::string out = run(db,
                          "SELECT type, name, tbl_name FROM sqlite_schema WHERE name NOT "
                          "LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name");
    out += "\n-- columns\n" +
           run(db,
               "SELECT m.name, c.* FROM sqlite_schema AS m, pragma_table_xinfo(m.name) AS c "
               "WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\\_%' ESCAPE "
               "'\\' ORDER BY m.name, c.cid");
    out += "\n-- tables\n" +
           run(db,
               "SELECT name, type, ncol, wr, strict FROM pragma_table_list WHERE schema = "
               "'main' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name");
    out += "\n-- indexes\n" +
           run(db,
               "SELECT m.name, i.name, i.\"unique\", i.origin, i.partial FROM sqlite_schema "
               "AS m, pragma_index_list(m.name) AS i WHERE m.type = 'table' AND m.name NOT "
               "LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY m.name, i.name");
    out += "\n-- index columns\n" +
           run(db,
               "SELECT i.name, x.* FROM sqlite_schema AS m, pragma_index_list(m.name) AS i, "
               "pragma_index_xinfo(i.name) AS x WHERE m.type = 'table' AND m.name NOT LIKE "
               "'sqlite\\_%' ESCAPE '\\' ORDER BY i.name, x.seqno");
    std::string sql = run(db,
                          "SELECT type, name, sql FROM sqlite_schema WHERE type IN "
                          "('trigger', 'view', 'index') AND sql IS NOT NULL ORDER BY type, "
                          "name");
    replace_all(sql, store_id(db), "<store>");
    return out + "\n-- sql\n" + sql;
}

}  // namespace

TEST_CASE(
    "upgraded v1, upgraded v2 and fresh v3 stores have the same schema objects and "
    "answer the same queries") {
    TempDir dir;
    std::vector<std::string> signatures, tables_sql;
    std::vector<std::vector<std::string>> results;
    for (int which = 0; which < 3; ++which) {
        CAPTURE(which);  // 0: upgraded v1, 1: upgraded v2, 2: fresh v3
        const std::string prefix = std::to_string(which) + "-";
        StorePaths p{dir.file(prefix + "main.db"), dir.file(prefix + "cold.db")};
        if (which < 2) p = copy_of_store(dir, which == 0 ? Flavor::V1 : Flavor::V2, prefix);
        Db e;
        open_file(e, p.main, true);
        if (which == 2) {
            CHECK(run(e.db, "PRAGMA journal_mode=WAL") == "wal");
            CHECK(run(e.db, "SELECT es_init()") == "3");
            exec(e.db, kUserObjects);
            exec(e.db, "ATTACH " + q(p.cold) + " AS cold");
            replay(e.db);
        } else {
            exec(e.db, "ATTACH " + q(p.cold) + " AS cold");
            CHECK(run(e.db, "SELECT es_init()") == "3");
        }
        signatures.push_back(schema_signature(e.db));
        later_calls(e.db);
        results.push_back(answers(e.db));
        CHECK(run(e.db, "PRAGMA integrity_check") == "ok");
        CHECK(run(e.db, "PRAGMA cold.integrity_check") == "ok");
    }
    // The signature is not vacuous: it lists eskit's and the user's objects.
    CHECK(signatures[2].find("view|es_streams|es_streams") != std::string::npos);
    CHECK(signatures[2].find("index|user_total|es_events") != std::string::npos);
    CHECK(signatures[2].find("sqlite_autoindex_es_events_1|1|2|version") != std::string::npos);
    CHECK(signatures[0] == signatures[2]);
    CHECK(signatures[1] == signatures[2]);
    REQUIRE(results.size() == 3);
    for (size_t i = 0; i < fixed_queries().size(); ++i) {
        CAPTURE(fixed_queries()[i]);
        CHECK(results[0][i] == results[2][i]);
        CHECK(results[1][i] == results[2][i]);
        CHECK(results[2][i].rfind("error: no such", 0) != 0);
    }
    // A few answers pinned, so that "all three equally wrong" cannot pass.
    const std::vector<std::string>& r = results[2];
    CHECK(r[3] == "1|Placed\n2|Added\n3|Added\n11|Paid\n13|Shipped");
    CHECK(r[13] == "9");
    CHECK(r[14] == "");
    CHECK(r[26] == "error: tombstoned: stream 'order-2' is tombstoned (reason: 'test')");
    CHECK(r[33] == "321");
}

// ---------------------------------------------------------------------------------------------
// Suspected bugs: these tests fail today (see the report in the commit message).

TEST_CASE("a user view over es_streams survives the upgrade") {
    // SPEC 1: es_streams is a public read-only surface; a user's view over it is as natural as
    // one over es_events. 003 drops the es_streams table, then ALTER TABLE ... DROP COLUMN
    // re-checks every view of the schema and fails on the user's view, which then names a
    // table that does not exist; the new es_streams view is only created afterwards.
    for (Flavor f : {Flavor::V1, Flavor::V2}) {
        CAPTURE(flavor_name(f));
        TempDir dir;
        const StorePaths p = copy_of_store(dir, f);
        {
            Db d;
            open_file(d, p.main, false);
            exec(d.db,
                 "CREATE VIEW user_active AS SELECT stream_id, version FROM es_streams "
                 "WHERE state = 'active'");
        }
        Db e;
        open_file(e, p.main, true);
        CHECK(run(e.db, "SELECT es_init()") == "3");
        CHECK(run(e.db, "SELECT * FROM user_active ORDER BY stream_id") == "img-1|1\norder-1|4");
    }
}

TEST_CASE("ids of a legacy-archived stream stay unique in main when it is restored") {
    // SPEC 1: event_id is unique in the database. Version 3 reserves the ids of streams it
    // moves (es_reserved_ids); a stream a version 2 store moved is not reserved after the
    // upgrade (main cannot know its ids while the archive is not attached), so an append may
    // take one of them. es_restore of the legacy move then copies the stream back without
    // checking its ids (copy_back checks them only when adopting), and main holds one id twice.
    // Expected: the restore refuses with duplicate_event and changes nothing.
    TempDir dir;
    const StorePaths p = copy_of_store(dir, Flavor::V2);
    Db e;
    open_file(e, p.main, true);
    CHECK(run(e.db, "SELECT es_init()") == "3");
    CHECK(run(e.db, R"(SELECT es_append('x-1', 0, '{"type":"X","data":{},"id":"old-1/a"}'))") ==
          "1");
    exec(e.db, "ATTACH " + q(p.cold) + " AS cold");
    const std::string main_before = dump(e.db);
    const std::string r = run(e.db, "SELECT es_restore('old-1', 'cold')");
    CHECK(r.rfind("error: duplicate_event: ", 0) == 0);
    CHECK(run(e.db,
              "SELECT count(*) FROM (SELECT event_id FROM es_events GROUP BY event_id "
              "HAVING count(*) > 1)") == "0");
    CHECK(run(e.db, "SELECT stream_id FROM es_all WHERE event_id = 'old-1/a'") == "x-1");
    CHECK(run(e.db, "SELECT es_status('old-1')") == "archived");
    if (r.rfind("error", 0) == 0) CHECK(dump(e.db) == main_before);
}

TEST_CASE("reads of a version 2 store not upgraded yet say how to upgrade it, and change nothing") {
    // eskit reads the version 3 layout only; a store no eskit writer has upgraded yet (read
    // here by a connection that never writes) is refused with SQLite's error and the remedy,
    // and nothing in the file changes. es_head() needs no version 3 table and answers.
    TempDir dir;
    const StorePaths p = copy_of_store(dir, Flavor::V2);
    Db e;
    open_file(e, p.main, true);
    const std::string untouched = dump(e.db);
    const std::string remedy =
        ": this store is at eskit schema version 2; SELECT es_init() (or any "
        "eskit write) upgrades it to version 3, which eskit reads";
    CHECK(run(e.db, "SELECT es_head()") == "12");
    CHECK(run(e.db, "SELECT es_status('order-1')") ==
          "error: no such table: main.es_lifecycle" + remedy);
    CHECK(run(e.db, "SELECT group_concat(version) FROM es_stream('order-1')") ==
          "error: no such table: main.es_lifecycle" + remedy);
    CHECK(run(e.db, "SELECT group_concat(seq) FROM es_all WHERE category = 'order'") ==
          "error: no such table: main.es_postings" + remedy);
    CHECK(run(e.db, "SELECT seq FROM es_all WHERE event_id = 'order-1/paid'") ==
          "error: no such table: main.es_event_ids" + remedy);
    CHECK(dump(e.db) == untouched);
    CHECK(schema_version(e.db) == "2");
    // After es_init() the same reads answer.
    CHECK(run(e.db, "SELECT es_init()") == "3");
    CHECK(run(e.db,
              "SELECT es_status('order-1'), es_status('cart-1'), es_status('old-1'), "
              "es_status('gone-1')") == "active|archived|archived|tombstoned");
    CHECK(run(e.db, "SELECT group_concat(version) FROM es_stream('order-1')") == "1,2,3,4");
    CHECK(run(e.db, "SELECT group_concat(seq) FROM es_all WHERE category = 'order'") == "1,2,3,11");
    CHECK(run(e.db, "SELECT seq FROM es_all WHERE event_id = 'order-1/paid'") == "11");
}

TEST_CASE(
    "es_init on an upgraded store whose newest events were deleted needs no write "
    "lock") {
    // extension.cpp: on a current store with nothing to fold es_init "writes nothing (so it
    // also answers on a read-only connection)". It compares es_head() (12, which counts the
    // deleted newest event of temp-1) with indexed_upto (11, the fold goes up to max(seq)), so
    // it sees a tail of one event that does not exist and takes the write lock on every call:
    // while another connection writes, a plain es_init() waits and fails with "database is
    // locked" instead of answering 3.
    TempDir dir;
    const StorePaths p = copy_of_store(dir, Flavor::V2);
    Db e;
    open_file(e, p.main, true);
    CHECK(run(e.db, "SELECT es_init()") == "3");
    Db writer;
    open_file(writer, p.main, false);
    exec(writer.db, "BEGIN IMMEDIATE");
    REQUIRE(sqlite3_busy_timeout(e.db, 0) == SQLITE_OK);
    CHECK(run(e.db, "SELECT es_init()") == "3");
    exec(writer.db, "COMMIT");
}

TEST_CASE(
    "es_restore refused for a database that is not the recorded archive writes "
    "nothing there") {
    // SPEC 2: a failed call changes nothing; the archive rules: no other attached database is ever
    // written. restore_from() upgrades the attached database to version 3 (its own
    // transaction, committed) before copy_back() finds it is not the archive old-1 went to.
    TempDir dir;
    const StorePaths p = copy_of_store(dir, Flavor::V2);
    Db e;
    open_file(e, p.main, true);
    CHECK(run(e.db, "SELECT es_init()") == "3");
    exec(e.db, "ATTACH " + q(p.cold) + " AS arch");
    const std::string main_before = dump(e.db);
    const std::string arch_before = dump(e.db, "arch");
    CHECK(run(e.db, "SELECT es_restore('old-1', 'arch')") ==
          "error: invalid_argument: es_restore(): stream 'old-1' is archived in another "
          "database (attached as 'cold' when it moved), not in 'arch'");
    CHECK(dump(e.db) == main_before);
    CHECK(schema_version(e.db, "arch") == "2");
    CHECK(dump(e.db, "arch") == arch_before);
}

TEST_CASE("an upgrade inside the caller's transaction commits or rolls back with it") {
    // SPEC 3: an eskit call joins the caller's transaction; the upgrade it makes is part of it.
    TempDir dir;
    const StorePaths p = copy_of_store(dir, Flavor::V2);
    Db e;
    open_file(e, p.main, true);
    const std::string untouched = dump(e.db);
    exec(e.db, "BEGIN");
    CHECK(run(e.db, "SELECT es_init()") == "3");
    CHECK(schema_version(e.db) == "3");
    CHECK(run(e.db, "SELECT group_concat(seq) FROM es_all WHERE category = 'order'") == "1,2,3,11");
    exec(e.db, "ROLLBACK");
    CHECK(dump(e.db) == untouched);
    exec(e.db, "BEGIN");
    CHECK(run(e.db, R"(SELECT es_append('order-1', 4, '{"type":"Shipped","data":{}}'))") == "5");
    exec(e.db, "ROLLBACK");
    CHECK(dump(e.db) == untouched);
    // The same connection upgrades again afterwards (it did not take the rolled-back upgrade
    // for done), and this time keeps it.
    exec(e.db, "BEGIN");
    CHECK(run(e.db, R"(SELECT es_append('order-1', 4, '{"type":"Shipped","data":{}}'))") == "5");
    exec(e.db, "COMMIT");
    CHECK(schema_version(e.db) == "3");
    CHECK(run(e.db, "SELECT seq FROM es_stream('order-1', 5)") == "13");
    CHECK(run(e.db,
              "SELECT instr(sql, 'AUTOINCREMENT') FROM sqlite_schema WHERE name = "
              "'es_events'") == "0");
    CHECK(run(e.db, "PRAGMA integrity_check") == "ok");
    e.close();
    Db p2;
    open_file(p2, p.main, false);
    CHECK(schema_version(p2.db) == "3");
    CHECK(run(p2.db, "SELECT count(*) FROM sqlite_sequence") == "0");
}

TEST_CASE("a connection in defensive mode upgrades too, keeping the AUTOINCREMENT keyword") {
    // schema.cpp: defensive mode forbids the writable_schema edit; the keyword then stays (and
    // sqlite_sequence with it), everything else is the same upgrade.
    TempDir dir;
    const StorePaths p = copy_of_store(dir, Flavor::V1);
    Db e;
    open_file(e, p.main, true);
    REQUIRE(sqlite3_db_config(e.db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr) == SQLITE_OK);
    const Content before = content(e.db);
    CHECK(run(e.db, "SELECT es_init()") == "3");
    CHECK(schema_version(e.db) == "3");
    check_same(content(e.db), before);
    CHECK(run(e.db,
              "SELECT instr(sql, 'AUTOINCREMENT') > 0 FROM sqlite_schema WHERE name = "
              "'es_events'") == "1");
    CHECK(run(e.db, "SELECT es_head(), (SELECT value FROM es_meta WHERE key = 'seq_floor')") ==
          "12|12");
    CHECK(run(e.db, "SELECT group_concat(seq) FROM es_all WHERE category = 'order'") == "1,2,3,11");
    CHECK(run(e.db, R"(SELECT es_append('order-1', 4, '{"type":"Shipped","data":{}}'))") == "5");
    CHECK(run(e.db, "SELECT seq FROM es_stream('order-1', 5)") == "13");
    CHECK(run(e.db, "PRAGMA integrity_check") == "ok");
}
