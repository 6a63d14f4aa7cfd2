/*
** Errors inside ext/: every failure travels as an eskit::ext::Error exception carrying its
** stable code (codes.h), the SQLite result code, the complete message (code prefix included)
** and, where they apply, the stream and the expected/actual values the facade reports as
** fields. Exceptions never reach SQLite's C frames: every callback body runs inside guard()
** or vtab_guard() (boundary.h).
*/
#pragma once

#include <cstdint>
#include <string>

#include "codes.h"

struct sqlite3;
struct sqlite3_stmt;

namespace eskit::ext {

// What an error is about, for the structured error API (eskit_last_error).
struct Context {
    std::string stream;
    bool has_versions = false;
    int64_t expected = 0;
    int64_t actual = 0;
};

struct Error {
    Code code = Code::Sqlite;
    int rc = 1;           // SQLite result code handed to the caller (extended when from SQLite)
    std::string message;  // complete text, code prefix included
    Context context;
};

// sqlite3_mprintf-style formatting (%q, %Q, %w, %lld) into a std::string.
std::string format(const char* fmt, ...);

// Throws Error{code} with the message "<prefix>: <formatted text>".
[[noreturn]] void raise(Code code, const char* fmt, ...);
[[noreturn]] void raise(Code code, const Context& context, const char* fmt, ...);

// db's current error (SQLite's message and extended code) as Code::Sqlite; SQLITE_TOOBIG
// becomes Code::TooBig with a sentence naming SQLITE_LIMIT_LENGTH. SQLITE_NOMEM throws
// std::bad_alloc instead of returning.
Error db_error(sqlite3* db);
[[noreturn]] void raise_db(sqlite3* db);
// A statement of eskit's refused by SQLITE_LIMIT_SQL_LENGTH (prepared outside an OwnSqlScope,
// boundary.h), as invalid_argument: the limit is not SQLITE_LIMIT_LENGTH's.
Error sql_too_long(sqlite3* db);
// The error of a failed sqlite3_step of s (db_error(), with the SQL length case told apart).
Error step_error(sqlite3_stmt* s);

}  // namespace eskit::ext
