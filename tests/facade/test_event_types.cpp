// eskit::EventTypes through Store<E>: a std::variant E and a single-type E, aliases of renamed
// types, stored types the store does not know under each UnknownTypes policy (Error, Skip,
// Raw with UnknownEvent delivery), events newer than the program, and one stream written
// through two codecs (json and cbor write codecs on two Store objects over one database) read
// back by one store, resolving each event's codec in the store's registry.
#include "support.hpp"

using namespace ft;

namespace {

struct PlacedAgain {
    int64_t n = 0;
};
ESKIT_FIELDS(PlacedAgain, n);
ESKIT_EVENT(PlacedAgain, "Placed", 1);

std::shared_ptr<const eskit::Codec> unowned(const eskit::Codec& c) {
    return std::shared_ptr<const eskit::Codec>(std::shared_ptr<const eskit::Codec>(), &c);
}

}  // namespace

TEST_CASE("Event types: unknown stored types, aliases, versions") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            // Another program, which knows Refunded, wrote the stream.
            eskit::Store<WiderEvent> wider(env.db);
            auto rec = wider.append("order-1", eskit::NoStream{},
                                    {Placed{"o-1", 1}, Refunded{5}, Paid{7}});

            SUBCASE("UnknownTypes::Error (the default): a load fails, naming the event and type") {
                eskit::Store<OrderEvent> store(env.db);
                auto e = thrown<eskit::CodecError>([&] { store.load("order-1").collect(); });
                CHECK(std::string(e.what()) ==
                      "eskit: event " + rec[1].event_id +
                          " in stream 'order-1' has type 'Refunded', which "
                          "this store does not know");
                thrown<eskit::CodecError>([&] { store.read_from(0, 10); });
                // What precedes it can still be read by range.
                CHECK(store.load("order-1", {.limit = 1}).collect().size() == 1);
            }
            SUBCASE("UnknownTypes::Skip: left out of loads and reads") {
                eskit::Store<OrderEvent> store(env.db,
                                               {.unknown_types = eskit::UnknownTypes::Skip});
                auto loaded = store.load("order-1").collect();
                REQUIRE(loaded.size() == 2);
                CHECK(loaded[0].version == 1);
                CHECK(loaded[1].version == 3);
                CHECK(store.read_from(0, 10).size() == 2);
                int n = 0;
                for (const auto& e : store.log(0, {.page_size = 1})) {
                    CHECK(e.type != "Refunded");
                    ++n;
                }
                CHECK(n == 2);
            }
            SUBCASE("UnknownTypes::Raw: delivered as UnknownEvent, as stored") {
                eskit::Store<OrderEventOrUnknown> store(
                    env.db, {.unknown_types = eskit::UnknownTypes::Raw});
                auto loaded = store.load("order-1").collect();
                REQUIRE(loaded.size() == 3);
                const auto* u = std::get_if<eskit::UnknownEvent>(&loaded[1].data);
                REQUIRE(u != nullptr);
                CHECK(u->type == "Refunded");
                CHECK(u->codec == "json");
                CHECK(u->schema_version == 1);
                CHECK(eskit::json_codec().decode(u->data) ==
                      eskit::json_codec().decode(R"({"cents":5})"));
                CHECK(loaded[1].seq == rec[1].seq);
                CHECK(std::get<Paid>(loaded[2].data) == Paid{7});
            }
            SUBCASE("an UnknownEvent cannot be appended") {
                eskit::Store<OrderEventOrUnknown> store(
                    env.db, {.unknown_types = eskit::UnknownTypes::Raw});
                auto e = thrown<eskit::CodecError>([&] {
                    store.append("order-1", eskit::Any{},
                                 {eskit::UnknownEvent{"Refunded", "json", 1, "{}"}});
                });
                CHECK(std::string(e.what()) ==
                      "eskit: this alternative of the event variant has no ESKIT_EVENT "
                      "declaration and cannot be appended");
                CHECK(store.load("order-1").collect().size() == 3);
            }
            SUBCASE("UnknownTypes::Raw needs an UnknownEvent alternative") {
                auto e = thrown<eskit::CodecError>([&] {
                    eskit::Store<OrderEvent> s(env.db, {.unknown_types = eskit::UnknownTypes::Raw});
                });
                CHECK(std::string(e.what()) ==
                      "eskit: UnknownTypes::Raw needs an eskit::UnknownEvent "
                      "alternative in the store's event variant");
            }
            SUBCASE("a single-type store meets other types under its policy") {
                eskit::Store<Placed> strict(env.db);
                thrown<eskit::CodecError>([&] { strict.load("order-1").collect(); });
                eskit::Store<Placed> skipping(env.db, {.unknown_types = eskit::UnknownTypes::Skip});
                // Paid is a type the single-type store does not know either.
                auto loaded = skipping.load("order-1").collect();
                REQUIRE(loaded.size() == 1);
                CHECK(loaded[0].data == Placed{"o-1", 1});
            }
            SUBCASE(
                "an alias reads events stored under the type's old name; appends use the new one") {
                eskit::RawStore raw(env.db);
                raw.append("order-2", eskit::NoStream{},
                           {{.type = "PaymentReceived", .data = R"({"cents":3})"}});
                eskit::Store<OrderEvent> store(env.db);
                auto loaded = store.load("order-2").collect();
                REQUIRE(loaded.size() == 1);
                CHECK(loaded[0].type == "PaymentReceived");  // as stored
                CHECK(std::get<Paid>(loaded[0].data) == Paid{3});
                CHECK(store.append("order-2", eskit::Exact{1}, {Paid{4}}).at(0).type == "Paid");
            }
            SUBCASE("an event stored with a newer schema version than the program's is an error") {
                eskit::RawStore raw(env.db);
                auto r = raw.append(
                    "order-3", eskit::NoStream{},
                    {{.type = "Placed", .data = R"({"order_id":"x"})", .schema_version = 2}});
                eskit::Store<OrderEvent> store(env.db);
                auto e = thrown<eskit::CodecError>([&] { store.load("order-3").collect(); });
                CHECK(std::string(e.what()) ==
                      "eskit: event " + r.at(0).event_id +
                          " of type 'Placed' has schema version 2, newer than "
                          "this program's 1");
            }
            SUBCASE("two alternatives under one stored name are refused") {
                using Clash = std::variant<Placed, PlacedAgain>;
                auto e = thrown<eskit::CodecError>([&] { eskit::Store<Clash> s(env.db); });
                CHECK(std::string(e.what()) ==
                      "eskit: event type name 'Placed' is declared by two "
                      "alternatives of the store's event type");
            }
        }
    }
}

TEST_CASE("Event types: one stream written through two codecs, read back by one store") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Store<OrderEvent> json_store(env.db);
            eskit::Store<OrderEvent> cbor_store(env.db, {.write_codec = &eskit::cbor_codec()});
            const Shipped shipped{"dhl", "track-1", {"a", "b"}};
            CHECK(json_store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 9.25}})
                      .at(0)
                      .codec == "json");
            CHECK(cbor_store.append("order-1", eskit::Exact{1}, {Paid{925}, shipped}).at(0).codec ==
                  "cbor");
            json_store.append("order-1", eskit::Exact{3}, {Paid{1}});

            SUBCASE("as stored: json as TEXT, cbor as BLOB") {
                std::vector<std::string> rows;
                env.db.query(
                    "SELECT codec, typeof(data) FROM es_events ORDER BY seq", {},
                    [&](const eskit::Row& r) {
                        rows.push_back(std::string(r.text(0)) + "/" + std::string(r.text(1)));
                    });
                CHECK(rows ==
                      std::vector<std::string>{"json/text", "cbor/blob", "cbor/blob", "json/text"});
            }
            SUBCASE("any store of the database reads every event, whichever codec wrote it") {
                for (auto* store : {&json_store, &cbor_store}) {
                    auto loaded = store->load("order-1").collect();
                    REQUIRE(loaded.size() == 4);
                    CHECK(std::get<Placed>(loaded[0].data) == Placed{"o-1", 9.25});
                    CHECK(std::get<Paid>(loaded[1].data) == Paid{925});
                    CHECK(std::get<Shipped>(loaded[2].data) == shipped);
                    CHECK(std::get<Paid>(loaded[3].data) == Paid{1});
                    CHECK(loaded[1].codec == "cbor");
                    CHECK(loaded[3].codec == "json");
                }
                eskit::Store<OrderEvent> third(env.db);
                CHECK(third.read_from(0, 10).size() == 4);
            }
            SUBCASE("load_raw gives the cbor bytes; decode() resolves the codec") {
                auto raw = json_store.load_raw("order-1", {.from_version = 2, .to_version = 2});
                REQUIRE(raw.size() == 1);
                CHECK(raw[0].codec == "cbor");
                CHECK(raw[0].data == eskit::encode(eskit::cbor_codec(), Paid{925}));
                CHECK(std::get<Paid>(json_store.decode(raw[0])->data) == Paid{925});
            }
            SUBCASE("a store whose registry lacks the codec cannot read those events") {
                auto reg = std::make_shared<eskit::CodecRegistry>(eskit::CodecRegistry::empty());
                reg->add(unowned(eskit::json_codec()));
                eskit::Store<OrderEvent> json_only(env.db, {.codecs = reg});
                auto e = thrown<eskit::CodecError>([&] { json_only.load("order-1").collect(); });
                CHECK(std::string(e.what()) == "unknown codec 'cbor' (registered: json)");
                CHECK(json_only.load("order-1", {.limit = 1}).collect().size() == 1);
            }
        }
    }
}
