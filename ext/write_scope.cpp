#include "write_scope.h"

#include "conn.h"
#include "error.h"
#include "stmt.h"

namespace eskit::ext {

namespace {

const Query kBeginImmediate{"BEGIN IMMEDIATE"};
const Query kBegin{"BEGIN"};
const Query kCommit{"COMMIT"};
const Query kRollback{"ROLLBACK"};
const Query kSavepoint{"SAVEPOINT es_write"};
const Query kRelease{"RELEASE es_write"};

bool only_main_attached(sqlite3* db) { return sqlite3_db_name(db, 2) == nullptr; }

// SQLite's own text ("database is locked") would send the caller to the busy timeout, which
// cannot help here, so it is replaced rather than appended.
Error stale_snapshot(const char* fn) {
    return Error{Code::Conflict,
                 SQLITE_CONSTRAINT,
                 format("conflict: %s: another connection wrote since this connection's open "
                        "statement began reading; finish or reset that statement, re-read and "
                        "retry",
                        fn),
                 {}};
}

Error writes_inside_statement(const char* fn) {
    return Error{Code::InvalidArgument,
                 SQLITE_ERROR,
                 format("invalid_argument: %s: cannot run inside a statement that writes; call "
                        "it in a SELECT of its own",
                        fn),
                 {}};
}

bool is_busy(const Error& e) { return (e.rc & 0xff) == SQLITE_BUSY; }

}  // namespace

WriteScope::WriteScope(Conn& c, const char* fn, const Schema& target) : c_(c) {
    if (c.in_write) {
        raise(Code::InvalidArgument,
              "%s: cannot be called while another eskit write is running "
              "on this connection",
              fn);
    }
    own_ = sqlite3_get_autocommit(c.db) != 0;
    if (own_ && c.writes_need_transaction) {
        raise(Code::InvalidArgument,
              "%s: must run between BEGIN and COMMIT on this host; "
              "outside a transaction its writes would not be replicated",
              fn);
    }
    const int txn = sqlite3_txn_state(c.db, nullptr);  // the highest state of any schema
    // Autocommit, yet a database is being written: the calling statement itself writes
    // (INSERT INTO t SELECT es_append(...), a TEMP trigger). Its transaction is not ours.
    if (own_ && txn == SQLITE_TXN_WRITE) throw writes_inside_statement(fn);
    try {
        open_transaction(fn, target);
    } catch (Error& e) {
        // An unfinished statement of this connection (an open cursor, a subquery of the
        // calling statement) pins an old snapshot that SQLite cannot upgrade once another
        // connection has committed; no waiting helps. The remedy is a conflict's: re-read.
        if (is_busy(e) && own_ && txn == SQLITE_TXN_READ) throw stale_snapshot(fn);
        // SQLite: "cannot open savepoint - SQL statements in progress".
        if (is_busy(e) && !own_ && !open_) throw writes_inside_statement(fn);
        rollback();
        throw;
    } catch (...) {
        rollback();
        throw;
    }
    c.in_write = true;
}

void WriteScope::open_transaction(const char* fn, const Schema& target) {
    (void)fn;
    if (own_ && target.is_main() && only_main_attached(c_.db)) {
        c_.use(kBeginImmediate).step_done();
        open_ = true;
    } else {
        c_.use(own_ ? kBegin : kSavepoint).step_done();
        open_ = true;
        // A write to an archive locks main first, so every eskit write takes the two locks in
        // one order: a move that held the archive and waited for main while another held main
        // and waited for the archive would deadlock in rollback-journal mode (both waiting out
        // the busy timeout).
        if (!target.is_main()) lock(Schema::main_db());
        lock(target);
    }
    ensure_schema(target);
}

// The scope's first statement on the target: takes its write lock without writing a page.
// It fails when the tables are missing (never created, or created by a transaction that was
// rolled back since); then creating them takes the lock.
void WriteScope::lock(const Schema& target) {
    try {
        c_.use(format("DELETE FROM %s.es_meta WHERE 0", target.quoted().c_str())).step_done();
    } catch (const Error& e) {
        if (is_busy(e) || schema_version(c_, target) != 0) throw;
    }
}

void WriteScope::include(const Schema& other) {
    lock(other);
    ensure_schema(other);
}

void WriteScope::ensure_schema(const Schema& target) {
    if (target.is_main() && c_.main_schema_checked) return;
    migrate(c_, target);
    checked_main_ = target.is_main();
}

void WriteScope::commit() {
    if (own_) {
        c_.use(kCommit).step_done();  // on failure the destructor rolls back
    } else {
        c_.use(kRelease).step_done();
    }
    open_ = false;
    c_.in_write = false;
    // Known current only once committed for good: a caller's rollback can remove tables
    // this scope created inside the caller's transaction.
    if (checked_main_ && own_) c_.main_schema_checked = true;
}

WriteScope::~WriteScope() { rollback(); }

void WriteScope::rollback() noexcept {
    c_.in_write = false;
    if (!open_) return;
    open_ = false;
    // Errors are ignored: SQLite may already have rolled back (I/O error, SQLITE_FULL), and
    // the caller's error was captured before we got here.
    try {
        if (own_) {
            if (sqlite3_get_autocommit(c_.db) == 0) c_.use(kRollback).step_done();
        } else {
            sqlite3_exec(c_.db, "ROLLBACK TO es_write; RELEASE es_write", nullptr, nullptr,
                         nullptr);
        }
    } catch (...) {
    }
}

void require_autocommit(bool outside, const char* fn) {
    if (!outside) {
        raise(Code::InvalidArgument,
              "%s: moving a stream between databases must run outside a transaction: it commits "
              "in steps so that a crash cannot lose the stream",
              fn);
    }
}

}  // namespace eskit::ext
