// libFuzzer target: sequences of calls of the whole SQL surface of eskit.
//
// The input is a small program. Each step takes an opcode byte and then draws the arguments
// from the following bytes (FuzzedDataProvider): every es_ function (es_append, es_init,
// es_head, es_status, es_archive/es_restore with and without the attached ':memory:' schema
// 'cold', es_tombstone, es_delete, es_checkpoint with 1/2/3 arguments, es_snapshot_save with
// 3/4/5, es_snapshot_invalidate, es_wait with timeout 0, es_version/es_debug), SELECTs from
// es_stream and es_all with random WHERE / ORDER BY / LIMIT / OFFSET, transactions and
// savepoints, ATTACH/DETACH of 'cold'. Arguments are of random types: NULL, integers including
// the extremes, reals (NaN, infinities, fractions), short/long/empty texts with quotes and NUL
// bytes, blobs, and well-formed stream ids, schema names and event batches, so the deep paths
// are reached as often as the validation paths.
//
// After every step: an error message starts with a stable code with its documented result
// code (or is SQLite's own) and is never empty; es_stream/es_all return exactly the rows of the
// equivalent query on es_events, in seq (version) order; every few steps the storage
// invariants of fuzz_common.h and PRAGMA integrity_check. A violation abort()s.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "eskit.h"
#include "fuzz_common.h"

namespace {

constexpr int kMaxSteps = 48;
constexpr int kMaxRows = 2000;

const char* const kStreams[] = {"s-1", "s-2", "order-17", "a", "cold-x", "o'q-1", "s-1 ",
                                "S-1", "x-y-z", "\xc3\xa9-1"};
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
const int64_t kInts[] = {0, 1, 2, 3, -1, -2, -3, 5, 100,
                         std::numeric_limits<int64_t>::max(),
                         std::numeric_limits<int64_t>::min(),
                         std::numeric_limits<int64_t>::max() - 1,
                         std::numeric_limits<int64_t>::min() + 1,
                         std::numeric_limits<int32_t>::max(),
                         static_cast<int64_t>(std::numeric_limits<int32_t>::max()) + 1,
                         std::numeric_limits<int32_t>::min(),
                         1024, 1025, 4294967296LL};
const double kReals[] = {0.0, -0.0, 0.5, 1.0, 1.5, -1.5, 2.9999999, 1e300, -1e300, 9.2e18,
                         9.3e18, -9.3e18, 1e-300,
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
            std::string ev = "{\"type\":\"" + t + "\",\"data\":" +
                             std::to_string(in.ConsumeIntegralInRange<int>(0, 3));
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

struct Machine {
    sqlite3* db = nullptr;
    bool cold = false;
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
                        case SQLITE_INTEGER: row.push_back(Value::integer(sqlite3_column_int64(st, c))); break;
                        case SQLITE_FLOAT: row.push_back(Value::real(sqlite3_column_double(st, c))); break;
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

    void read_query(FuzzedDataProvider& in);
    void check_state(bool full);
};

// SELECT from es_stream/es_all with random constraints, compared with the same query on
// es_events. The oracle: es_stream(s, from) == es_events WHERE stream_id = s AND version >=
// from ORDER BY version; es_all(after) == es_events WHERE seq > after ORDER BY seq.
void Machine::read_query(FuzzedDataProvider& in) {
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
        "seq = ?", "seq > ?", "seq >= ?", "seq < ?", "seq <= ?", "seq BETWEEN ? AND ?",
        "version = ?", "version > ?", "version >= ?", "version < ?", "version <= ?",
        "version BETWEEN ? AND ?", "stream_id = ?", "stream_id IN (?, ?)",
        "stream_id IN (?, ?, ?)", "category = ?", "category IN (?, ?)", "type = ?",
        "type IN (?, ?)", "type = ? OR category = ?", "version = ? OR type = ?",
        "seq > ? AND seq < ?", "data IS NOT NULL", "codec = ?", "event_id = ?",
        "idempotency_key IS NULL", "type != ?", "+seq > ?", "stream_id > ?",
    };
    std::string where;
    const int nterms = in.ConsumeIntegralInRange<int>(0, 3);
    for (int t = 0; t < nterms; ++t) {
        std::string term = pick(in, kTerms);
        std::string out;
        for (char ch : term) {
            if (ch != '?') {
                out.push_back(ch);
                continue;
            }
            Value v;
            if (term.find("seq") != std::string::npos || term.find("version") != std::string::npos) {
                v = in.ConsumeIntegralInRange<int>(0, 4) == 0 ? any_value(in)
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
        where += (where.empty() ? "" : " AND ") + ("(" + out + ")");
    }
    static const char* const kOrders[] = {"", "", " ORDER BY seq", " ORDER BY seq DESC",
                                          " ORDER BY version DESC", " ORDER BY version",
                                          " ORDER BY type, seq", " ORDER BY type"};
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
    if (!where.empty()) full_where += (full_where.empty() ? "" : " AND ") + where;
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
            if (a.size() != b.size()) fail("row count differs from es_events: " + sql + " vs " + osql);
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
}

void Machine::check_state(bool full) {
    fuzz::check_storage(db);
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
    FuzzedDataProvider in(data, size);
    Machine m;
    if (sqlite3_open(":memory:", &m.db) != SQLITE_OK) fuzz::fail("open", "");
    FUZZ_CHECK(eskit_register(m.db) == SQLITE_OK, "eskit_register failed");
    if (in.ConsumeBool()) {
        fuzz::exec_ok(m.db, "ATTACH ':memory:' AS cold");
        m.cold = true;
    }
    int64_t last_head = 0;
    for (int step = 0; step < kMaxSteps && in.remaining_bytes() > 0; ++step) {
        const int op = in.ConsumeIntegralInRange<int>(0, 25);
        switch (op) {
            case 0: case 1: case 2: {  // es_append, most frequent
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
            case 6: case 7: {  // archive / restore, in place or with a schema
                const char* fn = op == 6 ? "es_archive" : "es_restore";
                if (in.ConsumeBool()) m.call(fn, {stream_arg(in)});
                else m.call(fn, {stream_arg(in), schema_arg(in)});
                break;
            }
            case 8: {
                static const char* const kReasons[] = {"gdpr", "", "o'q"};
                Value r = in.ConsumeBool() ? Value::null() : text_or_any(in, kReasons, 3);
                m.call("es_tombstone", {stream_arg(in), r});
                break;
            }
            case 9: m.call("es_delete", {stream_arg(in)}); break;
            case 10: case 11: {
                static const char* const kConsumers[] = {"c", "totals", "o'q"};
                Value c = text_or_any(in, kConsumers, 3);
                switch (in.ConsumeIntegralInRange<int>(0, 2)) {
                    case 0: m.call("es_checkpoint", {c}); break;
                    case 1: m.call("es_checkpoint", {c, int_arg(in, -1, 10)}); break;
                    default: m.call("es_checkpoint", {c, int_arg(in, -1, 10), int_arg(in, -1, 10)});
                }
                break;
            }
            case 12: case 13: {
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
            case 14: m.call("es_snapshot_invalidate", {in.ConsumeBool() ? Value::null() : stream_arg(in)}); break;
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
            case 16: case 17: case 18: m.read_query(in); break;
            case 19: {  // transactions
                static const char* const kTx[] = {"BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK",
                                                  "SAVEPOINT sp", "RELEASE sp", "ROLLBACK TO sp"};
                m.run(pick(in, kTx), {}, false);
                break;
            }
            case 20: {
                if (m.cold) {
                    if (m.run("DETACH cold", {}, false)) m.cold = false;
                } else if (m.run("ATTACH ':memory:' AS cold", {}, false)) {
                    m.cold = true;
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
                m.run("SELECT es_status(?1), es_head(), es_checkpoint('c')", {stream_arg(in)}, true);
                break;
            }
            default: {  // es_append as a row-by-row reaction inside a read of es_stream
                m.run("SELECT count(*) FROM es_stream(?1)", {stream_arg(in)}, true);
                break;
            }
        }
        if (sqlite3_get_autocommit(m.db)) m.check_state(step % 8 == 7);
    }
    if (!sqlite3_get_autocommit(m.db)) m.run("ROLLBACK", {}, false);
    m.check_state(true);
    FUZZ_CHECK(sqlite3_close(m.db) == SQLITE_OK, "sqlite3_close failed (unfinalized statements)");
    return 0;
}
