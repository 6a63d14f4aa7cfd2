#include "error.h"

#include <cstdarg>
#include <cstring>
#include <new>

#include "sqlite.h"

namespace eskit::ext {

namespace {

std::string vformat(const char* fmt, va_list ap) {
    char* s = sqlite3_vmprintf(fmt, ap);
    if (!s) throw std::bad_alloc();
    std::string out(s);
    sqlite3_free(s);
    return out;
}

[[noreturn]] void throw_formatted(Code code, const Context& context, const char* fmt, va_list ap) {
    Error e;
    e.code = code;
    e.rc = sqlite_rc_of(code);
    e.message.assign(prefix_of(code));
    e.message += ": ";
    e.message += vformat(fmt, ap);
    e.context = context;
    throw e;
}

}  // namespace

std::string format(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::string out = vformat(fmt, ap);
    va_end(ap);
    return out;
}

void raise(Code code, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    throw_formatted(code, Context{}, fmt, ap);
}

void raise(Code code, const Context& context, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    throw_formatted(code, context, fmt, ap);
}

Error db_error(sqlite3* db) {
    const int rc = sqlite3_extended_errcode(db);
    if ((rc & 0xff) == SQLITE_NOMEM) throw std::bad_alloc();
    Error e;
    // SQLite's text when a statement (one it re-prepares after a schema change) is too long.
    if ((rc & 0xff) == SQLITE_TOOBIG &&
        std::strcmp(sqlite3_errmsg(db), "statement too long") == 0) {
        return sql_too_long(db);
    }
    if ((rc & 0xff) == SQLITE_TOOBIG) {
        e.code = Code::TooBig;
        e.rc = rc;
        e.message = format(
            "invalid_argument: a value is larger than SQLITE_LIMIT_LENGTH "
            "allows (%d bytes): %s",
            sqlite3_limit(db, SQLITE_LIMIT_LENGTH, -1), sqlite3_errmsg(db));
        return e;
    }
    e.code = Code::Sqlite;
    e.rc = rc == SQLITE_OK ? SQLITE_ERROR : rc;
    e.message = sqlite3_errmsg(db);
    return e;
}

void raise_db(sqlite3* db) { throw db_error(db); }

// A re-prepare refused by SQLITE_LIMIT_SQL_LENGTH may come back from a step with SQLite's
// generic SQLITE_TOOBIG text ("string or blob too big"), which db_error() would put on a
// value: a statement longer than the limit is that case.
Error step_error(sqlite3_stmt* s) {
    sqlite3* db = sqlite3_db_handle(s);
    if ((sqlite3_extended_errcode(db) & 0xff) == SQLITE_TOOBIG) {
        const char* sql = sqlite3_sql(s);
        const int limit = sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, -1);
        if (sql && std::strlen(sql) > static_cast<size_t>(limit)) return sql_too_long(db);
    }
    return db_error(db);
}

Error sql_too_long(sqlite3* db) {
    // Not Code::TooBig, which is about values (SQLITE_LIMIT_LENGTH) and returns SQLITE_TOOBIG.
    return Error{Code::InvalidArgument,
                 SQLITE_ERROR,
                 format("invalid_argument: an eskit statement is longer than "
                        "SQLITE_LIMIT_SQL_LENGTH allows (%d bytes) outside eskit's own calls",
                        sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, -1)),
                 {}};
}

}  // namespace eskit::ext
