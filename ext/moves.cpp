#include "moves.h"

#include <algorithm>

#include "args.h"
#include "conn.h"
#include "event_ids.h"
#include "ids.h"
#include "postings.h"
#include "streams.h"
#include "write_scope.h"

namespace eskit::ext {

namespace {

constexpr const char* kEventCols =
    "seq, stream_id, version, type, data, metadata, codec, schema_version, event_id, "
    "idempotency_key, created_at";
constexpr const char* kEventColsAfterSeq =
    "stream_id, version, type, data, metadata, codec, schema_version, event_id, "
    "idempotency_key, created_at";
constexpr const char* kSnapshotCols =
    "stream_id, version, schema_version, codec, state, created_at";
const std::string kArchived = "archived";

// What database x holds of a stream: its events and its es_lifecycle row there.
struct Copy {
    int64_t count = 0;
    int64_t last_version = 0;
    int64_t seq_lo = 0;
    int64_t seq_hi = 0;
    std::string last_id;
    bool has_row = false;
    std::string state;
    std::string move_id;
    std::string origin;
};

Copy read_copy(Conn& c, const Schema& x, std::string_view stream) {
    const char* q = x.quoted().c_str();
    Copy copy;
    {
        Stmt s =
            c.use(format("SELECT count(*), ifnull(max(version), 0), ifnull(min(seq), 0), "
                         "ifnull(max(seq), 0), (SELECT event_id FROM %s.es_events WHERE "
                         "stream_id = ?1 ORDER BY version DESC LIMIT 1) FROM %s.es_events "
                         "WHERE stream_id = ?1",
                         q, q));
        s.bind(1, stream);
        if (s.step_row()) {
            copy.count = s.int64(0);
            copy.last_version = s.int64(1);
            copy.seq_lo = s.int64(2);
            copy.seq_hi = s.int64(3);
            copy.last_id = s.str(4);
        }
    }
    Stmt l =
        c.use(format("SELECT state, ifnull(move_id, ''), ifnull(origin_store, '') FROM "
                     "%s.es_lifecycle WHERE stream_id = ?1",
                     q));
    l.bind(1, stream);
    if (l.step_row()) {
        copy.has_row = true;
        copy.state = l.str(0);
        copy.move_id = l.str(1);
        copy.origin = l.str(2);
    }
    return copy;
}

bool is_legacy(const Lifecycle& life) { return life.archive_store.empty(); }

// The seq values of stream's events in `from`, ascending: what a copy of it may insert.
std::vector<int64_t> stream_seqs(Conn& c, const Schema& from, std::string_view stream) {
    std::vector<int64_t> seqs;
    Stmt s = c.use(format("SELECT seq FROM %s.es_events WHERE stream_id = ?1 ORDER BY seq",
                          from.quoted().c_str()));
    s.bind(1, stream);
    while (s.step_row()) seqs.push_back(s.int64(0));
    return seqs;
}

// The copy is what the recorded move took out of main.
bool matches(const Copy& copy, const Lifecycle& life) {
    if (is_legacy(life)) {  // a version 2 move recorded only the last version
        return copy.has_row && copy.count > 0 && copy.count == copy.last_version &&
               copy.last_version == life.version;
    }
    return copy.has_row && copy.move_id == life.move_id && copy.count == life.moved_count &&
           copy.last_version == life.version && copy.last_id == life.moved_last_id &&
           copy.seq_lo == life.moved_seq_lo && copy.seq_hi == life.moved_seq_hi;
}

// The moves whose copies of stream in store main has recorded for erasure.
std::vector<std::string> recorded_moves(Conn& c, const std::string& store,
                                        std::string_view stream) {
    Stmt s =
        c.use(std::string("SELECT move_id FROM main.es_cleanups WHERE store_id = ?1 AND "
                          "stream_id = ?2"));
    s.bind(1, store).bind(2, stream);
    std::vector<std::string> moves;
    while (s.step_row()) moves.push_back(s.str(0));
    return moves;
}

bool cleanup_recorded(Conn& c, const std::string& store, std::string_view stream,
                      const std::string& move_id) {
    Stmt s =
        c.use(std::string("SELECT 1 FROM main.es_cleanups WHERE store_id = ?1 AND "
                          "stream_id = ?2 AND move_id = ?3"));
    s.bind(1, store).bind(2, stream).bind(3, move_id);
    return s.step_row();
}

void keep_head(Conn& c, const Schema& s) {
    const char* q = s.quoted().c_str();
    c.prepare(format("INSERT OR REPLACE INTO %s.es_meta(key, value) SELECT 'seq_floor', "
                     "max(ifnull((SELECT max(seq) FROM %s.es_events), 0), ifnull((SELECT value "
                     "FROM %s.es_meta WHERE key = 'seq_floor'), 0))",
                     q, q, q))
        .step_done();
}

}  // namespace

int64_t erase_stream_rows(Conn& c, const Schema& s, const std::string& store,
                          std::string_view stream) {
    keep_head(c, s);
    return remove_stream_rows(c, s, store, stream);
}

int64_t remove_stream_rows(Conn& c, const Schema& s, const std::string& store,
                           std::string_view stream) {
    const char* q = s.quoted().c_str();
    unlist_stream_ids(c, s, stream);
    {
        PermitScope none(c.guard, no_permit());  // es_snapshots is not eskit's: no permit
        c.prepare(format("DELETE FROM %s.es_snapshots WHERE stream_id = ?1", q))
            .bind(1, stream)
            .step_done();
    }
    PermitScope permit(c.guard, delete_permit(store, std::string(stream)));
    Stmt d = c.prepare(format("DELETE FROM %s.es_events WHERE stream_id = ?1", q));
    d.bind(1, stream).step_done();
    return d.changes();
}

namespace {

std::optional<int64_t> erase_copy_of(Conn& c, const Schema& x, std::string_view stream,
                                     const std::string& move_id, const char* fn, bool undo);

// The note erase_copy leaves in x (bookkeeping permit of x held): move_id's copy is gone.
void note_erased(Conn& c, const Schema& x, const std::string& move_id, std::string_view stream) {
    if (move_id.empty()) return;  // a version 2 move: nothing recorded to match it
    c.prepare(format("INSERT OR REPLACE INTO %s.es_meta(key, value) VALUES (?1, ?2)",
                     x.quoted().c_str()))
        .bind(1, "erased " + move_id)
        .bind(2, stream)
        .step_done();
}

// Erases the copy that move_id left of stream in x, in a transaction on x (upgrading an archive
// of an older eskit first), and leaves a note of it there (es_meta 'erased <move_id>'), so that
// a later look can tell "erased already" from "not in this database" (a stale backup of x has
// x's identity but neither the copy nor the note). Returns the events erased, or nullopt when x
// holds neither this move's copy nor its note: the clean-up is not done.
std::optional<int64_t> erase_copy(Conn& c, const Schema& x, std::string_view stream,
                                  const std::string& move_id, const char* fn) {
    return erase_copy_of(c, x, stream, move_id, fn, /*undo=*/false);
}

// Main records move_id as done: the stream is in x (read under main's lock, which x's write
// scope holds), so x's copy is the only one.
bool is_move_finished(Conn& c, std::string_view stream, const std::string& move_id) {
    const StreamState st = read_stream(c, stream);
    return st.state() == State::ArchivedElsewhere && st.life.move_id == move_id;
}

// undo: the move that made the copy is being given up (it never happened): x is put back as it
// was, without a note and without keeping a head its own events never reached.
std::optional<int64_t> erase_copy_of(Conn& c, const Schema& x, std::string_view stream,
                                     const std::string& move_id, const char* fn, bool undo) {
    WriteScope scope(c, fn, x);
    const Copy copy = read_copy(c, x, stream);
    const std::string note = "erased " + move_id;
    std::optional<int64_t> erased;
    if (copy.has_row && copy.move_id == move_id) {
        const std::string x_store = store_id(c, x);
        // A move given up because a tombstone or delete overtook it: that recorded the erasure.
        const bool recorded = !undo || cleanup_recorded(c, x_store, stream, move_id);
        if (undo && !recorded && is_move_finished(c, stream, move_id)) {
            scope.commit();  // another call finished this move meanwhile: x's copy is the stream
            return std::nullopt;
        }
        BookkeepingScope permit(c, x, x_store);
        erased = recorded ? erase_stream_rows(c, x, x_store, stream)
                          : remove_stream_rows(c, x, x_store, stream);
        c.prepare(format("DELETE FROM %s.es_lifecycle WHERE stream_id = ?1", x.quoted().c_str()))
            .bind(1, stream)
            .step_done();
        if (recorded) note_erased(c, x, move_id, stream);
    } else if (!move_id.empty()) {
        Stmt n = c.prepare(format("SELECT 1 FROM %s.es_meta WHERE key = ?1", x.quoted().c_str()));
        n.bind(1, note);
        if (n.step_row()) erased = 0;
    }
    scope.commit();
    return erased;
}

void drop_cleanup(Conn& c, const std::string& store, std::string_view stream,
                  const std::string& move_id) {
    WriteScope scope(c, "es_maintain()");
    const std::string main_store = store_id(c, Schema::main_db());
    BookkeepingScope permit(c, Schema::main_db(), main_store);
    c.use(std::string("DELETE FROM main.es_cleanups WHERE store_id = ?1 AND stream_id = ?2 AND "
                      "move_id = ?3"))
        .bind(1, store)
        .bind(2, stream)
        .bind(3, move_id)
        .step_done();
    scope.commit();
}

// Prepares x to receive a stream: a database that outlives the connection, writable, with
// eskit tables (created or upgraded now, in a transaction on x alone) and an identity of its
// own. Returns that identity.
std::string prepare_archive(Conn& c, const Schema& x, const char* fn) {
    const char* name = x.name().c_str();
    if (!outlives_connection(c, x)) {
        raise(Code::InvalidArgument,
              "%s: database %Q cannot outlive this connection (in memory or "
              "temporary): an archive must be a file",
              fn, name);
    }
    if (is_readonly(c, x)) {
        raise(Code::InvalidArgument, "%s: database %Q is read-only", fn, name);
    }
    WriteScope scope(c, fn, x);
    std::string id = store_id(c, x);
    scope.commit();
    return id;
}

struct Move {
    bool done = false;  // the stream already is in x: nothing to do
    Lifecycle intent;   // main's record of the move
};

[[noreturn]] void raise_ids_taken_in(const Schema& x, const std::string& stream, const char* fn) {
    raise(Code::DuplicateEvent, Context{stream},
          "%s: event ids of stream %Q already exist in "
          "archive database %Q",
          fn, stream.c_str(), x.name().c_str());
}

void check_room_in(Conn& c, const Schema& x, std::string_view stream, const char* fn) {
    const char* q = x.quoted().c_str();
    const std::string id(stream);
    Stmt seqs =
        c.use(format("SELECT count(*) FROM main.es_events AS m JOIN %s.es_events AS a "
                     "ON a.seq = m.seq WHERE m.stream_id = ?1",
                     q));
    seqs.bind(1, stream);
    if (seqs.step_row() && seqs.int64(0) > 0) {
        raise(Code::Conflict, Context{id},
              "%s: seq values of stream %Q are already used in archive "
              "database %Q (by another store's events)",
              fn, id.c_str(), x.name().c_str());
    }
    Stmt ids =
        c.use(format("SELECT count(*) FROM main.es_events AS m WHERE m.stream_id = ?1 AND "
                     "(EXISTS (SELECT 1 FROM %s.es_event_ids AS i WHERE i.event_id = "
                     "m.event_id) OR EXISTS (SELECT 1 FROM %s.es_reserved_ids AS r WHERE "
                     "r.event_id = m.event_id))",
                     q, q));
    ids.bind(1, stream);
    if (ids.step_row() && ids.int64(0) > 0) raise_ids_taken_in(x, id, fn);
    // Ids x generated itself are not listed there: they are found at the seq they carry.
    Stmt mine = c.use(std::string("SELECT event_id FROM main.es_events WHERE stream_id = ?1"));
    mine.bind(1, stream);
    while (mine.step_row()) {
        const std::optional<int64_t> seq = seq_in_id(mine.text(0));
        if (!seq) continue;
        Stmt at = c.use(format("SELECT 1 FROM %s.es_events WHERE seq = ?1 AND event_id = ?2", q));
        at.bind(1, *seq).bind(2, mine.text(0));
        if (at.step_row()) raise_ids_taken_in(x, id, fn);
    }
}

[[noreturn]] void raise_foreign_copy(const Schema& x, std::string_view stream, const char* fn) {
    const std::string id(stream);
    raise(Code::Conflict, Context{id}, "%s: archive database %Q already holds a stream %Q", fn,
          x.name().c_str(), id.c_str());
}

// A copy of the stream that x holds and main has not recorded as a leftover of its own.
void refuse_foreign_copy(Conn& c, const Schema& x, const std::string& x_store,
                         std::string_view stream, const Copy& copy, const char* fn) {
    if ((copy.count > 0 || copy.has_row) && !cleanup_recorded(c, x_store, stream, copy.move_id)) {
        raise_foreign_copy(x, stream, fn);
    }
}

// x has main's own identity: a copy of this store, or its file attached twice.
void refuse_self(const Schema& x, const std::string& x_store, const StreamState& st,
                 const char* fn) {
    if (x_store != st.store_id) return;
    raise(Code::InvalidArgument,
          "%s: database %Q is this store (the same identity: a copy of it, "
          "or the file attached twice); archive into another eskit store",
          fn, x.name().c_str());
}

// Step A of archive_to.
Move record_intent(Conn& c, std::string_view stream, const Schema& x, const std::string& x_store,
                   const char* fn) {
    WriteScope scope(c, fn);
    const StreamState st = read_stream(c, stream);
    const char* id = st.stream.c_str();
    Move m;
    switch (st.state()) {
        case State::None: raise_not_found(stream);
        case State::Tombstoned: raise_tombstoned(st);
        case State::Held: require_own(st, fn); break;
        case State::ArchivedElsewhere:
            if (st.life.archive_store == x_store) {
                m.done = true;
                scope.commit();
                return m;
            }
            raise(Code::InvalidArgument, Context{st.stream},
                  "%s: stream %Q is already archived in "
                  "database %Q; restore it before moving it to %Q",
                  fn, id, st.life.archive_alias.c_str(), x.name().c_str());
        case State::Archiving:
            if (st.life.archive_store != x_store) {
                raise(Code::InvalidArgument, Context{st.stream},
                      "%s: stream %Q is being moved to "
                      "database %Q; es_archive(%Q, %Q) finishes that move",
                      fn, id, st.life.archive_alias.c_str(), id, st.life.archive_alias.c_str());
            }
            m.intent = st.life;  // an unfinished move to x: finish it
            scope.commit();
            return m;
        case State::Active:
        case State::Archived: break;
    }
    refuse_self(x, x_store, st, fn);
    refuse_foreign_copy(c, x, x_store, stream, read_copy(c, x, stream), fn);
    const Copy leaving = read_copy(c, Schema::main_db(), stream);
    Lifecycle& l = m.intent;
    l.state = "archiving";
    l.version = st.version();
    l.archive_store = x_store;
    l.archive_alias = x.name();
    l.move_id = new_identity();
    l.moved_count = leaving.count;
    l.moved_last_id = leaving.last_id;
    l.moved_seq_lo = leaving.seq_lo;
    l.moved_seq_hi = leaving.seq_hi;
    BookkeepingScope permit(c, Schema::main_db(), st.store_id);
    c.use(std::string(
              "INSERT OR REPLACE INTO main.es_lifecycle(stream_id, state, version, created_at, "
              "updated_at, archive_store, archive_alias, move_id, moved_count, moved_last_id, "
              "moved_seq_lo, moved_seq_hi, prior_state) VALUES (?1, 'archiving', ?2, (SELECT "
              "created_at FROM main.es_events WHERE stream_id = ?1 ORDER BY version LIMIT 1), ?3, "
              "?4, "
              "?5, ?6, ?7, ?8, ?9, ?10, ?11)"))
        .bind(1, stream)
        .bind(2, l.version)
        .bind(3, now_micros())
        .bind(4, l.archive_store)
        .bind(5, l.archive_alias)
        .bind(6, l.move_id)
        .bind(7, l.moved_count)
        .bind(8, l.moved_last_id)
        .bind(9, l.moved_seq_lo)
        .bind(10, l.moved_seq_hi)
        .bind_optional(11, st.state() == State::Archived ? &kArchived : nullptr)
        .step_done();
    scope.commit();
    return m;
}

// Step B of archive_to: the copy in x, tagged with the move.
void copy_into(Conn& c, std::string_view stream, const Schema& x, const std::string& x_store,
               const Lifecycle& intent, const char* fn) {
    WriteScope scope(c, fn, x);
    const StreamState st = read_stream(c, stream);  // main, as of now
    if (st.state() != State::Archiving || st.life.move_id != intent.move_id) {
        // Finished or overtaken meanwhile: step C tells which. A tombstone or delete that
        // overtook the move recorded the erasure of a copy that now never comes: x is told.
        if (cleanup_recorded(c, x_store, stream, intent.move_id)) {
            BookkeepingScope bookkeeping(c, x, x_store);
            note_erased(c, x, intent.move_id, stream);
        }
        scope.commit();
        return;
    }
    const Copy copy = read_copy(c, x, stream);
    if (copy.has_row && copy.move_id == intent.move_id) {
        scope.commit();  // this move's copy is there already (a concurrent or earlier call)
        return;
    }
    refuse_foreign_copy(c, x, x_store, stream, copy, fn);
    const char* q = x.quoted().c_str();
    BookkeepingScope bookkeeping(c, x, x_store);
    if (copy.count > 0 || copy.has_row) {  // our own leftover, recorded for erasure: replace it
        erase_stream_rows(c, x, x_store, stream);
        note_erased(c, x, copy.move_id, stream);  // so that its recorded clean-up finds it done
    }
    check_room_in(c, x, stream, fn);
    {
        PermitScope permit(c.guard,
                           insert_permit(x_store, stream_seqs(c, Schema::main_db(), stream)));
        c.prepare(format("INSERT INTO %s.es_events(%s) SELECT %s FROM main.es_events WHERE "
                         "stream_id = ?1 ORDER BY seq",
                         q, kEventCols, kEventCols))
            .bind(1, stream)
            .step_done();
    }
    {
        PermitScope none(c.guard, no_permit());
        c.prepare(format("INSERT OR REPLACE INTO %s.es_snapshots(%s) SELECT %s FROM "
                         "main.es_snapshots WHERE stream_id = ?1",
                         q, kSnapshotCols, kSnapshotCols))
            .bind(1, stream)
            .step_done();
    }
    c.prepare(
         format("INSERT OR REPLACE INTO %s.es_lifecycle(stream_id, state, version, created_at, "
                "updated_at, move_id, moved_count, moved_last_id, moved_seq_lo, moved_seq_hi, "
                "origin_store) SELECT stream_id, 'archived', version, created_at, ?2, move_id, "
                "moved_count, moved_last_id, moved_seq_lo, moved_seq_hi, ?3 FROM "
                "main.es_lifecycle WHERE stream_id = ?1",
                q))
        .bind(1, stream)
        .bind(2, now_micros())
        .bind(3, st.store_id)
        .step_done();
    list_stream_ids(c, x, stream);
    index_stream(c, x, x_store, stream);
    fold_pending(c, x, x_store, kTailBound);
    scope.commit();
}

// The move is abandoned (x received another store's stream of that name between steps A and
// B): the stream goes back to the state it had.
void abandon(Conn& c, std::string_view stream, const Lifecycle& intent) {
    WriteScope scope(c, "es_archive()");
    const StreamState st = read_stream(c, stream);
    if (st.state() == State::Archiving && st.life.move_id == intent.move_id) {
        BookkeepingScope permit(c, Schema::main_db(), st.store_id);
        c.use(std::string("UPDATE main.es_lifecycle SET state = 'archived', archive_store = NULL, "
                          "archive_alias = NULL, move_id = NULL, moved_count = NULL, "
                          "moved_last_id = NULL, moved_seq_lo = NULL, moved_seq_hi = NULL, "
                          "prior_state = NULL WHERE stream_id = ?1 AND prior_state = 'archived'"))
            .bind(1, stream)
            .step_done();
        c.use(std::string("DELETE FROM main.es_lifecycle WHERE stream_id = ?1 AND "
                          "state = 'archiving'"))
            .bind(1, stream)
            .step_done();
    }
    scope.commit();
}

// After a failed step of a move, best effort: the step's own error is what the caller gets,
// and what these leave undone a retry of es_archive(s, x) finishes.
void give_up(Conn& c, std::string_view stream, const Lifecycle& intent) noexcept {
    try {
        abandon(c, stream, intent);
    } catch (...) {
    }
}

// Step C of archive_to: the events leave main, their ids stay taken.
int64_t finish_archive(Conn& c, std::string_view stream, const Schema& x, const Lifecycle& intent,
                       const char* fn) {
    WriteScope scope(c, fn);
    const StreamState st = read_stream(c, stream);
    if (st.state() == State::ArchivedElsewhere && st.life.move_id == intent.move_id) {
        scope.commit();
        return 0;  // another call finished this move
    }
    if (st.state() == State::Tombstoned) raise_tombstoned(st);
    const char* id = st.stream.c_str();
    if (st.state() != State::Archiving || st.life.move_id != intent.move_id) {
        raise(Code::Conflict, Context{st.stream},
              "%s: stream %Q changed while it was being moved "
              "to %Q; try again",
              fn, id, x.name().c_str());
    }
    if (!matches(read_copy(c, x, stream), st.life)) {
        raise(Code::Conflict, Context{st.stream},
              "%s: the copy of stream %Q in %Q does not match "
              "what is leaving this store; es_archive(%Q, %Q) copies it again",
              fn, id, x.name().c_str(), id, x.name().c_str());
    }
    BookkeepingScope permit(c, Schema::main_db(), st.store_id);
    c.use(std::string("INSERT OR REPLACE INTO main.es_reserved_ids(event_id, stream_id) SELECT "
                      "event_id, stream_id FROM main.es_events WHERE stream_id = ?1"))
        .bind(1, stream)
        .step_done();
    const int64_t moved = erase_stream_rows(c, Schema::main_db(), st.store_id, stream);
    c.use(std::string("UPDATE main.es_lifecycle SET state = 'archived', prior_state = NULL, "
                      "updated_at = ?2 WHERE stream_id = ?1"))
        .bind(1, stream)
        .bind(2, now_micros())
        .step_done();
    scope.commit();
    return moved;
}

// ---------------------------------------------------------------------------------------------
// restore

struct Return {
    int64_t moved = 0;
    bool leftover = false;  // only an earlier restore's clean-up was left to do
    std::string move_id;    // of the copy in x, to erase after the copy back
    bool adopted = false;   // a stream of another store: x's copy is not main's to erase
};

[[noreturn]] void raise_not_in(const StreamState& st, const Schema& x, const char* fn) {
    raise(Code::InvalidArgument, Context{st.stream}, "%s: stream %Q is not archived in database %Q",
          fn, st.stream.c_str(), x.name().c_str());
}

// The recorded archive of st is x: by identity, or (a version 2 move) by the alias.
bool is_recorded_archive(const StreamState& st, const Schema& x, const std::string& x_store) {
    if (!is_legacy(st.life)) return st.life.archive_store == x_store;
    return sqlite3_stricmp(st.life.archive_alias.c_str(), x.name().c_str()) == 0;
}

void check_ids_free_in_main(Conn& c, const Schema& x, std::string_view stream, const char* fn) {
    Stmt ids = c.prepare(
        format("SELECT event_id FROM %s.es_events WHERE stream_id = ?1", x.quoted().c_str()));
    ids.bind(1, stream);
    while (ids.step_row()) {
        const IdOwner o = find_id(c, ids.text(0));
        if (o.kind != IdOwner::Kind::Free) {
            const std::string id(stream);
            raise(Code::DuplicateEvent, Context{id},
                  "%s: event ids of stream %Q in database %Q "
                  "already exist in main",
                  fn, id.c_str(), x.name().c_str());
        }
    }
}

// Step A of restore_from: the copy back into main, in one transaction on main.
Return copy_back(Conn& c, std::string_view stream, const Schema& x, const char* fn) {
    WriteScope scope(c, fn);
    // An archive written by an older eskit is upgraded in this transaction: a refused
    // restore leaves it as it was.
    if (schema_version(c, x) < kSchemaVersion) scope.include(x);
    const StreamState st = read_stream(c, stream);
    const std::string x_store = store_id(c, x);
    const Copy copy = read_copy(c, x, stream);
    const char* id = st.stream.c_str();
    Return r;
    r.move_id = copy.move_id;
    bool adopt = false;
    switch (st.state()) {
        case State::Tombstoned: raise_tombstoned(st);
        case State::Held: require_own(st, fn); break;
        case State::Archiving:
            raise(Code::Conflict, Context{st.stream},
                  "%s: stream %Q is being moved to database %Q; "
                  "es_archive(%Q, %Q) finishes that move",
                  fn, id, st.life.archive_alias.c_str(), id, st.life.archive_alias.c_str());
        case State::Archived: raise_not_in(st, x, fn);
        case State::Active: {
            // The restore happened and only the erasure of x's copy (or the removal of its
            // record after it) was interrupted: finish that and answer 0, as the first call.
            const std::vector<std::string> recorded = recorded_moves(c, x_store, stream);
            const bool copy_recorded =
                std::find(recorded.begin(), recorded.end(), copy.move_id) != recorded.end();
            if (recorded.empty() || (copy.has_row && !copy_recorded)) raise_not_in(st, x, fn);
            r.leftover = true;
            r.move_id = copy.has_row ? copy.move_id : recorded.front();
            scope.commit();
            return r;
        }
        case State::ArchivedElsewhere:
            if (!is_recorded_archive(st, x, x_store)) {
                raise(Code::InvalidArgument, Context{st.stream},
                      "%s: stream %Q is archived in "
                      "another database (attached as %Q when it moved), not in %Q",
                      fn, id, st.life.archive_alias.c_str(), x.name().c_str());
            }
            // A version 2 move reserved nothing: ids taken in main since then refuse it.
            if (is_legacy(st.life)) check_ids_free_in_main(c, x, stream, fn);
            if (!matches(copy, st.life)) {
                raise(Code::Conflict, Context{st.stream},
                      "%s: the copy of stream %Q in %Q does not "
                      "match what left this store (%lld events up to version %lld)",
                      fn, id, x.name().c_str(), static_cast<long long>(st.life.moved_count),
                      static_cast<long long>(st.life.version));
            }
            break;
        case State::None:
            // A stream another store archived into x: adopted with new positions, as a copy
            // (x keeps it for the store that moved it there). Nothing else in x is an archive
            // copy to take: x's own streams, or a copy main left there and erases.
            if (copy.has_row && copy.origin == st.store_id &&
                !cleanup_recorded(c, x_store, stream, copy.move_id)) {
                // An old copy of main's own (a backup of an archive): the stream was restored or
                // erased since, and what was erased stays erased.
                raise(Code::NotFound, Context{st.stream},
                      "stream %Q does not exist in database %Q "
                      "(it holds an old copy of this store's stream, which was restored or "
                      "removed since)",
                      id, x.name().c_str());
            }
            if (!copy.has_row || copy.count == 0 || copy.state != "archived" ||
                copy.origin.empty() || copy.move_id.empty() ||
                cleanup_recorded(c, x_store, stream, copy.move_id)) {
                raise(Code::NotFound, Context{st.stream}, "stream %Q does not exist in database %Q",
                      id, x.name().c_str());
            }
            check_ids_free_in_main(c, x, stream, fn);
            adopt = true;
            break;
    }
    const char* q = x.quoted().c_str();
    const int64_t lo = adopt ? st.head + 1 : copy.seq_lo;
    const int64_t hi = adopt ? st.head + copy.count : copy.seq_hi;
    BookkeepingScope bookkeeping(c, Schema::main_db(), st.store_id);
    {
        PermitScope permit(c.guard, adopt ? insert_permit(st.store_id, lo, hi)
                                          : insert_permit(st.store_id, stream_seqs(c, x, stream)));
        // An adopted stream's events get the positions after the head, in their order, so a
        // consumer reading es_all from its checkpoint sees them.
        Stmt ins =
            c.prepare(format("INSERT INTO main.es_events(%s) SELECT %s%s FROM %s.es_events "
                             "WHERE stream_id = ?1 ORDER BY seq",
                             kEventCols, adopt ? "?2 + row_number() OVER (ORDER BY seq), " : "",
                             adopt ? kEventColsAfterSeq : kEventCols, q));
        ins.bind(1, stream);
        if (adopt) ins.bind(2, st.head);
        ins.step_done();
        r.moved = ins.changes();
    }
    {
        PermitScope none(c.guard, no_permit());
        c.prepare(format("INSERT OR REPLACE INTO main.es_snapshots(%s) SELECT %s FROM "
                         "%s.es_snapshots WHERE stream_id = ?1",
                         kSnapshotCols, kSnapshotCols, q))
            .bind(1, stream)
            .step_done();
    }
    c.use(std::string("DELETE FROM main.es_reserved_ids WHERE stream_id = ?1"))
        .bind(1, stream)
        .step_done();
    c.use(std::string("DELETE FROM main.es_lifecycle WHERE stream_id = ?1"))
        .bind(1, stream)
        .step_done();
    list_stream_ids(c, Schema::main_db(), stream);
    index_stream(c, Schema::main_db(), st.store_id, stream);
    fold_pending(c, Schema::main_db(), st.store_id, kTailBound);
    if (adopt) {
        r.adopted = true;  // x's copy stays: it is its origin store's
    } else {
        record_cleanup(c, st.store_id, x_store, x.name(), stream, copy.move_id);
    }
    scope.commit();
    return r;
}

}  // namespace

void record_cleanup(Conn& c, const std::string& main_store, const std::string& store,
                    const std::string& alias, std::string_view stream, const std::string& move_id) {
    BookkeepingScope permit(c, Schema::main_db(), main_store);
    c.use(std::string("INSERT OR IGNORE INTO main.es_cleanups(store_id, stream_id, move_id, alias) "
                      "VALUES (?1, ?2, ?3, ?4)"))
        .bind(1, store)
        .bind(2, stream)
        .bind(3, move_id)
        .bind(4, alias)
        .step_done();
}

CleanupReport run_cleanups(Conn& c, std::string_view stream, const char* fn) {
    struct Cleanup {
        std::string store, stream, move_id, alias;
    };
    std::vector<Cleanup> todo;
    {
        Stmt s = stream.empty()
                     ? c.use(std::string("SELECT store_id, stream_id, move_id, ifnull(alias, '') "
                                         "FROM main.es_cleanups"))
                     : c.use(std::string("SELECT store_id, stream_id, move_id, ifnull(alias, '') "
                                         "FROM main.es_cleanups WHERE stream_id = ?1"));
        if (!stream.empty()) s.bind(1, stream);
        while (s.step_row()) todo.push_back({s.str(0), s.str(1), s.str(2), s.str(3)});
    }
    CleanupReport report;
    for (const Cleanup& k : todo) {
        const std::optional<Schema> x = find_store(c, k.store, k.alias);
        if (!x || is_readonly(c, *x)) {
            ++report.pending;  // not attached (or not told apart, or read-only): later
            continue;
        }
        try {
            const std::optional<int64_t> erased = erase_copy(c, *x, k.stream, k.move_id, fn);
            if (!erased) {
                ++report.pending;  // an older copy of that store (a backup): not the one to erase
                continue;
            }
            report.erased += *erased;
            drop_cleanup(c, k.store, k.stream, k.move_id);
        } catch (const Error& e) {
            ++report.pending;
            report.failures.push_back(e.message);
        }
    }
    return report;
}

int64_t erase_legacy_copy(Conn& c, std::string_view stream, const std::string& alias,
                          const char* fn) {
    for (int i = 2; const char* name = sqlite3_db_name(c.db, i); ++i) {
        if (sqlite3_stricmp(name, alias.c_str()) != 0) continue;
        const Schema x = Schema::named(name);
        if (schema_version(c, x) == 0) return 0;
        return erase_copy(c, x, stream, std::string(), fn).value_or(0);
    }
    return 0;
}

// The copy is the one a concurrent call is moving there right now (main read again: its
// first read came before that call's step A).
bool is_current_move(Conn& c, std::string_view stream, const Copy& copy) {
    return !copy.move_id.empty() && read_stream(c, stream).life.move_id == copy.move_id;
}

// The checks of step A that need no write, so that a call that fails leaves x untouched (x
// gets eskit tables only for a move that can happen).
void precheck_archive(Conn& c, std::string_view stream, const Schema& x, const char* fn) {
    if (schema_version(c, Schema::main_db()) == 0) raise_not_found(stream);
    const StreamState st = read_stream(c, stream);
    const std::string x_store = store_id(c, x);
    switch (st.state()) {
        case State::None: raise_not_found(stream);
        case State::Tombstoned: raise_tombstoned(st);
        case State::Held: require_own(st, fn); return;
        case State::ArchivedElsewhere:
        case State::Archiving:
            if (x_store.empty() || st.life.archive_store != x_store) {
                raise(Code::InvalidArgument, Context{st.stream},
                      "%s: stream %Q is already "
                      "archived in database %Q; restore it before moving it to %Q",
                      fn, st.stream.c_str(), st.life.archive_alias.c_str(), x.name().c_str());
            }
            return;
        case State::Active:
        case State::Archived: {
            if (x_store.empty()) return;
            refuse_self(x, x_store, st, fn);
            // main's record first, then x: a restore erases x's copy before it drops the
            // record, so in this order a copy being erased is never taken for a foreign one.
            const std::vector<std::string> recorded = recorded_moves(c, x_store, stream);
            const Copy copy = read_copy(c, x, stream);
            if ((copy.count > 0 || copy.has_row) &&
                std::find(recorded.begin(), recorded.end(), copy.move_id) == recorded.end() &&
                !is_current_move(c, stream, copy)) {
                raise_foreign_copy(x, stream, fn);
            }
            return;
        }
    }
}

// Step C failed: x's copy goes first (a crash in between leaves the intent without a copy,
// which a retry copies again), then the intent.
void give_up_after_copy(Conn& c, std::string_view stream, const Schema& x, const Lifecycle& intent,
                        const char* fn) noexcept {
    try {
        erase_copy_of(c, x, stream, intent.move_id, fn, /*undo=*/true);
        abandon(c, stream, intent);
    } catch (...) {
    }
}

int64_t archive_to(Conn& c, std::string_view stream, const Schema& x, bool outside) {
    const char* fn = "es_archive()";
    require_autocommit(outside, fn);
    precheck_archive(c, stream, x, fn);
    const std::string x_store = prepare_archive(c, x, fn);
    const Move m = record_intent(c, stream, x, x_store, fn);
    if (m.done) return 0;
    try {
        copy_into(c, stream, x, x_store, m.intent, fn);
    } catch (const Error&) {
        // Nothing reached x (its transaction rolled back): give the move up, so that the
        // stream is as it was and the call changes nothing. A crash here leaves the intent,
        // which the next es_archive(s, x) finishes.
        give_up(c, stream, m.intent);
        throw;
    }
    try {
        return finish_archive(c, stream, x, m.intent, fn);
    } catch (const Error&) {
        // main refused the last step: take the copy back out of x, then the intent.
        give_up_after_copy(c, stream, x, m.intent, fn);
        throw;
    }
}

int64_t restore_from(Conn& c, std::string_view stream, const Schema& x, bool outside) {
    const char* fn = "es_restore()";
    require_autocommit(outside, fn);
    if (schema_version(c, x) == 0) {
        const std::string id(stream);
        raise(Code::NotFound, Context{id}, "stream %Q does not exist in database %Q", id.c_str(),
              x.name().c_str());
    }
    const Return r = copy_back(c, stream, x, fn);
    if (!r.adopted) {
        // The stream is back in main: the copy's erasure runs now, or (recorded in main) by
        // es_maintain when x cannot be written right now.
        run_cleanups(c, stream, fn);
    }
    return r.leftover ? 0 : r.moved;
}

}  // namespace eskit::ext
