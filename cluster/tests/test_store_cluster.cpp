/*
** eskit::Store<E> over a 3-node cluster (Database from eskit::connect_cluster) and, for
** comparison, the very same code over a local file: appends with every kind of expected
** version, loads, the log, tombstones, checkpoints, snapshots; conflicts as
** ConcurrencyConflict with stream/expected/actual; a Transaction's appends committed together;
** what cannot work on a cluster failing clearly; and leader SIGKILLs in the middle of a loop of
** Store appends (single and in Transactions), after which every acknowledged append is present
** exactly once with contiguous versions. Figures (appends/s) printed as RESULT lines.
*/
#include <doctest/doctest.h>

#include <eskit/cluster.hpp>
#include <eskit/eskit.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

#include "harness.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Placed {
    std::string customer;
    int64_t n = 0;
};
ESKIT_FIELDS(Placed, customer, n);
ESKIT_EVENT(Placed, "Placed", 1);

struct Paid {
    double amount = 0;
};
ESKIT_FIELDS(Paid, amount);
ESKIT_EVENT(Paid, "Paid", 1);

using Event = std::variant<Placed, Paid>;

struct Total {
    double paid = 0;
    int events = 0;
};
ESKIT_FIELDS(Total, paid, events);

// One cluster for the whole file (an election costs seconds).
eskit::cluster::test::LocalCluster& cluster() {
    static eskit::cluster::test::LocalCluster lc;
    static bool started = [] {
        lc.start_all();
        return true;
    }();
    (void)started;
    return lc;
}

eskit::Database connect() { return eskit::connect_cluster(cluster().addresses()); }

std::string unique(const std::string& base) {
    static int n = 0;
    return base + "-" + std::to_string(getpid()) + "-" + std::to_string(++n);
}

// The store's surface, the same for a file and a cluster.
void store_surface(eskit::Database& db) {
    eskit::Store<Event> store(db);
    const std::string s = unique("order");
    const int64_t head0 = store.latest_sequence();
    auto a = store.append(s, eskit::NoStream{}, {Placed{"c-1", 1}});
    REQUIRE(a.size() == 1);
    CHECK(a[0].version == 1);
    CHECK(a[0].seq == head0 + 1);
    CHECK(!a[0].event_id.empty());
    auto b = store.append(s, eskit::Exact{1}, {Paid{10.5}, Paid{2}});
    CHECK(b.back().version == 3);
    CHECK(b.front().seq == head0 + 2);
    CHECK(store.append(s, eskit::StreamExists{}, {Paid{1}}).front().version == 4);
    CHECK(store.append(s, eskit::Any{}, {Paid{1}}).front().version == 5);
    // Metadata merged by the extension comes back as stored.
    eskit::AppendOptions meta;
    meta.metadata = R"({"by":"test"})";
    CHECK(store.append(s, eskit::Exact{5}, {Paid{0}}, meta).front().metadata == R"({"by":"test"})");
    // A user's idempotency key: the second call is a replay of the first.
    eskit::AppendOptions keyed;
    keyed.idempotency_key = "k-" + s;
    auto first = store.append(s, eskit::Exact{6}, {Paid{3}}, keyed);
    auto again = store.append(s, eskit::Exact{6}, {Paid{3}}, keyed);
    REQUIRE(again.size() == 1);
    CHECK(again[0].version == first[0].version);
    CHECK(again[0].event_id == first[0].event_id);

    auto loaded = store.load(s).collect();
    REQUIRE(loaded.size() == 7);
    CHECK(std::get<Placed>(loaded[0].data).customer == "c-1");
    CHECK(std::get<Paid>(loaded[1].data).amount == 10.5);
    for (size_t i = 0; i < loaded.size(); ++i)
        CHECK(loaded[i].version == static_cast<int64_t>(i) + 1);
    eskit::LoadOptions back;
    back.backwards = true;
    back.limit = 2;
    auto last2 = store.load(s, back).collect();
    REQUIRE(last2.size() == 2);
    CHECK(last2[0].version == 7);
    auto raw = store.load_raw(s);
    REQUIRE(raw.size() == 7);
    CHECK(raw[0].codec == "json");
    CHECK(raw[1].data == R"({"amount":10.5})");
    auto log = store.read_from(head0, 100);
    REQUIRE(log.size() >= 7);
    CHECK(log[0].stream_id == s);
    CHECK(store.latest_sequence() == head0 + 7);

    eskit::CheckpointStore checkpoints(db);
    const std::string consumer = unique("consumer");
    checkpoints.set(consumer, 3);
    CHECK(checkpoints.get(consumer) == 3);
    checkpoints.compare_and_set(consumer, 3, 5);
    CHECK(checkpoints.get(consumer) == 5);
    CHECK_THROWS_AS(checkpoints.compare_and_set(consumer, 3, 9), eskit::ConcurrencyConflict);

    eskit::SnapshotStore<Total> snapshots(db);
    snapshots.save(s, 7, Total{16.5, 7});
    auto snap = snapshots.load(s);
    REQUIRE(snap);
    CHECK(snap->version == 7);
    CHECK(snap->state.paid == 16.5);

    CHECK(store.status(s) == eskit::StreamStatus::Active);
    store.tombstone(s, "gdpr");
    CHECK(store.status(s) == eskit::StreamStatus::Tombstoned);
    CHECK(store.is_tombstoned(s)->reason == "gdpr");
    CHECK_THROWS_AS(store.append(s, eskit::Any{}, {Paid{1}}), eskit::StreamTombstoned);
}

void conflict_surface(eskit::Database& db) {
    eskit::Store<Event> store(db);
    const std::string s = unique("conflict");
    store.append(s, eskit::NoStream{}, {Placed{"c", 1}, Paid{1}});
    try {
        store.append(s, eskit::Exact{1}, {Paid{2}});
        FAIL("a stale append was stored");
    } catch (const eskit::ConcurrencyConflict& e) {
        CHECK(e.code() == eskit::Code::Conflict);
        CHECK(e.stream() == s);
        CHECK(e.expected() == 1);
        CHECK(e.actual() == 2);
        CHECK(std::string(e.what()).find("conflict: stream '" + s + "' is at version 2") == 0);
    }
    CHECK_THROWS_AS(store.append(s, eskit::NoStream{}, {Paid{2}}), eskit::ConcurrencyConflict);
    CHECK_THROWS_AS(store.append(unique("none"), eskit::StreamExists{}, {Paid{2}}),
                    eskit::ConcurrencyConflict);
    CHECK(store.load(s).collect().size() == 2);
}

void transaction_surface(eskit::Database& db) {
    eskit::Store<Event> store(db);
    const std::string a = unique("tx-a"), b = unique("tx-b");
    {
        eskit::Transaction tx = db.begin();
        store.append(a, eskit::NoStream{}, {Placed{"a", 1}});
        store.append(b, eskit::NoStream{}, {Placed{"b", 2}});
        CHECK(store.load(a).collect().size() == 1);  // the transaction sees its own writes
        tx.commit();
    }
    CHECK(store.load(a).collect().size() == 1);
    CHECK(store.load(b).collect().size() == 1);
    {
        eskit::Transaction tx = db.begin();
        store.append(a, eskit::Exact{1}, {Paid{1}});
        // A conflict inside fails that append only; the rollback undoes the other.
        CHECK_THROWS_AS(store.append(b, eskit::Exact{7}, {Paid{1}}), eskit::ConcurrencyConflict);
        tx.rollback();
    }
    CHECK(store.load(a).collect().size() == 1);
    CHECK(store.load(b).collect().size() == 1);
}

}  // namespace

TEST_CASE("Store<E> over a local file (the comparison)") {
    const std::string path = "/tmp/" + unique("eskit-store-cluster") + ".db";
    {
        auto db = eskit::Database::open(path);
        store_surface(db);
        conflict_surface(db);
        transaction_surface(db);
    }
    std::remove(path.c_str());
    std::remove((path + "-wal").c_str());
    std::remove((path + "-shm").c_str());
}

TEST_CASE("Store<E> over a 3-node cluster") {
    auto db = connect();
    SUBCASE("appends, loads, the log, checkpoints, snapshots, tombstones") { store_surface(db); }
    SUBCASE("conflicts are ConcurrencyConflict with stream, expected, actual") {
        conflict_surface(db);
    }
    SUBCASE("a Transaction's appends commit together") { transaction_surface(db); }
    SUBCASE("an event of another codec travels as base64") {
        eskit::Store<Event> cbor(db, {.write_codec = &eskit::cbor_codec()});
        const std::string s = unique("cbor");
        cbor.append(s, eskit::NoStream{}, {Paid{4.25}});
        auto back = cbor.load(s).collect();
        REQUIRE(back.size() == 1);
        CHECK(std::get<Paid>(back[0].data).amount == 4.25);
        CHECK(cbor.load_raw(s)[0].codec == "cbor");
    }
    SUBCASE("group commit from several threads") {
        eskit::Store<Event> store(db);
        const std::string s = unique("group");
        std::vector<std::thread> ts;
        for (int t = 0; t < 4; ++t) {
            ts.emplace_back([&, t] {
                for (int i = 0; i < 10; ++i)
                    store.append(s + "-" + std::to_string(t), eskit::Any{}, {Paid{1}});
            });
        }
        for (auto& t : ts) t.join();
        for (int t = 0; t < 4; ++t)
            CHECK(store.load(s + "-" + std::to_string(t)).collect().size() == 10);
    }
}

TEST_CASE("what a cluster cannot do fails clearly") {
    auto db = connect();
    eskit::Store<Event> store(db);
    const std::string s = unique("limits");
    store.append(s, eskit::NoStream{}, {Placed{"x", 1}});
    CHECK(db.handle() == nullptr);
    auto local = eskit::Database::memory();
    CHECK_THROWS_WITH_AS(store.archive(s, "archive_db"),
                         doctest::Contains("not available on a cluster"), eskit::InvalidArgument);
    CHECK_THROWS_WITH_AS(store.archive(s, local), doctest::Contains("not available on a cluster"),
                         eskit::InvalidArgument);
    // Watch mode cannot block in es_wait there: it polls es_head() and still hears commits
    // made through another Database.
    eskit::Notifier watch(db, {.mode = eskit::NotifyMode::Watch, .poll_interval = 20ms});
    const int64_t head = watch.head();
    auto other = connect();
    eskit::Store<Event>(other).append(s, eskit::Exact{1}, {Paid{1}});
    CHECK(watch.wait(head, 5s) > head);
    store.archive(s);  // in place: replicated like any write
    CHECK(store.status(s) == eskit::StreamStatus::Archived);
}

namespace {

struct Acked {
    std::string stream;
    int64_t version;
    std::string event_id;
};

// Appends through Store<E> until stop: single appends (the group commit alone) and, every
// fifth round, a Transaction of two appends; records what was acknowledged.
void append_loop(eskit::Store<Event>& store, eskit::Database& db, std::atomic<bool>& stop,
                 std::vector<Acked>& acked, std::mutex& m, std::string& failure) {
    std::map<std::string, int64_t> model;
    try {
        for (int64_t i = 0; !stop; ++i) {
            const std::string s = "kill-" + std::to_string(i % 5);
            std::vector<Acked> got;
            if (i % 5 == 4) {
                const std::string s2 = "kill-" + std::to_string((i + 1) % 5);
                for (;;) {
                    try {
                        eskit::Transaction tx = db.begin();
                        auto e1 = store.append(s, eskit::Exact{model[s]}, {Paid{double(i)}});
                        auto e2 = store.append(s2, eskit::Exact{model[s2]}, {Paid{double(i)}});
                        tx.commit();
                        got = {{s, e1[0].version, e1[0].event_id},
                               {s2, e2[0].version, e2[0].event_id}};
                        break;
                    } catch (const eskit::NotCommitted&) {
                        // Definitely not committed (the leader was lost): run it again.
                    }
                }
            } else {
                auto e = store.append(s, eskit::Exact{model[s]}, {Placed{"c", i}});
                got = {{s, e[0].version, e[0].event_id}};
            }
            std::lock_guard lk(m);
            for (const Acked& a : got) {
                CHECK(a.version == model[a.stream] + 1);
                model[a.stream] = a.version;
                acked.push_back(a);
            }
        }
    } catch (const std::exception& e) {
        std::lock_guard lk(m);
        failure = e.what();
    }
}

}  // namespace

TEST_CASE("leader SIGKILLs in the middle of Store<E> appends: each acknowledged append once") {
    auto& lc = cluster();
    auto db = connect();
    eskit::Store<Event> store(db);
    const int64_t head0 = store.latest_sequence();
    std::atomic<bool> stop{false};
    std::vector<Acked> acked;
    std::mutex m;
    std::string failure;
    std::thread w([&] { append_loop(store, db, stop, acked, m, failure); });
    auto count = [&] {
        std::lock_guard lk(m);
        return acked.size();
    };
    auto wait_more = [&](size_t from, size_t by) {
        const auto deadline = Clock::now() + 40s;
        while (count() < from + by && Clock::now() < deadline && failure.empty())
            std::this_thread::sleep_for(5ms);
        return count() >= from + by;
    };
    const int kills = 3;
    CHECK(wait_more(0, 20));
    for (int k = 0; k < kills && failure.empty(); ++k) {
        const size_t leader = lc.leader_index();
        std::this_thread::sleep_for(std::chrono::milliseconds(50 + 37 * k));
        const size_t before = count();
        lc.kill(leader);  // SIGKILL mid-stream
        const auto t0 = Clock::now();
        lc.leader_index(30s);
        CHECK_MESSAGE(wait_more(before, 5), "appends did not resume after kill ", k + 1);
        std::printf("kill %d: node %zu killed, appends resumed after %.0f ms\n", k + 1, leader + 1,
                    std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        lc.start(leader);
    }
    stop = true;
    w.join();
    CHECK_MESSAGE(failure.empty(), failure);
    // Every acknowledged append exactly once, at the version it was answered with; versions
    // contiguous per stream; nothing unacknowledged but the last (a loop stopped mid-call).
    std::map<std::string, std::vector<Acked>> by_stream;
    for (const Acked& a : acked) by_stream[a.stream].push_back(a);
    size_t stored = 0;
    for (const auto& [s, as] : by_stream) {
        auto events = store.load(s).collect();
        stored += events.size();
        for (size_t i = 0; i < events.size(); ++i)
            CHECK(events[i].version == static_cast<int64_t>(i) + 1);
        REQUIRE(events.size() >= as.size());
        for (const Acked& a : as) {
            CHECK(events[static_cast<size_t>(a.version - 1)].event_id == a.event_id);
        }
        CHECK(events.size() == as.size());
    }
    CHECK(store.latest_sequence() - head0 == static_cast<int64_t>(stored));
    std::printf("RESULT store_failover kills=%d acked=%zu stored=%zu\n", kills, acked.size(),
                stored);
}

TEST_CASE("figures: appends/s through Store<E>, single and in Transactions of 50") {
    auto db = connect();
    eskit::Store<Event> store(db);
    const std::string s = unique("bench");
    constexpr int kSingle = 200, kBatches = 10, kBatch = 50;
    auto t0 = Clock::now();
    for (int i = 0; i < kSingle; ++i) store.append(s, eskit::Exact{i}, {Paid{1}});
    const double single_s = std::chrono::duration<double>(Clock::now() - t0).count();
    t0 = Clock::now();
    int64_t v = kSingle;
    for (int b = 0; b < kBatches; ++b) {
        eskit::Transaction tx = db.begin();
        for (int i = 0; i < kBatch; ++i) store.append(s, eskit::Exact{v++}, {Paid{1}});
        tx.commit();
    }
    const double batch_s = std::chrono::duration<double>(Clock::now() - t0).count();
    CHECK(store.load(s).collect().size() == static_cast<size_t>(kSingle + kBatches * kBatch));
    std::printf("RESULT store_cluster single=%.0f/s tx50=%.0f/s\n", kSingle / single_s,
                kBatches * kBatch / batch_s);
}
