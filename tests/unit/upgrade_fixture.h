/*
** Shared by the upgrade tests (test_upgrade.cpp, test_upgrade_crash.cpp): the stores an older
** eskit wrote, built with plain SQLite from the embedded migration texts (migrations.h), and
** the ways the tests compare a database with what it was.
**
** THE FIXTURE
** One list of logical operations (script()) is written three ways:
**   * as version 1 eskit wrote it (class OldEskit): the es_guard token row while writing, seq
**     from AUTOINCREMENT, an es_streams row per stream, streams moved by copying their rows
**     into the attached archive ("cold") and recording archived_to = 'cold';
**   * as version 2 eskit wrote it (OldEskit after become_v2()): the store after
**     002_writer_function.sql (a version 2 store is a version 1 store upgraded by 002, so
**     AUTOINCREMENT stays), writes let through the new triggers by a stub of the zero-argument
**     writer function registered on the building connection, seq = one past the head, the head
**     recorded in es_meta ('seq_floor') before events are deleted;
**   * through eskit itself (replay() in test_upgrade.cpp), on a fresh version 3 store, for the
**     comparison of answers.
** A "v1" fixture runs the whole script as version 1; a "v2" fixture switches to version 2 (002
** applied to main and cold) at the Era2 step, so its later writes are version 2's. Both hold the
** same logical content:
**
**   seq  stream   what
**   1    order-1  Placed, caller id, metadata
**   2-3  order-1  Added, Added: generated-looking UUIDv7 ids, idempotency key k-1 (the id of
**                 seq 3 carries seq 2 in its last 40 bits, as a version 3 id would)
**   4    img-1    Uploaded, codec png (BLOB data), schema_version 2, an id carrying its own seq
**   5-6  gone-1   tombstoned ('gdpr'): events erased, row kept
**   7-8  cart-1   archived in place
**        snapshot order-1@3, checkpoint projector=4
**        --- Era2 (the v2 fixture becomes version 2 here) ---
**   9-10 old-1    then moved to the attached archive "cold" (rows and snapshot there)
**   11   order-1  Paid, expected version 3, idempotency key k-2
**   12   temp-1   tombstoned ('expired'): the newest event is gone, so the head (12) is above
**                 max(seq) (11)
**        checkpoint mailer=11
** and the user's objects on es_events, made before the first event: a partial expression index
** (user_total), a view (user_totals) and an AFTER INSERT trigger writing into a table of the
** user's (user_on_event -> user_log). The crash tests add N events (streams bulk-0, bulk-1, ...,
** seq 9 to 8 + N) just before Era2, so the later seq values move up by N there.
*/
#pragma once

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "eskit.h"
#include "migrations.h"
#include "sql_text.h"

namespace upgrade_test {

namespace fs = std::filesystem;
using eskit_test::run;

constexpr const char* kWriterFunction =
    "es_events and es_streams are written only by eskit: load the eskit extension";
inline const std::string kNoWriter = std::string("error: no such function: ") + kWriterFunction;

// A fresh directory under the system temp dir (in_memory: under /dev/shm when there is one, for
// the crash tests' thousands of copies), removed with everything in it.
struct TempDir {
    fs::path path;
    explicit TempDir(bool in_memory = false) {
        std::error_code ec;
        const fs::path base =
            in_memory && fs::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK) == 0
                ? fs::path("/dev/shm")
                : fs::temp_directory_path();
        std::string tmpl = (base / "eskit-upgrade-XXXXXX").string();
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
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

// Opens path (created if missing); with_eskit registers the extension in-process (eskit_core).
// synchronous=OFF unless full_sync: these tests never lose power, and a process kill loses
// nothing the OS was handed (the crash test keeps SQLite's default, FULL).
inline void open_file(Db& d, const std::string& path, bool with_eskit, const char* vfs = nullptr,
                      bool full_sync = false) {
    const int rc =
        sqlite3_open_v2(path.c_str(), &d.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs);
    INFO((d.db ? sqlite3_errmsg(d.db) : "out of memory"));
    REQUIRE(rc == SQLITE_OK);
    REQUIRE(sqlite3_busy_timeout(d.db, 5000) == SQLITE_OK);
    if (!full_sync) {
        REQUIRE(sqlite3_exec(d.db, "PRAGMA synchronous=OFF", nullptr, nullptr, nullptr) ==
                SQLITE_OK);
    }
    if (with_eskit) REQUIRE(eskit_register(d.db) == SQLITE_OK);
}

// Runs SQL (several statements allowed) that must succeed.
inline void exec(sqlite3* db, const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    const std::string msg = err ? err : "";
    sqlite3_free(err);
    INFO(sql, " -> ", msg);
    REQUIRE(rc == SQLITE_OK);
}

// Extended result code and message of a statement that must fail (prepare or first step).
inline std::pair<int, std::string> failure(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        sqlite3_finalize(s);  // keeps the error of the step (prepare_v2)
    }
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return {0, "no error"};
    return {sqlite3_extended_errcode(db), sqlite3_errmsg(db)};
}

inline void replace_all(std::string& s, const std::string& what, const std::string& with) {
    if (what.empty()) return;
    for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size())) {
        s.replace(at, what.size(), with);
    }
}

// The embedded text of sql/schema/00<version>_*.sql for the database "main" of a connection.
inline std::string migration_sql(int version) {
    constexpr size_t n = sizeof(eskit::ext::es_migrations) / sizeof(eskit::ext::es_migrations[0]);
    REQUIRE(n == 3);
    REQUIRE(version >= 1);
    REQUIRE(static_cast<size_t>(version) <= n);
    const eskit::ext::Migration& m = eskit::ext::es_migrations[version - 1];
    REQUIRE(m.version == version);
    std::string sql = m.sql;
    replace_all(sql, "@schema@", "main");
    return sql;
}

// ---------------------------------------------------------------------------------------------
// The script of logical operations (see the header comment).

struct Ev {
    const char* type;
    const char* json;    // data of codec json (JSON text), or nullptr
    const char* hex;     // data of another codec: the bytes in hex (for X'...')
    const char* base64;  // the same bytes in base64 (for es_append)
    const char* codec;
    const char* metadata;  // JSON object text or nullptr
    const char* id;
    int schema_version;
};

enum class OpKind { Append, ArchiveInPlace, Tombstone, Move, Snapshot, Checkpoint, Era2 };

struct Op {
    OpKind kind;
    const char* stream = "";
    int64_t expected = -1;  // Append: the expected version es_append gets
    std::vector<Ev> events = {};
    const char* key = nullptr;   // Append: idempotency key
    int64_t at = 0;              // the operation's time (µs): created_at / updated_at / ...
    const char* text = nullptr;  // Tombstone: reason; Snapshot: state; Checkpoint: consumer
    int64_t number = 0;          // Snapshot: version; Checkpoint: seq
};

constexpr int64_t kT0 = 1700000000000000;

// Ids as an older eskit generated them (UUIDv7 text, random low bits). G2's last 40 bits say
// seq 2 while it sits at seq 3; G3's say 4, its own seq: neither may be taken for the other.
constexpr const char* kG1 = "018bcfe5-6800-7a1e-9c3d-5f2e4b6a7c81";
constexpr const char* kG2 = "018bcfe5-6801-7b2f-8d4e-110000000002";
constexpr const char* kG3 = "018bcfe5-6802-7c30-a5f6-770000000004";

inline const std::vector<Op>& script() {
    static const std::vector<Op> ops = {
        {OpKind::Append,
         "order-1",
         0,
         {{"Placed", R"({"total":10})", nullptr, nullptr, "json", R"({"user":"ann"})",
           "order-1/placed", 1}},
         nullptr,
         kT0 + 1000},
        {OpKind::Append,
         "order-1",
         1,
         {{"Added", R"({"total":20})", nullptr, nullptr, "json", nullptr, kG1, 1},
          {"Added", R"({"total":5})", nullptr, nullptr, "json", R"({"n":2})", kG2, 1}},
         "k-1",
         kT0 + 2000},
        {OpKind::Append,
         "img-1",
         0,
         {{"Uploaded", nullptr, "89504E470D0A1A0A00FF", "iVBORw0KGgoA/w==", "png", nullptr, kG3,
           2}},
         nullptr,
         kT0 + 3000},
        {OpKind::Append,
         "gone-1",
         0,
         {{"Secret", R"({"total":100})", nullptr, nullptr, "json", nullptr, "gone-1/a", 1},
          {"Secret", R"({"total":200})", nullptr, nullptr, "json", nullptr, "gone-1/b", 1}},
         nullptr,
         kT0 + 4000},
        {OpKind::Tombstone, "gone-1", -1, {}, nullptr, kT0 + 5000, "gdpr"},
        {OpKind::Append,
         "cart-1",
         0,
         {{"Opened", R"({"total":1})", nullptr, nullptr, "json", nullptr, "cart-1/a", 1},
          {"Added", R"({"total":2})", nullptr, nullptr, "json", nullptr, "cart-1/b", 1}},
         nullptr,
         kT0 + 6000},
        {OpKind::ArchiveInPlace, "cart-1", -1, {}, nullptr, kT0 + 7000},
        {OpKind::Snapshot, "order-1", -1, {}, nullptr, kT0 + 8000, R"({"total":35})", 3},
        {OpKind::Checkpoint, "", -1, {}, nullptr, kT0 + 9000, "projector", 4},
        {OpKind::Era2},
        {OpKind::Append,
         "old-1",
         0,
         {{"Old", R"({"o":1})", nullptr, nullptr, "json", nullptr, "old-1/a", 1},
          {"Old", R"({"o":2})", nullptr, nullptr, "json", nullptr, "old-1/b", 1}},
         nullptr,
         kT0 + 10000},
        {OpKind::Snapshot, "old-1", -1, {}, nullptr, kT0 + 11000, R"({"o":3})", 2},
        {OpKind::Append,
         "order-1",
         3,
         {{"Paid", R"({"total":35})", nullptr, nullptr, "json", nullptr, "order-1/paid", 1}},
         "k-2",
         kT0 + 12000},
        {OpKind::Move, "old-1", -1, {}, nullptr, kT0 + 13000},
        {OpKind::Append,
         "temp-1",
         0,
         {{"Tmp", R"({"t":1})", nullptr, nullptr, "json", nullptr, "temp-1/a", 1}},
         nullptr,
         kT0 + 14000},
        {OpKind::Tombstone, "temp-1", -1, {}, nullptr, kT0 + 15000, "expired"},
        {OpKind::Checkpoint, "", -1, {}, nullptr, kT0 + 16000, "mailer", 11},
    };
    return ops;
}

// The user's objects on es_events (made before the first event, so the trigger logs them all).
// The index is partial and the view asks the codec first: SQLite 3.40's JSON functions throw on
// the BLOB data of other codecs.
constexpr const char* kUserObjects =
    "CREATE INDEX user_total ON es_events(json_extract(data, '$.total')) WHERE codec = 'json';\n"
    "CREATE VIEW user_totals AS SELECT stream_id, sum(CASE codec WHEN 'json' THEN "
    "json_extract(data, '$.total') END) AS total FROM es_events GROUP BY stream_id;\n"
    "CREATE TABLE user_log(seq INTEGER, stream_id TEXT);\n"
    "CREATE TRIGGER user_on_event AFTER INSERT ON es_events "
    "BEGIN INSERT INTO user_log VALUES (new.seq, new.stream_id); END;\n";

// ---------------------------------------------------------------------------------------------
// Writing the script as an older eskit did.

enum class Flavor { V1, V2 };
inline const char* flavor_name(Flavor f) { return f == Flavor::V1 ? "v1" : "v2"; }

inline std::string q(const std::string& s) {
    char* t = sqlite3_mprintf("%Q", s.c_str());
    std::string out(t);
    sqlite3_free(t);
    return out;
}
inline std::string q(const char* s) { return s ? q(std::string(s)) : "NULL"; }
inline std::string category_of(const std::string& stream) {
    return stream.substr(0, stream.find('-'));
}

// The zero-argument writer function of version 2, answering "eskit is writing" to the triggers.
inline void register_v2_writer_stub(sqlite3* db) {
    auto yes = [](sqlite3_context* ctx, int, sqlite3_value**) { sqlite3_result_int(ctx, 1); };
    REQUIRE(sqlite3_create_function_v2(db, kWriterFunction, 0, SQLITE_UTF8, nullptr, yes, nullptr,
                                       nullptr, nullptr) == SQLITE_OK);
}

class OldEskit {
  public:
    // db: main, with the archive attached as "cold"; both version 1 when constructed.
    explicit OldEskit(sqlite3* db) : db_(db) {}

    void apply(const Op& op) {
        switch (op.kind) {
            case OpKind::Append: append(op); break;
            case OpKind::ArchiveInPlace:
                write("UPDATE es_streams SET state = 'archived', updated_at = " +
                      std::to_string(op.at) + " WHERE stream_id = " + q(op.stream));
                break;
            case OpKind::Tombstone: tombstone(op); break;
            case OpKind::Move: move(op); break;
            case OpKind::Snapshot:
                write("INSERT OR REPLACE INTO es_snapshots VALUES (" + q(op.stream) + ", " +
                      std::to_string(op.number) + ", 1, 'json', " + q(op.text) + ", " +
                      std::to_string(op.at) + ")");
                break;
            case OpKind::Checkpoint:
                write("INSERT OR REPLACE INTO es_checkpoints VALUES (" + q(op.text) + ", " +
                      std::to_string(op.number) + ", " + std::to_string(op.at) + ")");
                break;
            case OpKind::Era2: break;  // build() decides
        }
    }

    // 002_writer_function.sql on main and cold, as version 2 eskit upgraded both.
    void become_v2() {
        std::string up = migration_sql(2);
        exec(
            db_, "BEGIN;\n" + up + "UPDATE es_meta SET value = 2 WHERE key = 'schema_version';\n" +
                     [&] {
                         std::string c = up;
                         replace_all(c, "main.", "cold.");
                         return c;
                     }() +
                     "UPDATE cold.es_meta SET value = 2 WHERE key = 'schema_version';\nCOMMIT");
        register_v2_writer_stub(db_);
        v2_ = true;
    }

  private:
    // One eskit call: version 1 put its token into es_guard of each database it wrote.
    void write(const std::string& sql) {
        if (v2_) {
            exec(db_, "BEGIN;\n" + sql + ";\nCOMMIT");
        } else {
            exec(db_,
                 "BEGIN; INSERT INTO main.es_guard VALUES (1); "
                 "INSERT INTO cold.es_guard VALUES (1);\n" +
                     sql + ";\nDELETE FROM main.es_guard; DELETE FROM cold.es_guard; COMMIT");
        }
    }

    int64_t head() {
        if (!v2_)
            return std::stoll(run(db_,
                                  "SELECT ifnull((SELECT seq FROM sqlite_sequence "
                                  "WHERE name = 'es_events'), 0)"));
        return std::stoll(run(db_,
                              "SELECT max(ifnull((SELECT max(seq) FROM main.es_events), 0), "
                              "ifnull((SELECT value FROM main.es_meta WHERE key = "
                              "'seq_floor'), 0))"));
    }

    // Version 2 recorded the head before it deleted events.
    std::string keep_head() const {
        if (!v2_) return "";
        return "INSERT OR REPLACE INTO main.es_meta(key, value) SELECT 'seq_floor', "
               "max(ifnull((SELECT max(seq) FROM main.es_events), 0), ifnull((SELECT value "
               "FROM main.es_meta WHERE key = 'seq_floor'), 0));\n";
    }

    void append(const Op& op) {
        const std::string s = op.stream;
        const int64_t first_version =
            std::stoll(run(db_,
                           "SELECT ifnull(max(version), 0) FROM main.es_events WHERE "
                           "stream_id = " +
                               q(s))) +
            1;
        REQUIRE(first_version - 1 == op.expected);
        int64_t seq = head();
        std::string sql;
        for (size_t i = 0; i < op.events.size(); ++i) {
            const Ev& e = op.events[i];
            const std::string data = e.json ? q(e.json) : std::string("X'") + e.hex + "'";
            sql +=
                "INSERT INTO main.es_events(seq, stream_id, category, version, type, data, "
                "metadata, codec, schema_version, event_id, idempotency_key, created_at) "
                "VALUES (" +
                (v2_ ? std::to_string(++seq) : std::string("NULL")) + ", " + q(s) + ", " +
                q(category_of(s)) + ", " + std::to_string(first_version + static_cast<int64_t>(i)) +
                ", " + q(e.type) + ", " + data + ", " + q(e.metadata) + ", " + q(e.codec) + ", " +
                std::to_string(e.schema_version) + ", " + q(e.id) + ", " + q(op.key) + ", " +
                std::to_string(op.at) + ");\n";
        }
        const int64_t last = first_version + static_cast<int64_t>(op.events.size()) - 1;
        sql +=
            "INSERT INTO main.es_streams(stream_id, category, version, state, created_at, "
            "updated_at) VALUES (" +
            q(s) + ", " + q(category_of(s)) + ", " + std::to_string(last) + ", 'active', " +
            std::to_string(op.at) + ", " + std::to_string(op.at) +
            ") ON CONFLICT(stream_id) DO UPDATE SET version = " +
            "excluded.version, updated_at = excluded.updated_at";
        write(sql);
    }

    void tombstone(const Op& op) {
        const std::string s = q(op.stream), at = std::to_string(op.at);
        write(
            keep_head() + "DELETE FROM main.es_events WHERE stream_id = " + s +
            ";\nDELETE FROM main.es_snapshots WHERE stream_id = " + s +
            ";\nUPDATE main.es_streams SET state = 'tombstoned', tombstone_reason = " + q(op.text) +
            ", tombstoned_at = " + at + ", updated_at = " + at + " WHERE stream_id = " + s);
    }

    // A move to the attached archive: rows and snapshot copied with their seq, a stream row in
    // the archive (state 'archived'), then main's copy deleted and archived_to recorded.
    void move(const Op& op) {
        const std::string s = q(op.stream), at = std::to_string(op.at);
        write("INSERT INTO cold.es_events SELECT * FROM main.es_events WHERE stream_id = " + s +
              " ORDER BY seq;\nINSERT INTO cold.es_snapshots SELECT * FROM main.es_snapshots "
              "WHERE stream_id = " +
              s +
              ";\nINSERT INTO cold.es_streams SELECT stream_id, "
              "category, version, 'archived', NULL, created_at, " +
              at +
              ", NULL, NULL FROM "
              "main.es_streams WHERE stream_id = " +
              s + ";\n" + keep_head() + "DELETE FROM main.es_events WHERE stream_id = " + s +
              ";\nDELETE FROM main.es_snapshots WHERE stream_id = " + s +
              ";\nUPDATE main.es_streams SET state = 'archived', archived_to = 'cold', "
              "updated_at = " +
              at + " WHERE stream_id = " + s);
    }

    sqlite3* db_;
    bool v2_ = false;
};

struct StorePaths {
    std::string main;
    std::string cold;
};

// Builds the fixture of the given flavor in dir (main.db and cold.db, or with a prefix), in WAL
// mode unless rollback is asked for. extra_events: that many more events in era 1 (stream
// bulk-N, 10 per stream), for the crash tests that need an upgrade with some work in it.
inline StorePaths build_store(const TempDir& dir, Flavor flavor, const std::string& prefix = "",
                              bool wal = true, int extra_events = 0) {
    StorePaths p{dir.file(prefix + "main.db"), dir.file(prefix + "cold.db")};
    Db d;
    open_file(d, p.main, false);
    CHECK(run(d.db, std::string("PRAGMA journal_mode=") + (wal ? "WAL" : "DELETE")) ==
          (wal ? "wal" : "delete"));
    exec(d.db,
         migration_sql(1) + "INSERT INTO es_meta VALUES ('schema_version', 1);\n" + kUserObjects);
    exec(d.db, "ATTACH " + q(p.cold) + " AS cold");
    {
        std::string cold = migration_sql(1);
        replace_all(cold, "main.", "cold.");
        exec(d.db, cold + "INSERT INTO cold.es_meta VALUES ('schema_version', 1);");
    }
    OldEskit old(d.db);
    for (const Op& op : script()) {
        if (op.kind == OpKind::Era2) {
            if (extra_events > 0) {
                exec(d.db,
                     "BEGIN; INSERT INTO es_guard VALUES (1);\n"
                     "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n "
                     "WHERE i + 1 < " +
                         std::to_string(extra_events) +
                         ")\n"
                         "INSERT INTO es_events(stream_id, category, version, type, data, "
                         "event_id, created_at) SELECT 'bulk-' || (i / 10), 'bulk', i % 10 + 1, "
                         "'Bulk' || (i % 3), json_object('i', i, 'pad', hex(zeroblob(40))), "
                         "'bulk/' || i, " +
                         std::to_string(kT0 + 9500) +
                         " FROM n;\n"
                         "INSERT INTO es_streams SELECT stream_id, 'bulk', max(version), "
                         "'active', NULL, " +
                         std::to_string(kT0 + 9500) + ", " + std::to_string(kT0 + 9500) +
                         ", NULL, NULL FROM es_events WHERE "
                         "category = 'bulk' GROUP BY stream_id;\n"
                         "DELETE FROM es_guard; COMMIT");
            }
            if (flavor == Flavor::V2) old.become_v2();
            continue;
        }
        old.apply(op);
    }
    exec(d.db, "DETACH cold");
    return p;
}

// The fixture of the flavor (WAL, no extra events) as copies in dir: built once per process
// into a directory of its own, then copied (files closed cleanly: no -wal to copy).
inline StorePaths copy_of_store(const TempDir& dir, Flavor flavor, const std::string& prefix = "") {
    static TempDir templates;
    static bool built[2] = {false, false};
    const int i = flavor == Flavor::V1 ? 0 : 1;
    const std::string tp = flavor_name(flavor) + std::string("-");
    if (!built[i]) {
        build_store(templates, flavor, tp);
        built[i] = true;
    }
    StorePaths p{dir.file(prefix + "main.db"), dir.file(prefix + "cold.db")};
    fs::copy_file(templates.file(tp + "main.db"), p.main);
    fs::copy_file(templates.file(tp + "cold.db"), p.cold);
    return p;
}

// ---------------------------------------------------------------------------------------------
// Comparing databases.

// Every object of schema (type, name, table, SQL) and every row of every table, values quoted
// (so 1, '1' and X'31' differ), rows in a fixed order: equal dumps are equal logical content.
inline std::string dump(sqlite3* db, const std::string& schema = "main") {
    std::string out = run(db, "SELECT type, name, tbl_name, sql FROM \"" + schema +
                                  "\".sqlite_schema ORDER BY type, name");
    sqlite3_stmt* t = nullptr;
    REQUIRE(sqlite3_prepare_v2(db,
                               ("SELECT name FROM \"" + schema +
                                "\".sqlite_schema WHERE "
                                "type = 'table' ORDER BY name")
                                   .c_str(),
                               -1, &t, nullptr) == SQLITE_OK);
    std::vector<std::string> tables;
    while (sqlite3_step(t) == SQLITE_ROW) {
        tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(t, 0)));
    }
    sqlite3_finalize(t);
    for (const std::string& name : tables) {
        const std::string cols = run(db,
                                     "SELECT group_concat('quote(\"' || name || '\")', ', ') "
                                     "FROM pragma_table_info(" +
                                         q(name) + ", " + q(schema) + ")");
        const std::string n =
            run(db, "SELECT count(*) FROM pragma_table_info(" + q(name) + ", " + q(schema) + ")");
        std::string order;
        for (int i = 1; i <= std::stoi(n); ++i) order += (i > 1 ? ", " : "") + std::to_string(i);
        out += "\n-- " + name + "\n" +
               run(db, "SELECT " + cols + " FROM \"" + schema + "\".\"" + name + "\" ORDER BY " +
                           order);
    }
    return out;
}

inline std::string store_id(sqlite3* db, const std::string& schema = "main") {
    return run(db, "SELECT value FROM \"" + schema + "\".es_meta WHERE key = 'store_id'");
}

// dump() with the store's identity replaced by "<store>", to compare two upgrades of one store.
inline std::string dump_v3(sqlite3* db, const std::string& schema = "main") {
    std::string d = dump(db, schema);
    const std::string id = store_id(db, schema);
    REQUIRE(id.size() == 36);
    replace_all(d, id, "<store>");
    return d;
}

inline std::string schema_version(sqlite3* db, const std::string& schema = "main") {
    return run(db, "SELECT value FROM \"" + schema + "\".es_meta WHERE key = 'schema_version'");
}

}  // namespace upgrade_test
