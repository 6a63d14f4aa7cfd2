// eskit cluster benchmark: appends through a 3-node dqlite cluster on loopback (eskit-node
// processes started by the benchmark), next to the same appends on a single local file.
//
//   build/cluster/bench/eskit_cluster_bench [--quick] [--appends N] [--latency-ms N]
//
// Workloads (one event of the order payload per append, 10 streams, exact expected versions):
//   single      one append per transaction through the Appender (BEGIN; es_append; COMMIT)
//   batch       group commit: --batch appends (default 50) in one transaction, each es_append
//               in its own savepoint (Appender::append_batch); latency is per transaction
//   concurrent  4 threads, each with its own connection, single appends to its own streams
//               (dqlite lets one transaction write at a time; the others retry on SQLITE_BUSY)
// and for comparison, in-process on one WAL file (synchronous=NORMAL, eskit_core):
//   file_single one es_append per statement (autocommit)
//   file_batch  --batch es_append calls in one transaction
//
// Output: one line per measurement, like bench/bench.cpp:
//   RESULT workload=single system=cluster appends_per_s=312 p50_us=3012 p99_us=5120 ...
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "eskit.h"
#include "harness.hpp"

namespace ec = eskit::cluster;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kPayload =
    R"({"type":"OrderPlaced","data":{"orderId":"ord-000123","customer":"cust-42","items":[{"sku":"A-1","qty":2,"price":19.99},{"sku":"B-7","qty":1,"price":5.5}],"note":"leave at door"}})";

struct Stats {
    double per_s = 0;
    double p50_us = 0;
    double p99_us = 0;
};

Stats stats(std::vector<double> lat_us, double count, double seconds) {
    Stats s;
    std::sort(lat_us.begin(), lat_us.end());
    s.per_s = count / seconds;
    if (!lat_us.empty()) {
        s.p50_us = lat_us[lat_us.size() / 2];
        s.p99_us = lat_us[std::min(lat_us.size() - 1, lat_us.size() * 99 / 100)];
    }
    return s;
}

void print(const char* workload, const char* system, const Stats& s, const std::string& extra) {
    std::printf("RESULT workload=%s system=%s appends_per_s=%.0f p50_us=%.0f p99_us=%.0f%s\n",
                workload, system, s.per_s, s.p50_us, s.p99_us, extra.c_str());
    std::fflush(stdout);
}

double us_since(Clock::time_point t) {
    return std::chrono::duration<double, std::micro>(Clock::now() - t).count();
}

Stats cluster_single(const std::vector<std::string>& seeds, int n, const std::string& prefix) {
    ec::Client c(seeds);
    ec::Appender app(c);
    std::vector<std::int64_t> version(10, 0);
    std::vector<double> lat;
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
        const int s = i % 10;
        const auto t = Clock::now();
        version[s] = app.append({.stream = prefix + std::to_string(s),
                                 .expected = version[s],
                                 .events = kPayload})
                         .version;
        lat.push_back(us_since(t));
    }
    return stats(lat, n, us_since(t0) / 1e6);
}

Stats cluster_batch(const std::vector<std::string>& seeds, int n, int batch) {
    ec::Client c(seeds);
    ec::Appender app(c);
    std::vector<std::int64_t> version(10, 0);
    std::vector<double> lat;
    const auto t0 = Clock::now();
    int done = 0;
    while (done < n) {
        std::vector<ec::AppendRequest> reqs;
        for (int k = 0; k < batch && done + k < n; ++k) {
            const int s = (done + k) % 10;
            reqs.push_back({.stream = "batch-" + std::to_string(s),
                            .expected = version[s],
                            .events = kPayload});
            ++version[s];
        }
        const auto t = Clock::now();
        std::vector<ec::BatchItem> items = app.append_batch(reqs);
        lat.push_back(us_since(t));
        for (const auto& it : items) {
            if (!it.version) throw std::runtime_error("batch item failed: " + it.error->message());
        }
        done += static_cast<int>(reqs.size());
    }
    return stats(lat, n, us_since(t0) / 1e6);
}

Stats cluster_concurrent(const std::vector<std::string>& seeds, int threads, double seconds,
                         std::uint64_t& retries) {
    std::vector<std::vector<double>> lat(threads);
    std::vector<std::uint64_t> r(threads, 0);
    std::atomic<bool> stop{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            ec::Client c(seeds);
            ec::AppendPolicy p;
            p.backoff_min = std::chrono::milliseconds(1);
            p.backoff_max = std::chrono::milliseconds(20);
            ec::Appender app(c, p);
            std::int64_t v = 0;
            const std::string stream = "conc-" + std::to_string(t);
            while (!stop) {
                const auto s = Clock::now();
                v = app.append({.stream = stream, .expected = v, .events = kPayload}).version;
                lat[t].push_back(us_since(s));
            }
            r[t] = app.retries();
        });
    }
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& th : ts) th.join();
    const double elapsed = us_since(t0) / 1e6;
    std::vector<double> all;
    for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
    retries = 0;
    for (auto x : r) retries += x;
    return stats(all, static_cast<double>(all.size()), elapsed);
}

void exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string m = err ? err : "?";
        sqlite3_free(err);
        throw std::runtime_error(m);
    }
}

std::pair<Stats, Stats> file_runs(const std::string& dir, int n, int batch) {
    const std::string path = dir + "/single-file.db";
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    eskit_register(db);
    exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; SELECT es_init()");
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT es_append(?, ?, ?)", -1, &st, nullptr);
    std::vector<std::int64_t> version(10, 0);
    auto one = [&](const std::string& stream, int s) {
        sqlite3_bind_text(st, 1, stream.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, version[s]);
        sqlite3_bind_text(st, 3, kPayload, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW) throw std::runtime_error(sqlite3_errmsg(db));
        version[s] = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    };
    std::vector<double> lat;
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
        const auto t = Clock::now();
        one("single-" + std::to_string(i % 10), i % 10);
        lat.push_back(us_since(t));
    }
    const Stats single = stats(lat, n, us_since(t0) / 1e6);
    std::fill(version.begin(), version.end(), 0);
    lat.clear();
    t0 = Clock::now();
    for (int done = 0; done < n; done += batch) {
        const auto t = Clock::now();
        exec(db, "BEGIN IMMEDIATE");
        for (int k = 0; k < batch && done + k < n; ++k) {
            one("batch-" + std::to_string((done + k) % 10), (done + k) % 10);
        }
        exec(db, "COMMIT");
        lat.push_back(us_since(t));
    }
    const Stats batched = stats(lat, n, us_since(t0) / 1e6);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return {single, batched};
}

}  // namespace

int main(int argc, char** argv) {
    int n = 3000;
    int batch = 50;
    double conc_seconds = 5;
    unsigned latency = 50;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--quick") {
            n = 500;
            conc_seconds = 2;
        } else if (a == "--appends" && i + 1 < argc) {
            n = std::atoi(argv[++i]);
        } else if (a == "--batch" && i + 1 < argc) {
            batch = std::atoi(argv[++i]);
        } else if (a == "--latency-ms" && i + 1 < argc) {
            latency = static_cast<unsigned>(std::atoi(argv[++i]));
        } else {
            std::fprintf(stderr,
                         "usage: eskit_cluster_bench [--quick] [--appends N] [--batch N] "
                         "[--latency-ms N]\n");
            return 2;
        }
    }
    try {
        ec::test::ClusterOptions o;
        o.latency_ms = latency;
        if (!std::getenv("ESKIT_NODE")) {
            std::string self = argv[0];
            const size_t slash = self.rfind('/');
            o.binary = (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) +
                       "/../eskit-node";
        }
        ec::test::LocalCluster lc(o);
        lc.start_all();
        const std::vector<std::string> seeds = lc.addresses();
        {
            ec::Client c(seeds);  // create the tables first
            auto tx = c.begin();
            tx.query("SELECT es_init()");
            tx.commit();
        }
        const std::string extra = " nodes=3 appends=" + std::to_string(n);
        print("single", "cluster", cluster_single(seeds, n, "single-"), extra);
        print("batch", "cluster", cluster_batch(seeds, n, batch),
              extra + " batch=" + std::to_string(batch) + " latency=per_transaction");
        std::uint64_t retries = 0;
        const Stats conc = cluster_concurrent(seeds, 4, conc_seconds, retries);
        print("concurrent", "cluster", conc,
              " nodes=3 threads=4 seconds=" + std::to_string(static_cast<int>(conc_seconds)) +
                  " busy_retries=" + std::to_string(retries));
        const auto [single, batched] = file_runs(lc.base_dir(), n, batch);
        print("single", "file", single, " appends=" + std::to_string(n) + " synchronous=NORMAL");
        print("batch", "file", batched,
              " appends=" + std::to_string(n) + " batch=" + std::to_string(batch) +
                  " latency=per_transaction synchronous=NORMAL");
        lc.reap();
        if (!lc.crashed().empty()) {
            std::fprintf(stderr, "a node died: %s\n", lc.crashed()[0].c_str());
            return 1;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "eskit_cluster_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
