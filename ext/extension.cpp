/*
** eskit: an event store inside SQLite. Entry point and registration table.
**
**   .load ./eskit                      -- sqlite3 shell
**   SELECT load_extension('./eskit');  -- any client with extension loading enabled
**   eskit_register(db);                -- C/C++ hosts linking eskit_core (SQLITE_CORE build)
**
** Registering creates nothing in the database; tables appear with es_init() or the first write.
*/
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <simdjson.h>

#include "common.h"
#include "eskit.h"
#include "version.h"

#define ES_STR2(x) #x
#define ES_STR(x) ES_STR2(x)

namespace eskit::ext {

int register_host_options(sqlite3* db, Conn* c);  // host_options.cpp (eskit_core only)

namespace {

Conn& conn_of(sqlite3_context* ctx) { return *static_cast<Conn*>(sqlite3_user_data(ctx)); }

void versionFunc(sqlite3_context* ctx, int, sqlite3_value**) {
    sqlite3_result_text(ctx, ES_VERSION, -1, SQLITE_STATIC);
}

void debugFunc(sqlite3_context* ctx, int, sqlite3_value**) {
    guard(ctx, [&] {
        const std::string s = format(
            "eskit %s\nsqlite %s\nsimdjson %s (validation: %s, on-demand: %s)\nbuild %s",
            ES_VERSION, sqlite3_libversion(), ES_STR(SIMDJSON_VERSION),
            simdjson::get_active_implementation()->name().c_str(),
            simdjson::builtin_implementation()->name().c_str(), ES_BUILD_FLAGS);
        sqlite3_result_text(ctx, s.c_str(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    });
}

void initFunc(sqlite3_context* ctx, int, sqlite3_value**) {
    guard(ctx, [&] {
        Conn& c = conn_of(ctx);
        WriteScope scope(c, "es_init()");
        const int v = migrate(c, "main");  // no-op when the constructor already migrated
        scope.commit();
        sqlite3_result_int(ctx, v);
    });
}

void headFunc(sqlite3_context* ctx, int, sqlite3_value**) {
    guard(ctx, [&] {
        Conn& c = conn_of(ctx);
        if (!c.has_schema()) {
            sqlite3_result_int64(ctx, 0);
            return;
        }
        sqlite3_result_int64(ctx, read_head(c));
    });
}

// Called by the append-only triggers (kWriterFunction): 1 while an eskit call writes on this
// connection. It only reads a flag, so it is INNOCUOUS and works with trusted_schema=OFF.
void writerFunc(sqlite3_context* ctx, int, sqlite3_value**) {
    sqlite3_result_int(ctx, conn_of(ctx).writing ? 1 : 0);
}

struct FunctionDef {
    const char* name;
    int nargs;
    int flags;
    void (*fn)(sqlite3_context*, int, sqlite3_value**);
};

// Writers are DIRECTONLY: a view or trigger in an untrusted database file cannot reach them.
// Readers are INNOCUOUS. Nothing but es_version is DETERMINISTIC.
constexpr FunctionDef kFunctions[] = {
    {"es_version", 0, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, versionFunc},
    {"es_debug", 0, SQLITE_UTF8 | SQLITE_INNOCUOUS, debugFunc},
    {"es_init", 0, SQLITE_UTF8 | SQLITE_DIRECTONLY, initFunc},
    {"es_head", 0, SQLITE_UTF8 | SQLITE_INNOCUOUS, headFunc},
    {kWriterFunction, 0, SQLITE_UTF8 | SQLITE_INNOCUOUS, writerFunc},
};

int register_all(sqlite3* db, char** pzErrMsg) {
    auto* c = new (std::nothrow) Conn(db);
    if (!c) return SQLITE_NOMEM;
    ++c->refs;  // held until the end of this function, so a failure below cannot free it early
    int rc = SQLITE_OK;
    const char* failed = nullptr;
    for (const FunctionDef& f : kFunctions) {
        ++c->refs;
        rc = sqlite3_create_function_v2(db, f.name, f.nargs, f.flags, c, f.fn, nullptr, nullptr,
                                        conn_release);
        if (rc != SQLITE_OK) {
            failed = f.name;
            break;
        }
    }
    if (rc == SQLITE_OK && (rc = register_append(db, c)) != SQLITE_OK) failed = "es_append";
    if (rc == SQLITE_OK && (rc = register_stream_vtab(db, c)) != SQLITE_OK) failed = "es_stream";
    if (rc == SQLITE_OK && (rc = register_all_vtab(db, c)) != SQLITE_OK) failed = "es_all";
    if (rc == SQLITE_OK && (rc = register_lifecycle(db, c)) != SQLITE_OK) failed = "lifecycle";
    if (rc == SQLITE_OK && (rc = register_checkpoint(db, c)) != SQLITE_OK) failed = "es_checkpoint";
    if (rc == SQLITE_OK && (rc = register_snapshot(db, c)) != SQLITE_OK) failed = "snapshots";
    if (rc == SQLITE_OK && (rc = register_wait(db, c)) != SQLITE_OK) failed = "es_wait";
    if (rc == SQLITE_OK && (rc = register_host_options(db, c)) != SQLITE_OK) failed = "options";
    if (rc != SQLITE_OK && pzErrMsg) {
        *pzErrMsg = sqlite3_mprintf("error registering %s: %s", failed, sqlite3_errmsg(db));
    }
    conn_release(c);
    return rc;
}

}  // namespace

}  // namespace eskit::ext

extern "C" ES_API int sqlite3_eskit_init(sqlite3* db, char** pzErrMsg,
                                         const sqlite3_api_routines* pApi) {
    SQLITE_EXTENSION_INIT2(pApi);
    (void)pApi;
    try {
        return eskit::ext::register_all(db, pzErrMsg);
    } catch (...) {
        return SQLITE_NOMEM;
    }
}

#ifdef SQLITE_CORE
extern "C" ES_API int eskit_register(sqlite3* db) {
    char* err = nullptr;
    const int rc = sqlite3_eskit_init(db, &err, nullptr);
    sqlite3_free(err);
    return rc;
}
#endif
