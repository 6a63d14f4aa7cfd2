/*
** Leader kills under load (issue 13, item 5). A 3-node cluster on loopback; one writer
** appends through the Appender (single events, multi-event appends, group-commit batches) to
** 8 streams with exact expected versions, while the main thread SIGKILLs the leader at random
** moments mid-stream, waits for the new leader, restarts the killed node and has the writer try
** a stale expected version (a conflict must still be detected). Then a follower is killed,
** appends go on without it, and it is restarted and must catch up.
**
** Afterwards, on every node (leadership transferred to each in turn, reads run on the leader):
** the same rows, byte for byte; every acknowledged append present exactly once (its key's
** events, at the versions it was answered with); nothing else; versions contiguous per
** stream; seq 1..N without gaps; es_head() = N. The figures (failover times, ambiguous commits
** settled by the key) are printed as a RESULT line.
**
**   test_cluster_failover [--long] [--kills N] [--naive] [--latency-ms N]
**   default 3 kills (CI; env ESKIT_FAILOVER_KILLS); --long: 20. --latency-ms: the nodes'
**   network latency setting (default 50; 0: dqlite's default). --naive shows what the checks catch:
*single appends are
**   retried the naive way (a new transaction, no key, any version), and a commit that was
**   answered with an error although it committed is stored twice.
*/
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace ec = eskit::cluster;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

int g_failures = 0;

#define EXPECT(cond, ...)                                                          \
    do {                                                                           \
        if (!(cond)) {                                                             \
            ++g_failures;                                                          \
            std::fprintf(stderr, "FAILED %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            std::fprintf(stderr, __VA_ARGS__);                                     \
            std::fputc('\n', stderr);                                              \
        }                                                                          \
    } while (0)

struct Ack {
    std::string key;
    std::string stream;
    std::int64_t expected = 0;
    int count = 0;
    std::int64_t version = 0;
};

struct Shared {
    std::mutex mu;
    std::vector<Ack> acks;
    std::atomic<std::int64_t> ack_count{0};
    std::atomic<bool> stop{false};
    std::atomic<int> stale_requests{0};
    std::atomic<int> stale_checked{0};
    bool naive = false;
    std::string failure;  // set by the writer when something unexpected happened
    std::uint64_t retries = 0, ambiguous = 0, settled = 0, connects = 0;
};

std::string events_json(int count, std::int64_t& n) {
    std::string s = "[";
    for (int i = 0; i < count; ++i) {
        if (i) s += ',';
        s += R"({"type":"T)" + std::to_string(n % 3) + R"(","data":{"n":)" + std::to_string(n) +
             "}}";
        ++n;
    }
    return s + "]";
}

// What the Appender replaces: retry in a new transaction with a new key and any version.
ec::AppendResult naive_append(ec::Client& client, ec::AppendRequest req) {
    for (;;) {
        req.idempotency_key = ec::make_idempotency_key();
        try {
            auto tx = client.begin();
            ec::Result r =
                tx.run("SELECT es_append(?, NULL, ?, ?)",
                       std::vector<ec::Value>{ec::Value(req.stream), ec::Value(req.events),
                                              ec::Value(ec::append_options_json(req))},
                       ec::Mode::query);
            tx.commit();
            return {.version = r.rows.at(0).at(0).as_int(), .idempotency_key = req.idempotency_key};
        } catch (const ec::Error& e) {
            if (!e.retriable()) throw;
            client.reset();
            std::this_thread::sleep_for(50ms);
        }
    }
}

void writer(std::vector<std::string> addresses, Shared& sh) {
    ec::Options o;
    o.leader_timeout = 15s;
    o.request_timeout = 5s;
    ec::Client client(addresses, o);
    ec::Appender app(client, ec::AppendPolicy{.deadline = 60s});
    std::map<std::string, std::int64_t> model;
    std::mt19937 rng(12345);
    std::int64_t n = 0;
    auto stream_name = [](unsigned k) { return "order-" + std::to_string(k); };
    try {
        while (!sh.stop) {
            if (sh.stale_requests > 0) {
                // A stale writer: expected version one behind. Must be a conflict.
                const std::string s = stream_name(rng() % 8);
                const std::int64_t v = model[s];
                if (v == 0) continue;
                try {
                    app.append({.stream = s, .expected = v - 1, .events = events_json(1, n)});
                    EXPECT(false, "a stale append to %s (expected %lld) was stored", s.c_str(),
                           static_cast<long long>(v - 1));
                } catch (const ec::Error& e) {
                    const std::string want = "conflict: stream '" + s + "' is at version " +
                                             std::to_string(v) + ", expected " +
                                             std::to_string(v - 1);
                    EXPECT(e.message() == want && e.code() == 19, "stale append: got %d '%s'",
                           e.code(), e.message().c_str());
                }
                --sh.stale_requests;
                ++sh.stale_checked;
                continue;
            }
            const unsigned kind = rng() % 10;
            if (kind < 9) {
                const int count = kind < 7 ? 1 : 2 + static_cast<int>(rng() % 4);
                const std::string s = stream_name(rng() % 8);
                ec::AppendRequest req{
                    .stream = s, .expected = model[s], .events = events_json(count, n)};
                ec::AppendResult r = sh.naive ? naive_append(client, req) : app.append(req);
                EXPECT(r.version == model[s] + count, "%s: answered %lld, expected %lld", s.c_str(),
                       static_cast<long long>(r.version), static_cast<long long>(model[s] + count));
                std::lock_guard<std::mutex> lock(sh.mu);
                sh.acks.push_back({r.idempotency_key, s, model[s], count, r.version});
                if (r.settled_ambiguity) ++sh.settled;
                model[s] = r.version;
            } else {
                // Group commit: three appends to three streams in one transaction.
                std::vector<unsigned> ks = {0, 1, 2, 3, 4, 5, 6, 7};
                std::shuffle(ks.begin(), ks.end(), rng);
                std::vector<ec::AppendRequest> reqs;
                for (int i = 0; i < 3; ++i) {
                    const std::string s = stream_name(ks[i]);
                    reqs.push_back(
                        {.stream = s, .expected = model[s], .events = events_json(1, n)});
                }
                std::vector<ec::BatchItem> items = app.append_batch(reqs);
                std::lock_guard<std::mutex> lock(sh.mu);
                for (size_t i = 0; i < items.size(); ++i) {
                    const std::string& s = reqs[i].stream;
                    EXPECT(items[i].version && *items[i].version == model[s] + 1,
                           "batch item %zu on %s: %s", i, s.c_str(),
                           items[i].error ? items[i].error->message().c_str() : "wrong version");
                    if (!items[i].version) continue;
                    sh.acks.push_back(
                        {items[i].idempotency_key, s, model[s], 1, *items[i].version});
                    model[s] = *items[i].version;
                }
            }
            ++sh.ack_count;
        }
    } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(sh.mu);
        sh.failure = e.what();
    }
    std::lock_guard<std::mutex> lock(sh.mu);
    sh.retries = app.retries();
    sh.ambiguous = app.ambiguous_commits();
    sh.connects = client.connects();
    sh.stop = true;
}

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!cond()) {
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

using Rows = std::vector<ec::Row>;

Rows read_all(ec::test::LocalCluster& lc, size_t i, std::int64_t& head) {
    lc.transfer_to(i);
    ec::Client c(lc.addresses());
    ec::Result r = c.query(
        "SELECT seq, stream_id, version, type, data, metadata, codec, schema_version, "
        "event_id, idempotency_key, created_at FROM es_events ORDER BY seq");
    if (c.leader_address() != lc.node(i).address) {
        throw std::runtime_error("read did not run on node " + std::to_string(i + 1));
    }
    head = c.query("SELECT es_head()").rows.at(0).at(0).as_int();
    return r.rows;
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    int kills = 3;
    bool naive = false;
    int latency = 50;  // eskit-node --latency-ms; 0: dqlite's default
    if (const char* k = std::getenv("ESKIT_FAILOVER_KILLS")) kills = std::atoi(k);
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--long")
            kills = 20;
        else if (a == "--kills" && i + 1 < argc)
            kills = std::atoi(argv[++i]);
        else if (a == "--naive")
            naive = true;
        else if (a == "--latency-ms" && i + 1 < argc)
            latency = std::atoi(argv[++i]);
    }
    const auto started = Clock::now();
    ec::test::ClusterOptions options;
    options.latency_ms = static_cast<unsigned>(latency);
    ec::test::LocalCluster lc(options);
    lc.start_all();
    std::printf("cluster up: %s, %d leader kills\n", lc.base_dir().c_str(), kills);

    Shared sh;
    sh.naive = naive;
    std::thread w(writer, lc.addresses(), std::ref(sh));
    std::mt19937 rng(777);
    std::vector<double> election_ms, resume_ms;
    auto progressed = [&](std::int64_t from, std::int64_t by) {
        return wait_for([&] { return sh.ack_count >= from + by || sh.stop; }, 60s) && !sh.stop;
    };
    try {
        if (!progressed(0, 20)) throw std::runtime_error("no appends at start");
        for (int k = 0; k < kills && !sh.stop; ++k) {
            const size_t leader = lc.leader_index();
            std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 200));
            const std::int64_t before = sh.ack_count;
            const auto t0 = Clock::now();
            lc.kill(leader);  // SIGKILL, mid-stream
            const size_t next = lc.leader_index(30s);
            const auto t1 = Clock::now();
            if (!progressed(before, 1)) throw std::runtime_error("appends did not resume");
            const auto t2 = Clock::now();
            election_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
            resume_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
            std::printf(
                "kill %d: node %llu killed, node %llu elected after %.0f ms, appends "
                "resumed after %.0f ms\n",
                k + 1, static_cast<unsigned long long>(lc.node(leader).id),
                static_cast<unsigned long long>(lc.node(next).id), election_ms.back(),
                resume_ms.back());
            lc.start(leader);
            ++sh.stale_requests;
            if (!wait_for([&] { return sh.stale_requests == 0 || sh.stop; }, 60s)) {
                throw std::runtime_error("stale append not tried");
            }
            if (!progressed(sh.ack_count, 20))
                throw std::runtime_error("no progress after restart");
        }
        // A follower goes down, appends go on, it comes back and catches up.
        const size_t leader = lc.leader_index();
        const size_t follower = (leader + 1) % lc.size();
        lc.kill(follower);
        const std::int64_t at_kill = sh.ack_count;
        if (!progressed(at_kill, 150)) throw std::runtime_error("no progress without a follower");
        lc.start(follower);
        if (!progressed(sh.ack_count, 30)) throw std::runtime_error("no progress after rejoin");
        std::printf("follower node %llu killed; %lld appends without it; restarted\n",
                    static_cast<unsigned long long>(lc.node(follower).id),
                    static_cast<long long>(sh.ack_count - at_kill));
    } catch (const std::exception& e) {
        EXPECT(false, "scenario: %s", e.what());
    }
    sh.stop = true;
    w.join();
    EXPECT(sh.failure.empty(), "writer: %s", sh.failure.c_str());
    EXPECT(sh.stale_checked >= kills || g_failures, "stale appends tried: %d of %d",
           sh.stale_checked.load(), kills);
    lc.reap();
    EXPECT(lc.crashed().empty(), "a node died on its own: %s",
           lc.crashed().empty() ? "" : lc.crashed()[0].c_str());

    // --- verification on every node -------------------------------------------------------
    std::vector<Rows> per_node;
    try {
        lc.wait_voters(3, 30s);
        for (size_t i = 0; i < lc.size(); ++i) {
            std::int64_t head = 0;
            per_node.push_back(read_all(lc, i, head));
            EXPECT(head == static_cast<std::int64_t>(per_node.back().size()),
                   "node %zu: es_head() %lld, %zu events", i + 1, static_cast<long long>(head),
                   per_node.back().size());
        }
    } catch (const std::exception& e) {
        EXPECT(false, "reading the nodes: %s", e.what());
        lc.print_logs();
    }
    std::int64_t expected_events = 0;
    for (const Ack& a : sh.acks) expected_events += a.count;
    if (per_node.size() == lc.size()) {
        for (size_t i = 1; i < per_node.size(); ++i) {
            EXPECT(per_node[i] == per_node[0], "node %zu differs from node 1 (%zu vs %zu rows)",
                   i + 1, per_node[i].size(), per_node[0].size());
        }
        const Rows& rows = per_node[0];
        EXPECT(static_cast<std::int64_t>(rows.size()) == expected_events,
               "%zu events stored, %lld acknowledged", rows.size(),
               static_cast<long long>(expected_events));
        std::map<std::string, std::vector<const ec::Row*>> by_key;
        std::map<std::string, std::int64_t> last_version;
        for (size_t i = 0; i < rows.size(); ++i) {
            const ec::Row& r = rows[i];
            EXPECT(r[0].as_int() == static_cast<std::int64_t>(i + 1), "seq %lld at position %zu",
                   static_cast<long long>(r[0].as_int()), i);
            const std::string& s = r[1].as_text();
            EXPECT(r[2].as_int() == last_version[s] + 1, "%s: version %lld after %lld", s.c_str(),
                   static_cast<long long>(r[2].as_int()), static_cast<long long>(last_version[s]));
            last_version[s] = r[2].as_int();
            if (r[9].is_text())
                by_key[r[9].as_text()].push_back(&r);
            else
                EXPECT(false, "event without idempotency key at seq %zu", i + 1);
        }
        std::set<std::string> keys;
        for (const Ack& a : sh.acks) {
            EXPECT(keys.insert(a.key).second, "key %s acknowledged twice", a.key.c_str());
            const auto& evs = by_key[a.key];
            EXPECT(static_cast<int>(evs.size()) == a.count,
                   "key %s: %zu events stored, %d acknowledged", a.key.c_str(), evs.size(),
                   a.count);
            for (size_t j = 0; j < evs.size(); ++j) {
                EXPECT((*evs[j])[1].as_text() == a.stream &&
                           (*evs[j])[2].as_int() == a.expected + 1 + static_cast<std::int64_t>(j),
                       "key %s: event %zu at %s v%lld", a.key.c_str(), j,
                       (*evs[j])[1].as_text().c_str(),
                       static_cast<long long>((*evs[j])[2].as_int()));
            }
        }
        EXPECT(by_key.size() == keys.size(), "%zu keys stored, %zu acknowledged", by_key.size(),
               keys.size());
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    std::printf(
        "RESULT test=failover latency_ms=%d kills=%d acks=%lld appends=%zu events=%lld "
        "election_ms_median=%.0f election_ms_max=%.0f resume_ms_median=%.0f "
        "resume_ms_max=%.0f retries=%llu ambiguous_commits=%llu ambiguous_settled=%llu "
        "reconnects=%llu seconds=%.1f violations=%d\n",
        latency, kills, static_cast<long long>(sh.ack_count.load()), sh.acks.size(),
        static_cast<long long>(expected_events), median(election_ms),
        election_ms.empty() ? 0 : *std::max_element(election_ms.begin(), election_ms.end()),
        median(resume_ms),
        resume_ms.empty() ? 0 : *std::max_element(resume_ms.begin(), resume_ms.end()),
        static_cast<unsigned long long>(sh.retries), static_cast<unsigned long long>(sh.ambiguous),
        static_cast<unsigned long long>(sh.settled),
        static_cast<unsigned long long>(sh.connects > 0 ? sh.connects - 1 : 0), seconds,
        g_failures);
    if (g_failures) lc.print_logs(15);
    return g_failures == 0 ? 0 : 1;
}
