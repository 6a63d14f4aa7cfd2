/*
** Per-connection state shared by every function and module of one registration: the statement
** cache, the scratch buffers reused by every call, the guard's permits, and the structured
** result of the last call (eskit_last_error / eskit_last_append, es_last_error()).
**
** SQLite serialises calls on a connection, so nothing here needs a lock; the only global is the
** map from sqlite3* to Conn used by the C API (conn_of_db), which has one.
**
** STATEMENTS AND HOSTS
** Every statement eskit prepares starts with a comment that names this Conn and the statement
** ("/ *eskit 1f2e... 7* /"). Hosts may finalize every statement sqlite3_next_stmt() returns, or
** reset them all, before closing or while working: at the start of each eskit call (and before
** eskit touches a statement it holds) the connection's statement list is walked once and every
** statement of ours that is no longer in it is forgotten rather than finalized again. The next
** use prepares it anew.
**
** The address and the text do not prove that a statement is still ours: a host can read the
** text (tag included) with sqlite3_sql() and prepare a copy, which may land at the address of
** ours after it finalized that one. What a host cannot copy is age: SQLite links a new
** statement at the head of the list, so a copy is newer than every statement that existed when
** it was prepared. Right after each statement it keeps, eskit prepares an anchor ("SELECT ?1",
** its parameter bound to a pointer whose destructor tells eskit when the anchor is finalized
** or its binding dropped). A statement of ours is one at a recorded address, with its tag, that
** comes after the living anchor in the list; one before it was prepared by the host after our
** last prepare, whatever its text. When the anchor is gone, nothing can be told apart and every
** statement is forgotten (a statement the host left alive then stays unfinalized: never freed
** twice).
**
** Cursors keep read statements across callbacks as ReadStmt (address and serial), so that a
** statement of ours prepared later at a freed address is not taken for theirs either.
**
** CLOSING
** sqlite3_close() disconnects virtual tables before it checks for unfinalized statements, so the
** last xDisconnect of eskit's eponymous tables finalizes the cache; otherwise a legacy
** sqlite3_close() (the sqlite3 shell's) would fail with SQLITE_BUSY. The first prepare makes sure
** one of eskit's tables is connected (a user table named es_all shadows that one, so the others
** are tried); if none can be, statements are not cached at all.
*/
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "error.h"
#include "guard.h"
#include "ids.h"
#include "json.h"
#include "sqlite.h"
#include "stmt.h"

namespace eskit::ext {

// A read statement a cursor holds across callbacks: its address and the serial eskit gave it
// (see STATEMENTS AND HOSTS).
struct ReadStmt {
    sqlite3_stmt* stmt = nullptr;
    uint64_t id = 0;
    explicit operator bool() const { return stmt != nullptr; }
};

// What the last successful es_append on this connection recorded (eskit_last_append).
struct AppendRecord {
    bool valid = false;
    int64_t first_seq = 0;
    int64_t count = 0;
    int64_t first_version = 0;
    int64_t last_version = 0;
    int64_t created_at = 0;
    bool replay = false;
    std::vector<std::string> event_ids;
};

class Conn {
  public:
    explicit Conn(sqlite3* d);
    ~Conn();
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    sqlite3* const db;
    int refs = 0;   // registrations still holding this object (see conn_release())
    int vtabs = 0;  // connected eskit virtual tables (see CLOSING above)

    // A cached statement for q, reset and cleared when the handle goes out of scope.
    Stmt use(const Query& q);
    // A cached statement of dynamic SQL (schema names formatted in), keyed by its text.
    Stmt use(const std::string& sql);
    // A statement of dynamic SQL for one use, finalized with the handle.
    Stmt prepare(const std::string& sql);
    // Called by a cached statement's handle when it goes out of scope.
    void give_back(int slot, sqlite3_stmt* s) noexcept;

    // Read statements of the table-valued functions, pooled by shape so that two cursors can
    // be open at once and neither prepares on every xFilter.
    // sql() builds the statement's text, only when none of that shape is free. The pool is as
    // current as the last validate_statements(): call it first when the host may have run
    // since (CallScope does).
    template <class Sql>
    ReadStmt acquire_read(uint64_t shape, Sql&& sql) {
        if (ReadStmt s = take_free(shape)) return s;
        return prepare_read(sql());
    }
    // Gives s back to the pool and clears s. alive: s is known to exist (it ran in this
    // callback, or its run flag is up), so the statement list need not be walked.
    void release_read(uint64_t shape, ReadStmt& s, bool alive) noexcept;
    // True while s is a live statement of ours (as of the last validate_statements()).
    bool owns(const ReadStmt& s) const {
        auto it = live_.find(s.stmt);
        return it != live_.end() && it->second.id == s.id;
    }

    // Forgets statements the host finalized or replaced (see STATEMENTS AND HOSTS).
    void validate_statements() noexcept;
    void finalize_all() noexcept;

    // Call bookkeeping (boundary.h): the last error and append, for the C API and es_last_*().
    void begin_call();
    void record_error(const Error& e);
    const Error* last_error() const { return has_error_ ? &last_error_ : nullptr; }
    AppendRecord last_append;

    // Host options (eskit_set_option).
    bool writes_need_transaction = false;

    Guard guard;
    JsonScratch json;
    UuidGen uuid;
    std::string scratch;                    // reused per-event buffer (merged metadata)
    std::vector<EventIn> events;            // reused batch of the current es_append
    std::vector<std::string> row_metadata;  // its merged metadata, one per event
    std::vector<bool> row_has_metadata;
    bool main_schema_checked = false;  // main's eskit schema known current on this connection
    bool in_write = false;             // inside a WriteScope (eskit writes do not nest)
    // Schemas whose bookkeeping tables were found free of user triggers, with the schema
    // cookies (the schema's, temp's) they were checked at (check_bookkeeping_triggers).
    std::map<std::string, std::pair<int64_t, int64_t>, std::less<>> bookkeeping_checked;

    // es_wait's state (wait.cpp): an inotify descriptor and a private read-only connection to
    // the same database, both kept for the connection's lifetime.
    int inotify_fd = -1;
    sqlite3* side_db = nullptr;
    sqlite3_stmt* side_head = nullptr;

  private:
    struct Anchor;

    sqlite3_stmt* prepare_raw(const std::string& sql, unsigned flags);
    sqlite3_stmt* prepare_kept(const char* sql, uint64_t& id);
    ReadStmt take_free(uint64_t shape);
    ReadStmt prepare_read(const std::string& sql);
    Stmt use_slot(size_t slot, const char* sql);
    void ensure_sentinel();
    bool can_cache();  // an eskit table is connected, so the cache is finalized at close
    void renew_anchor();
    void drop_anchor() noexcept;
    void forget(sqlite3_stmt* s) noexcept;  // from the cache and the pool (not live_)
    void forget_all() noexcept;

    std::string tag_;  // "/*eskit <this> " prefix of every statement we prepare
    uint64_t counter_ = 0;
    struct Slot {
        sqlite3_stmt* stmt = nullptr;
        bool in_use = false;  // a nested eskit call (from a user trigger) prepares its own
    };
    std::vector<Slot> cache_;                          // by Query::slot()
    std::unordered_map<std::string, int> text_slots_;  // dynamic SQL -> its slot in cache_
    std::unordered_map<uint64_t, std::vector<ReadStmt>> pool_;
    struct Live {
        std::string tag;
        uint64_t id = 0;
        uint64_t seen = 0;  // validation round that last found it in the statement list
    };
    std::unordered_map<sqlite3_stmt*, Live> live_;  // every statement we keep across calls
    sqlite3_stmt* anchor_ = nullptr;
    Anchor* anchor_life_ = nullptr;
    bool list_is_newest_first_ = true;  // what the anchor relies on (checked at each renewal)
    uint64_t round_ = 0;
    bool sentinel_tried_ = false;
    bool has_error_ = false;
    Error last_error_;
};

// The Conn eskit registered most recently on db (for the C API), or nullptr.
Conn* conn_of_db(sqlite3* db);

// Registration bookkeeping: every sqlite3_create_function_v2/module_v2 call holds a ref.
void conn_release(void* p);

}  // namespace eskit::ext
