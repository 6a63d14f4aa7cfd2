/*
** A stream's state in main, read in one statement together with the store's counters, and
** the rules that depend on it, each written once: which states accept appends, which can be
** read, and the errors that name them.
**
** States (SPEC section 3; es_status shows none/active/archived/tombstoned):
**   None               no events and no lifecycle row
**   Active             events in main, no lifecycle row
**   Archived           archived in place: events in main, appends refused, reads work
**   Archiving          the intent of a move to another store is recorded: events still in
**                      main (readable), appends refused until the move ends
**   ArchivedElsewhere  the events are in another store (archive_store), not in main
**   Held               this database is an archive, and the stream a copy another store
**                      (origin_store) moved here: readable, but moved or restored only by
**                      that store (restoring or moving it from here would strand its record)
**   Tombstoned         events erased, the row kept with its reason
*/
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace eskit::ext {

class Conn;

enum class State { None, Active, Archived, Archiving, ArchivedElsewhere, Held, Tombstoned };

// The stream's es_lifecycle row, when it has one.
struct Lifecycle {
    bool exists = false;
    std::string state;  // 'archived', 'archiving', 'tombstoned'
    int64_t version = 0;
    int64_t created_at = 0;
    int64_t updated_at = 0;
    std::string archive_store;  // identity of the store holding the events ("": main)
    std::string archive_alias;  // its ATTACH name when the move began
    std::string move_id;
    int64_t moved_count = 0;
    std::string moved_last_id;
    int64_t moved_seq_lo = 0;
    int64_t moved_seq_hi = 0;
    std::string origin_store;
    std::optional<std::string> tombstone_reason;
    int64_t tombstoned_at = 0;
};

struct StreamState {
    std::string stream;
    int64_t events_version = 0;  // last version of its events in main (0: none there)
    Lifecycle life;
    // The store, in the same snapshot.
    int64_t head = 0;          // es_head()
    int64_t indexed_upto = 0;  // es_meta 'indexed_upto'
    std::string store_id;

    State state() const;
    // The stream's version: its last event's, or the one recorded when its events left.
    int64_t version() const { return events_version > 0 ? events_version : life.version; }
    bool exists() const { return state() != State::None; }
};

// Reads the stream's state in main (the eskit tables must exist).
StreamState read_stream(Conn& c, std::string_view stream);
// Only its lifecycle row: enough for require_readable(), one seek (the read path's check).
StreamState read_lifecycle(Conn& c, std::string_view stream);

// es_head() of main (the eskit tables must exist).
int64_t read_head(Conn& c);

// Refuses to move or restore a Held stream from this database (names its origin store).
void require_own(const StreamState& s, const char* fn);

// The append rules on state: tombstoned, archived (in place, elsewhere, being moved).
void require_appendable(const StreamState& s);
// The read rule of es_stream: tombstoned, and moved elsewhere, are errors.
void require_readable(const StreamState& s);
[[noreturn]] void raise_tombstoned(const StreamState& s);
[[noreturn]] void raise_not_found(std::string_view stream);

const char* status_name(State s);  // es_status's answer

}  // namespace eskit::ext
