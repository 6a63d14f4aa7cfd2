/*
** Schema version 1 -> 2 (sql/schema/002_writer_function.sql), on real files in WAL mode.
**
** A version 1 store is built with plain SQLite from the embedded 001_init.sql, written the way
** a version 1 eskit wrote it (its es_guard token row while writing, seq from AUTOINCREMENT),
** with the newest events deleted so that sqlite_sequence is above max(seq), and with a user
** index, view and trigger on es_events. eskit then upgrades it (es_init, or implicitly with the
** first write) and must keep: the high-water mark (es_meta 'seq_floor' = the old
** sqlite_sequence value, es_head(), the next seq), the user objects, the data, and the
** append-only rule (RAISE message with eskit loaded; "no such function: ..." without it,
** while reads and integrity_check keep working there).
**
** Also: a store created by eskit at version 2 (no sqlite_sequence, no es_guard) keeps its head
** across es_delete and es_tombstone of the newest events; and an ATTACHed version 1 archive is
** upgraded by es_restore, which brings the events back with their original seq values.
*/
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <tuple>
#include <utility>

#include "eskit.h"
#include "migrations.h"
#include "sql_text.h"

namespace fs = std::filesystem;

namespace {

constexpr const char* kWriterFunction =
    "es_events and es_streams are written only by eskit: load the eskit extension";
const std::string kNoWriter = std::string("error: no such function: ") + kWriterFunction;

// A fresh directory under the system temp dir, removed with everything in it.
struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "eskit-upgrade-XXXXXX").string();
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string file(const char* name) const { return (path / name).string(); }
};

// An open connection, closed with sqlite3_close_v2 unless closed already.
struct Db {
    sqlite3* db = nullptr;
    Db() = default;
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;
    ~Db() { close(); }
    void close() {
        if (db) sqlite3_close_v2(db);
        db = nullptr;
    }
};

// Opens path; with_eskit registers the extension on the connection (in-process, eskit_core).
void open_file(Db& d, const std::string& path, bool with_eskit) {
    const int rc = sqlite3_open_v2(path.c_str(), &d.db,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    INFO((d.db ? sqlite3_errmsg(d.db) : "out of memory"));
    REQUIRE(rc == SQLITE_OK);
    REQUIRE(sqlite3_busy_timeout(d.db, 5000) == SQLITE_OK);
    if (with_eskit) REQUIRE(eskit_register(d.db) == SQLITE_OK);
}

using eskit_test::run;

// Runs SQL (several statements allowed) that must succeed.
void exec(sqlite3* db, const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    const std::string msg = err ? err : "";
    sqlite3_free(err);
    INFO(sql, " -> ", msg);
    REQUIRE(rc == SQLITE_OK);
}

// Extended result code and message of a statement that must fail (prepare or first step).
std::pair<int, std::string> failure(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        sqlite3_finalize(s);  // keeps the error of the step (prepare_v2)
    }
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return {0, "no error"};
    return {sqlite3_extended_errcode(db), sqlite3_errmsg(db)};
}

// 001_init.sql for schema "main": the version 1 layout.
std::string v1_sql() {
    REQUIRE(sizeof(eskit::ext::es_migrations) / sizeof(eskit::ext::es_migrations[0]) == 2);
    REQUIRE(eskit::ext::es_migrations[0].version == 1);
    REQUIRE(std::string(eskit::ext::es_migrations[0].name) == "001_init.sql");
    std::string sql = eskit::ext::es_migrations[0].sql;
    for (size_t at = sql.find("@schema@"); at != std::string::npos; at = sql.find("@schema@", at)) {
        sql.replace(at, 8, "main");
    }
    return sql;
}

// Makes the connection's file a version 1 store (empty) in WAL mode, as version 1 eskit did.
void make_v1_schema(sqlite3* db) {
    CHECK(run(db, "PRAGMA journal_mode=WAL") == "wal");
    exec(db, v1_sql());
    exec(db, "INSERT INTO es_meta VALUES ('schema_version', 1)");
}

// One event row, seq left to AUTOINCREMENT (NULL) unless given.
std::string event_row(const std::string& seq, const std::string& stream, int version,
                      const std::string& type, const std::string& data,
                      const std::string& key = "NULL") {
    const std::string category = stream.substr(0, stream.find('-'));
    return "INSERT INTO es_events(seq, stream_id, category, version, type, data, metadata, "
           "codec, schema_version, event_id, idempotency_key, created_at) VALUES (" +
           seq + ", '" + stream + "', '" + category + "', " + std::to_string(version) + ", '" +
           type + "', '" + data + "', NULL, 'json', 1, '" + stream + "-e" +
           std::to_string(version) + "', " + key + ", " +
           std::to_string(1600000000000000 + version) + ");\n";
}

std::string stream_row(const std::string& stream, int version, const char* state = "active",
                       const char* archived_to = "NULL") {
    const std::string category = stream.substr(0, stream.find('-'));
    return "INSERT INTO es_streams(stream_id, category, version, state, archived_to, created_at, "
           "updated_at) VALUES ('" + stream + "', '" + category + "', " +
           std::to_string(version) + ", '" + state + "', " + archived_to +
           ", 1600000000000000, 1600000000000001);\n";
}

// The version 1 store of the first test cases, written through the v1 guard token:
//   order-1: 3 events (seq 1..3, totals 10, 20, 30; the third with idempotency key k-1)
//   cart-1:  2 events (seq 4..5, totals 1, 2)
//   gone-1:  2 events (seq 6..7), then tombstoned as version 1 eskit did it: events deleted,
//            row kept with state 'tombstoned'. So sqlite_sequence is 7 and max(seq) is 5.
// Plus the user's objects on es_events: an expression index, a view and an AFTER INSERT
// trigger writing into a table of the user's.
void build_v1_store(const std::string& path) {
    Db d;
    open_file(d, path, false);
    make_v1_schema(d.db);
    exec(d.db, "INSERT INTO es_guard VALUES (1)");
    exec(d.db, "BEGIN;\n" +
                   event_row("NULL", "order-1", 1, "Placed", R"({"total":10})") +
                   event_row("NULL", "order-1", 2, "Added", R"({"total":20})") +
                   event_row("NULL", "order-1", 3, "Paid", R"({"total":30})", "'k-1'") +
                   stream_row("order-1", 3) +
                   event_row("NULL", "cart-1", 1, "Opened", R"({"total":1})") +
                   event_row("NULL", "cart-1", 2, "Added", R"({"total":2})") +
                   stream_row("cart-1", 2) +
                   event_row("NULL", "gone-1", 1, "Secret", R"({"total":100})") +
                   event_row("NULL", "gone-1", 2, "Secret", R"({"total":200})") +
                   stream_row("gone-1", 2) + "COMMIT");
    exec(d.db, "DELETE FROM es_events WHERE stream_id = 'gone-1'; "
               "UPDATE es_streams SET state = 'tombstoned', tombstone_reason = 'gdpr', "
               "tombstoned_at = 1600000000000009 WHERE stream_id = 'gone-1'");
    exec(d.db, "DELETE FROM es_guard");
    // The fixture is what the test needs: the high-water mark above max(seq).
    REQUIRE(run(d.db, "SELECT seq FROM sqlite_sequence WHERE name = 'es_events'") == "7");
    REQUIRE(run(d.db, "SELECT max(seq), count(*) FROM es_events") == "5|5");
    // Version 1's guard really is back in force: direct writes are refused.
    REQUIRE(run(d.db, "DELETE FROM es_events") ==
            "error: es_events is append-only: remove streams with es_tombstone() or es_delete()");
    exec(d.db, "CREATE INDEX user_total ON es_events(json_extract(data, '$.total'));\n"
               "CREATE VIEW user_totals AS SELECT stream_id, sum(json_extract(data, '$.total')) "
               "AS total FROM es_events GROUP BY stream_id;\n"
               "CREATE TABLE user_log(seq INTEGER, stream_id TEXT);\n"
               "CREATE TRIGGER user_on_event AFTER INSERT ON es_events "
               "BEGIN INSERT INTO user_log VALUES (new.seq, new.stream_id); END;");
}

const char* kSixTriggers =
    "('es_events_no_insert', 'es_events_no_update', 'es_events_no_delete', "
    "'es_streams_no_insert', 'es_streams_no_update', 'es_streams_no_delete')";

// The version 2 append-only triggers of `schema`: all six there, every one asking the writer
// function, none mentioning es_guard; and no es_guard table.
void check_v2_guards(sqlite3* db, const std::string& schema) {
    CHECK(run(db, "SELECT count(*) FROM " + schema + ".sqlite_schema WHERE type = 'trigger' "
                  "AND name IN " + kSixTriggers + " AND instr(sql, '\"" + kWriterFunction +
                  "\"()') > 0") == "6");
    CHECK(run(db, "SELECT count(*) FROM " + schema + ".sqlite_schema WHERE name = 'es_guard' "
                  "OR sql LIKE '%es_guard%'") == "0");
}

}  // namespace

TEST_CASE("es_init upgrades a version 1 store to version 2") {
    TempDir dir;
    const std::string path = dir.file("v1.db");
    build_v1_store(path);

    Db e;
    open_file(e, path, true);
    // Before the upgrade, eskit reads a version 1 store as it is: the head is sqlite_sequence.
    CHECK(run(e.db, "SELECT value FROM es_meta WHERE key = 'schema_version'") == "1");
    CHECK(run(e.db, "SELECT es_head(), es_status('gone-1'), es_status('order-1')") ==
          "7|tombstoned|active");

    CHECK(run(e.db, "SELECT es_init()") == "2");
    CHECK(run(e.db, "SELECT value FROM es_meta WHERE key = 'schema_version'") == "2");
    CHECK(run(e.db, "SELECT value FROM es_meta WHERE key = 'seq_floor'") == "7");
    CHECK(run(e.db, "SELECT es_head()") == "7");
    CHECK(run(e.db, "SELECT count(*) FROM sqlite_schema WHERE name = 'es_guard'") == "0");
    check_v2_guards(e.db, "main");
    // es_init again: nothing to do, nothing changes.
    const std::string schema_after = run(e.db, "SELECT type, name, sql FROM sqlite_schema "
                                               "ORDER BY name");
    const std::string meta_after = run(e.db, "SELECT * FROM es_meta ORDER BY key");
    CHECK(run(e.db, "SELECT es_init()") == "2");
    CHECK(run(e.db, "SELECT type, name, sql FROM sqlite_schema ORDER BY name") == schema_after);
    CHECK(run(e.db, "SELECT * FROM es_meta ORDER BY key") == meta_after);

    // The data came through unchanged.
    CHECK(run(e.db, "SELECT seq, stream_id, version, type FROM es_all") ==
          "1|order-1|1|Placed\n2|order-1|2|Added\n3|order-1|3|Paid\n"
          "4|cart-1|1|Opened\n5|cart-1|2|Added");
    CHECK(run(e.db, "SELECT stream_id, version, state, tombstone_reason FROM es_streams "
                    "ORDER BY stream_id") ==
          "cart-1|2|active|NULL\ngone-1|2|tombstoned|gdpr\norder-1|3|active|NULL");
    // The idempotency key of a version 1 append still answers the replay.
    CHECK(run(e.db, R"(SELECT es_append('order-1', 0, '[]', '{"idempotency_key":"k-1"}'))") ==
          "3");
    CHECK(failure(e.db, R"(SELECT es_append('gone-1', -1, '{"type":"X","data":1}'))").second
              .rfind("tombstoned: ", 0) == 0);

    // The user's index, view and trigger survived the upgrade.
    CHECK(run(e.db, "SELECT type, name FROM sqlite_schema WHERE name LIKE 'user%' "
                    "ORDER BY name") ==
          "table|user_log\ntrigger|user_on_event\nindex|user_total\nview|user_totals");
    CHECK(run(e.db, "SELECT * FROM user_totals ORDER BY stream_id") == "cart-1|3\norder-1|60");
    CHECK(run(e.db, "SELECT count(*) FROM user_log") == "0");

    // The next append gets one past the old high-water mark, never a deleted position (6, 7);
    // the user's trigger fires for it, and the index and view see it.
    CHECK(run(e.db, R"(SELECT es_append('order-1', 3, '{"type":"Shipped","data":{"total":5}}'))")
          == "4");
    CHECK(run(e.db, "SELECT seq, version FROM es_stream('order-1', 4)") == "8|4");
    CHECK(run(e.db, "SELECT * FROM user_log") == "8|order-1");
    CHECK(run(e.db, "SELECT * FROM user_totals ORDER BY stream_id") == "cart-1|3\norder-1|65");
    const std::string plan = run(e.db, "EXPLAIN QUERY PLAN SELECT seq FROM es_events "
                                       "WHERE json_extract(data, '$.total') = 5");
    CHECK(plan.find("user_total") != std::string::npos);
    CHECK(run(e.db, "SELECT seq FROM es_events WHERE json_extract(data, '$.total') = 5") == "8");
    // A batch takes consecutive positions after that.
    CHECK(run(e.db, R"(SELECT es_append('new-1', 0, '[{"type":"A","data":1},{"type":"B","data":2}]'))")
          == "2");
    CHECK(run(e.db, "SELECT group_concat(seq) FROM es_stream('new-1')") == "9,10");
    CHECK(run(e.db, "SELECT es_head()") == "10");
    CHECK(run(e.db, "SELECT group_concat(seq) FROM user_log") == "8,9,10");

    // Direct writes with eskit loaded: the triggers' RAISE messages.
    const std::string forged = event_row("NULL", "order-1", 5, "Forged", "{}");
    const std::string forged_sql = forged.substr(0, forged.size() - 2);  // without ";\n"
    auto [rc, msg] = failure(e.db, forged_sql);
    CHECK(rc == SQLITE_CONSTRAINT_TRIGGER);
    CHECK(msg == "es_events is append-only: add events with es_append()");
    std::tie(rc, msg) = failure(e.db, "UPDATE es_streams SET version = 99");
    CHECK(rc == SQLITE_CONSTRAINT_TRIGGER);
    CHECK(msg == "es_streams is maintained by eskit: use es_append(), es_archive(), "
                 "es_restore() or es_tombstone()");
    std::tie(rc, msg) = failure(e.db, "DELETE FROM es_events WHERE seq = 1");
    CHECK(rc == SQLITE_CONSTRAINT_TRIGGER);
    CHECK(msg == "es_events is append-only: remove streams with es_tombstone() or es_delete()");
    const std::string events_now = run(e.db, "SELECT * FROM es_events ORDER BY seq");
    const std::string streams_now = run(e.db, "SELECT * FROM es_streams ORDER BY stream_id");
    e.close();

    // A connection without eskit: writes do not even prepare; reads and checks work.
    Db p;
    open_file(p, path, false);
    CHECK(run(p.db, "SELECT es_head()") == "error: no such function: es_head");
    std::tie(rc, msg) = failure(p.db, forged_sql);
    CHECK(rc == SQLITE_ERROR);
    CHECK("error: " + msg == kNoWriter);
    CHECK(run(p.db, "DELETE FROM es_streams") == kNoWriter);
    CHECK(run(p.db, "UPDATE es_events SET data = '{}'") == kNoWriter);
    CHECK(run(p.db, "SELECT * FROM es_events ORDER BY seq") == events_now);
    CHECK(run(p.db, "SELECT * FROM es_streams ORDER BY stream_id") == streams_now);
    CHECK(run(p.db, "SELECT * FROM user_totals ORDER BY stream_id") ==
          "cart-1|3\nnew-1|NULL\norder-1|65");
    CHECK(run(p.db, "PRAGMA integrity_check") == "ok");
    CHECK(run(p.db, "PRAGMA journal_mode") == "wal");
    // The high-water mark is in the file, for any reader.
    CHECK(run(p.db, "SELECT value FROM es_meta WHERE key = 'seq_floor'") == "7");
}

TEST_CASE("the first eskit write upgrades a version 1 store without es_init") {
    TempDir dir;
    const std::string path = dir.file("v1.db");
    build_v1_store(path);

    Db e;
    open_file(e, path, true);
    CHECK(run(e.db, R"(SELECT es_append('cart-1', 2, '{"type":"Paid","data":{"total":4}}'))") ==
          "3");
    CHECK(run(e.db, "SELECT seq FROM es_stream('cart-1', 3)") == "8");
    CHECK(run(e.db, "SELECT value FROM es_meta WHERE key = 'schema_version'") == "2");
    CHECK(run(e.db, "SELECT value FROM es_meta WHERE key = 'seq_floor'") == "7");
    check_v2_guards(e.db, "main");
    CHECK(run(e.db, "SELECT * FROM user_log") == "8|cart-1");
    // An eskit delete of the newest stream on the upgraded store keeps the head too.
    CHECK(run(e.db, "SELECT es_delete('cart-1')") == "3");
    CHECK(run(e.db, "SELECT es_head(), (SELECT max(seq) FROM es_events)") == "8|3");
    CHECK(run(e.db, R"(SELECT es_append('cart-1', 0, '{"type":"Opened","data":{}}'))") == "1");
    CHECK(run(e.db, "SELECT seq FROM es_stream('cart-1')") == "9");
    CHECK(run(e.db, "PRAGMA integrity_check") == "ok");
}

TEST_CASE("a version 2 store keeps its head across es_delete and es_tombstone") {
    TempDir dir;
    const std::string path = dir.file("v2.db");
    Db e;
    open_file(e, path, true);
    CHECK(run(e.db, "PRAGMA journal_mode=WAL") == "wal");
    CHECK(run(e.db, "SELECT es_init()") == "2");
    CHECK(run(e.db, "SELECT value FROM es_meta WHERE key = 'schema_version'") == "2");
    CHECK(run(e.db, "SELECT count(*) FROM sqlite_schema WHERE name IN "
                    "('sqlite_sequence', 'es_guard')") == "0");
    CHECK(run(e.db, "SELECT sql NOT LIKE '%AUTOINCREMENT%' FROM sqlite_schema "
                    "WHERE name = 'es_events'") == "1");
    check_v2_guards(e.db, "main");

    CHECK(run(e.db, R"(SELECT es_append('a-1', 0, '[{"type":"A","data":1},{"type":"A","data":2},)"
                    R"({"type":"A","data":3}]'))") == "3");
    CHECK(run(e.db, R"(SELECT es_append('b-1', 0, '[{"type":"B","data":1},{"type":"B","data":2}]'))")
          == "2");
    CHECK(run(e.db, "SELECT group_concat(seq) FROM es_all") == "1,2,3,4,5");
    CHECK(run(e.db, "SELECT count(*) FROM es_meta WHERE key = 'seq_floor'") == "0");
    CHECK(run(e.db, "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_sequence'") == "0");

    // es_delete of the stream holding the newest events: the head stays at 5.
    CHECK(run(e.db, "SELECT es_delete('b-1')") == "2");
    CHECK(run(e.db, "SELECT es_head(), (SELECT max(seq) FROM es_events)") == "5|3");
    CHECK(run(e.db, "SELECT value FROM es_meta WHERE key = 'seq_floor'") == "5");
    {  // durable: another connection (and a reopen) sees the same head
        Db other;
        open_file(other, path, true);
        CHECK(run(other.db, "SELECT es_head()") == "5");
    }
    CHECK(run(e.db, R"(SELECT es_append('b-1', 0, '{"type":"B","data":9}'))") == "1");
    CHECK(run(e.db, "SELECT seq FROM es_stream('b-1')") == "6");

    // es_tombstone of the stream now holding the newest event: the head stays at 6.
    CHECK(run(e.db, "SELECT es_tombstone('b-1', 'gdpr')") == "1");
    CHECK(run(e.db, "SELECT es_head(), (SELECT max(seq) FROM es_events)") == "6|3");
    CHECK(run(e.db, "SELECT es_status('b-1')") == "tombstoned");
    CHECK(run(e.db, R"(SELECT es_append('a-1', 3, '{"type":"A","data":4}'))") == "4");
    CHECK(run(e.db, "SELECT seq FROM es_stream('a-1', 4)") == "7");
    CHECK(run(e.db, "SELECT es_head()") == "7");
    CHECK(run(e.db, "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_sequence'") == "0");
    e.close();

    Db p;
    open_file(p, path, false);
    CHECK(run(p.db, "PRAGMA integrity_check") == "ok");
    CHECK(run(p.db, "SELECT group_concat(seq) FROM (SELECT seq FROM es_events ORDER BY seq)") ==
          "1,2,3,7");
    CHECK(run(p.db, "INSERT INTO es_streams(stream_id, category, version, created_at, "
                    "updated_at) VALUES ('x', 'x', 1, 1, 1)") == kNoWriter);
}

TEST_CASE("es_restore from an ATTACHed version 1 archive upgrades it and keeps seq") {
    TempDir dir;
    const std::string main_path = dir.file("main.db");
    const std::string cold_path = dir.file("cold.db");
    {  // main, version 1: order-1 (seq 1..3), old-1 (seq 4..5, since moved to cold), late-1 (6)
        Db d;
        open_file(d, main_path, false);
        make_v1_schema(d.db);
        exec(d.db, "INSERT INTO es_guard VALUES (1)");
        exec(d.db, "BEGIN;\n" + event_row("NULL", "order-1", 1, "A", R"({"n":1})") +
                       event_row("NULL", "order-1", 2, "A", R"({"n":2})") +
                       event_row("NULL", "order-1", 3, "A", R"({"n":3})") +
                       stream_row("order-1", 3) +
                       event_row("NULL", "old-1", 1, "Old", R"({"o":1})") +
                       event_row("NULL", "old-1", 2, "Old", R"({"o":2})") +
                       stream_row("old-1", 2, "archived", "'cold'") +
                       event_row("NULL", "late-1", 1, "L", R"({"l":1})") +
                       stream_row("late-1", 1) + "COMMIT");
        exec(d.db, "DELETE FROM es_events WHERE stream_id = 'old-1'");
        exec(d.db, "DELETE FROM es_guard");
        REQUIRE(run(d.db, "SELECT seq FROM sqlite_sequence") == "6");
        REQUIRE(run(d.db, "SELECT group_concat(seq) FROM es_events") == "1,2,3,6");
    }
    {  // cold, version 1: old-1's events with their original seq, its row state 'archived'
        Db d;
        open_file(d, cold_path, false);
        make_v1_schema(d.db);
        exec(d.db, "INSERT INTO es_guard VALUES (1)");
        exec(d.db, "BEGIN;\n" + event_row("4", "old-1", 1, "Old", R"({"o":1})") +
                       event_row("5", "old-1", 2, "Old", R"({"o":2})") +
                       stream_row("old-1", 2, "archived") + "COMMIT");
        exec(d.db, "DELETE FROM es_guard");
        REQUIRE(run(d.db, "SELECT count(*) FROM es_events") == "2");
    }

    Db e;
    open_file(e, main_path, true);
    exec(e.db, "ATTACH '" + cold_path + "' AS cold");
    CHECK(run(e.db, "SELECT value FROM cold.es_meta WHERE key = 'schema_version'") == "1");
    CHECK(run(e.db, "SELECT es_status('old-1')") == "archived");
    const std::string cold_rows = run(e.db, "SELECT * FROM cold.es_events ORDER BY seq");

    CHECK(run(e.db, "SELECT es_restore('old-1', 'cold')") == "2");
    CHECK(run(e.db, "SELECT es_status('old-1')") == "active");
    // The original seq values, and the rows byte for byte.
    CHECK(run(e.db, "SELECT seq, version, type, data FROM es_stream('old-1')") ==
          "4|1|Old|{\"o\":1}\n5|2|Old|{\"o\":2}");
    CHECK(run(e.db, "SELECT * FROM main.es_events WHERE stream_id = 'old-1' ORDER BY seq") ==
          cold_rows);
    CHECK(run(e.db, "SELECT group_concat(seq) FROM es_all") == "1,2,3,4,5,6");
    CHECK(run(e.db, "SELECT stream_id, version, state, archived_to FROM es_streams "
                    "WHERE stream_id = 'old-1'") == "old-1|2|active|NULL");
    CHECK(run(e.db, "SELECT count(*) FROM cold.es_events") == "0");
    CHECK(run(e.db, "SELECT count(*) FROM cold.es_streams") == "0");
    // Both databases are at version 2 now, each with its own high-water mark.
    CHECK(run(e.db, "SELECT value FROM cold.es_meta WHERE key = 'schema_version'") == "2");
    CHECK(run(e.db, "SELECT value FROM cold.es_meta WHERE key = 'seq_floor'") == "5");
    check_v2_guards(e.db, "cold");
    CHECK(run(e.db, "SELECT value FROM main.es_meta WHERE key = 'schema_version'") == "2");
    CHECK(run(e.db, "SELECT value FROM main.es_meta WHERE key = 'seq_floor'") == "6");
    check_v2_guards(e.db, "main");
    CHECK(run(e.db, "SELECT es_head()") == "6");
    CHECK(run(e.db, R"(SELECT es_append('old-1', 2, '{"type":"New","data":{}}'))") == "3");
    CHECK(run(e.db, "SELECT seq FROM es_stream('old-1', 3)") == "7");
    // The upgraded archive takes the next archive as a version 2 archive.
    CHECK(run(e.db, "SELECT es_archive('late-1', 'cold')") == "1");
    CHECK(run(e.db, "SELECT seq, stream_id FROM cold.es_events") == "6|late-1");
    CHECK(run(e.db, "PRAGMA cold.integrity_check") == "ok");
    // With eskit loaded, the archive's new triggers refuse direct writes with their message.
    auto [rc, msg] = failure(e.db, "DELETE FROM cold.es_events");
    CHECK(rc == SQLITE_CONSTRAINT_TRIGGER);
    CHECK(msg == "es_events is append-only: remove streams with es_tombstone() or es_delete()");
    e.close();

    // The archive file itself, opened without eskit.
    Db p;
    open_file(p, cold_path, false);
    CHECK(run(p.db, "SELECT value FROM es_meta WHERE key = 'schema_version'") == "2");
    CHECK(run(p.db, "SELECT count(*) FROM sqlite_schema WHERE name = 'es_guard'") == "0");
    CHECK(run(p.db, "SELECT seq, stream_id FROM es_events") == "6|late-1");
    CHECK(run(p.db, "DELETE FROM es_events") == kNoWriter);
    CHECK(run(p.db, "PRAGMA integrity_check") == "ok");
}

TEST_CASE("a version 1 store whose user dropped one of the old triggers still upgrades") {
    TempDir dir;
    const std::string path = dir.file("v1.db");
    build_v1_store(path);
    {  // The user removed one of version 1's append-only triggers.
        Db d;
        open_file(d, path, false);
        exec(d.db, "DROP TRIGGER es_events_no_update");
        REQUIRE(run(d.db, std::string("SELECT count(*) FROM sqlite_schema WHERE type = "
                                      "'trigger' AND name IN ") + kSixTriggers) == "5");
    }

    Db e;
    open_file(e, path, true);
    // 002 drops the old triggers with IF EXISTS: the missing one does not stop the upgrade.
    CHECK(run(e.db, "SELECT es_init()") == "2");
    CHECK(run(e.db, "SELECT value FROM es_meta WHERE key = 'schema_version'") == "2");
    CHECK(run(e.db, "SELECT value FROM es_meta WHERE key = 'seq_floor'") == "7");
    // All six are there again, each asking the writer function.
    CHECK(run(e.db, std::string("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' "
                                "AND name IN ") + kSixTriggers) == "6");
    CHECK(run(e.db, std::string("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' "
                                "AND name IN ") + kSixTriggers +
                        " AND instr(sql, 'es_events and es_streams are written only by "
                        "eskit') > 0") == "6");
    check_v2_guards(e.db, "main");
    // The recreated trigger is in force, with its message, on the eskit connection.
    const std::string events_before = run(e.db, "SELECT * FROM es_events ORDER BY seq");
    auto [rc, msg] = failure(e.db, "UPDATE es_events SET data = '{}' WHERE seq = 1");
    CHECK(rc == SQLITE_CONSTRAINT_TRIGGER);
    CHECK(msg == "es_events is append-only: events cannot be updated");
    CHECK(run(e.db, "SELECT * FROM es_events ORDER BY seq") == events_before);
    // And eskit's own writes still go through.
    CHECK(run(e.db, R"(SELECT es_append('order-1', 3, '{"type":"Shipped","data":{"total":5}}'))")
          == "4");
    CHECK(run(e.db, "SELECT seq FROM es_stream('order-1', 4)") == "8");
    CHECK(run(e.db, "PRAGMA integrity_check") == "ok");
}
