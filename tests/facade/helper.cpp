// A second process for the facade suite (test_notifier.cpp, test_processes.cpp): a writer that
// appends, and a subscription consumer that the tests kill and restart. A separate program,
// started with posix_spawn, so that no SQLite connection crosses a fork.
//
//   facade_helper append DB COUNT INTERVAL_US
//       appends COUNT events, one per call, to streams w-0..w-9 (Any), sleeping INTERVAL_US
//       between calls; prints "appended N" at the end
//   facade_helper consume DB NAME transactional|at-least-once [UNTIL_SEQ]
//       a Subscription NAME (batch 16, a watch-mode notifier) whose handler records each event
//       in applied(seq PRIMARY KEY, n): n counts how often the event was applied. Transactional:
//       the rows and the checkpoint commit together. At-least-once: each row commits on its
//       own, the checkpoint after the batch. With UNTIL_SEQ: exits 0 once the checkpoint
//       reaches it; without: runs until killed.
#include <eskit/eskit.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <variant>

namespace {

struct Tick {
    int64_t n = 0;
};
ESKIT_FIELDS(Tick, n);
ESKIT_EVENT(Tick, "Tick", 1);

int append(const std::string& path, int64_t count, int64_t interval_us) {
    auto db = eskit::Database::open(path);
    eskit::Store<Tick> store(db);
    for (int64_t i = 0; i < count; ++i) {
        store.append("w-" + std::to_string(i % 10), eskit::Any{}, {Tick{i}});
        if (interval_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(interval_us));
    }
    std::printf("appended %lld\n", static_cast<long long>(count));
    return 0;
}

int consume(const std::string& path, const std::string& name, bool transactional, int64_t until) {
    auto db = eskit::Database::open(path);
    db.execute("CREATE TABLE IF NOT EXISTS applied(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
    eskit::Store<Tick> store(db);
    eskit::Notifier notifier(db, {.mode = eskit::NotifyMode::Watch});
    eskit::Subscription<Tick> sub(
        store, notifier,
        {.name = name,
         .batch = 16,
         .delivery = transactional ? eskit::Delivery::Transactional : eskit::Delivery::AtLeastOnce,
         .wait_slice = std::chrono::milliseconds(100)});
    auto handler = [&](const std::vector<eskit::RecordedEvent<Tick>>& batch) {
        for (const auto& e : batch) {
            db.execute(
                "INSERT INTO applied(seq, n) VALUES (?1, 1) ON CONFLICT(seq) DO UPDATE SET n = n + "
                "1",
                {e.seq});
        }
    };
    if (until <= 0) {
        sub.run(handler);
        return 0;
    }
    while (sub.position() < until) {
        sub.catch_up(handler);
        if (sub.position() < until) notifier.wait(sub.position(), std::chrono::milliseconds(100));
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string mode = argc > 1 ? argv[1] : "";
        if (mode == "append" && argc == 5) {
            return append(argv[2], std::atoll(argv[3]), std::atoll(argv[4]));
        }
        if (mode == "consume" && (argc == 5 || argc == 6)) {
            const std::string delivery = argv[4];
            if (delivery != "transactional" && delivery != "at-least-once") return 2;
            return consume(argv[2], argv[3], delivery == "transactional",
                           argc == 6 ? std::atoll(argv[5]) : 0);
        }
        std::fprintf(
            stderr,
            "usage: facade_helper append DB COUNT INTERVAL_US | consume DB NAME MODE [UNTIL]\n");
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "facade_helper: %s\n", e.what());
        return 1;
    }
}
