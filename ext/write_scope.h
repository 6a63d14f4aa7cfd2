/*
** The transaction scope of everything that writes (SPEC: "All events of a call are written or
** none"; "never surface SQLITE_BUSY to a caller who set a busy timeout").
**
** Outside a transaction the scope opens its own, taking the write lock of the database it
** writes before anything is read: the busy handler then waits for other writers, and
** SQLITE_BUSY_SNAPSHOT (a read snapshot that cannot be upgraded) cannot happen. That is
** BEGIN IMMEDIATE when main is the only database; with databases attached it is BEGIN plus a
** statement that write-locks the target alone (BEGIN IMMEDIATE would lock every attached
** database, including read-only backups and the same file attached twice). Inside the caller's
** transaction the scope is a SAVEPOINT that joins it, plus the same locking statement. Either
** way everything is undone unless commit() is reached, and a failed call changes nothing.
**
** The target's eskit tables are created or upgraded under that lock (schema.h).
*/
#pragma once

#include "schema.h"

namespace eskit::ext {

class Conn;

class WriteScope {
  public:
    WriteScope(Conn& c, const char* fn, const Schema& target = Schema::main_db());
    ~WriteScope();
    WriteScope(const WriteScope&) = delete;
    WriteScope& operator=(const WriteScope&) = delete;
    void commit();
    // Writes another attached database in the same transaction: takes its write lock and
    // creates or upgrades its eskit tables (undone with everything else unless committed).
    void include(const Schema& other);
    // True when the scope opened the transaction (the caller was in autocommit).
    bool owns_transaction() const { return own_; }

  private:
    void open_transaction(const char* fn, const Schema& target);
    void lock(const Schema& target);
    void ensure_schema(const Schema& target);
    void rollback() noexcept;

    Conn& c_;
    bool own_ = false;
    bool open_ = false;
    bool checked_main_ = false;  // this scope verified main's schema (see commit())
};

// A move between databases commits in steps; it refuses to run inside a transaction.
// outside: sqlite3_get_autocommit() when the call began.
void require_autocommit(bool outside, const char* fn);

}  // namespace eskit::ext
