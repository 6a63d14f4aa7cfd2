/*
** The error contract of SPEC section 2 as used inside ext/: every message starts with a
** stable code and a colon. Errors are thrown as eskit::ext::Error and converted at the
** callback boundary (common.h: guard, vtab_guard).
*/
#pragma once

#include <string>

struct sqlite3;

namespace eskit::ext {

struct Error {
    int rc;               // SQLite result code handed to the caller
    std::string message;  // complete text, code prefix included
};

// sqlite3_mprintf-style formatting (%q, %Q, %w, %lld) into a std::string.
std::string format(const char* fmt, ...);

[[noreturn]] void raise(int rc, const char* fmt, ...);
// db's current error (message and extended code), e.g. after a failed sqlite3_step. A value
// over SQLITE_LIMIT_LENGTH keeps SQLITE_TOOBIG but gets the invalid_argument code prefix.
Error db_error(sqlite3* db);
[[noreturn]] void raise_db(sqlite3* db);

}  // namespace eskit::ext
