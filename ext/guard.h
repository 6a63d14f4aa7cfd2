/*
** The append-only guard: what eskit is writing right now, asked by the triggers of every eskit
** table (sql/schema/v3_objects.sql) through the function kGuardFunction.
**
** eskit grants itself a Permit for exactly the statement it is about to run, and only that:
**   EventsInsert   an append (or a move's copy) may insert rows of store S with seq in lo..hi;
**   EventsDelete   a tombstone, delete or move may delete rows of stream X in store S;
**   Bookkeeping    eskit's own tables of store S (es_meta, es_lifecycle, es_postings, ...).
** Every other write fails with the trigger's message, also one made by a user trigger that
** runs inside eskit's statement (a synchronous projection may write its own tables, not
** eskit's). A forged insert with a permitted seq takes a seq eskit is about to write, so one of
** the two inserts fails on the primary key and the whole call rolls back.
** Stores are told apart by identity (es_meta 'store_id', written into their triggers): a
** permit for main does not open an attached archive, and the other way round.
**
** Outside the guard, by design: SQLITE_DBCONFIG_ENABLE_TRIGGER off, DROP TRIGGER / DROP TABLE,
** the incremental blob API, and writing the file directly (README "Guarantees").
*/
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace eskit::ext {

// The function every eskit trigger calls. Without the extension it does not exist, and SQLite's
// "no such function: <name>" is the message a plain connection gets.
inline constexpr const char* kGuardFunction =
    "es_events and es_streams are written only by eskit: load the eskit extension";

struct Permit {
    enum class Kind { EventsInsert, EventsDelete, Bookkeeping };
    Kind kind;
    std::string store;
    std::string stream;   // EventsDelete
    int64_t seq_lo = 0;   // EventsInsert
    int64_t seq_hi = -1;
};

class Guard {
  public:
    bool allows_insert(std::string_view store, int64_t seq) const;
    bool allows_delete(std::string_view store, std::string_view stream) const;
    bool allows_bookkeeping(std::string_view store) const;

  private:
    friend class PermitScope;
    std::vector<Permit> permits_;
};

// Grants a permit for the lifetime of the scope (one statement, or one set of bookkeeping
// statements).
class PermitScope {
  public:
    PermitScope(Guard& g, Permit p);
    ~PermitScope();
    PermitScope(const PermitScope&) = delete;
    PermitScope& operator=(const PermitScope&) = delete;

  private:
    Guard& g_;
};

inline Permit insert_permit(std::string store, int64_t lo, int64_t hi) {
    return Permit{Permit::Kind::EventsInsert, std::move(store), {}, lo, hi};
}
inline Permit delete_permit(std::string store, std::string stream) {
    return Permit{Permit::Kind::EventsDelete, std::move(store), std::move(stream)};
}
inline Permit bookkeeping_permit(std::string store) {
    return Permit{Permit::Kind::Bookkeeping, std::move(store)};
}

class Conn;
int register_guard(sqlite3* db, Conn* c);

}  // namespace eskit::ext
