/*
** Stream lifecycle (SPEC section 3): es_status, es_archive, es_restore, es_tombstone, es_delete.
**
** States: none -> active (first append) -> archived (in place, or with its events moved to an
** ATTACHed database) -> active again (es_restore) ; any existing state -> tombstoned ;
** any existing state -> none (es_delete). The README has the full transition table; every
** transition not listed there as a change is a documented no-op or a named error.
**
** Moves between databases are set operations (INSERT ... SELECT / DELETE ... WHERE stream_id)
** inside the call's savepoint, so a stream of any length moves in one transaction and keeps its
** seq, ids, timestamps and metadata. Schema names only ever enter SQL text as quoted identifiers.
*/
#include <string>

#include "common.h"

namespace eskit::ext {

namespace {

constexpr const char* kEventCols =
    "seq, stream_id, category, version, type, data, metadata, codec, schema_version, event_id, "
    "idempotency_key, created_at";
constexpr const char* kSnapshotCols =
    "stream_id, version, schema_version, codec, state, created_at";

Conn& conn_of(sqlite3_context* ctx) { return *static_cast<Conn*>(sqlite3_user_data(ctx)); }

[[noreturn]] void not_found(const std::string& stream) {
    raise(SQLITE_ERROR, "not_found: stream %Q does not exist", stream.c_str());
}

// The schema argument: an attached database other than main and temp.
std::string archive_schema(Conn& c, sqlite3_value* v, const char* fn) {
    if (sqlite3_value_type(v) != SQLITE_TEXT) {
        raise(SQLITE_ERROR, "invalid_argument: %s: schema must be the name of an attached "
              "database, got %s", fn, describe(v).c_str());
    }
    const std::string name(reinterpret_cast<const char*>(sqlite3_value_text(v)),
                           static_cast<size_t>(sqlite3_value_bytes(v)));
    if (sqlite3_stricmp(name.c_str(), "main") == 0 || sqlite3_stricmp(name.c_str(), "temp") == 0) {
        raise(SQLITE_ERROR, "invalid_argument: %s: schema must be an attached archive database, "
              "not %Q", fn, name.c_str());
    }
    // SQLite matches schema names without regard to case; answer with its own spelling so
    // that the name stored in es_streams.archived_to compares equal however it is written.
    if (name.find('\0') == std::string::npos) {
        for (int i = 2; const char* attached = sqlite3_db_name(c.db, i); ++i) {
            if (sqlite3_stricmp(attached, name.c_str()) == 0) return attached;
        }
    }
    raise(SQLITE_ERROR, "invalid_argument: %s: no attached database named %Q", fn, name.c_str());
}

bool same_schema(const std::string& a, const std::string& b) {
    return !a.empty() && !b.empty() && sqlite3_stricmp(a.c_str(), b.c_str()) == 0;
}

bool has_eskit_tables(Conn& c, const std::string& qs) {
    return query_int(c, "SELECT count(*) FROM " + qs +
                            ".sqlite_schema WHERE type = 'table' AND name = 'es_streams'") > 0;
}

// Lets eskit's own writes through the append-only triggers of an attached archive; the row is
// removed by unguard_schema() or rolled back with the call.
void guard_schema(Conn& c, const std::string& qs) {
    run(c, "INSERT OR REPLACE INTO " + qs + ".es_guard(token) VALUES (1)");
}
void unguard_schema(Conn& c, const std::string& qs) { run(c, "DELETE FROM " + qs + ".es_guard"); }

// For tombstone/delete of a stream whose events live in an archive: that archive must be
// attached so the events are really erased, not orphaned.
std::string archive_of(Conn& c, const std::string& stream, const StreamRow& row, const char* fn) {
    if (row.archived_to.empty()) return {};
    if (sqlite3_db_filename(c.db, row.archived_to.c_str()) == nullptr) {
        raise(SQLITE_CONSTRAINT,
              "archived: stream %Q is archived in database %Q, which is not attached; ATTACH it "
              "so that %s can erase the events there too",
              stream.c_str(), row.archived_to.c_str(), fn);
    }
    return quote_ident(row.archived_to);
}

// Deletes the stream's events and snapshot from schema qs; returns the events removed.
int64_t purge(Conn& c, const std::string& qs, const std::string& stream, bool stream_row) {
    const int64_t n = run(c, "DELETE FROM " + qs + ".es_events WHERE stream_id = ?1", {stream});
    run(c, "DELETE FROM " + qs + ".es_snapshots WHERE stream_id = ?1", {stream});
    if (stream_row) run(c, "DELETE FROM " + qs + ".es_streams WHERE stream_id = ?1", {stream});
    return n;
}

void statusFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, [&] {
        Conn& c = conn_of(ctx);
        const std::string_view stream = arg_id(argv[0], "es_status()", "stream_id");
        if (!c.has_schema()) {
            sqlite3_result_text(ctx, "none", -1, SQLITE_STATIC);
            return;
        }
        const StreamRow row = read_stream(c, stream);
        if (row.exists) {
            sqlite3_result_text(ctx, row.state.c_str(), -1, SQLITE_TRANSIENT);
        } else {
            sqlite3_result_text(ctx, "none", -1, SQLITE_STATIC);
        }
    });
}

int64_t archive(Conn& c, int argc, sqlite3_value** argv) {
    const char* fn = "es_archive()";
    const std::string stream(arg_id(argv[0], fn, "stream_id"));
    const std::string schema = argc > 1 ? archive_schema(c, argv[1], fn) : std::string();
    WriteScope scope(c, fn);
    const StreamRow row = read_stream(c, stream);
    if (!row.exists) not_found(stream);
    if (row.state == "tombstoned") raise_tombstoned(stream, row);
    const int64_t now = now_micros();
    if (schema.empty() || same_schema(row.archived_to, schema)) {
        // In place, or already where it was asked to go: archiving twice is a no-op.
        if (row.state == "active") {
            run(c, "UPDATE main.es_streams SET state = 'archived', updated_at = ?2 "
                   "WHERE stream_id = ?1", {stream, now});
        }
        scope.commit();
        return 0;
    }
    if (!row.archived_to.empty()) {
        raise(SQLITE_ERROR,
              "invalid_argument: %s: stream %Q is already archived in database %Q; restore it "
              "before moving it to %Q",
              fn, stream.c_str(), row.archived_to.c_str(), schema.c_str());
    }
    const std::string qs = quote_ident(schema);
    migrate(c, schema.c_str());
    if (query_int(c, "SELECT count(*) FROM " + qs + ".es_streams WHERE stream_id = ?1",
                  {stream}) > 0) {
        raise(SQLITE_CONSTRAINT, "conflict: archive database %Q already holds a stream %Q",
              schema.c_str(), stream.c_str());
    }
    guard_schema(c, qs);
    const int64_t moved =
        run(c, format("INSERT INTO %s.es_events(%s) SELECT %s FROM main.es_events "
                      "WHERE stream_id = ?1 ORDER BY seq",
                      qs.c_str(), kEventCols, kEventCols),
            {stream});
    run(c, format("INSERT INTO %s.es_snapshots(%s) SELECT %s FROM main.es_snapshots "
                  "WHERE stream_id = ?1",
                  qs.c_str(), kSnapshotCols, kSnapshotCols),
        {stream});
    run(c, "INSERT INTO " + qs +
               ".es_streams(stream_id, category, version, state, created_at, updated_at) "
               "SELECT stream_id, category, version, 'archived', created_at, ?2 "
               "FROM main.es_streams WHERE stream_id = ?1",
        {stream, now});
    unguard_schema(c, qs);
    purge(c, "main", stream, false);
    run(c, "UPDATE main.es_streams SET state = 'archived', archived_to = ?2, updated_at = ?3 "
           "WHERE stream_id = ?1", {stream, schema, now});
    scope.commit();
    return moved;
}

int64_t restore(Conn& c, int argc, sqlite3_value** argv) {
    const char* fn = "es_restore()";
    const std::string stream(arg_id(argv[0], fn, "stream_id"));
    const std::string schema = argc > 1 ? archive_schema(c, argv[1], fn) : std::string();
    WriteScope scope(c, fn);
    const StreamRow row = read_stream(c, stream);
    if (row.exists && row.state == "tombstoned") raise_tombstoned(stream, row);
    const int64_t now = now_micros();
    if (schema.empty()) {
        if (!row.exists) not_found(stream);
        if (!row.archived_to.empty()) {
            raise(SQLITE_CONSTRAINT,
                  "archived: stream %Q is archived in database %Q; es_restore(%Q, %Q) moves it "
                  "back",
                  stream.c_str(), row.archived_to.c_str(), stream.c_str(),
                  row.archived_to.c_str());
        }
        if (row.state == "archived") {
            run(c, "UPDATE main.es_streams SET state = 'active', updated_at = ?2 "
                   "WHERE stream_id = ?1", {stream, now});
        }
        scope.commit();  // restoring an active stream is a no-op
        return 0;
    }
    if (row.exists && !same_schema(row.archived_to, schema)) {
        raise(SQLITE_ERROR, "invalid_argument: %s: stream %Q is not archived in database %Q", fn,
              stream.c_str(), schema.c_str());
    }
    const std::string qs = quote_ident(schema);
    if (!has_eskit_tables(c, qs) ||
        query_int(c, "SELECT count(*) FROM " + qs + ".es_streams WHERE stream_id = ?1",
                  {stream}) == 0) {
        raise(SQLITE_ERROR, "not_found: stream %Q does not exist in database %Q", stream.c_str(),
              schema.c_str());
    }
    // A stream archived from this database gets its own seq values back; one that comes from
    // another store must not collide with events already here.
    if (query_int(c, "SELECT count(*) FROM " + qs + ".es_events a JOIN main.es_events m "
                     "ON m.seq = a.seq WHERE a.stream_id = ?1", {stream}) > 0) {
        raise(SQLITE_CONSTRAINT,
              "conflict: seq values of stream %Q in database %Q are already used in main",
              stream.c_str(), schema.c_str());
    }
    if (query_int(c, "SELECT count(*) FROM " + qs + ".es_events a JOIN main.es_events m "
                     "ON m.event_id = a.event_id WHERE a.stream_id = ?1", {stream}) > 0) {
        raise(SQLITE_CONSTRAINT,
              "duplicate_event: event ids of stream %Q in database %Q already exist in main",
              stream.c_str(), schema.c_str());
    }
    const int64_t moved =
        run(c, format("INSERT INTO main.es_events(%s) SELECT %s FROM %s.es_events "
                      "WHERE stream_id = ?1 ORDER BY seq",
                      kEventCols, kEventCols, qs.c_str()),
            {stream});
    run(c, format("INSERT OR REPLACE INTO main.es_snapshots(%s) SELECT %s FROM %s.es_snapshots "
                  "WHERE stream_id = ?1",
                  kSnapshotCols, kSnapshotCols, qs.c_str()),
        {stream});
    if (row.exists) {
        run(c, "UPDATE main.es_streams SET state = 'active', archived_to = NULL, updated_at = ?2, "
               "version = (SELECT version FROM " + qs + ".es_streams WHERE stream_id = ?1) "
               "WHERE stream_id = ?1", {stream, now});
    } else {
        run(c, "INSERT INTO main.es_streams(stream_id, category, version, state, created_at, "
               "updated_at) SELECT stream_id, category, version, 'active', created_at, ?2 FROM " +
                   qs + ".es_streams WHERE stream_id = ?1",
            {stream, now});
    }
    guard_schema(c, qs);
    purge(c, qs, stream, true);
    unguard_schema(c, qs);
    scope.commit();
    return moved;
}

int64_t tombstone(Conn& c, sqlite3_value** argv) {
    const char* fn = "es_tombstone()";
    const std::string stream(arg_id(argv[0], fn, "stream_id"));
    const int rt = sqlite3_value_type(argv[1]);
    if (rt != SQLITE_TEXT && rt != SQLITE_NULL) {
        raise(SQLITE_ERROR, "invalid_argument: %s: reason must be text or NULL, got %s", fn,
              describe(argv[1]).c_str());
    }
    const bool has_reason = rt == SQLITE_TEXT;
    const std::string reason =
        has_reason ? std::string(reinterpret_cast<const char*>(sqlite3_value_text(argv[1])),
                                 static_cast<size_t>(sqlite3_value_bytes(argv[1])))
                   : std::string();
    WriteScope scope(c, fn);
    const StreamRow row = read_stream(c, stream);
    if (!row.exists) not_found(stream);
    if (row.state == "tombstoned") raise_tombstoned(stream, row);
    int64_t removed = 0;
    if (const std::string qs = archive_of(c, stream, row, fn); !qs.empty()) {
        guard_schema(c, qs);
        removed += purge(c, qs, stream, true);
        unguard_schema(c, qs);
    }
    removed += purge(c, "main", stream, false);
    const int64_t now = now_micros();
    if (has_reason) {
        run(c, "UPDATE main.es_streams SET state = 'tombstoned', archived_to = NULL, "
               "tombstone_reason = ?2, tombstoned_at = ?3, updated_at = ?3 WHERE stream_id = ?1",
            {stream, reason, now});
    } else {
        run(c, "UPDATE main.es_streams SET state = 'tombstoned', archived_to = NULL, "
               "tombstone_reason = NULL, tombstoned_at = ?2, updated_at = ?2 "
               "WHERE stream_id = ?1",
            {stream, now});
    }
    scope.commit();
    return removed;
}

int64_t remove(Conn& c, sqlite3_value** argv) {
    const char* fn = "es_delete()";
    const std::string stream(arg_id(argv[0], fn, "stream_id"));
    WriteScope scope(c, fn);
    const StreamRow row = read_stream(c, stream);
    if (!row.exists) not_found(stream);
    int64_t removed = 0;
    if (const std::string qs = archive_of(c, stream, row, fn); !qs.empty()) {
        guard_schema(c, qs);
        removed += purge(c, qs, stream, true);
        unguard_schema(c, qs);
    }
    removed += purge(c, "main", stream, true);
    scope.commit();
    return removed;
}

void archiveFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    guard(ctx, [&] { sqlite3_result_int64(ctx, archive(conn_of(ctx), argc, argv)); });
}
void restoreFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    guard(ctx, [&] { sqlite3_result_int64(ctx, restore(conn_of(ctx), argc, argv)); });
}
void tombstoneFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, [&] { sqlite3_result_int64(ctx, tombstone(conn_of(ctx), argv)); });
}
void deleteFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, [&] { sqlite3_result_int64(ctx, remove(conn_of(ctx), argv)); });
}

}  // namespace

int register_lifecycle(sqlite3* db, Conn* c) {
    constexpr int writer = SQLITE_UTF8 | SQLITE_DIRECTONLY;
    int rc = register_function(db, c, "es_status", {1}, SQLITE_UTF8 | SQLITE_INNOCUOUS,
                               statusFunc);
    if (rc == SQLITE_OK) rc = register_function(db, c, "es_archive", {1, 2}, writer, archiveFunc);
    if (rc == SQLITE_OK) rc = register_function(db, c, "es_restore", {1, 2}, writer, restoreFunc);
    if (rc == SQLITE_OK) rc = register_function(db, c, "es_tombstone", {2}, writer, tombstoneFunc);
    if (rc == SQLITE_OK) rc = register_function(db, c, "es_delete", {1}, writer, deleteFunc);
    return rc;
}

}  // namespace eskit::ext
