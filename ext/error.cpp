#include "error.h"

#include <cstdarg>
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

[[noreturn]] void throw_formatted(Code code, const Context& context, const char* fmt,
                                  va_list ap) {
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
    if ((rc & 0xff) == SQLITE_TOOBIG) {
        e.code = Code::TooBig;
        e.rc = rc;
        e.message = format("invalid_argument: a value is larger than SQLITE_LIMIT_LENGTH "
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

}  // namespace eskit::ext
