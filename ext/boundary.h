/*
** The boundary between SQLite's C callbacks and eskit's C++: every callback body runs inside
** guard() (scalar functions) or vtab_guard() (virtual tables). They
**   - start the call (CallScope): forget statements the host finalized behind our back, clear
**     the last error, and lift a lowered SQLITE_LIMIT_SQL_LENGTH for eskit's own statements;
**   - catch everything: eskit's Error becomes the result error with its code and message (and
**     is kept for eskit_last_error/es_last_error()), std::bad_alloc becomes SQLITE_NOMEM, and
**     nothing else can escape into SQLite's C frames.
*/
#pragma once

#include <initializer_list>
#include <new>
#include <string>

#include "conn.h"
#include "error.h"
#include "sqlite.h"

namespace eskit::ext {

// The SQL length limit a host may lower to bound the SQL it accepts from outside applies to
// eskit's own (fixed, trusted) statements too. Inside this scope the limit is lifted for them:
// they are prepared, and may be re-prepared by SQLite after a schema change, while it lasts.
// The host's limit is back when it ends. A cursor lifts it where it opens or re-runs a
// statement, not on every row: SQLite re-prepares only at a statement's first step.
class OwnSqlScope {
  public:
    explicit OwnSqlScope(sqlite3* db)
        : db_(db), limit_(sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, -1)) {
        if (limit_ < kOwnSqlLength) sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, kOwnSqlLength);
    }
    ~OwnSqlScope() {
        if (limit_ < kOwnSqlLength) sqlite3_limit(db_, SQLITE_LIMIT_SQL_LENGTH, limit_);
    }
    OwnSqlScope(const OwnSqlScope&) = delete;
    OwnSqlScope& operator=(const OwnSqlScope&) = delete;

  private:
    // Comfortably above the longest statement eskit prepares (a read with every column, a move).
    static constexpr int kOwnSqlLength = 1 << 20;
    sqlite3* db_;
    int limit_;
};

// Per-call setup and teardown (see above).
class CallScope {
  public:
    explicit CallScope(Conn& c);
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;

  private:
    OwnSqlScope sql_;
};

// A read of a store eskit has not upgraded yet (version 1 or 2, on a connection that has not
// written) fails on a missing version 3 table; the error then says so and how to upgrade.
Error explain_old_schema(Conn& c, const Error& e);

void result_error(sqlite3_context* ctx, Conn& c, const Error& e);
void set_vtab_error(sqlite3_vtab* vtab, const std::string& message);

inline Conn& conn_of(sqlite3_context* ctx) { return *static_cast<Conn*>(sqlite3_user_data(ctx)); }

// Exception boundary for scalar functions whose user data is the Conn.
template <class F>
void guard(sqlite3_context* ctx, F&& body) noexcept {
    Conn& c = conn_of(ctx);
    try {
        CallScope call(c);
        try {
            body(c);
        } catch (const Error& e) {
            result_error(ctx, c, explain_old_schema(c, e));
        }
    } catch (const std::bad_alloc&) {
        sqlite3_result_error_nomem(ctx);
    } catch (const std::exception& e) {
        result_error(ctx, c,
                     Error{Code::Sqlite, SQLITE_ERROR, std::string("internal: ") + e.what(), {}});
    } catch (...) {
        sqlite3_result_error(ctx, "internal: unknown exception", -1);
    }
}

// Exception boundary for virtual-table callbacks: returns the SQLite result code.
template <class F>
int vtab_guard(sqlite3_vtab* vtab, Conn& c, F&& body) noexcept {
    try {
        try {
            return body();
        } catch (const Error& raised) {
            const Error e = explain_old_schema(c, raised);
            c.record_error(e);
            set_vtab_error(vtab, e.message);
            return e.rc;
        }
    } catch (const std::bad_alloc&) {
        return SQLITE_NOMEM;
    } catch (const std::exception& e) {
        set_vtab_error(vtab, std::string("internal: ") + e.what());
        return SQLITE_ERROR;
    } catch (...) {
        set_vtab_error(vtab, "internal: unknown exception");
        return SQLITE_ERROR;
    }
}

// Registers fn under name for each arity in nargs, each holding a reference on c.
int register_function(sqlite3* db, Conn* c, const char* name, std::initializer_list<int> nargs,
                      int flags, void (*fn)(sqlite3_context*, int, sqlite3_value**));

}  // namespace eskit::ext
