// Shared pieces of the facade suite: temporary directories, the two kinds of database every
// test runs on (":memory:" and a file), the event types the tests store, and a helper that
// returns the exception a call throws so that its fields can be checked.
//
// Every TEST_CASE runs its scenarios once per kind:
//
//     TEST_CASE("Store: append") {
//         for (const ft::Kind kind : ft::kKinds) {
//             SUBCASE(ft::name_of(kind)) {
//                 ft::Env env(kind);              // a fresh database for this path
//                 SUBCASE("scenario") { ... }
//             }
//         }
//     }
//
// doctest runs the test case from the start for each leaf subcase, so every scenario gets its
// own database (STYLE.md: fresh state per path). No assertions in worker threads: threads
// collect what they saw, the test thread checks it.
#pragma once

#include <doctest/doctest.h>
#include <eskit/eskit.hpp>

#include <spawn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

namespace ft {

namespace fs = std::filesystem;

// A directory removed with everything in it when the test path ends.
class TempDir {
  public:
    TempDir() {
        std::string t = (fs::temp_directory_path() / "eskit-facade-XXXXXX").string();
        if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
        path_ = t;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(std::string_view name) const { return (path_ / name).string(); }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

enum class Kind { Memory, File };
inline constexpr Kind kKinds[] = {Kind::Memory, Kind::File};
inline const char* name_of(Kind k) { return k == Kind::Memory ? ":memory:" : "file"; }

// One database of a kind, in a directory of its own (which also holds archives, copies...).
struct Env {
    explicit Env(Kind k, const eskit::DatabaseOptions& o = {})
        : kind(k),
          path(k == Kind::Memory ? std::string(":memory:") : tmp.file("events.db")),
          db(eskit::Database::open(path, o)) {}
    bool file() const { return kind == Kind::File; }

    Kind kind;
    TempDir tmp;
    std::string path;
    eskit::Database db;
};

// The exception of type Ex that f throws (the test fails when it throws nothing or another).
template <class Ex, class F>
Ex thrown(F&& f) {
    try {
        f();
    } catch (const Ex& e) {
        return e;
    } catch (const std::exception& e) {
        FAIL("expected another exception, got: " << e.what());
    }
    FAIL("expected an exception, none was thrown");
    throw std::logic_error("unreachable");
}

// The first integer of a query on the database (read models, counts).
inline int64_t scalar(eskit::Database& db, std::string_view sql,
                      std::initializer_list<eskit::Param> params = {}) {
    int64_t out = 0;
    db.query(sql, params, [&](const eskit::Row& r) { out = r.integer(0); });
    return out;
}
inline std::string text(eskit::Database& db, std::string_view sql,
                        std::initializer_list<eskit::Param> params = {}) {
    std::string out;
    db.query(sql, params, [&](const eskit::Row& r) { out = std::string(r.text(0)); });
    return out;
}

inline eskit::Timestamp now() {
    return std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now());
}

// CPU time the whole process has used (user + system), for "does not spin" checks.
inline std::chrono::microseconds cpu_time() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return std::chrono::seconds(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           std::chrono::microseconds(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Sanitizer builds run several times slower: time limits in the tests scale with this.
inline int slow_factor() {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    return 4;
#else
    return 1;
#endif
}

// --- a second process: tests/facade/helper.cpp, found through $ESKIT_FACADE_HELPER --------

inline std::string helper_path() {
    const char* p = std::getenv("ESKIT_FACADE_HELPER");
    return p ? p : "";
}

// Starts the helper with these arguments; returns its pid.
inline pid_t spawn_helper(const std::vector<std::string>& args) {
    const std::string exe = helper_path();
    REQUIRE_MESSAGE(!exe.empty(), "ESKIT_FACADE_HELPER is not set (run the suite through meson)");
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(exe.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    REQUIRE(posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ) == 0);
    return pid;
}

// Waits for the process; its exit code, or 128 + the signal that ended it.
inline int wait_exit(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

// --- the events the tests store -----------------------------------------------------------

struct Placed {
    std::string order_id;
    double total = 0;
    friend bool operator==(const Placed&, const Placed&) = default;
};
ESKIT_FIELDS(Placed, order_id, total);
ESKIT_EVENT(Placed, "Placed", 1);

// Stored as "Paid"; events written before a rename are stored as "PaymentReceived".
struct Paid {
    int64_t cents = 0;
    friend bool operator==(const Paid&, const Paid&) = default;
};
ESKIT_FIELDS(Paid, cents);
ESKIT_EVENT(Paid, "Paid", 1, "PaymentReceived");

struct Shipped {
    std::string carrier;
    std::optional<std::string> tracking;
    std::vector<std::string> parcels;
    friend bool operator==(const Shipped&, const Shipped&) = default;
};
ESKIT_FIELDS(Shipped, carrier, tracking, parcels);
ESKIT_EVENT(Shipped, "Shipped", 1);

using OrderEvent = std::variant<Placed, Paid, Shipped>;
using OrderEventOrUnknown = std::variant<Placed, Paid, Shipped, eskit::UnknownEvent>;

// A type the order stores do not know (written by another program, say).
struct Refunded {
    int64_t cents = 0;
};
ESKIT_FIELDS(Refunded, cents);
ESKIT_EVENT(Refunded, "Refunded", 1);
using WiderEvent = std::variant<Placed, Paid, Shipped, Refunded>;

}  // namespace ft
