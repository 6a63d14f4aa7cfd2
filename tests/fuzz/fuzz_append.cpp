// libFuzzer target: es_append's JSON handling and append rules.
//
// Input: EVENTS [0xff OPTIONS]. The bytes before the first 0xff are the events JSON text, the
// bytes after it the options JSON text (no 0xff: options NULL). On a fresh :memory: database
// the harness calls
//     es_append('s-1', -1, events, options)      then
//     es_append('s-1',  0, events, options)
// and checks: errors carry a stable code (or are SQLite's own) with the documented result code,
// the returned versions agree with es_streams and es_stream, versions are contiguous from 1,
// seq increases, an idempotent replay writes nothing, the storage invariants of
// fuzz_common.h hold and PRAGMA integrity_check says ok. A violated invariant abort()s.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "eskit.h"
#include "fuzz_common.h"

namespace {

struct Outcome {
    bool ok = false;
    int64_t version = 0;
    std::string message;
};

Outcome append(sqlite3* db, int64_t expected, std::string_view events, const std::string* options) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT es_append('s-1', ?1, ?2, ?3)", -1, &s, nullptr) != SQLITE_OK)
        fuzz::fail("prepare es_append", sqlite3_errmsg(db));
    sqlite3_bind_int64(s, 1, expected);
    fuzz::bind_text(s, 2, events);
    if (options) fuzz::bind_text(s, 3, *options);
    Outcome o;
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        FUZZ_CHECK(sqlite3_column_type(s, 0) == SQLITE_INTEGER, "es_append returned a non-integer");
        o.ok = true;
        o.version = sqlite3_column_int64(s, 0);
        FUZZ_CHECK(sqlite3_step(s) == SQLITE_DONE, "es_append: more than one row");
    } else {
        FUZZ_CHECK(rc != SQLITE_DONE, "es_append: no row");
        // sqlite3_step's legacy return code is the primary one; check with the extended code.
        fuzz::check_error(db, sqlite3_extended_errcode(db),
                          "es_append(expected=" + std::to_string(expected) + ")");
        o.message = sqlite3_errmsg(db);
    }
    sqlite3_finalize(s);
    // A call never leaves a transaction open behind it.
    FUZZ_CHECK(sqlite3_get_autocommit(db), "es_append left a transaction open");
    return o;
}

int64_t stream_version(sqlite3* db) {
    if (!fuzz::table_exists(db, "main", "es_streams")) return 0;
    return fuzz::query_int(db, "SELECT version FROM es_streams WHERE stream_id = 's-1'", 0);
}

// Reads es_stream('s-1') and checks contiguity and seq order; returns the number of rows.
int64_t read_back(sqlite3* db, int64_t expect_version) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, version, stream_id, category, type, codec, data "
                           "FROM es_stream('s-1')",
                           -1, &s, nullptr) != SQLITE_OK)
        fuzz::fail("prepare es_stream", sqlite3_errmsg(db));
    int64_t n = 0, last_seq = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ++n;
        const int64_t seq = sqlite3_column_int64(s, 0);
        FUZZ_CHECK(sqlite3_column_int64(s, 1) == n, "es_stream: version " +
                                                        std::to_string(sqlite3_column_int64(s, 1)) +
                                                        " at row " + std::to_string(n));
        FUZZ_CHECK(seq > last_seq, "es_stream: seq not increasing");
        last_seq = seq;
        FUZZ_CHECK(fuzz::str_col(s, 2) == "s-1", "es_stream: wrong stream_id");
        FUZZ_CHECK(fuzz::str_col(s, 3) == "s", "es_stream: wrong category");
        FUZZ_CHECK(!fuzz::str_col(s, 4).empty(), "es_stream: empty type");
        const std::string codec = fuzz::str_col(s, 5);
        FUZZ_CHECK(!codec.empty(), "es_stream: empty codec");
        if (codec == "json") {
            FUZZ_CHECK(sqlite3_column_type(s, 6) == SQLITE_TEXT, "json data is not TEXT");
        } else {
            FUZZ_CHECK(sqlite3_column_type(s, 6) == SQLITE_BLOB, "non-json data is not a BLOB");
        }
    }
    if (rc != SQLITE_DONE) {
        fuzz::check_error(db, sqlite3_extended_errcode(db), "es_stream('s-1')");
        fuzz::fail("es_stream of an active stream failed", sqlite3_errmsg(db));
    }
    sqlite3_finalize(s);
    FUZZ_CHECK(n == expect_version, "es_stream has " + std::to_string(n) +
                                        " rows, the stream is at version " +
                                        std::to_string(expect_version));
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 64 * 1024) return -1;  // keep executions fast; big inputs add nothing here
    const auto* p = reinterpret_cast<const char*>(data);
    const std::string_view in(p, size);
    const size_t cut = in.find('\xff');
    const std::string_view events = in.substr(0, cut);
    std::string options_text;
    const std::string* options = nullptr;
    if (cut != std::string_view::npos) {
        options_text = std::string(in.substr(cut + 1));
        options = &options_text;
    }

    sqlite3* db = nullptr;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) fuzz::fail("open", "");
    FUZZ_CHECK(eskit_register(db) == SQLITE_OK, "eskit_register failed");

    const Outcome first = append(db, -1, events, options);
    const int64_t v1 = stream_version(db);
    if (first.ok) {
        FUZZ_CHECK(first.version == v1, "first append returned " + std::to_string(first.version) +
                                            ", es_streams says " + std::to_string(v1));
    } else {
        FUZZ_CHECK(v1 == 0, "a failed first append left version " + std::to_string(v1));
        FUZZ_CHECK(fuzz::query_int(db, "SELECT es_head()") == 0, "a failed append moved es_head");
    }
    read_back(db, v1);
    const int64_t head1 = fuzz::query_int(db, "SELECT es_head()");

    const Outcome second = append(db, 0, events, options);
    const int64_t v2 = stream_version(db);
    const int64_t head2 = fuzz::query_int(db, "SELECT es_head()");
    if (second.ok) {
        FUZZ_CHECK(second.version == v2, "second append returned " +
                                             std::to_string(second.version) + ", es_streams says " +
                                             std::to_string(v2));
        if (first.ok && v1 > 0) {
            // The stream was at v1 > 0 and the call expected 0: only a replay (idempotency key
            // or exact event ids) may succeed, and a replay writes nothing.
            FUZZ_CHECK(v2 == v1 && head2 == head1,
                       "expected_version 0 on a stream at " + std::to_string(v1) +
                           " succeeded and wrote: now " + std::to_string(v2));
            FUZZ_CHECK(second.version == first.version, "replay returned another version");
        }
    } else {
        FUZZ_CHECK(v2 == v1 && head2 == head1, "a failed second append changed the store");
        if (first.ok) {
            // Same input as the first call, which was valid: the refusal must be a rule, not
            // validation (JSON validation does not depend on the store).
            FUZZ_CHECK(second.message.rfind("invalid_argument:", 0) != 0,
                       "valid input became invalid on the second call: " + second.message);
        }
    }
    if (!first.ok && first.message.rfind("invalid_argument:", 0) == 0) {
        // Validation does not depend on the state of the store either.
        FUZZ_CHECK(!second.ok && second.message.rfind("invalid_argument:", 0) == 0,
                   "invalid input accepted on the second call: first [" + first.message +
                       "] second [" + (second.ok ? std::string("ok") : second.message) + "]");
    }
    read_back(db, v2);
    FUZZ_CHECK(head2 >= head1, "es_head went backwards");
    fuzz::check_storage(db);
    fuzz::check_integrity(db);

    FUZZ_CHECK(sqlite3_close(db) == SQLITE_OK, "sqlite3_close failed (unfinalized statements)");
    return 0;
}
