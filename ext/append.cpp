/*
** es_append(stream_id, expected_version, events [, options]) -> the stream's version after
** the call (SPEC section 3).
**
** The rules, in the order they are applied, all under the write lock so that no other writer
** can slip in between a check and the write:
**   1. arguments and JSON (before any transaction: bad input touches nothing)
**   2. tombstoned stream                       -> tombstoned
**   3. idempotency key seen on this stream     -> return the version that append reached
**   4. caller-given ids that already exist     -> exact replay returns its last version,
**                                                 anything else is duplicate_event
**   5. archived stream (in place, elsewhere, being moved)  -> archived
**   6. expected_version                        -> conflict
**   7. insert the events (and list caller-given ids), fold the index tail when it is full
** Replays (3, 4) win over expected_version because a retried call must see the answer of the
** call that already succeeded; they also answer on a stream archived in place since then.
**
** What it writes in the common case is exactly the event rows and their (stream_id, version)
** entries: no stream row (es_streams is a view), no index entry (postings.h, event_ids.h).
*/
#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

#include "append_rows.h"
#include "args.h"
#include "boundary.h"
#include "eskit.h"
#include "event_ids.h"
#include "postings.h"
#include "streams.h"
#include "write_scope.h"

namespace eskit::ext {

namespace {

constexpr const char* kFn = "es_append()";

const Query kIdempotentVersion{
    "SELECT max(version) FROM main.es_events INDEXED BY es_events_idempotency "
    "WHERE stream_id = ?1 AND idempotency_key = ?2"};
const Query kInsertEvent{
    "INSERT INTO main.es_events(seq, stream_id, version, type, data, metadata, codec, "
    "schema_version, event_id, idempotency_key, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"};
const Query kInsertRows{
    "INSERT INTO main.es_events(seq, stream_id, version, type, data, metadata, codec, "
    "schema_version, event_id, idempotency_key, created_at) SELECT seq, stream_id, version, "
    "type, data, metadata, codec, schema_version, event_id, idempotency_key, created_at FROM "
    "es_append_rows(?1)"};
const Query kListId{"INSERT INTO main.es_event_ids(event_id, seq) VALUES (?1, ?2)"};

struct Expectation {
    enum class Kind { Any, Exists, Exact } kind = Kind::Any;
    int64_t version = -1;  // as given: -1 any, -2 exists, N exact
};

struct Request {
    std::string_view stream;
    Expectation expected;
    AppendOptions options;
    std::vector<EventIn>* events = nullptr;
    bool any_id = false;  // some event carries a caller-given id
};

Expectation parse_expected(sqlite3_value* v) {
    Expectation e;
    switch (sqlite3_value_type(v)) {
        case SQLITE_NULL: return e;
        case SQLITE_INTEGER:
            e.version = sqlite3_value_int64(v);
            if (e.version >= 0) {
                e.kind = Expectation::Kind::Exact;
            } else if (e.version == -2) {
                e.kind = Expectation::Kind::Exists;
            } else if (e.version != -1) {
                raise(Code::InvalidArgument,
                      "%s: expected_version must be >= 0, -1 (any), -2 (exists) or NULL, got %lld",
                      kFn, static_cast<long long>(e.version));
            }
            return e;
        default:
            raise(Code::InvalidArgument, "%s: expected_version must be an integer or NULL, got %s",
                  kFn, describe(v).c_str());
    }
}

void parse_options(Conn& c, sqlite3_value* v, AppendOptions& out) {
    if (sqlite3_value_type(v) == SQLITE_NULL) return;
    if (sqlite3_value_type(v) != SQLITE_TEXT) {
        raise(Code::InvalidArgument, "%s: options must be JSON text, got %s", kFn,
              describe(v).c_str());
    }
    c.json.parse_options({reinterpret_cast<const char*>(sqlite3_value_text(v)),
                          static_cast<size_t>(sqlite3_value_bytes(v))},
                         out, kFn);
}

// A batch handed over by pointer (eskit.h): the same checks as the JSON form.
void take_batch(Conn& c, const eskit_batch& batch, std::vector<EventIn>& out) {
    out.clear();
    out.resize(batch.count);
    for (size_t i = 0; i < batch.count; ++i) {
        const eskit_event_in& in = batch.events[i];
        EventIn& ev = out[i];
        ev.type = std::string_view(in.type ? in.type : "", in.type ? in.type_len : 0);
        check_event_name(ev.type, kFn, i, "type");
        if (in.codec) {
            ev.codec = std::string_view(in.codec, in.codec_len);
            check_event_name(ev.codec, kFn, i, "codec");
        }
        if (in.id) {
            ev.id = std::string_view(in.id, in.id_len);
            check_event_name(ev.id, kFn, i, "id");
        }
        if (in.schema_version < 0) {
            raise(Code::InvalidArgument,
                  "%s: events[%lld].schema_version must be an integer >= 1, "
                  "got %lld",
                  kFn, static_cast<long long>(i), static_cast<long long>(in.schema_version));
        }
        if (in.schema_version > 0) ev.schema_version = in.schema_version;
        const std::string_view data(static_cast<const char*>(in.data ? in.data : ""), in.data_len);
        if (ev.is_json()) {
            const std::string what = format("events[%lld].data", static_cast<long long>(i));
            c.json.validate(data, kFn, what.c_str());
            ev.data = data;
        } else {
            ev.payload.assign(data);
        }
        if (in.metadata) {
            c.json.parse_metadata({in.metadata, in.metadata_len}, ev.metadata, kFn, i);
            ev.has_metadata = true;
        }
    }
}

void parse_events(Conn& c, sqlite3_value* v, std::vector<EventIn>& out) {
    if (const auto* batch =
            static_cast<const eskit_batch*>(sqlite3_value_pointer(v, ESKIT_BATCH_TYPE))) {
        take_batch(c, *batch, out);
        return;
    }
    if (sqlite3_value_type(v) != SQLITE_TEXT) {
        raise(Code::InvalidArgument, "%s: events must be JSON text, got %s", kFn,
              describe(v).c_str());
    }
    c.json.parse_events({reinterpret_cast<const char*>(sqlite3_value_text(v)),
                         static_cast<size_t>(sqlite3_value_bytes(v))},
                        out, kFn);
}

// Rule 1 for ids: one id twice in a call is never a replay.
bool check_ids_within_call(const std::vector<EventIn>& events) {
    std::unordered_set<std::string_view> ids;
    for (const EventIn& ev : events) {
        if (ev.id.empty()) continue;
        if (!ids.insert(ev.id).second) {
            const std::string id(ev.id);
            raise(Code::DuplicateEvent, "event id %Q appears more than once in this call",
                  id.c_str());
        }
    }
    return !ids.empty();
}

Request parse_request(Conn& c, int argc, sqlite3_value** argv) {
    Request r;
    r.stream = arg_id(argv[0], kFn, "stream_id");
    r.expected = parse_expected(argv[1]);
    if (argc > 3) parse_options(c, argv[3], r.options);
    r.events = &c.events;  // reused: its buffer survives across calls
    parse_events(c, argv[2], *r.events);
    r.any_id = check_ids_within_call(*r.events);
    return r;
}

std::string_view payload_of(const EventIn& ev) {
    return ev.is_json() ? ev.data : std::string_view(ev.payload);
}

// Rule 3: the version an earlier append with this key reached, or -1.
int64_t idempotent_version(Conn& c, const Request& r) {
    if (!r.options.has_idempotency_key) return -1;
    Stmt s = c.use(kIdempotentVersion);
    s.bind(1, r.stream).bind(2, r.options.idempotency_key);
    return s.step_row() && !s.is_null(0) ? s.int64(0) : -1;
}

[[noreturn]] void raise_duplicate(std::string_view id, const IdOwner& o, const char* why) {
    const std::string i(id);
    if (o.kind == IdOwner::Kind::Reserved) {
        raise(Code::DuplicateEvent, Context{o.stream},
              "event id %Q belongs to stream %Q, whose events were moved to an archive", i.c_str(),
              o.stream.c_str());
    }
    raise(Code::DuplicateEvent, Context{o.stream},
          "event id %Q already exists in stream %Q at version %lld and this call %s", i.c_str(),
          o.stream.c_str(), static_cast<long long>(o.version), why);
}

// Rule 4. Returns the existing events, one per event of the call, when the call is an exact
// replay of them; empty when none of its ids exist yet.
std::vector<IdOwner> existing_ids(Conn& c, const Request& r) {
    const std::vector<EventIn>& events = *r.events;
    std::vector<IdOwner> owners(events.size());
    size_t found = 0, first = events.size();
    for (size_t i = 0; i < events.size(); ++i) {
        if (events[i].id.empty()) continue;
        owners[i] = find_id(c, events[i].id);
        if (owners[i].kind == IdOwner::Kind::Reserved) {
            // The stream's own events, moved to an archive: rule 5 answers (archived).
            if (owners[i].stream == r.stream) return {};
            raise_duplicate(events[i].id, owners[i], "");
        }
        if (owners[i].kind != IdOwner::Kind::Event) continue;
        ++found;
        first = std::min(first, i);
    }
    if (found == 0) return {};
    if (found != events.size()) {
        raise_duplicate(events[first].id, owners[first], "mixes it with new events");
    }
    for (size_t i = 0; i < events.size(); ++i) {
        const EventIn& ev = events[i];
        const IdOwner& o = owners[i];
        const bool in_place =
            o.stream == r.stream && o.version == owners.front().version + static_cast<int64_t>(i);
        const bool same = o.type == ev.type && o.codec == ev.codec && o.data == payload_of(ev);
        if (!in_place || !same) raise_duplicate(ev.id, o, "is not an exact replay of it");
    }
    return owners;
}

void check_expected(const StreamState& st, const Expectation& e) {
    const int64_t current = st.version();
    const Context ctx{st.stream, true, e.version, current};
    if (e.kind == Expectation::Kind::Exact && current != e.version) {
        raise(Code::Conflict, ctx, "stream %Q is at version %lld, expected %lld", st.stream.c_str(),
              static_cast<long long>(current), static_cast<long long>(e.version));
    }
    if (e.kind == Expectation::Kind::Exists && current == 0) {
        raise(Code::Conflict, ctx, "stream %Q is at version 0, expected an existing stream (-2)",
              st.stream.c_str());
    }
}

// What SQLite would refuse with SQLITE_TOOBIG, refused first with the event it concerns.
void check_lengths(Conn& c, const Request& r) {
    const int limit = sqlite3_limit(c.db, SQLITE_LIMIT_LENGTH, -1);
    for (size_t i = 0; i < r.events->size(); ++i) {
        const EventIn& ev = (*r.events)[i];
        const size_t meta = c.row_metadata[i].size();
        if (payload_of(ev).size() > static_cast<size_t>(limit) ||
            meta > static_cast<size_t>(limit)) {
            raise(Code::TooBig,
                  "%s: events[%lld] (data %lld bytes, metadata %lld bytes) is larger "
                  "than SQLITE_LIMIT_LENGTH allows (%d bytes)",
                  kFn, static_cast<long long>(i), static_cast<long long>(payload_of(ev).size()),
                  static_cast<long long>(meta), limit);
        }
    }
}

// One event: a single-row INSERT is cheaper than going through es_append_rows.
void insert_one(Conn& c, const Request& r, const AppendRecord& rec) {
    const EventIn& ev = r.events->front();
    Stmt s = c.use(kInsertEvent);
    s.bind(1, rec.first_seq).bind(2, r.stream).bind(3, rec.first_version).bind(4, ev.type);
    if (ev.is_json()) {
        s.bind(5, ev.data);
    } else {
        s.bind_blob(5, ev.payload);
    }
    if (c.row_has_metadata[0]) {
        s.bind(6, c.row_metadata[0]);
    } else {
        s.bind_null(6);
    }
    s.bind(7, ev.codec).bind(8, ev.schema_version).bind(9, rec.event_ids[0]);
    if (r.options.has_idempotency_key) s.bind(10, r.options.idempotency_key);
    s.bind(11, rec.created_at).step_done();
}

void insert_all(Conn& c, const Request& r, const AppendRecord& rec) {
    AppendRows rows;
    rows.stream = r.stream;
    rows.events = r.events;
    rows.ids = &rec.event_ids;
    rows.metadata = &c.row_metadata;
    rows.has_metadata = &c.row_has_metadata;
    rows.idempotency_key = r.options.has_idempotency_key ? &r.options.idempotency_key : nullptr;
    rows.first_seq = rec.first_seq;
    rows.first_version = rec.first_version;
    rows.created_at = rec.created_at;
    Stmt s = c.use(kInsertRows);
    if (sqlite3_bind_pointer(s.get(), 1, &rows, kAppendRowsType, nullptr) != SQLITE_OK) {
        raise_db(c.db);
    }
    s.step_done();
}

// Rule 7. Seq values follow the head (not max(rowid) + 1, which would reuse the positions of
// deleted newest events), consecutive for the call's events.
void write_events(Conn& c, const StreamState& st, const Request& r, int64_t ts, AppendRecord& rec) {
    const std::vector<EventIn>& events = *r.events;
    rec.first_seq = st.head + 1;
    rec.first_version = st.version() + 1;
    rec.count = static_cast<int64_t>(events.size());
    rec.last_version = rec.first_version + rec.count - 1;
    rec.created_at = ts;
    rec.event_ids.resize(events.size());
    c.row_metadata.resize(events.size());
    c.row_has_metadata.resize(events.size());
    char generated[37];
    for (size_t i = 0; i < events.size(); ++i) {
        const EventIn& ev = events[i];
        if (ev.id.empty()) {
            c.uuid.next(generated, ts / 1000, rec.first_seq + static_cast<int64_t>(i));
            rec.event_ids[i].assign(generated, 36);
        } else {
            rec.event_ids[i].assign(ev.id);
        }
        c.row_has_metadata[i] = merge_metadata(ev, r.options, c.row_metadata[i]);
    }
    check_lengths(c, r);
    PermitScope permit(c.guard,
                       insert_permit(st.store_id, rec.first_seq, rec.first_seq + rec.count - 1));
    if (events.size() == 1) {
        insert_one(c, r, rec);
    } else {
        insert_all(c, r, rec);
    }
}

// Caller-given ids that do not carry their seq are listed (event_ids.h); only such appends pay.
void list_given_ids(Conn& c, const StreamState& st, const Request& r, const AppendRecord& rec) {
    if (!r.any_id) return;
    BookkeepingScope permit(c, Schema::main_db(), st.store_id);
    Stmt s = c.use(kListId);
    for (size_t i = 0; i < r.events->size(); ++i) {
        const int64_t seq = rec.first_seq + static_cast<int64_t>(i);
        if ((*r.events)[i].id.empty() || !needs_listing(rec.event_ids[i], seq)) continue;
        s.bind(1, rec.event_ids[i]).bind(2, seq).step_done();
        s.reset();
    }
}

void replayed(int64_t version, const std::vector<IdOwner>& found, AppendRecord& rec) {
    rec.replay = true;
    rec.last_version = version;
    rec.event_ids.clear();
    if (!found.empty()) {
        rec.first_seq = found.front().seq;
        rec.count = static_cast<int64_t>(found.size());
        rec.first_version = found.front().version;
        for (const IdOwner& o : found) rec.event_ids.push_back(o.event_id);
    }
}

// The call's answer goes into rec (the connection's last append, whose buffers are reused).
void append(Conn& c, const Request& r, AppendRecord& rec) {
    rec = AppendRecord{false, 0, 0, 0, 0, 0, false, std::move(rec.event_ids)};
    rec.event_ids.clear();
    WriteScope scope(c, kFn);
    const StreamState st = read_stream(c, r.stream);
    if (st.state() == State::Tombstoned) raise_tombstoned(st);
    if (const int64_t v = idempotent_version(c, r); v >= 0) {
        replayed(v, {}, rec);
        scope.commit();
        rec.valid = true;
        return;
    }
    if (r.any_id) {
        const std::vector<IdOwner> found = existing_ids(c, r);
        if (!found.empty()) {
            replayed(found.back().version, found, rec);
            scope.commit();
            rec.valid = true;
            return;
        }
    }
    require_appendable(st);
    check_expected(st, r.expected);
    if (r.events->empty()) {
        rec.last_version = st.version();
        scope.commit();
        rec.valid = true;
        return;
    }
    const int64_t ts = r.options.has_timestamp ? r.options.timestamp : now_micros();
    write_events(c, st, r, ts, rec);
    list_given_ids(c, st, r, rec);
    const int64_t head = rec.first_seq + rec.count - 1;
    if (head - st.indexed_upto >= kTailBound) {
        fold_tail(c, Schema::main_db(), st.store_id, st.indexed_upto, head);
    }
    scope.commit();
    rec.valid = true;
}

void appendFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    guard(ctx, [&](Conn& c) {
        c.last_append.valid = false;
        const Request r = parse_request(c, argc, argv);
        append(c, r, c.last_append);
        sqlite3_result_int64(ctx, c.last_append.last_version);
    });
}

}  // namespace

int register_append(sqlite3* db, Conn* c) {
    return register_function(db, c, "es_append", {3, 4}, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                             appendFunc);
}

}  // namespace eskit::ext
