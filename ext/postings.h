/*
** The category and type index (es_postings) and the bounded tail it trails the log by.
**
** HOW IT WORKS
** For each (kind, key) — kind 1: the category, kind 2: the type — the seq values of its events
** are kept in blocks of ascending values, each a blob of varints (the first value, then the
** differences), keyed by the block's last seq and kept under ~900 bytes so a block stays on
** its b-tree page. A full category of consecutive events costs about one byte per event, and
** appending to it rewrites one small block.
**
** The index covers every event with seq <= es_meta 'indexed_upto'. The newer events (the tail)
** are read by a plain scan of es_events: an append never touches the index unless it brings
** the tail to kTailBound events, and then it folds the whole tail in, in its own transaction,
** before it commits. So a read scans at most kTailBound - 1 rows besides the index, and the
** fold's cost (one pass over those rows and a few block rewrites) is spread over the appends
** that made the tail. es_init() and es_maintain() fold too. Moves that bring events back with
** their old seq values (es_restore) add them to the blocks directly.
**
** Blocks may keep seq values whose events have since left (a tombstone, a move): seqs are never
** reused, so such an entry points at nothing, and in an archive that receives other stores'
** events it may point at another event. Every read therefore re-checks the key of the rows it
** fetches: the index narrows the scan, the row decides.
**
** es_index_seqs(kind, key, lo, hi) is the table-valued function that walks the blocks of one
** key between lo and hi (inclusive), in seq order or, with ORDER BY seq DESC, backwards; the
** read statements of es_all join it with es_events on seq. It is internal (not API).
*/
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace eskit::ext {

class Conn;
class Schema;

enum class IndexKind : int { Category = 1, Type = 2 };

// Bound on the unindexed tail (events newer than es_meta 'indexed_upto').
inline constexpr int64_t kTailBound = 256;
// Largest block blob written.
inline constexpr size_t kMaxBlockBytes = 900;

// Block codec. encode: seqs ascending, every value >= 1. decode appends to out; false on a
// malformed blob.
std::string encode_block(const std::vector<int64_t>& seqs);
bool decode_block(std::string_view blob, std::vector<int64_t>& out);
// Splits ascending seqs into blocks of at most kMaxBlockBytes each.
std::vector<std::string> split_blocks(const std::vector<int64_t>& seqs);

// Folds the events of s with seq in (upto, head] into the index and records head as indexed
// (the append, which has both at hand). Returns the number of events folded.
int64_t fold_tail(Conn& c, const Schema& s, const std::string& store, int64_t upto, int64_t head);

// Folds the tail of s into the index when it holds at least `bound` events (0: always);
// returns the number of events folded. Needs a write transaction on s and the bookkeeping
// permit of store (the caller's, see guard.h).
int64_t fold_pending(Conn& c, const Schema& s, const std::string& store, int64_t bound);

// Adds the events of stream with seq <= indexed_upto to the index of s (after a move brought
// them there with seq values the index has passed). Same requirements as fold_pending.
void index_stream(Conn& c, const Schema& s, const std::string& store, std::string_view stream);

// How many seq values of s's events the index has not covered yet (the last event's seq minus
// indexed_upto; <= 0 when the index is complete, also after the newest events were deleted).
int64_t unindexed_tail(Conn& c, const Schema& s);

// es_meta 'indexed_upto' of main.
int64_t indexed_upto(Conn& c);

int register_index_seqs(sqlite3* db, Conn* c);

}  // namespace eskit::ext
