/*
** Structured results of the last call on a connection, for hosts that should not parse message
** text: the C API of eskit.h (eskit_last_error, eskit_last_append, eskit_set_option) and the
** same as JSON for SQL hosts (es_last_error(), es_last_append()); and es_category(), the
** category rule of SPEC section 1 as a function.
*/
#include "args.h"
#include "boundary.h"
#include "eskit.h"
#include "schema.h"
#include "streams.h"

namespace eskit::ext {

namespace {

std::string error_json(const Error& e) {
    std::string out = "{\"code\":";
    json_quote(e.code == Code::Sqlite ? "sqlite" : prefix_of(e.code), out);
    out += format(",\"sqlite_code\":%d,\"message\":", e.rc);
    json_quote(e.message, out);
    if (!e.context.stream.empty()) {
        out += ",\"stream_id\":";
        json_quote(e.context.stream, out);
    }
    if (e.context.has_versions) {
        out +=
            format(",\"expected\":%lld,\"actual\":%lld", static_cast<long long>(e.context.expected),
                   static_cast<long long>(e.context.actual));
    }
    out += '}';
    return out;
}

std::string append_json(const AppendRecord& a) {
    std::string out = format(
        "{\"first_seq\":%lld,\"count\":%lld,\"first_version\":%lld,"
        "\"last_version\":%lld,\"created_at\":%lld,\"replay\":%s,"
        "\"event_ids\":[",
        static_cast<long long>(a.first_seq), static_cast<long long>(a.count),
        static_cast<long long>(a.first_version), static_cast<long long>(a.last_version),
        static_cast<long long>(a.created_at), a.replay ? "true" : "false");
    for (size_t i = 0; i < a.event_ids.size(); ++i) {
        if (i) out += ',';
        json_quote(a.event_ids[i], out);
    }
    out += "]}";
    return out;
}

void result_json(sqlite3_context* ctx, const std::string& s) {
    sqlite3_result_text(ctx, s.c_str(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}

// Not inside guard(): asking must not clear what it asks about.
void lastErrorFunc(sqlite3_context* ctx, int, sqlite3_value**) {
    try {
        if (const Error* e = conn_of(ctx).last_error()) result_json(ctx, error_json(*e));
    } catch (...) {
        sqlite3_result_error_nomem(ctx);
    }
}

void lastAppendFunc(sqlite3_context* ctx, int, sqlite3_value**) {
    try {
        const AppendRecord& a = conn_of(ctx).last_append;
        if (a.valid) result_json(ctx, append_json(a));
    } catch (...) {
        sqlite3_result_error_nomem(ctx);
    }
}

// es_readable(stream_id) -> 1, or the error es_stream would raise for the stream (tombstoned,
// moved to an archive). The read fast path: plain SQL on es_events with the stream's state
// checked once per statement (README "Reading fast"):
//   SELECT ... FROM es_events WHERE stream_id = ?1 AND es_readable(?1) ORDER BY version
// DETERMINISTIC, so SQLite evaluates it once before the scan (its argument is constant), and
// DIRECTONLY, so no index, view or trigger of a database file can capture it.
void readableFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, [&](Conn& c) {
        if (sqlite3_value_type(argv[0]) != SQLITE_NULL) {
            const std::string_view stream = arg_id(argv[0], "es_readable()", "stream_id");
            try {
                require_readable(read_lifecycle(c, stream));
            } catch (const Error& e) {
                if (e.code != Code::Sqlite || schema_version(c, Schema::main_db()) != 0) throw;
            }
        }
        sqlite3_result_int(ctx, 1);
    });
}

void categoryFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, [&](Conn&) {
        if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
        const std::string_view c = category_of(arg_id(argv[0], "es_category()", "stream_id"));
        sqlite3_result_text(ctx, c.data(), static_cast<int>(c.size()), SQLITE_TRANSIENT);
    });
}

}  // namespace

int register_api(sqlite3* db, Conn* c) {
    int rc = register_function(db, c, "es_last_error", {0}, SQLITE_UTF8 | SQLITE_INNOCUOUS,
                               lastErrorFunc);
    if (rc == SQLITE_OK) {
        rc = register_function(db, c, "es_last_append", {0}, SQLITE_UTF8 | SQLITE_INNOCUOUS,
                               lastAppendFunc);
    }
    if (rc == SQLITE_OK) {
        rc =
            register_function(db, c, "es_readable", {1},
                              SQLITE_UTF8 | SQLITE_DIRECTONLY | SQLITE_DETERMINISTIC, readableFunc);
    }
    if (rc == SQLITE_OK) {
        rc = register_function(db, c, "es_category", {1},
                               SQLITE_UTF8 | SQLITE_INNOCUOUS | SQLITE_DETERMINISTIC, categoryFunc);
    }
    return rc;
}

}  // namespace eskit::ext

using eskit::ext::Conn;
using eskit::ext::conn_of_db;

extern "C" ES_API int eskit_last_error(sqlite3* db, eskit_error* out) {
    Conn* c = conn_of_db(db);
    if (!c || !out) return SQLITE_MISUSE;
    *out = eskit_error{};
    out->message = "";
    if (const eskit::ext::Error* e = c->last_error()) {
        out->code = static_cast<int>(e->code);
        out->sqlite_rc = e->rc;
        out->message = e->message.c_str();
        out->stream_id = e->context.stream.empty() ? nullptr : e->context.stream.c_str();
        out->has_expected = e->context.has_versions ? 1 : 0;
        out->expected = e->context.expected;
        out->actual = e->context.actual;
    }
    return SQLITE_OK;
}

extern "C" ES_API int eskit_last_append(sqlite3* db, eskit_append* out) {
    Conn* c = conn_of_db(db);
    if (!c || !out) return SQLITE_MISUSE;
    const eskit::ext::AppendRecord& a = c->last_append;
    if (!a.valid) return SQLITE_NOTFOUND;
    *out = eskit_append{a.first_seq,    a.count,      a.first_version,
                        a.last_version, a.created_at, a.replay ? 1 : 0};
    return SQLITE_OK;
}

extern "C" ES_API const char* eskit_last_append_event_id(sqlite3* db, int64_t i) {
    Conn* c = conn_of_db(db);
    if (!c || i < 0 || static_cast<size_t>(i) >= c->last_append.event_ids.size()) return nullptr;
    return c->last_append.event_ids[static_cast<size_t>(i)].c_str();
}

extern "C" ES_API int eskit_set_option(sqlite3* db, int option, int value) {
    Conn* c = conn_of_db(db);
    if (!c) return SQLITE_MISUSE;
    if (option != ESKIT_OPTION_WRITES_NEED_TRANSACTION) return SQLITE_RANGE;
    c->writes_need_transaction = value != 0;
    return SQLITE_OK;
}
