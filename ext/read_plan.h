/*
** The query planning of es_stream and es_all, as pure functions (unit-tested without SQLite):
** plan() is xBestIndex's decision, parse_plan() reads it back in xFilter, and Range/KeySet are
** the constraint arithmetic the cursor applies.
**
** idxStr lists the argv values in order, as space-separated tokens, then the columns read:
**   stream=       es_stream's stream argument        from=     es_stream's from_version
**   after=        es_all's after_seq                  seq<op>   seq with = > >= < <=
**   version<op>   version with = > >= < <=           stream_id= / stream_idIN
**   category= / categoryIN     type= / typeIN         event_id= / event_idIN
**   limit / offset             cols=<hex> (last, not an argv: the columns the query reads)
** (<col>IN: sqlite3_vtab_in() hands over the whole IN list in one xFilter call.)
** Every accepted constraint is exact and omitted from SQLite's re-check, which is what makes it
** safe to push LIMIT and OFFSET down: the cursor counts exactly the rows the query returns.
**
** idxNum selects the driving access path (the other constraints are filters in the cursor):
**   bit 0 (1)   descending order (ORDER BY seq/version DESC consumed)
**   bit 1 (2)   by stream_id keys, es_events(stream_id, version)
**   bit 2 (4)   by category keys, es_postings kind 1 plus the tail
**   bit 3 (8)   by type keys, es_postings kind 2 plus the tail
**   bit 4 (16)  by event ids (event_ids.h), at most one row each
**   none        es_all: the seq range of the rowid; es_stream: its (stream_id, version) range
*/
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace eskit::ext {

enum Column : int {
    kSeq = 0,
    kStreamId,
    kCategory,
    kVersion,
    kType,
    kData,
    kMetadata,
    kCodec,
    kSchemaVersionColumn,
    kEventId,
    kIdempotencyKey,
    kCreatedAt,
    kArg0,  // es_stream: stream; es_all: after_seq
    kArg1,  // es_stream: from_version
};
inline constexpr int kVisibleColumns = kCreatedAt + 1;
inline constexpr uint32_t kVisibleMask = (1u << kVisibleColumns) - 1;
// The visible columns' names, in order: the schema of both table-valued functions.
extern const char* const kColumnNames[kVisibleColumns];

enum IdxBits : int { kDesc = 1, kByStream = 2, kByCategory = 4, kByType = 8, kByEventId = 16 };

enum class Op { Eq, Gt, Ge, Lt, Le, Limit, Offset, Other };

struct ConstraintIn {
    int column;
    Op op;
    bool usable;
    bool binary = true;    // the comparison uses BINARY collation
    bool in_list = false;  // an IN (...) that sqlite3_vtab_in() can hand over whole
};

struct PlanInput {
    bool is_stream = false;  // es_stream (else es_all)
    std::vector<ConstraintIn> constraints;
    std::vector<std::pair<int, bool>> order_by;  // column, desc
    uint64_t col_used = ~uint64_t{0};
};

struct Plan {
    bool usable = true;         // false: SQLITE_CONSTRAINT (a hidden argument it cannot use)
    std::vector<int> argv;      // per constraint: argv index (1-based), 0 when not used
    std::vector<bool> in_list;  // per constraint: take the IN list whole
    int idx_num = 0;
    std::string idx_str;
    double cost = 0;
    int64_t rows = 0;
    bool order_consumed = false;
};

Plan plan(const PlanInput& in);

// One idxStr token, as xFilter reads it.
struct Token {
    enum class Kind {
        StreamArg,
        FromArg,
        AfterArg,
        Seq,
        Version,
        StreamId,
        Category,
        Type,
        EventId,
        Limit,
        Offset
    };
    Kind kind;
    Op op = Op::Eq;
    bool in_list = false;
};

struct ParsedPlan {
    std::vector<Token> tokens;  // in argv order
    uint32_t columns = kVisibleMask;
};
// Throws std::invalid_argument on a string plan() would not produce.
ParsedPlan parse_plan(std::string_view idx_str);

inline constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// An inclusive range on an INTEGER column, narrowed by constraints with SQLite's comparison
// rules (numeric_type: SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL).
struct Range {
    int64_t lo = kMin;
    int64_t hi = kMax;
    bool empty = false;

    void apply_int(Op op, int64_t x);
    void apply_real(Op op, double d);
    // NULL matches nothing; text and blobs sort after every number.
    void apply_non_numeric(Op op, bool is_null);
    bool bounded() const { return lo != kMin || hi != kMax; }
    bool contains(int64_t v) const { return v >= lo && v <= hi; }
};

// The accepted keys of a TEXT column (= or IN), sorted and unique; unset: unconstrained.
struct KeySet {
    std::optional<std::vector<std::string>> keys;
    // A second constraint on the same column keeps the intersection.
    void add(std::vector<std::string> values);
    bool contains(std::string_view v) const;
    bool set() const { return keys.has_value(); }
    bool empty() const { return keys && keys->empty(); }
};

}  // namespace eskit::ext
