/*
** The error table of SPEC section 2, once, as code. Shared by the extension (which raises
** them) and the C++ facade (which maps each to an exception type). No SQLite header needed:
** the SQLite result codes are spelled out (SQLITE_ERROR 1, SQLITE_TOOBIG 18,
** SQLITE_CONSTRAINT 19), which sqlite3.h fixes for all time.
**
** Every message eskit raises starts with the code's prefix and a colon:
**     conflict: stream 'order-17' is at version 5, expected 3
*/
#pragma once

#ifdef __cplusplus

#include <string_view>

namespace eskit {

enum class Code : int {
    Ok = 0,
    Conflict = 1,         // expected version or checkpoint compare-and-set does not match
    DuplicateEvent = 2,   // an event id exists and the append is not an exact replay
    Archived = 3,         // append to an archived stream; read of one moved to an archive
    Tombstoned = 4,       // any write to, or read of, a tombstoned stream
    NotFound = 5,         // delete/archive/restore of a stream that does not exist
    InvalidArgument = 6,  // wrong type, range, JSON shape, unknown key, empty id
    TooBig = 7,           // invalid_argument for oversized input (SQLITE_TOOBIG)
    Sqlite = 8,           // SQLite's own error (I/O, full disk, busy), passed through as is
};

struct CodeInfo {
    Code code;
    std::string_view prefix;  // empty for Code::Sqlite: SQLite's message is kept verbatim
    int sqlite_rc;            // primary result code given to SQLite
};

inline constexpr CodeInfo kCodeTable[] = {
    {Code::Ok, "", 0},
    {Code::Conflict, "conflict", 19},
    {Code::DuplicateEvent, "duplicate_event", 19},
    {Code::Archived, "archived", 19},
    {Code::Tombstoned, "tombstoned", 19},
    {Code::NotFound, "not_found", 1},
    {Code::InvalidArgument, "invalid_argument", 1},
    {Code::TooBig, "invalid_argument", 18},
    {Code::Sqlite, "", 1},
};

constexpr const CodeInfo& info(Code c) { return kCodeTable[static_cast<int>(c)]; }
constexpr std::string_view prefix_of(Code c) { return info(c).prefix; }
constexpr int sqlite_rc_of(Code c) { return info(c).sqlite_rc; }

static_assert(sizeof(kCodeTable) / sizeof(kCodeTable[0]) == 9);
static_assert(info(Code::Sqlite).code == Code::Sqlite, "kCodeTable is indexed by Code");

}  // namespace eskit

#endif
