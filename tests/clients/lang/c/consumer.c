/*
** A plain C host of eskit (issue 12): links the static core (eskit_core), registers eskit on
** every new connection with sqlite3_auto_extension, appends, provokes a conflict and reads the
** log back. With an argument it also loads that eskit.so into a connection opened after
** sqlite3_reset_auto_extension(), and checks that both report the same es_version().
** Built three ways by the tests: in the build tree (meson), and against the installed tree
** with pkg-config and with CMake (find_package(eskit)). Prints what it checked; exit 1 on the
** first failure.
*/
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "eskit.h"

static int failed(sqlite3* db, const char* what) {
    fprintf(stderr, "FAIL: %s: %s\n", what, db ? sqlite3_errmsg(db) : "(no connection)");
    return 1;
}

/* The first column of the first row as text (into buf), or NULL with the error in db. */
static const char* query(sqlite3* db, const char* sql, char* buf, size_t n) {
    sqlite3_stmt* stmt;
    const char* out = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) return NULL;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        const unsigned char* text = sqlite3_column_text(stmt, 0);
        snprintf(buf, n, "%s", text ? (const char*)text : "NULL");
        out = buf;
    }
    sqlite3_finalize(stmt);
    return out;
}

int main(int argc, char** argv) {
    char a[256], b[256];
    const char* events =
        "[{\"type\":\"OrderPlaced\",\"data\":{\"total\":2500}},"
        " {\"type\":\"ItemAdded\",\"data\":{\"sku\":\"A-1\",\"qty\":2}}]";
    /* snippet: c-static */
    /* Every connection opened from now on has eskit, without a .so. */
    sqlite3_auto_extension((void (*)(void))sqlite3_eskit_init);

    sqlite3* db;
    sqlite3_stmt* stmt;
    sqlite3_open(":memory:", &db);
    sqlite3_prepare_v2(db, "SELECT es_append('order-1', 0, ?)", -1, &stmt, NULL);
    sqlite3_bind_text(stmt, 1, events, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    sqlite3_int64 version = sqlite3_column_int64(stmt, 0); /* 2 */
    sqlite3_finalize(stmt);
    /* end snippet */
    if (rc != SQLITE_ROW || version != 2) return failed(db, "es_append did not return 2");
    snprintf(a, sizeof a, "%lld", (long long)version);
    const char* v = a;
    printf("es_append -> %s\n", v);

    if (query(db, "SELECT es_append('order-1', 0, '{\"type\":\"X\",\"data\":{}}')", a, sizeof a))
        return failed(db, "a stale append succeeded");
    if (strncmp(sqlite3_errmsg(db), "conflict: ", 10) != 0 ||
        sqlite3_errcode(db) != SQLITE_CONSTRAINT)
        return failed(db, "expected conflict (SQLITE_CONSTRAINT)");
    printf("stale append -> %s\n", sqlite3_errmsg(db));

    if (!query(db, "SELECT group_concat(seq || ':' || type, ' ') FROM es_all()", a, sizeof a) ||
        strcmp(a, "1:OrderPlaced 2:ItemAdded") != 0)
        return failed(db, "es_all");
    printf("es_all -> %s\n", a);
    if (!query(db, "SELECT es_version()", a, sizeof a)) return failed(db, "es_version");
    sqlite3_close(db);

    if (argc > 1) { /* the loadable module, as a host that dlopen()s it */
        sqlite3_reset_auto_extension();
        sqlite3* db2;
        char* err = NULL;
        if (sqlite3_open(":memory:", &db2) != SQLITE_OK) return failed(db2, "open");
        if (query(db2, "SELECT es_version()", b, sizeof b))
            return failed(db2, "eskit registered without the auto extension");
        sqlite3_enable_load_extension(db2, 1);
        if (sqlite3_load_extension(db2, argv[1], NULL, &err) != SQLITE_OK) {
            fprintf(stderr, "FAIL: load %s: %s\n", argv[1], err ? err : "?");
            return 1;
        }
        if (!query(db2, "SELECT es_version()", b, sizeof b) || strcmp(a, b) != 0)
            return failed(db2, "es_version of the loaded module");
        printf("loaded %s: es_version %s\n", argv[1], b);
        sqlite3_close(db2);
    }
    printf("ok: static core, es_version %s\n", a);
    return 0;
}
