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
** xBestIndex hands the constraints to plan() (read_plan.h, where idxStr and idxNum are
** documented); xFilter reads the plan back with parse_plan(), binds the values, and runs one
** Source per driving key (one in total without keys). A source is a sequence of segments, each
** an inner statement over a range of the order column: the stream's versions, a seq range of
** the log, or for a category or type the key's index blocks up to 'indexed_upto' followed by
** the tail after it (postings.h). Several sources (IN lists) are merged by seq, so rows still
** come out in global order and LIMIT stops the merge early.
**
** The inner statements select only the columns the query reads (idxStr's cols=, plus what the
** cursor filters or orders on), NULL for the rest, so a query of seq and type never copies data.
** Column 2 (category, not stored) is computed from the stream id.
**
** A host may reset or finalize every statement of the connection while a cursor is open (a
** reset-all or finalize-all loop between two rows). Each inner statement carries a run flag
** (cursor_stmt.h) that is up while it runs: a source whose flag went down while it held a row
** runs its segment again from that row's position on the order column (in a statement prepared
** anew when the host finalized its own), so no row is delivered twice or skipped, and no column
** is read from a statement that is not running.
*/
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "boundary.h"
#include "cursor_stmt.h"
#include "ids.h"
#include "postings.h"
#include "read_plan.h"
#include "schema.h"
#include "streams.h"

namespace eskit::ext {

namespace {

constexpr const char* kStreamSchema =
    "CREATE TABLE x(seq INTEGER, stream_id TEXT, category TEXT, version INTEGER, type TEXT, "
    "data, metadata TEXT, codec TEXT, schema_version INTEGER, event_id TEXT, "
    "idempotency_key TEXT, created_at INTEGER, stream HIDDEN, from_version HIDDEN)";
constexpr const char* kAllSchema =
    "CREATE TABLE x(seq INTEGER, stream_id TEXT, category TEXT, version INTEGER, type TEXT, "
    "data, metadata TEXT, codec TEXT, schema_version INTEGER, event_id TEXT, "
    "idempotency_key TEXT, created_at INTEGER, after_seq HIDDEN)";

static_assert(kSeq == 0 && kCreatedAt == 11 && kArg0 == 12, "schemas above list kColumnNames");

struct EventsVtab : sqlite3_vtab {
    Conn* conn;
    bool is_stream;  // es_stream (else es_all)
    // The plan xFilter read last: a statement runs its plan again and again (a stream load in
    // a loop), and idxStr is the same text each time.
    std::string last_idx_str;
    ParsedPlan last_plan;

    const ParsedPlan& plan_of(const char* idx_str) {
        if (!idx_str) idx_str = "";
        if (last_idx_str != idx_str) {
            last_plan = parse_plan(idx_str);
            last_idx_str = idx_str;
        }
        return last_plan;
    }
};

// The inner statements. ?1 the driving key, ?2..?3 the inclusive range on the order column,
// ?4 the index kind (Index) or the seq an event id carries (EventId), ?5 the source's run flag.
enum class Shape : int { Stream = 0, All, ByStream, Index, EventId };

constexpr int kRunParam = 5;

bool has_key(Shape s) { return s != Shape::All; }

std::string shape_sql(Shape shape, bool desc, uint32_t columns) {
    std::string sql = "SELECT ";
    for (int i = 0; i < kVisibleColumns; ++i) {
        if (i) sql += ", ";
        if (!((columns >> i) & 1)) {
            sql += "NULL";
        } else {
            sql += "e.";
            sql += i == kCategory ? "stream_id" : kColumnNames[i];  // category is computed
        }
    }
    const char* dir = desc ? " DESC" : "";
    switch (shape) {
        case Shape::Stream:
            return sql +
                   " FROM main.es_events AS e WHERE eskit_running(?5) AND e.stream_id = ?1 "
                   "AND e.version BETWEEN ?2 AND ?3 ORDER BY e.version" +
                   dir;
        case Shape::All:
            return sql +
                   " FROM main.es_events AS e WHERE eskit_running(?5) AND e.seq BETWEEN ?2 "
                   "AND ?3 ORDER BY e.seq" +
                   dir;
        case Shape::ByStream:
            // Within one stream version order is seq order: the (stream_id, version) index
            // yields seq order without a sort.
            return sql +
                   " FROM main.es_events AS e WHERE eskit_running(?5) AND e.stream_id = ?1 "
                   "AND e.seq BETWEEN ?2 AND ?3 ORDER BY e.version" +
                   dir;
        case Shape::Index:
            return sql +
                   " FROM es_index_seqs(?4, ?1, ?2, ?3) AS i CROSS JOIN main.es_events AS e "
                   "ON e.seq = i.seq WHERE eskit_running(?5) ORDER BY i.seq" +
                   dir;
        case Shape::EventId:
            // The indexed id's seq, else the seq a generated id carries (?4); ids are unique,
            // so the index entry wins. A scalar, not IN (...): IN builds an ephemeral table.
            return sql +
                   " FROM main.es_events AS e WHERE eskit_running(?5) AND e.seq = "
                   "coalesce((SELECT seq FROM main.es_event_ids WHERE event_id = ?1), ?4) "
                   "AND e.event_id = ?1 AND e.seq BETWEEN ?2 AND ?3";
    }
    return sql;
}

uint64_t shape_id(Shape shape, bool desc, uint32_t columns) {
    // Below 16: es_index_seqs's own shapes (postings.cpp).
    return (uint64_t{columns} << 8) | (static_cast<uint64_t>(shape) << 1) | (desc ? 1 : 0) |
           0x10000000000ULL;
}

struct Segment {
    Shape shape;
    int64_t lo, hi;  // on the order column (version for Stream, else seq)
};

// A restart finds es_stream's order (version) from the seq it placed the source at: a cursor
// reads no version unless asked for it.
const Query kVersionAt{"SELECT version FROM main.es_events WHERE seq = ?1 AND stream_id = ?2"};

// Reading a row's seq costs a column fetch: a single source places itself (see Source) only
// every kPlaceEvery rows, a merge on every row, as it orders by seq.
constexpr int64_t kPlaceEvery = 64;

struct Source {
    std::string key;
    // Index-driven sources check every row's key against their own (see postings.h): the
    // index narrows the scan, the tail is a plain scan, and several keys scan the same tail.
    int key_column = -1;      // kCategory or kType, or -1
    int64_t kind_or_seq = 0;  // ?4
    bool has_kind_or_seq = false;
    std::vector<Segment> segments;
    size_t seg = 0;
    ReadStmt stmt;  // empty once the last segment ended
    uint64_t shape = 0;
    RunWatch run;          // up while stmt runs, and so still holds the pending row
    bool has_row = false;  // a pending row: the next one this source delivers
    // Where a restart finds the pending row again: `since` rows after the one of seq `at`,
    // both of the current segment (see reposition()). In a merge, since is 0.
    int64_t at = 0;
    int64_t since = 0;
};

// What the query's constraints asked for, once xFilter has bound them.
struct Wanted {
    Range seq, version;
    KeySet streams, categories, types, event_ids;
    int64_t limit = -1;  // < 0: none
    int64_t offset = 0;
    bool nothing = false;  // a constraint no row can satisfy
    bool stream_given = false;
    std::string arg_stream;
    bool has_arg_stream = false;
};

struct EventsCursor : sqlite3_vtab_cursor {
    Conn* conn = nullptr;
    bool is_stream = false;
    bool desc = false;
    bool eof = true;
    uint32_t columns = kVisibleMask;
    std::vector<Source> sources;
    size_t current = 0;
    Wanted want;
    // Which filters the driving statements do not already guarantee.
    bool check_seq = false, check_version = false, check_streams = false, check_categories = false,
         check_types = false, check_event_ids = false;
    bool filters = false;  // any of them, or a source checks its key
    int64_t emitted = 0;
    sqlite3_value* arg_num = nullptr;  // from_version (es_stream) or after_seq (es_all), as given

    ~EventsCursor() {
        release_sources();
        sqlite3_value_free(arg_num);
    }

    void release_sources() noexcept {
        for (Source& s : sources) conn->release_read(s.shape, s.stmt, s.run.running());
        sources.clear();
    }

    void bind_segment(Source& s, const Segment& g) {
        sqlite3_stmt* st = s.stmt.stmt;
        int rc = SQLITE_OK;
        if (has_key(g.shape)) {
            rc = sqlite3_bind_text(st, 1, s.key.data(), static_cast<int>(s.key.size()),
                                   SQLITE_STATIC);
        }
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, g.lo);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 3, g.hi);
        if (rc == SQLITE_OK && (g.shape == Shape::Index || g.shape == Shape::EventId)) {
            rc = s.has_kind_or_seq ? sqlite3_bind_int64(st, 4, s.kind_or_seq)
                                   : sqlite3_bind_null(st, 4);
        }
        if (rc == SQLITE_OK) rc = s.run.bind(st, kRunParam);
        if (rc != SQLITE_OK) raise_db(conn->db);
    }

    // Opens segment s.seg of the source: the statement it holds if of the segment's shape, else
    // one from the pool, bound from the segment's range. What s holds is known to exist, and
    // the pool is validated since the host last ran.
    void open_segment(Source& s) {
        const Segment& g = s.segments[s.seg];
        const uint64_t shape = shape_id(g.shape, desc, columns);
        if (s.stmt && s.shape != shape) conn->release_read(s.shape, s.stmt, true);
        if (!s.stmt) {
            s.stmt = conn->acquire_read(shape, [&] { return shape_sql(g.shape, desc, columns); });
            s.shape = shape;
        } else {
            sqlite3_reset(s.stmt.stmt);
        }
        s.has_row = false;
        s.since = kPlaceEvery;  // the first row places the source
        bind_segment(s, g);
    }

    // Steps the statement of s to its next row, through the following segments when one ends.
    void fetch(Source& s) {
        if (step_row(s)) return;
        while (s.seg + 1 < s.segments.size()) {
            OwnSqlScope own(conn->db);  // prepares, or SQLite re-prepares at the first step
            ++s.seg;
            conn->validate_statements();  // the pool, as the host may have left it
            open_segment(s);
            if (step_row(s)) return;
        }
        conn->release_read(s.shape, s.stmt, true);  // it ran just now
    }

    bool step_row(Source& s) {
        const int rc = sqlite3_step(s.stmt.stmt);
        s.has_row = rc == SQLITE_ROW;
        if (rc == SQLITE_ROW) {
            if (sources.size() > 1 || s.since + 1 >= kPlaceEvery) {
                s.at = sqlite3_column_int64(s.stmt.stmt, kSeq);
                s.since = 0;
            } else {
                ++s.since;
            }
            return true;
        }
        if (rc != SQLITE_DONE) throw step_error(s.stmt.stmt);
        return false;
    }

    // Narrows the segment of s to start again at the placed row (seq `at`).
    void narrow_to_placed(Source& s) {
        Segment& g = s.segments[s.seg];
        if (g.shape != Shape::Stream) {
            (desc ? g.hi : g.lo) = s.at;
            return;
        }
        Stmt v = conn->use(kVersionAt);
        v.bind(1, s.at).bind(2, s.key);
        if (v.step_row()) {
            (desc ? g.hi : g.lo) = v.int64(0);
        } else {  // the stream left the log meanwhile (a write of this connection): it ended
            g.lo = 1;
            g.hi = 0;
        }
    }

    // The host reset or finalized the statement of s while it held the pending row: runs the
    // segment again from the placed row, in a statement known to exist, and passes over the
    // rows up to the pending one (past: 0) or just after it (past: 1). The outer statement's
    // read transaction keeps the snapshot, so the rows come back as they were.
    void reposition(Source& s, int past) {
        OwnSqlScope own(conn->db);
        conn->validate_statements();
        if (!conn->owns(s.stmt)) s.stmt = {};  // finalized: prepared again
        const int64_t skip = s.since + past;
        narrow_to_placed(s);
        const size_t seg = s.seg;
        open_segment(s);
        fetch(s);
        for (int64_t k = 0; k < skip && s.has_row && s.seg == seg; ++k) fetch(s);
    }

    void step(Source& s) {
        if (s.has_row && !s.run.running()) {
            reposition(s, 1);
        } else {
            fetch(s);
        }
    }

    // Before the pending row of s is read: fetched again when the host stopped its statement
    // since.
    void refresh(Source& s) {
        if (s.has_row && !s.run.running()) reposition(s, 0);
    }

    std::string_view text(sqlite3_stmt* st, int col) const {
        const auto* t = static_cast<const char*>(sqlite3_column_blob(st, col));
        return {t ? t : "", static_cast<size_t>(sqlite3_column_bytes(st, col))};
    }

    bool matches(const Source& s) const {
        if (!filters) return true;
        sqlite3_stmt* st = s.stmt.stmt;
        if (s.key_column == kCategory && category_of(text(st, kStreamId)) != s.key) return false;
        if (s.key_column == kType && text(st, kType) != s.key) return false;
        if (check_seq && !want.seq.contains(sqlite3_column_int64(st, kSeq))) return false;
        if (check_version && !want.version.contains(sqlite3_column_int64(st, kVersion)))
            return false;
        if (check_streams && !want.streams.contains(text(st, kStreamId))) return false;
        if (check_categories && !want.categories.contains(category_of(text(st, kStreamId)))) {
            return false;
        }
        if (check_types && !want.types.contains(text(st, kType))) return false;
        if (check_event_ids && !want.event_ids.contains(text(st, kEventId))) return false;
        return true;
    }

    // The source whose pending row comes next in seq order (a merge places every row), or
    // nullptr.
    Source* next_in_order() {
        Source* best = nullptr;
        for (Source& s : sources) {
            if (s.has_row && (!best || (desc ? s.at > best->at : s.at < best->at))) best = &s;
        }
        return best;
    }

    // Positions on the next row that passes every filter (merging sources by seq). A single
    // source was stepped in this callback; merged ones may hold rows from earlier callbacks.
    void settle() {
        if (sources.size() == 1) {  // no merge
            Source& only = sources.front();
            current = 0;
            while (only.has_row && !matches(only)) step(only);
            eof = !only.has_row;
            return;
        }
        for (;;) {
            Source* best = next_in_order();
            if (!best) {
                eof = true;
                return;
            }
            // Re-picked only when the row moved: a flag that cannot rise (out of memory in
            // eskit_running) would otherwise refresh the same source forever.
            if (const int64_t seq = best->at; !best->run.running()) {
                refresh(*best);
                if (!best->has_row || best->at != seq) continue;
            }
            current = static_cast<size_t>(best - sources.data());
            if (matches(*best)) return;
            step(*best);
        }
    }

    void advance() {
        step(sources[current]);
        settle();
    }
};

// ---------------------------------------------------------------------------------------------

int eventsConnect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char** err,
                  bool is_stream) {
    int rc = SQLITE_OK;
    {
        OwnSqlScope own(db);  // the schema is SQL too, longer than a host's lowered limit
        rc = sqlite3_declare_vtab(db, is_stream ? kStreamSchema : kAllSchema);
    }
    if (rc != SQLITE_OK) {
        *err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
        return rc;
    }
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
    auto* vtab = new (std::nothrow) EventsVtab();
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
    return vtab_guard(cur->pVtab, *cur->conn, [&] {
        if (cur->want.limit >= 0 && ++cur->emitted >= cur->want.limit) {
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
// every row, while the _TRANSIENT setters reuse it. The value is read through sqlite3_value_*,
// which take no mutex: this runs inside the outer statement's step, whose mutex is held.
void copy_value(sqlite3_context* ctx, sqlite3_value* v) {
    switch (sqlite3_value_type(v)) {
        case SQLITE_INTEGER: sqlite3_result_int64(ctx, sqlite3_value_int64(v)); break;
        case SQLITE_FLOAT: sqlite3_result_double(ctx, sqlite3_value_double(v)); break;
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
        default: break;  // the result is NULL already
    }
}

// The statement holding the current row. A function of the host's statement may have stopped
// ours between two columns of one row (a reset-all inside a scalar function): then the row is
// fetched again first.
int current_row(EventsCursor* cur, sqlite3_stmt** out) {
    Source& s = cur->sources[cur->current];
    if (!s.run.running()) {
        const int rc = vtab_guard(cur->pVtab, *cur->conn, [&] {
            cur->refresh(s);
            return SQLITE_OK;
        });
        if (rc != SQLITE_OK) return rc;
    }
    *out = s.has_row ? s.stmt.stmt : nullptr;  // nullptr: the row left the log meanwhile
    return SQLITE_OK;
}

int eventsColumn(sqlite3_vtab_cursor* p, sqlite3_context* ctx, int col) {
    auto* cur = static_cast<EventsCursor*>(p);
    sqlite3_stmt* row = nullptr;
    if (col < kArg0) {
        const int rc = current_row(cur, &row);
        if (rc != SQLITE_OK || !row) return rc;
    }
    if (col == kCategory) {
        sqlite3_value* v = sqlite3_column_value(row, kCategory);
        if (sqlite3_value_type(v) == SQLITE_NULL) return SQLITE_OK;
        const auto* t = reinterpret_cast<const char*>(sqlite3_value_text(v));
        if (!t) return SQLITE_NOMEM;
        const std::string_view c = category_of({t, static_cast<size_t>(sqlite3_value_bytes(v))});
        sqlite3_result_text(ctx, c.data(), static_cast<int>(c.size()), SQLITE_TRANSIENT);
    } else if (col < kArg0) {
        copy_value(ctx, sqlite3_column_value(row, col));
    } else if (cur->is_stream && col == kArg0) {
        if (cur->want.has_arg_stream) {
            sqlite3_result_text(ctx, cur->want.arg_stream.data(),
                                static_cast<int>(cur->want.arg_stream.size()), SQLITE_TRANSIENT);
        }
    } else if (cur->arg_num) {
        sqlite3_result_value(ctx, cur->arg_num);
    }
    return SQLITE_OK;
}

int eventsRowid(sqlite3_vtab_cursor* p, sqlite_int64* rowid) {
    sqlite3_stmt* row = nullptr;
    const int rc = current_row(static_cast<EventsCursor*>(p), &row);
    *rowid = row ? sqlite3_column_int64(row, kSeq) : 0;
    return rc;
}

// ---------------------------------------------------------------------------------------------
// xFilter: binding the plan's values.

std::vector<std::string> key_values(sqlite3_value* v, bool in_list) {
    std::vector<std::string> keys;
    auto take = [&](sqlite3_value* x) {
        // A TEXT column compares as text with numbers (affinity); NULL and BLOB never match.
        const int t = sqlite3_value_type(x);
        if (t == SQLITE_NULL || t == SQLITE_BLOB) return;
        const auto* s = reinterpret_cast<const char*>(sqlite3_value_text(x));
        if (!s) throw std::bad_alloc();
        keys.emplace_back(s, static_cast<size_t>(sqlite3_value_bytes(x)));
    };
    if (!in_list) {
        take(v);
        return keys;
    }
    sqlite3_value* x = nullptr;
    int rc = sqlite3_vtab_in_first(v, &x);
    while (rc == SQLITE_OK && x) {
        take(x);
        rc = sqlite3_vtab_in_next(v, &x);
    }
    if (rc == SQLITE_NOMEM) throw std::bad_alloc();
    if (rc != SQLITE_OK && rc != SQLITE_DONE) throw Error{Code::Sqlite, rc, sqlite3_errstr(rc), {}};
    return keys;
}

void apply_range(Range& r, Op op, sqlite3_value* v) {
    switch (sqlite3_value_numeric_type(v)) {
        case SQLITE_INTEGER: r.apply_int(op, sqlite3_value_int64(v)); break;
        case SQLITE_FLOAT: r.apply_real(op, sqlite3_value_double(v)); break;
        case SQLITE_NULL: r.apply_non_numeric(op, true); break;
        default: r.apply_non_numeric(op, false); break;
    }
}

// A hidden argument's value; the same argument constrained twice (es_all(10) WHERE after_seq
// = 50) must agree, as in SQL, or no row matches.
void take_numeric_arg(EventsCursor& cur, sqlite3_value* v) {
    const int t = sqlite3_value_type(v);
    if (t != SQLITE_INTEGER && t != SQLITE_NULL) {
        raise(Code::InvalidArgument, "%s: %s must be an integer, got %s",
              cur.is_stream ? "es_stream" : "es_all", cur.is_stream ? "from_version" : "after_seq",
              describe(v).c_str());
    }
    if (cur.arg_num) {
        if (t == SQLITE_NULL || sqlite3_value_type(cur.arg_num) == SQLITE_NULL ||
            sqlite3_value_int64(cur.arg_num) != sqlite3_value_int64(v)) {
            cur.want.nothing = true;
        }
        return;
    }
    cur.arg_num = sqlite3_value_dup(v);
    if (!cur.arg_num) throw std::bad_alloc();
    if (cur.is_stream) {
        apply_range(cur.want.version, Op::Ge, v);  // NULL: no rows
    } else {
        apply_range(cur.want.seq, Op::Gt, v);
    }
}

void take_stream_arg(EventsCursor& cur, sqlite3_value* v) {
    Wanted& w = cur.want;
    if (sqlite3_value_type(v) == SQLITE_NULL) {
        w.stream_given = true;
        w.nothing = true;  // NULL argument: no rows
        return;
    }
    const std::string_view s = arg_id(v, "es_stream", "stream_id");
    if (w.stream_given && (!w.has_arg_stream || w.arg_stream != s)) w.nothing = true;
    w.stream_given = true;
    if (!w.has_arg_stream) {
        w.arg_stream.assign(s);
        w.has_arg_stream = true;
    }
}

void bind_values(EventsCursor& cur, const ParsedPlan& plan, int argc, sqlite3_value** argv) {
    Wanted& w = cur.want;
    for (int i = 0; i < argc && static_cast<size_t>(i) < plan.tokens.size(); ++i) {
        const Token& t = plan.tokens[static_cast<size_t>(i)];
        sqlite3_value* v = argv[i];
        switch (t.kind) {
            case Token::Kind::StreamArg: take_stream_arg(cur, v); break;
            case Token::Kind::FromArg:
            case Token::Kind::AfterArg: take_numeric_arg(cur, v); break;
            case Token::Kind::Seq: apply_range(w.seq, t.op, v); break;
            case Token::Kind::Version: apply_range(w.version, t.op, v); break;
            case Token::Kind::StreamId: w.streams.add(key_values(v, t.in_list)); break;
            case Token::Kind::Category: w.categories.add(key_values(v, t.in_list)); break;
            case Token::Kind::Type: w.types.add(key_values(v, t.in_list)); break;
            case Token::Kind::EventId: w.event_ids.add(key_values(v, t.in_list)); break;
            case Token::Kind::Limit: {
                const int64_t n = sqlite3_value_int64(v);  // SQLite: a negative LIMIT is none
                w.limit = n < 0 ? -1 : n;
                break;
            }
            case Token::Kind::Offset:
                w.offset = std::max<int64_t>(0, sqlite3_value_int64(v));
                break;
        }
    }
}

bool no_rows_possible(const EventsCursor& cur) {
    const Wanted& w = cur.want;
    if (w.nothing || w.limit == 0 || w.seq.empty || w.version.empty) return true;
    for (const KeySet* k : {&w.streams, &w.categories, &w.types, &w.event_ids}) {
        if (k->empty()) return true;
    }
    return cur.is_stream && w.version.hi < 1;
}

// The sources of the plan, and which filters stay with the cursor.
void build_sources(EventsCursor& cur, Conn& c, int idx_num) {
    Wanted& w = cur.want;
    auto add = [&](std::string key, std::vector<Segment> segments) {
        Source s;
        s.key = std::move(key);
        s.segments = std::move(segments);
        cur.sources.push_back(std::move(s));
    };
    cur.check_version = !cur.is_stream && w.version.bounded();
    cur.check_streams = w.streams.set();
    cur.check_categories = w.categories.set();
    cur.check_types = w.types.set();
    cur.check_event_ids = w.event_ids.set();
    if (cur.is_stream) {
        cur.check_seq = w.seq.bounded();
        add(w.arg_stream, {{Shape::Stream, w.version.lo, w.version.hi}});
    } else if (idx_num & kByEventId) {
        cur.check_event_ids = false;
        for (const std::string& id : *w.event_ids.keys) {
            add(id, {{Shape::EventId, w.seq.lo, w.seq.hi}});
            if (const auto seq = seq_in_id(id)) {
                cur.sources.back().kind_or_seq = *seq;
                cur.sources.back().has_kind_or_seq = true;
            }
        }
    } else if (idx_num & kByStream) {
        cur.check_streams = false;
        for (const std::string& s : *w.streams.keys)
            add(s, {{Shape::ByStream, w.seq.lo, w.seq.hi}});
    } else if (idx_num & (kByCategory | kByType)) {
        // The index blocks up to indexed_upto, then the tail; the key is re-checked on every
        // row (blocks may keep seqs of events that left, see postings.h).
        const bool by_category = idx_num & kByCategory;
        (by_category ? cur.check_categories : cur.check_types) = false;
        const int64_t upto = indexed_upto(c);
        const int64_t kind =
            static_cast<int64_t>(by_category ? IndexKind::Category : IndexKind::Type);
        for (const std::string& key : *(by_category ? w.categories : w.types).keys) {
            std::vector<Segment> segments;
            const Segment indexed{Shape::Index, w.seq.lo, std::min(w.seq.hi, upto)};
            const Segment tail{Shape::All, std::max(w.seq.lo, upto + 1), w.seq.hi};
            for (const Segment& g : cur.desc ? std::vector<Segment>{tail, indexed}
                                             : std::vector<Segment>{indexed, tail}) {
                if (g.lo <= g.hi) segments.push_back(g);
            }
            if (segments.empty()) continue;
            add(key, std::move(segments));
            cur.sources.back().kind_or_seq = kind;
            cur.sources.back().has_kind_or_seq = true;
            cur.sources.back().key_column = by_category ? kCategory : kType;
        }
    } else {
        add({}, {{Shape::All, w.seq.lo, w.seq.hi}});
    }
    // Columns to read: the query's, seq (merge, rowid, restart), and the columns the cursor
    // still filters on.
    cur.columns |= 1u << kSeq;
    if (cur.check_version) cur.columns |= 1u << kVersion;
    const bool key_checked = idx_num & (kByCategory | kByType);
    if (cur.check_streams || cur.check_categories || (idx_num & kByCategory)) {
        cur.columns |= 1u << kStreamId;
    }
    if (cur.check_types || (key_checked && (idx_num & kByType))) cur.columns |= 1u << kType;
    cur.filters = key_checked || cur.check_seq || cur.check_version || cur.check_streams ||
                  cur.check_categories || cur.check_types || cur.check_event_ids;
    if (cur.check_event_ids) cur.columns |= 1u << kEventId;
}

void reset_cursor(EventsCursor& cur, int idx_num) {
    cur.release_sources();
    cur.want = Wanted{};
    cur.emitted = 0;
    sqlite3_value_free(cur.arg_num);
    cur.arg_num = nullptr;
    cur.desc = (idx_num & kDesc) != 0;
    cur.eof = true;
}

// Builds and starts the sources; false when main holds no eskit tables (nothing was ever
// written, or the transaction that created them rolled back): then there is nothing to read.
// The tables are looked for only once a statement has failed, so that a read does not pay for
// a sqlite_schema scan.
bool start_sources(EventsCursor& cur, Conn& c, int idx_num) {
    try {
        // Reading a tombstoned or moved stream is an error. es_all is the global log, which
        // simply no longer holds those events: filtering it by such a stream gives no rows.
        if (cur.is_stream) require_readable(read_lifecycle(c, cur.want.arg_stream));
        build_sources(cur, c, idx_num);
        for (Source& s : cur.sources) {
            cur.open_segment(s);
            cur.fetch(s);
        }
        return true;
    } catch (const Error&) {
        bool tables = true;
        try {
            tables = schema_version(c, Schema::main_db()) != 0;
        } catch (const Error&) {
            // keep the read's own error, which is the one that explains the failure
        }
        if (tables) throw;
        cur.release_sources();
        return false;
    }
}

/*
** argv order follows the idxStr tokens (read_plan.h); idxNum picks the driving access path.
*/
int eventsFilter(sqlite3_vtab_cursor* p, int idxNum, const char* idxStr, int argc,
                 sqlite3_value** argv) {
    auto* cur = static_cast<EventsCursor*>(p);
    Conn& c = *cur->conn;
    return vtab_guard(cur->pVtab, c, [&] {
        CallScope call(c);
        reset_cursor(*cur, idxNum);
        const ParsedPlan& plan = static_cast<EventsVtab*>(cur->pVtab)->plan_of(idxStr);
        cur->columns = plan.columns;
        bind_values(*cur, plan, argc, argv);
        if (cur->is_stream && !cur->want.stream_given) {
            raise(Code::InvalidArgument,
                  "es_stream: the stream_id argument is required, as in "
                  "es_stream('order-17')");
        }
        if (no_rows_possible(*cur)) return SQLITE_OK;
        if (!start_sources(*cur, c, idxNum) || cur->sources.empty()) return SQLITE_OK;
        cur->eof = false;
        cur->settle();
        for (int64_t skip = cur->want.offset; skip > 0 && !cur->eof; --skip) cur->advance();
        return SQLITE_OK;
    });
}

// ---------------------------------------------------------------------------------------------
// xBestIndex: sqlite3_index_info to and from plan() (read_plan.h).

Op op_of(unsigned char op) {
    switch (op) {
        case SQLITE_INDEX_CONSTRAINT_EQ: return Op::Eq;
        case SQLITE_INDEX_CONSTRAINT_GT: return Op::Gt;
        case SQLITE_INDEX_CONSTRAINT_GE: return Op::Ge;
        case SQLITE_INDEX_CONSTRAINT_LT: return Op::Lt;
        case SQLITE_INDEX_CONSTRAINT_LE: return Op::Le;
        case SQLITE_INDEX_CONSTRAINT_LIMIT: return Op::Limit;
        case SQLITE_INDEX_CONSTRAINT_OFFSET: return Op::Offset;
        default: return Op::Other;
    }
}

PlanInput plan_input(sqlite3_index_info* info, bool is_stream) {
    PlanInput in;
    in.is_stream = is_stream;
    in.col_used = info->colUsed;
    for (int i = 0; i < info->nConstraint; ++i) {
        const auto& cons = info->aConstraint[i];
        ConstraintIn c{cons.iColumn, op_of(cons.op), cons.usable != 0};
        if (c.column >= 0 && c.column < kArg0 && c.op == Op::Eq) {
            const char* coll = sqlite3_vtab_collation(info, i);
            c.binary = !coll || sqlite3_stricmp(coll, "BINARY") == 0;
            c.in_list = sqlite3_vtab_in(info, i, -1) != 0;
        }
        in.constraints.push_back(c);
    }
    for (int i = 0; i < info->nOrderBy; ++i) {
        in.order_by.emplace_back(info->aOrderBy[i].iColumn, info->aOrderBy[i].desc != 0);
    }
    return in;
}

int eventsBestIndex(sqlite3_vtab* p, sqlite3_index_info* info) {
    auto* vtab = static_cast<EventsVtab*>(p);
    return vtab_guard(p, *vtab->conn, [&] {
        const Plan plan_out = plan(plan_input(info, vtab->is_stream));
        if (!plan_out.usable) return SQLITE_CONSTRAINT;
        for (int i = 0; i < info->nConstraint; ++i) {
            const int argv = plan_out.argv[static_cast<size_t>(i)];
            if (!argv) continue;
            info->aConstraintUsage[i].argvIndex = argv;
            info->aConstraintUsage[i].omit = 1;
            if (plan_out.in_list[static_cast<size_t>(i)]) sqlite3_vtab_in(info, i, 1);
        }
        info->idxNum = plan_out.idx_num;
        info->orderByConsumed = plan_out.order_consumed ? 1 : 0;
        info->estimatedRows = plan_out.rows;
        info->estimatedCost = plan_out.cost;
        info->idxStr = sqlite3_mprintf("%s", plan_out.idx_str.c_str());
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

int register_reads(sqlite3* db, Conn* c) {
    if (const int rc = register_running(db); rc != SQLITE_OK) return rc;
    ++c->refs;
    int rc = sqlite3_create_module_v2(db, "es_stream", &kStreamModule, c, conn_release);
    if (rc == SQLITE_OK) {
        ++c->refs;
        rc = sqlite3_create_module_v2(db, "es_all", &kAllModule, c, conn_release);
    }
    return rc;
}

}  // namespace eskit::ext
