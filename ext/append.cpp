/*
** es_append(stream_id, expected_version, events [, options]) -> the stream's version after
** the call (SPEC section 3).
**
** Order of the rules, all evaluated under the write lock so that no other writer can slip in
** between a check and the write:
**   1. arguments and JSON (before any transaction: bad input touches nothing)
**   2. tombstoned stream                       -> tombstoned
**   3. idempotency key seen on this stream     -> return the version that append reached
**   4. caller-given ids that already exist     -> exact replay returns its last version,
**                                                 anything else is duplicate_event
**   5. archived stream                         -> archived
**   6. expected_version                        -> conflict
**   7. insert the events, move es_streams.version, release the savepoint
** Replays (3, 4) win over expected_version because a retried call must see the answer of the
** call that already succeeded; they also answer on a stream archived in place since then.
*/
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "common.h"

namespace eskit::ext {

namespace {

constexpr const char* kFn = "es_append()";

enum class Expect { Any, Exists, Exact };

// The version an earlier append with this key reached, or -1.
int64_t idempotent_version(Conn& c, std::string_view stream, const std::string& key) {
    sqlite3_stmt* s = c.stmt(Q::IdempotencyGet);
    sqlite3_bind_text(s, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    const int rc = sqlite3_step(s);
    int64_t v = -1;
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) v = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) raise_db(c.db);
    return v;
}

std::string_view payload_of(const EventIn& ev) {
    return ev.is_json() ? ev.data : std::string_view(ev.payload);
}

// Step 4. Returns the replayed version, or -1 when none of the ids exist yet.
int64_t check_ids(Conn& c, std::string_view stream, const std::vector<EventIn>& events) {
    struct Found {
        size_t index;
        std::string stream;
        int64_t version;
        bool same_content;
    };
    std::vector<Found> found;
    sqlite3_stmt* s = c.stmt(Q::EventById);
    for (size_t i = 0; i < events.size(); ++i) {
        const EventIn& ev = events[i];
        if (ev.id.empty()) continue;
        sqlite3_bind_text(s, 1, ev.id.data(), static_cast<int>(ev.id.size()), SQLITE_STATIC);
        const int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            auto col = [&](int k) {
                return std::string_view(static_cast<const char*>(sqlite3_column_blob(s, k)),
                                        static_cast<size_t>(sqlite3_column_bytes(s, k)));
            };
            const std::string_view stored_type = col(2);
            const std::string_view stored_codec = col(4);
            const std::string_view stored_data = col(3);
            const bool same = stored_type == ev.type && stored_codec == ev.codec &&
                              stored_data == payload_of(ev);
            found.push_back(Found{i, std::string(col(0)), sqlite3_column_int64(s, 1), same});
        }
        sqlite3_reset(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) raise_db(c.db);
    }
    sqlite3_clear_bindings(s);
    if (found.empty()) return -1;

    const Found& first = found.front();
    const std::string id(events[first.index].id);
    if (found.size() != events.size()) {
        raise(SQLITE_CONSTRAINT,
              "duplicate_event: event id %Q already exists in stream %Q at version %lld and this "
              "call mixes it with new events",
              id.c_str(), first.stream.c_str(), static_cast<long long>(first.version));
    }
    for (const Found& f : found) {
        const bool in_place = f.stream == stream &&
                              f.version == first.version + static_cast<int64_t>(f.index);
        if (!in_place || !f.same_content) {
            const std::string fid(events[f.index].id);
            raise(SQLITE_CONSTRAINT,
                  "duplicate_event: event id %Q already exists in stream %Q at version %lld and "
                  "this call is not an exact replay of it",
                  fid.c_str(), f.stream.c_str(), static_cast<long long>(f.version));
        }
    }
    return found.back().version;
}

int64_t append(Conn& c, int argc, sqlite3_value** argv) {
    const std::string_view stream = arg_id(argv[0], kFn, "stream_id");

    Expect mode = Expect::Any;
    int64_t expected = 0;
    switch (sqlite3_value_type(argv[1])) {
        case SQLITE_NULL:
            break;
        case SQLITE_INTEGER:
            expected = sqlite3_value_int64(argv[1]);
            if (expected >= 0) {
                mode = Expect::Exact;
            } else if (expected == -2) {
                mode = Expect::Exists;
            } else if (expected != -1) {
                raise(SQLITE_ERROR,
                      "invalid_argument: %s: expected_version must be >= 0, -1 (any), -2 "
                      "(exists) or NULL, got %lld",
                      kFn, static_cast<long long>(expected));
            }
            break;
        default:
            raise(SQLITE_ERROR,
                  "invalid_argument: %s: expected_version must be an integer or NULL, got %s",
                  kFn, describe(argv[1]).c_str());
    }

    AppendOptions opts;
    if (argc > 3 && sqlite3_value_type(argv[3]) != SQLITE_NULL) {
        if (sqlite3_value_type(argv[3]) != SQLITE_TEXT) {
            raise(SQLITE_ERROR, "invalid_argument: %s: options must be JSON text, got %s", kFn,
                  describe(argv[3]).c_str());
        }
        c.json.parse_options({reinterpret_cast<const char*>(sqlite3_value_text(argv[3])),
                              static_cast<size_t>(sqlite3_value_bytes(argv[3]))},
                             opts, kFn);
    }
    if (sqlite3_value_type(argv[2]) != SQLITE_TEXT) {
        raise(SQLITE_ERROR, "invalid_argument: %s: events must be JSON text, got %s", kFn,
              describe(argv[2]).c_str());
    }
    std::vector<EventIn>& events = c.events;  // reused: its buffer survives across calls
    c.json.parse_events({reinterpret_cast<const char*>(sqlite3_value_text(argv[2])),
                         static_cast<size_t>(sqlite3_value_bytes(argv[2]))},
                        events, kFn);

    bool any_id = false;
    {
        std::unordered_set<std::string_view> ids;
        for (const EventIn& ev : events) {
            if (ev.id.empty()) continue;
            any_id = true;
            if (!ids.insert(ev.id).second) {
                const std::string id(ev.id);
                raise(SQLITE_CONSTRAINT,
                      "duplicate_event: event id %Q appears more than once in this call",
                      id.c_str());
            }
        }
    }

    WriteScope scope(c, kFn);
    const StreamRow row = read_stream(c, stream);
    const std::string sid(stream);
    if (row.state == "tombstoned") {
        raise_tombstoned(stream, row);
    }
    if (opts.has_idempotency_key) {
        const int64_t v = idempotent_version(c, stream, opts.idempotency_key);
        if (v >= 0) {
            scope.commit();
            return v;
        }
    }
    if (any_id) {
        const int64_t v = check_ids(c, stream, events);
        if (v >= 0) {
            scope.commit();
            return v;
        }
    }
    if (row.state == "archived") {
        if (row.archived_to.empty()) {
            raise(SQLITE_CONSTRAINT,
                  "archived: stream %Q is archived and accepts no appends; es_restore(%Q) "
                  "reactivates it",
                  sid.c_str(), sid.c_str());
        }
        raise(SQLITE_CONSTRAINT,
              "archived: stream %Q is archived in database %Q and accepts no appends; "
              "es_restore(%Q, %Q) brings it back",
              sid.c_str(), row.archived_to.c_str(), sid.c_str(), row.archived_to.c_str());
    }
    const int64_t current = row.version;
    if (mode == Expect::Exact && current != expected) {
        raise(SQLITE_CONSTRAINT, "conflict: stream %Q is at version %lld, expected %lld",
              sid.c_str(), static_cast<long long>(current), static_cast<long long>(expected));
    }
    if (mode == Expect::Exists && current == 0) {
        raise(SQLITE_CONSTRAINT,
              "conflict: stream %Q is at version 0, expected an existing stream (-2)",
              sid.c_str());
    }
    if (events.empty()) {
        scope.commit();
        return current;
    }

    const int64_t ts = opts.has_timestamp ? opts.timestamp : now_micros();
    const std::string_view category = category_of(stream);
    std::string& meta = c.scratch;
    char uuid[37];
    // One past the head (not SQLite's max(rowid) + 1, which would reuse the positions of
    // deleted newest events); the call's events take consecutive values. Read before anything
    // is bound: a throw between the binds below and their clearing would leave pointers to
    // this call's arguments bound in the cached statement.
    int64_t seq = read_head(c);
    sqlite3_stmt* s = c.stmt(Q::EventInsert);
    sqlite3_bind_text(s, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
    sqlite3_bind_text(s, 2, category.data(), static_cast<int>(category.size()), SQLITE_STATIC);
    if (opts.has_idempotency_key) {
        sqlite3_bind_text(s, 10, opts.idempotency_key.data(),
                          static_cast<int>(opts.idempotency_key.size()), SQLITE_STATIC);
    }
    sqlite3_bind_int64(s, 11, ts);
    int64_t version = current;
    for (const EventIn& ev : events) {
        int rc_bind = SQLITE_OK;  // SQLITE_TOOBIG when a value is over SQLITE_LIMIT_LENGTH
        auto note = [&rc_bind](int rc) {
            if (rc_bind == SQLITE_OK) rc_bind = rc;
        };
        note(sqlite3_bind_int64(s, 3, ++version));
        note(sqlite3_bind_int64(s, 12, ++seq));
        note(sqlite3_bind_text(s, 4, ev.type.data(), static_cast<int>(ev.type.size()), SQLITE_STATIC));
        if (ev.is_json()) {
            note(sqlite3_bind_text(s, 5, ev.data.data(), static_cast<int>(ev.data.size()),
                              SQLITE_STATIC));
        } else {
            note(sqlite3_bind_blob(s, 5, ev.payload.data(), static_cast<int>(ev.payload.size()),
                              SQLITE_STATIC));
        }
        if (merge_metadata(ev, opts, meta)) {
            note(sqlite3_bind_text(s, 6, meta.data(), static_cast<int>(meta.size()), SQLITE_STATIC));
        } else {
            note(sqlite3_bind_null(s, 6));
        }
        note(sqlite3_bind_text(s, 7, ev.codec.data(), static_cast<int>(ev.codec.size()),
                          SQLITE_STATIC));
        note(sqlite3_bind_int64(s, 8, ev.schema_version));
        if (ev.id.empty()) {
            c.uuid.next(uuid, ts / 1000);
            note(sqlite3_bind_text(s, 9, uuid, 36, SQLITE_STATIC));
        } else {
            note(sqlite3_bind_text(s, 9, ev.id.data(), static_cast<int>(ev.id.size()), SQLITE_STATIC));
        }
        if (rc_bind != SQLITE_OK) {
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
            raise(rc_bind, "invalid_argument: %s: events[%lld] (data %lld bytes, metadata %lld "
                  "bytes) is larger than SQLITE_LIMIT_LENGTH allows (%d bytes)",
                  kFn, static_cast<long long>(version - current - 1),
                  static_cast<long long>(payload_of(ev).size()),
                  static_cast<long long>(meta.size()), sqlite3_limit(c.db, SQLITE_LIMIT_LENGTH, -1));
        }
        const int rc = sqlite3_step(s);
        if (rc != SQLITE_DONE) {
            Error e = db_error(c.db);
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
            if ((e.rc & 0xff) == SQLITE_NOMEM) throw std::bad_alloc();
            throw e;
        }
        sqlite3_reset(s);
    }
    sqlite3_clear_bindings(s);

    sqlite3_stmt* u = c.stmt(row.exists ? Q::StreamUpdate : Q::StreamInsert);
    sqlite3_bind_text(u, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
    if (row.exists) {
        sqlite3_bind_int64(u, 2, version);
        sqlite3_bind_int64(u, 3, ts);
    } else {
        sqlite3_bind_text(u, 2, category.data(), static_cast<int>(category.size()),
                          SQLITE_STATIC);
        sqlite3_bind_int64(u, 3, version);
        sqlite3_bind_int64(u, 4, ts);
    }
    const int rc = sqlite3_step(u);
    if (rc != SQLITE_DONE) {
        Error e = db_error(c.db);
        sqlite3_reset(u);
        sqlite3_clear_bindings(u);
        throw e;
    }
    sqlite3_reset(u);
    sqlite3_clear_bindings(u);
    scope.commit();
    return version;
}

void appendFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    Conn& c = *static_cast<Conn*>(sqlite3_user_data(ctx));
    guard(ctx, [&] { sqlite3_result_int64(ctx, append(c, argc, argv)); });
}

}  // namespace

int register_append(sqlite3* db, Conn* c) {
    return register_function(db, c, "es_append", {3, 4}, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                             appendFunc);
}

}  // namespace eskit::ext
