/*
** Host options for programs that link eskit_core (SQLITE_CORE builds), first needed by the
** dqlite host of cluster/ (issue 13):
**
**   eskit_set_option(db, ESKIT_OPTION_WRITES_NEED_TRANSACTION, 1)
**       every eskit function that writes refuses to run while db is in autocommit;
**   SELECT es_last_error();   -- JSON of the eskit error of the previous statement, or NULL
**
** MINIMAL STAND-IN, written on the cluster branch so that the cluster can be developed and
** tested before the lead's real implementation lands on main. It does not touch the writers:
**
** - The refusal. An eskit writer opens a transaction of its own (the cached BEGIN IMMEDIATE,
**   Conn::stmts[Q::Begin]) exactly when its caller is in autocommit; inside the caller's
**   transaction it uses a SAVEPOINT. While the option is on, that cached statement is replaced
**   by one that fails with the refusal, so nothing is read or written. The function named in
**   the message is found in the SQL text of the connection's running statement.
** - es_last_error(). An authorizer reads the connection's error state while
**   SELECT es_last_error() is being prepared; at that moment it still describes the statement
**   that ran before. So es_last_error() answers for the statement just before it on the same
**   connection (the only way a dqlite client uses it) and is NULL when that statement
**   succeeded or failed with an error that is not eskit's. The real implementation (main)
**   records every eskit call instead, and adds stream_id/expected/actual.
** - es_last_append() is not part of this stand-in.
**
** Nothing here exists in the loadable eskit.so: its SQL surface is unchanged.
*/
#include "common.h"
#include "eskit.h"

#ifdef SQLITE_CORE

#include <cctype>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace eskit::ext {

namespace {

constexpr const char* kRefuseFunction = "eskit: writes need a transaction on this host";

struct Host {
    sqlite3* db;
    Conn* conn;
    bool writes_need_transaction = false;
    bool has_error = false;  // captured while SELECT es_last_error() was prepared
    std::string error_json;
};

std::mutex g_mutex;
std::unordered_map<sqlite3*, Host*> g_hosts;  // registered connections

Host* find_host(sqlite3* db) {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_hosts.find(db);
    return it == g_hosts.end() ? nullptr : it->second;
}

void host_destroy(void* p) {
    auto* h = static_cast<Host*>(p);
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        auto it = g_hosts.find(h->db);
        if (it != g_hosts.end() && it->second == h) g_hosts.erase(it);
    }
    conn_release(h->conn);
    delete h;
}

void json_string(std::string& out, const char* s) {
    out += '"';
    for (const unsigned char* p = reinterpret_cast<const unsigned char*>(s); *p; ++p) {
        if (*p == '"' || *p == '\\') {
            out += '\\';
            out += static_cast<char>(*p);
        } else if (*p < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", *p);
            out += buf;
        } else {
            out += static_cast<char>(*p);
        }
    }
    out += '"';
}

// The stable code an eskit message starts with (SPEC section 2), or nullptr.
const char* eskit_code(const char* message) {
    static const char* const kCodes[] = {"conflict",  "duplicate_event",  "archived",
                                         "tombstoned", "not_found", "invalid_argument"};
    for (const char* code : kCodes) {
        const size_t n = std::strlen(code);
        if (std::strncmp(message, code, n) == 0 && message[n] == ':') return code;
    }
    return nullptr;
}

void capture_error(Host& h) {
    const int rc = sqlite3_extended_errcode(h.db);
    const int primary = rc & 0xff;
    h.has_error = false;
    h.error_json.clear();
    if (primary == SQLITE_OK || primary == SQLITE_ROW || primary == SQLITE_DONE) return;
    const char* message = sqlite3_errmsg(h.db);
    const char* code = message ? eskit_code(message) : nullptr;
    if (!code) return;
    h.error_json = "{\"code\":\"";
    h.error_json += code;
    h.error_json += "\",\"sqlite_code\":";
    h.error_json += std::to_string(rc);
    h.error_json += ",\"message\":";
    json_string(h.error_json, message);
    h.error_json += '}';
    h.has_error = true;
}

int authorizer(void* p, int action, const char*, const char* arg2, const char*, const char*) {
    if (action == SQLITE_FUNCTION && arg2 && sqlite3_stricmp(arg2, "es_last_error") == 0) {
        capture_error(*static_cast<Host*>(p));
    }
    return SQLITE_OK;
}

void lastErrorFunc(sqlite3_context* ctx, int, sqlite3_value**) {
    const Host& h = *static_cast<Host*>(sqlite3_user_data(ctx));
    if (!h.has_error) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_text(ctx, h.error_json.c_str(), static_cast<int>(h.error_json.size()),
                        SQLITE_TRANSIENT);
}

bool is_ident(char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '$';
}

// The first eskit writer called in the SQL text of a running statement other than self.
std::string running_writer(sqlite3* db, sqlite3_stmt* self) {
    static const char* const kWriters[] = {
        "es_init",    "es_append", "es_archive",       "es_restore",           "es_tombstone",
        "es_delete",  "es_checkpoint", "es_snapshot_save", "es_snapshot_invalidate"};
    for (sqlite3_stmt* s = sqlite3_next_stmt(db, nullptr); s; s = sqlite3_next_stmt(db, s)) {
        if (s == self || !sqlite3_stmt_busy(s)) continue;
        const char* sql = sqlite3_sql(s);
        if (!sql) continue;
        const char* best = nullptr;
        std::string name;
        for (const char* w : kWriters) {
            const size_t n = std::strlen(w);
            for (const char* at = sql; (at = strcasestr(at, w)) != nullptr; at += n) {
                const char* after = at + n;
                while (*after == ' ' || *after == '\t' || *after == '\n') ++after;
                if ((at == sql || !is_ident(at[-1])) && *after == '(') {
                    if (!best || at < best) {
                        best = at;
                        name = w;
                    }
                    break;
                }
            }
        }
        if (best) return name;
    }
    return "es_*";
}

void refuseFunc(sqlite3_context* ctx, int, sqlite3_value**) {
    const Host& h = *static_cast<Host*>(sqlite3_user_data(ctx));
    sqlite3_stmt* self = nullptr;
    for (sqlite3_stmt* s = sqlite3_next_stmt(h.db, nullptr); s; s = sqlite3_next_stmt(h.db, s)) {
        if (s == h.conn->stmts[static_cast<int>(Q::Begin)]) self = s;
    }
    const std::string fn = running_writer(h.db, self);
    const std::string m = format(
        "invalid_argument: %s(): must run between BEGIN and COMMIT on this host; outside a "
        "transaction its writes would not be replicated",
        fn.c_str());
    sqlite3_result_error(ctx, m.c_str(), static_cast<int>(m.size()));
    sqlite3_result_error_code(ctx, SQLITE_ERROR);
}

int set_writes_need_transaction(Host& h, bool on) {
    sqlite3_stmt*& begin = h.conn->stmts[static_cast<int>(Q::Begin)];
    if (begin && sqlite3_stmt_busy(begin)) return SQLITE_BUSY;
    sqlite3_finalize(begin);
    begin = nullptr;  // off: Conn::stmt() prepares the real BEGIN IMMEDIATE on first use
    if (on) {
        // Like every statement eskit caches, it must be finalized by the last xDisconnect of
        // es_all (see Conn): connect the eponymous table first, or sqlite3_close() (dqlite's)
        // would find the statement and fail with SQLITE_BUSY.
        if (h.conn->vtabs == 0) {
            sqlite3_stmt* s = nullptr;
            if (sqlite3_prepare_v2(h.db, "SELECT 1 FROM main.es_all", -1, &s, nullptr) ==
                SQLITE_OK) {
                sqlite3_finalize(s);
            }
        }
        const std::string sql = format("SELECT \"%w\"()", kRefuseFunction);
        const int rc = sqlite3_prepare_v3(h.db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT,
                                          &begin, nullptr);
        if (rc != SQLITE_OK) return rc;
    }
    h.writes_need_transaction = on;
    return SQLITE_OK;
}

}  // namespace

int register_host_options(sqlite3* db, Conn* c) {
    auto* h = new (std::nothrow) Host{db, c};
    if (!h) return SQLITE_NOMEM;
    ++c->refs;  // released by host_destroy
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        g_hosts[db] = h;  // a second registration on db replaces the first
    }
    // es_last_error owns h: SQLite calls host_destroy when the function goes away.
    int rc = sqlite3_create_function_v2(db, "es_last_error", 0, SQLITE_UTF8 | SQLITE_INNOCUOUS,
                                        h, lastErrorFunc, nullptr, nullptr, host_destroy);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_create_function_v2(db, kRefuseFunction, 0, SQLITE_UTF8 | SQLITE_DIRECTONLY, h,
                                    refuseFunc, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return rc;
    return sqlite3_set_authorizer(db, authorizer, h);
}

}  // namespace eskit::ext

extern "C" ES_API int eskit_set_option(sqlite3* db, int option, int value) {
    eskit::ext::Host* h = eskit::ext::find_host(db);
    if (!h) return SQLITE_MISUSE;
    switch (option) {
        case ESKIT_OPTION_WRITES_NEED_TRANSACTION:
            return eskit::ext::set_writes_need_transaction(*h, value != 0);
        default:
            return SQLITE_RANGE;
    }
}

#else  // the loadable module: no host options

namespace eskit::ext {
int register_host_options(sqlite3*, Conn*) { return SQLITE_OK; }
}  // namespace eskit::ext

#endif
