/*
** es_wait(after_seq, timeout_ms) -> INTEGER: the head, as soon as it exceeds after_seq or when
** the timeout passes (SPEC section 3).
**
** HOW IT WORKS
** Every check of the head is a short read transaction on a private read-only connection to
** the same file, so commits of other connections and processes become visible even when the
** calling statement or transaction holds an older snapshot (SPEC: "even though it is called
** from inside a statement"). A database without a file (":memory:") has no other writers to
** wait for; there the caller's own connection is read, outside a transaction only. Between checks the thread sleeps in poll(2) on an inotify
** descriptor watching the database's directory: a writer's WAL (or journal, or database) write
** wakes it at once, and a short burst of re-checks (0.2 to 20 ms apart) covers the moment
** between the writer's last write() and its commit becoming visible in the WAL index. A
** 50 ms fallback tick covers file systems without inotify (network mounts) and in-memory
** databases, so an idle waiter costs about twenty cheap checks a second and no busy loop.
*/
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "common.h"

namespace eskit::ext {

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kFn = "es_wait()";

int64_t head_of(Conn& c) { return c.has_schema() ? read_head(c) : 0; }

// Opens (once per connection) the read-only side connection to the main database file, or
// returns false for databases without a file (":memory:", temporary), whose commits can only
// come from this connection's own snapshot anyway.
bool side_connection(Conn& c) {
    if (c.side_db) return true;
    const char* path = sqlite3_db_filename(c.db, "main");
    if (!path || !*path) return false;
    sqlite3* side = nullptr;
    if (sqlite3_open_v2(path, &side, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) !=
        SQLITE_OK) {
        const std::string m = side ? sqlite3_errmsg(side) : "out of memory";
        sqlite3_close_v2(side);
        throw Error{SQLITE_CANTOPEN, format("es_wait(): cannot open %Q to watch it: %s", path,
                                            m.c_str())};
    }
    sqlite3_busy_timeout(side, 1000);
    c.side_db = side;
    return true;
}

// The head as of the newest commit, through the side connection.
int64_t read_head_fresh(Conn& c) {
    if (!c.side_head) {
        for (const char* sql : {kHeadSqlV1, kHeadSql}) {
            if (sqlite3_prepare_v3(c.side_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c.side_head,
                                   nullptr) == SQLITE_OK) {
                break;
            }
            c.side_head = nullptr;
        }
        if (!c.side_head) return 0;  // no eskit tables yet: nothing was ever appended
    }
    const int rc = sqlite3_step(c.side_head);
    const int64_t head = rc == SQLITE_ROW ? sqlite3_column_int64(c.side_head, 0) : 0;
    sqlite3_reset(c.side_head);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        throw db_error(c.side_db);
    }
    return head;
}

// inotify on the directory of the main database, for the duration of one es_wait call.
// The inotify descriptor itself belongs to the connection (Conn::inotify_fd): closing one can
// block for many milliseconds on current kernels, while adding and removing a watch is cheap.
// Inactive (no wakeups, only the fallback tick) for in-memory databases or without inotify.
class DirWatch {
  public:
    explicit DirWatch(Conn& c) : c_(c) {
        const char* path = sqlite3_db_filename(c.db, "main");
        if (!path || !*path) return;
        const std::string file(path);
        const size_t slash = file.rfind('/');
        const std::string dir = slash == std::string::npos ? "." : file.substr(0, slash + 1);
        base_ = slash == std::string::npos ? file : file.substr(slash + 1);
        if (c.inotify_fd < 0) c.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (c.inotify_fd < 0) return;
        drain();  // events of earlier calls (and the IN_IGNORED of their removed watch)
        wd_ = inotify_add_watch(c.inotify_fd, dir.c_str(),
                                IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_TO);
    }
    ~DirWatch() {
        if (wd_ >= 0) inotify_rm_watch(c_.inotify_fd, wd_);
    }
    DirWatch(const DirWatch&) = delete;
    DirWatch& operator=(const DirWatch&) = delete;

    // Sleeps up to ms; true when one of the database's files changed.
    bool wait(int ms) {
        if (wd_ < 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            return false;
        }
        pollfd p{c_.inotify_fd, POLLIN, 0};
        if (poll(&p, 1, ms) <= 0) return false;
        return drain();
    }

  private:
    bool drain() {
        alignas(inotify_event) char buf[4096];
        bool ours = false;
        for (;;) {
            const ssize_t n = read(c_.inotify_fd, buf, sizeof buf);
            if (n <= 0) break;
            for (ssize_t off = 0; off < n;) {
                const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
                // db, db-wal, db-journal: all start with the database's file name.
                if (ev->len > 0 && std::string_view(ev->name).substr(0, base_.size()) == base_) {
                    ours = true;
                }
                off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
            }
        }
        return ours;
    }

    Conn& c_;
    int wd_ = -1;
    std::string base_;
};

void waitFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, [&] {
        Conn& c = *static_cast<Conn*>(sqlite3_user_data(ctx));
        if (sqlite3_value_type(argv[0]) != SQLITE_INTEGER) {
            raise(SQLITE_ERROR, "invalid_argument: %s: after_seq must be an integer, got %s",
                  kFn, describe(argv[0]).c_str());
        }
        if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER || sqlite3_value_int64(argv[1]) < 0) {
            raise(SQLITE_ERROR,
                  "invalid_argument: %s: timeout_ms must be an integer >= 0, got %s", kFn,
                  describe(argv[1]).c_str());
        }
        const int64_t after = sqlite3_value_int64(argv[0]);
        const int64_t timeout_ms = sqlite3_value_int64(argv[1]);
        if (sqlite3_txn_state(c.db, nullptr) == SQLITE_TXN_WRITE) {
            // Waiting while this connection holds the write lock keeps out the very commits
            // being waited for (and a CHECK constraint of an untrusted schema could use it to
            // stall every insert: SQLite 3.40 does not apply DIRECTONLY to CHECK).
            raise(SQLITE_ERROR,
                  "invalid_argument: %s: cannot wait inside a statement or transaction that "
                  "writes: its write lock keeps out the commits it would wait for",
                  kFn);
        }
        const bool side = side_connection(c);
        if (!side &&
            (!sqlite3_get_autocommit(c.db) || sqlite3_txn_state(c.db, "main") != SQLITE_TXN_NONE)) {
            raise(SQLITE_ERROR,
                  "invalid_argument: %s: cannot wait inside a transaction or a statement that "
                  "reads tables on a database without a file, whose snapshot never shows new "
                  "commits; call it in a SELECT of its own",
                  kFn);
        }
        auto head_now = [&] { return side ? read_head_fresh(c) : head_of(c); };
        // Watch first, then read: a commit between the two still wakes us.
        std::optional<DirWatch> watch;
        if (timeout_ms > 0) watch.emplace(c);
        int64_t head = head_now();
        if (head > after || timeout_ms == 0) {
            sqlite3_result_int64(ctx, head);
            return;
        }
        const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
        auto remaining_ms = [&] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())
                .count();
        };
        constexpr int kTickMs = 50;
        // After a write event the commit becomes visible once the writer updates the WAL index,
        // normally within microseconds; the later steps cover a slow (loaded, sanitized) writer.
        constexpr int kBurstUs[] = {0, 200, 500, 1000, 2000, 5000, 10000, 20000};
        for (int64_t left = remaining_ms(); left > 0; left = remaining_ms()) {
            const bool changed = watch->wait(static_cast<int>(std::min<int64_t>(left, kTickMs)));
            if (!changed) {
                head = head_now();
                if (head > after) break;
                continue;
            }
            for (int us : kBurstUs) {
                if (us) std::this_thread::sleep_for(std::chrono::microseconds(us));
                head = head_now();
                if (head > after || remaining_ms() <= 0) break;
            }
            if (head > after) break;
        }
        if (head <= after) head = head_now();
        sqlite3_result_int64(ctx, head);
    });
}

}  // namespace

int register_wait(sqlite3* db, Conn* c) {
    // DIRECTONLY: a view or trigger of an untrusted schema must not be able to stall a reader.
    return register_function(db, c, "es_wait", {2}, SQLITE_UTF8 | SQLITE_DIRECTONLY, waitFunc);
}

}  // namespace eskit::ext
