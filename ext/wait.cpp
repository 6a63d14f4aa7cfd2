/*
** es_wait(after_seq, timeout_ms) -> INTEGER: the head, as soon as it exceeds after_seq or when
** the timeout passes (SPEC section 3).
**
** HOW IT WORKS
** Every check of the head is a short read transaction on a private read-only connection to
** the caller's own database file — same VFS, same URI parameters — so commits of other
** connections and processes become visible even when the calling statement or transaction
** holds an older snapshot (SPEC: "even though it is called from inside a statement"). A shared
** memdb database ("file:/name?vfs=memdb") is watched the same way.
**
** LOCKS
** A database locked by another connection or process means no news yet, not an error: the
** side connection has no busy handler, so a locked check returns at once and the next one
** comes with the next wake-up, until es_wait's own deadline; then the call returns the head
** last seen. The caller's connection is read only where that cannot wait for a lock (it holds
** a read transaction), since its reads would wait in the caller's busy handler, for the
** caller's busy timeout instead of es_wait's. If no check could read the head at all, the
** answer is after_seq (0 if that is negative): nothing newer was seen.
**
** Where a second connection cannot see the caller's database — ":memory:", a temp database,
** private memdb and deserialized databases, or locking_mode=EXCLUSIVE (which keeps every other
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
    const auto room =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - now);
    if (timeout_ms >= room.count()) return Clock::time_point::max();
    return now + std::chrono::milliseconds(timeout_ms);
}

int64_t ms_until(Clock::time_point deadline) {
    if (deadline == Clock::time_point::max()) return INT64_MAX;
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
}

// Prepared apart from the statement cache: the cache's first use on a connection reads the
// schema, which would wait in the caller's busy handler while another process holds a lock.
bool is_exclusive(sqlite3* db) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA main.locking_mode", -1, &s, nullptr) != SQLITE_OK) {
        raise_db(db);
    }
    const bool exclusive =
        sqlite3_step(s) == SQLITE_ROW &&
        sqlite3_stricmp(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "exclusive") == 0;
    sqlite3_finalize(s);
    return exclusive;
}

// memdb shares a database between the connections of a process that open the same name, when
// that name starts with a slash; any other memdb database is private to its connection.
bool is_shared_memdb(sqlite3* db) {
    char* vfs = nullptr;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_VFSNAME, &vfs) != SQLITE_OK || !vfs) {
        return false;
    }
    const bool memdb = std::strstr(vfs, "memdb") != nullptr;
    sqlite3_free(vfs);
    const char* name = sqlite3_db_filename(db, "main");
    return memdb && name && (name[0] == '/' || name[0] == '\\') && name[1] != '\0';
}

// A second connection would see the caller's database.
bool side_can_see(Conn& c) {
    if (is_exclusive(c.db)) return false;
    return outlives_connection(c, Schema::main_db()) || is_shared_memdb(c.db);
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
// access mode (the side connection is read-only), the VFS (passed by name) and the cache (a
// shared cache would share the caller's snapshot too).
std::string same_file_uri(sqlite3* db) {
    const char* file = sqlite3_db_filename(db, "main");
    std::string uri = "file:";
    percent_encode(file, uri);
    char sep = '?';
    for (int i = 0; const char* key = sqlite3_uri_key(file, i); ++i) {
        if (std::strcmp(key, "mode") == 0 || std::strcmp(key, "vfs") == 0 ||
            std::strcmp(key, "cache") == 0) {
            continue;
        }
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
    const int rc = sqlite3_open_v2(
        uri.c_str(), &side,
        SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE,
        vfs ? vfs->zName : nullptr);
    if (rc != SQLITE_OK) {
        Error e{Code::Sqlite,
                rc,
                format("es_wait(): cannot open %s to watch it: %s", uri.c_str(),
                       side ? sqlite3_errmsg(side) : sqlite3_errstr(rc)),
                {}};
        sqlite3_close_v2(side);
        throw e;
    }
    sqlite3_extended_result_codes(side, 1);  // tells a hot journal (no_news) from other errors
    c.side_db = side;
}

// Failures of a check that only mean nothing new can be seen yet: the database is locked by
// another connection or process, or a rollback journal looks hot to the read-only side
// connection. Under vfs=unix-none (no locks) every writer's open journal looks hot; with locks
// only a crashed writer's does, and the next writer rolls it back before it commits. Either
// way the commits waited for come later, and a later check sees them.
bool no_news(int rc) {
    return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ||
           rc == SQLITE_READONLY_ROLLBACK;
}

std::optional<int64_t> side_failure(Conn& c, int rc) {
    if (no_news(rc)) return std::nullopt;
    if (rc == SQLITE_ERROR && std::strncmp(sqlite3_errmsg(c.side_db), "no such table", 13) == 0) {
        return 0;  // no eskit tables yet: nothing was ever appended
    }
    throw db_error(c.side_db);
}

// The head as of the newest commit, through the side connection, which has no busy handler:
// nullopt at once when there is no news to be had (no_news).
std::optional<int64_t> read_side_head(Conn& c) {
    if (!c.side_head) {
        const int rc = sqlite3_prepare_v3(c.side_db, kSideHead, -1, SQLITE_PREPARE_PERSISTENT,
                                          &c.side_head, nullptr);
        if (rc != SQLITE_OK) return side_failure(c, rc);
    }
    const int rc = sqlite3_step(c.side_head);
    const int64_t head = rc == SQLITE_ROW ? sqlite3_column_int64(c.side_head, 0) : 0;
    sqlite3_reset(c.side_head);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) return head;
    return side_failure(c, rc);
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
        if (!outlives_connection(c, Schema::main_db())) return;  // memdb's name is no file
        const char* path = sqlite3_db_filename(c.db, "main");
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
        raise(Code::InvalidArgument,
              "%s: cannot wait inside a statement or transaction that "
              "writes: its write lock keeps out the commits it would wait for",
              kFn);
    }
    return {sqlite3_value_int64(argv[0]), sqlite3_value_int64(argv[1])};
}

// The highest head the checks of one call have read (heads never decrease).
struct Seen {
    int64_t after;
    std::optional<int64_t> head;

    void add(std::optional<int64_t> h) {
        if (h) head = std::max(head.value_or(*h), *h);
    }
    bool passed() const { return head && *head > after; }
    // With no head read at all (locked throughout), after_seq: nothing newer was seen.
    int64_t answer() const { return head.value_or(std::max<int64_t>(after, 0)); }
};

// Sleeps until the deadline, checking at each wake-up, until check() is true.
template <class Check>
void sleep_checking(DirWatch& watch, Clock::time_point deadline, Check check) {
    constexpr int kTickMs = 50;
    // After a write event the commit becomes visible once the writer updates the WAL index
    // (or drops its lock), normally within microseconds; the later steps cover a slow (loaded,
    // sanitized) writer.
    constexpr int kBurstUs[] = {0, 200, 500, 1000, 2000, 5000, 10000, 20000};
    for (int64_t left = ms_until(deadline); left > 0; left = ms_until(deadline)) {
        if (!watch.wait(static_cast<int>(std::min<int64_t>(left, kTickMs)))) {
            if (check()) return;
            continue;
        }
        for (int us : kBurstUs) {
            if (us) std::this_thread::sleep_for(std::chrono::microseconds(us));
            if (check()) return;
            if (ms_until(deadline) <= 0) break;
        }
    }
    check();
}

// Waits until the head passes args.after or the deadline; returns the head last seen.
// known: a head known before the first check. read() returns nullopt for "no news yet".
template <class Read>
int64_t wait_for(Conn& c, const WaitArgs& args, std::optional<int64_t> known, Read read) {
    // Watch first, then read: a commit between the two still wakes us.
    std::optional<DirWatch> watch;
    if (args.timeout_ms > 0) watch.emplace(c);
    const Clock::time_point deadline = deadline_after(args.timeout_ms);
    Seen seen{args.after, known};
    auto check = [&] {
        seen.add(read());
        return seen.passed();
    };
    if (!check() && watch) sleep_checking(*watch, deadline, check);
    return seen.answer();
}

int64_t wait_through_side(Conn& c, const WaitArgs& args) {
    open_side(c);
    // Inside a read transaction the caller's snapshot is readable without a lock: its head is
    // the answer if every check finds the file locked (see LOCKS).
    std::optional<int64_t> own;
    if (sqlite3_txn_state(c.db, "main") == SQLITE_TXN_READ) own = read_own_head(c);
    return wait_for(c, args, own, [&] { return read_side_head(c); });
}

int64_t wait_through_caller(Conn& c, const WaitArgs& args) {
    if (!sqlite3_get_autocommit(c.db) || sqlite3_txn_state(c.db, "main") != SQLITE_TXN_NONE) {
        raise(Code::InvalidArgument,
              "%s: cannot wait inside a transaction or a statement that reads tables on a "
              "database no second connection can see (in memory, memdb, or "
              "locking_mode=EXCLUSIVE), whose snapshot never shows new commits; call it in a "
              "SELECT of its own",
              kFn);
    }
    return wait_for(c, args, std::nullopt,
                    [&] { return std::optional<int64_t>(read_own_head(c)); });
}

void waitFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, [&](Conn& c) {
        // A replicated host (dqlite) keeps its databases in its own VFS: a connection of eskit's
        // own there is outside the replication's control, so es_wait does not open one.
        if (c.writes_need_transaction) {
            raise(Code::InvalidArgument,
                  "es_wait(): not available on a replicated host: poll "
                  "es_head() instead");
        }
        const WaitArgs args = parse_wait(c, argv);
        sqlite3_result_int64(
            ctx, side_can_see(c) ? wait_through_side(c, args) : wait_through_caller(c, args));
    });
}

}  // namespace

int register_wait(sqlite3* db, Conn* c) {
    // DIRECTONLY: a view or trigger of an untrusted schema must not be able to stall a reader.
    return register_function(db, c, "es_wait", {2}, SQLITE_UTF8 | SQLITE_DIRECTONLY, waitFunc);
}

}  // namespace eskit::ext
