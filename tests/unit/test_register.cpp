/*
** Registration of the extension: in-process through eskit_core (eskit_register and
** sqlite3_auto_extension) and as the built module from $ES_EXT (sqlite3_load_extension).
** Covers the SQL surface being reachable, registration creating nothing, clean close with the
** legacy sqlite3_close(), two cursors of one table at once, and errors coming back as SQLite
** errors rather than C++ exceptions.
*/
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "eskit.h"
#include "sql_text.h"
#include "version.h"

namespace {

// An open connection, closed with sqlite3_close_v2 unless the test closed it already.
struct Db {
    sqlite3* db = nullptr;
    Db() = default;
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;
    ~Db() {
        if (db) sqlite3_close_v2(db);
    }
    // The legacy close; on success the handle is gone, on failure the destructor retries.
    int close_legacy() {
        const int rc = sqlite3_close(db);
        if (rc == SQLITE_OK) db = nullptr;
        return rc;
    }
};

void open_memory(Db& d) {
    const int rc = sqlite3_open(":memory:", &d.db);
    INFO((d.db ? sqlite3_errmsg(d.db) : "out of memory"));
    REQUIRE(rc == SQLITE_OK);
}

void open_registered(Db& d) {
    open_memory(d);
    REQUIRE(eskit_register(d.db) == SQLITE_OK);
}

const char* ext_path() {
    const char* path = std::getenv("ES_EXT");
    INFO("ES_EXT must name the built eskit.so (meson test sets it)");
    REQUIRE(path != nullptr);
    return path;
}

void open_loaded(Db& d) {
    open_memory(d);
    REQUIRE(sqlite3_db_config(d.db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, nullptr) ==
            SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_load_extension(d.db, ext_path(), nullptr, &err);
    const std::string msg = err ? err : "";
    sqlite3_free(err);
    INFO("sqlite3_load_extension: ", msg);
    REQUIRE(rc == SQLITE_OK);
}

using eskit_test::run;

// Result code of stepping sql once (SQLITE_ROW/SQLITE_DONE, or the error code).
int step_rc(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    const int prc = sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
    if (prc != SQLITE_OK) return prc;
    const int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc;
}

int64_t table_count(sqlite3* db) {
    return std::stoll(run(db, "SELECT count(*) FROM sqlite_schema"));
}

// A short session touching every cached statement family: appends (new stream, existing
// stream, with options), a conflict, the read tables and the scalar readers.
void exercise(sqlite3* db) {
    CHECK(run(db, R"(SELECT es_append('order-17', 0, '[{"type":"Placed","data":{"n":1}},)"
                  R"({"type":"Paid","data":19.99}]'))") == "2");
    CHECK(run(db, R"(SELECT es_append('order-17', 2, '{"type":"Shipped","data":null}',)"
                  R"( '{"idempotency_key":"k1","metadata":{"by":"u1"}}'))") == "3");
    CHECK(run(db, R"(SELECT es_append('order-17', 0, '{"type":"X","data":1}'))") ==
          "error: conflict: stream 'order-17' is at version 3, expected 0");
    CHECK(run(db, R"(SELECT es_append('cart-1', NULL, '{"type":"Added","data":[1,2]}'))") == "1");
    CHECK(run(db, "SELECT version, type, data, metadata FROM es_stream('order-17')") ==
          "1|Placed|{\"n\":1}|NULL\n"
          "2|Paid|19.99|NULL\n"
          "3|Shipped|null|{\"by\":\"u1\"}");
    CHECK(run(db, "SELECT seq, stream_id, category, version FROM es_all") ==
          "1|order-17|order|1\n2|order-17|order|2\n3|order-17|order|3\n4|cart-1|cart|1");
    CHECK(run(db, "SELECT seq FROM es_all(2) WHERE category = 'order'") == "3");
    CHECK(run(db, "SELECT es_head(), es_status('order-17'), es_status('nope')") == "4|active|none");
}

}  // namespace

TEST_CASE("eskit_register: the SQL surface works in-process") {
    Db d;
    open_registered(d);

    SUBCASE("es_version is the project version") {
        CHECK(run(d.db, "SELECT es_version()") == ES_VERSION);
        CHECK(std::string(ES_VERSION).find('.') != std::string::npos);
        CHECK(run(d.db, "SELECT substr(es_debug(), 1, instr(es_debug(), char(10)) - 1)") ==
              std::string("eskit ") + ES_VERSION);
    }
    SUBCASE("es_append and es_stream") {
        exercise(d.db);
        CHECK(run(d.db,
                  "SELECT codec, schema_version, length(event_id), idempotency_key "
                  "FROM es_stream('order-17', 3)") == "json|1|36|k1");
    }
}

// A second registration on the same connection (eskit_register after an auto extension, or
// `.load ./eskit` typed twice) replaces the first one while its virtual tables may still be
// connected; SQLite disconnects those later, so they must not outlive the state they use.
// Memory errors here show under ASan.
TEST_CASE("registering twice on one connection replaces the first registration") {
    Db d;
    auto use_then_register_again = [&](void (*register_again)(Db&)) {
        CHECK(run(d.db, R"(SELECT es_append('a-1', 0, '{"type":"T","data":1}'))") == "1");
        CHECK(run(d.db, "SELECT count(*) FROM es_stream('a-1')") == "1");
        CHECK(run(d.db, "SELECT count(*) FROM es_all") == "1");
        register_again(d);
        CHECK(run(d.db, R"(SELECT es_append('a-1', 1, '{"type":"T","data":2}'))") == "2");
        CHECK(run(d.db, "SELECT group_concat(data) FROM es_stream('a-1')") == "1,2");
        CHECK(run(d.db, "SELECT count(*) FROM es_all a JOIN es_all b ON a.seq = b.seq") == "2");
        CHECK(d.close_legacy() == SQLITE_OK);
    };
    SUBCASE("eskit_register twice") {
        open_registered(d);
        use_then_register_again([](Db& x) { REQUIRE(eskit_register(x.db) == SQLITE_OK); });
    }
    SUBCASE("the module loaded twice") {
        open_loaded(d);
        use_then_register_again([](Db& x) {
            char* err = nullptr;
            const int rc = sqlite3_load_extension(x.db, ext_path(), nullptr, &err);
            const std::string msg = err ? err : "";
            sqlite3_free(err);
            INFO("sqlite3_load_extension: ", msg);
            REQUIRE(rc == SQLITE_OK);
        });
    }
}

TEST_CASE("registration creates no tables") {
    Db d;
    open_registered(d);
    CHECK(table_count(d.db) == 0);

    SUBCASE("reads on an empty database create nothing either") {
        CHECK(run(d.db, "SELECT es_version(), es_head(), es_status('order-17')") ==
              std::string(ES_VERSION) + "|0|none");
        CHECK(run(d.db, "SELECT count(*) FROM es_stream('order-17')") == "0");
        CHECK(run(d.db, "SELECT count(*) FROM es_all") == "0");
        CHECK(run(d.db, "SELECT count(*) FROM es_all(5) WHERE category = 'x'") == "0");
        CHECK(table_count(d.db) == 0);
    }
    SUBCASE("a rejected append creates nothing") {
        CHECK(run(d.db, R"(SELECT es_append('s', 0, '{"type":"a"}'))") ==
              "error: invalid_argument: es_append(): events[0] is missing 'data'");
        CHECK(table_count(d.db) == 0);
    }
    SUBCASE("the first write creates the tables") {
        CHECK(run(d.db, R"(SELECT es_append('s', 0, '{"type":"a","data":1}'))") == "1");
        CHECK(run(d.db,
                  "SELECT count(*) FROM sqlite_schema WHERE name IN "
                  "('es_events', 'es_streams', 'es_snapshots', 'es_checkpoints')") == "4");
    }
}

TEST_CASE("sqlite3_auto_extension registers every new connection") {
    // Process-wide state: undone on every path out of this test case.
    struct AutoExtension {
        int rc = sqlite3_auto_extension(reinterpret_cast<void (*)(void)>(sqlite3_eskit_init));
        ~AutoExtension() { sqlite3_reset_auto_extension(); }
    } guard;
    REQUIRE(guard.rc == SQLITE_OK);

    Db a, b;
    open_memory(a);
    open_memory(b);
    CHECK(run(a.db, "SELECT es_version()") == ES_VERSION);
    CHECK(run(b.db, R"(SELECT es_append('s-1', 0, '{"type":"T","data":1}'))") == "1");
    CHECK(run(b.db, "SELECT type FROM es_stream('s-1')") == "T");
    CHECK(run(a.db, "SELECT es_head()") == "0");  // separate databases, separate state
    CHECK(table_count(a.db) == 0);
    CHECK(a.close_legacy() == SQLITE_OK);
    CHECK(b.close_legacy() == SQLITE_OK);

    sqlite3_reset_auto_extension();
    Db c;
    open_memory(c);
    CHECK(run(c.db, "SELECT es_version()") == "error: no such function: es_version");
}

TEST_CASE("the built module loads from ES_EXT") {
    Db d;
    open_loaded(d);
    CHECK(run(d.db, "SELECT es_version()") == ES_VERSION);
    CHECK(table_count(d.db) == 0);
    exercise(d.db);

    SUBCASE("with the entry point named explicitly") {
        Db e;
        open_memory(e);
        REQUIRE(sqlite3_db_config(e.db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, nullptr) ==
                SQLITE_OK);
        char* err = nullptr;
        const int rc = sqlite3_load_extension(e.db, ext_path(), "sqlite3_eskit_init", &err);
        const std::string msg = err ? err : "";
        sqlite3_free(err);
        INFO("sqlite3_load_extension: ", msg);
        REQUIRE(rc == SQLITE_OK);
        CHECK(run(e.db, "SELECT es_version()") == ES_VERSION);
    }
    SUBCASE("in-process and loaded registrations are independent") {
        Db e;
        open_registered(e);
        CHECK(run(e.db, "SELECT es_head()") == "0");
        CHECK(run(e.db, R"(SELECT es_append('x-1', 0, '{"type":"T","data":1}'))") == "1");
        CHECK(run(d.db, "SELECT es_head()") == "4");
    }
}

// sqlite3_close() (not _v2) fails with SQLITE_BUSY while any statement is unfinalized. The
// extension keeps prepared statements per connection, so it must finalize them when SQLite
// disconnects its virtual tables at the start of close.
namespace {

// The scenarios of the legacy-close test, run once per way of registering (open).
void legacy_close_scenarios(void (*open)(Db&)) {
    Db d;
    open(d);
    REQUIRE(d.db != nullptr);

    SUBCASE("right after registration") {}
    SUBCASE("after reads of an empty database") {
        CHECK(run(d.db, "SELECT es_head(), es_status('a')") == "0|none");
        CHECK(run(d.db, "SELECT count(*) FROM es_stream('a')") == "0");
    }
    SUBCASE("after appends only") {
        CHECK(run(d.db, R"(SELECT es_append('a-1', 0, '{"type":"T","data":1}'))") == "1");
    }
    SUBCASE("after es_append, es_stream and es_all") { exercise(d.db); }
    SUBCASE("after two cursors of es_all at once") {
        exercise(d.db);
        CHECK(run(d.db, "SELECT count(*) FROM es_all a JOIN es_all b ON a.seq = b.seq") == "4");
    }
    SUBCASE("after errors") {
        exercise(d.db);
        CHECK(run(d.db, R"(SELECT es_append('order-17', 0, '{"type":"T","data":[tru]}'))")
                  .rfind("error: invalid_argument:", 0) == 0);
        CHECK(run(d.db, "SELECT * FROM es_stream()").rfind("error: invalid_argument:", 0) == 0);
    }
    SUBCASE("after an explicit transaction") {
        CHECK(run(d.db, "BEGIN") == "");
        exercise(d.db);
        CHECK(run(d.db, "COMMIT") == "");
    }
    SUBCASE("after a first close attempt failed on the caller's own statement") {
        exercise(d.db);
        sqlite3_stmt* mine = nullptr;
        REQUIRE(sqlite3_prepare_v2(d.db, "SELECT 1", -1, &mine, nullptr) == SQLITE_OK);
        CHECK(sqlite3_close(d.db) == SQLITE_BUSY);
        sqlite3_finalize(mine);
        // The connection stays usable, and the extension prepares again as needed.
        CHECK(run(d.db, R"(SELECT es_append('order-17', 3, '{"type":"T","data":4}'))") == "4");
        CHECK(run(d.db,
                  "SELECT count(*) FROM es_all a JOIN es_stream('order-17') b "
                  "ON a.seq = b.seq") == "4");
    }
    CHECK(d.close_legacy() == SQLITE_OK);
}

}  // namespace

TEST_CASE("legacy sqlite3_close() succeeds after the extension was used") {
    SUBCASE("in-process registration") { legacy_close_scenarios(open_registered); }
    SUBCASE("loaded module") { legacy_close_scenarios(open_loaded); }
}

TEST_CASE("sqlite3_close_v2 releases everything SQLite allocated for the connection") {
    // Debian's SQLite keeps no memory statistics by default; turn them on for this test case
    // (possible only while SQLite is shut down, i.e. no connection is open) and back off after.
    struct MemStatus {
        explicit MemStatus(int on) {
            sqlite3_shutdown();
            rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, on);
            sqlite3_initialize();
        }
        ~MemStatus() {
            sqlite3_shutdown();
            sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
            sqlite3_initialize();
        }
        int rc;
    } memstatus(1);
    REQUIRE(memstatus.rc == SQLITE_OK);

    // Round 0 warms up process-wide state (the loaded library, lazily built tables).
    bool loaded = false;
    SUBCASE("in-process registration") { loaded = false; }
    SUBCASE("loaded module") { loaded = true; }
    for (int round = 0; round < 2; ++round) {
        const sqlite3_int64 before = sqlite3_memory_used();
        sqlite3_int64 during = 0;
        {
            Db d;
            if (loaded) {
                open_loaded(d);
            } else {
                open_registered(d);
            }
            exercise(d.db);
            sqlite3_stmt* pending = nullptr;  // an open es_all cursor, never stepped to the end
            REQUIRE(sqlite3_prepare_v2(d.db, "SELECT * FROM es_all a, es_all b", -1, &pending,
                                       nullptr) == SQLITE_OK);
            CHECK(sqlite3_step(pending) == SQLITE_ROW);
            sqlite3_finalize(pending);
            during = sqlite3_memory_used();
            REQUIRE(sqlite3_close_v2(d.db) == SQLITE_OK);
            d.db = nullptr;
        }
        if (round == 1) {
            CHECK(during > before);  // statistics are on, so the comparison means something
            CHECK(sqlite3_memory_used() == before);
        }
    }
}

TEST_CASE("two cursors of one table can be open at once") {
    Db d;
    open_registered(d);
    std::string batch = "[";
    for (int i = 1; i <= 50; ++i) {
        if (i > 1) batch += ',';
        batch += R"({"type":"T)" + std::to_string(i % 3) + R"(","data":)" + std::to_string(i) + "}";
    }
    batch += "]";
    REQUIRE(run(d.db, "SELECT es_append('s-1', 0, '" + batch + "')") == "50");
    REQUIRE(run(d.db, "SELECT es_append('s-2', 0, '" + batch + "')") == "50");

    CHECK(run(d.db, "SELECT count(*) FROM es_all a JOIN es_all b ON a.seq = b.seq") == "100");
    CHECK(run(d.db,
              "SELECT count(*) FROM es_all a JOIN es_all b ON a.type = b.type "
              "AND a.stream_id = 's-1' AND b.stream_id = 's-2'") ==
          "834");  // 17*17 + 17*17 + 16*16
    CHECK(run(d.db,
              "SELECT sum(a.data = b.data) FROM es_stream('s-1') a "
              "JOIN es_stream('s-2') b ON a.version = b.version") == "50");
    CHECK(run(d.db,
              "SELECT group_concat(n) FROM (SELECT (SELECT count(*) FROM es_all b "
              "WHERE b.seq <= a.seq) AS n FROM es_all a WHERE a.seq IN (1, 50, 100))") ==
          "1,50,100");
    // Interleaved stepping of two independent statements over the same table.
    sqlite3_stmt* x = nullptr;
    sqlite3_stmt* y = nullptr;
    REQUIRE(sqlite3_prepare_v2(d.db, "SELECT seq FROM es_all", -1, &x, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_prepare_v2(d.db, "SELECT seq FROM es_all ORDER BY seq DESC", -1, &y, nullptr) ==
            SQLITE_OK);
    for (int i = 1; i <= 100; ++i) {
        REQUIRE(sqlite3_step(x) == SQLITE_ROW);
        REQUIRE(sqlite3_step(y) == SQLITE_ROW);
        CHECK(sqlite3_column_int(x, 0) == i);
        CHECK(sqlite3_column_int(y, 0) == 101 - i);
    }
    CHECK(sqlite3_step(x) == SQLITE_DONE);
    CHECK(sqlite3_step(y) == SQLITE_DONE);
    sqlite3_finalize(x);
    sqlite3_finalize(y);
    CHECK(d.close_legacy() == SQLITE_OK);
}

TEST_CASE("errors come back as SQLite errors, never as C++ exceptions") {
    Db d;
    SUBCASE("in-process registration") { open_registered(d); }
    SUBCASE("loaded module") { open_loaded(d); }
    REQUIRE(d.db != nullptr);
    REQUIRE(run(d.db, R"(SELECT es_append('order-17', 0, '{"type":"T","data":1}'))") == "1");

    struct Case {
        const char* sql;
        int rc;
        const char* message;
    };
    const std::string big(1025, 'x');
    const std::string big_type =
        R"(SELECT es_append('s', 0, '{"type":")" + big + R"(","data":1}'))";
    const std::vector<Case> cases = {
        {R"(SELECT es_append('order-17', 1, '{"type":"a","data":[tru]}'))", SQLITE_ERROR,
         "invalid_argument: es_append(): events is not valid JSON: Problem while parsing an "
         "atom starting with the letter 't'"},
        {R"(SELECT es_append('order-17', 1, '{"type":"a","data":1}', '{"x":1}'))", SQLITE_ERROR,
         "invalid_argument: es_append(): unknown option 'x'"},
        {R"(SELECT es_append('order-17', 1, '[1]'))", SQLITE_ERROR,
         "invalid_argument: es_append(): events[0] must be an object, got 1"},
        {big_type.c_str(), SQLITE_TOOBIG,
         "invalid_argument: es_append(): events[0].type is 1025 bytes, maximum 1024"},
        {R"(SELECT es_append('order-17', 0, '{"type":"a","data":1}'))", SQLITE_CONSTRAINT,
         "conflict: stream 'order-17' is at version 1, expected 0"},
        {"SELECT * FROM es_stream()", SQLITE_ERROR,
         "invalid_argument: es_stream: the stream_id argument is required, as in "
         "es_stream('order-17')"},
    };
    for (const Case& c : cases) {
        INFO("sql: ", c.sql);
        CHECK(step_rc(d.db, c.sql) == c.rc);
        CHECK(run(d.db, c.sql) == std::string("error: ") + c.message);
    }
    // A failed call changes nothing, and the connection keeps working.
    CHECK(run(d.db, "SELECT es_head(), count(*) FROM es_all") == "1|1");
    CHECK(run(d.db, R"(SELECT es_append('order-17', 1, '{"type":"T","data":2}'))") == "2");
    CHECK(d.close_legacy() == SQLITE_OK);
}

namespace {

// Authorizer that refuses reading es_meta.value: es_append's head read (es_meta's seq_floor)
// then fails, after its options (the idempotency key) were parsed and the stream was read.
int deny_meta_value(void*, int action, const char* table, const char* column, const char*,
                    const char*) {
    if (action == SQLITE_READ && table && column && std::string(table) == "es_meta" &&
        std::string(column) == "value") {
        return SQLITE_DENY;
    }
    return SQLITE_OK;
}

}  // namespace

TEST_CASE("a failed es_append leaves no binding of its own behind for the next call") {
    Db d;
    open_registered(d);
    // The cached statements exist (the insert included) before the failing call.
    REQUIRE(run(d.db, "SELECT es_init()") == "3");
    REQUIRE(run(d.db, R"(SELECT es_append('s-1', 0, '{"type":"T","data":1}'))") == "1");

    // A key long enough to live on the heap, in the failing call's copy as well.
    std::string key;
    for (int i = 0; i < 300; ++i) key += static_cast<char>('a' + i % 26);
    std::string sql =
        R"(SELECT es_append('s-2', 0, '{"type":"T","data":1}', '{"idempotency_key":")" + key +
        R"("}'))";
    key.assign(key.size(), '#');
    key.clear();
    key.shrink_to_fit();

    // Setting an authorizer expires the prepared statements: they are re-prepared on their
    // next step, keeping their bindings, and the head read's re-prepare is refused.
    REQUIRE(sqlite3_set_authorizer(d.db, deny_meta_value, nullptr) == SQLITE_OK);
    const std::string failed = run(d.db, sql);
    INFO("failed call: ", failed);
    CHECK(failed.rfind("error: ", 0) == 0);
    CHECK(failed.find("es_meta.value") != std::string::npos);  // it was the head read
    sql.assign(sql.size(), '#');
    sql.clear();
    sql.shrink_to_fit();
    REQUIRE(sqlite3_set_authorizer(d.db, nullptr, nullptr) == SQLITE_OK);

    // A keyless append: no idempotency key may come from the failed call.
    CHECK(run(d.db, R"(SELECT es_append('s-3', 0, '{"type":"T","data":1}'))") == "1");
    CHECK(run(d.db, "SELECT idempotency_key FROM es_events WHERE stream_id = 's-3'") == "NULL");
    // The failed call wrote nothing.
    CHECK(run(d.db, "SELECT count(*) FROM es_events WHERE stream_id = 's-2'") == "0");
    CHECK(run(d.db, "SELECT count(*) FROM es_streams WHERE stream_id = 's-2'") == "0");
    CHECK(run(d.db, "SELECT group_concat(stream_id) FROM es_all") == "s-1,s-3");
    CHECK(run(d.db, "SELECT count(*) FROM es_events WHERE idempotency_key IS NOT NULL") == "0");
    CHECK(d.close_legacy() == SQLITE_OK);
}

TEST_CASE("eskit_last_error and eskit_last_append: the C API on its own") {
    Db d;
    open_memory(d);
    eskit_error err{};
    eskit_append app{};
    CHECK(eskit_last_error(d.db, &err) == SQLITE_MISUSE);  // not registered on this connection
    CHECK(eskit_last_append(d.db, &app) == SQLITE_MISUSE);
    REQUIRE(eskit_register(d.db) == SQLITE_OK);

    REQUIRE(eskit_last_error(d.db, &err) == SQLITE_OK);
    CHECK(err.code == ESKIT_OK);
    CHECK(step_rc(d.db,
                  R"(SELECT es_append('order-1', 0, '[{"type":"A","data":1,"id":"e-1"},)"
                  R"({"type":"B","data":2,"id":"e-2"}]', '{"timestamp":1700000000000000}'))") ==
          SQLITE_ROW);
    REQUIRE(eskit_last_append(d.db, &app) == SQLITE_OK);
    CHECK(app.first_seq == 1);
    CHECK(app.count == 2);
    CHECK(app.first_version == 1);
    CHECK(app.last_version == 2);
    CHECK(app.created_at == 1700000000000000);
    CHECK(app.replay == 0);
    CHECK(std::string(eskit_last_append_event_id(d.db, 0)) == "e-1");
    CHECK(std::string(eskit_last_append_event_id(d.db, 1)) == "e-2");
    CHECK(eskit_last_append_event_id(d.db, 2) == nullptr);
    CHECK(eskit_last_append_event_id(d.db, -1) == nullptr);

    // The same ids again: a replay, nothing written, the existing events described.
    CHECK(step_rc(d.db, R"(SELECT es_append('order-1', 0, '[{"type":"A","data":1,"id":"e-1"},)"
                        R"({"type":"B","data":2,"id":"e-2"}]'))") == SQLITE_ROW);
    REQUIRE(eskit_last_append(d.db, &app) == SQLITE_OK);
    CHECK(app.replay == 1);
    CHECK(app.last_version == 2);

    CHECK(step_rc(d.db, R"(SELECT es_append('order-1', 0, '{"type":"C","data":3}'))") ==
          SQLITE_CONSTRAINT);
    REQUIRE(eskit_last_error(d.db, &err) == SQLITE_OK);
    CHECK(err.code == ESKIT_CONFLICT);
    CHECK((err.sqlite_rc & 0xff) == SQLITE_CONSTRAINT);
    CHECK(std::string(err.message) == "conflict: stream 'order-1' is at version 2, expected 0");
    REQUIRE(err.stream_id != nullptr);
    CHECK(std::string(err.stream_id) == "order-1");
    CHECK(err.has_expected == 1);
    CHECK(err.expected == 0);
    CHECK(err.actual == 2);

    // A success clears it; an error of another kind has no stream and no versions.
    CHECK(step_rc(d.db, "SELECT es_head()") == SQLITE_ROW);
    REQUIRE(eskit_last_error(d.db, &err) == SQLITE_OK);
    CHECK(err.code == ESKIT_OK);
    CHECK(step_rc(d.db, "SELECT es_append('order-2', 'x', '[]')") == SQLITE_ERROR);
    REQUIRE(eskit_last_error(d.db, &err) == SQLITE_OK);
    CHECK(err.code == ESKIT_INVALID_ARGUMENT);
    CHECK(err.stream_id == nullptr);
    CHECK(err.has_expected == 0);
}
