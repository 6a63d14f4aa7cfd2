#include "schema.h"

#include <cstring>
#include <random>
#include <vector>

#include "args.h"
#include "conn.h"
#include "error.h"
#include "guard.h"
#include "migrations.h"
#include "postings.h"

namespace eskit::ext {

namespace {

const Query kQueryOnly{"PRAGMA query_only"};

constexpr int kLatest = static_cast<int>(sizeof(es_migrations) / sizeof(es_migrations[0]));
static_assert(kLatest == kSchemaVersion, "sql/schema has one file per schema version");

// Bookkeeping tables: eskit's own, guarded like es_events (guard.h). One trigger per write.
constexpr const char* kBookkeepingTables[] = {"es_meta",      "es_lifecycle",    "es_postings",
                                              "es_event_ids", "es_reserved_ids", "es_cleanups"};

std::string substitute(const char* text, const Schema& s, const std::string& store) {
    std::string sql(text);
    auto replace_all = [&sql](std::string_view what, const std::string& with) {
        for (size_t at = sql.find(what); at != std::string::npos;
             at = sql.find(what, at + with.size())) {
            sql.replace(at, what.size(), with);
        }
    };
    replace_all("@schema@", s.quoted());
    replace_all("@store@", store);  // a UUID: nothing to escape inside '...'
    return sql;
}

void exec_script(Conn& c, const std::string& sql, const char* what) {
    char* err = nullptr;
    if (sqlite3_exec(c.db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        Error e = db_error(c.db);
        e.message = format("%s (%s)", err ? err : e.message.c_str(), what);
        sqlite3_free(err);
        throw e;
    }
}

void create_bookkeeping_guards(Conn& c, const Schema& s, const std::string& store) {
    std::string sql;
    for (const char* table : kBookkeepingTables) {
        for (const char* op : {"insert", "update", "delete"}) {
            sql += format(
                "CREATE TRIGGER %s.\"%w_guard_%s\" BEFORE %s ON \"%w\" WHEN NOT \"%w\"(%Q) "
                "BEGIN SELECT RAISE(ABORT, '%q is maintained by eskit'); END;\n",
                s.quoted().c_str(), table, op, op, table, kGuardFunction, store.c_str(), table);
        }
    }
    exec_script(c, sql, "bookkeeping guards");
}

void set_meta(Conn& c, const Schema& s, const char* key, const std::string& value) {
    c.prepare(format("INSERT OR REPLACE INTO %s.es_meta(key, value) VALUES (?1, ?2)",
                     s.quoted().c_str()))
        .bind(1, key)
        .bind(2, value)
        .step_done();
}

void set_meta(Conn& c, const Schema& s, const char* key, int64_t value) {
    c.prepare(format("INSERT OR REPLACE INTO %s.es_meta(key, value) VALUES (?1, ?2)",
                     s.quoted().c_str()))
        .bind(1, key)
        .bind(2, value)
        .step_done();
}

// A version 1 store's es_events kept AUTOINCREMENT through version 2, which makes SQLite write
// sqlite_sequence on every append although eskit assigns seq itself. The keyword does not
// change the file format, so the table's text is edited (SQLite's documented procedure for
// such changes: writable_schema, then a new schema cookie). A connection in defensive mode
// cannot do that; the keyword then stays, costing its page per append as before.
// Restores SQLITE_DBCONFIG_WRITABLE_SCHEMA as it was, also when the edit fails.
class WritableSchema {
  public:
    explicit WritableSchema(sqlite3* db) : db_(db) {
        sqlite3_db_config(db_, SQLITE_DBCONFIG_WRITABLE_SCHEMA, -1, &was_);
        sqlite3_db_config(db_, SQLITE_DBCONFIG_WRITABLE_SCHEMA, 1, nullptr);
    }
    ~WritableSchema() { sqlite3_db_config(db_, SQLITE_DBCONFIG_WRITABLE_SCHEMA, was_, nullptr); }
    WritableSchema(const WritableSchema&) = delete;
    WritableSchema& operator=(const WritableSchema&) = delete;

  private:
    sqlite3* db_;
    int was_ = 0;
};

void remove_autoincrement(Conn& c, const Schema& s) {
    int defensive = 0;
    sqlite3_db_config(c.db, SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive);
    if (defensive) return;  // the schema cannot be edited: the keyword stays
    const std::string& q = s.quoted();
    std::string sql;
    {
        Stmt t =
            c.prepare(format("SELECT sql FROM %s.sqlite_schema WHERE type = 'table' AND "
                             "name = 'es_events'",
                             q.c_str()));
        if (!t.step_row()) return;
        sql = t.str(0);
    }
    const size_t at = sql.find("AUTOINCREMENT");
    if (at == std::string::npos) return;
    sql.erase(at, std::strlen("AUTOINCREMENT"));
    int cookie = 0;
    {
        Stmt v = c.prepare(format("PRAGMA %s.schema_version", q.c_str()));
        if (v.step_row()) cookie = static_cast<int>(v.int64(0));
    }
    {
        // Any failure here (an interrupt, I/O, a full disk) fails the upgrade: it runs in the
        // caller's transaction, which SQLite may already have rolled back.
        WritableSchema writable(c.db);
        c.prepare(format("UPDATE %s.sqlite_schema SET sql = ?1 WHERE type = 'table' AND "
                         "name = 'es_events'",
                         q.c_str()))
            .bind(1, sql)
            .step_done();
        exec_script(c, format("PRAGMA %s.schema_version = %d", q.c_str(), cookie + 1),
                    "schema cookie");
    }
    c.prepare(format("DELETE FROM %s.sqlite_sequence WHERE name = 'es_events'", q.c_str()))
        .step_done();
}

void apply_upgrade(Conn& c, const Schema& s, const Migration& m, const std::string& store) {
    exec_script(c, substitute(m.sql, s, store), m.name);
    if (m.version == 3) {
        create_bookkeeping_guards(c, s, store);
        set_meta(c, s, "store_id", store);
        remove_autoincrement(c, s);
        set_meta(c, s, "indexed_upto", int64_t{0});
        fold_pending(c, s, store, /*bound=*/0);
    }
}

}  // namespace

Schema::Schema(std::string name)
    : name_(std::move(name)), quoted_(format("\"%w\"", name_.c_str())) {}

const Schema& Schema::main_db() {
    static const Schema m("main");
    return m;
}

bool Schema::operator==(const Schema& o) const {
    return sqlite3_stricmp(name_.c_str(), o.name_.c_str()) == 0;
}

Schema Schema::attached(Conn& c, sqlite3_value* v, const char* fn) {
    if (sqlite3_value_type(v) != SQLITE_TEXT) {
        raise(Code::InvalidArgument, "%s: schema must be the name of an attached database, got %s",
              fn, describe(v).c_str());
    }
    const std::string name(reinterpret_cast<const char*>(sqlite3_value_text(v)),
                           static_cast<size_t>(sqlite3_value_bytes(v)));
    if (sqlite3_stricmp(name.c_str(), "main") == 0 || sqlite3_stricmp(name.c_str(), "temp") == 0) {
        raise(Code::InvalidArgument, "%s: schema must be an attached archive database, not %Q", fn,
              name.c_str());
    }
    if (name.find('\0') == std::string::npos) {
        for (int i = 2; const char* attached = sqlite3_db_name(c.db, i); ++i) {
            if (sqlite3_stricmp(attached, name.c_str()) == 0) return Schema(attached);
        }
    }
    raise(Code::InvalidArgument, "%s: no attached database named %Q", fn, name.c_str());
}

namespace {

bool has_meta_table(Conn& c, const Schema& s) {
    return c
        .use(format("SELECT 1 FROM %s.sqlite_schema WHERE type = 'table' AND name = 'es_meta'",
                    s.quoted().c_str()))
        .step_row();
}

Stmt meta_value(Conn& c, const Schema& s, const char* key) {
    Stmt v = c.use(format("SELECT value FROM %s.es_meta WHERE key = ?1", s.quoted().c_str()));
    v.bind(1, key);
    return v;
}

}  // namespace

int schema_version(Conn& c, const Schema& s) {
    if (!has_meta_table(c, s)) return 0;
    Stmt v = meta_value(c, s, "schema_version");
    return v.step_row() ? static_cast<int>(v.int64(0)) : 0;
}

std::string store_id(Conn& c, const Schema& s) {
    if (!has_meta_table(c, s)) return {};
    Stmt v = meta_value(c, s, "store_id");
    return v.step_row() ? v.str(0) : std::string();
}

int migrate(Conn& c, const Schema& s) {
    const int current = schema_version(c, s);
    if (current > kLatest) {
        raise(Code::InvalidArgument,
              "es_init(): schema %Q is at eskit schema version %d, newer than this build "
              "supports (%d)",
              s.name().c_str(), current, kLatest);
    }
    if (current == kLatest) return kLatest;
    std::string store = current >= 3 ? store_id(c, s) : std::string();
    if (store.empty()) store = new_identity();
    BookkeepingScope permit(c, s, store);
    if (current == 0) {
        // A new store gets the latest layout directly; the numbered files are upgrades.
        exec_script(c, substitute(es_current_sql, s, store), "current.sql");
        create_bookkeeping_guards(c, s, store);
        set_meta(c, s, "store_id", store);
        set_meta(c, s, "indexed_upto", int64_t{0});
    } else {
        for (const Migration& m : es_migrations) {
            if (m.version > current) apply_upgrade(c, s, m, store);
        }
    }
    set_meta(c, s, "schema_version", int64_t{kLatest});
    return kLatest;
}

bool outlives_connection(Conn& c, const Schema& s) {
    const char* file = sqlite3_db_filename(c.db, s.name().c_str());
    if (!file || !*file) return false;  // ":memory:", a temp database
    char* vfs = nullptr;
    if (sqlite3_file_control(c.db, s.name().c_str(), SQLITE_FCNTL_VFSNAME, &vfs) == SQLITE_OK &&
        vfs) {
        const bool memdb = std::strstr(vfs, "memdb") != nullptr;
        sqlite3_free(vfs);
        if (memdb) return false;  // deserialized or vfs=memdb: lives in this process only
    }
    return true;
}

// sqlite3_db_readonly does not know PRAGMA query_only, which refuses every write of the
// connection as surely as a read-only file does.
bool is_readonly(Conn& c, const Schema& s) {
    if (sqlite3_db_readonly(c.db, s.name().c_str()) == 1) return true;
    Stmt q = c.use(kQueryOnly);
    return q.step_row() && q.int64(0) != 0;
}

std::optional<Schema> find_store(Conn& c, std::string_view id, std::string_view alias) {
    std::vector<Schema> found;
    for (int i = 2; const char* name = sqlite3_db_name(c.db, i); ++i) {
        const Schema candidate = Schema::named(name);
        try {
            if (store_id(c, candidate) == id) found.push_back(candidate);
        } catch (const Error&) {
            // unreadable right now (locked, not a database): not one we could use
        }
    }
    if (found.size() == 1) return found.front();
    const std::string a(alias);
    for (const Schema& s : found) {
        if (sqlite3_stricmp(s.name().c_str(), a.c_str()) == 0) return s;
    }
    return std::nullopt;
}

std::string new_identity() {
    std::random_device rd;
    std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
    const uint64_t hi = (gen() & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
    const uint64_t lo = (gen() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
    return format("%08llx-%04llx-%04llx-%04llx-%012llx", static_cast<unsigned long long>(hi >> 32),
                  static_cast<unsigned long long>((hi >> 16) & 0xffff),
                  static_cast<unsigned long long>(hi & 0xffff),
                  static_cast<unsigned long long>(lo >> 48),
                  static_cast<unsigned long long>(lo & 0xffffffffffffULL));
}

}  // namespace eskit::ext
