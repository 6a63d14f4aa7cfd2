// libFuzzer target: sequences of calls of the whole SQL surface of eskit.
//
// The input is a small program. Each step takes an opcode byte and then draws the arguments
// from the following bytes (FuzzedDataProvider): every es_ function (es_append, es_init,
// es_head, es_status, es_archive/es_restore with and without the schema 'cold' — attached as
// a file, which archives need since schema 3, or as ':memory:', which they refuse —,
// es_tombstone, es_delete, es_maintain, es_checkpoint with 1/2/3 arguments, es_snapshot_save
// with 3/4/5, es_snapshot_invalidate, es_wait with timeout 0, es_version/es_debug,
// es_category, es_last_error/es_last_append), SELECTs from es_stream and es_all with random
// WHERE / ORDER BY / LIMIT / OFFSET, transactions and savepoints, ATTACH/DETACH of 'cold'.
// Arguments are of random types: NULL, integers including the extremes, reals (NaN,
// infinities, fractions), short/long/empty texts with quotes and NUL bytes, blobs, and
// well-formed stream ids, schema names and event batches, so the deep paths are reached as
// often as the validation paths.
//
// The category and type index (schema 3) covers all but the newest < 256 events (the tail),
// folded in by the append that reaches the bound. So that reads meet it in every shape, a
// program may start with a prefill (0 to 700 events over several categories and types, in
// batches of 1 to 64: the tail ends empty, partly full, at 255 = the bound, or just folded)
// and has a bulk-append step (1 to 300 events in one call), so folds happen between reads.
//
// After every step: an error message starts with a stable code with its documented result
// code (or is SQLite's own) and is never empty; es_stream/es_all return exactly the rows of the
// equivalent query on es_events (its category computed from stream_id in plain SQL), in seq
// (version) order; every few steps the storage invariants of fuzz_common.h, the invariants of
// the copies in cold, and PRAGMA integrity_check. A violation abort()s.
//
// The index walk (inputs "\0IDX" + up to 4 parameter bytes) is a fixed program instead: a
// prefill, then one append at a time until the tail passes the bound, with a set of category
// and type reads at tails 1, 128, 255 and right after each fold, then after a move to cold and
// back, a delete and a new stream of that name, a tombstone and es_maintain() (index entries
// that point at nothing or at another event). Its seeds are tests/fuzz/corpus/calls/
// index_walk_* (prefill 0, 256 by 50, 300 by 7, 511 by 64 = tail at the bound, 600 by 1).
//
// ESKIT_FUZZ_STATS=1 prints, at exit, how many category/type reads with rows were compared
// with no index yet, the tail empty, rows from the index and a partly full tail or a tail at
// the bound, and after a fold that followed an earlier read of the same program
// (tests/fuzz/run.sh requires all but the first in its replay of the corpus).
// ESKIT_FUZZ_TRACE=1 prints each program as it ran.
#include <fuzzer/FuzzedDataProvider.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "eskit.h"
#include "fuzz_common.h"

namespace {

constexpr int kMaxSteps = 48;
constexpr int kMaxRows = 2000;

const char* const kStreams[] = {"s-1",   "s-2",  "order-17", "a",     "cold-x",
                                "o'q-1", "s-1 ", "S-1",      "x-y-z", "\xc3\xa9-1"};
const char* const kSchemas[] = {"cold", "COLD", "main", "temp", "nope", "Cold", "\"cold\"", ""};
const char* const kTypes[] = {"A", "B", "OrderPlaced", "a", "", "x'y"};
const char* const kEvents[] = {
    R"([{"type":"A","data":{"x":1}}])",
    R"({"type":"B","data":[1,2,3]})",
    R"([{"type":"A","data":{}},{"type":"B","data":null}])",
    R"([])",
    R"([{"type":"A","data":1,"id":"e-1"}])",
    R"([{"type":"A","data":1,"id":"e-1"},{"type":"B","data":2,"id":"e-2"}])",
    R"([{"type":"A","data":1,"id":"e-2"}])",
    R"([{"type":"Raw","codec":"msgpack","data":"gqFhAaFiAg=="}])",
    R"([{"type":"A","data":{"a":"\u0000"},"metadata":{"k":"v"},"schema_version":3}])",
    R"([{"type":"A","data":"s","metadata":null,"id":"e-3","codec":"json"}])",
    R"([{"type":"A","data":{},"metadata":{"trace":"x","by":1}}])",
    R"({"type":"OrderPlaced","data":{"total":25.49}})",
    R"([{"type":"A","data":123456789012345678901234567890}])",
    R"([{"type":"A","data":"\uD800"}])",
    R"([{"type":"A"}])",
    R"({"type":"A","data":1,"payload":2})",
};
const char* const kOptions[] = {
    R"({"idempotency_key":"k-1"})",
    R"({"idempotency_key":"k-2","timestamp":1700000000000000})",
    R"({"metadata":{"trace":"t-1"}})",
    R"({"timestamp":-9223372036854775808})",
    R"({})",
    R"({"idempotency_key":""})",
    R"({"retries":1})",
    R"(null)",
};
const int64_t kInts[] = {0,
                         1,
                         2,
                         3,
                         -1,
                         -2,
                         -3,
                         5,
                         100,
                         std::numeric_limits<int64_t>::max(),
                         std::numeric_limits<int64_t>::min(),
                         std::numeric_limits<int64_t>::max() - 1,
                         std::numeric_limits<int64_t>::min() + 1,
                         std::numeric_limits<int32_t>::max(),
                         static_cast<int64_t>(std::numeric_limits<int32_t>::max()) + 1,
                         std::numeric_limits<int32_t>::min(),
                         1024,
                         1025,
                         4294967296LL};
const double kReals[] = {0.0,
                         -0.0,
                         0.5,
                         1.0,
                         1.5,
                         -1.5,
                         2.9999999,
                         1e300,
                         -1e300,
                         9.2e18,
                         9.3e18,
                         -9.3e18,
                         1e-300,
                         std::numeric_limits<double>::quiet_NaN(),
                         std::numeric_limits<double>::infinity(),
                         -std::numeric_limits<double>::infinity()};

template <class T, size_t N>
const T& pick(FuzzedDataProvider& in, const T (&arr)[N]) {
    return arr[in.ConsumeIntegralInRange<size_t>(0, N - 1)];
}

// A value to bind; `kind` follows SQLite's fundamental types.
struct Value {
    int kind = SQLITE_NULL;
    int64_t i = 0;
    double d = 0;
    std::string s;  // TEXT or BLOB bytes

    static Value null() { return Value{}; }
    static Value integer(int64_t v) { return Value{SQLITE_INTEGER, v, 0, {}}; }
    static Value real(double v) { return Value{SQLITE_FLOAT, 0, v, {}}; }
    static Value text(std::string v) { return Value{SQLITE_TEXT, 0, 0, std::move(v)}; }
    static Value blob(std::string v) { return Value{SQLITE_BLOB, 0, 0, std::move(v)}; }

    void bind(sqlite3_stmt* st, int idx) const {
        switch (kind) {
            case SQLITE_INTEGER: sqlite3_bind_int64(st, idx, i); break;
            case SQLITE_FLOAT: sqlite3_bind_double(st, idx, d); break;
            case SQLITE_TEXT: fuzz::bind_text(st, idx, s); break;
            case SQLITE_BLOB:
                sqlite3_bind_blob(st, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
                break;
            default: sqlite3_bind_null(st, idx);
        }
    }
    std::string show() const {
        switch (kind) {
            case SQLITE_INTEGER: return std::to_string(i);
            case SQLITE_FLOAT: return std::to_string(d);
            case SQLITE_TEXT: return "'" + s.substr(0, 40) + (s.size() > 40 ? "...'" : "'");
            case SQLITE_BLOB: return "blob(" + std::to_string(s.size()) + ")";
            default: return "NULL";
        }
    }
};

// Any value at all: the validation paths.
Value any_value(FuzzedDataProvider& in) {
    switch (in.ConsumeIntegralInRange<int>(0, 9)) {
        case 0: return Value::null();
        case 1: return Value::integer(pick(in, kInts));
        case 2: return Value::integer(in.ConsumeIntegral<int64_t>());
        case 3: return Value::real(pick(in, kReals));
        case 4: return Value::text(in.ConsumeRandomLengthString(24));  // quotes, NULs, bytes
        case 5: {  // long texts around the 1024-byte limit
            const size_t sizes[] = {1023, 1024, 1025, 4000};
            return Value::text(std::string(pick(in, sizes), in.ConsumeBool() ? 'x' : '\''));
        }
        case 6: return Value::text("");
        case 7: return Value::blob(in.ConsumeRandomLengthString(16));
        case 8: {
            std::string s = pick(in, kStreams);
            s.push_back('\0');
            s += "tail";
            return Value::text(s);
        }
        default: return Value::text(in.ConsumeBool() ? "1" : "2.5");  // numeric-looking text
    }
}

Value stream_arg(FuzzedDataProvider& in) {
    if (in.ConsumeIntegralInRange<int>(0, 7) == 0) return any_value(in);
    return Value::text(pick(in, kStreams));
}
Value int_arg(FuzzedDataProvider& in, int64_t lo, int64_t hi) {
    if (in.ConsumeIntegralInRange<int>(0, 5) == 0) return any_value(in);
    return Value::integer(in.ConsumeIntegralInRange<int64_t>(lo, hi));
}
Value schema_arg(FuzzedDataProvider& in) {
    if (in.ConsumeIntegralInRange<int>(0, 7) == 0) return any_value(in);
    return Value::text(in.ConsumeIntegralInRange<int>(0, 3) ? "cold" : pick(in, kSchemas));
}
Value events_arg(FuzzedDataProvider& in) {
    switch (in.ConsumeIntegralInRange<int>(0, 9)) {
        case 0: return any_value(in);
        case 1: return Value::text(in.ConsumeRandomLengthString(200));
        case 2: {  // an event with a type, id and data drawn from the input
            std::string t = in.ConsumeBool() ? "A" : "B";
            std::string id = "e-" + std::to_string(in.ConsumeIntegralInRange<int>(0, 6));
            std::string ev = "{\"type\":\"" + t +
                             "\",\"data\":" + std::to_string(in.ConsumeIntegralInRange<int>(0, 3));
            if (in.ConsumeBool()) ev += ",\"id\":\"" + id + "\"";
            return Value::text("[" + ev + "}]");
        }
        default: return Value::text(pick(in, kEvents));
    }
}
Value options_arg(FuzzedDataProvider& in) {
    switch (in.ConsumeIntegralInRange<int>(0, 5)) {
        case 0: return any_value(in);
        case 1: return Value::null();
        case 2: return Value::text(in.ConsumeRandomLengthString(64));
        default: return Value::text(pick(in, kOptions));
    }
}
Value text_or_any(FuzzedDataProvider& in, const char* const* pool, size_t n) {
    if (in.ConsumeIntegralInRange<int>(0, 5) == 0) return any_value(in);
    return Value::text(pool[in.ConsumeIntegralInRange<size_t>(0, n - 1)]);
}

// The file attached as 'cold' (one per process, emptied at the start of every program).
const std::string& cold_path() {
    static const std::string path = [] {
        const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        return std::string(base) + "/eskit-fuzz-cold-" + std::to_string(getpid()) + ".db";
    }();
    return path;
}
void remove_cold() {
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
        std::remove((cold_path() + suffix).c_str());
    }
}

// Which shapes of the index the differential category/type reads met (ESKIT_FUZZ_STATS).
struct Stats {
    long reads = 0, cat_type = 0, no_index = 0, tail_empty = 0, tail_partial = 0, tail_bound = 0,
         across_fold = 0;
    ~Stats() {
        if (!std::getenv("ESKIT_FUZZ_STATS")) return;
        std::fprintf(stderr,
                     "fuzz_calls stats: reads=%ld cat_type=%ld no_index=%ld tail_empty=%ld "
                     "tail_partial=%ld tail_bound=%ld across_fold=%ld\n",
                     reads, cat_type, no_index, tail_empty, tail_partial, tail_bound, across_fold);
    }
};
Stats g_stats;

struct Machine {
    sqlite3* db = nullptr;
    bool cold = false;               // something is attached as 'cold'
    bool cold_file = false;          // ... and it is the file (else ':memory:')
    int64_t first_upto = -1;         // indexed_upto at the program's first category/type read
    std::vector<std::string> trace;  // the steps so far, printed on a violation

    [[noreturn]] void fail(const std::string& what) {
        std::string t;
        for (const std::string& s : trace) t += "  " + s + "\n";
        fuzz::fail(what.c_str(), "steps:\n" + t);
    }

    // Runs one statement with bound values; returns the rows' first columns (as text) or
    // the error. Checks the message invariant on errors when `eskit_call` is set.
    bool run(const std::string& sql, const std::vector<Value>& args, bool eskit_call,
             std::vector<std::vector<Value>>* rows = nullptr) {
        std::string line = sql + " <-";
        for (const Value& v : args) line += " " + v.show();
        trace.push_back(line);
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &st, nullptr) !=
            SQLITE_OK) {
            const std::string m = sqlite3_errmsg(db);
            // Our SQL is well-formed; prepare fails only for a missing 'cold' or a vtab error.
            if (eskit_call) fuzz::check_error(db, sqlite3_extended_errcode(db), line);
            trace.back() += "  => prepare error: " + m;
            return false;
        }
        for (size_t i = 0; i < args.size(); ++i) args[i].bind(st, static_cast<int>(i + 1));
        int rc;
        int n = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (rows && n < kMaxRows) {
                std::vector<Value> row;
                for (int c = 0; c < sqlite3_column_count(st); ++c) {
                    switch (sqlite3_column_type(st, c)) {
                        case SQLITE_INTEGER:
                            row.push_back(Value::integer(sqlite3_column_int64(st, c)));
                            break;
                        case SQLITE_FLOAT:
                            row.push_back(Value::real(sqlite3_column_double(st, c)));
                            break;
                        case SQLITE_TEXT: row.push_back(Value::text(fuzz::str_col(st, c))); break;
                        case SQLITE_BLOB: row.push_back(Value::blob(fuzz::str_col(st, c))); break;
                        default: row.push_back(Value::null());
                    }
                }
                rows->push_back(std::move(row));
            }
            if (++n >= kMaxRows) break;
        }
        bool ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
        if (!ok) {
            if (eskit_call) fuzz::check_error(db, sqlite3_extended_errcode(db), line);
            trace.back() += "  => error: " + std::string(sqlite3_errmsg(db));
        } else {
            trace.back() += "  => ok, " + std::to_string(n) + " rows";
        }
        sqlite3_finalize(st);
        return ok;
    }

    bool call(const std::string& fn, const std::vector<Value>& args) {
        std::string sql = "SELECT " + fn + "(";
        for (size_t i = 0; i < args.size(); ++i) sql += (i ? ", ?" : "?") + std::to_string(i + 1);
        sql += ")";
        std::vector<std::vector<Value>> rows;
        const bool ok = run(sql, args, true, &rows);
        if (ok && (rows.size() != 1 || rows[0].empty())) fail(fn + " did not return one row");
        return ok;
    }

    // index_term: the first WHERE term is on category or type (the index's keys).
    void read_query(FuzzedDataProvider& in, bool index_term = false);
    void diff(const std::string& from, const std::string& where, const std::string& owhere,
              const std::vector<Value>& args, const std::string& order_limit);
    void index_reads(const char* label);
    void index_walk(FuzzedDataProvider& in);
    void fold_probe(FuzzedDataProvider& in, const std::string& stream);
    void count_shape(const std::vector<int64_t>& seqs);
    void check_cold();
    void check_state(bool full);
    void attach_cold(bool file);
    void bulk_append(const std::string& stream, int n, int first);
    void prefill(FuzzedDataProvider& in);
};

void Machine::attach_cold(bool file) {
    if (file) {
        if (run("ATTACH ?1 AS cold", {Value::text(cold_path())}, false)) cold = cold_file = true;
    } else if (run("ATTACH ':memory:' AS cold", {}, false)) {
        cold = true;
        cold_file = false;
    }
}

// One es_append of n events (types A, B, OrderPlaced in turn) to stream, expected -1.
void Machine::bulk_append(const std::string& stream, int n, int first) {
    static const char* const kBulkTypes[] = {"A", "B", "OrderPlaced"};
    std::string j = "[";
    for (int i = 0; i < n; ++i) {
        if (i) j += ",";
        j += "{\"type\":\"" + std::string(kBulkTypes[(first + i) % 3]) +
             "\",\"data\":" + std::to_string(first + i) + "}";
    }
    call("es_append", {Value::text(stream), Value::integer(-1), Value::text(j + "]")});
}

// The prefill: total events over six streams of five categories, in batches.
void Machine::prefill(FuzzedDataProvider& in) {
    static const int kTotals[] = {0, 0, 0, 0, 0, 0, 1, 200, 254, 255, 256, 257, 300, 511, 512, 700};
    static const int kBatches[] = {7, 50, 51, 64};
    static const char* const kPrefillStreams[] = {"s-1", "order-17", "a", "x-y-z", "cold-x", "s-2"};
    const int total = pick(in, kTotals);
    if (total == 0) return;
    const int batch = pick(in, kBatches);
    for (int done = 0, k = 0; done < total; ++k) {
        const int n = std::min(batch, total - done);
        bulk_append(kPrefillStreams[k % 6], n, done);
        done += n;
    }
    trace.push_back("prefill " + std::to_string(total) + " events in batches of " +
                    std::to_string(batch));
}

// SELECT from es_stream/es_all with random constraints, compared with the same query on
// es_events. The oracle: es_stream(s, from) == es_events WHERE stream_id = s AND version >=
// from ORDER BY version; es_all(after) == es_events WHERE seq > after ORDER BY seq.
void Machine::read_query(FuzzedDataProvider& in, bool index_term) {
    const bool is_stream = in.ConsumeBool();
    std::vector<Value> args;
    std::string from = is_stream ? "es_stream" : "es_all";
    std::string oracle_where;  // in terms of es_events, with the same ?N numbering
    bool oracle_ok = true;     // the hidden arguments have a plain-SQL equivalent
    const int nargs = in.ConsumeIntegralInRange<int>(0, 2);
    if (is_stream) {
        if (nargs >= 1) {
            Value s = stream_arg(in);
            // es_stream raises on a non-text id; NULL gives no rows (no oracle for errors).
            if (s.kind != SQLITE_TEXT) oracle_ok = false;
            args.push_back(s);
            from += "(?1";
            oracle_where = "stream_id = ?1";
            if (nargs == 2) {
                Value f = int_arg(in, -2, 5);
                if (f.kind != SQLITE_INTEGER && f.kind != SQLITE_NULL) oracle_ok = false;
                args.push_back(f);
                from += ", ?2";
                oracle_where += " AND version >= ?2";
            }
            from += ")";
        } else {
            oracle_ok = false;  // the stream argument is required: an error
        }
    } else if (nargs >= 1) {
        Value a = int_arg(in, -2, 10);
        if (a.kind != SQLITE_INTEGER && a.kind != SQLITE_NULL) oracle_ok = false;
        args.push_back(a);
        from += "(?1)";
        oracle_where = "seq > ?1";
    }
    // Random WHERE terms on the visible columns.
    static const char* const kTerms[] = {
        "seq = ?",
        "seq > ?",
        "seq >= ?",
        "seq < ?",
        "seq <= ?",
        "seq BETWEEN ? AND ?",
        "version = ?",
        "version > ?",
        "version >= ?",
        "version < ?",
        "version <= ?",
        "version BETWEEN ? AND ?",
        "stream_id = ?",
        "stream_id IN (?, ?)",
        "stream_id IN (?, ?, ?)",
        "category = ?",
        "category IN (?, ?)",
        "type = ?",
        "type IN (?, ?)",
        "type = ? OR category = ?",
        "version = ? OR type = ?",
        "seq > ? AND seq < ?",
        "data IS NOT NULL",
        "codec = ?",
        "event_id = ?",
        "idempotency_key IS NULL",
        "type != ?",
        "+seq > ?",
        "stream_id > ?",
        "category = ? AND type IN (?, ?)",
        "category != ?",
        "category IN (?, ?, ?)",
        "type IN (?, ?, ?)",
        "category = ? AND seq > ?",
    };
    std::string where, owhere;  // for the table function, and the same for es_events
    bool by_category_or_type = false;
    static const char* const kIndexTerms[] = {
        "category = ?",          "category IN (?, ?)",       "type = ?",
        "type IN (?, ?)",        "type = ? OR category = ?", "category = ? AND type IN (?, ?)",
        "category IN (?, ?, ?)", "type IN (?, ?, ?)",        "category = ? AND seq > ?",
    };
    const int nterms = in.ConsumeIntegralInRange<int>(index_term ? 1 : 0, 3);
    for (int t = 0; t < nterms; ++t) {
        std::string term = index_term && t == 0 ? pick(in, kIndexTerms) : pick(in, kTerms);
        if (term.find("category") != std::string::npos || term.find("type") != std::string::npos) {
            by_category_or_type = true;
        }
        std::string out;
        for (char ch : term) {
            if (ch != '?') {
                out.push_back(ch);
                continue;
            }
            Value v;
            if (term.find("seq") != std::string::npos ||
                term.find("version") != std::string::npos) {
                v = in.ConsumeIntegralInRange<int>(0, 4) == 0
                        ? any_value(in)
                        : Value::integer(in.ConsumeIntegralInRange<int>(-1, 8));
            } else if (term.find("stream_id") != std::string::npos) {
                v = stream_arg(in);
            } else if (term.find("category") != std::string::npos) {
                static const char* const kCats[] = {"s", "order", "a", "cold", "x", "S"};
                v = text_or_any(in, kCats, 6);
            } else if (term.find("codec") != std::string::npos) {
                static const char* const kCodecs[] = {"json", "msgpack", "binary"};
                v = text_or_any(in, kCodecs, 3);
            } else if (term.find("event_id") != std::string::npos) {
                static const char* const kIds[] = {"e-1", "e-2", "e-3"};
                v = text_or_any(in, kIds, 3);
            } else {
                v = text_or_any(in, kTypes, sizeof kTypes / sizeof *kTypes);
            }
            args.push_back(v);
            out += "?" + std::to_string(args.size());
        }
        // es_events has no category column (schema 3): the reference derives it.
        std::string oout = out;
        for (size_t at = oout.find("category"); at != std::string::npos;
             at = oout.find("category", at + std::strlen(FUZZ_CATEGORY_SQL))) {
            oout.replace(at, std::strlen("category"), FUZZ_CATEGORY_SQL);
        }
        where += (where.empty() ? "" : " AND ") + ("(" + out + ")");
        owhere += (owhere.empty() ? "" : " AND ") + ("(" + oout + ")");
    }
    static const char* const kOrders[] = {"",
                                          "",
                                          " ORDER BY seq",
                                          " ORDER BY seq DESC",
                                          " ORDER BY version DESC",
                                          " ORDER BY version",
                                          " ORDER BY type, seq",
                                          " ORDER BY type"};
    const std::string order = pick(in, kOrders);
    std::string limit;
    if (in.ConsumeBool()) {
        args.push_back(int_arg(in, -1, 5));
        limit = " LIMIT ?" + std::to_string(args.size());
        if (in.ConsumeBool()) {
            args.push_back(int_arg(in, -1, 4));
            limit += " OFFSET ?" + std::to_string(args.size());
        }
    }
    const std::string cols = "seq, version, stream_id, type";
    const std::string sql = "SELECT " + cols + " FROM " + from +
                            (where.empty() ? "" : " WHERE " + where) + order + limit;
    std::vector<std::vector<Value>> rows;
    const bool ok = run(sql, args, true, &rows);
    if (!ok) return;

    // Order invariant: without a foreign ORDER BY, es_all is in seq order and es_stream in
    // version order (README: "Rows always come in seq order, also with OR").
    const bool desc = order.find("DESC") != std::string::npos;
    if (order.empty() || order == " ORDER BY seq" || order == " ORDER BY seq DESC" ||
        (is_stream && (order == " ORDER BY version" || order == " ORDER BY version DESC"))) {
        for (size_t r = 1; r < rows.size(); ++r) {
            const int64_t a = rows[r - 1][0].i, b = rows[r][0].i;
            if (desc ? !(a > b) : !(a < b)) fail("rows out of order: " + sql);
        }
    }
    if (!oracle_ok || !fuzz::table_exists(db, "main", "es_events")) return;
    if (is_stream && args.empty()) return;
    // The oracle needs the stream to be readable: es_stream raises for tombstoned/moved ones.
    std::string full_where = oracle_where;
    if (!owhere.empty()) full_where += (full_where.empty() ? "" : " AND ") + owhere;
    std::string oorder = order;
    if (oorder.empty()) oorder = is_stream ? " ORDER BY version" : " ORDER BY seq";
    const std::string osql = "SELECT " + cols + " FROM es_events" +
                             (full_where.empty() ? "" : " WHERE " + full_where) + oorder + limit;
    std::vector<std::vector<Value>> orows;
    const size_t keep = trace.size();
    if (!run(osql, args, false, &orows)) fail("oracle query failed: " + osql);
    trace.resize(keep);
    // Exact comparison when the order is total; else compare the sets (no LIMIT) or counts.
    const bool total = order != " ORDER BY type";
    auto seqs = [](const std::vector<std::vector<Value>>& rs) {
        std::vector<int64_t> v;
        for (const auto& r : rs) v.push_back(r[0].i);
        return v;
    };
    std::vector<int64_t> a = seqs(rows), b = seqs(orows);
    if (!total) {
        if (!limit.empty()) {
            if (a.size() != b.size())
                fail("row count differs from es_events: " + sql + " vs " + osql);
            return;
        }
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
    }
    if (a != b) {
        std::string d = " got";
        for (int64_t x : a) d += " " + std::to_string(x);
        d += " expected";
        for (int64_t x : b) d += " " + std::to_string(x);
        fail("es_stream/es_all differ from es_events: " + sql + " | " + osql + d);
    }
    ++g_stats.reads;
    if (by_category_or_type && !a.empty()) count_shape(a);
}

// Reads of categories or types (each compared with es_events) as the tail goes to the bound
// and over it: a read; appends up to the bound (255 unindexed events); a read; appends that
// reach it (the fold) and go on by 0..40 events; a read.
void Machine::fold_probe(FuzzedDataProvider& in, const std::string& stream) {
    auto tail = [this]() -> int64_t {
        if (!fuzz::table_exists(db, "main", "es_events")) return 0;
        return fuzz::query_int(db,
                               "SELECT count(*) FROM es_events WHERE seq > (SELECT value "
                               "FROM es_meta WHERE key = 'indexed_upto')");
    };
    read_query(in, true);
    const int64_t t = tail();
    if (t < fuzz::kTailBound - 1) {
        bulk_append(stream, static_cast<int>(fuzz::kTailBound - 1 - t), 0);
    }
    read_query(in, true);
    bulk_append(stream, 1 + in.ConsumeIntegralInRange<int>(0, 40), 1);
    read_query(in, true);
}

// One read of es_all/es_stream compared with the same query on es_events (owhere: the same
// terms with the category derived from stream_id); order_limit makes the order total.
void Machine::diff(const std::string& from, const std::string& where, const std::string& owhere,
                   const std::vector<Value>& args, const std::string& order_limit) {
    const std::string cols = "seq, version, stream_id, type";
    const std::string sql = "SELECT " + cols + " FROM " + from + " WHERE " + where + order_limit;
    const std::string osql = "SELECT " + cols + " FROM es_events WHERE " + owhere + order_limit;
    std::vector<std::vector<Value>> rows, orows;
    if (!run(sql, args, true, &rows)) fail("index walk read failed: " + sql);
    const size_t keep = trace.size();
    if (!run(osql, args, false, &orows)) fail("oracle query failed: " + osql);
    trace.resize(keep);
    std::vector<int64_t> a, b;
    for (const auto& r : rows) a.push_back(r[0].i);
    for (const auto& r : orows) b.push_back(r[0].i);
    if (a != b) {
        std::string d = " got";
        for (int64_t x : a) d += " " + std::to_string(x);
        d += " expected";
        for (int64_t x : b) d += " " + std::to_string(x);
        fail("es_stream/es_all differ from es_events: " + sql + " | " + osql + d);
    }
    ++g_stats.reads;
    if (!a.empty()) count_shape(a);
}

// The category and type reads of the index walk: every category and type of the walk's
// streams, alone, together, in IN lists, after a position, backwards, with LIMIT, and within
// one stream; each compared with es_events.
void Machine::index_reads(const char* label) {
    trace.push_back(std::string("-- reads: ") + label);
    static const char* const kWalkCats[] = {"s", "order", "a", "x", "cold", "nope"};
    static const char* const kWalkTypes[] = {"A", "B", "OrderPlaced", "nope"};
    const std::string cat = FUZZ_CATEGORY_SQL;
    for (const char* c : kWalkCats) {
        const Value v = Value::text(c);
        diff("es_all()", "category = ?1", cat + " = ?1", {v}, " ORDER BY seq");
        diff("es_all(?2)", "category = ?1", cat + " = ?1 AND seq > ?2", {v, Value::integer(300)},
             " ORDER BY seq DESC LIMIT 7");
        diff("es_all()", "category = ?1 AND type = ?2", cat + " = ?1 AND type = ?2",
             {v, Value::text("B")}, " ORDER BY seq");
    }
    for (const char* t : kWalkTypes) {
        const Value v = Value::text(t);
        diff("es_all()", "type = ?1", "type = ?1", {v}, " ORDER BY seq");
        diff("es_all()", "type IN (?1, 'A') OR category = 'order'",
             "type IN (?1, 'A') OR " + cat + " = 'order'", {v}, " ORDER BY seq DESC LIMIT 50");
        diff("es_stream('s-1')", "type = ?1", "stream_id = 's-1' AND type = ?1", {v},
             " ORDER BY seq");
    }
    diff("es_all()", "category IN ('s', 'x', 'cold')", cat + " IN ('s', 'x', 'cold')", {},
         " ORDER BY seq");
}

// The index walk: reads at every shape of the index, and across the lifecycle calls that
// leave stale index entries (a move out and back, a delete and a new stream of that name, a
// tombstone). Parameters (from the input, defaults when it is empty): a prefill of 0..600
// events in batches of 1..64 over six streams; the tail is then walked up to the bound
// (255), over it (the fold) and on, one append at a time, with reads at chosen points.
void Machine::index_walk(FuzzedDataProvider& in) {
    attach_cold(true);
    FUZZ_CHECK(cold, "ATTACH of cold failed");
    call("es_init", {});
    static const char* const kWalkStreams[] = {"s-1", "order-17", "a", "x-y-z", "cold-x", "s-2"};
    const int total = in.ConsumeIntegralInRange<int>(0, 600);
    const int batch = in.ConsumeIntegralInRange<int>(1, 64);
    for (int done = 0, k = 0; done < total; ++k) {
        const int n = std::min(batch, total - done);
        bulk_append(kWalkStreams[k % 6], n, done);
        done += n;
    }
    trace.push_back("index walk: prefill " + std::to_string(total) + " in batches of " +
                    std::to_string(batch));
    index_reads("after the prefill");
    auto tail = [this]() {
        return fuzz::query_int(db,
                               "SELECT count(*) FROM es_events WHERE seq > (SELECT value "
                               "FROM es_meta WHERE key = 'indexed_upto')");
    };
    // Walk: one event at a time until a fold has passed with something indexed before it
    // (two folds on a store the prefill did not fold), reading at tails 1, 128 and 255 (the
    // bound) and right after each fold.
    const int want_folds =
        fuzz::query_int(db, "SELECT value FROM es_meta WHERE key = 'indexed_upto'") == 0 ? 2 : 1;
    int folds = 0;
    for (int i = 0; folds < want_folds && i < 2 * static_cast<int>(fuzz::kTailBound) + 2; ++i) {
        bulk_append(kWalkStreams[i % 6], 1, i);
        const int64_t t = tail();
        if (t == 0) ++folds;
        if (t == 0 || t == 1 || t == 128 || t == fuzz::kTailBound - 1) {
            index_reads(t == 0 ? "right after a fold" : "tail partly full or at the bound");
        }
    }
    FUZZ_CHECK(folds == want_folds, "the index walk saw " + std::to_string(folds) + " folds");
    // Lifecycle calls that leave index entries pointing at nothing or at another event.
    call("es_archive", {Value::text("order-17"), Value::text("cold")});
    index_reads("order-17 moved to cold");
    call("es_restore", {Value::text("order-17"), Value::text("cold")});
    index_reads("order-17 back from cold");
    call("es_delete", {Value::text("a")});
    bulk_append("a", 3, 7);
    index_reads("a deleted and written again");
    call("es_tombstone", {Value::text("x-y-z"), Value::text("gdpr")});
    index_reads("x-y-z tombstoned");
    call("es_maintain", {});
    index_reads("after es_maintain()");
    check_state(true);
}

// Records the shape of the index a compared category/type read with rows (seqs) met: no
// index yet; every row from the index (tail empty); rows from the index and from a partly full
// tail, or from a tail at the bound (255 events); and a read after a fold that followed an
// earlier such read of the same program.
void Machine::count_shape(const std::vector<int64_t>& seqs) {
    ++g_stats.cat_type;
    const int64_t upto =
        fuzz::query_int(db, "SELECT value FROM es_meta WHERE key = 'indexed_upto'");
    const int64_t tail = fuzz::query_int(
        db,
        "SELECT count(*) FROM es_events WHERE seq > (SELECT value FROM es_meta WHERE key = "
        "'indexed_upto')");
    const bool from_index =
        std::any_of(seqs.begin(), seqs.end(), [&](int64_t q) { return q <= upto; });
    const bool from_tail =
        std::any_of(seqs.begin(), seqs.end(), [&](int64_t q) { return q > upto; });
    if (upto == 0) {
        ++g_stats.no_index;
    } else if (tail == 0) {
        ++g_stats.tail_empty;
    } else if (from_index && from_tail) {
        ++(tail == fuzz::kTailBound - 1 ? g_stats.tail_bound : g_stats.tail_partial);
    }
    if (first_upto < 0) first_upto = upto;
    if (upto > first_upto) ++g_stats.across_fold;  // this program read before a fold, and after
}

// The copies in cold (when the file is attached and has eskit tables): a stream main records
// as archived there is complete there, tagged with the recorded move; every copy there of
// main's streams is one main recorded (the move of its lifecycle row, or a clean-up); no copy
// is partial.
void Machine::check_cold() {
    if (!cold || !cold_file || !fuzz::table_exists(db, "cold", "es_events")) return;
    const char* bad_sql[] = {
        "SELECT count(*) FROM main.es_lifecycle l WHERE l.state = 'archived' AND "
        "l.archive_store = (SELECT value FROM cold.es_meta WHERE key = 'store_id') AND ((SELECT "
        "count(*) FROM cold.es_events e WHERE e.stream_id = l.stream_id) IS NOT l.moved_count OR "
        "NOT EXISTS (SELECT 1 FROM cold.es_lifecycle c WHERE c.stream_id = l.stream_id AND "
        "c.move_id = l.move_id))",
        "SELECT count(*) FROM cold.es_lifecycle c WHERE c.origin_store = (SELECT value FROM "
        "main.es_meta WHERE key = 'store_id') AND NOT EXISTS (SELECT 1 FROM main.es_lifecycle l "
        "WHERE l.stream_id = c.stream_id AND l.move_id = c.move_id) AND NOT EXISTS (SELECT 1 "
        "FROM main.es_cleanups k WHERE k.stream_id = c.stream_id AND k.move_id = c.move_id)",
        "SELECT count(*) FROM cold.es_lifecycle c WHERE c.moved_count IS NOT (SELECT count(*) "
        "FROM cold.es_events e WHERE e.stream_id = c.stream_id)",
        "SELECT count(*) FROM cold.es_events e WHERE NOT EXISTS (SELECT 1 FROM cold.es_lifecycle "
        "c WHERE c.stream_id = e.stream_id)",
        "SELECT (SELECT value FROM cold.es_meta WHERE key = 'store_id') = (SELECT value FROM "
        "main.es_meta WHERE key = 'store_id')",
    };
    for (const char* q : bad_sql) {
        if (fuzz::query_int(db, q) != 0) fail(std::string("cold invariant: ") + q);
    }
}

void Machine::check_state(bool full) {
    fuzz::check_storage(db, full);
    check_cold();
    // es_head never below the highest seq.
    if (fuzz::table_exists(db, "main", "es_events")) {
        const int64_t head = fuzz::query_int(db, "SELECT es_head()");
        const int64_t top = fuzz::query_int(db, "SELECT coalesce(max(seq), 0) FROM es_events");
        if (head < top) fail("es_head below max(seq)");
    }
    if (full) fuzz::check_integrity(db);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 4096) return -1;
    // Inputs of 4 to 8 bytes that start with "\0IDX" run the index walk (the rest are its
    // parameters: tests/fuzz/corpus/calls/index_walk_*); all others are programs. The walk
    // takes a second or two, so longer mutants of it are programs again.
    const bool walk = size >= 4 && size <= 8 && std::memcmp(data, "\0IDX", 4) == 0;
    FuzzedDataProvider in(walk ? data + 4 : data, walk ? size - 4 : size);
    Machine m;
    remove_cold();
    if (sqlite3_open(":memory:", &m.db) != SQLITE_OK) fuzz::fail("open", "");
    FUZZ_CHECK(eskit_register(m.db) == SQLITE_OK, "eskit_register failed");
    if (walk) {
        m.index_walk(in);
        m.check_state(true);
        FUZZ_CHECK(sqlite3_close(m.db) == SQLITE_OK, "sqlite3_close failed (unfinalized stmts)");
        remove_cold();
        if (std::getenv("ESKIT_FUZZ_TRACE")) {
            for (const std::string& t : m.trace) std::fprintf(stderr, "  %s\n", t.c_str());
        }
        return 0;
    }
    if (in.ConsumeBool()) {
        m.attach_cold(in.ConsumeIntegralInRange<int>(0, 3) != 0);
        FUZZ_CHECK(m.cold, "ATTACH of cold failed");
    }
    m.prefill(in);
    int64_t last_head = 0;
    for (int step = 0; step < kMaxSteps && in.remaining_bytes() > 0; ++step) {
        const int op = in.ConsumeIntegralInRange<int>(0, 28);
        switch (op) {
            case 0:
            case 1:
            case 2: {  // es_append, most frequent
                std::vector<Value> a{stream_arg(in), int_arg(in, -3, 4), events_arg(in)};
                if (in.ConsumeBool()) a.push_back(options_arg(in));
                m.call("es_append", a);
                break;
            }
            case 3: m.call("es_init", {}); break;
            case 4: {
                std::vector<std::vector<Value>> rows;
                if (m.run("SELECT es_head()", {}, true, &rows)) {
                    const int64_t h = rows.at(0).at(0).i;
                    // es_head never decreases (also not across deletes), outside rollbacks.
                    if (sqlite3_get_autocommit(m.db) && h < last_head) m.fail("es_head decreased");
                    if (sqlite3_get_autocommit(m.db)) last_head = h;
                }
                break;
            }
            case 5: m.call("es_status", {stream_arg(in)}); break;
            case 6:
            case 7: {  // archive / restore, in place or with a schema
                const char* fn = op == 6 ? "es_archive" : "es_restore";
                if (in.ConsumeBool())
                    m.call(fn, {stream_arg(in)});
                else
                    m.call(fn, {stream_arg(in), schema_arg(in)});
                break;
            }
            case 8: {
                static const char* const kReasons[] = {"gdpr", "", "o'q"};
                Value r = in.ConsumeBool() ? Value::null() : text_or_any(in, kReasons, 3);
                m.call("es_tombstone", {stream_arg(in), r});
                break;
            }
            case 9: m.call("es_delete", {stream_arg(in)}); break;
            case 10:
            case 11: {
                static const char* const kConsumers[] = {"c", "totals", "o'q"};
                Value c = text_or_any(in, kConsumers, 3);
                switch (in.ConsumeIntegralInRange<int>(0, 2)) {
                    case 0: m.call("es_checkpoint", {c}); break;
                    case 1: m.call("es_checkpoint", {c, int_arg(in, -1, 10)}); break;
                    default: m.call("es_checkpoint", {c, int_arg(in, -1, 10), int_arg(in, -1, 10)});
                }
                break;
            }
            case 12:
            case 13: {
                std::vector<Value> a{stream_arg(in), int_arg(in, -1, 4)};
                static const char* const kStates[] = {"{}", "{\"total\":1}", "[1,2]", "nope", ""};
                switch (in.ConsumeIntegralInRange<int>(0, 3)) {
                    case 0: a.push_back(any_value(in)); break;
                    case 1: a.push_back(Value::blob(in.ConsumeRandomLengthString(8))); break;
                    default: a.push_back(text_or_any(in, kStates, 5));
                }
                const int extra = in.ConsumeIntegralInRange<int>(0, 2);
                if (extra >= 1) a.push_back(int_arg(in, -1, 3));
                if (extra >= 2) {
                    static const char* const kCodecs[] = {"json", "binary", "msgpack", ""};
                    a.push_back(text_or_any(in, kCodecs, 4));
                }
                m.call("es_snapshot_save", a);
                break;
            }
            case 14:
                m.call("es_snapshot_invalidate",
                       {in.ConsumeBool() ? Value::null() : stream_arg(in)});
                break;
            case 15: {  // es_wait: never blocks (timeout 0, or invalid timeouts)
                Value t = Value::integer(0);
                switch (in.ConsumeIntegralInRange<int>(0, 5)) {
                    case 0: t = Value::integer(-1); break;
                    case 1: t = Value::null(); break;
                    case 2: t = Value::real(0.5); break;
                    case 3: t = Value::text("0"); break;
                    default: break;
                }
                m.call("es_wait", {int_arg(in, -1, 10), t});
                break;
            }
            case 16:
            case 17:
            case 18: m.read_query(in); break;
            case 19: {  // transactions
                static const char* const kTx[] = {"BEGIN",         "BEGIN IMMEDIATE", "COMMIT",
                                                  "ROLLBACK",      "SAVEPOINT sp",    "RELEASE sp",
                                                  "ROLLBACK TO sp"};
                m.run(pick(in, kTx), {}, false);
                break;
            }
            case 20: {  // the file keeps what was moved there across DETACH and ATTACH
                if (m.cold) {
                    if (m.run("DETACH cold", {}, false)) m.cold = m.cold_file = false;
                } else {
                    m.attach_cold(in.ConsumeIntegralInRange<int>(0, 3) != 0);
                }
                break;
            }
            case 21: m.call(in.ConsumeBool() ? "es_version" : "es_debug", {}); break;
            case 22: m.check_state(true); break;
            case 23: {  // read the cold copy directly (what README tells users to do)
                if (m.cold && fuzz::table_exists(m.db, "cold", "es_events"))
                    m.run("SELECT count(*) FROM cold.es_events", {}, false);
                break;
            }
            case 24: {  // two eskit calls in one statement (re-entrancy)
                m.run("SELECT es_status(?1), es_head(), es_checkpoint('c')", {stream_arg(in)},
                      true);
                break;
            }
            case 25: {  // es_append as a row-by-row reaction inside a read of es_stream
                m.run("SELECT count(*) FROM es_stream(?1)", {stream_arg(in)}, true);
                break;
            }
            case 26: {  // bulk append: enough events to reach the tail bound and fold
                const Value s = stream_arg(in);
                if (s.kind != SQLITE_TEXT) break;
                if (in.ConsumeBool()) {
                    m.bulk_append(s.s, in.ConsumeIntegralInRange<int>(1, 300), step);
                } else {
                    m.fold_probe(in, s.s);  // (-1: stops one short of the bound)
                }
                break;
            }
            case 27: m.call("es_maintain", {}); break;
            default: {
                switch (in.ConsumeIntegralInRange<int>(0, 2)) {
                    case 0: m.call("es_category", {stream_arg(in)}); break;
                    case 1: m.call("es_last_error", {}); break;
                    default: m.call("es_last_append", {}); break;
                }
                break;
            }
        }
        if (sqlite3_get_autocommit(m.db)) m.check_state(step % 8 == 7);
    }
    if (!sqlite3_get_autocommit(m.db)) m.run("ROLLBACK", {}, false);
    m.check_state(true);
    FUZZ_CHECK(sqlite3_close(m.db) == SQLITE_OK, "sqlite3_close failed (unfinalized statements)");
    remove_cold();
    if (std::getenv("ESKIT_FUZZ_TRACE")) {  // the program as run, to read or debug a seed
        for (const std::string& t : m.trace) std::fprintf(stderr, "  %s\n", t.c_str());
    }
    return 0;
}
