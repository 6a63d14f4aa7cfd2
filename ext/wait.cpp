/*
** es_wait(after_seq, timeout_ms) -> INTEGER: the head, as soon as it exceeds after_seq or when
** the timeout passes (SPEC section 3).
**
** HOW IT WORKS
** Every check of the head is a short read transaction on a private read-only connection to
** the caller's own database file — same VFS, same URI parameters — so commits of other
** connections and processes become visible even when the calling statement or transaction
** holds an older snapshot (SPEC: "even though it is called from inside a statement"). Lock
** waits of that connection are bounded by what is left of the caller's timeout.
**
** Where a second connection cannot see the caller's database — ":memory:", a temp database,
** memdb and deserialized databases, or locking_mode=EXCLUSIVE (which keeps every other
** connection out) — the only writers it could wait for commit through this process, and each
** check reads the caller's own connection instead; that needs autocommit (a transaction's
** snapshot never shows new commits), else the call is refused.
**
** Between checks the thread sleeps in poll(2) on an inotify descriptor watching the database's
** directory: a writer's WAL (or journal, or database) write wakes it at once, and a short burst
** of re-checks (0.2 to 20 ms apart) covers the moment between the writer's last write() and its
** commit becoming visible. A 50 ms fallback tick covers file systems without inotify, so an
** idle waiter costs about twenty cheap checks a second and no busy loop. A timeout too large for
** the clock means "as long as the clock allows".
*/
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <climits>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include "args.h"
#include "boundary.h"
#include "schema.h"
#include "streams.h"

namespace eskit::ext {

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kFn = "es_wait()";

constexpr const char* kSideHead =
    "SELECT max(ifnull((SELECT max(seq) FROM main.es_events), 0), "
    "ifnull((SELECT value FROM main.es_meta WHERE key = 'seq_floor'), 0))";

// The deadline of a timeout, saturating instead of overflowing.
Clock::time_point deadline_after(int64_t timeout_ms) {
    const auto now = Clock::now();
    const auto room = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - now);
    if (timeout_ms >= room.count()) return Clock::time_point::max();
    return now + std::chrono::milliseconds(timeout_ms);
}

int64_t ms_until(Clock::time_point deadline) {
    if (deadline == Clock::time_point::max()) return INT64_MAX;
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
}

bool is_exclusive(Conn& c) {
    Stmt s = c.use(std::string("PRAGMA main.locking_mode"));
    return s.step_row() && sqlite3_stricmp(std::string(s.text(0)).c_str(), "exclusive") == 0;
}

// A second connection would see the caller's database.
bool side_can_see(Conn& c) {
    return outlives_connection(c, Schema::main_db()) && !is_exclusive(c);
}

void percent_encode(std::string_view s, std::string& out) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned char ch : s) {
        if (std::isalnum(ch) || ch == '/' || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out.push_back(static_cast<char>(ch));
        } else {
            out.push_back('%');
            out.push_back(kHex[ch >> 4]);
            out.push_back(kHex[ch & 15]);
        }
    }
}

// The caller's database as a URI: its path and every URI parameter it was opened with but the
// access mode (the side connection is read-only) and the VFS (passed by name).
std::string same_file_uri(sqlite3* db) {
    const char* file = sqlite3_db_filename(db, "main");
    std::string uri = "file:";
    percent_encode(file, uri);
    char sep = '?';
    for (int i = 0; const char* key = sqlite3_uri_key(file, i); ++i) {
        if (std::strcmp(key, "mode") == 0 || std::strcmp(key, "vfs") == 0) continue;
        uri.push_back(sep);
        sep = '&';
        percent_encode(key, uri);
        uri.push_back('=');
        percent_encode(sqlite3_uri_parameter(file, key), uri);
    }
    return uri;
}

void open_side(Conn& c) {
    if (c.side_db) return;
    sqlite3_vfs* vfs = nullptr;
    sqlite3_file_control(c.db, "main", SQLITE_FCNTL_VFS_POINTER, &vfs);
    const std::string uri = same_file_uri(c.db);
    sqlite3* side = nullptr;
    const int rc = sqlite3_open_v2(uri.c_str(), &side,
                                   SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                                   vfs ? vfs->zName : nullptr);
    if (rc != SQLITE_OK) {
        Error e{Code::Sqlite, rc, format("es_wait(): cannot open %s to watch it: %s", uri.c_str(),
                                         side ? sqlite3_errmsg(side) : sqlite3_errstr(rc)), {}};
        sqlite3_close_v2(side);
        throw e;
    }
    c.side_db = side;
}

// The head as of the newest commit, through the side connection; nullopt when the database
// stayed locked until the deadline.
std::optional<int64_t> read_side_head(Conn& c, Clock::time_point deadline) {
    const int64_t left = ms_until(deadline);
    sqlite3_busy_timeout(c.side_db, static_cast<int>(std::clamp<int64_t>(left, 0, INT_MAX)));
    if (!c.side_head &&
        sqlite3_prepare_v3(c.side_db, kSideHead, -1, SQLITE_PREPARE_PERSISTENT, &c.side_head,
                           nullptr) != SQLITE_OK) {
        c.side_head = nullptr;
        const int rc = sqlite3_errcode(c.side_db);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return std::nullopt;
        return 0;  // no eskit tables yet: nothing was ever appended
    }
    const int rc = sqlite3_step(c.side_head);
    const int64_t head = rc == SQLITE_ROW ? sqlite3_column_int64(c.side_head, 0) : 0;
    sqlite3_reset(c.side_head);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) return head;
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) return std::nullopt;
    throw db_error(c.side_db);
}

int64_t read_own_head(Conn& c) {
    return schema_version(c, Schema::main_db()) != 0 ? read_head(c) : 0;
}

// inotify on the directory of the main database, for the duration of one es_wait call.
// The inotify descriptor itself belongs to the connection (Conn::inotify_fd): closing one can
// block for many milliseconds on current kernels, while adding and removing a watch is cheap.
// Inactive (no wakeups, only the fallback tick) without a file or without inotify.
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

struct WaitArgs {
    int64_t after;
    int64_t timeout_ms;
};

WaitArgs parse_wait(Conn& c, sqlite3_value** argv) {
    if (sqlite3_value_type(argv[0]) != SQLITE_INTEGER) {
        raise(Code::InvalidArgument, "%s: after_seq must be an integer, got %s", kFn,
              describe(argv[0]).c_str());
    }
    if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER || sqlite3_value_int64(argv[1]) < 0) {
        raise(Code::InvalidArgument, "%s: timeout_ms must be an integer >= 0, got %s", kFn,
              describe(argv[1]).c_str());
    }
    if (sqlite3_txn_state(c.db, nullptr) == SQLITE_TXN_WRITE) {
        // Waiting while this connection holds the write lock keeps out the very commits
        // being waited for (and a CHECK constraint of an untrusted schema could use it to
        // stall every insert: SQLite 3.40 does not apply DIRECTONLY to CHECK).
        raise(Code::InvalidArgument, "%s: cannot wait inside a statement or transaction that "
              "writes: its write lock keeps out the commits it would wait for", kFn);
    }
    return {sqlite3_value_int64(argv[0]), sqlite3_value_int64(argv[1])};
}

// Waits until the head passes args.after or the deadline; returns the head last seen.
template <class Check>
int64_t wait_for(Conn& c, const WaitArgs& args, Check head_now) {
    // Watch first, then read: a commit between the two still wakes us.
    std::optional<DirWatch> watch;
    if (args.timeout_ms > 0) watch.emplace(c);
    const Clock::time_point deadline = deadline_after(args.timeout_ms);
    int64_t head = head_now(deadline).value_or(0);
    if (head > args.after || args.timeout_ms == 0) return head;
    constexpr int kTickMs = 50;
    // After a write event the commit becomes visible once the writer updates the WAL index,
    // normally within microseconds; the later steps cover a slow (loaded, sanitized) writer.
    constexpr int kBurstUs[] = {0, 200, 500, 1000, 2000, 5000, 10000, 20000};
    auto check = [&] {
        if (const auto h = head_now(deadline)) head = *h;
        return head > args.after;
    };
    for (int64_t left = ms_until(deadline); left > 0; left = ms_until(deadline)) {
        if (!watch->wait(static_cast<int>(std::min<int64_t>(left, kTickMs)))) {
            if (check()) return head;
            continue;
        }
        for (int us : kBurstUs) {
            if (us) std::this_thread::sleep_for(std::chrono::microseconds(us));
            if (check() || ms_until(deadline) <= 0) break;
        }
        if (head > args.after) return head;
    }
    check();
    return head;
}

void waitFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, [&](Conn& c) {
        const WaitArgs args = parse_wait(c, argv);
        if (side_can_see(c)) {
            open_side(c);
            const int64_t own = read_own_head(c);  // the answer if the file stays locked
            sqlite3_result_int64(ctx, wait_for(c, args, [&](Clock::time_point deadline) {
                return std::optional<int64_t>(read_side_head(c, deadline).value_or(own));
            }));
            return;
        }
        if (!sqlite3_get_autocommit(c.db) || sqlite3_txn_state(c.db, "main") != SQLITE_TXN_NONE) {
            raise(Code::InvalidArgument,
                  "%s: cannot wait inside a transaction or a statement that reads tables on a "
                  "database no second connection can see (in memory, memdb, or "
                  "locking_mode=EXCLUSIVE), whose snapshot never shows new commits; call it in a "
                  "SELECT of its own", kFn);
        }
        sqlite3_result_int64(ctx, wait_for(c, args, [&](Clock::time_point) {
            return std::optional<int64_t>(read_own_head(c));
        }));
    });
}

}  // namespace

int register_wait(sqlite3* db, Conn* c) {
    // DIRECTONLY: a view or trigger of an untrusted schema must not be able to stall a reader.
    return register_function(db, c, "es_wait", {2}, SQLITE_UTF8 | SQLITE_DIRECTONLY, waitFunc);
}

}  // namespace eskit::ext
