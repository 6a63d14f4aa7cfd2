#include "streams.h"

#include "conn.h"
#include "error.h"
#include "stmt.h"

namespace eskit::ext {

namespace {

const Query kStreamState{
    "SELECT (SELECT max(version) FROM main.es_events WHERE stream_id = ?1), "
    "l.state, l.version, l.created_at, l.updated_at, l.archive_store, l.archive_alias, "
    "l.move_id, l.moved_count, l.moved_last_id, l.moved_seq_lo, l.moved_seq_hi, "
    "l.origin_store, l.tombstone_reason, l.tombstoned_at, "
    "max(ifnull((SELECT max(seq) FROM main.es_events), 0), "
    "    ifnull((SELECT value FROM main.es_meta WHERE key = 'seq_floor'), 0)), "
    "ifnull((SELECT value FROM main.es_meta WHERE key = 'indexed_upto'), 0), "
    "(SELECT value FROM main.es_meta WHERE key = 'store_id') "
    "FROM (SELECT 1) LEFT JOIN main.es_lifecycle AS l ON l.stream_id = ?1"};

const Query kLifecycle{
    "SELECT state, archive_store, archive_alias, tombstone_reason FROM main.es_lifecycle "
    "WHERE stream_id = ?1"};

// The highest seq ever assigned: deleting the newest events lowers max(seq), so every eskit
// call that deletes events first records the head as es_meta's seq_floor (keep_head()).
const Query kHead{
    "SELECT max(ifnull((SELECT max(seq) FROM main.es_events), 0), "
    "ifnull((SELECT value FROM main.es_meta WHERE key = 'seq_floor'), 0))"};

}  // namespace

State StreamState::state() const {
    if (life.exists) {
        if (life.state == "tombstoned") return State::Tombstoned;
        if (life.state == "archiving") return State::Archiving;
        if (!life.origin_store.empty()) return State::Held;
        return life.archive_alias.empty() && life.archive_store.empty() ? State::Archived
                                                                        : State::ArchivedElsewhere;
    }
    return events_version > 0 ? State::Active : State::None;
}

StreamState read_stream(Conn& c, std::string_view stream) {
    StreamState st;
    st.stream.assign(stream);
    Stmt s = c.use(kStreamState);
    s.bind(1, stream);
    if (!s.step_row()) return st;
    st.events_version = s.int64(0);
    Lifecycle& l = st.life;
    l.exists = !s.is_null(1);
    if (l.exists) {
        l.state = s.str(1);
        l.version = s.int64(2);
        l.created_at = s.int64(3);
        l.updated_at = s.int64(4);
        l.archive_store = s.str(5);
        l.archive_alias = s.str(6);
        l.move_id = s.str(7);
        l.moved_count = s.int64(8);
        l.moved_last_id = s.str(9);
        l.moved_seq_lo = s.int64(10);
        l.moved_seq_hi = s.int64(11);
        l.origin_store = s.str(12);
        if (!s.is_null(13)) l.tombstone_reason = s.str(13);
        l.tombstoned_at = s.int64(14);
    }
    st.head = s.int64(15);
    st.indexed_upto = s.int64(16);
    st.store_id = s.str(17);
    return st;
}

StreamState read_lifecycle(Conn& c, std::string_view stream) {
    StreamState st;
    st.stream.assign(stream);
    Stmt s = c.use(kLifecycle);
    s.bind(1, stream);
    if (s.step_row()) {
        st.life.exists = true;
        st.life.state = s.str(0);
        st.life.archive_store = s.str(1);
        st.life.archive_alias = s.str(2);
        if (!s.is_null(3)) st.life.tombstone_reason = s.str(3);
    }
    return st;
}

int64_t read_head(Conn& c) {
    Stmt s = c.use(kHead);
    return s.step_row() ? s.int64(0) : 0;
}

void raise_tombstoned(const StreamState& s) {
    raise(Code::Tombstoned, Context{s.stream}, "stream %Q is tombstoned (reason: %Q)",
          s.stream.c_str(), s.life.tombstone_reason ? s.life.tombstone_reason->c_str() : nullptr);
}

void raise_not_found(std::string_view stream) {
    const std::string s(stream);
    raise(Code::NotFound, Context{s}, "stream %Q does not exist", s.c_str());
}

void require_appendable(const StreamState& s) {
    const char* id = s.stream.c_str();
    const char* where = s.life.archive_alias.c_str();
    switch (s.state()) {
        case State::Tombstoned: raise_tombstoned(s);
        case State::Archived:
            raise(Code::Archived, Context{s.stream},
                  "stream %Q is archived and accepts no appends; es_restore(%Q) reactivates it", id,
                  id);
        case State::ArchivedElsewhere:
            raise(Code::Archived, Context{s.stream},
                  "stream %Q is archived in database %Q and accepts no appends; es_restore(%Q, %Q) "
                  "brings it back",
                  id, where, id, where);
        case State::Archiving:
            raise(Code::Archived, Context{s.stream},
                  "stream %Q is being moved to archive database %Q and accepts no appends", id,
                  where);
        case State::Held:
            raise(Code::Archived, Context{s.stream},
                  "stream %Q is an archive copy held here for store %s and accepts no appends", id,
                  s.life.origin_store.c_str());
        case State::None:
        case State::Active: return;
    }
}

void require_own(const StreamState& s, const char* fn) {
    if (s.state() != State::Held) return;
    raise(Code::InvalidArgument, Context{s.stream},
          "%s: stream %Q is an archive copy held here for store %s: only that store moves or "
          "restores it (es_restore(%Q, <this database>) there)",
          fn, s.stream.c_str(), s.life.origin_store.c_str(), s.stream.c_str());
}

void require_readable(const StreamState& s) {
    if (s.state() == State::Tombstoned) raise_tombstoned(s);
    if (s.state() == State::ArchivedElsewhere) {
        const char* id = s.stream.c_str();
        const char* where = s.life.archive_alias.c_str();
        raise(Code::Archived, Context{s.stream},
              "stream %Q was moved to archive database %Q; read it from \"%w\".es_events or "
              "es_restore(%Q, %Q)",
              id, where, where, id, where);
    }
}

const char* status_name(State s) {
    switch (s) {
        case State::None: return "none";
        case State::Active: return "active";
        case State::Tombstoned: return "tombstoned";
        case State::Archived:
        case State::Archiving:
        case State::ArchivedElsewhere:
        case State::Held: return "archived";
    }
    return "none";
}

}  // namespace eskit::ext
