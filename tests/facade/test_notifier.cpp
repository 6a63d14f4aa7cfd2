// eskit::Notifier: callback mode (signals after a committed append, never after a rollback,
// appends in a Transaction only at its commit), Poll and Watch modes seeing commits of another
// connection and of another process, wait() and its timeouts, a lost notification costing only
// the repoll interval, stop() waking every waiter, and subscribers that write from a callback.
#include <atomic>
#include <future>
#include <mutex>

#include "support.hpp"

using namespace ft;

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

// The heads a notifier's subscriber heard, in order.
struct Heard {
    std::mutex m;
    std::vector<int64_t> heads;
    void operator()(int64_t h) {
        std::lock_guard lk(m);
        heads.push_back(h);
    }
    std::vector<int64_t> get() {
        std::lock_guard lk(m);
        return heads;
    }
};

milliseconds since(Clock::time_point t0) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
}

}  // namespace

TEST_CASE("Notifier: callback mode") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Store<OrderEvent> store(env.db);
            store.append("order-0", eskit::NoStream{}, {Placed{"o-0", 1}});
            eskit::Notifier notifier(env.db);
            Heard heard;
            notifier.subscribe([&](int64_t h) { heard(h); });
            CHECK(notifier.head() == 1);  // starts at the database's head

            SUBCASE("signals the head after a committed append") {
                store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}, Paid{2}});
                CHECK(heard.get() == std::vector<int64_t>{3});
                CHECK(notifier.head() == 3);
                const auto t0 = Clock::now();
                CHECK(notifier.wait(1, milliseconds(5000)) == 3);  // at once: the head is past 1
                CHECK(since(t0) < milliseconds(1000));
            }
            SUBCASE("never after a rollback") {
                {
                    eskit::Transaction tx = env.db.begin();
                    store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
                }
                CHECK(heard.get().empty());
                CHECK(notifier.head() == 1);
                CHECK(notifier.wait(1, milliseconds(100)) == 1);  // a timeout: nothing new
            }
            SUBCASE("appends inside a Transaction: only when it commits") {
                eskit::Transaction tx = env.db.begin();
                store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
                store.append("order-2", eskit::NoStream{}, {Placed{"o-2", 1}});
                CHECK(heard.get().empty());
                CHECK(notifier.head() == 1);
                tx.commit();
                CHECK(heard.get() == std::vector<int64_t>{3});
                CHECK(notifier.head() == 3);
            }
            SUBCASE("a savepoint rolled back inside a committed transaction: only what committed") {
                {
                    eskit::Transaction tx = env.db.begin();
                    store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});  // seq 2
                    {
                        eskit::Transaction inner = env.db.begin();
                        store.append("order-2", eskit::NoStream{},
                                     {Placed{"o-2", 1}});  // seq 3, rolled back
                    }
                    tx.commit();
                }
                CHECK(notifier.head() == 2);
                CHECK(heard.get() == std::vector<int64_t>{2});
                CHECK(notifier.wait(2, milliseconds(50)) == 2);
                // seq 3 is free again; its real append is heard.
                CHECK(store.append("order-3", eskit::NoStream{}, {Placed{"o-3", 1}}).at(0).seq ==
                      3);
                CHECK(heard.get() == std::vector<int64_t>{2, 3});
            }
            SUBCASE("appends from several threads are all heard, the last head last") {
                std::vector<std::thread> threads;
                for (int t = 0; t < 4; ++t) {
                    threads.emplace_back([&, t] {
                        for (int i = 0; i < 20; ++i)
                            store.append("t-" + std::to_string(t), eskit::Any{}, {Paid{i}});
                    });
                }
                for (auto& t : threads) t.join();
                CHECK(notifier.head() == 81);
                auto h = heard.get();
                REQUIRE_FALSE(h.empty());
                CHECK(h.back() == 81);
                // Heads arrive in increasing order, also from several committing threads.
                CHECK(std::is_sorted(h.begin(), h.end()));
                CHECK(std::adjacent_find(h.begin(), h.end()) == h.end());
            }
            SUBCASE("a subscriber may append from its callback (no deadlock)") {
                std::atomic<bool> reacted{false};
                notifier.subscribe([&](int64_t h) {
                    if (h == 2 && !reacted.exchange(true))
                        store.append("reaction", eskit::NoStream{}, {Paid{1}});
                });
                auto done = std::async(std::launch::async, [&] {
                    store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
                });
                if (done.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
                    FAIL_CHECK("an append whose subscriber appends did not return within 10 s");
                    std::fflush(nullptr);
                    std::_Exit(1);  // the threads are stuck: do not hang the suite
                }
                done.get();
                CHECK(notifier.head() == 3);
                CHECK(store.status("reaction") == eskit::StreamStatus::Active);
            }
            SUBCASE("wait() timeouts") {
                auto t0 = Clock::now();
                CHECK(notifier.wait(1, milliseconds(0)) == 1);
                CHECK(since(t0) < milliseconds(200));
                t0 = Clock::now();
                CHECK(notifier.wait(1, milliseconds(150)) == 1);
                CHECK(since(t0) >= milliseconds(140));
                CHECK(since(t0) < milliseconds(1500 * slow_factor()));
                // A waiter is woken by an append of another thread.
                t0 = Clock::now();
                std::thread writer([&] {
                    std::this_thread::sleep_for(milliseconds(50));
                    store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
                });
                CHECK(notifier.wait(1, milliseconds(10000)) == 2);
                CHECK(since(t0) < milliseconds(2000 * slow_factor()));
                writer.join();
            }
            SUBCASE("stop() wakes waiters; later waits return at once") {
                std::atomic<int64_t> got{-1};
                const auto t0 = Clock::now();
                std::thread waiter([&] { got = notifier.wait(1, milliseconds(30000)); });
                std::this_thread::sleep_for(milliseconds(100));
                notifier.stop();
                waiter.join();
                CHECK(got.load() == 1);
                CHECK(since(t0) < milliseconds(2000 * slow_factor()));
                const auto t1 = Clock::now();
                CHECK(notifier.wait(1, milliseconds(30000)) == 1);
                CHECK(since(t1) < milliseconds(100 * slow_factor()));
                notifier.stop();  // twice is fine
            }
        }
    }
}

TEST_CASE("Notifier: commits of another connection and another process (file database)") {
    Env env(Kind::File);
    eskit::Store<OrderEvent> store(env.db);
    store.append("order-0", eskit::NoStream{}, {Placed{"o-0", 1}});
    // A second Database on the file: its commits are not told to env.db's listeners.
    auto other = eskit::Database::open(env.path);
    eskit::Store<OrderEvent> other_store(other);

    for (const eskit::NotifyMode mode : {eskit::NotifyMode::Poll, eskit::NotifyMode::Watch}) {
        SUBCASE(mode == eskit::NotifyMode::Poll ? "poll" : "watch") {
            // repoll is long, so only the poller or the watcher can wake the waits below in time.
            eskit::Notifier notifier(env.db, {.mode = mode,
                                              .poll_interval = milliseconds(10),
                                              .repoll = std::chrono::seconds(60)});
            Heard heard;
            notifier.subscribe([&](int64_t h) { heard(h); });

            SUBCASE("another connection's commit") {
                const auto t0 = Clock::now();
                std::thread writer([&] {
                    std::this_thread::sleep_for(milliseconds(50));
                    other_store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
                });
                CHECK(notifier.wait(1, milliseconds(10000)) == 2);
                CHECK(since(t0) < milliseconds(3000 * slow_factor()));
                writer.join();
                // Subscribers hear it too (called right after waiters are woken).
                for (int i = 0; i < 200 && heard.get().empty(); ++i)
                    std::this_thread::sleep_for(milliseconds(5));
                CHECK(heard.get() == std::vector<int64_t>{2});
            }
            SUBCASE("another process's commit") {
                const auto t0 = Clock::now();
                const pid_t pid = spawn_helper({"append", env.path, "3", "0"});
                const int64_t head = notifier.wait(1, milliseconds(20000));
                CHECK(head >= 2);
                CHECK(since(t0) < milliseconds(5000 * slow_factor()));
                CHECK(wait_exit(pid) == 0);
                CHECK(notifier.wait(3, milliseconds(20000)) == 4);
            }
            SUBCASE("stop() ends the poll/watch thread promptly and wakes waiters") {
                std::thread waiter([&] { notifier.wait(1, milliseconds(30000)); });
                std::this_thread::sleep_for(milliseconds(50));
                const auto t0 = Clock::now();
                notifier.stop();
                waiter.join();
                CHECK(since(t0) < milliseconds(1000 * slow_factor()));
            }
        }
    }
    SUBCASE("callback mode: a commit nobody told it of is found by the repoll") {
        // The lost-notification case: no poller, the other connection's commit never signals,
        // the waiter still sees it one repoll interval later.
        eskit::Notifier notifier(env.db, {.repoll = milliseconds(200)});
        const auto t0 = Clock::now();
        std::thread writer([&] {
            other_store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
        });
        writer.join();
        CHECK(notifier.head() == 1);
        CHECK(notifier.wait(1, milliseconds(10000)) == 2);
        CHECK(since(t0) >= milliseconds(150));
        CHECK(since(t0) < milliseconds(1500 * slow_factor()));
    }
}

TEST_CASE(
    "Notifier: wait() keeps its timeout while another thread's transaction holds the writer") {
    // On ":memory:" reads share the write connection; the repoll must not wait for it.
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Notifier notifier(env.db, {.repoll = milliseconds(20)});
            std::atomic<bool> began{false};
            std::thread holder([&] {
                eskit::Transaction tx = env.db.begin();
                began = true;
                std::this_thread::sleep_for(milliseconds(1500));
            });
            while (!began.load()) std::this_thread::yield();
            const auto t0 = Clock::now();
            CHECK(notifier.wait(0, milliseconds(200)) == 0);
            CHECK(since(t0) < milliseconds(1000));
            holder.join();
        }
    }
}

TEST_CASE("Notifier: poll and watch modes on :memory: hear this database's commits") {
    for (const eskit::NotifyMode mode : {eskit::NotifyMode::Poll, eskit::NotifyMode::Watch}) {
        SUBCASE(mode == eskit::NotifyMode::Poll ? "poll" : "watch") {
            auto db = eskit::Database::memory();
            eskit::Store<OrderEvent> store(db);
            eskit::Notifier notifier(db, {.mode = mode});
            store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
            CHECK(notifier.wait(0, milliseconds(1000)) == 1);
        }
    }
}
