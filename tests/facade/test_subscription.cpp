// eskit::Subscription<E>: catch-up from the checkpoint (strictly after it) in batches, type and
// category filters, the switch to live with no gap and no duplicate, the pull form's messages
// (Event, CaughtUp, FellBehind, Timeout, Stopped), the decode-error policies (Stop, Skip,
// Callback), transactional delivery (the handler's writes and the checkpoint commit together;
// a second consumer under the same name fails its compare-and-set), stop() from another thread,
// and no busy loop while live behind a filter.
#include <atomic>
#include <mutex>

#include "support.hpp"

using namespace ft;

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using Batch = std::vector<eskit::RecordedEvent<OrderEvent>>;
using Msg = eskit::Message<OrderEvent>;

namespace {

// What a handler saw: each batch's seqs.
struct Seen {
    std::mutex m;
    std::vector<std::vector<int64_t>> batches;
    void add(const Batch& b) {
        std::vector<int64_t> seqs;
        for (const auto& e : b) seqs.push_back(e.seq);
        std::lock_guard lk(m);
        batches.push_back(std::move(seqs));
    }
    std::vector<int64_t> all() {
        std::lock_guard lk(m);
        std::vector<int64_t> out;
        for (const auto& b : batches) out.insert(out.end(), b.begin(), b.end());
        return out;
    }
    size_t count() { return all().size(); }
};

std::vector<int64_t> range(int64_t from, int64_t to) {
    std::vector<int64_t> out;
    for (int64_t i = from; i <= to; ++i) out.push_back(i);
    return out;
}

bool eventually(const std::function<bool()>& cond, milliseconds limit) {
    const auto deadline = Clock::now() + limit * slow_factor();
    while (!cond()) {
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(milliseconds(5));
    }
    return true;
}

}  // namespace

TEST_CASE("Subscription: catch-up, filters, live") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Store<OrderEvent> store(env.db);
            eskit::Notifier notifier(env.db);
            eskit::CheckpointStore checkpoints(env.db);
            // seq 1..10: order-1 (Placed, Paid x4), cart-1 (Placed x5), interleaved.
            for (int i = 0; i < 5; ++i) {
                store.append("order-1", eskit::Any{},
                             {i == 0 ? OrderEvent{Placed{"o", 1}} : OrderEvent{Paid{i}}});
                store.append("cart-1", eskit::Any{}, {Placed{"c", 1}});
            }
            Seen seen;
            auto handler = [&](const Batch& b) { seen.add(b); };

            SUBCASE("from its checkpoint, strictly after it, in batches") {
                checkpoints.set("proj", 3);
                eskit::Subscription<OrderEvent> sub(store, notifier, {.name = "proj", .batch = 4});
                CHECK(sub.position() == 3);
                CHECK(sub.catch_up(handler) == 7);
                CHECK(seen.batches == std::vector<std::vector<int64_t>>{{4, 5, 6, 7}, {8, 9, 10}});
                CHECK(checkpoints.get("proj") == 10);
                CHECK(sub.position() == 10);
                // A new consumer under the name resumes after 10.
                eskit::Subscription<OrderEvent> again(store, notifier,
                                                      {.name = "proj", .batch = 4});
                CHECK(again.catch_up(handler) == 0);
            }
            SUBCASE("category and type filters") {
                eskit::Subscription<OrderEvent> orders(
                    store, notifier,
                    {.name = "orders", .filter = {.category = "order"}, .batch = 2});
                orders.catch_up(handler);
                CHECK(seen.all() == std::vector<int64_t>{1, 3, 5, 7, 9});
                CHECK(checkpoints.get("orders") == 9);
                Seen paid;
                eskit::Subscription<OrderEvent> payments(
                    store, notifier, {.name = "payments", .filter = {.types = {"Paid"}}});
                payments.catch_up([&](const Batch& b) { paid.add(b); });
                CHECK(paid.all() == std::vector<int64_t>{3, 5, 7, 9});
            }
            SUBCASE("live: events appended while it runs arrive once each, in order, no gap") {
                eskit::Subscription<OrderEvent> sub(store, notifier, {.name = "live", .batch = 8});
                std::exception_ptr failed;
                std::thread consumer([&] {
                    try {
                        sub.run(handler);
                    } catch (...) {
                        failed = std::current_exception();
                    }
                });
                REQUIRE(eventually([&] { return seen.count() == 10; }, milliseconds(5000)));
                // Two writers, in bursts, while the consumer switches between live and catching up.
                std::vector<std::thread> writers;
                for (int w = 0; w < 2; ++w) {
                    writers.emplace_back([&, w] {
                        for (int burst = 0; burst < 10; ++burst) {
                            for (int i = 0; i < 1 + burst * 3; ++i) {
                                store.append("order-w" + std::to_string(w), eskit::Any{},
                                             {Paid{i}});
                            }
                            std::this_thread::sleep_for(milliseconds(3));
                        }
                    });
                }
                for (auto& w : writers) w.join();
                const int64_t head = store.latest_sequence();
                CHECK(head == 10 + 2 * (10 + 3 * 45));
                CHECK(eventually([&] { return seen.count() >= static_cast<size_t>(head); },
                                 milliseconds(10000)));
                sub.stop();
                consumer.join();
                CHECK_FALSE(failed);
                CHECK(seen.all() == range(1, head));
                CHECK(checkpoints.get("live") == head);
            }
            SUBCASE("stop() from another thread ends run() promptly, also mid-wait") {
                eskit::Subscription<OrderEvent> sub(
                    store, notifier, {.name = "stopper", .wait_slice = milliseconds(30000)});
                std::thread consumer([&] { sub.run(handler); });
                REQUIRE(eventually([&] { return seen.count() == 10; }, milliseconds(5000)));
                std::this_thread::sleep_for(milliseconds(50));  // now waiting on the notifier
                const auto t0 = Clock::now();
                sub.stop();
                consumer.join();
                CHECK(Clock::now() - t0 < milliseconds(1000 * slow_factor()));
            }
            SUBCASE(
                "live behind a filter: waiting does not spin when the newest events do not match") {
                for (int i = 0; i < 20; ++i) store.append("cart-2", eskit::Any{}, {Placed{"c", 1}});
                eskit::Subscription<OrderEvent> sub(
                    store, notifier, {.name = "orders", .filter = {.category = "order"}});
                std::thread consumer([&] { sub.run(handler); });
                REQUIRE(eventually([&] { return seen.count() == 5; }, milliseconds(5000)));
                std::this_thread::sleep_for(milliseconds(50));
                const auto cpu0 = cpu_time();
                std::this_thread::sleep_for(milliseconds(500));
                const auto used = cpu_time() - cpu0;
                // A new matching event still arrives.
                store.append("order-1", eskit::Any{}, {Paid{9}});
                CHECK(eventually([&] { return seen.count() == 6; }, milliseconds(5000)));
                sub.stop();
                consumer.join();
                INFO("CPU used in 500 ms of waiting: " << used.count() << " us");
                CHECK(used < milliseconds(100 * slow_factor()));
            }
        }
    }
}

TEST_CASE("Subscription: the pull form") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Store<OrderEvent> store(env.db);
            eskit::Notifier notifier(env.db);
            eskit::CheckpointStore checkpoints(env.db);
            for (int i = 0; i < 5; ++i) store.append("order-1", eskit::Any{}, {Paid{i}});
            eskit::Subscription<OrderEvent> sub(store, notifier, {.name = "pull", .batch = 2});

            // The kinds of the next n messages; the seqs of the events among them.
            std::vector<int64_t> seqs;
            auto next_kinds = [&](int n, milliseconds timeout) {
                std::vector<Msg::Kind> kinds;
                for (int i = 0; i < n; ++i) {
                    Msg m = sub.next(timeout);
                    kinds.push_back(m.kind);
                    if (m.kind == Msg::Kind::Event) {
                        REQUIRE(m.event.has_value());
                        seqs.push_back(m.event->seq);
                    } else {
                        CHECK_FALSE(m.event.has_value());
                    }
                }
                return kinds;
            };
            using K = Msg::Kind;

            SUBCASE("events, then CaughtUp at the head, then Timeout") {
                CHECK(next_kinds(6, milliseconds(1000)) == std::vector<K>{K::Event, K::Event,
                                                                          K::Event, K::Event,
                                                                          K::Event, K::CaughtUp});
                CHECK(seqs == range(1, 5));
                const auto t0 = Clock::now();
                CHECK(next_kinds(1, milliseconds(100)) == std::vector<K>{K::Timeout});
                CHECK(Clock::now() - t0 >= milliseconds(90));
                // Handed-out events are checkpointed when the next batch is fetched.
                CHECK(checkpoints.get("pull") == 5);
                CHECK(sub.position() == 5);
            }
            SUBCASE(
                "live: a new event; then more than a batch at once is FellBehind, then CaughtUp") {
                next_kinds(6, milliseconds(1000));
                store.append("order-1", eskit::Any{}, {Paid{5}});
                CHECK(next_kinds(1, milliseconds(1000)) == std::vector<K>{K::Event});
                CHECK(seqs.back() == 6);
                for (int i = 0; i < 5; ++i) store.append("order-1", eskit::Any{}, {Paid{i}});
                std::vector<K> kinds;
                while (kinds.empty() || kinds.back() != K::CaughtUp) {
                    auto k = next_kinds(1, milliseconds(1000));
                    REQUIRE(k.front() != K::Timeout);
                    kinds.push_back(k.front());
                }
                CHECK(std::count(kinds.begin(), kinds.end(), K::FellBehind) == 1);
                CHECK(std::count(kinds.begin(), kinds.end(), K::Event) == 5);
                CHECK(seqs == range(1, 11));
            }
            SUBCASE("a waiting next() is woken by an append") {
                next_kinds(6, milliseconds(1000));
                std::thread writer([&] {
                    std::this_thread::sleep_for(milliseconds(50));
                    store.append("order-1", eskit::Any{}, {Paid{5}});
                });
                const auto t0 = Clock::now();
                CHECK(next_kinds(1, milliseconds(10000)) == std::vector<K>{K::Event});
                CHECK(Clock::now() - t0 < milliseconds(2000 * slow_factor()));
                writer.join();
            }
            SUBCASE("stop(): Stopped, also for a next() waiting in another thread") {
                next_kinds(6, milliseconds(1000));
                std::atomic<int> got{-1};
                std::thread puller(
                    [&] { got = static_cast<int>(sub.next(milliseconds(30000)).kind); });
                std::this_thread::sleep_for(milliseconds(50));
                const auto t0 = Clock::now();
                sub.stop();
                puller.join();
                CHECK(Clock::now() - t0 < milliseconds(1000 * slow_factor()));
                CHECK(got.load() == static_cast<int>(K::Stopped));
                CHECK(sub.next(milliseconds(10)).kind == K::Stopped);
            }
            SUBCASE("a resumed pull subscription repeats at most the batch it had not finished") {
                next_kinds(3, milliseconds(1000));  // 1, 2 (checkpointed when 3's batch came), 3
                CHECK(checkpoints.get("pull") == 2);
                eskit::Subscription<OrderEvent> resumed(store, notifier,
                                                        {.name = "pull", .batch = 2});
                Msg m = resumed.next(milliseconds(1000));
                REQUIRE(m.kind == K::Event);
                CHECK(m.event->seq == 3);
            }
        }
    }
}

TEST_CASE("Subscription: events that fail to decode") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Store<OrderEvent> store(env.db);
            eskit::RawStore raw(env.db);
            eskit::Notifier notifier(env.db);
            eskit::CheckpointStore checkpoints(env.db);
            store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});  // seq 1
            raw.append("order-1", eskit::Exact{1},
                       {{.type = "Placed", .data = R"({"order_id":5})"}});  // 2: bad
            store.append("order-1", eskit::Exact{2}, {Paid{3}});            // seq 3
            Seen seen;
            auto handler = [&](const Batch& b) { seen.add(b); };

            SUBCASE("Stop: the error surfaces, the position stays before the bad event") {
                eskit::Subscription<OrderEvent> sub(store, notifier, {.name = "p", .batch = 1});
                auto e = thrown<eskit::CodecError>([&] { sub.catch_up(handler); });
                CHECK(std::string(e.what()) == "json: order_id: expected a string, got an integer");
                CHECK(seen.all() == std::vector<int64_t>{1});
                CHECK(checkpoints.get("p") == 1);
                // It stops there again after a restart: nothing is skipped silently.
                eskit::Subscription<OrderEvent> again(store, notifier, {.name = "p", .batch = 1});
                thrown<eskit::CodecError>([&] { again.catch_up(handler); });
                CHECK(checkpoints.get("p") == 1);
            }
            SUBCASE("Skip: the bad event is passed over") {
                eskit::Subscription<OrderEvent> sub(
                    store, notifier,
                    {.name = "p", .batch = 1, .on_decode_error = eskit::OnDecodeError::Skip});
                sub.catch_up(handler);
                // The handler never gets an empty batch (the one that held only the bad event).
                CHECK(seen.batches == std::vector<std::vector<int64_t>>{{1}, {3}});
                CHECK(checkpoints.get("p") == 3);
            }
            SUBCASE("Callback: the callback gets the raw event and the error, the rest goes on") {
                std::vector<std::string> reports;
                eskit::Subscription<OrderEvent> sub(
                    store, notifier,
                    {.name = "p",
                     .on_decode_error = eskit::OnDecodeError::Callback,
                     .decode_error = [&](const eskit::RawEvent& r, const std::exception& err) {
                         reports.push_back(std::to_string(r.seq) + " " + r.type + ": " +
                                           err.what());
                     }});
                sub.catch_up(handler);
                CHECK(seen.all() == std::vector<int64_t>{1, 3});
                CHECK(reports ==
                      std::vector<std::string>{
                          "2 Placed: json: order_id: expected a string, got an integer"});
                CHECK(checkpoints.get("p") == 3);
            }
            SUBCASE("the pull form under Skip") {
                eskit::Subscription<OrderEvent> sub(
                    store, notifier, {.name = "p", .on_decode_error = eskit::OnDecodeError::Skip});
                Msg a = sub.next(milliseconds(1000));
                Msg b = sub.next(milliseconds(1000));
                REQUIRE(a.event.has_value());
                REQUIRE(b.event.has_value());
                CHECK(a.event->seq == 1);
                CHECK(b.event->seq == 3);
            }
        }
    }
}

TEST_CASE("Subscription: transactional delivery") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Database& db = env.db;
            eskit::Store<OrderEvent> store(db);
            eskit::Notifier notifier(db);
            eskit::CheckpointStore checkpoints(db);
            db.execute("CREATE TABLE model(seq INTEGER PRIMARY KEY, n INTEGER)");
            for (int i = 0; i < 6; ++i) store.append("order-1", eskit::Any{}, {Paid{i}});
            auto apply = [&](const Batch& b) {
                for (const auto& e : b) {
                    db.execute(
                        "INSERT INTO model VALUES (?1, 1) ON CONFLICT(seq) DO UPDATE SET n = n + 1",
                        {e.seq});
                }
            };
            const eskit::SubscriptionOptions opts{
                .name = "model", .batch = 2, .delivery = eskit::Delivery::Transactional};

            SUBCASE("the handler's writes and the checkpoint commit together") {
                eskit::Subscription<OrderEvent> sub(store, notifier, opts);
                CHECK(sub.catch_up(apply) == 6);
                CHECK(scalar(db, "SELECT count(*) FROM model WHERE n = 1") == 6);
                CHECK(checkpoints.get("model") == 6);
            }
            SUBCASE(
                "a handler that fails: its batch's writes and checkpoint roll back, a restart "
                "redoes it") {
                int batches = 0;
                eskit::Subscription<OrderEvent> sub(store, notifier, opts);
                CHECK_THROWS_WITH(sub.catch_up([&](const Batch& b) {
                    apply(b);
                    if (++batches == 2) throw std::runtime_error("projection failed");
                }),
                                  "projection failed");
                CHECK(scalar(db, "SELECT count(*) FROM model") == 2);
                CHECK(checkpoints.get("model") == 2);
                eskit::Subscription<OrderEvent> restarted(store, notifier, opts);
                CHECK(restarted.catch_up(apply) == 4);
                CHECK(scalar(db, "SELECT count(*) FROM model WHERE n = 1") == 6);
                CHECK(checkpoints.get("model") == 6);
            }
            SUBCASE(
                "a second consumer under the same name fails its compare-and-set, writes nothing") {
                eskit::Subscription<OrderEvent> a(store, notifier, opts);
                eskit::Subscription<OrderEvent> b(store, notifier, opts);  // both start at 0
                CHECK(a.catch_up(apply) == 6);
                auto e = thrown<eskit::ConcurrencyConflict>([&] { b.catch_up(apply); });
                CHECK(e.expected() == 0);
                CHECK(e.actual() == 6);
                CHECK(std::string(e.what()) == "conflict: checkpoint 'model' is at 6, expected 0");
                CHECK(scalar(db, "SELECT count(*) FROM model WHERE n = 1") == 6);
                CHECK(checkpoints.get("model") == 6);
            }
            SUBCASE("run() in transactional mode, live") {
                eskit::Subscription<OrderEvent> sub(store, notifier, opts);
                std::thread consumer([&] { sub.run(apply); });
                for (int i = 0; i < 10; ++i) store.append("order-2", eskit::Any{}, {Paid{i}});
                CHECK(
                    eventually([&] { return checkpoints.get("model") == 16; }, milliseconds(5000)));
                sub.stop();
                consumer.join();
                CHECK(scalar(db, "SELECT count(*) FROM model WHERE n = 1") == 16);
            }
        }
    }
}
