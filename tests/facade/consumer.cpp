// A consumer translation unit: every public header through <eskit/eskit.hpp>, built with
// -Wall -Wextra -Wshadow -Werror (and meson's warning_level=3: -Wpedantic), the warnings an
// application may turn into errors. It must compile without <sqlite3.h> or simdjson: if a
// public header pulled either in, the checks below stop the build. Run as a test, it uses the
// API a little (a small program an application could be) and exits 0.
#include <eskit/eskit.hpp>

#if defined(SQLITE3_H) || defined(SQLITE_VERSION) || defined(_SQLITE3_H_)
#error "a public eskit header includes <sqlite3.h>"
#endif
#if defined(SIMDJSON_H) || defined(SIMDJSON_VERSION)
#error "a public eskit header includes simdjson"
#endif

#include <chrono>
#include <cstdio>
#include <variant>
#include <vector>

namespace shop {

struct CartOpened {
    std::string customer;
};
ESKIT_FIELDS(CartOpened, customer);
ESKIT_EVENT(CartOpened, "CartOpened", 1);

enum class Size { Small, Large };
ESKIT_ENUM(Size, Small, Large);

struct ItemAdded {
    std::string sku;
    int qty = 0;
    Size size = Size::Small;
    std::optional<double> discount;
};
ESKIT_FIELDS(ItemAdded, sku, qty, size, discount);
ESKIT_EVENT(ItemAdded, "ItemAdded", 2, "ProductAdded");

using CartEvent = std::variant<CartOpened, ItemAdded>;

struct Cart {
    int items = 0;
};
ESKIT_FIELDS(Cart, items);

}  // namespace shop

// The option structs are written the way the README writes them, with designated
// initializers that leave members out: with -Wextra (-Wmissing-field-initializers) every member
// needs a default for that to compile cleanly.
int main() {
    auto db = eskit::Database::memory(
        eskit::DatabaseOptions{.busy_timeout = std::chrono::milliseconds(500)});
    eskit::Upcasters up;
    up.add<shop::ItemAdded>(1, [](eskit::Value& v) { v.rename("quantity", "qty"); });
    eskit::Store<shop::CartEvent> store(db, {.upcasters = up});
    store.append("cart-1", eskit::NoStream{},
                 {shop::CartOpened{"ada"}, shop::ItemAdded{"A-1", 2, shop::Size::Large, {}}},
                 {.idempotency_key = "open-cart-1"});
    store.append("cart-1", eskit::Exact{2},
                 std::vector<eskit::NewEvent<shop::CartEvent>>{
                     {shop::ItemAdded{"B-2", 1, shop::Size::Small, 0.5}, {.id = "item-b-2"}}},
                 {.metadata = R"({"user":"ada"})"});
    eskit::RawStore raw(db);
    raw.append("cart-2", eskit::NoStream{},
               {{.type = "CartOpened", .data = R"({"customer":"bob"})"}});
    int64_t last_two = 0;
    for (const auto& e : store.load("cart-1", {.limit = 2, .backwards = true}))
        last_two += e.version;
    const auto page = store.read_from(0, 10, {.category = "cart"});
    eskit::SnapshotStore<shop::Cart> snapshots(db);
    auto cart = store.aggregate(
        "cart-1", shop::Cart{},
        [](shop::Cart& c, const eskit::RecordedEvent<shop::CartEvent>& e) {
            if (const auto* added = std::get_if<shop::ItemAdded>(&e.data)) c.items += added->qty;
        },
        &snapshots);
    eskit::Notifier notifier(db, {.mode = eskit::NotifyMode::Poll});
    eskit::Subscription<shop::CartEvent> sub(
        store, notifier, {.name = "count", .delivery = eskit::Delivery::Transactional});
    int64_t seen = sub.catch_up([](const std::vector<eskit::RecordedEvent<shop::CartEvent>>&) {});
    try {
        store.append("cart-1", eskit::NoStream{}, {shop::CartOpened{"bob"}});
    } catch (const eskit::ConcurrencyConflict& e) {
        std::printf("conflict as expected: %s (actual %lld)\n", e.what(),
                    static_cast<long long>(e.actual().value_or(-1)));
    }
    std::printf("cart-1: %d items at version %lld, %lld events seen, %zu in the log\n",
                cart.state.items, static_cast<long long>(cart.version),
                static_cast<long long>(seen), page.size());
    return cart.state.items == 3 && cart.version == 3 && seen == 4 && page.size() == 4 &&
                   last_two == 5
               ? 0
               : 1;
}
