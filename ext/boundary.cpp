#include "boundary.h"

#include "schema.h"

namespace eskit::ext {

CallScope::CallScope(Conn& c) : sql_(c.db) {
    c.validate_statements();
    c.begin_call();
}

Error explain_old_schema(Conn& c, const Error& e) {
    constexpr std::string_view kExplained = ": this store is at eskit schema version";
    if (e.code != Code::Sqlite || e.message.rfind("no such table: ", 0) != 0 ||
        e.message.find(kExplained) != std::string::npos) {
        return e;
    }
    int version = kSchemaVersion;
    try {
        version = schema_version(c, Schema::main_db());
    } catch (const Error&) {
        return e;
    }
    if (version == 0 || version >= kSchemaVersion) return e;
    Error explained = e;
    explained.message += format(
        "%s %d; SELECT es_init() (or "
        "any eskit write) upgrades it to version %d, which eskit reads",
        std::string(kExplained).c_str(), version, kSchemaVersion);
    return explained;
}

void result_error(sqlite3_context* ctx, Conn& c, const Error& e) {
    c.record_error(e);
    sqlite3_result_error(ctx, e.message.c_str(), static_cast<int>(e.message.size()));
    sqlite3_result_error_code(ctx, e.rc);
}

void set_vtab_error(sqlite3_vtab* vtab, const std::string& message) {
    sqlite3_free(vtab->zErrMsg);
    vtab->zErrMsg = sqlite3_mprintf("%s", message.c_str());
}

int register_function(sqlite3* db, Conn* c, const char* name, std::initializer_list<int> nargs,
                      int flags, void (*fn)(sqlite3_context*, int, sqlite3_value**)) {
    for (int n : nargs) {
        ++c->refs;  // released by SQLite through conn_release, also when registration fails
        const int rc =
            sqlite3_create_function_v2(db, name, n, flags, c, fn, nullptr, nullptr, conn_release);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

}  // namespace eskit::ext
