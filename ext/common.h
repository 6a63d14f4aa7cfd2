/*
** Shared internals of the eskit extension: the error contract (SPEC section 2), the
** per-connection state, and the exception boundary every SQLite callback goes through.
**
** Inside ext/ errors travel as eskit::ext::Error exceptions; they never reach SQLite's C
** frames because every callback body runs inside guard()/vtab_guard(), which turn them into
** sqlite3_result_error()/zErrMsg with the right result code.
*/
#pragma once

#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include <cstdint>
#include <initializer_list>
#include <new>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "error.h"
#include "ids.h"
#include "json.h"

namespace eskit::ext {

// Longest stream id, event id, type, codec or idempotency key accepted (bytes).
inline constexpr int kMaxIdBytes = 1024;

// es_head(): the highest seq ever assigned. Deleting the newest events lowers max(seq), so
// every eskit call that deletes events from main first records the head as es_meta's
// seq_floor (see keep_head()).
inline constexpr const char* kHeadSql =
    "SELECT max(ifnull((SELECT max(seq) FROM main.es_events), 0), "
    "ifnull((SELECT value FROM main.es_meta WHERE key = 'seq_floor'), 0))";
// The same for a version 1 store that no eskit write has upgraded yet: its high-water mark is
// in sqlite_sequence (AUTOINCREMENT). Prepared first; fails where sqlite_sequence is absent.
inline constexpr const char* kHeadSqlV1 =
    "SELECT max(ifnull((SELECT max(seq) FROM main.es_events), 0), "
    "ifnull((SELECT value FROM main.es_meta WHERE key = 'seq_floor'), 0), "
    "ifnull((SELECT seq FROM main.sqlite_sequence WHERE name = 'es_events'), 0))";

// Name of the function the append-only triggers call (sql/schema/current.sql). Without
// eskit loaded it does not exist, and SQLite's "no such function: <name>" is the message.
inline constexpr const char* kWriterFunction =
    "es_events and es_streams are written only by eskit: load the eskit extension";

// Statements every connection keeps prepared (see kQueries in common.cpp).
enum class Q : int {
    Begin,
    Commit,
    Rollback,
    Savepoint,
    Release,
    Lock,
    StreamGet,
    IdempotencyGet,
    EventById,
    EventInsert,
    StreamInsert,
    StreamUpdate,
    Head,
    HeadV1,
    HasSchema,
    CheckpointGet,
    CheckpointSet,
    SnapshotUpsert,
    Count
};

// Statement shapes the table-valued functions borrow from a per-connection pool, so that
// two cursors can be open at once and neither re-prepares on every xFilter.
enum class Read : int {
    StreamAsc,
    StreamDesc,
    AllAsc,
    AllDesc,
    CategoryAsc,
    CategoryDesc,
    TypeAsc,
    TypeDesc,
    ByStreamAsc,
    ByStreamDesc,
    Count
};

// Per-connection state shared by every function and module of one registration.
struct Conn {
    explicit Conn(sqlite3* d) : db(d) { json.set_db(d); }
    ~Conn();
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    sqlite3* db;
    int refs = 0;  // registrations still holding this object (see release())
    sqlite3_stmt* stmts[static_cast<int>(Q::Count)] = {};
    // Free read statements by shape: Read kind << 16 | mask of the selected columns.
    std::unordered_map<uint32_t, std::vector<sqlite3_stmt*>> pool;

    // Connected es_stream/es_all tables. sqlite3_close() disconnects virtual tables before
    // it checks for unfinalized statements, so the last xDisconnect finalizes our cache;
    // otherwise a legacy sqlite3_close() (the sqlite3 shell's) would fail with SQLITE_BUSY.
    // Every prepare first makes sure the eponymous es_all is connected.
    int vtabs = 0;
    bool schema_ok = false;  // es_meta already checked on this connection
    // Inside an eskit write: the re-entrancy guard, and what the append-only triggers of every
    // eskit schema on this connection ask kWriterFunction.
    bool writing = false;
    bool head_v1 = true;  // kHeadSqlV1 not known to fail on this connection

    JsonScratch json;
    UuidGen uuid;
    int inotify_fd = -1;  // es_wait's descriptor, kept for the connection's lifetime
    // es_wait's own read-only connection to the main database file: its reads see the newest
    // commit even while this connection's statement or transaction pins an older snapshot.
    sqlite3* side_db = nullptr;
    sqlite3_stmt* side_head = nullptr;
    std::string scratch;          // reused per-event buffer (merged metadata)
    std::vector<EventIn> events;  // reused batch of the current es_append

    // Prepared statement for q, reset and with bindings cleared. Throws on failure.
    sqlite3_stmt* stmt(Q q);
    // A read statement selecting the visible columns in `columns` (bit i: column i of
    // es_stream/es_all) and NULL in the others, so column positions never change.
    sqlite3_stmt* acquire(Read r, uint32_t columns);
    void release(Read r, uint32_t columns, sqlite3_stmt* s);
    void finalize_all();

    // Runs one cached statement that returns no rows, throwing the connection's error.
    void exec(Q q);
    // True when main holds the eskit tables (any version).
    bool has_schema();

  private:
    sqlite3_stmt* prepare(const char* sql);
    void ensure_sentinel();
};

// A stream's row in main.es_streams (exists == false: state "none").
struct StreamRow {
    bool exists = false;
    int64_t version = 0;
    std::string state;
    std::string archived_to;  // attached database holding the events, if moved there
    std::string reason;       // tombstone reason
    bool has_reason = false;  // false: NULL reason
};
StreamRow read_stream(Conn& c, std::string_view stream);
// es_head() of main (the schema must exist).
int64_t read_head(Conn& c);
// Records the head as es_meta's seq_floor; called before deleting events from main, so that
// the seq values of the deleted newest events are never assigned again.
void keep_head(Conn& c);
[[noreturn]] void raise_tombstoned(std::string_view stream, const StreamRow& row);

// A bound value for run(): text (stream ids, names) or an integer.
struct Arg {
    Arg(std::string_view s) : is_text(true), text(s) {}
    Arg(const std::string& s) : is_text(true), text(s) {}
    Arg(const char* s) : is_text(true), text(s) {}
    Arg(int64_t v) : is_text(false), integer(v) {}
    bool is_text;
    std::string_view text;
    int64_t integer = 0;
};

// Prepares and runs one statement of dynamic SQL (schema names are formatted in with %w) with
// ?1, ?2, ... bound to args; returns sqlite3_changes(). For rare calls such as archive moves.
int64_t run(Conn& c, const std::string& sql, std::initializer_list<Arg> args = {});
// First column of the first row of a dynamic query as an integer (0 when there is no row).
int64_t query_int(Conn& c, const std::string& sql, std::initializer_list<Arg> args = {});

// "X" -> "\"X\"" quoted as an SQL identifier.
std::string quote_ident(std::string_view name);

// Registration bookkeeping: every sqlite3_create_function_v2/module_v2 call holds a ref.
void conn_release(void* p);

// Microseconds since the Unix epoch, UTC.
int64_t now_micros();

// The category of a stream id: the part before the first '-', or the whole id.
std::string_view category_of(std::string_view stream_id);

// "integer 5", "real 1.5", "text 'abc'", "a 3-byte blob", "NULL": the value an error names.
std::string describe(sqlite3_value* v);

// Validated text argument (stream id, consumer): TEXT, non-empty, <= kMaxIdBytes, no NUL.
std::string_view arg_id(sqlite3_value* v, const char* fn, const char* what);

// Savepoint scope for everything that writes. Outside a transaction it opens its own
// BEGIN IMMEDIATE, so the write lock is taken before anything is read: the busy handler
// waits for other writers and SQLITE_BUSY_SNAPSHOT cannot happen. Inside the caller's
// transaction it is a SAVEPOINT that joins it. Either way it inserts the guard token that
// lets the append-only triggers through, and undoes everything unless commit() is reached.
class WriteScope {
  public:
    WriteScope(Conn& c, const char* fn);
    ~WriteScope();
    WriteScope(const WriteScope&) = delete;
    WriteScope& operator=(const WriteScope&) = delete;
    void commit();

  private:
    void rollback() noexcept;
    Conn& c_;
    bool own_;  // we began the transaction (autocommit caller)
    bool open_ = false;
};

// Creates or migrates the eskit tables in schema (quoted as an identifier); returns the
// schema version. Must run inside a write transaction.
int migrate(Conn& c, const char* schema);

// Exception boundary for scalar functions.
template <class F>
void guard(sqlite3_context* ctx, F&& body) noexcept {
    try {
        body();
    } catch (const Error& e) {
        sqlite3_result_error(ctx, e.message.c_str(), static_cast<int>(e.message.size()));
        sqlite3_result_error_code(ctx, e.rc);
    } catch (const std::bad_alloc&) {
        sqlite3_result_error_nomem(ctx);
    } catch (const std::exception& e) {
        std::string m = std::string("internal: ") + e.what();
        sqlite3_result_error(ctx, m.c_str(), static_cast<int>(m.size()));
    } catch (...) {
        sqlite3_result_error(ctx, "internal: unknown exception", -1);
    }
}

// Replaces vtab->zErrMsg (freeing the old one) with a copy of message.
void set_vtab_error(sqlite3_vtab* vtab, const std::string& message);

// Exception boundary for virtual-table callbacks: returns the SQLite result code.
template <class F>
int vtab_guard(sqlite3_vtab* vtab, F&& body) noexcept {
    try {
        return body();
    } catch (const Error& e) {
        set_vtab_error(vtab, e.message);
        return e.rc;
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

// Per-module registration, each in its own file.
int register_append(sqlite3* db, Conn* c);
int register_stream_vtab(sqlite3* db, Conn* c);
int register_all_vtab(sqlite3* db, Conn* c);
int register_lifecycle(sqlite3* db, Conn* c);
int register_checkpoint(sqlite3* db, Conn* c);
int register_snapshot(sqlite3* db, Conn* c);
int register_wait(sqlite3* db, Conn* c);

// Registers fn under name for each arity in nargs, each holding a reference on c.
int register_function(sqlite3* db, Conn* c, const char* name, std::initializer_list<int> nargs,
                      int flags, void (*fn)(sqlite3_context*, int, sqlite3_value**));

}  // namespace eskit::ext
