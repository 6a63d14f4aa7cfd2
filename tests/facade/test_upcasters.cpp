// eskit::Upcasters through Store<E>: a three-step chain (1 -> 2 -> 3 -> 4) over events stored
// at versions 1, 2, 3 and 4 through both shipped codecs, each event lifted from its own version
// only; and the chains refused when they are registered (a gap, a missing last step, a step at
// or beyond the current version, a duplicate), not when an old event is first loaded.
#include "support.hpp"

using namespace ft;

namespace {

// Version 4 of a customer: v1 {"name"}, v2 renamed it {"full_name"}, v3 added {"tier"}, v4
// split the name into {"first", "last"}.
struct Customer {
    std::string first;
    std::string last;
    std::string tier;
    friend bool operator==(const Customer&, const Customer&) = default;
};
ESKIT_FIELDS(Customer, first, last, tier);
ESKIT_EVENT(Customer, "CustomerRegistered", 4);

void rename_name(eskit::Value& v) { v.rename("name", "full_name"); }
void add_tier(eskit::Value& v) {
    v.set("tier", "standard");
}  // unconditional: v3 events keep theirs only if this is not run on them
void split_name(eskit::Value& v) {
    const std::string full = v.at("full_name").as_string();
    const size_t sp = full.find(' ');
    v.set("first", full.substr(0, sp));
    v.set("last", full.substr(sp + 1));
    v.erase("full_name");
}

eskit::Upcasters chain() {
    eskit::Upcasters up;
    up.add<Customer>(1, rename_name).add<Customer>(2, add_tier).add<Customer>(3, split_name);
    return up;
}

// The payload of each stored version, as a dynamic value.
eskit::Value payload(int version, const std::string& first, const std::string& last) {
    const std::string full = first + " " + last;
    switch (version) {
        case 1: return eskit::Value::object({{"name", full}});
        case 2: return eskit::Value::object({{"full_name", full}});
        case 3: return eskit::Value::object({{"full_name", full}, {"tier", "gold"}});
        default: return eskit::Value::object({{"first", first}, {"last", last}, {"tier", "gold"}});
    }
}

}  // namespace

TEST_CASE("Upcasters: a three-step chain over events at every version, through both codecs") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::RawStore raw(env.db);
            // Versions 1-3 as an older program stored them; version 4 through today's stores.
            int64_t v = 0;
            for (const eskit::Codec* codec : {&eskit::json_codec(), &eskit::cbor_codec()}) {
                for (int version = 1; version <= 3; ++version) {
                    const std::string who = std::string(codec->name()) + std::to_string(version);
                    raw.append("customer-1", eskit::Exact{v++},
                               {{.type = "CustomerRegistered",
                                 .data = codec->encode(payload(version, "Ada", who)),
                                 .codec = std::string(codec->name()),
                                 .schema_version = version}});
                }
                eskit::Store<Customer> today(env.db, {.write_codec = codec, .upcasters = chain()});
                auto rec =
                    today.append("customer-1", eskit::Exact{v++},
                                 {Customer{"Ada", std::string(codec->name()) + "4", "gold"}});
                CHECK(rec.at(0).schema_version == 4);  // appends stamp the current version
            }
            eskit::Store<Customer> store(env.db, {.upcasters = chain()});

            SUBCASE("every event arrives at version 4, lifted from the version it was stored at") {
                auto loaded = store.load("customer-1").collect();
                REQUIRE(loaded.size() == 8);
                const char* codecs[] = {"json", "cbor"};
                for (int c = 0; c < 2; ++c) {
                    for (int version = 1; version <= 4; ++version) {
                        const auto& e = loaded[static_cast<size_t>(c * 4 + version - 1)];
                        INFO("codec " << codecs[c] << ", stored at version " << version);
                        CHECK(e.codec == codecs[c]);
                        CHECK(e.schema_version == 4);
                        // v1 and v2 events get the default tier from step 2; v3 and v4 kept theirs.
                        const std::string tier = version <= 2 ? "standard" : "gold";
                        CHECK(e.data == Customer{"Ada",
                                                 std::string(codecs[c]) + std::to_string(version),
                                                 tier});
                    }
                }
            }
            SUBCASE("the stored rows keep their versions (lifting happens on the way in)") {
                std::vector<int64_t> stored;
                env.db.query("SELECT schema_version FROM es_events ORDER BY seq", {},
                             [&](const eskit::Row& r) { stored.push_back(r.integer(0)); });
                CHECK(stored == std::vector<int64_t>{1, 2, 3, 4, 1, 2, 3, 4});
                auto raw_events = store.load_raw("customer-1", {.to_version = 1});
                CHECK(raw_events.at(0).schema_version == 1);
                CHECK(store.decode(raw_events.at(0))->data == Customer{"Ada", "json1", "standard"});
            }
            SUBCASE("a store without the chain cannot read the old events") {
                eskit::Store<Customer> bare(env.db);
                auto e = thrown<eskit::CodecError>([&] { bare.load("customer-1").collect(); });
                CHECK(std::string(e.what()) ==
                      "eskit: no upcaster lifts 'CustomerRegistered' from "
                      "version 1 (the event was stored at version 1)");
            }
        }
    }
}

TEST_CASE("Upcasters: broken chains are refused at registration") {
    auto db = eskit::Database::memory();

    SUBCASE("a step from version 0, or at or beyond the current version") {
        for (int64_t from : {int64_t{0}, int64_t{4}, int64_t{5}}) {
            eskit::Upcasters up;
            auto e = thrown<eskit::CodecError>([&] { up.add<Customer>(from, rename_name); });
            CHECK(std::string(e.what()) ==
                  "eskit: upcaster of 'CustomerRegistered' from version " + std::to_string(from) +
                      ": the type is at version 4, so steps lift versions 1 to 3");
        }
    }
    SUBCASE("a duplicate step") {
        eskit::Upcasters up;
        up.add<Customer>(1, rename_name);
        auto e = thrown<eskit::CodecError>([&] { up.add<Customer>(1, rename_name); });
        CHECK(std::string(e.what()) ==
              "eskit: upcaster of 'CustomerRegistered' from version 1 is registered twice");
    }
    SUBCASE("a gap: the Store is not built") {
        eskit::Upcasters up;
        up.add<Customer>(1, rename_name).add<Customer>(3, split_name);
        auto e =
            thrown<eskit::CodecError>([&] { eskit::Store<Customer> s(db, {.upcasters = up}); });
        CHECK(std::string(e.what()) ==
              "eskit: upcasters of 'CustomerRegistered' have a gap: no step from version 2 to 3");
        CHECK_THROWS_AS(up.validate(), eskit::CodecError);
    }
    SUBCASE("a missing last step") {
        eskit::Upcasters up;
        up.add<Customer>(1, rename_name).add<Customer>(2, add_tier);
        auto e =
            thrown<eskit::CodecError>([&] { eskit::Store<Customer> s(db, {.upcasters = up}); });
        CHECK(std::string(e.what()) ==
              "eskit: upcasters of 'CustomerRegistered' end at version 3, not at the type's "
              "version 4");
    }
    SUBCASE("a complete chain is accepted") {
        CHECK_NOTHROW(chain().validate());
        CHECK_NOTHROW(eskit::Store<Customer>(db, {.upcasters = chain()}));
    }
}
