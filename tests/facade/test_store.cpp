// eskit::Store<E>: appends (each Expected state, conflicts with their fields, replays by
// idempotency key and by event ids, per-event and per-call options), stream loads (options,
// paging), raw loads, the global log, lifecycle (archive in place, into an attached schema,
// into another Database, restore from each, tombstone, remove) and the fold helper.
#include <sqlite3.h>

#include <set>

#include "support.hpp"

using namespace ft;

namespace {

// "0192a6f2-...": UUID text, 36 characters, version 7.
bool uuid_v7(const std::string& id) { return id.size() == 36 && id[8] == '-' && id[14] == '7'; }

std::vector<int64_t> versions_of(const std::vector<eskit::RecordedEvent<OrderEvent>>& events) {
    std::vector<int64_t> out;
    for (const auto& e : events) out.push_back(e.version);
    return out;
}
std::vector<int64_t> seqs_of(const std::vector<eskit::RecordedEvent<OrderEvent>>& events) {
    std::vector<int64_t> out;
    for (const auto& e : events) out.push_back(e.seq);
    return out;
}

eskit::Value json(std::string_view text) { return eskit::json_codec().decode(text); }

// A count on the write connection (where ATTACH put a schema: the pooled read connections of a
// file database do not have it).
int64_t writer_count(eskit::Database& db, std::string_view sql) {
    eskit::Transaction tx = db.begin();
    return scalar(db, sql);
}

}  // namespace

TEST_CASE("Store: append") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Store<OrderEvent> store(env.db);

            SUBCASE("returns the recorded events, as a load reads them back") {
                const auto before = now();
                auto rec = store.append(
                    "order-1", eskit::NoStream{},
                    {Placed{"o-1", 12.5}, Paid{1250}, Shipped{"dhl", "t-1", {"p1", "p2"}}});
                REQUIRE(rec.size() == 3);
                auto loaded = store.load("order-1").collect();
                REQUIRE(loaded.size() == 3);
                for (size_t i = 0; i < 3; ++i) {
                    CHECK(rec[i].version == static_cast<int64_t>(i + 1));
                    CHECK(rec[i].seq == static_cast<int64_t>(i + 1));
                    CHECK(rec[i].stream_id == "order-1");
                    CHECK(uuid_v7(rec[i].event_id));
                    CHECK(rec[i].created_at >= before - std::chrono::seconds(1));
                    CHECK(rec[i].created_at <= now() + std::chrono::seconds(1));
                    CHECK(rec[i].codec == "json");
                    CHECK(rec[i].schema_version == 1);
                    CHECK(loaded[i].seq == rec[i].seq);
                    CHECK(loaded[i].version == rec[i].version);
                    CHECK(loaded[i].event_id == rec[i].event_id);
                    CHECK(loaded[i].created_at == rec[i].created_at);
                    CHECK(loaded[i].type == rec[i].type);
                    CHECK(loaded[i].data == rec[i].data);
                    CHECK_FALSE(loaded[i].metadata.has_value());
                }
                CHECK(rec[0].type == "Placed");
                CHECK(rec[2].type == "Shipped");
                CHECK(std::get<Shipped>(loaded[2].data) == Shipped{"dhl", "t-1", {"p1", "p2"}});
                // All events of one call share one timestamp.
                CHECK(rec[0].created_at == rec[2].created_at);
            }
            SUBCASE("Any appends whatever the version") {
                CHECK(store.append("order-1", eskit::Any{}, {Placed{"o-1", 1}}).at(0).version == 1);
                CHECK(store.append("order-1", eskit::Any{}, {Paid{1}}).at(0).version == 2);
            }
            SUBCASE("NoStream: only a stream without events") {
                store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
                auto e = thrown<eskit::ConcurrencyConflict>([&] {
                    store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
                });
                CHECK(e.code() == eskit::Code::Conflict);
                CHECK(e.sqlite_code() == SQLITE_CONSTRAINT);
                CHECK(e.stream() == "order-1");
                CHECK(e.expected() == 0);
                CHECK(e.actual() == 1);
                CHECK(std::string(e.what()) ==
                      "conflict: stream 'order-1' is at version 1, expected 0");
            }
            SUBCASE("StreamExists: only a stream with events") {
                auto e = thrown<eskit::ConcurrencyConflict>(
                    [&] { store.append("order-1", eskit::StreamExists{}, {Paid{1}}); });
                CHECK(e.stream() == "order-1");
                CHECK(e.expected() == -2);
                CHECK(e.actual() == 0);
                store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
                CHECK(store.append("order-1", eskit::StreamExists{}, {Paid{1}}).at(0).version == 2);
            }
            SUBCASE("Exact: only that version; Exact{0} is a new stream") {
                store.append("order-1", eskit::Exact{0}, {Placed{"o-1", 1}, Paid{1}});
                CHECK(store.append("order-1", eskit::Exact{2}, {Paid{2}}).at(0).version == 3);
                auto e = thrown<eskit::ConcurrencyConflict>(
                    [&] { store.append("order-1", eskit::Exact{5}, {Paid{3}}); });
                CHECK(e.stream() == "order-1");
                CHECK(e.expected() == 5);
                CHECK(e.actual() == 3);
                CHECK(std::string(e.what()) ==
                      "conflict: stream 'order-1' is at version 3, expected 5");
                // A failed append wrote nothing.
                CHECK(store.load("order-1").collect().size() == 3);
                CHECK(store.latest_sequence() == 3);
            }
            SUBCASE("no events: writes nothing, still checks the expectation") {
                CHECK(
                    store.append("order-1", eskit::NoStream{}, std::vector<OrderEvent>{}).empty());
                store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
                CHECK(store.append("order-1", eskit::Exact{1}, std::vector<OrderEvent>{}).empty());
                thrown<eskit::ConcurrencyConflict>(
                    [&] { store.append("order-1", eskit::Exact{0}, std::vector<OrderEvent>{}); });
            }
            SUBCASE("an idempotency key replayed returns the events the first call recorded") {
                eskit::AppendOptions o{.idempotency_key = "cmd-1"};
                auto first =
                    store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}, Paid{100}}, o);
                store.append("order-1", eskit::Exact{2}, {Paid{5}});
                // Retried with an expectation that no longer holds and other events: nothing is
                // written, the answer is the first call's events (what they are, as stored).
                auto again = store.append("order-1", eskit::NoStream{}, {Paid{999}}, o);
                REQUIRE(again.size() == 2);
                for (size_t i = 0; i < 2; ++i) {
                    CHECK(again[i].seq == first[i].seq);
                    CHECK(again[i].version == first[i].version);
                    CHECK(again[i].event_id == first[i].event_id);
                    CHECK(again[i].created_at == first[i].created_at);
                    CHECK(again[i].type == first[i].type);
                    CHECK(again[i].data == first[i].data);
                }
                CHECK(std::get<Placed>(again[0].data) == Placed{"o-1", 1});
                CHECK(std::get<Paid>(again[1].data) == Paid{100});
                CHECK(store.latest_sequence() == 3);
                // The key is the stream's: another stream may use it.
                CHECK(store.append("order-2", eskit::NoStream{}, {Placed{"o-2", 2}}, o).at(0).seq ==
                      4);
            }
            SUBCASE("event ids replayed exactly return the recorded events") {
                std::vector<eskit::NewEvent<OrderEvent>> events{{Placed{"o-1", 1}, {.id = "evt-1"}},
                                                                {Paid{100}, {.id = "evt-2"}}};
                auto first = store.append("order-1", eskit::NoStream{}, events);
                CHECK(first.at(0).event_id == "evt-1");
                CHECK(first.at(1).event_id == "evt-2");
                store.append("order-1", eskit::Exact{2}, {Paid{5}});
                auto again = store.append("order-1", eskit::NoStream{}, events);
                REQUIRE(again.size() == 2);
                CHECK(again[0].seq == first[0].seq);
                CHECK(again[1].seq == first[1].seq);
                CHECK(again[1].version == 2);
                CHECK(again[1].event_id == "evt-2");
                CHECK(again[1].created_at == first[1].created_at);
                CHECK(std::get<Paid>(again[1].data) == Paid{100});
                CHECK(store.latest_sequence() == 3);
                // The same ids with other content are not a replay.
                events[1].data = Paid{101};
                auto e = thrown<eskit::DuplicateEvent>(
                    [&] { store.append("order-1", eskit::Any{}, events); });
                CHECK(e.code() == eskit::Code::DuplicateEvent);
            }
            SUBCASE("per-event options: id and metadata") {
                auto rec = store.append(
                    "order-1", eskit::NoStream{},
                    std::vector<eskit::NewEvent<OrderEvent>>{
                        {Placed{"o-1", 1}, {.id = "my-id", .metadata = R"({"user":"ada"})"}},
                        {Paid{2}, {}}});
                CHECK(rec[0].event_id == "my-id");
                CHECK(uuid_v7(rec[1].event_id));
                auto loaded = store.load("order-1").collect();
                REQUIRE(loaded[0].metadata.has_value());
                CHECK(json(*loaded[0].metadata) == json(R"({"user":"ada"})"));
                CHECK(json(*rec[0].metadata) == json(*loaded[0].metadata));
                CHECK_FALSE(loaded[1].metadata.has_value());
                CHECK_FALSE(rec[1].metadata.has_value());
            }
            SUBCASE(
                "call options: timestamp and metadata merged into each event's (the event's keys "
                "win)") {
                const eskit::Timestamp ts{std::chrono::microseconds(1700000000123456)};
                auto rec = store.append(
                    "order-1", eskit::NoStream{},
                    std::vector<eskit::NewEvent<OrderEvent>>{
                        {Placed{"o-1", 1}, {.metadata = R"({"user":"ada","step":1})"}},
                        {Paid{2}, {}}},
                    {.timestamp = ts, .metadata = R"({"correlation":"c-9","user":"system"})"});
                auto loaded = store.load("order-1").collect();
                REQUIRE(loaded.size() == 2);
                const auto want0 = json(R"({"correlation":"c-9","user":"ada","step":1})");
                const auto want1 = json(R"({"correlation":"c-9","user":"system"})");
                for (size_t i = 0; i < 2; ++i) {
                    CHECK(rec[i].created_at == ts);
                    CHECK(loaded[i].created_at == ts);
                    REQUIRE(loaded[i].metadata.has_value());
                    REQUIRE(rec[i].metadata.has_value());
                    // What the append returns is what is stored.
                    CHECK(json(*rec[i].metadata) == json(*loaded[i].metadata));
                }
                CHECK(json(*loaded[0].metadata) == want0);
                CHECK(json(*loaded[1].metadata) == want1);
            }
            SUBCASE("a single-type store") {
                eskit::Store<Placed> placed(env.db);
                auto rec = placed.append("order-1", eskit::NoStream{}, {Placed{"o-1", 7}});
                CHECK(rec.at(0).type == "Placed");
                auto loaded = placed.load("order-1").collect();
                REQUIRE(loaded.size() == 1);
                CHECK(loaded[0].data == Placed{"o-1", 7});
                // ...reads what a variant store wrote, of its type.
                store.append("order-1", eskit::Exact{1}, {Placed{"o-1", 8}});
                CHECK(placed.load("order-1").collect().at(1).data.total == 8);
            }
        }
    }
}

TEST_CASE("Store: loads") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Store<OrderEvent> store(env.db);
            // order-1: Placed, Paid, Shipped, Paid, Paid (versions 1..5); order-2 in between.
            store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1.5}, Paid{10}});
            store.append("order-2", eskit::NoStream{}, {Placed{"o-2", 2}});
            store.append("order-1", eskit::Exact{2}, {Shipped{"ups", {}, {}}, Paid{20}, Paid{30}});

            SUBCASE("load, load_from") {
                CHECK(versions_of(store.load("order-1").collect()) ==
                      std::vector<int64_t>{1, 2, 3, 4, 5});
                CHECK(seqs_of(store.load("order-1").collect()) ==
                      std::vector<int64_t>{1, 2, 4, 5, 6});
                CHECK(versions_of(store.load_from("order-1", 4).collect()) ==
                      std::vector<int64_t>{4, 5});
                CHECK(store.load_from("order-1", 6).collect().empty());
                CHECK(store.load("order-404").collect().empty());
            }
            SUBCASE("types, version range, limit") {
                CHECK(versions_of(store.load("order-1", {.types = {"Paid"}}).collect()) ==
                      std::vector<int64_t>{2, 4, 5});
                CHECK(versions_of(
                          store.load("order-1", {.types = {"Placed", "Shipped"}}).collect()) ==
                      std::vector<int64_t>{1, 3});
                CHECK(versions_of(
                          store.load("order-1", {.from_version = 2, .to_version = 4}).collect()) ==
                      std::vector<int64_t>{2, 3, 4});
                CHECK(versions_of(store.load("order-1", {.limit = 2}).collect()) ==
                      std::vector<int64_t>{1, 2});
                CHECK(versions_of(
                          store.load("order-1", {.from_version = 3, .types = {"Paid"}, .limit = 1})
                              .collect()) == std::vector<int64_t>{4});
                CHECK(store.load("order-1", {.limit = 0}).collect().empty());
            }
            SUBCASE("backwards, with range, types and limit") {
                CHECK(versions_of(store.load("order-1", {.backwards = true}).collect()) ==
                      std::vector<int64_t>{5, 4, 3, 2, 1});
                CHECK(
                    versions_of(store.load("order-1", {.limit = 2, .backwards = true}).collect()) ==
                    std::vector<int64_t>{5, 4});
                CHECK(versions_of(store
                                      .load("order-1",
                                            {.from_version = 2, .to_version = 4, .backwards = true})
                                      .collect()) == std::vector<int64_t>{4, 3, 2});
                CHECK(versions_of(store.load("order-1", {.types = {"Paid"}, .backwards = true})
                                      .collect()) == std::vector<int64_t>{5, 4, 2});
            }
            SUBCASE("decoded payloads") {
                auto e = store.load("order-1").collect();
                CHECK(std::get<Placed>(e[0].data) == Placed{"o-1", 1.5});
                CHECK(std::get<Paid>(e[4].data) == Paid{30});
                CHECK(std::get<Shipped>(e[2].data).carrier == "ups");
                CHECK_FALSE(std::get<Shipped>(e[2].data).tracking.has_value());
            }
            SUBCASE("load_raw: payloads as stored, decoded on demand") {
                auto raw = store.load_raw("order-1", {.to_version = 2});
                REQUIRE(raw.size() == 2);
                CHECK(raw[0].type == "Placed");
                CHECK(raw[0].codec == "json");
                CHECK(json(raw[0].data) == json(R"({"order_id":"o-1","total":1.5})"));
                CHECK(json(raw[1].data) == json(R"({"cents":10})"));
                auto decoded = store.decode(raw[1]);
                REQUIRE(decoded.has_value());
                CHECK(decoded->seq == 2);
                CHECK(decoded->version == 2);
                CHECK(std::get<Paid>(decoded->data) == Paid{10});
                CHECK(store.load_raw("order-1", {.backwards = true, .page_size = 2}).size() == 5);
            }
        }
    }
}

TEST_CASE("Store: paging through long streams and the log") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Store<OrderEvent> store(env.db);
            constexpr int64_t kEvents = 1000;
            for (int64_t i = 0; i < kEvents; i += 100) {
                std::vector<OrderEvent> batch;
                for (int64_t j = i; j < i + 100; ++j) batch.push_back(Paid{j});
                store.append("big-1", eskit::Exact{i}, batch);
                store.append("small-" + std::to_string(i), eskit::NoStream{}, {Placed{"s", 1}});
            }
            // seq of big-1's version v: 100 events per append, then one small event.
            auto seq_of = [](int64_t version) { return version + (version - 1) / 100; };

            SUBCASE("forwards, page size 7: every event once, in order") {
                int64_t expect = 1;
                for (const auto& e : store.load("big-1", {.page_size = 7})) {
                    CHECK(e.version == expect);
                    CHECK(std::get<Paid>(e.data).cents == expect - 1);
                    CHECK(e.seq == seq_of(expect));
                    ++expect;
                }
                CHECK(expect == kEvents + 1);
            }
            SUBCASE("backwards, page size 7") {
                int64_t expect = kEvents;
                for (const auto& e : store.load("big-1", {.backwards = true, .page_size = 7})) {
                    CHECK(e.version == expect);
                    --expect;
                }
                CHECK(expect == 0);
            }
            SUBCASE("limit and range across pages") {
                auto e = store.load("big-1", {.from_version = 10, .limit = 25, .page_size = 7})
                             .collect();
                REQUIRE(e.size() == 25);
                CHECK(e.front().version == 10);
                CHECK(e.back().version == 34);
                auto b =
                    store
                        .load("big-1",
                              {.to_version = 500, .limit = 15, .backwards = true, .page_size = 4})
                        .collect();
                REQUIRE(b.size() == 15);
                CHECK(b.front().version == 500);
                CHECK(b.back().version == 486);
            }
            SUBCASE("the log with log(): every event once, in seq order, across pages") {
                int64_t expect = 1;
                for (const auto& e : store.log(0, {.page_size = 9})) {
                    CHECK(e.seq == expect);
                    ++expect;
                }
                CHECK(expect == kEvents + 10 + 1);
                CHECK(store.latest_sequence() == kEvents + 10);
                // A page size of 0 means the default, as for loads.
                int64_t n = 0;
                for (const auto& e : store.log(kEvents, {.page_size = 0}))
                    n += e.seq > kEvents ? 1 : 0;
                CHECK(n == 10);
                CHECK(store.load("big-1", {.page_size = 0}).collect().size() == kEvents);
            }
            SUBCASE("log() with a category filter and a type filter, from a position") {
                std::vector<int64_t> small;
                for (const auto& e : store.log(0, {.category = "small", .page_size = 3}))
                    small.push_back(e.seq);
                std::vector<int64_t> want;
                for (int64_t i = 1; i <= 10; ++i) want.push_back(i * 101);
                CHECK(small == want);
                std::vector<int64_t> placed;
                for (const auto& e : store.log(500, {.types = {"Placed"}, .page_size = 2}))
                    placed.push_back(e.seq);
                CHECK(placed == std::vector<int64_t>(want.begin() + 4, want.end()));
                int64_t paid = 0;
                for (const auto& e :
                     store.log(0, {.types = {"Paid"}, .category = "big", .page_size = 64})) {
                    CHECK(e.stream_id == "big-1");
                    ++paid;
                }
                CHECK(paid == kEvents);
            }
            SUBCASE("read_from: one page of the log") {
                auto page = store.read_from(100, 5);
                CHECK(seqs_of(page) == std::vector<int64_t>{101, 102, 103, 104, 105});
                CHECK(page[0].stream_id == "small-0");
                auto cat = store.read_from(0, 3, {.category = "small"});
                CHECK(seqs_of(cat) == std::vector<int64_t>{101, 202, 303});
                auto typed = store.read_from(202, 2, {.types = {"Placed"}});
                CHECK(seqs_of(typed) == std::vector<int64_t>{303, 404});
                CHECK(store.read_from(kEvents + 10, 5).empty());
            }
        }
    }
}

TEST_CASE("Store: lifecycle") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Database& db = env.db;
            eskit::Store<OrderEvent> store(db);
            auto rec = store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}, Paid{10}});
            store.append("order-2", eskit::NoStream{}, {Placed{"o-2", 2}});
            CHECK(store.status("order-1") == eskit::StreamStatus::Active);
            CHECK(store.status("nope") == eskit::StreamStatus::None);

            SUBCASE("archive in place and restore") {
                store.archive("order-1");
                CHECK(store.status("order-1") == eskit::StreamStatus::Archived);
                CHECK(store.load("order-1").collect().size() == 2);  // reads still work
                auto e = thrown<eskit::StreamArchived>(
                    [&] { store.append("order-1", eskit::Any{}, {Paid{1}}); });
                CHECK(e.code() == eskit::Code::Archived);
                CHECK(e.stream() == "order-1");
                store.restore("order-1");
                CHECK(store.status("order-1") == eskit::StreamStatus::Active);
                CHECK(store.append("order-1", eskit::Exact{2}, {Paid{1}}).at(0).version == 3);
            }
            SUBCASE("archive into an attached schema and restore from it") {
                const std::string cold = env.tmp.file("cold.db");
                db.execute("ATTACH ?1 AS cold", {std::string_view(cold)});
                CHECK(store.archive("order-1", "cold") == 2);
                CHECK(store.status("order-1") == eskit::StreamStatus::Archived);
                CHECK(writer_count(
                          db, "SELECT count(*) FROM cold.es_events WHERE stream_id = 'order-1'") ==
                      2);
                CHECK(
                    scalar(db, "SELECT count(*) FROM main.es_events WHERE stream_id = 'order-1'") ==
                    0);
                auto e = thrown<eskit::StreamArchived>([&] { store.load("order-1").collect(); });
                CHECK(e.stream() == "order-1");
                CHECK(store.restore("order-1", "cold") == 2);
                auto back = store.load("order-1").collect();
                REQUIRE(back.size() == 2);
                CHECK(back[0].seq == rec[0].seq);  // original positions and ids
                CHECK(back[1].event_id == rec[1].event_id);
                CHECK(writer_count(db, "SELECT count(*) FROM cold.es_events") == 0);
                CHECK(store.append("order-1", eskit::Exact{2}, {Paid{1}}).at(0).version == 3);
            }
            SUBCASE("archive into another Database and restore from it") {
                auto archive = eskit::Database::open(env.tmp.file("archive.db"));
                CHECK(store.archive("order-1", archive) == 2);
                CHECK(store.status("order-1") == eskit::StreamStatus::Archived);
                // The archive is a store of its own holding the stream.
                eskit::Store<OrderEvent> there(archive);
                auto moved = there.load("order-1").collect();
                REQUIRE(moved.size() == 2);
                CHECK(moved[1].event_id == rec[1].event_id);
                CHECK(std::get<Paid>(moved[1].data) == Paid{10});
                CHECK(store.restore("order-1", archive) == 2);
                CHECK(store.status("order-1") == eskit::StreamStatus::Active);
                CHECK(store.load("order-1").collect().size() == 2);
                CHECK(there.load("order-1").collect().empty());
                // Nothing of the move stays attached to the write connection.
                CHECK(writer_count(db,
                                   "SELECT count(*) FROM pragma_database_list WHERE name = "
                                   "'es_facade_peer'") == 0);
            }
            SUBCASE("archive into a Database in memory is refused") {
                auto mem = eskit::Database::memory();
                auto e = thrown<eskit::InvalidArgument>([&] { store.archive("order-1", mem); });
                CHECK(std::string(e.what()) ==
                      "eskit: the target store is in memory; archive into a store file");
                CHECK(store.status("order-1") == eskit::StreamStatus::Active);
            }
            SUBCASE("tombstone, is_tombstoned") {
                const auto before = now();
                CHECK(store.tombstone("order-1", "gdpr request 7") == 2);
                auto t = store.is_tombstoned("order-1");
                REQUIRE(t.has_value());
                CHECK(t->reason == "gdpr request 7");
                CHECK(t->at >= before - std::chrono::seconds(1));
                CHECK(t->at <= now() + std::chrono::seconds(1));
                CHECK(store.status("order-1") == eskit::StreamStatus::Tombstoned);
                CHECK_FALSE(store.is_tombstoned("order-2").has_value());
                auto e = thrown<eskit::StreamTombstoned>([&] { store.load("order-1").collect(); });
                CHECK(e.code() == eskit::Code::Tombstoned);
                CHECK(e.stream() == "order-1");
                thrown<eskit::StreamTombstoned>(
                    [&] { store.append("order-1", eskit::Any{}, {Paid{1}}); });
                // Without a reason.
                CHECK(store.tombstone("order-2") == 1);
                auto t2 = store.is_tombstoned("order-2");
                REQUIRE(t2.has_value());
                CHECK_FALSE(t2->reason.has_value());
                // The log no longer holds their events.
                CHECK(store.read_from(0, 10).empty());
            }
            SUBCASE("remove: the stream is gone and its id can start again") {
                CHECK(store.remove("order-1") == 2);
                CHECK(store.status("order-1") == eskit::StreamStatus::None);
                CHECK(store.load("order-1").collect().empty());
                auto again = store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 5}});
                CHECK(again.at(0).version == 1);
                CHECK(again.at(0).seq == 4);  // positions are never reused
                auto e = thrown<eskit::StreamNotFound>([&] { store.remove("nope"); });
                CHECK(e.code() == eskit::Code::NotFound);
            }
        }
    }
}

namespace {

struct Totals {
    int64_t events = 0;
    int64_t cents = 0;
    friend bool operator==(const Totals&, const Totals&) = default;
};
ESKIT_FIELDS(Totals, events, cents);

}  // namespace

TEST_CASE("Store: aggregate") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Store<OrderEvent> store(env.db);
            store.append("order-1", eskit::NoStream{},
                         {Placed{"o-1", 1}, Paid{10}, Paid{20}, Paid{30}});
            int folded = 0;
            auto evolve = [&](Totals& t, const eskit::RecordedEvent<OrderEvent>& e) {
                ++folded;
                ++t.events;
                if (const auto* p = std::get_if<Paid>(&e.data)) t.cents += p->cents;
            };

            SUBCASE("without a snapshot: from the first event") {
                auto a = store.aggregate("order-1", Totals{}, evolve);
                CHECK(a.version == 4);
                CHECK(a.state == Totals{4, 60});
                CHECK(folded == 4);
                auto none = store.aggregate("order-404", Totals{}, evolve);
                CHECK(none.version == 0);
                CHECK(none.state == Totals{});
            }
            SUBCASE("from a snapshot: only the events after it") {
                eskit::SnapshotStore<Totals> snaps(env.db);
                snaps.save("order-1", 2, Totals{2, 1000});  // a marker: not what replay gives
                auto a = store.aggregate("order-1", Totals{}, evolve, &snaps);
                CHECK(a.version == 4);
                CHECK(a.state == Totals{4, 1050});
                CHECK(folded == 2);
            }
            SUBCASE("a stale snapshot (other schema version) is not used: full replay") {
                eskit::SnapshotStore<Totals> v1(env.db, 1);
                v1.save("order-1", 3, Totals{3, 1000});
                eskit::SnapshotStore<Totals> v2(env.db, 2);
                auto a = store.aggregate("order-1", Totals{}, evolve, &v2);
                CHECK(a.state == Totals{4, 60});
                CHECK(folded == 4);
            }
        }
    }
}
