// An order aggregate with eskit's C++ facade: decide, append, load, snapshot, and a read model
// kept by a Subscription in transactional mode (the projection's rows and its checkpoint commit
// together). Built by meson as facade/examples/orders; `tools/dev demo` runs it.
//
//     build/facade/examples/orders [database-file]
#include <eskit/eskit.hpp>

#include <cstdio>
#include <string>
#include <variant>
#include <vector>

struct OrderPlaced {
    std::string customer;
    double total = 0;
};
ESKIT_FIELDS(OrderPlaced, customer, total);
ESKIT_EVENT(OrderPlaced, "OrderPlaced", 1);

struct ItemAdded {
    std::string sku;
    int qty = 0;
    double price = 0;
};
ESKIT_FIELDS(ItemAdded, sku, qty, price);
ESKIT_EVENT(ItemAdded, "ItemAdded", 1);

struct OrderShipped {
    std::string carrier;
};
ESKIT_FIELDS(OrderShipped, carrier);
ESKIT_EVENT(OrderShipped, "OrderShipped", 1);

using OrderEvent = std::variant<OrderPlaced, ItemAdded, OrderShipped>;

// The aggregate: state, evolve (fold one event), decide (commands to events).
struct Order {
    bool placed = false;
    bool shipped = false;
    double total = 0;
    int items = 0;
};
ESKIT_FIELDS(Order, placed, shipped, total, items);

void evolve(Order& o, const eskit::RecordedEvent<OrderEvent>& e) {
    std::visit(
        [&](const auto& ev) {
            using T = std::decay_t<decltype(ev)>;
            if constexpr (std::is_same_v<T, OrderPlaced>) {
                o.placed = true;
                o.total = ev.total;
            } else if constexpr (std::is_same_v<T, ItemAdded>) {
                o.items += ev.qty;
                o.total += ev.qty * ev.price;
            } else {
                o.shipped = true;
            }
        },
        e.data);
}

std::vector<OrderEvent> ship(const Order& o, const std::string& carrier) {
    if (!o.placed || o.shipped) return {};
    return {OrderShipped{carrier}};
}

int main(int argc, char** argv) {
    const std::string path = argc > 1 ? argv[1] : "orders.db";
    auto db = eskit::Database::open(path);
    eskit::Store<OrderEvent> store(db);
    eskit::SnapshotStore<Order> snapshots(db);
    eskit::Notifier notifier(db);

    // The read model, kept exactly once by a transactional subscription.
    db.execute("CREATE TABLE IF NOT EXISTS order_totals(order_id TEXT PRIMARY KEY, total REAL)");
    eskit::Subscription<OrderEvent> totals(
        store, notifier, {.name = "order_totals", .delivery = eskit::Delivery::Transactional});

    // Commands: place an order, add items, ship it (decide from the current state).
    const std::string id = "order-" + std::to_string(store.latest_sequence() + 1);
    store.append(id, eskit::NoStream{}, {OrderPlaced{"cust-42", 0}});
    auto added =
        store.append(id, eskit::Exact{1}, {ItemAdded{"A-1", 2, 19.99}, ItemAdded{"B-7", 1, 5.5}});
    std::printf(
        "appended %s versions %lld..%lld at seq %lld..%lld\n", id.c_str(),
        static_cast<long long>(added.front().version), static_cast<long long>(added.back().version),
        static_cast<long long>(added.front().seq), static_cast<long long>(added.back().seq));

    auto order = store.aggregate(id, Order{}, evolve, &snapshots);
    snapshots.save(id, order.version, order.state);
    store.append(id, eskit::Exact{order.version}, ship(order.state, "dhl"));
    try {
        store.append(id, eskit::Exact{order.version}, {OrderShipped{"ups"}});  // stale writer
    } catch (const eskit::ConcurrencyConflict& e) {
        std::printf("conflict: %s is at version %lld, expected %lld\n", e.stream().c_str(),
                    static_cast<long long>(*e.actual()), static_cast<long long>(*e.expected()));
    }

    // Load: from the snapshot on, then the whole stream.
    order = store.aggregate(id, Order{}, evolve, &snapshots);
    std::printf("%s: version %lld, %d items, total %.2f, shipped %s\n", id.c_str(),
                static_cast<long long>(order.version), order.state.items, order.state.total,
                order.state.shipped ? "yes" : "no");
    for (const auto& e : store.load(id)) {
        std::printf("  %lld %s\n", static_cast<long long>(e.version), e.type.c_str());
    }

    // Catch the read model up: each batch's rows and checkpoint in one transaction.
    totals.catch_up([&](const std::vector<eskit::RecordedEvent<OrderEvent>>& batch) {
        for (const auto& e : batch) {
            if (const auto* placed = std::get_if<OrderPlaced>(&e.data)) {
                db.execute("INSERT OR REPLACE INTO order_totals VALUES (?1, ?2)",
                           {std::string_view(e.stream_id), placed->total});
            } else if (const auto* item = std::get_if<ItemAdded>(&e.data)) {
                db.execute("UPDATE order_totals SET total = total + ?2 WHERE order_id = ?1",
                           {std::string_view(e.stream_id), item->qty * item->price});
            }
        }
    });
    db.query("SELECT total FROM order_totals WHERE order_id = ?1", {std::string_view(id)},
             [](const eskit::Row& r) { std::printf("read model total: %.2f\n", r.real(0)); });
    return 0;
}
