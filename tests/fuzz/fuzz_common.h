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
    std::fprintf(stderr, "\n*** eskit fuzz invariant violated: %s\n*** %s\n", what, detail.c_str());
    std::fflush(stderr);
    std::abort();
}

#define FUZZ_CHECK(cond, detail)                               \
    do {                                                       \
        if (!(cond)) ::fuzz::fail(#cond, std::string(detail)); \
    } while (0)

// The stable error codes of the README's Errors section.
struct Code {
    const char* prefix;
    int primary_rc;  // the result code the README documents for it
    int alt_rc;      // a second allowed code (SQLITE_TOOBIG for invalid_argument), or -1
};
inline constexpr Code kCodes[] = {
    {"conflict:", SQLITE_CONSTRAINT, -1}, {"duplicate_event:", SQLITE_CONSTRAINT, -1},
    {"archived:", SQLITE_CONSTRAINT, -1}, {"tombstoned:", SQLITE_CONSTRAINT, -1},
    {"not_found:", SQLITE_ERROR, -1},     {"invalid_argument:", SQLITE_ERROR, SQLITE_TOOBIG},
};

// SQLite's own messages that a call of ours can legitimately produce (pass-through errors of
// the SQL we run around the es_ calls, and SQLite's errors inside an eskit call).
inline bool sqlite_own_message(std::string_view m) {
    static const char* const kOwn[] = {
        "cannot ",    // cannot start a transaction within a transaction, cannot commit ...
        "no such ",   // no such savepoint / table / database
        "database ",  // database cold is already in use / is locked / disk is full
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
    const std::string ctx =
        what + " -> rc=" + std::to_string(rc) + " ext=" + std::to_string(ext) + " msg=[" + m + "]";
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
    if (rc == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    else if (rc != SQLITE_DONE)
        fail("query failed", std::string(sql) + ": " + sqlite3_errmsg(db));
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

// True when the schema holds a table or a view of that name (es_streams is a view since
// schema 3; the harnesses ask for it like for a table).
inline bool table_exists(sqlite3* db, const char* schema, const char* table) {
    const std::string sql = std::string("SELECT count(*) FROM \"") + schema +
                            "\".sqlite_master WHERE type IN ('table', 'view') AND name='" + table +
                            "'";
    return query_int(db, sql.c_str()) > 0;
}

// The category of a stream id in plain SQL (SPEC 1: the part before the first '-', the whole
// id without one): the reference for es_all/es_stream's category column, which es_events no
// longer stores (schema 3).
#define FUZZ_CATEGORY_SQL                                                                   \
    "(CASE WHEN instr(stream_id, '-') > 0 THEN substr(stream_id, 1, instr(stream_id, '-') " \
    "- 1) ELSE stream_id END)"

// The bound on the index tail (ext/postings.h kTailBound): after every statement fewer events
// than this are newer than es_meta 'indexed_upto'.
inline constexpr int64_t kTailBound = 256;

// Storage invariants of main (schema 3; README: Concepts, Tables, lifecycle):
//  - every stream whose events are in main (active, archived in place, being archived) holds
//    exactly versions 1..N, and a lifecycle row of such a stream records N;
//  - a stream moved to an archive or tombstoned has no events left in main; the ids of a
//    moved stream stay reserved (as many as left), and only those are reserved;
//  - every event belongs to a stream row of the es_streams view; es_head() is max(seq) or
//    es_meta's seq_floor, whichever is higher;
//  - the store is at schema version 3 with a UUID v4 identity, no category column, no
//    AUTOINCREMENT bookkeeping or v1 guard table;
//  - the category index trails the log by fewer than kTailBound events and never passes
//    es_head(); es_all's category and es_category() are the id's prefix;
//  - json events hold valid JSON, metadata is NULL or a JSON object.
// The checks that scan every event (categories, JSON) run only with full (a store of a few
// hundred events would make every step of fuzz_calls slow); the others use indexes.
inline void check_storage(sqlite3* db, bool full = true) {
    if (!table_exists(db, "main", "es_events")) return;
    const std::string tail_sql = "SELECT count(*) >= " + std::to_string(kTailBound) +
                                 " FROM es_events WHERE seq > "
                                 "(SELECT value FROM es_meta WHERE key = 'indexed_upto')";
    const char* bad_sql[] = {
        // streams in main whose events are not exactly 1..N
        "SELECT count(*) FROM (SELECT stream_id, count(*) AS c, min(version) AS mn, "
        "max(version) AS mx FROM es_events GROUP BY stream_id) WHERE mn != 1 OR mx != c",
        // ... or whose lifecycle row (archived in place, being moved) records another version
        "SELECT count(*) FROM es_lifecycle l WHERE ((l.state = 'archived' AND l.archive_store "
        "IS NULL) OR l.state = 'archiving') AND l.version IS NOT (SELECT max(version) FROM "
        "es_events e WHERE e.stream_id = l.stream_id)",
        "SELECT count(*) FROM es_lifecycle l WHERE l.state = 'archiving' AND l.moved_count IS "
        "NOT (SELECT count(*) FROM es_events e WHERE e.stream_id = l.stream_id)",
        // moved or tombstoned streams with events left in main
        "SELECT count(*) FROM es_lifecycle l WHERE (l.state = 'tombstoned' OR (l.state = "
        "'archived' AND l.archive_store IS NOT NULL)) AND EXISTS (SELECT 1 FROM es_events e "
        "WHERE e.stream_id = l.stream_id)",
        // a moved stream's ids reserved, as many as left; no other ids reserved
        "SELECT count(*) FROM es_lifecycle l WHERE l.state = 'archived' AND l.archive_store IS "
        "NOT NULL AND (SELECT count(*) FROM es_reserved_ids r WHERE r.stream_id = l.stream_id) "
        "IS NOT l.moved_count",
        "SELECT count(*) FROM es_reserved_ids r WHERE NOT EXISTS (SELECT 1 FROM es_lifecycle l "
        "WHERE l.stream_id = r.stream_id AND l.state = 'archived' AND l.archive_store IS NOT "
        "NULL)",
        // events without a stream row
        "SELECT count(*) FROM es_events e WHERE NOT EXISTS (SELECT 1 FROM es_streams s WHERE "
        "s.stream_id = e.stream_id)",
        // es_head() is not the stored high-water mark: max(seq), or the seq_floor that every
        // delete of events records first, whichever is higher (so no seq is ever reused)
        "SELECT es_head() != max(coalesce((SELECT max(seq) FROM es_events), 0), "
        "coalesce((SELECT value FROM es_meta WHERE key = 'seq_floor'), 0))",
        // the index: never ahead of the log, at most kTailBound - 1 events behind it
        "SELECT (SELECT value FROM es_meta WHERE key = 'indexed_upto') IS NULL OR "
        "(SELECT value FROM es_meta WHERE key = 'indexed_upto') > es_head()",
        tail_sql.c_str(),
        // a store eskit created is at schema version 3 with an identity: no AUTOINCREMENT
        // bookkeeping (sqlite_sequence), no v1 guard table, no category column
        "SELECT count(*) FROM sqlite_schema WHERE name IN ('sqlite_sequence', 'es_guard')",
        "SELECT (SELECT value FROM es_meta WHERE key = 'schema_version') IS NOT 3",
        "SELECT (SELECT length(value) = 36 AND value GLOB '*-*-4*-*-*' FROM es_meta WHERE key = "
        "'store_id') IS NOT 1",
        "SELECT count(*) FROM pragma_table_info('es_events') WHERE name = 'category'",
        "SELECT (SELECT type FROM sqlite_schema WHERE name = 'es_streams') IS NOT 'view'",
        "SELECT count(*) FROM es_events WHERE schema_version < 1",
    };
    const char* scans[] = {
        // categories: es_all's column, es_category() and the view's are the id's prefix
        "SELECT count(*) FROM es_all() WHERE category IS NOT " FUZZ_CATEGORY_SQL,
        "SELECT count(*) FROM es_events WHERE es_category(stream_id) IS NOT " FUZZ_CATEGORY_SQL,
        "SELECT count(*) FROM es_streams WHERE category IS NOT " FUZZ_CATEGORY_SQL,
        // json data must be valid JSON text, metadata a JSON object or NULL
        "SELECT count(*) FROM es_events WHERE (codec = 'json' AND (typeof(data) != 'text' OR "
        "NOT json_valid(data))) OR (metadata IS NOT NULL AND (NOT json_valid(metadata) OR "
        "json_type(metadata) != 'object'))",
    };
    for (const char* q : bad_sql) {
        const int64_t n = query_int(db, q);
        FUZZ_CHECK(n == 0, std::string("storage invariant: ") + q + " gave " + std::to_string(n));
    }
    if (!full) return;
    for (const char* q : scans) {
        const int64_t n = query_int(db, q);
        FUZZ_CHECK(n == 0, std::string("storage invariant: ") + q + " gave " + std::to_string(n));
    }
}

}  // namespace fuzz
