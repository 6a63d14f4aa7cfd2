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

#include <cstdio>
#include <variant>

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

int main() {
    auto db = eskit::Database::memory();
    eskit::Upcasters up;
    up.add<shop::ItemAdded>(1, [](eskit::Value& v) { v.rename("quantity", "qty"); });
    eskit::StoreOptions<shop::CartEvent> options;
    options.upcasters = up;
    eskit::Store<shop::CartEvent> store(db, options);
    store.append("cart-1", eskit::NoStream{}, {shop::CartOpened{"ada"}, shop::ItemAdded{"A-1", 2, shop::Size::Large, {}}});
    eskit::SnapshotStore<shop::Cart> snapshots(db);
    auto cart = store.aggregate(
        "cart-1", shop::Cart{},
        [](shop::Cart& c, const eskit::RecordedEvent<shop::CartEvent>& e) {
            if (const auto* added = std::get_if<shop::ItemAdded>(&e.data)) c.items += added->qty;
        },
        &snapshots);
    eskit::Notifier notifier(db);
    eskit::Subscription<shop::CartEvent> sub(store, notifier, eskit::SubscriptionOptions{.name = "count"});
    int64_t seen = sub.catch_up([](const std::vector<eskit::RecordedEvent<shop::CartEvent>>&) {});
    try {
        store.append("cart-1", eskit::NoStream{}, {shop::CartOpened{"bob"}});
    } catch (const eskit::ConcurrencyConflict& e) {
        std::printf("conflict as expected: %s (actual %lld)\n", e.what(), static_cast<long long>(e.actual().value_or(-1)));
    }
    std::printf("cart-1: %d items at version %lld, %lld events seen\n", cart.state.items,
                static_cast<long long>(cart.version), static_cast<long long>(seen));
    return cart.state.items == 2 && cart.version == 2 && seen == 2 ? 0 : 1;
}
