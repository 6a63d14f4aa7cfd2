#include "postings.h"

#include <algorithm>
#include <utility>

#include "args.h"
#include "boundary.h"
#include "conn.h"
#include "cursor_stmt.h"
#include "guard.h"
#include "schema.h"

namespace eskit::ext {

namespace {

const Query kIndexedUpto{"SELECT value FROM main.es_meta WHERE key = 'indexed_upto'"};

// Rows read per pass of a large fold (an upgrade folds the whole log), bounding its memory.
constexpr int kFoldChunk = 65536;

void put_varint(std::string& out, uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}

bool get_varint(std::string_view& in, uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (in.empty()) return false;
        const auto b = static_cast<unsigned char>(in.front());
        in.remove_prefix(1);
        v |= static_cast<uint64_t>(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

size_t varint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

int64_t meta_int(Conn& c, const Schema& s, const char* key) {
    Stmt m = c.use(format("SELECT value FROM %s.es_meta WHERE key = ?1", s.quoted().c_str()));
    m.bind(1, key);
    return m.step_row() ? m.int64(0) : 0;
}

void set_indexed_upto(Conn& c, const Schema& s, int64_t upto) {
    c.use(format("INSERT OR REPLACE INTO %s.es_meta(key, value) VALUES ('indexed_upto', ?1)",
                 s.quoted().c_str()))
        .bind(1, upto)
        .step_done();
}

// The postings of one key of s: reads and rewrites blocks.
class KeyBlocks {
  public:
    KeyBlocks(Conn& c, const Schema& s, IndexKind kind, std::string_view key)
        : c_(c), q_(s.quoted()), kind_(static_cast<int64_t>(kind)), key_(key) {}

    // Merges ascending, distinct seqs into the blocks (values already there are kept once).
    void add(const std::vector<int64_t>& seqs) {
        if (seqs.empty() || append_after_last(seqs)) return;
        size_t i = 0;
        while (i < seqs.size()) {
            int64_t last = 0;
            std::vector<int64_t> merged;
            const bool inside = block_at_or_after(seqs[i], last, merged);
            if (!inside && !last_block(last, merged)) last = 0;
            // Every new value up to the block's end joins it; past the last block, all of them.
            size_t j = i;
            while (j < seqs.size() && (!inside || seqs[j] <= last)) ++j;
            const size_t old_size = merged.size();
            std::vector<int64_t> joined;
            joined.reserve(old_size + (j - i));
            std::set_union(merged.begin(), merged.end(), seqs.begin() + static_cast<long>(i),
                           seqs.begin() + static_cast<long>(j), std::back_inserter(joined));
            if (joined.size() != old_size) rewrite(last, old_size > 0, merged, joined);
            i = j;
        }
    }

  private:
    // The fold's case: every new value comes after the key's last one. The deltas are appended
    // to the last block's blob while it has room, without decoding it; the rest start new
    // blocks. False when some value is not after the last block (a move's merge).
    bool append_after_last(const std::vector<int64_t>& seqs) {
        int64_t last = 0;
        std::string blob;
        {
            Stmt s =
                c_.use(format("SELECT last_seq, seqs FROM %s.es_postings WHERE kind = ?1 AND "
                              "key = ?2 ORDER BY last_seq DESC LIMIT 1",
                              q_.c_str()));
            s.bind(1, kind_).bind(2, key_);
            if (s.step_row()) {
                last = s.int64(0);
                blob.assign(s.text(1));
            }
        }
        if (seqs.front() <= last) return false;
        size_t taken = 0;
        if (!blob.empty()) {
            int64_t prev = last;
            while (taken < seqs.size() &&
                   blob.size() + varint_size(static_cast<uint64_t>(seqs[taken] - prev)) <=
                       kMaxBlockBytes) {
                put_varint(blob, static_cast<uint64_t>(seqs[taken] - prev));
                prev = seqs[taken++];
            }
            if (taken > 0) {
                erase_block(last);
                insert_block(prev, blob);
            }
        }
        const std::vector<int64_t> rest(seqs.begin() + static_cast<long>(taken), seqs.end());
        for (const std::string& b : split_blocks(rest)) {
            std::vector<int64_t> values;
            decode_block(b, values);
            insert_block(values.back(), b);
        }
        return true;
    }
    void erase_block(int64_t last) {
        c_.use(format("DELETE FROM %s.es_postings WHERE kind = ?1 AND key = ?2 AND last_seq = ?3",
                      q_.c_str()))
            .bind(1, kind_)
            .bind(2, key_)
            .bind(3, last)
            .step_done();
    }
    void insert_block(int64_t last, std::string_view blob) {
        c_.use(format(
                   "INSERT INTO %s.es_postings(kind, key, last_seq, seqs) VALUES (?1, ?2, ?3, ?4)",
                   q_.c_str()))
            .bind(1, kind_)
            .bind(2, key_)
            .bind(3, last)
            .bind_blob(4, blob)
            .step_done();
    }

    bool read_block(Stmt& s, int64_t& last, std::vector<int64_t>& seqs) {
        if (!s.step_row()) return false;
        last = s.int64(0);
        seqs.clear();
        if (!decode_block(s.text(1), seqs)) {
            throw Error{Code::Sqlite,
                        SQLITE_CORRUPT,
                        format("es_postings: malformed block for key %Q", key_.c_str()),
                        {}};
        }
        return true;
    }
    bool block_at_or_after(int64_t seq, int64_t& last, std::vector<int64_t>& seqs) {
        Stmt s =
            c_.use(format("SELECT last_seq, seqs FROM %s.es_postings WHERE kind = ?1 AND "
                          "key = ?2 AND last_seq >= ?3 ORDER BY last_seq LIMIT 1",
                          q_.c_str()));
        s.bind(1, kind_).bind(2, key_).bind(3, seq);
        return read_block(s, last, seqs);
    }
    bool last_block(int64_t& last, std::vector<int64_t>& seqs) {
        Stmt s =
            c_.use(format("SELECT last_seq, seqs FROM %s.es_postings WHERE kind = ?1 AND "
                          "key = ?2 ORDER BY last_seq DESC LIMIT 1",
                          q_.c_str()));
        s.bind(1, kind_).bind(2, key_);
        return read_block(s, last, seqs);
    }
    // Replaces the block ending at old_last (when it existed) by `joined`, split into blocks;
    // a first block that comes out unchanged (a full one, followed by new values) stays.
    void rewrite(int64_t old_last, bool existed, const std::vector<int64_t>& old_seqs,
                 const std::vector<int64_t>& joined) {
        std::vector<std::string> blocks = split_blocks(joined);
        size_t first = 0;
        if (existed) {
            if (blocks.front() == encode_block(old_seqs)) {
                first = 1;
            } else {
                erase_block(old_last);
            }
        }
        std::vector<int64_t> values;
        for (size_t b = first; b < blocks.size(); ++b) {
            values.clear();
            decode_block(blocks[b], values);
            insert_block(values.back(), blocks[b]);
        }
    }

    Conn& c_;
    std::string q_;
    int64_t kind_;
    std::string key_;
};

// The seq values of each (kind, key) met in a pass, in the order met. Few keys take most
// events (a category, a handful of types), so a short list searched from the last hit beats a
// map of strings.
class Groups {
  public:
    void add(IndexKind kind, std::string_view key, int64_t seq) {
        if (last_ < groups_.size() && groups_[last_].kind == kind && groups_[last_].key == key) {
            groups_[last_].seqs.push_back(seq);
            return;
        }
        for (size_t i = 0; i < groups_.size(); ++i) {
            if (groups_[i].kind == kind && groups_[i].key == key) {
                groups_[i].seqs.push_back(seq);
                last_ = i;
                return;
            }
        }
        groups_.push_back({kind, std::string(key), {seq}});
        last_ = groups_.size() - 1;
    }
    bool empty() const { return groups_.empty(); }
    void write(Conn& c, const Schema& s) {
        for (const Group& g : groups_) KeyBlocks(c, s, g.kind, g.key).add(g.seqs);
    }

  private:
    struct Group {
        IndexKind kind;
        std::string key;
        std::vector<int64_t> seqs;
    };
    std::vector<Group> groups_;
    size_t last_ = 0;
};

}  // namespace

int64_t fold_tail(Conn& c, const Schema& s, const std::string& store, int64_t upto, int64_t head) {
    BookkeepingScope permit(c, s, store);
    int64_t folded = 0;
    for (int64_t from = upto; from < head;) {
        Groups categories, types;
        int n = 0;
        {
            Stmt rows =
                c.use(format("SELECT seq, stream_id, type FROM %s.es_events WHERE "
                             "seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3",
                             s.quoted().c_str()));
            rows.bind(1, from).bind(2, head).bind(3, int64_t{kFoldChunk});
            while (rows.step_row()) {
                const int64_t seq = rows.int64(0);
                categories.add(IndexKind::Category, category_of(rows.text(1)), seq);
                types.add(IndexKind::Type, rows.text(2), seq);
                from = seq;
                ++n;
            }
        }
        categories.write(c, s);
        types.write(c, s);
        folded += n;
        if (n < kFoldChunk) break;
    }
    set_indexed_upto(c, s, head);
    return folded;
}

std::string encode_block(const std::vector<int64_t>& seqs) {
    std::string out;
    int64_t prev = 0;
    for (int64_t v : seqs) {
        put_varint(out, static_cast<uint64_t>(v - prev));
        prev = v;
    }
    return out;
}

bool decode_block(std::string_view blob, std::vector<int64_t>& out) {
    int64_t prev = 0;
    while (!blob.empty()) {
        uint64_t d = 0;
        if (!get_varint(blob, d) || (d == 0 && prev != 0)) return false;
        prev += static_cast<int64_t>(d);
        out.push_back(prev);
    }
    return true;
}

std::vector<std::string> split_blocks(const std::vector<int64_t>& seqs) {
    std::vector<std::string> blocks;
    std::vector<int64_t> current;
    size_t bytes = 0;
    int64_t prev = 0;
    for (int64_t v : seqs) {
        // A new block starts with its absolute value.
        const size_t cost = varint_size(static_cast<uint64_t>(v - prev));
        if (!current.empty() && bytes + cost > kMaxBlockBytes) {
            blocks.push_back(encode_block(current));
            current.clear();
            bytes = 0;
            prev = 0;
        }
        bytes += varint_size(static_cast<uint64_t>(v - prev));
        current.push_back(v);
        prev = v;
    }
    if (!current.empty()) blocks.push_back(encode_block(current));
    return blocks;
}

namespace {

int64_t last_event_seq(Conn& c, const Schema& s) {
    Stmt h = c.use(format("SELECT ifnull(max(seq), 0) FROM %s.es_events", s.quoted().c_str()));
    return h.step_row() ? h.int64(0) : 0;
}

}  // namespace

int64_t unindexed_tail(Conn& c, const Schema& s) {
    return last_event_seq(c, s) - meta_int(c, s, "indexed_upto");
}

int64_t fold_pending(Conn& c, const Schema& s, const std::string& store, int64_t bound) {
    const int64_t upto = meta_int(c, s, "indexed_upto");
    const int64_t head = last_event_seq(c, s);
    if (head <= upto || (bound > 0 && head - upto < bound)) return 0;
    return fold_tail(c, s, store, upto, head);
}

void index_stream(Conn& c, const Schema& s, const std::string& store, std::string_view stream) {
    const int64_t upto = meta_int(c, s, "indexed_upto");
    Groups groups;
    {
        Stmt rows =
            c.prepare(format("SELECT seq, type FROM %s.es_events WHERE stream_id = ?1 "
                             "AND seq <= ?2 ORDER BY seq",
                             s.quoted().c_str()));
        rows.bind(1, stream).bind(2, upto);
        while (rows.step_row()) {
            groups.add(IndexKind::Category, category_of(stream), rows.int64(0));
            groups.add(IndexKind::Type, rows.text(1), rows.int64(0));
        }
    }
    if (groups.empty()) return;
    BookkeepingScope permit(c, s, store);
    groups.write(c, s);
}

int64_t indexed_upto(Conn& c) {
    Stmt m = c.use(kIndexedUpto);
    return m.step_row() ? m.int64(0) : 0;
}

// ---------------------------------------------------------------------------------------------
// es_index_seqs(kind, key, lo, hi): the seq values of one key's blocks, lo..hi inclusive.

namespace {

enum SeqsColumn { kSeqsSeq = 0, kSeqsKind, kSeqsKey, kSeqsLo, kSeqsHi };

constexpr const char* kSeqsSchema =
    "CREATE TABLE x(seq INTEGER, kind HIDDEN, key HIDDEN, lo HIDDEN, hi HIDDEN)";

struct SeqsVtab : sqlite3_vtab {
    Conn* conn;
};

// The block scans. ?1 kind, ?2 key, ?3 lo, ?4 hi, ?5 the cursor's run flag (cursor_stmt.h).
// Backwards, the scan starts at the block that holds hi, not at the key's last.
constexpr const char* kBlocksAsc =
    "SELECT seqs FROM main.es_postings WHERE eskit_running(?5) AND kind = ?1 AND key = ?2 AND "
    "last_seq >= ?3 ORDER BY last_seq";
constexpr const char* kBlocksDesc =
    "SELECT seqs FROM main.es_postings WHERE eskit_running(?5) AND kind = ?1 AND key = ?2 AND "
    "last_seq >= ?3 AND last_seq <= ifnull((SELECT min(last_seq) FROM main.es_postings WHERE "
    "kind = ?1 AND key = ?2 AND last_seq >= ?4), 9223372036854775807) ORDER BY last_seq DESC";

struct SeqsCursor : sqlite3_vtab_cursor {
    Conn* conn = nullptr;
    bool desc = false;
    ReadStmt blocks;  // the key's blocks from lo on, in the scan's direction
    uint64_t shape = 0;
    RunWatch run;                   // up while blocks runs
    bool scanning = false;          // blocks gave a block and has not ended
    sqlite3_value* kind = nullptr;  // the arguments, to run blocks again (see next_block())
    sqlite3_value* key = nullptr;
    std::vector<int64_t> values;  // the current block
    size_t at = 0;                // position in values (from the back when desc)
    int64_t lo = 0, hi = 0;
    bool eof = true;

    ~SeqsCursor() {
        conn->release_read(shape, blocks, run.running());
        sqlite3_value_free(kind);
        sqlite3_value_free(key);
    }

    int64_t current() const { return desc ? values[values.size() - 1 - at] : values[at]; }

    // Binds the scan of the blocks from lo on (backwards: from hi on), in the statement held if
    // it is of the right direction, else in one from the pool. Statements validated.
    void open_scan() {
        const uint64_t want = desc ? 2 : 1;  // below 16: see shape_id() in read_vtab.cpp
        if (blocks && shape != want) conn->release_read(shape, blocks, true);
        if (!blocks) {
            blocks = conn->acquire_read(
                want, [&] { return std::string(desc ? kBlocksDesc : kBlocksAsc); });
            shape = want;
        } else {
            sqlite3_reset(blocks.stmt);
        }
        scanning = false;
        int rc = sqlite3_bind_value(blocks.stmt, 1, kind);
        if (rc == SQLITE_OK) rc = sqlite3_bind_value(blocks.stmt, 2, key);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(blocks.stmt, 3, lo);
        if (rc == SQLITE_OK && desc) rc = sqlite3_bind_int64(blocks.stmt, 4, hi);
        if (rc == SQLITE_OK) rc = run.bind(blocks.stmt, 5);
        if (rc != SQLITE_OK) raise_db(conn->db);
    }

    // Reads the next block into values; false at the end. When the host reset or finalized the
    // scan since its last block, it runs again from lo/hi, which already exclude every value
    // delivered (seqsNext).
    bool next_block() {
        OwnSqlScope own(conn->db);  // open_scan() may prepare
        if (scanning && !run.running()) {
            conn->validate_statements();
            if (!conn->owns(blocks)) blocks = {};
            open_scan();
        }
        const int rc = sqlite3_step(blocks.stmt);
        if (rc == SQLITE_DONE) {
            conn->release_read(shape, blocks, true);  // it ran just now
            scanning = false;
            return false;
        }
        if (rc != SQLITE_ROW) throw step_error(blocks.stmt);
        scanning = true;
        values.clear();
        at = 0;
        const auto* b = static_cast<const char*>(sqlite3_column_blob(blocks.stmt, 0));
        decode_block({b ? b : "", static_cast<size_t>(sqlite3_column_bytes(blocks.stmt, 0))},
                     values);
        return true;
    }

    // Moves to the next value within lo..hi, reading blocks as needed.
    void settle() {
        for (;;) {
            while (at < values.size()) {
                const int64_t v = current();
                if (desc ? v < lo : v > hi) {
                    eof = true;
                    return;
                }
                if (desc ? v <= hi : v >= lo) return;
                ++at;
            }
            if (!blocks || !next_block()) {
                eof = true;
                return;
            }
        }
    }
};

int seqsConnect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char** err) {
    int rc = SQLITE_OK;
    {
        OwnSqlScope own(db);
        rc = sqlite3_declare_vtab(db, kSeqsSchema);
    }
    if (rc != SQLITE_OK) {
        *err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
        return rc;
    }
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
    auto* vtab = new (std::nothrow) SeqsVtab{};
    if (!vtab) return SQLITE_NOMEM;
    vtab->conn = static_cast<Conn*>(aux);
    // Not counted in conn->vtabs: eskit's own cached read statements use this table, so it is
    // disconnected only after they are finalized (conn.h, CLOSING).
    ++vtab->conn->refs;
    *out = vtab;
    return SQLITE_OK;
}

int seqsDisconnect(sqlite3_vtab* p) {
    auto* vtab = static_cast<SeqsVtab*>(p);
    Conn* c = vtab->conn;
    sqlite3_free(vtab->zErrMsg);
    delete vtab;
    conn_release(c);
    return SQLITE_OK;
}

/*
** All four arguments are required (equality on each hidden column, argv in column order);
** ORDER BY seq in either direction is consumed. idxNum: 1 = descending.
*/
int seqsBestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
    int argv_of[4] = {0, 0, 0, 0};
    for (int i = 0; i < info->nConstraint; ++i) {
        const auto& cons = info->aConstraint[i];
        if (cons.iColumn < kSeqsKind || cons.op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
        if (!cons.usable) return SQLITE_CONSTRAINT;
        argv_of[cons.iColumn - kSeqsKind] = i + 1;
    }
    for (int k = 0; k < 4; ++k) {
        if (!argv_of[k]) return SQLITE_CONSTRAINT;
        info->aConstraintUsage[argv_of[k] - 1].argvIndex = k + 1;
        info->aConstraintUsage[argv_of[k] - 1].omit = 1;
    }
    info->idxNum = 0;
    if (info->nOrderBy == 1 && info->aOrderBy[0].iColumn == kSeqsSeq) {
        info->orderByConsumed = 1;
        info->idxNum = info->aOrderBy[0].desc ? 1 : 0;
    }
    info->estimatedCost = 1000;
    info->estimatedRows = 1000;
    return SQLITE_OK;
}

int seqsOpen(sqlite3_vtab* p, sqlite3_vtab_cursor** out) {
    SeqsCursor* cur = nullptr;
    try {
        cur = new SeqsCursor{};
    } catch (const std::bad_alloc&) {
        return SQLITE_NOMEM;
    }
    cur->conn = static_cast<SeqsVtab*>(p)->conn;
    *out = cur;
    return SQLITE_OK;
}

int seqsClose(sqlite3_vtab_cursor* p) {
    delete static_cast<SeqsCursor*>(p);
    return SQLITE_OK;
}

// Keeps the arguments the scan is bound from, to run it again after a reset.
void take_args(SeqsCursor& cur, sqlite3_value* kind, sqlite3_value* key) {
    sqlite3_value_free(cur.kind);
    sqlite3_value_free(cur.key);
    cur.kind = sqlite3_value_dup(kind);
    cur.key = sqlite3_value_dup(key);
    if (!cur.kind || !cur.key) throw std::bad_alloc();
}

int seqsFilter(sqlite3_vtab_cursor* p, int idxNum, const char*, int argc, sqlite3_value** argv) {
    auto* cur = static_cast<SeqsCursor*>(p);
    return vtab_guard(cur->pVtab, *cur->conn, [&] {
        OwnSqlScope own(cur->conn->db);
        cur->eof = true;
        cur->values.clear();
        cur->at = 0;
        if (argc != 4) return SQLITE_OK;
        cur->desc = idxNum == 1;
        cur->lo = sqlite3_value_int64(argv[2]);
        cur->hi = sqlite3_value_int64(argv[3]);
        if (cur->lo > cur->hi) return SQLITE_OK;
        take_args(*cur, argv[0], argv[1]);
        // Unless it still runs, the statement held (and the pool) may be gone since the host
        // last ran: this cursor is also the inner loop of joins the host writes.
        if (!cur->blocks || !cur->run.running() || cur->shape != (cur->desc ? 2u : 1u)) {
            cur->conn->validate_statements();
            if (!cur->conn->owns(cur->blocks)) cur->blocks = {};
        }
        cur->open_scan();
        cur->eof = false;
        cur->settle();
        return SQLITE_OK;
    });
}

int seqsNext(sqlite3_vtab_cursor* p) {
    auto* cur = static_cast<SeqsCursor*>(p);
    return vtab_guard(cur->pVtab, *cur->conn, [&] {
        // Narrowing the range past the value just delivered means that if a host resets our
        // block statement under us (a reset-all loop), the blocks read again are skipped.
        if (cur->desc) {
            cur->hi = cur->current() - 1;
        } else {
            cur->lo = cur->current() + 1;
        }
        ++cur->at;
        cur->settle();
        return SQLITE_OK;
    });
}

int seqsEof(sqlite3_vtab_cursor* p) { return static_cast<SeqsCursor*>(p)->eof; }

int seqsColumn(sqlite3_vtab_cursor* p, sqlite3_context* ctx, int col) {
    auto* cur = static_cast<SeqsCursor*>(p);
    if (col == kSeqsSeq) sqlite3_result_int64(ctx, cur->current());
    return SQLITE_OK;
}

int seqsRowid(sqlite3_vtab_cursor* p, sqlite_int64* rowid) {
    *rowid = static_cast<SeqsCursor*>(p)->current();
    return SQLITE_OK;
}

sqlite3_module make_seqs_module() {
    sqlite3_module m{};
    m.xConnect = seqsConnect;
    m.xBestIndex = seqsBestIndex;
    m.xDisconnect = seqsDisconnect;
    m.xOpen = seqsOpen;
    m.xClose = seqsClose;
    m.xFilter = seqsFilter;
    m.xNext = seqsNext;
    m.xEof = seqsEof;
    m.xColumn = seqsColumn;
    m.xRowid = seqsRowid;
    return m;
}

const sqlite3_module kSeqsModule = make_seqs_module();

}  // namespace

int register_index_seqs(sqlite3* db, Conn* c) {
    ++c->refs;
    return sqlite3_create_module_v2(db, "es_index_seqs", &kSeqsModule, c, conn_release);
}

}  // namespace eskit::ext
