#include "common.h"

#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstring>

#include "migrations.h"

namespace eskit::ext {

namespace {

// Indexed by Q. Every name is qualified with main. so a TEMP table of the same name cannot
// capture an eskit write.
constexpr const char* kQueries[] = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT es_write",
    "RELEASE es_write",
    // Takes the write lock without writing a page (see WriteScope).
    "DELETE FROM main.es_meta WHERE 0",
    "SELECT version, state, archived_to, tombstone_reason FROM main.es_streams "
    "WHERE stream_id = ?1",
    "SELECT max(version) FROM main.es_events INDEXED BY es_events_idempotency "
    "WHERE stream_id = ?1 AND idempotency_key = ?2",
    "SELECT stream_id, version, type, data, codec FROM main.es_events WHERE event_id = ?1",
    "INSERT INTO main.es_events(stream_id, category, version, type, data, metadata, codec, "
    "schema_version, event_id, idempotency_key, created_at, seq) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    "INSERT INTO main.es_streams(stream_id, category, version, state, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, 'active', ?4, ?4)",
    "UPDATE main.es_streams SET version = ?2, updated_at = ?3 WHERE stream_id = ?1",
    kHeadSql,
    kHeadSqlV1,
    "SELECT 1 FROM main.sqlite_schema WHERE type = 'table' AND name = 'es_events'",
    "SELECT seq FROM main.es_checkpoints WHERE consumer = ?1",
    "INSERT INTO main.es_checkpoints(consumer, seq, updated_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT(consumer) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at",
    "INSERT OR REPLACE INTO main.es_snapshots(stream_id, version, schema_version, codec, state, "
    "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
};
static_assert(sizeof(kQueries) / sizeof(kQueries[0]) == static_cast<size_t>(Q::Count));

// The visible columns of es_stream/es_all, in their order.
constexpr const char* kColumns[] = {"seq",     "stream_id", "category",       "version",
                                    "type",    "data",      "metadata",       "codec",
                                    "schema_version", "event_id", "idempotency_key", "created_at"};

// Indexed by Read: everything after the column list. ?1 is the driving key, ?2..?3 the
// inclusive range on the ordering column.
constexpr const char* kReads[] = {
    " FROM main.es_events WHERE stream_id = ?1 AND version BETWEEN ?2 AND ?3 ORDER BY version",
    " FROM main.es_events WHERE stream_id = ?1 AND version BETWEEN ?2 AND ?3 "
    "ORDER BY version DESC",
    " FROM main.es_events WHERE seq BETWEEN ?2 AND ?3 ORDER BY seq",
    " FROM main.es_events WHERE seq BETWEEN ?2 AND ?3 ORDER BY seq DESC",
    " FROM main.es_events INDEXED BY es_events_category "
    "WHERE category = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq",
    " FROM main.es_events INDEXED BY es_events_category "
    "WHERE category = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq DESC",
    " FROM main.es_events INDEXED BY es_events_type "
    "WHERE type = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq",
    " FROM main.es_events INDEXED BY es_events_type "
    "WHERE type = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq DESC",
    // Within one stream version order is seq order, so the (stream_id, version) index
    // yields seq order without a sort.
    " FROM main.es_events WHERE stream_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY version",
    " FROM main.es_events WHERE stream_id = ?1 AND seq BETWEEN ?2 AND ?3 "
    "ORDER BY version DESC",
};
static_assert(sizeof(kReads) / sizeof(kReads[0]) == static_cast<size_t>(Read::Count));

}  // namespace

std::string format(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char* s = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    if (!s) throw std::bad_alloc();
    std::string out(s);
    sqlite3_free(s);
    return out;
}

void raise(int rc, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char* s = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    if (!s) throw std::bad_alloc();
    Error e{rc, std::string(s)};
    sqlite3_free(s);
    throw e;
}

Error db_error(sqlite3* db) {
    const int rc = sqlite3_extended_errcode(db);
    if ((rc & 0xff) == SQLITE_TOOBIG) {
        return Error{rc, format("invalid_argument: a value is larger than SQLITE_LIMIT_LENGTH "
                                "allows (%s)", sqlite3_errmsg(db))};
    }
    return Error{rc == SQLITE_OK ? SQLITE_ERROR : rc, sqlite3_errmsg(db)};
}

void raise_db(sqlite3* db) {
    if ((sqlite3_extended_errcode(db) & 0xff) == SQLITE_NOMEM) throw std::bad_alloc();
    throw db_error(db);
}

std::string describe(sqlite3_value* v) {
    // The type is read before any conversion: sqlite3_value_text() would turn a blob into text.
    switch (sqlite3_value_type(v)) {
        case SQLITE_INTEGER:
            return format("integer %lld", static_cast<long long>(sqlite3_value_int64(v)));
        case SQLITE_FLOAT:
            return format("real %!.15g", sqlite3_value_double(v));
        case SQLITE_TEXT: {
            const auto* t = reinterpret_cast<const char*>(sqlite3_value_text(v));
            const int n = sqlite3_value_bytes(v);
            if (n > 40) return format("text %Q...", std::string(t, 40).c_str());
            return format("text %Q", t);
        }
        case SQLITE_BLOB:
            return format("a %d-byte blob", sqlite3_value_bytes(v));
        default:
            return "NULL";
    }
}

Conn::~Conn() {
    finalize_all();
    if (inotify_fd >= 0) close(inotify_fd);
    sqlite3_finalize(side_head);
    if (side_db) sqlite3_close_v2(side_db);
}

sqlite3_stmt* Conn::prepare(const char* sql) {
    ensure_sentinel();
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
        raise_db(db);
    }
    return s;
}

void Conn::ensure_sentinel() {
    if (vtabs > 0) return;
    // Preparing a reference connects the eponymous es_all table (xConnect bumps vtabs).
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM main.es_all", -1, &s, nullptr) == SQLITE_OK) {
        sqlite3_finalize(s);
    }
}

sqlite3_stmt* Conn::stmt(Q q) {
    sqlite3_stmt*& s = stmts[static_cast<int>(q)];
    if (!s) {
        s = prepare(kQueries[static_cast<int>(q)]);
    } else {
        // A call that threw between binding and clearing may have left pointers to its own
        // (since freed) arguments bound; nothing is ever stepped with them.
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    return s;
}

sqlite3_stmt* Conn::acquire(Read r, uint32_t columns) {
    auto& free = pool[static_cast<uint32_t>(r) << 16 | columns];
    if (!free.empty()) {
        sqlite3_stmt* s = free.back();
        free.pop_back();
        return s;
    }
    // Unread columns are selected as NULL: the record is not decoded for them and their
    // values (data above all) are never copied.
    std::string sql = "SELECT ";
    for (size_t i = 0; i < sizeof(kColumns) / sizeof(kColumns[0]); ++i) {
        if (i) sql += ", ";
        sql += (columns >> i) & 1 ? kColumns[i] : "NULL";
    }
    sql += kReads[static_cast<int>(r)];
    return prepare(sql.c_str());
}

void Conn::release(Read r, uint32_t columns, sqlite3_stmt* s) {
    if (!s) return;
    sqlite3_reset(s);
    if (vtabs == 0) {  // connection is closing: do not keep it busy
        sqlite3_finalize(s);
        return;
    }
    sqlite3_clear_bindings(s);
    pool[static_cast<uint32_t>(r) << 16 | columns].push_back(s);
}

void Conn::finalize_all() {
    for (auto& s : stmts) {
        sqlite3_finalize(s);
        s = nullptr;
    }
    for (auto& [shape, free] : pool) {
        for (sqlite3_stmt* s : free) sqlite3_finalize(s);
    }
    pool.clear();
}

void Conn::exec(Q q) {
    sqlite3_stmt* s = stmt(q);
    const int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        Error e = db_error(db);
        sqlite3_reset(s);
        if ((e.rc & 0xff) == SQLITE_NOMEM) throw std::bad_alloc();
        throw e;
    }
    sqlite3_reset(s);
}

bool Conn::has_schema() {
    sqlite3_stmt* s = stmt(Q::HasSchema);
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) raise_db(db);
    return rc == SQLITE_ROW;
}

int64_t read_head(Conn& c) {
    sqlite3_stmt* s = nullptr;
    if (c.head_v1) {
        try {
            s = c.stmt(Q::HeadV1);
        } catch (const Error&) {
            c.head_v1 = false;  // no sqlite_sequence: a version 2 store
        }
    }
    if (!s) s = c.stmt(Q::Head);
    const int rc = sqlite3_step(s);
    const int64_t head = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) raise_db(c.db);
    return head;
}

void keep_head(Conn& c) {
    const int64_t head = read_head(c);
    run(c, "INSERT OR REPLACE INTO main.es_meta(key, value) VALUES ('seq_floor', ?1)", {head});
}

StreamRow read_stream(Conn& c, std::string_view stream) {
    StreamRow row;
    sqlite3_stmt* s = c.stmt(Q::StreamGet);
    sqlite3_bind_text(s, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        row.exists = true;
        row.version = sqlite3_column_int64(s, 0);
        row.state = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
        if (auto* a = sqlite3_column_text(s, 2)) row.archived_to = reinterpret_cast<const char*>(a);
        if (auto* r = sqlite3_column_text(s, 3)) {
            row.reason = reinterpret_cast<const char*>(r);
            row.has_reason = true;
        }
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) raise_db(c.db);
    return row;
}

namespace {

sqlite3_stmt* prepare_bound(Conn& c, const std::string& sql, std::initializer_list<Arg> args) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(c.db, sql.c_str(), static_cast<int>(sql.size()), &s, nullptr) !=
        SQLITE_OK) {
        raise_db(c.db);
    }
    int i = 0;
    for (const Arg& a : args) {
        ++i;
        if (a.is_text) {
            sqlite3_bind_text(s, i, a.text.data(), static_cast<int>(a.text.size()),
                              SQLITE_STATIC);
        } else {
            sqlite3_bind_int64(s, i, a.integer);
        }
    }
    return s;
}

}  // namespace

int64_t run(Conn& c, const std::string& sql, std::initializer_list<Arg> args) {
    sqlite3_stmt* s = prepare_bound(c, sql, args);
    const int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        Error e = db_error(c.db);
        sqlite3_finalize(s);
        if ((e.rc & 0xff) == SQLITE_NOMEM) throw std::bad_alloc();
        throw e;
    }
    sqlite3_finalize(s);
    return sqlite3_changes64(c.db);
}

int64_t query_int(Conn& c, const std::string& sql, std::initializer_list<Arg> args) {
    sqlite3_stmt* s = prepare_bound(c, sql, args);
    const int rc = sqlite3_step(s);
    const int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        Error e = db_error(c.db);
        sqlite3_finalize(s);
        throw e;
    }
    sqlite3_finalize(s);
    return v;
}

std::string quote_ident(std::string_view name) {
    const std::string n(name);
    return format("\"%w\"", n.c_str());
}

int register_function(sqlite3* db, Conn* c, const char* name, std::initializer_list<int> nargs,
                      int flags, void (*fn)(sqlite3_context*, int, sqlite3_value**)) {
    for (int n : nargs) {
        ++c->refs;  // released by SQLite through conn_release, also when registration fails
        const int rc = sqlite3_create_function_v2(db, name, n, flags, c, fn, nullptr, nullptr,
                                                  conn_release);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

void raise_tombstoned(std::string_view stream, const StreamRow& row) {
    const std::string s(stream);
    raise(SQLITE_CONSTRAINT, "tombstoned: stream %Q is tombstoned (reason: %Q)", s.c_str(),
          row.has_reason ? row.reason.c_str() : nullptr);  // %Q prints NULL for nullptr
}

void conn_release(void* p) {
    auto* c = static_cast<Conn*>(p);
    if (--c->refs == 0) delete c;
}

int64_t now_micros() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::string_view category_of(std::string_view stream_id) {
    const size_t dash = stream_id.find('-');
    return dash == std::string_view::npos ? stream_id : stream_id.substr(0, dash);
}

std::string_view arg_id(sqlite3_value* v, const char* fn, const char* what) {
    const int t = sqlite3_value_type(v);
    if (t != SQLITE_TEXT) {
        raise(SQLITE_ERROR, "invalid_argument: %s: %s must be text, got %s", fn, what,
              describe(v).c_str());
    }
    const char* s = reinterpret_cast<const char*>(sqlite3_value_text(v));
    const int n = sqlite3_value_bytes(v);
    if (!s) throw std::bad_alloc();
    if (n == 0) raise(SQLITE_ERROR, "invalid_argument: %s: %s must not be empty", fn, what);
    if (n > kMaxIdBytes) {
        raise(SQLITE_TOOBIG, "invalid_argument: %s: %s is %d bytes, maximum %d", fn, what, n,
              kMaxIdBytes);
    }
    if (std::memchr(s, 0, static_cast<size_t>(n)) != nullptr) {
        raise(SQLITE_ERROR, "invalid_argument: %s: %s must not contain NUL bytes", fn, what);
    }
    return {s, static_cast<size_t>(n)};
}

namespace {

// SQLite's own text ("database is locked") would send the caller to the busy timeout, which
// cannot help here, so it is replaced rather than appended.
std::string stale_snapshot_message(const char* fn) {
    return format("conflict: %s: another connection wrote since this connection's open "
                  "statement began reading; finish or reset that statement, re-read and retry",
                  fn);
}

}  // namespace

WriteScope::WriteScope(Conn& c, const char* fn) : c_(c) {
    if (c.writing) {
        raise(SQLITE_ERROR, "invalid_argument: %s: cannot be called while another eskit write "
              "is running on this connection", fn);
    }
    own_ = sqlite3_get_autocommit(c.db) != 0;
    const int txn = sqlite3_txn_state(c.db, nullptr);  // the highest state of any schema
    if (own_ && txn == SQLITE_TXN_WRITE) {
        // Autocommit, yet a database is being written: the calling statement itself writes
        // (INSERT INTO t SELECT es_append(...), a TEMP trigger). Its transaction is not ours
        // to commit.
        raise(SQLITE_ERROR, "invalid_argument: %s: cannot run inside a statement that writes; "
              "call it in a SELECT of its own", fn);
    }
    try {
        c.exec(own_ ? Q::Begin : Q::Savepoint);
    } catch (Error& e) {
        if ((e.rc & 0xff) != SQLITE_BUSY) throw;
        if (own_ && txn == SQLITE_TXN_READ) {
            // An unfinished statement of this connection (an open cursor, or a subquery of the
            // calling statement) pins an old snapshot; SQLite cannot upgrade it once another
            // connection has committed or holds the lock, and no waiting helps. The caller's
            // remedy is the one for a conflict: re-read in a fresh statement and retry.
            e.message = stale_snapshot_message(fn);
            e.rc = SQLITE_CONSTRAINT;
        } else if (!own_) {
            // SQLite: "cannot open savepoint - SQL statements in progress".
            e.message = format("invalid_argument: %s: cannot run inside a statement that "
                               "writes; call it in a SELECT of its own", fn);
            e.rc = SQLITE_ERROR;
        }
        throw;
    }
    open_ = true;
    c.writing = true;
    try {
        // The scope's first statement that touches a table takes the write lock (inside a
        // caller's transaction, SAVEPOINT alone does not), so nothing is read from a snapshot
        // that would have to be upgraded later. It writes no page. It fails only when the
        // tables are missing: never created, or created by a transaction that was rolled back
        // since schema_ok was set; then the migration creates them first.
        try {
            c.exec(Q::Lock);
        } catch (const Error&) {
            if (c.has_schema()) throw;
            migrate(c, "main");
            c.exec(Q::Lock);
        }
        if (!c.schema_ok) migrate(c, "main");  // forward migrations, under the lock
    } catch (Error& e) {
        if (own_ && txn == SQLITE_TXN_READ && (e.rc & 0xff) == SQLITE_BUSY) {
            e.message = stale_snapshot_message(fn);
            e.rc = SQLITE_CONSTRAINT;
        }
        rollback();  // the constructor did not finish, so the destructor will not run
        throw;
    } catch (...) {
        rollback();
        throw;
    }
}

void WriteScope::commit() {
    if (own_) {
        sqlite3_stmt* s = c_.stmt(Q::Commit);
        if (sqlite3_step(s) != SQLITE_DONE) {
            Error e = db_error(c_.db);
            sqlite3_reset(s);
            throw e;  // the destructor rolls back
        }
        sqlite3_reset(s);
    } else {
        c_.exec(Q::Release);
    }
    open_ = false;
    c_.writing = false;
    // The version check is done; should a rollback remove the tables again, the next lock
    // statement fails and the constructor recreates them.
    c_.schema_ok = true;
}

WriteScope::~WriteScope() { rollback(); }

void WriteScope::rollback() noexcept {
    if (open_) {
        open_ = false;
        // Errors are ignored: SQLite may already have rolled back (I/O error, SQLITE_FULL),
        // and the caller's error message was captured before we got here.
        if (own_) {
            if (sqlite3_stmt* s = c_.stmts[static_cast<int>(Q::Rollback)]) {
                sqlite3_step(s);
                sqlite3_reset(s);
            } else {
                sqlite3_exec(c_.db, "ROLLBACK", nullptr, nullptr, nullptr);
            }
        } else {
            sqlite3_exec(c_.db, "ROLLBACK TO es_write; RELEASE es_write", nullptr, nullptr,
                         nullptr);
        }
    }
    c_.writing = false;
}

int migrate(Conn& c, const char* schema) {
    constexpr int latest = static_cast<int>(sizeof(es_migrations) / sizeof(es_migrations[0]));
    const std::string qs = quote_ident(schema);
    int current = 0;
    {
        const std::string probe =
            format("SELECT 1 FROM %s.sqlite_schema WHERE type = 'table' AND name = 'es_meta'",
                   qs.c_str());
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(c.db, probe.c_str(), -1, &s, nullptr) != SQLITE_OK) raise_db(c.db);
        const int rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc == SQLITE_ROW) {
            const std::string q = format(
                "SELECT value FROM %s.es_meta WHERE key = 'schema_version'", qs.c_str());
            if (sqlite3_prepare_v2(c.db, q.c_str(), -1, &s, nullptr) != SQLITE_OK) {
                raise_db(c.db);
            }
            if (sqlite3_step(s) == SQLITE_ROW) current = sqlite3_column_int(s, 0);
            sqlite3_finalize(s);
        } else if (rc != SQLITE_DONE) {
            raise_db(c.db);
        }
    }
    if (current > latest) {
        raise(SQLITE_ERROR,
              "invalid_argument: es_init(): schema %Q is at eskit schema version %d, newer than "
              "this build supports (%d)",
              schema, current, latest);
    }
    auto apply = [&](const char* text, const char* name, int version) {
        std::string sql(text);
        for (size_t at = sql.find("@schema@"); at != std::string::npos;
             at = sql.find("@schema@", at + qs.size())) {
            sql.replace(at, 8, qs);
        }
        char* err = nullptr;
        if (sqlite3_exec(c.db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            Error e{sqlite3_extended_errcode(c.db),
                    format("%s (migration %s)", err ? err : "error", name)};
            sqlite3_free(err);
            throw e;
        }
        const std::string record = format(
            "INSERT OR REPLACE INTO %s.es_meta(key, value) VALUES ('schema_version', %d)",
            qs.c_str(), version);
        if (sqlite3_exec(c.db, record.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
            raise_db(c.db);
        }
    };
    if (current == 0) {
        // A new store gets the latest layout directly; the numbered files are upgrades.
        apply(es_current_sql, "current.sql", latest);
        return latest;
    }
    for (const Migration& m : es_migrations) {
        if (m.version > current) apply(m.sql, m.name, m.version);
    }
    return latest;
}

void set_vtab_error(sqlite3_vtab* vtab, const std::string& message) {
    sqlite3_free(vtab->zErrMsg);
    vtab->zErrMsg = sqlite3_mprintf("%s", message.c_str());
}

}  // namespace eskit::ext
