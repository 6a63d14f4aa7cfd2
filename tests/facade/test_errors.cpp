// eskit::Error and its subclasses, each reached through the facade: code(), sqlite_code(),
// stream(), expected()/actual() taken from the extension's structured error (eskit_last_error),
// not from the message text; SQLite's own errors as StorageError; CodecError is an eskit::Error.
#include <sqlite3.h>

#include <type_traits>

#include "support.hpp"

using namespace ft;

static_assert(std::is_base_of_v<std::runtime_error, eskit::Error>);
static_assert(std::is_base_of_v<eskit::Error, eskit::ConcurrencyConflict>);
static_assert(std::is_base_of_v<eskit::Error, eskit::DuplicateEvent>);
static_assert(std::is_base_of_v<eskit::Error, eskit::StreamArchived>);
static_assert(std::is_base_of_v<eskit::Error, eskit::StreamTombstoned>);
static_assert(std::is_base_of_v<eskit::Error, eskit::StreamNotFound>);
static_assert(std::is_base_of_v<eskit::Error, eskit::InvalidArgument>);
static_assert(std::is_base_of_v<eskit::Error, eskit::StorageError>);
static_assert(std::is_base_of_v<eskit::Error, eskit::CodecError>);

TEST_CASE("Errors: one subclass per code, fields from the structured error") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Store<OrderEvent> store(env.db);
            store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}, Paid{1}});

            SUBCASE("conflict: ConcurrencyConflict with stream, expected, actual") {
                auto e = thrown<eskit::ConcurrencyConflict>(
                    [&] { store.append("order-1", eskit::Exact{1}, {Paid{2}}); });
                CHECK(e.code() == eskit::Code::Conflict);
                CHECK(e.sqlite_code() == SQLITE_CONSTRAINT);
                CHECK(e.stream() == "order-1");
                CHECK(e.expected() == 1);
                CHECK(e.actual() == 2);
                CHECK(std::string(e.what()) ==
                      "conflict: stream 'order-1' is at version 2, expected 1");
            }
            SUBCASE("the fields are the structured values, not parsed from the quoted message") {
                const std::string odd = "it's: a \"stream\", expected 3";
                store.append(odd, eskit::NoStream{}, {Placed{"x", 1}});
                auto e = thrown<eskit::ConcurrencyConflict>(
                    [&] { store.append(odd, eskit::Exact{7}, {Paid{2}}); });
                CHECK(e.stream() == odd);
                CHECK(e.expected() == 7);
                CHECK(e.actual() == 1);
                CHECK(std::string(e.what()) ==
                      "conflict: stream 'it''s: a \"stream\", expected 3' is at version 1, "
                      "expected 7");
            }
            SUBCASE("duplicate_event: DuplicateEvent") {
                store.append(
                    "order-2", eskit::NoStream{},
                    std::vector<eskit::NewEvent<OrderEvent>>{{Placed{"o-2", 1}, {.id = "evt-1"}}});
                auto e = thrown<eskit::DuplicateEvent>([&] {
                    store.append("order-3", eskit::NoStream{},
                                 std::vector<eskit::NewEvent<OrderEvent>>{
                                     {Placed{"o-2", 1}, {.id = "evt-1"}}});
                });
                CHECK(e.code() == eskit::Code::DuplicateEvent);
                CHECK(e.sqlite_code() == SQLITE_CONSTRAINT);
                CHECK_FALSE(e.expected().has_value());
                CHECK(std::string(e.what()).rfind("duplicate_event: ", 0) == 0);
                CHECK(store.status("order-3") == eskit::StreamStatus::None);
            }
            SUBCASE("archived: StreamArchived") {
                store.archive("order-1");
                auto e = thrown<eskit::StreamArchived>(
                    [&] { store.append("order-1", eskit::Any{}, {Paid{2}}); });
                CHECK(e.code() == eskit::Code::Archived);
                CHECK(e.sqlite_code() == SQLITE_CONSTRAINT);
                CHECK(e.stream() == "order-1");
                CHECK(std::string(e.what()).rfind("archived: ", 0) == 0);
            }
            SUBCASE("tombstoned: StreamTombstoned, for writes and reads") {
                store.tombstone("order-1", "test");
                auto w = thrown<eskit::StreamTombstoned>(
                    [&] { store.append("order-1", eskit::Any{}, {Paid{2}}); });
                CHECK(w.code() == eskit::Code::Tombstoned);
                CHECK(w.sqlite_code() == SQLITE_CONSTRAINT);
                CHECK(w.stream() == "order-1");
                auto r = thrown<eskit::StreamTombstoned>([&] { store.load("order-1").collect(); });
                CHECK(r.stream() == "order-1");
                CHECK(std::string(r.what()).rfind("tombstoned: ", 0) == 0);
            }
            SUBCASE(
                "not_found: StreamNotFound for remove, archive and restore of an unknown stream") {
                for (auto call : std::initializer_list<std::function<void()>>{
                         [&] { store.remove("order-404"); }, [&] { store.archive("order-404"); },
                         [&] { store.restore("order-404"); }}) {
                    auto e = thrown<eskit::StreamNotFound>(call);
                    CHECK(e.code() == eskit::Code::NotFound);
                    CHECK(e.sqlite_code() == SQLITE_ERROR);
                    CHECK(e.stream() == "order-404");
                }
            }
            SUBCASE("invalid_argument: InvalidArgument; oversized input has SQLITE_TOOBIG") {
                auto empty = thrown<eskit::InvalidArgument>(
                    [&] { store.append("", eskit::Any{}, {Paid{2}}); });
                CHECK(empty.code() == eskit::Code::InvalidArgument);
                CHECK(empty.sqlite_code() == SQLITE_ERROR);
                CHECK(std::string(empty.what()).rfind("invalid_argument: ", 0) == 0);
                auto big = thrown<eskit::InvalidArgument>(
                    [&] { store.append(std::string(1025, 's'), eskit::Any{}, {Paid{2}}); });
                CHECK(big.code() == eskit::Code::TooBig);
                CHECK(big.sqlite_code() == SQLITE_TOOBIG);
                auto meta = thrown<eskit::InvalidArgument>([&] {
                    store.append("order-1", eskit::Any{}, {Paid{2}}, {.metadata = "[1, 2]"});
                });
                CHECK(meta.code() == eskit::Code::InvalidArgument);
                CHECK(store.load("order-1").collect().size() == 2);
            }
            SUBCASE("SQLite's own errors: StorageError with SQLite's code and message") {
                auto e = thrown<eskit::StorageError>(
                    [&] { env.db.execute("INSERT INTO es_events(seq) VALUES (1)"); });
                CHECK(e.code() == eskit::Code::Sqlite);
                CHECK(e.stream().empty());
                auto syntax = thrown<eskit::StorageError>([&] { env.db.execute("SELEC 1"); });
                CHECK(syntax.sqlite_code() == SQLITE_ERROR);
                CHECK(std::string(syntax.what()) == "near \"SELEC\": syntax error");
            }
            SUBCASE(
                "a failure after an eskit error is reported as itself, not as the old eskit "
                "error") {
                thrown<eskit::ConcurrencyConflict>(
                    [&] { store.append("order-1", eskit::Exact{0}, {Paid{2}}); });
                auto e = thrown<eskit::StorageError>([&] { env.db.execute("SELECT * FROM nope"); });
                CHECK(e.code() == eskit::Code::Sqlite);
                CHECK(std::string(e.what()) == "no such table: nope");
            }
            SUBCASE("CodecError is an eskit::Error, with the codec and the path") {
                eskit::RawStore raw(env.db);
                raw.append("order-9", eskit::NoStream{},
                           {{.type = "Placed", .data = R"({"order_id":5})"}});
                try {
                    store.load("order-9").collect();
                    FAIL("no error");
                } catch (const eskit::Error& base) {
                    const auto* codec = dynamic_cast<const eskit::CodecError*>(&base);
                    REQUIRE(codec != nullptr);
                    CHECK(codec->codec() == "json");
                    CHECK(codec->path() == "order_id");
                    CHECK(codec->reason() == "expected a string, got an integer");
                    CHECK(std::string(base.what()) ==
                          "json: order_id: expected a string, got an integer");
                }
            }
            SUBCASE("a failed append inside a Transaction changes nothing and leaves it usable") {
                eskit::Transaction tx = env.db.begin();
                store.append("order-2", eskit::NoStream{}, {Placed{"o-2", 1}});
                thrown<eskit::ConcurrencyConflict>(
                    [&] { store.append("order-1", eskit::Exact{0}, {Paid{2}}); });
                thrown<eskit::InvalidArgument>([&] { store.append("", eskit::Any{}, {Paid{2}}); });
                store.append("order-2", eskit::Exact{1}, {Paid{1}});
                tx.commit();
                CHECK(store.load("order-2").collect().size() == 2);
                CHECK(store.load("order-1").collect().size() == 2);
            }
        }
    }
}
