// eskit::SnapshotStore<S>: save (upsert), load with the stored schema version, a schema
// version mismatch reported stale (not decoded, so the caller replays), invalidate one and
// all, states in either codec, and the extension's checks reached through it.
#include "support.hpp"

using namespace ft;

namespace {

struct OrderState {
    std::string status;
    int64_t lines = 0;
    std::vector<std::string> skus;
    friend bool operator==(const OrderState&, const OrderState&) = default;
};
ESKIT_FIELDS(OrderState, status, lines, skus);

}  // namespace

TEST_CASE("SnapshotStore") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Store<OrderEvent> store(env.db);
            store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}, Paid{1}, Paid{2}});
            store.append("order-2", eskit::NoStream{}, {Placed{"o-2", 1}});
            eskit::SnapshotStore<OrderState> snaps(env.db, 3);
            const OrderState state{"paid", 2, {"a", "b"}};

            SUBCASE("save and load") {
                CHECK_FALSE(snaps.load("order-1").has_value());
                const auto before = now();
                snaps.save("order-1", 2, state);
                auto s = snaps.load("order-1");
                REQUIRE(s.has_value());
                CHECK(s->version == 2);
                CHECK(s->schema_version == 3);
                CHECK(s->current());
                CHECK(s->state == state);
                CHECK(s->created_at >= before - std::chrono::seconds(1));
                // One per stream: a later save replaces it.
                snaps.save("order-1", 3, OrderState{"shipped", 3, {}});
                CHECK(snaps.load("order-1")->version == 3);
                CHECK(snaps.load("order-1")->state.status == "shipped");
                CHECK(scalar(env.db, "SELECT count(*) FROM es_snapshots") == 1);
            }
            SUBCASE("a snapshot of another schema version is stale: reported, not decoded") {
                snaps.save("order-1", 2, state);
                eskit::SnapshotStore<OrderState> newer(env.db, 4);
                auto s = newer.load("order-1");
                REQUIRE(s.has_value());
                CHECK(s->stale);
                CHECK_FALSE(s->current());
                CHECK(s->schema_version == 3);
                CHECK(s->version == 2);
                CHECK(s->state == OrderState{});
            }
            SUBCASE("a cbor snapshot is read back by a json-writing snapshot store") {
                eskit::SnapshotStore<OrderState> cbor(env.db, 3, eskit::cbor_codec());
                cbor.save("order-1", 3, state);
                CHECK(text(env.db, "SELECT codec || '/' || typeof(state) FROM es_snapshots") ==
                      "cbor/blob");
                CHECK(snaps.load("order-1")->state == state);
            }
            SUBCASE("invalidate one, then all") {
                snaps.save("order-1", 2, state);
                snaps.save("order-2", 1, state);
                CHECK(snaps.invalidate("order-1"));
                CHECK_FALSE(snaps.invalidate("order-1"));
                CHECK_FALSE(snaps.load("order-1").has_value());
                CHECK(snaps.load("order-2").has_value());
                snaps.save("order-1", 1, state);
                CHECK(snaps.invalidate_all() == 2);
                CHECK_FALSE(snaps.load("order-2").has_value());
                CHECK(snaps.invalidate_all() == 0);
            }
            SUBCASE(
                "the extension's rules: a version beyond the stream, a stream that does not "
                "exist") {
                auto e = thrown<eskit::InvalidArgument>([&] { snaps.save("order-1", 4, state); });
                CHECK(std::string(e.what()) ==
                      "invalid_argument: es_snapshot_save(): version 4 is outside "
                      "1..3, the versions of stream 'order-1'");
                CHECK(e.stream() == "order-1");
                thrown<eskit::StreamNotFound>([&] { snaps.save("order-404", 1, state); });
            }
            SUBCASE("a tombstone takes the snapshot with it") {
                snaps.save("order-1", 2, state);
                store.tombstone("order-1", "gone");
                CHECK_FALSE(snaps.load("order-1").has_value());
            }
        }
    }
}
