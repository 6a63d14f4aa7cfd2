// Peak memory of a streaming read: Store::load over one long stream holds one page of events at
// a time, so the process stays under 32 MiB of resident memory (VmHWM) whatever the stream's
// length (issue 11). A child process writes the stream first (so the writer's memory is not
// counted), then this process opens the database and iterates the stream, decoding every event.
//
//     facade_rss                       200,000 events (the CI size)
//     ESKIT_RSS_EVENTS=1000000 facade_rss   the full million
//
// Prints the figures; exits 1 if the count, the order or the limit is wrong.
#include <eskit/eskit.hpp>

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

struct Reading {
    std::string sensor;
    int64_t n = 0;
    double value = 0;
    std::vector<int64_t> tags;
};
ESKIT_FIELDS(Reading, sensor, n, value, tags);
ESKIT_EVENT(Reading, "Reading", 1);

int64_t vm_kib(const char* key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::string k = std::string(key) + ":";
    while (std::getline(in, line)) {
        if (line.rfind(k, 0) == 0) return std::atoll(line.c_str() + k.size());
    }
    return -1;
}

int write_stream(const std::string& path, int64_t events) {
    auto db = eskit::Database::open(path, {.synchronous = "OFF"});
    eskit::Store<Reading> store(db);
    constexpr int64_t kBatch = 1000;
    std::vector<Reading> batch;
    for (int64_t v = 0; v < events; v += kBatch) {
        batch.clear();
        for (int64_t i = v; i < std::min(events, v + kBatch); ++i) {
            batch.push_back(Reading{
                "sensor-" + std::to_string(i % 97), i, static_cast<double>(i) / 8, {i, i + 1}});
        }
        store.append("sensor-stream", eskit::Exact{v}, batch);
    }
    return 0;
}

}  // namespace

int main() {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    std::printf(
        "skipped: under a sanitizer the resident size measures the sanitizer's shadow memory\n");
    return 77;  // meson: skipped
#endif
    const char* env = std::getenv("ESKIT_RSS_EVENTS");
    const int64_t events = env ? std::atoll(env) : 200000;
    constexpr int64_t kLimitKiB = 32 * 1024;
    char dir_template[] = "/tmp/eskit-rss-XXXXXX";
    if (!mkdtemp(dir_template)) return 2;
    const std::string dir = dir_template;
    const std::string path = dir + "/rss.db";

    using Clock = std::chrono::steady_clock;
    auto t0 = Clock::now();
    const pid_t child = fork();  // before this process opens anything
    if (child == 0) {
        try {
            _exit(write_stream(path, events));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "writer: %s\n", e.what());
            _exit(1);
        }
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 2;
    const double write_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const int64_t before_kib = vm_kib("VmHWM");

    t0 = Clock::now();
    int64_t count = 0, expect = 1, sum = 0;
    bool ordered = true;
    {
        auto db = eskit::Database::open(path);
        eskit::Store<Reading> store(db);
        for (const auto& e : store.load("sensor-stream")) {
            ordered = ordered && e.version == expect && e.data.n == expect - 1;
            ++expect;
            ++count;
            sum += e.data.tags.size();
        }
    }
    const double read_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const int64_t hwm_kib = vm_kib("VmHWM");
    std::filesystem::remove_all(dir);

    std::printf(
        "wrote %lld events in %.2f s; streamed them through Store::load in %.2f s "
        "(%.0f events/s); VmHWM %.1f MiB before opening the database, %.1f MiB after "
        "(limit 32 MiB)\n",
        static_cast<long long>(events), write_s, read_s, events / read_s, before_kib / 1024.0,
        hwm_kib / 1024.0);
    if (count != events || !ordered || sum != 2 * events) {
        std::printf("FAILED: %lld events read, in order: %s\n", static_cast<long long>(count),
                    ordered ? "yes" : "no");
        return 1;
    }
    if (hwm_kib > kLimitKiB) {
        std::printf("FAILED: VmHWM %lld KiB is over the limit\n", static_cast<long long>(hwm_kib));
        return 1;
    }
    return 0;
}
