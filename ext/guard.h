/*
** The append-only guard: what eskit is writing right now, asked by the triggers of every eskit
** table (sql/schema/v3_objects.sql) through the function kGuardFunction.
**
** eskit grants itself a Permit for exactly the statement it is about to run, and only that:
**   EventsInsert   an append may insert rows of store S with seq lo..hi, a move's copy the
**                  stream's own seq values: each once and in ascending order (eskit writes
**                  them so);
**   EventsDelete   a tombstone, delete or move may delete rows of stream X in store S;
**   Bookkeeping    eskit's own tables of store S (es_meta, es_lifecycle, es_postings, ...);
**   Nothing        eskit writes a table that is not guarded (es_snapshots): a user trigger
**                  that fires there gets no permit either.
** Only the innermost permit counts: while eskit's statement on es_events runs under its
** EventsInsert permit, the bookkeeping permit of the call around it is not visible, so a user
** trigger fired by that statement can write its own tables and nothing of eskit's. A forged
** insert by such a trigger takes the next permitted seq (or an unpermitted one), so eskit's
** own next row is refused and the whole call rolls back; INSERT OR REPLACE cannot slip through
** the primary key either. User triggers on the bookkeeping tables themselves are refused
** before eskit writes them (check_bookkeeping_triggers), so no user code runs under a
** Bookkeeping permit.
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

class Conn;

// The function every eskit trigger calls. Without the extension it does not exist, and SQLite's
// "no such function: <name>" is the message a plain connection gets.
inline constexpr const char* kGuardFunction =
    "es_events and es_streams are written only by eskit: load the eskit extension";

struct Permit {
    enum class Kind { EventsInsert, EventsDelete, Bookkeeping, Nothing };
    Kind kind;
    std::string store;
    std::string stream;  // EventsDelete
    int64_t seq_lo = 0;  // EventsInsert: the next seq it admits ...
    int64_t seq_hi = -1;
    std::vector<int64_t> seqs;  // ... or, when given, exactly these, in this order
    size_t next = 0;
};

class Guard {
  public:
    // An insert of seq: admitted once, in order (it consumes the permit's next seq).
    bool admit_insert(std::string_view store, int64_t seq);
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
    return Permit{Permit::Kind::EventsInsert, std::move(store), {}, lo, hi, {}, 0};
}
inline Permit insert_permit(std::string store, std::vector<int64_t> seqs) {
    return Permit{Permit::Kind::EventsInsert, std::move(store), {}, 0, -1, std::move(seqs), 0};
}
inline Permit delete_permit(std::string store, std::string stream) {
    return Permit{Permit::Kind::EventsDelete, std::move(store), std::move(stream), 0, -1, {}, 0};
}
inline Permit bookkeeping_permit(std::string store) {
    return Permit{Permit::Kind::Bookkeeping, std::move(store), {}, 0, -1, {}, 0};
}
inline Permit no_permit() { return Permit{Permit::Kind::Nothing, {}, {}, 0, -1, {}, 0}; }

class Schema;

// Refuses (invalid_argument) to write the bookkeeping tables of s while a trigger other than
// eskit's guards is defined on one of them (in s, or TEMP): it would run under the permit.
// Cached per connection by schema cookie, so it costs two cookie reads when nothing changed.
void check_bookkeeping_triggers(Conn& c, const Schema& s);

// A Bookkeeping permit for store (whose tables are in s), after that check.
class BookkeepingScope {
  public:
    BookkeepingScope(Conn& c, const Schema& s, const std::string& store);
    BookkeepingScope(const BookkeepingScope&) = delete;
    BookkeepingScope& operator=(const BookkeepingScope&) = delete;

  private:
    PermitScope permit_;
};

int register_guard(sqlite3* db, Conn* c);

}  // namespace eskit::ext
