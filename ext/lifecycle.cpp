/*
** Stream lifecycle (SPEC section 3): es_status, es_archive, es_restore, es_tombstone, es_delete.
**
** States: none -> active (first append) -> archived (in place, or with its events moved to an
** ATTACHed database) -> active again (es_restore) ; any existing state -> tombstoned ;
** any existing state -> none (es_delete). The README has the full transition table; every
** transition not listed there as a change is a documented no-op or a named error.
**
** Moves between databases are set operations (INSERT ... SELECT / DELETE ... WHERE stream_id),
** so a stream of any length moves at the speed SQLite copies rows and keeps its seq, ids,
** timestamps and metadata. Schema names only ever enter SQL text as quoted identifiers.
**
** CRASH SAFETY ACROSS DATABASES
** SQLite commits a transaction that writes several databases atomically only in rollback-journal
** mode; with a WAL database involved each database commits on its own, so a crash in between
** could leave a stream in neither place. Every move therefore runs as separate transactions,
** each writing one database, ordered so that the data is never absent:
**   archive:   1. copy into the archive      2. remove from main and mark it archived there
**   restore:   1. copy back into main         2. remove the archive's copy
**   tombstone/delete of a moved stream:  1. erase the archive's copy  2. update main
** A crash between the steps leaves at worst a second copy (an orphan) in the archive. The next
** es_archive into that database recognises an orphan (every row of it exists identically in
** main) and replaces it, and es_tombstone/es_delete erase orphans in every attached database.
** The steps commit separately, so these calls refuse to run inside a caller's transaction.
*/
#include <string>
#include <utility>
#include <vector>

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

// Takes the write lock of schema qs now (writing no page), so that a database that cannot
// be written fails the call before anything has changed.
void lock_schema(Conn& c, const std::string& qs) { run(c, "DELETE FROM " + qs + ".es_meta WHERE 0"); }

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
    if (qs == "main") keep_head(c);
    const int64_t n = run(c, "DELETE FROM " + qs + ".es_events WHERE stream_id = ?1", {stream});
    run(c, "DELETE FROM " + qs + ".es_snapshots WHERE stream_id = ?1", {stream});
    if (stream_row) run(c, "DELETE FROM " + qs + ".es_streams WHERE stream_id = ?1", {stream});
    return n;
}

// Removes the stream's copy (events, snapshot, stream row) from attached archive `schema`;
// returns the events removed. An archive last written by an older eskit is upgraded first,
// so that its append-only triggers let this connection's eskit writes through.
// A database attached under the archive's name that holds no eskit tables is not that
// archive: refuse, rather than create empty tables there and report the events erased.
int64_t erase_from_archive(Conn& c, const std::string& schema, const std::string& stream) {
    const std::string qs = quote_ident(schema);
    if (!has_eskit_tables(c, qs)) {
        raise(SQLITE_CONSTRAINT,
              "archived: stream %Q is archived in database %Q, but the database attached as %Q "
              "holds no eskit tables; ATTACH the archive the stream was moved to",
              stream.c_str(), schema.c_str(), schema.c_str());
    }
    migrate(c, schema.c_str());
    return purge(c, qs, stream, true);
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

[[noreturn]] void raise_archived_elsewhere(const char* fn, const std::string& stream,
                                          const std::string& in, const std::string& to) {
    raise(SQLITE_ERROR,
          "invalid_argument: %s: stream %Q is already archived in database %Q; restore it "
          "before moving it to %Q",
          fn, stream.c_str(), in.c_str(), to.c_str());
}

// outside: sqlite3_get_autocommit() as it was when the call began (a WriteScope of our own
// clears it).
void require_autocommit(bool outside, const char* fn) {
    if (!outside) {
        raise(SQLITE_ERROR,
              "invalid_argument: %s: moving a stream between databases must run outside a "
              "transaction: it commits in steps so that a crash cannot lose the stream",
              fn);
    }
}

// Events of the stream in schema qs: count and highest seq, to notice a change between steps.
std::pair<int64_t, int64_t> extent(Conn& c, const std::string& qs, const std::string& stream) {
    sqlite3_stmt* s = nullptr;
    const std::string sql =
        "SELECT count(*), coalesce(max(seq), 0) FROM " + qs + ".es_events WHERE stream_id = ?1";
    if (sqlite3_prepare_v2(c.db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) raise_db(c.db);
    sqlite3_bind_text(s, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
    std::pair<int64_t, int64_t> out{0, 0};
    if (sqlite3_step(s) == SQLITE_ROW) {
        out = {sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1)};
    }
    sqlite3_finalize(s);
    return out;
}

// True when schema qs holds rows of the stream and every one of its events also exists in
// main with the same seq and id: the copy an interrupted move left behind.
bool is_orphan(Conn& c, const std::string& qs, const std::string& stream) {
    if (!has_eskit_tables(c, qs)) return false;
    if (query_int(c, "SELECT count(*) FROM " + qs + ".es_streams WHERE stream_id = ?1",
                  {stream}) == 0) {
        return false;
    }
    return query_int(c, "SELECT count(*) FROM " + qs + ".es_events a WHERE a.stream_id = ?1 "
                        "AND NOT EXISTS (SELECT 1 FROM main.es_events m "
                        "WHERE m.seq = a.seq AND m.event_id = a.event_id)",
                     {stream}) == 0;
}

// Step 1 of tombstone/delete: erase the stream's archive copy and any orphan copies in
// attached databases, in a transaction that leaves main untouched. Returns the events erased.
int64_t erase_copies(Conn& c, const std::string& stream, const char* fn) {
    const bool outside = sqlite3_get_autocommit(c.db) != 0;
    std::vector<std::string> schemas;
    {
        WriteScope scope(c, fn);
        const StreamRow row = read_stream(c, stream);
        if (!row.exists) not_found(stream);
        if (row.state == "tombstoned") {
            scope.commit();
            return 0;  // step 2 decides (tombstone refuses, delete purges)
        }
        if (!row.archived_to.empty()) {
            archive_of(c, stream, row, fn);  // must be attached
            schemas.push_back(row.archived_to);
        }
        for (int i = 2; const char* name = sqlite3_db_name(c.db, i); ++i) {
            if (!same_schema(name, row.archived_to) && is_orphan(c, quote_ident(name), stream)) {
                schemas.emplace_back(name);
            }
        }
        if (schemas.empty()) {
            scope.commit();
            return 0;
        }
        require_autocommit(outside, fn);
        int64_t erased = 0;
        for (const std::string& name : schemas) {
            erased += erase_from_archive(c, name, stream);
        }
        scope.commit();
        return erased;
    }
}

int64_t archive(Conn& c, int argc, sqlite3_value** argv) {
    const char* fn = "es_archive()";
    const std::string stream(arg_id(argv[0], fn, "stream_id"));
    const std::string schema = argc > 1 ? archive_schema(c, argv[1], fn) : std::string();
    if (schema.empty()) {  // in place: one transaction in main
        WriteScope scope(c, fn);
        const StreamRow row = read_stream(c, stream);
        if (!row.exists) not_found(stream);
        if (row.state == "tombstoned") raise_tombstoned(stream, row);
        if (row.state == "active") {
            run(c, "UPDATE main.es_streams SET state = 'archived', updated_at = ?2 "
                   "WHERE stream_id = ?1", {stream, now_micros()});
        }
        scope.commit();  // archiving an archived stream is a no-op
        return 0;
    }
    const std::string qs = quote_ident(schema);
    const bool outside = sqlite3_get_autocommit(c.db) != 0;
    for (int attempt = 0;; ++attempt) {
        std::pair<int64_t, int64_t> copied;
        {  // Step 1: copy into the archive (main is only read).
            WriteScope scope(c, fn);
            const StreamRow row = read_stream(c, stream);
            if (!row.exists) not_found(stream);
            if (row.state == "tombstoned") raise_tombstoned(stream, row);
            if (same_schema(row.archived_to, schema)) {
                scope.commit();
                return 0;  // already there
            }
            if (!row.archived_to.empty()) {
                raise_archived_elsewhere(fn, stream, row.archived_to, schema);
            }
            require_autocommit(outside, fn);
            migrate(c, schema.c_str());
            const bool orphan = is_orphan(c, qs, stream);
            if (!orphan && query_int(c, "SELECT count(*) FROM " + qs +
                                            ".es_streams WHERE stream_id = ?1",
                                     {stream}) > 0) {
                raise(SQLITE_CONSTRAINT, "conflict: archive database %Q already holds a stream %Q",
                      schema.c_str(), stream.c_str());
            }
            // An archive shared by several stores: its positions and ids must stay unique.
            const char* other = orphan ? " AND a.stream_id <> ?1" : "";
            if (query_int(c, format("SELECT count(*) FROM main.es_events m JOIN %s.es_events a "
                                    "ON a.seq = m.seq WHERE m.stream_id = ?1%s",
                                    qs.c_str(), other),
                          {stream}) > 0) {
                raise(SQLITE_CONSTRAINT,
                      "conflict: seq values of stream %Q are already used in archive database %Q "
                      "(by another store's events)",
                      stream.c_str(), schema.c_str());
            }
            if (query_int(c, format("SELECT count(*) FROM main.es_events m JOIN %s.es_events a "
                                    "ON a.event_id = m.event_id WHERE m.stream_id = ?1%s",
                                    qs.c_str(), other),
                          {stream}) > 0) {
                raise(SQLITE_CONSTRAINT,
                      "duplicate_event: event ids of stream %Q already exist in archive database "
                      "%Q",
                      stream.c_str(), schema.c_str());
            }
            const int64_t now = now_micros();
            if (orphan) purge(c, qs, stream, true);  // left by an interrupted move: replace it
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
            copied = extent(c, "main", stream);
            scope.commit();
        }
        {  // Step 2: remove from main, unless the stream changed since the copy.
            WriteScope scope(c, fn);
            const StreamRow row = read_stream(c, stream);
            if (row.exists && row.state != "tombstoned" && row.archived_to.empty() &&
                extent(c, "main", stream) == copied) {
                purge(c, "main", stream, false);
                run(c, "UPDATE main.es_streams SET state = 'archived', archived_to = ?2, "
                       "updated_at = ?3 WHERE stream_id = ?1",
                    {stream, schema, now_micros()});
                scope.commit();
                return copied.first;
            }
            // Another writer got in between: drop the stale copy and start over.
            erase_from_archive(c, schema, stream);
            scope.commit();
        }
        if (attempt == 2) {
            raise(SQLITE_CONSTRAINT,
                  "conflict: stream %Q kept changing while it was being copied to %Q; try again",
                  stream.c_str(), schema.c_str());
        }
    }
}

int64_t restore(Conn& c, int argc, sqlite3_value** argv) {
    const char* fn = "es_restore()";
    const std::string stream(arg_id(argv[0], fn, "stream_id"));
    const std::string schema = argc > 1 ? archive_schema(c, argv[1], fn) : std::string();
    if (schema.empty()) {
        WriteScope scope(c, fn);
        const StreamRow row = read_stream(c, stream);
        if (!row.exists) not_found(stream);
        if (row.state == "tombstoned") raise_tombstoned(stream, row);
        if (!row.archived_to.empty()) {
            raise(SQLITE_CONSTRAINT,
                  "archived: stream %Q is archived in database %Q; es_restore(%Q, %Q) moves it "
                  "back",
                  stream.c_str(), row.archived_to.c_str(), stream.c_str(),
                  row.archived_to.c_str());
        }
        if (row.state == "archived") {
            run(c, "UPDATE main.es_streams SET state = 'active', updated_at = ?2 "
                   "WHERE stream_id = ?1", {stream, now_micros()});
        }
        scope.commit();  // restoring an active stream is a no-op
        return 0;
    }
    const std::string qs = quote_ident(schema);
    const bool outside = sqlite3_get_autocommit(c.db) != 0;
    int64_t moved = 0;
    {  // Step 1: copy back into main (the archive is only upgraded and locked, not changed).
        WriteScope scope(c, fn);
        const StreamRow row = read_stream(c, stream);
        if (row.exists && row.state == "tombstoned") raise_tombstoned(stream, row);
        if (row.exists && row.archived_to.empty() && row.state == "active" &&
            is_orphan(c, qs, stream)) {
            // The restore already happened and only its second step was lost (a crash or an
            // I/O error after step 1): a retry finishes it by removing the leftover copy.
            require_autocommit(outside, fn);
            erase_from_archive(c, schema, stream);
            scope.commit();
            return 0;
        }
        if (row.exists && !same_schema(row.archived_to, schema)) {
            raise(SQLITE_ERROR, "invalid_argument: %s: stream %Q is not archived in database %Q",
                  fn, stream.c_str(), schema.c_str());
        }
        if (!has_eskit_tables(c, qs) ||
            query_int(c, "SELECT count(*) FROM " + qs + ".es_streams WHERE stream_id = ?1",
                      {stream}) == 0) {
            raise(SQLITE_ERROR, "not_found: stream %Q does not exist in database %Q",
                  stream.c_str(), schema.c_str());
        }
        require_autocommit(outside, fn);
        // A stream archived from this database gets its own seq values back (positions that
        // consumers already passed when they first read it). One that comes from another store
        // (adopted: main has no row for it) gets new positions after the head, in its order,
        // so that a consumer reading es_all from its checkpoint sees it.
        const bool adopt = !row.exists;
        if (!adopt && query_int(c, "SELECT count(*) FROM " + qs + ".es_events a JOIN "
                                   "main.es_events m ON m.seq = a.seq WHERE a.stream_id = ?1",
                                {stream}) > 0) {
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
        // Fail now, with nothing changed, if the archive cannot be written in step 2.
        migrate(c, schema.c_str());
        lock_schema(c, qs);
        const int64_t now = now_micros();
        // "seq, " is the first column of kEventCols; adopted events get the positions after
        // the head instead, in their seq order.
        moved = run(c, format("INSERT INTO main.es_events(%s) SELECT %s%s FROM %s.es_events "
                              "WHERE stream_id = ?1 ORDER BY seq",
                              kEventCols, adopt ? "?2 + row_number() OVER (ORDER BY seq), " : "",
                              adopt ? kEventCols + 5 : kEventCols, qs.c_str()),
                    {stream, read_head(c)});
        run(c, format("INSERT OR REPLACE INTO main.es_snapshots(%s) SELECT %s FROM "
                      "%s.es_snapshots WHERE stream_id = ?1",
                      kSnapshotCols, kSnapshotCols, qs.c_str()),
            {stream});
        if (row.exists) {
            run(c, "UPDATE main.es_streams SET state = 'active', archived_to = NULL, "
                   "updated_at = ?2, version = (SELECT version FROM " + qs +
                       ".es_streams WHERE stream_id = ?1) WHERE stream_id = ?1",
                {stream, now});
        } else {
            run(c, "INSERT INTO main.es_streams(stream_id, category, version, state, created_at, "
                   "updated_at) SELECT stream_id, category, version, 'active', created_at, ?2 "
                   "FROM " + qs + ".es_streams WHERE stream_id = ?1",
                {stream, now});
        }
        scope.commit();
    }
    {  // Step 2: remove the archive's copy.
        WriteScope scope(c, fn);
        erase_from_archive(c, schema, stream);
        scope.commit();
    }
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
    int64_t removed = erase_copies(c, stream, fn);
    WriteScope scope(c, fn);
    const StreamRow row = read_stream(c, stream);
    if (!row.exists) not_found(stream);
    if (row.state == "tombstoned") raise_tombstoned(stream, row);
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
    int64_t removed = erase_copies(c, stream, fn);
    WriteScope scope(c, fn);
    const StreamRow row = read_stream(c, stream);
    if (!row.exists) not_found(stream);
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
