// Shared checks of the eskit fuzz harnesses (tests/fuzz/fuzz_*.cpp). Header-only: build.sh
// compiles each fuzz_*.cpp into its own target.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace fuzz {

// Prints the failed invariant and aborts, so that libFuzzer reports a crash and saves the input.
[[noreturn]] inline void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "\n*** eskit fuzz invariant violated: %s\n*** %s\n", what,
                 detail.c_str());
    std::fflush(stderr);
    std::abort();
}

#define FUZZ_CHECK(cond, detail)                                         \
    do {                                                                 \
        if (!(cond)) ::fuzz::fail(#cond, std::string(detail));           \
    } while (0)

// The stable error codes of the README's Errors section.
struct Code {
    const char* prefix;
    int primary_rc;   // the result code the README documents for it
    int alt_rc;       // a second allowed code (SQLITE_TOOBIG for invalid_argument), or -1
};
inline constexpr Code kCodes[] = {
    {"conflict:", SQLITE_CONSTRAINT, -1},
    {"duplicate_event:", SQLITE_CONSTRAINT, -1},
    {"archived:", SQLITE_CONSTRAINT, -1},
    {"tombstoned:", SQLITE_CONSTRAINT, -1},
    {"not_found:", SQLITE_ERROR, -1},
    {"invalid_argument:", SQLITE_ERROR, SQLITE_TOOBIG},
};

// SQLite's own messages that a call of ours can legitimately produce (pass-through errors of
// the SQL we run around the es_ calls, and SQLite's errors inside an eskit call).
inline bool sqlite_own_message(std::string_view m) {
    static const char* const kOwn[] = {
        "cannot ",            // cannot start a transaction within a transaction, cannot commit ...
        "no such ",           // no such savepoint / table / database
        "database ",          // database cold is already in use / is locked / disk is full
        "out of memory",
        "string or blob too big",
        "too many ",
        "interrupted",
        "UNIQUE constraint failed",
        "NOT NULL constraint failed",
        "CHECK constraint failed",
        "not an error",
        "unknown error",
        "SQL logic error",
        "constraint failed",
        "es_events is append-only",  // the schema's triggers (README, Tables)
        "es_streams is append-only",
        "es_streams ",
        "es_events ",
        "malformed JSON",
        "JSON ",
        "json_",
        "wrong number of arguments",
        "sql statement",
        "attempt to write a readonly database",
        "unsafe use of",
        "file is not a database",
        "parser stack overflow",
        "integer overflow",
        "abort due to ROLLBACK",
        "transaction",
        "datatype mismatch",
    };
    for (const char* p : kOwn) {
        if (m.substr(0, std::strlen(p)) == p) return true;
    }
    return false;
}

// The message invariant: a failing eskit call reports a non-empty message that starts with
// one of the stable codes (with the documented result code) or is one of SQLite's own.
inline void check_error(sqlite3* db, int rc, const std::string& what) {
    const char* msg = sqlite3_errmsg(db);
    const std::string m = msg ? msg : "";
    const int ext = sqlite3_extended_errcode(db);
    const std::string ctx = what + " -> rc=" + std::to_string(rc) + " ext=" +
                            std::to_string(ext) + " msg=[" + m + "]";
    FUZZ_CHECK(!m.empty(), ctx);
    for (const Code& c : kCodes) {
        const size_t n = std::strlen(c.prefix);
        if (m.compare(0, n, c.prefix) == 0) {
            FUZZ_CHECK(m.size() > n, "code without a sentence: " + ctx);
            const int primary = rc & 0xff;
            FUZZ_CHECK(primary == c.primary_rc || primary == c.alt_rc,
                       std::string("result code does not match the code ") + c.prefix + " " + ctx);
            return;
        }
    }
    FUZZ_CHECK(m.rfind("internal", 0) != 0, "internal error escaped: " + ctx);
    FUZZ_CHECK(sqlite_own_message(m), "message without a stable code: " + ctx);
}

// Binds a byte string as TEXT with its exact length (NUL bytes included).
inline void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

inline std::string str_col(sqlite3_stmt* s, int i) {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s, i));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s, i))) : std::string();
}

// Runs SQL that must succeed (harness bookkeeping); aborts otherwise.
inline void exec_ok(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string m = err ? err : "?";
        sqlite3_free(err);
        fail("bookkeeping SQL failed", std::string(sql) + ": " + m);
    }
}

// Single-value query (first column of the first row as int64); aborts on error.
inline int64_t query_int(sqlite3* db, const char* sql, int64_t dflt = 0) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
        fail("prepare failed", std::string(sql) + ": " + sqlite3_errmsg(db));
    int64_t v = dflt;
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
    else if (rc != SQLITE_DONE) fail("query failed", std::string(sql) + ": " + sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return v;
}

// PRAGMA integrity_check must say "ok" for main (and every attached database).
inline void check_integrity(sqlite3* db) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr) != SQLITE_OK)
        fail("prepare integrity_check", sqlite3_errmsg(db));
    std::string all;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) all += str_col(s, 0) + "\n";
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) fail("integrity_check failed to run", sqlite3_errmsg(db));
    FUZZ_CHECK(all == "ok\n", "integrity_check: " + all);
}

inline bool table_exists(sqlite3* db, const char* schema, const char* table) {
    const std::string sql = std::string("SELECT count(*) FROM \"") + schema +
                            "\".sqlite_master WHERE type='table' AND name='" + table + "'";
    return query_int(db, sql.c_str()) > 0;
}

// Storage invariants of main (README: Concepts, Tables, lifecycle):
//  - every active or in-place-archived stream holds exactly versions 1..es_streams.version;
//  - a stream moved to an archive or tombstoned has no events left in main;
//  - every event belongs to a stream row; es_head() is max(seq) or es_meta's seq_floor,
//    whichever is higher; the store is at schema version 2;
//  - json events hold valid JSON, metadata is NULL or a JSON object.
inline void check_storage(sqlite3* db) {
    if (!table_exists(db, "main", "es_events")) return;
    const char* bad_sql[] = {
        // streams whose events are not exactly 1..version
        "SELECT count(*) FROM es_streams s WHERE (s.state = 'active' OR (s.state = 'archived' "
        "AND s.archived_to IS NULL)) AND ((SELECT count(*) FROM es_events e WHERE "
        "e.stream_id = s.stream_id) != s.version OR coalesce((SELECT max(version) FROM "
        "es_events e WHERE e.stream_id = s.stream_id), 0) != s.version OR (SELECT "
        "min(version) FROM es_events e WHERE e.stream_id = s.stream_id) != 1)",
        // moved or tombstoned streams with events left in main
        "SELECT count(*) FROM es_streams s WHERE (s.state = 'tombstoned' OR s.archived_to IS "
        "NOT NULL) AND EXISTS (SELECT 1 FROM es_events e WHERE e.stream_id = s.stream_id)",
        // events without a stream row
        "SELECT count(*) FROM es_events e WHERE NOT EXISTS (SELECT 1 FROM es_streams s WHERE "
        "s.stream_id = e.stream_id)",
        // category stored consistently
        "SELECT count(*) FROM es_events WHERE category != CASE WHEN instr(stream_id, '-') > 0 "
        "THEN substr(stream_id, 1, instr(stream_id, '-') - 1) ELSE stream_id END",
        // json data must be valid JSON text, metadata a JSON object or NULL
        "SELECT count(*) FROM es_events WHERE (codec = 'json' AND (typeof(data) != 'text' OR "
        "NOT json_valid(data))) OR (metadata IS NOT NULL AND (NOT json_valid(metadata) OR "
        "json_type(metadata) != 'object'))",
        // es_head() is not the stored high-water mark: max(seq), or the seq_floor that every
        // delete of events records first, whichever is higher (so no seq is ever reused)
        "SELECT es_head() != max(coalesce((SELECT max(seq) FROM es_events), 0), "
        "coalesce((SELECT value FROM es_meta WHERE key = 'seq_floor'), 0))",
        // a store eskit created is at schema version 2: no AUTOINCREMENT bookkeeping
        // (sqlite_sequence) and no v1 guard table
        "SELECT count(*) FROM sqlite_schema WHERE name IN ('sqlite_sequence', 'es_guard')",
        "SELECT (SELECT value FROM es_meta WHERE key = 'schema_version') IS NOT 2",
        "SELECT count(*) FROM es_events WHERE schema_version < 1",
    };
    for (const char* q : bad_sql) {
        const int64_t n = query_int(db, q);
        FUZZ_CHECK(n == 0, std::string("storage invariant: ") + q + " gave " + std::to_string(n));
    }
}

}  // namespace fuzz
