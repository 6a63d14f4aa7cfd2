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

#include "boundary.h"
#include "eskit.h"
#include "postings.h"
#include "schema.h"
#include "streams.h"
#include "version.h"
#include "write_scope.h"

#define ES_STR2(x) #x
#define ES_STR(x) ES_STR2(x)

namespace eskit::ext {

// Registration of each area, in its own file.
int register_append(sqlite3* db, Conn* c);
int register_reads(sqlite3* db, Conn* c);
int register_lifecycle(sqlite3* db, Conn* c);
int register_checkpoint(sqlite3* db, Conn* c);
int register_snapshot(sqlite3* db, Conn* c);
int register_wait(sqlite3* db, Conn* c);
int register_api(sqlite3* db, Conn* c);
int register_append_rows(sqlite3* db, Conn* c);

namespace {

void versionFunc(sqlite3_context* ctx, int, sqlite3_value**) {
    sqlite3_result_text(ctx, ES_VERSION, -1, SQLITE_STATIC);
}

void debugFunc(sqlite3_context* ctx, int, sqlite3_value**) {
    guard(ctx, [&](Conn&) {
        const std::string s =
            format("eskit %s\nsqlite %s\nsimdjson %s (validation: %s, on-demand: %s)\nbuild %s",
                   ES_VERSION, sqlite3_libversion(), ES_STR(SIMDJSON_VERSION),
                   simdjson::get_active_implementation()->name().c_str(),
                   simdjson::builtin_implementation()->name().c_str(), ES_BUILD_FLAGS);
        sqlite3_result_text(ctx, s.c_str(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    });
}

// es_init(): creates or upgrades the tables of main and folds the index tail. On a store that
// is current with nothing to fold it writes nothing, so it also answers on a read-only
// connection; there the fold is skipped too, being optional work (reads scan the tail).
void initFunc(sqlite3_context* ctx, int, sqlite3_value**) {
    guard(ctx, [&](Conn& c) {
        const Schema m = Schema::main_db();
        if (schema_version(c, m) == kSchemaVersion) {
            if (unindexed_tail(c, m) <= 0 || is_readonly(c, m)) {
                sqlite3_result_int(ctx, kSchemaVersion);
                return;
            }
        }
        WriteScope scope(c, "es_init()");  // creates or upgrades under the lock
        fold_pending(c, m, store_id(c, m), 0);
        scope.commit();
        sqlite3_result_int(ctx, kSchemaVersion);
    });
}

void headFunc(sqlite3_context* ctx, int, sqlite3_value**) {
    guard(ctx, [&](Conn& c) {
        const bool tables = schema_version(c, Schema::main_db()) != 0;
        sqlite3_result_int64(ctx, tables ? read_head(c) : 0);
    });
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
};

struct AreaDef {
    const char* name;
    int (*fn)(sqlite3*, Conn*);
};

constexpr AreaDef kAreas[] = {
    {"the append-only guard", register_guard},
    {"es_append", register_append},
    {"es_append_rows", register_append_rows},
    {"es_stream and es_all", register_reads},
    {"es_index_seqs", register_index_seqs},
    {"the lifecycle functions", register_lifecycle},
    {"es_checkpoint", register_checkpoint},
    {"the snapshot functions", register_snapshot},
    {"es_wait", register_wait},
    {"es_last_error and es_last_append", register_api},
};

int register_all(sqlite3* db, char** pzErrMsg) {
    auto* c = new (std::nothrow) Conn(db);
    if (!c) return SQLITE_NOMEM;
    ++c->refs;  // held until the end of this function, so a failure below cannot free it early
    int rc = SQLITE_OK;
    const char* failed = nullptr;
    for (const FunctionDef& f : kFunctions) {
        if ((rc = register_function(db, c, f.name, {f.nargs}, f.flags, f.fn)) != SQLITE_OK) {
            failed = f.name;
            break;
        }
    }
    for (const AreaDef& a : kAreas) {
        if (rc != SQLITE_OK) break;
        if ((rc = a.fn(db, c)) != SQLITE_OK) failed = a.name;
    }
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
