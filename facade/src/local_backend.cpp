// The local backend: in-process SQLite connections with eskit registered (eskit_core, no .so),
// statements prepared once per connection, appends handed over as a pointer batch (eskit.h)
// and answered from eskit_last_append, errors from eskit_last_error.
#include <sqlite3.h>

#include <cstring>
#include <unordered_map>

#include "backend.hpp"
#include "eskit.h"
#include <eskit/error.hpp>
#include "json_text.hpp"

namespace eskit::detail {

namespace {

[[noreturn]] void throw_sqlite(sqlite3* db) {
    const int rc = sqlite3_extended_errcode(db);
    const char* msg = sqlite3_errmsg(db);
    // An eskit function's failure: its structured error (never the text parsed).
    eskit_error e;
    if (eskit_last_error(db, &e) == SQLITE_OK && e.code != ESKIT_OK &&
        std::strcmp(e.message, msg) == 0) {
        std::optional<int64_t> expected, actual;
        if (e.has_expected) {
            expected = e.expected;
            actual = e.actual;
        }
        throw_error(static_cast<Code>(e.code), e.sqlite_rc, e.message,
                    e.stream_id ? e.stream_id : "", expected, actual);
    }
    throw_error(Code::Sqlite, rc, msg);
}

class LocalRows final : public Rows {
  public:
    // owned: finalized with the rows (a statement prepared for a nested query), else reset.
    LocalRows(sqlite3* db, sqlite3_stmt* s, bool owned) : db_(db), s_(s), owned_(owned) {}
    ~LocalRows() override {
        if (owned_) {
            sqlite3_finalize(s_);
            return;
        }
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    bool next() override {
        const int rc = sqlite3_step(s_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        throw_sqlite(db_);
    }
    bool is_null(int col) const override { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
    int64_t integer(int col) const override { return sqlite3_column_int64(s_, col); }
    double real(int col) const override { return sqlite3_column_double(s_, col); }
    std::string_view text(int col) const override {
        const auto* b = static_cast<const char*>(sqlite3_column_blob(s_, col));
        return {b ? b : "", static_cast<size_t>(sqlite3_column_bytes(s_, col))};
    }

  private:
    sqlite3* db_;
    sqlite3_stmt* s_;
    bool owned_;
};

class LocalConnection final : public Connection {
  public:
    LocalConnection(sqlite3* db, bool owned) : db_(db), owned_(owned) {}
    ~LocalConnection() override {
        for (auto& [sql, s] : cache_) sqlite3_finalize(s);
        if (owned_) sqlite3_close_v2(db_);
    }

    void exec(std::string_view sql) override {
        const std::string text(sql);
        if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
            throw_sqlite(db_);
    }

    int64_t execute(std::string_view sql, std::span<const Param> params) override {
        sqlite3_stmt* s = bound(sql, params);
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        }
        const int64_t changes = sqlite3_changes64(db_);
        if (rc != SQLITE_DONE) {
            sqlite3_reset(s);
            throw_sqlite(db_);
        }
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        return changes;
    }

    std::unique_ptr<Rows> query(std::string_view sql, std::span<const Param> params) override {
        bool owned = false;
        sqlite3_stmt* s = bound(sql, params, &owned);
        return std::make_unique<LocalRows>(db_, s, owned);
    }

    AppendReply append(const AppendCall& call) override;

    bool autocommit() override { return sqlite3_get_autocommit(db_) != 0; }
    sqlite3* native() noexcept override { return db_; }
    int64_t data_version() override {
        auto rows = query("PRAGMA data_version", {});
        return rows->next() ? rows->integer(0) : 0;
    }

  private:
    // The cached statement for sql; one of its own (*owned) while the cached one is still in use
    // by an unfinished query of the same text (a query nested in another's rows).
    sqlite3_stmt* prepared(std::string_view sql, bool* owned = nullptr) {
        auto it = cache_.find(std::string(sql));
        const bool busy = it != cache_.end() && sqlite3_stmt_busy(it->second);
        if (it != cache_.end() && !busy) return it->second;
        if (busy && !owned) throw_error(Code::Sqlite, SQLITE_MISUSE, "eskit: statement in use");
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                               busy ? 0 : SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
            throw_sqlite(db_);
        }
        if (busy) {
            *owned = true;
        } else {
            cache_.emplace(std::string(sql), s);
        }
        return s;
    }

    sqlite3_stmt* bound(std::string_view sql, std::span<const Param> params,
                        bool* owned = nullptr) {
        sqlite3_stmt* s = prepared(sql, owned);
        int i = 0;
        for (const Param& p : params) {
            ++i;
            int rc = SQLITE_OK;
            if (std::holds_alternative<std::nullptr_t>(p)) {
                rc = sqlite3_bind_null(s, i);
            } else if (const auto* v = std::get_if<int64_t>(&p)) {
                rc = sqlite3_bind_int64(s, i, *v);
            } else if (const auto* d = std::get_if<double>(&p)) {
                rc = sqlite3_bind_double(s, i, *d);
            } else if (const auto* t = std::get_if<std::string_view>(&p)) {
                rc = sqlite3_bind_text(s, i, t->data(), static_cast<int>(t->size()),
                                       SQLITE_TRANSIENT);
            } else {
                const std::string_view b = std::get<Blob>(p).bytes;
                rc = b.empty() ? sqlite3_bind_zeroblob(s, i, 0)
                               : sqlite3_bind_blob(s, i, b.data(), static_cast<int>(b.size()),
                                                   SQLITE_TRANSIENT);
            }
            if (rc != SQLITE_OK) {
                sqlite3_clear_bindings(s);
                throw_error(Code::Sqlite, rc,
                            std::string("eskit: cannot bind parameter: ") + sqlite3_errstr(rc));
            }
        }
        return s;
    }

    sqlite3* db_;
    bool owned_;
    std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

AppendReply LocalConnection::append(const AppendCall& call) {
    std::vector<eskit_event_in> in(call.events->size());
    for (size_t i = 0; i < in.size(); ++i) {
        const EventData& ev = (*call.events)[i];
        eskit_event_in& e = in[i];
        e = eskit_event_in{};
        e.type = ev.type.data();
        e.type_len = ev.type.size();
        e.data = ev.data.data();
        e.data_len = ev.data.size();
        e.codec = ev.codec.data();
        e.codec_len = ev.codec.size();
        if (ev.metadata) {
            e.metadata = ev.metadata->data();
            e.metadata_len = ev.metadata->size();
        }
        if (ev.id) {
            e.id = ev.id->data();
            e.id_len = ev.id->size();
        }
        e.schema_version = ev.schema_version;
    }
    eskit_batch batch{in.data(), in.size()};
    const std::string options = append_options_json(call);
    sqlite3_stmt* s = prepared("SELECT es_append(?1, ?2, ?3, ?4)");
    sqlite3_bind_text(s, 1, call.stream.data(), static_cast<int>(call.stream.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, call.expected);
    sqlite3_bind_pointer(s, 3, &batch, ESKIT_BATCH_TYPE, nullptr);
    if (options.empty()) {
        sqlite3_bind_null(s, 4);
    } else {
        sqlite3_bind_text(s, 4, options.data(), static_cast<int>(options.size()), SQLITE_STATIC);
    }
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_ROW) throw_sqlite(db_);
    eskit_append a;
    if (eskit_last_append(db_, &a) != SQLITE_OK)
        throw_error(Code::Sqlite, SQLITE_INTERNAL, "eskit: no append recorded");
    AppendReply r{a.first_seq,   a.count, a.first_version, a.last_version, a.created_at,
                  a.replay != 0, {}};
    for (int64_t i = 0;; ++i) {
        const char* id = eskit_last_append_event_id(db_, i);
        if (!id) break;
        r.event_ids.emplace_back(id);
    }
    if (call.metadata && !r.replay && r.count > 0) {
        // The call's metadata was merged into each event's (SPEC section 3: the event's keys
        // win), and eskit_last_append does not carry the result: read back that one column of
        // the rows just written (same connection, same transaction), rather than merge a second
        // time here. Only calls with call-level metadata pay for it.
        sqlite3_stmt* m = prepared(
            "SELECT metadata FROM main.es_events WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq");
        sqlite3_bind_int64(m, 1, r.first_seq);
        sqlite3_bind_int64(m, 2, r.first_seq + r.count - 1);
        int step;
        while ((step = sqlite3_step(m)) == SQLITE_ROW) {
            const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(m, 0));
            r.metadata.push_back(t ? std::optional<std::string>(t) : std::nullopt);
        }
        sqlite3_reset(m);
        if (step != SQLITE_DONE) throw_sqlite(db_);
    }
    return r;
}

sqlite3* open_connection(const std::string& path, const DatabaseOptions& o, bool read_only) {
    sqlite3* db = nullptr;
    int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (!read_only && o.create) flags |= SQLITE_OPEN_CREATE;
    flags |= SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;  // one thread at a time: the facade's locks
    if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
        const std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
        const int rc = db ? sqlite3_extended_errcode(db) : SQLITE_NOMEM;
        sqlite3_close_v2(db);
        throw_error(Code::Sqlite, rc, "eskit: cannot open " + path + ": " + msg);
    }
    return db;
}

void configure(sqlite3* db, const DatabaseOptions& o, bool writer, bool file) {
    sqlite3_busy_timeout(db, static_cast<int>(o.busy_timeout.count()));
    if (eskit_register(db) != SQLITE_OK) throw_sqlite(db);
    auto exec = [&](const std::string& sql) {
        if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) throw_sqlite(db);
    };
    if (writer && file && o.wal) exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=" + o.synchronous);
    if (writer) exec("SELECT es_init()");
}

class LocalBackend final : public Backend {
  public:
    LocalBackend(std::string path, const DatabaseOptions& o) : path_(std::move(path)), o_(o) {
        memory_ =
            path_ == ":memory:" || path_.empty() || path_.find("mode=memory") != std::string::npos;
    }
    std::unique_ptr<Connection> open_writer() override {
        sqlite3* db = open_connection(path_, o_, false);
        auto c = std::make_unique<LocalConnection>(db, true);
        configure(db, o_, true, !memory_);
        return c;
    }
    std::unique_ptr<Connection> open_reader() override {
        if (memory_ || o_.readers <= 0) return nullptr;
        sqlite3* db = open_connection(path_, o_, true);
        auto c = std::make_unique<LocalConnection>(db, true);
        configure(db, o_, false, true);
        return c;
    }

  private:
    std::string path_;
    DatabaseOptions o_;
    bool memory_ = false;
};

class AdoptedBackend final : public Backend {
  public:
    AdoptedBackend(sqlite3* db, const DatabaseOptions& o) : db_(db), o_(o) {}
    std::unique_ptr<Connection> open_writer() override {
        auto c = std::make_unique<LocalConnection>(db_, false);
        configure(db_, o_, true, false);
        return c;
    }
    std::unique_ptr<Connection> open_reader() override { return nullptr; }

  private:
    sqlite3* db_;
    DatabaseOptions o_;
};

}  // namespace

std::unique_ptr<Backend> local_backend(std::string path, const DatabaseOptions& options) {
    return std::make_unique<LocalBackend>(std::move(path), options);
}

std::unique_ptr<Backend> adopted_backend(sqlite3* db, const DatabaseOptions& options) {
    return std::make_unique<AdoptedBackend>(db, options);
}

int64_t query_int(Connection& c, std::string_view sql, std::span<const Param> params) {
    auto rows = c.query(sql, params);
    return rows->next() ? rows->integer(0) : 0;
}

}  // namespace eskit::detail
