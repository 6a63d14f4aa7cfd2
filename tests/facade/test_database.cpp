// eskit::Database: opening files and ":memory:", the options (WAL, busy timeout, synchronous,
// BEGIN IMMEDIATE, create), adopting a connection the application owns and keeps, the
// application's own SQL (execute/query with every kind of parameter) and the head.
#include <sqlite3.h>

#include "support.hpp"

using namespace ft;

namespace {

// A pragma's value on the write connection (the test thread is the only user of it here).
std::string writer_pragma(eskit::Database& db, const char* pragma) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db.handle(), (std::string("PRAGMA ") + pragma).c_str(), -1, &s,
                               nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    std::string v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
}

sqlite3* open_raw(const std::string& path) {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
    return raw;
}

int raw_exec(sqlite3* raw, const char* sql) {
    return sqlite3_exec(raw, sql, nullptr, nullptr, nullptr);
}

}  // namespace

TEST_CASE("Database: open, schema and the application's SQL") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Database& db = env.db;

            SUBCASE("opening initialises the eskit schema (es_init, schema 3)") {
                CHECK(scalar(db, "SELECT value FROM es_meta WHERE key = 'schema_version'") == 3);
                CHECK(db.head() == 0);
            }
            SUBCASE("execute and query bind null, integers, doubles, text and blobs as ?1..?5") {
                db.execute("CREATE TABLE t(a, b, c, d, e)");
                const std::string blob("\x00\x01\xff", 3);
                CHECK(db.execute("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)",
                                 {nullptr, int64_t{42}, 2.5, std::string_view("text"),
                                  eskit::Blob{blob}}) == 1);
                int rows = 0;
                db.query("SELECT typeof(a), b, c, d, e, typeof(e) FROM t", {},
                         [&](const eskit::Row& r) {
                             ++rows;
                             CHECK(r.text(0) == "null");
                             CHECK(r.is_null(0) == false);  // typeof() is text
                             CHECK(r.integer(1) == 42);
                             CHECK(r.real(2) == 2.5);
                             CHECK(r.text(3) == "text");
                             CHECK(r.text(4) == blob);
                             CHECK(r.text(5) == "blob");
                         });
                CHECK(rows == 1);
                // execute() returns the rows changed.
                CHECK(db.execute("UPDATE t SET b = b + 1") == 1);
                CHECK(db.execute("DELETE FROM t WHERE b = 0") == 0);
            }
            SUBCASE("a query inside another query's rows, of the same SQL text") {
                db.execute("CREATE TABLE t(x)");
                db.execute("INSERT INTO t VALUES (1), (2)");
                std::vector<int64_t> pairs;
                db.query("SELECT x FROM t ORDER BY x", {}, [&](const eskit::Row& outer) {
                    const int64_t x = outer.integer(0);
                    db.query("SELECT x FROM t ORDER BY x", {}, [&](const eskit::Row& inner) {
                        pairs.push_back(x * 10 + inner.integer(0));
                    });
                });
                CHECK(pairs == std::vector<int64_t>{11, 12, 21, 22});
            }
            SUBCASE("an SQL error is a StorageError with SQLite's code and message") {
                auto e = thrown<eskit::StorageError>([&] { db.execute("SELECT * FROM nope"); });
                CHECK(e.code() == eskit::Code::Sqlite);
                CHECK(e.sqlite_code() == SQLITE_ERROR);
                CHECK(std::string(e.what()) == "no such table: nope");
            }
            SUBCASE("head() follows appends") {
                eskit::Store<OrderEvent> store(db);
                store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}, Paid{100}});
                CHECK(db.head() == 2);
                CHECK(store.latest_sequence() == 2);
            }
            SUBCASE("a Database moves; the moved-to one works, stores made before keep working") {
                eskit::Store<OrderEvent> before(db);
                eskit::Database moved = std::move(db);
                eskit::Store<OrderEvent> after(moved);
                before.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
                CHECK(after.load("order-1").collect().size() == 1);
                CHECK(moved.head() == 1);
            }
        }
    }
}

TEST_CASE("Database: options") {
    TempDir tmp;
    const std::string path = tmp.file("opts.db");

    SUBCASE("defaults: WAL for files, busy timeout 10 s, synchronous NORMAL") {
        auto db = eskit::Database::open(path);
        CHECK(writer_pragma(db, "journal_mode") == "wal");
        CHECK(writer_pragma(db, "busy_timeout") == "10000");
        CHECK(writer_pragma(db, "synchronous") == "1");
        auto mem = eskit::Database::memory();
        CHECK(writer_pragma(mem, "journal_mode") == "memory");
    }
    SUBCASE("wal = false keeps the rollback journal") {
        auto db = eskit::Database::open(path, {.wal = false});
        CHECK(writer_pragma(db, "journal_mode") == "delete");
        eskit::Store<OrderEvent> store(db);
        store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
        CHECK(store.load("order-1").collect().size() == 1);
    }
    SUBCASE("synchronous FULL and OFF") {
        {
            auto db = eskit::Database::open(path, {.synchronous = "FULL"});
            CHECK(writer_pragma(db, "synchronous") == "2");
        }
        auto db = eskit::Database::open(path, {.synchronous = "OFF"});
        CHECK(writer_pragma(db, "synchronous") == "0");
    }
    SUBCASE(
        "busy timeout: a write waits that long for another connection's lock, then fails BUSY") {
        auto db = eskit::Database::open(path, {.busy_timeout = std::chrono::milliseconds(300)});
        CHECK(writer_pragma(db, "busy_timeout") == "300");
        sqlite3* other = open_raw(path);
        REQUIRE(raw_exec(other, "BEGIN IMMEDIATE") == SQLITE_OK);
        eskit::Store<OrderEvent> store(db);
        const auto t0 = std::chrono::steady_clock::now();
        auto e = thrown<eskit::StorageError>([&] {
            store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
        });
        const auto waited = std::chrono::steady_clock::now() - t0;
        CHECK(e.sqlite_code() == SQLITE_BUSY);
        CHECK(std::string(e.what()) == "database is locked");
        CHECK(waited >= std::chrono::milliseconds(250));
        CHECK(waited < std::chrono::seconds(5));
        raw_exec(other, "ROLLBACK");
        sqlite3_close(other);
        // The lock gone, the same append succeeds.
        CHECK(store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}}).at(0).version == 1);
    }
    SUBCASE("immediate = true: a Transaction takes the write lock when it begins") {
        auto db = eskit::Database::open(path);
        sqlite3* other = open_raw(path);
        {
            eskit::Transaction tx = db.begin();
            CHECK(raw_exec(other, "BEGIN IMMEDIATE") == SQLITE_BUSY);
        }
        CHECK(raw_exec(other, "BEGIN IMMEDIATE") == SQLITE_OK);
        raw_exec(other, "ROLLBACK");
        sqlite3_close(other);
    }
    SUBCASE(
        "immediate = false: a Transaction begins deferred, the lock comes with its first write") {
        auto db = eskit::Database::open(path, {.immediate = false});
        db.execute("CREATE TABLE t(x)");
        sqlite3* other = open_raw(path);
        {
            eskit::Transaction tx = db.begin();
            CHECK(raw_exec(other, "BEGIN IMMEDIATE") == SQLITE_OK);
            CHECK(raw_exec(other, "ROLLBACK") == SQLITE_OK);
            db.execute("INSERT INTO t VALUES (1)");
            CHECK(raw_exec(other, "BEGIN IMMEDIATE") == SQLITE_BUSY);
            tx.commit();
        }
        sqlite3_close(other);
        CHECK(scalar(db, "SELECT count(*) FROM t") == 1);
    }
    SUBCASE("create = false: a missing file is an error, nothing is created") {
        auto e =
            thrown<eskit::StorageError>([&] { eskit::Database::open(path, {.create = false}); });
        CHECK(e.sqlite_code() == SQLITE_CANTOPEN);
        CHECK(std::string(e.what()) ==
              "eskit: cannot open " + path + ": unable to open database file");
        CHECK_FALSE(fs::exists(path));
    }
    SUBCASE("readers = 0: a file database reads through the write connection") {
        auto db = eskit::Database::open(path, {.readers = 0});
        eskit::Store<OrderEvent> store(db);
        store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
        CHECK(store.load("order-1").collect().size() == 1);
    }
}

TEST_CASE("Database: adopting a connection the application owns and keeps") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            TempDir tmp;
            const std::string path = kind == Kind::Memory ? ":memory:" : tmp.file("app.db");
            sqlite3* app = open_raw(path);
            REQUIRE(raw_exec(app, "CREATE TABLE app_table(x)") == SQLITE_OK);
            {
                auto db = eskit::Database::adopt(app);
                CHECK(db.handle() == app);
                eskit::Store<OrderEvent> store(db);
                store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}, Paid{5}});
                // The application's connection sees what the store wrote, and the store sees
                // the application's tables (one connection).
                sqlite3_stmt* s = nullptr;
                REQUIRE(sqlite3_prepare_v2(app, "SELECT count(*) FROM es_events", -1, &s,
                                           nullptr) == SQLITE_OK);
                REQUIRE(sqlite3_step(s) == SQLITE_ROW);
                CHECK(sqlite3_column_int(s, 0) == 2);
                sqlite3_finalize(s);
                CHECK(scalar(db, "SELECT count(*) FROM app_table") == 0);
                CHECK(store.load("order-1").collect().size() == 2);
                // Transactions work on it too.
                {
                    eskit::Transaction tx = db.begin();
                    store.append("order-2", eskit::NoStream{}, {Placed{"o-2", 2}});
                }
                CHECK(store.status("order-2") == eskit::StreamStatus::None);
            }
            // The Database is gone; the connection stays open and usable. The facade left no
            // statement of its own behind: what remains is the extension's statement cache
            // (tagged /*eskit ...*/), which a host finalizes before sqlite3_close (eskit.h).
            CHECK(raw_exec(app, "INSERT INTO app_table VALUES (1)") == SQLITE_OK);
            int facade_statements = 0;
            for (sqlite3_stmt* s = sqlite3_next_stmt(app, nullptr); s;
                 s = sqlite3_next_stmt(app, s)) {
                if (std::string_view(sqlite3_sql(s)).substr(0, 8) != "/*eskit ")
                    ++facade_statements;
            }
            CHECK(facade_statements == 0);
            while (sqlite3_stmt* s = sqlite3_next_stmt(app, nullptr)) sqlite3_finalize(s);
            CHECK(sqlite3_close(app) == SQLITE_OK);
        }
    }
}
