/*
** es_stream and es_all: eponymous table-valued functions over es_events (SPEC section 4).
**
**   SELECT * FROM es_stream('order-17');            -- the stream in version order
**   SELECT * FROM es_stream('order-17', 5);         -- from version 5 (inclusive)
**   SELECT * FROM es_stream('order-17') ORDER BY version DESC LIMIT 1;   -- one index seek
**   SELECT * FROM es_all(1200) LIMIT 1000;          -- the global log after seq 1200
**   SELECT * FROM es_all WHERE category = 'order' AND type IN ('Placed', 'Paid');
**
** Schema (both):
**   seq, stream_id, category, version, type, data, metadata, codec, schema_version,
**   event_id, idempotency_key, created_at,
**   es_stream:  stream HIDDEN (1st argument), from_version HIDDEN (2nd argument)
**   es_all:     after_seq HIDDEN (1st argument)
**
** HOW IT WORKS
** xBestIndex accepts every constraint it can evaluate exactly and passes it through argv,
** describing the argv order in idxStr as space-separated tokens:
**   stream=       the es_stream argument              from=     es_stream's from_version
**   after=        es_all's after_seq                   seq<op>   seq with = > >= < <=
**   version<op>   version with = > >= < <=            stream_id= / stream_idIN
**   category= / categoryIN     type= / typeIN          limit / offset
**   cols=<hex>    last and not an argv: the columns the query reads (see below)
** (<col>IN means sqlite3_vtab_in() hands over the whole IN list in one xFilter call.)
** Every accepted constraint is omitted from SQLite's own re-check, which is what makes it safe
** to push LIMIT and OFFSET down: the cursor counts exactly the rows the query returns.
**
** idxNum selects the driving index (the others are filters applied in the cursor):
**   bit 0 (1)   descending order (ORDER BY seq/version DESC consumed)
**   bit 1 (2)   drive by stream_id keys, es_events(stream_id, version)
**   bit 2 (4)   drive by category keys, es_events(category, seq)
**   bit 3 (8)   drive by type keys, es_events(type, seq)
**   none        es_all: seq range on the rowid; es_stream: always its (stream_id, version) range
** idxStr ends with "cols=<hex>", the columns the query reads (colUsed, bit i = column i): the
** cursor's statement selects NULL for the others, so a query of seq and type never copies data.
** With several keys (IN lists) the cursor runs one statement per key and merges them by seq,
** so rows still come out in global order and LIMIT stops the merge early.
*/
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "common.h"

namespace eskit::ext {

namespace {

enum Column {
    kSeq = 0,
    kStreamId,
    kCategory,
    kVersion,
    kType,
    kData,
    kMetadata,
    kCodec,
    kSchemaVersion,
    kEventId,
    kIdempotencyKey,
    kCreatedAt,
    kArg0,  // es_stream: stream; es_all: after_seq
    kArg1,  // es_stream: from_version
};

constexpr const char* kStreamSchema =
    "CREATE TABLE x(seq INTEGER, stream_id TEXT, category TEXT, version INTEGER, type TEXT, "
    "data, metadata TEXT, codec TEXT, schema_version INTEGER, event_id TEXT, "
    "idempotency_key TEXT, created_at INTEGER, stream HIDDEN, from_version HIDDEN)";
constexpr const char* kAllSchema =
    "CREATE TABLE x(seq INTEGER, stream_id TEXT, category TEXT, version INTEGER, type TEXT, "
    "data, metadata TEXT, codec TEXT, schema_version INTEGER, event_id TEXT, "
    "idempotency_key TEXT, created_at INTEGER, after_seq HIDDEN)";

// The statements of kReads (common.cpp) select the visible columns in Column order.
static_assert(kSeq == 0 && kCreatedAt == 11);

enum : int { kDesc = 1, kByStream = 2, kByCategory = 4, kByType = 8 };
// Visible columns as bits (sqlite3_index_info.colUsed), passed on in idxStr as "cols=<hex>".
constexpr uint32_t kVisibleMask = (1u << (kCreatedAt + 1)) - 1;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

struct EventsVtab : sqlite3_vtab {
    Conn* conn;
    bool is_stream;  // es_stream (else es_all)
};

struct Range {
    int64_t lo = kMin;
    int64_t hi = kMax;
    bool empty = false;

    // Narrows the range by `column op value` with SQLite's comparison rules for an INTEGER
    // column: NULL matches nothing, reals bound by their floor/ceiling, text that does not look
    // like a number sorts after every number.
    void apply(const std::string& op, sqlite3_value* v) {
        int t = sqlite3_value_numeric_type(v);
        if (t == SQLITE_NULL) {
            empty = true;
            return;
        }
        if (t == SQLITE_TEXT || t == SQLITE_BLOB) {
            if (op == "=" || op == ">" || op == ">=") empty = true;  // numbers < text < blob
            return;
        }
        if (t == SQLITE_INTEGER) {
            const int64_t x = sqlite3_value_int64(v);
            if (op == "=") {
                lo = std::max(lo, x);
                hi = std::min(hi, x);
            } else if (op == ">") {
                if (x == kMax) empty = true; else lo = std::max(lo, x + 1);
            } else if (op == ">=") {
                lo = std::max(lo, x);
            } else if (op == "<") {
                if (x == kMin) empty = true; else hi = std::min(hi, x - 1);
            } else if (op == "<=") {
                hi = std::min(hi, x);
            }
        } else {
            // A real bound on an integer column: seq > 5.5 is seq >= 6, seq <= 5.5 is seq <= 5.
            const double d = sqlite3_value_double(v);
            if (std::isnan(d)) {
                empty = true;
                return;
            }
            auto to_int = [](double x) -> int64_t {
                if (x <= -9.2e18) return kMin;
                if (x >= 9.2e18) return kMax;
                return static_cast<int64_t>(x);
            };
            if (op == "=") {
                if (std::floor(d) != d) empty = true;
                lo = std::max(lo, to_int(d));
                hi = std::min(hi, to_int(d));
            } else if (op == ">") {
                lo = std::max(lo, to_int(std::floor(d) + 1));
            } else if (op == ">=") {
                lo = std::max(lo, to_int(std::ceil(d)));
            } else if (op == "<") {
                hi = std::min(hi, to_int(std::ceil(d) - 1));
            } else if (op == "<=") {
                hi = std::min(hi, to_int(std::floor(d)));
            }
        }
        if (lo > hi) empty = true;
    }
};

// Set of accepted keys for a TEXT column (= or IN). nullopt: unconstrained.
using KeySet = std::optional<std::vector<std::string>>;

void add_keys(KeySet& set, sqlite3_value* v, bool is_in) {
    std::vector<std::string> keys;
    auto take = [&](sqlite3_value* x) {
        // A TEXT column compares as text with numbers (affinity); NULL and BLOB never match.
        const int t = sqlite3_value_type(x);
        if (t == SQLITE_NULL || t == SQLITE_BLOB) return;
        const auto* s = reinterpret_cast<const char*>(sqlite3_value_text(x));
        if (!s) throw std::bad_alloc();
        keys.emplace_back(s, static_cast<size_t>(sqlite3_value_bytes(x)));
    };
    if (is_in) {
        sqlite3_value* x = nullptr;
        int rc = sqlite3_vtab_in_first(v, &x);
        while (rc == SQLITE_OK && x) {
            take(x);
            rc = sqlite3_vtab_in_next(v, &x);
        }
        if (rc == SQLITE_NOMEM) throw std::bad_alloc();
        if (rc != SQLITE_OK && rc != SQLITE_DONE) throw Error{rc, sqlite3_errstr(rc)};
    } else {
        take(v);
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    if (set) {  // two constraints on one column: keep the intersection
        std::vector<std::string> both;
        std::set_intersection(set->begin(), set->end(), keys.begin(), keys.end(),
                              std::back_inserter(both));
        *set = std::move(both);
    } else {
        set = std::move(keys);
    }
}

bool contains(const KeySet& set, const unsigned char* text, int n) {
    if (!set) return true;
    const std::string_view s(reinterpret_cast<const char*>(text), static_cast<size_t>(n));
    return std::binary_search(set->begin(), set->end(), s,
                              [](const auto& a, const auto& b) {
                                  return std::string_view(a) < std::string_view(b);
                              });
}

struct Source {
    Read kind;
    uint32_t columns;
    sqlite3_stmt* stmt = nullptr;
    bool has_row = false;
};

struct EventsCursor : sqlite3_vtab_cursor {
    Conn* conn = nullptr;
    bool is_stream = false;
    bool desc = false;
    bool eof = true;
    std::vector<Source> sources;
    size_t current = 0;

    Range seq, version;
    KeySet streams, categories, types;
    // Which of the filters the driving SQL does not already guarantee.
    bool check_seq = false, check_version = false;
    bool check_streams = false, check_categories = false, check_types = false;

    int64_t limit = -1;  // < 0: none
    int64_t offset = 0;
    int64_t emitted = 0;

    // Hidden-column values, returned as given.
    std::string arg_stream;
    bool has_arg_stream = false;
    sqlite3_value* arg_num = nullptr;  // from_version (es_stream) or after_seq (es_all)

    ~EventsCursor() {
        release_sources();
        sqlite3_value_free(arg_num);
    }

    void release_sources() {
        for (Source& s : sources) conn->release(s.kind, s.columns, s.stmt);
        sources.clear();
    }

    void step(Source& s) {
        const int rc = sqlite3_step(s.stmt);
        if (rc == SQLITE_ROW) {
            s.has_row = true;
        } else if (rc == SQLITE_DONE) {
            s.has_row = false;
        } else {
            s.has_row = false;
            raise_db(conn->db);
        }
    }

    bool matches(sqlite3_stmt* st) const {
        if (check_seq) {
            const int64_t v = sqlite3_column_int64(st, kSeq);
            if (v < seq.lo || v > seq.hi) return false;
        }
        if (check_version) {
            const int64_t v = sqlite3_column_int64(st, kVersion);
            if (v < version.lo || v > version.hi) return false;
        }
        if (check_streams &&
            !contains(streams, sqlite3_column_text(st, kStreamId), sqlite3_column_bytes(st, kStreamId)))
            return false;
        if (check_categories && !contains(categories, sqlite3_column_text(st, kCategory),
                                          sqlite3_column_bytes(st, kCategory)))
            return false;
        if (check_types &&
            !contains(types, sqlite3_column_text(st, kType), sqlite3_column_bytes(st, kType)))
            return false;
        return true;
    }

    // Positions on the next row that passes every filter (merging sources by seq).
    void settle() {
        if (sources.size() == 1) {  // no merge: skip rows until one passes the filters
            Source& only = sources.front();
            current = 0;
            while (only.has_row && !matches(only.stmt)) step(only);
            eof = !only.has_row;
            return;
        }
        for (;;) {
            size_t best = sources.size();
            int64_t best_seq = 0;
            for (size_t i = 0; i < sources.size(); ++i) {
                if (!sources[i].has_row) continue;
                const int64_t s = sqlite3_column_int64(sources[i].stmt, kSeq);
                if (best == sources.size() || (desc ? s > best_seq : s < best_seq)) {
                    best = i;
                    best_seq = s;
                }
            }
            if (best == sources.size()) {
                eof = true;
                return;
            }
            current = best;
            if (matches(sources[best].stmt)) return;
            step(sources[best]);
        }
    }

    void advance() {
        step(sources[current]);
        settle();
    }
};

// ---------------------------------------------------------------------------------------------

int eventsConnect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out,
                  char** err, bool is_stream) {
    const int rc = sqlite3_declare_vtab(db, is_stream ? kStreamSchema : kAllSchema);
    if (rc != SQLITE_OK) {
        *err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
        return rc;
    }
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
    auto* vtab = new (std::nothrow) EventsVtab{};
    if (!vtab) return SQLITE_NOMEM;
    vtab->conn = static_cast<Conn*>(aux);
    vtab->is_stream = is_stream;
    // A reference of its own: after the extension is registered again on this connection,
    // SQLite may disconnect the old tables only after the old functions released the state.
    ++vtab->conn->refs;
    ++vtab->conn->vtabs;
    *out = vtab;
    return SQLITE_OK;
}

int streamConnect(sqlite3* db, void* aux, int argc, const char* const* argv, sqlite3_vtab** out,
                  char** err) {
    return eventsConnect(db, aux, argc, argv, out, err, true);
}

int allConnect(sqlite3* db, void* aux, int argc, const char* const* argv, sqlite3_vtab** out,
               char** err) {
    return eventsConnect(db, aux, argc, argv, out, err, false);
}

int eventsDisconnect(sqlite3_vtab* p) {
    auto* vtab = static_cast<EventsVtab*>(p);
    Conn* c = vtab->conn;
    if (--c->vtabs == 0) c->finalize_all();
    sqlite3_free(vtab->zErrMsg);
    delete vtab;
    conn_release(c);
    return SQLITE_OK;
}

int eventsOpen(sqlite3_vtab* p, sqlite3_vtab_cursor** out) {
    auto* vtab = static_cast<EventsVtab*>(p);
    auto* cur = new (std::nothrow) EventsCursor{};
    if (!cur) return SQLITE_NOMEM;
    cur->conn = vtab->conn;
    cur->is_stream = vtab->is_stream;
    *out = cur;
    return SQLITE_OK;
}

int eventsClose(sqlite3_vtab_cursor* p) {
    delete static_cast<EventsCursor*>(p);
    return SQLITE_OK;
}

int eventsNext(sqlite3_vtab_cursor* p) {
    auto* cur = static_cast<EventsCursor*>(p);
    return vtab_guard(cur->pVtab, [&] {
        if (cur->limit >= 0 && ++cur->emitted >= cur->limit) {
            cur->eof = true;
        } else {
            cur->advance();
        }
        return SQLITE_OK;
    });
}

int eventsEof(sqlite3_vtab_cursor* p) { return static_cast<EventsCursor*>(p)->eof; }

// Copies a value of the driving statement's current row into the result. Not
// sqlite3_result_value(): for text and blobs it frees and reallocates the result's buffer on
// every row, while the _TRANSIENT setters reuse it (a malloc/free pair per row and column,
// about 5% of a scan). The value is read through sqlite3_value_*, which take no mutex: this
// runs inside the outer statement's step on the same connection, whose mutex is held.
void copy_value(sqlite3_context* ctx, sqlite3_value* v) {
    switch (sqlite3_value_type(v)) {
        case SQLITE_INTEGER:
            sqlite3_result_int64(ctx, sqlite3_value_int64(v));
            break;
        case SQLITE_FLOAT:
            sqlite3_result_double(ctx, sqlite3_value_double(v));
            break;
        case SQLITE_TEXT: {
            const unsigned char* z = sqlite3_value_text(v);
            if (!z) {
                sqlite3_result_error_nomem(ctx);
                break;
            }
            sqlite3_result_text(ctx, reinterpret_cast<const char*>(z), sqlite3_value_bytes(v),
                                SQLITE_TRANSIENT);
            break;
        }
        case SQLITE_BLOB: {
            const void* b = sqlite3_value_blob(v);
            const int n = sqlite3_value_bytes(v);
            if (n == 0) {
                sqlite3_result_zeroblob(ctx, 0);  // a NULL pointer would make it SQL NULL
            } else if (!b) {
                sqlite3_result_error_nomem(ctx);
            } else {
                sqlite3_result_blob(ctx, b, n, SQLITE_TRANSIENT);
            }
            break;
        }
        default:
            break;  // the result is NULL already
    }
}

int eventsColumn(sqlite3_vtab_cursor* p, sqlite3_context* ctx, int col) {
    auto* cur = static_cast<EventsCursor*>(p);
    if (col < kArg0) {
        copy_value(ctx, sqlite3_column_value(cur->sources[cur->current].stmt, col));
    } else if (cur->is_stream && col == kArg0) {
        if (cur->has_arg_stream) {
            sqlite3_result_text(ctx, cur->arg_stream.data(),
                                static_cast<int>(cur->arg_stream.size()), SQLITE_TRANSIENT);
        }
    } else if (cur->arg_num) {
        sqlite3_result_value(ctx, cur->arg_num);
    }
    return SQLITE_OK;
}

int eventsRowid(sqlite3_vtab_cursor* p, sqlite_int64* rowid) {
    auto* cur = static_cast<EventsCursor*>(p);
    *rowid = sqlite3_column_int64(cur->sources[cur->current].stmt, kSeq);
    return SQLITE_OK;
}

// Read rules of SPEC section 4 for es_stream: a tombstoned stream, or one whose events were
// moved to an attached archive, is an error rather than an empty result.
void check_readable(Conn& c, const std::string& stream) {
    const StreamRow row = read_stream(c, stream);
    if (row.state == "tombstoned") raise_tombstoned(stream, row);
    if (row.state == "archived" && !row.archived_to.empty()) {
        raise(SQLITE_CONSTRAINT,
              "archived: stream %Q was moved to archive database %Q; read it from %s.es_events "
              "or es_restore(%Q, %Q)",
              stream.c_str(), row.archived_to.c_str(), quote_ident(row.archived_to).c_str(),
              stream.c_str(), row.archived_to.c_str());
    }
}

/*
** argv order follows the idxStr tokens (see the header comment and eventsBestIndex).
*/
int eventsFilter(sqlite3_vtab_cursor* p, int idxNum, const char* idxStr, int argc,
                 sqlite3_value** argv) {
    auto* cur = static_cast<EventsCursor*>(p);
    return vtab_guard(cur->pVtab, [&] {
        Conn& c = *cur->conn;
        cur->release_sources();
        cur->seq = Range{};
        cur->version = Range{};
        cur->streams.reset();
        cur->categories.reset();
        cur->types.reset();
        cur->limit = -1;
        cur->offset = 0;
        cur->emitted = 0;
        cur->has_arg_stream = false;
        sqlite3_value_free(cur->arg_num);
        cur->arg_num = nullptr;
        cur->desc = (idxNum & kDesc) != 0;
        cur->eof = true;

        bool nothing = false;  // a constraint no row can satisfy
        bool stream_given = false;
        std::string tokens(idxStr ? idxStr : "");
        size_t pos = 0;
        for (int i = 0; i < argc; ++i) {
            const size_t end = tokens.find(' ', pos);
            const std::string tok = tokens.substr(pos, end == std::string::npos ? end : end - pos);
            pos = end == std::string::npos ? tokens.size() : end + 1;
            sqlite3_value* v = argv[i];
            auto op_of = [&](const char* col) { return tok.substr(std::strlen(col)); };
            if (tok == "stream=") {
                stream_given = true;
                if (sqlite3_value_type(v) == SQLITE_NULL) {
                    nothing = true;  // NULL argument: no rows
                    continue;
                }
                cur->arg_stream = std::string(arg_id(v, "es_stream", "stream_id"));
                cur->has_arg_stream = true;
            } else if (tok == "from=" || tok == "after=") {
                const int t = sqlite3_value_type(v);
                if (t != SQLITE_INTEGER && t != SQLITE_NULL) {
                    raise(SQLITE_ERROR, "invalid_argument: %s: %s must be an integer, got %s",
                          cur->is_stream ? "es_stream" : "es_all",
                          cur->is_stream ? "from_version" : "after_seq", describe(v).c_str());
                }
                cur->arg_num = sqlite3_value_dup(v);
                if (!cur->arg_num) throw std::bad_alloc();
                if (tok == "from=") {
                    cur->version.apply(">=", v);  // NULL: no rows
                } else {
                    cur->seq.apply(">", v);
                }
            } else if (tok.rfind("seq", 0) == 0) {
                cur->seq.apply(op_of("seq"), v);
            } else if (tok.rfind("version", 0) == 0) {
                cur->version.apply(op_of("version"), v);
            } else if (tok.rfind("stream_id", 0) == 0) {
                add_keys(cur->streams, v, op_of("stream_id") == "IN");
            } else if (tok.rfind("category", 0) == 0) {
                add_keys(cur->categories, v, op_of("category") == "IN");
            } else if (tok.rfind("type", 0) == 0) {
                add_keys(cur->types, v, op_of("type") == "IN");
            } else if (tok == "limit") {
                // SQLite's rule: a negative LIMIT means no limit.
                const int64_t n = sqlite3_value_int64(v);
                cur->limit = n < 0 ? -1 : n;
            } else if (tok == "offset") {
                cur->offset = std::max<int64_t>(0, sqlite3_value_int64(v));
            }
        }
        if (cur->is_stream && !stream_given) {
            raise(SQLITE_ERROR, "invalid_argument: es_stream: the stream_id argument is required, "
                  "as in es_stream('order-17')");
        }
        if (cur->limit == 0) return SQLITE_OK;
        if (cur->seq.empty || cur->version.empty) return SQLITE_OK;
        if (nothing) return SQLITE_OK;
        for (const KeySet* set : {&cur->streams, &cur->categories, &cur->types}) {
            if (*set && (*set)->empty()) return SQLITE_OK;
        }
        if (cur->is_stream && cur->version.hi < 1) return SQLITE_OK;

        // Which statement(s) drive the scan, and which filters remain for the cursor.
        Read kind;
        std::vector<std::string> keys;
        int64_t lo, hi;
        cur->check_seq = cur->check_version = false;
        cur->check_streams = cur->check_categories = cur->check_types = false;
        if (cur->is_stream) {
            if (!cur->has_arg_stream) return SQLITE_OK;
            kind = cur->desc ? Read::StreamDesc : Read::StreamAsc;
            keys.push_back(cur->arg_stream);
            lo = cur->version.lo;
            hi = cur->version.hi;
            cur->check_seq = cur->seq.lo != kMin || cur->seq.hi != kMax;
            cur->check_streams = cur->streams.has_value();
            cur->check_categories = cur->categories.has_value();
            cur->check_types = cur->types.has_value();
        } else {
            lo = cur->seq.lo;
            hi = cur->seq.hi;
            cur->check_version = cur->version.lo != kMin || cur->version.hi != kMax;
            if (idxNum & kByStream) {
                kind = cur->desc ? Read::ByStreamDesc : Read::ByStreamAsc;
                keys = *cur->streams;
                cur->check_categories = cur->categories.has_value();
                cur->check_types = cur->types.has_value();
            } else if (idxNum & kByCategory) {
                kind = cur->desc ? Read::CategoryDesc : Read::CategoryAsc;
                keys = *cur->categories;
                cur->check_streams = cur->streams.has_value();
                cur->check_types = cur->types.has_value();
            } else if (idxNum & kByType) {
                kind = cur->desc ? Read::TypeDesc : Read::TypeAsc;
                keys = *cur->types;
                cur->check_streams = cur->streams.has_value();
                cur->check_categories = cur->categories.has_value();
            } else {
                kind = cur->desc ? Read::AllDesc : Read::AllAsc;
                keys.emplace_back();  // no key: one source
                cur->check_streams = cur->streams.has_value();
                cur->check_categories = cur->categories.has_value();
                cur->check_types = cur->types.has_value();
            }
        }

        // Columns to read: those the query uses, seq (merge order, rowid) and the columns the
        // cursor still filters on.
        const size_t at = tokens.rfind("cols=");
        uint32_t columns = at == std::string::npos
                               ? kVisibleMask
                               : static_cast<uint32_t>(std::strtoul(tokens.c_str() + at + 5,
                                                                    nullptr, 16)) & kVisibleMask;
        columns |= 1u << kSeq;
        if (cur->check_version) columns |= 1u << kVersion;
        if (cur->check_streams) columns |= 1u << kStreamId;
        if (cur->check_categories) columns |= 1u << kCategory;
        if (cur->check_types) columns |= 1u << kType;

        try {
            // Reading a tombstoned or moved stream is an error. es_all is the global log, which
            // simply no longer holds those events: filtering it by such a stream gives no rows.
            if (cur->is_stream) check_readable(c, cur->arg_stream);

            cur->sources.reserve(keys.size());
            for (const std::string& key : keys) {
                cur->sources.push_back(Source{kind, columns, c.acquire(kind, columns)});
                sqlite3_stmt* s = cur->sources.back().stmt;
                if (kind != Read::AllAsc && kind != Read::AllDesc) {
                    sqlite3_bind_text(s, 1, key.data(), static_cast<int>(key.size()),
                                      SQLITE_TRANSIENT);
                }
                sqlite3_bind_int64(s, 2, lo);
                sqlite3_bind_int64(s, 3, hi);
                cur->step(cur->sources.back());
            }
        } catch (const Error&) {
            // Without the eskit tables (nothing was ever written, or the transaction that
            // created them rolled back) there is nothing to read. Asked only once a statement
            // has failed, so that a read does not pay for a sqlite_schema scan (W6: ~1.5 µs).
            bool tables = true;
            try {
                tables = c.has_schema();
            } catch (const Error&) {
                // keep the read's own error, which is the one that explains the failure
            }
            if (tables) throw;
            cur->release_sources();
            return SQLITE_OK;
        }
        cur->eof = false;
        cur->settle();
        for (int64_t skip = cur->offset; skip > 0 && !cur->eof; --skip) cur->advance();
        return SQLITE_OK;
    });
}

/*
** Builds idxStr/argv as documented at the top of the file. Constraints on hidden arguments
** must be usable (SQLITE_CONSTRAINT otherwise, so the planner picks another join order);
** es_stream without its stream argument is an error.
*/
int eventsBestIndex(sqlite3_vtab* p, sqlite3_index_info* info) {
    auto* vtab = static_cast<EventsVtab*>(p);
    return vtab_guard(p, [&] {
        std::string idx;
        int argv_index = 0;
        bool has_stream_arg = false, stream_arg_unusable = false;
        bool seq_eq = false, seq_range = false, version_eq = false;
        bool by_stream = false, by_category = false, by_type = false;
        bool all_used = true;
        int limit_i = -1, offset_i = -1;

        auto take = [&](int i, const std::string& token) {
            info->aConstraintUsage[i].argvIndex = ++argv_index;
            info->aConstraintUsage[i].omit = 1;
            if (!idx.empty()) idx += ' ';
            idx += token;
        };
        auto op_name = [](unsigned char op) -> const char* {
            switch (op) {
                case SQLITE_INDEX_CONSTRAINT_EQ: return "=";
                case SQLITE_INDEX_CONSTRAINT_GT: return ">";
                case SQLITE_INDEX_CONSTRAINT_GE: return ">=";
                case SQLITE_INDEX_CONSTRAINT_LT: return "<";
                case SQLITE_INDEX_CONSTRAINT_LE: return "<=";
                default: return nullptr;
            }
        };

        for (int i = 0; i < info->nConstraint; ++i) {
            const auto& cons = info->aConstraint[i];
            const int col = cons.iColumn;
            if (cons.op == SQLITE_INDEX_CONSTRAINT_LIMIT || cons.op == SQLITE_INDEX_CONSTRAINT_OFFSET) {
                if (cons.usable) (cons.op == SQLITE_INDEX_CONSTRAINT_LIMIT ? limit_i : offset_i) = i;
                continue;
            }
            const bool hidden = col >= kArg0;
            if (hidden) {
                if (cons.op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
                if (!cons.usable) {
                    if (vtab->is_stream && col == kArg0) stream_arg_unusable = true;
                    else if (!vtab->is_stream || col == kArg1) return SQLITE_CONSTRAINT;
                    continue;
                }
                if (vtab->is_stream && col == kArg0) {
                    has_stream_arg = true;
                    take(i, "stream=");
                } else if (vtab->is_stream) {
                    take(i, "from=");
                } else {
                    take(i, "after=");
                    seq_range = true;
                }
                continue;
            }
            if (!cons.usable) {
                all_used = false;
                continue;
            }
            if (col == kSeq || col == kVersion) {
                const char* op = op_name(cons.op);
                if (!op) {
                    all_used = false;
                    continue;
                }
                const bool eq = cons.op == SQLITE_INDEX_CONSTRAINT_EQ;
                if (col == kSeq) {
                    seq_eq |= eq;
                    seq_range = true;
                } else {
                    version_eq |= eq;
                }
                take(i, std::string(col == kSeq ? "seq" : "version") + op);
                continue;
            }
            if (col == kStreamId || col == kCategory || col == kType) {
                const char* coll = sqlite3_vtab_collation(info, i);
                if (cons.op != SQLITE_INDEX_CONSTRAINT_EQ ||
                    (coll && sqlite3_stricmp(coll, "BINARY") != 0)) {
                    all_used = false;
                    continue;
                }
                const bool in = sqlite3_vtab_in(info, i, -1) != 0;
                if (in) sqlite3_vtab_in(info, i, 1);
                const char* name = col == kStreamId ? "stream_id" : col == kCategory ? "category" : "type";
                take(i, std::string(name) + (in ? "IN" : "="));
                (col == kStreamId ? by_stream : col == kCategory ? by_category : by_type) = true;
                continue;
            }
            all_used = false;  // e.g. data LIKE ...: SQLite checks it, we must not cut rows short
        }

        // Without its stream argument es_stream has no plan. The argument may be missing from
        // this call only because SQLite is costing one branch of an OR (the argument is a
        // term outside it), so instead of an error here this plan is made too dear to win;
        // xFilter raises the error if it is chosen anyway, i.e. the query has no argument.
        if (vtab->is_stream && !has_stream_arg && stream_arg_unusable) return SQLITE_CONSTRAINT;
        const bool missing_stream = vtab->is_stream && !has_stream_arg;

        int idx_num = 0;
        // ORDER BY seq (either table) or version (es_stream) in one direction is our order.
        bool order_ok = true;
        if (info->nOrderBy == 1) {
            const int col = info->aOrderBy[0].iColumn;
            if (col == kSeq || (vtab->is_stream && col == kVersion)) {
                if (info->aOrderBy[0].desc) idx_num |= kDesc;
                info->orderByConsumed = 1;
            } else {
                order_ok = false;
            }
        } else if (info->nOrderBy > 1) {
            order_ok = false;
        }

        if (!vtab->is_stream) {
            if (by_stream) idx_num |= kByStream;
            else if (by_category) idx_num |= kByCategory;
            else if (by_type) idx_num |= kByType;
        }

        double rows;
        if (missing_stream) {
            rows = 1e12;
        } else if (vtab->is_stream) {
            rows = version_eq || seq_eq ? 1 : 1000;
        } else if (seq_eq) {
            rows = 1;
        } else if (by_stream) {
            rows = 1000;
        } else if (by_category || by_type) {
            rows = 10000;
        } else {
            rows = seq_range ? 100000 : 1000000;
        }
        // LIMIT/OFFSET only when the cursor alone decides which rows are returned and in
        // which order; otherwise SQLite would filter or sort after we stopped.
        if (all_used && order_ok) {
            if (limit_i >= 0) {
                take(limit_i, "limit");
                rows = std::min(rows, 10.0);
            }
            if (offset_i >= 0) take(offset_i, "offset");
        }
        info->estimatedRows = static_cast<sqlite3_int64>(rows);
        // es_all: every plan that uses a constraint costs more than half a full scan. SQLite
        // may answer `WHERE a OR b` by running one plan per branch and concatenating them,
        // which breaks seq order (and pages read with LIMIT would skip events); two such plans
        // now cost more than one scan that evaluates the OR, while a single constraint still
        // wins over the scan, and the row estimate still ranks the indexes against each other.
        info->estimatedCost = vtab->is_stream || rows >= 1000000 ? rows : 600000 + rows;
        info->idxNum = idx_num;
        // Not an argv token: the visible columns the query reads (colUsed), in hex.
        idx += format("%scols=%x", idx.empty() ? "" : " ",
                      static_cast<unsigned>(info->colUsed & kVisibleMask));
        info->idxStr = sqlite3_mprintf("%s", idx.c_str());
        if (!info->idxStr) return SQLITE_NOMEM;
        info->needToFreeIdxStr = 1;
        return SQLITE_OK;
    });
}

sqlite3_module make_module(bool is_stream) {
    sqlite3_module m{};
    m.iVersion = 0;
    m.xCreate = nullptr;  // eponymous-only: es_stream(...) / es_all(...) need no CREATE
    m.xConnect = is_stream ? streamConnect : allConnect;
    m.xBestIndex = eventsBestIndex;
    m.xDisconnect = eventsDisconnect;
    m.xDestroy = nullptr;
    m.xOpen = eventsOpen;
    m.xClose = eventsClose;
    m.xFilter = eventsFilter;
    m.xNext = eventsNext;
    m.xEof = eventsEof;
    m.xColumn = eventsColumn;
    m.xRowid = eventsRowid;
    return m;
}

const sqlite3_module kStreamModule = make_module(true);
const sqlite3_module kAllModule = make_module(false);

}  // namespace

int register_stream_vtab(sqlite3* db, Conn* c) {
    ++c->refs;
    return sqlite3_create_module_v2(db, "es_stream", &kStreamModule, c, conn_release);
}

int register_all_vtab(sqlite3* db, Conn* c) {
    ++c->refs;
    return sqlite3_create_module_v2(db, "es_all", &kAllModule, c, conn_release);
}

}  // namespace eskit::ext
