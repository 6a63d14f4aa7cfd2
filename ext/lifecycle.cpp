/*
** Stream lifecycle (SPEC section 3): es_status, es_archive, es_restore, es_tombstone,
** es_delete, and es_maintain (the clean-ups moves leave, and the index tail).
**
** States (streams.h): none -> active (first append) -> archived (in place, or with its events
** moved to another store, moves.h) -> active again (es_restore); any existing state ->
** tombstoned; any existing state -> none (es_delete). The README has the full transition table;
** every transition not listed there as a change is a documented no-op or a named error.
**
** Erasure touches only what eskit owns: main, and the copy a recorded move left in the store
** whose identity main recorded (es_cleanups). A tombstone or delete takes effect in main at
** once, in the caller's transaction if there is one; the archive's copy is erased right after,
** each step in its own transaction, when the call runs outside a transaction and that store is
** attached (found by identity). Otherwise the clean-up stays recorded and es_maintain() — or
** the next tombstone/delete/restore of the stream — erases the copy once the archive is
** attached again. No other attached database (a backup, another store) is ever read for
** erasure or written.
*/
#include "args.h"
#include "boundary.h"
#include "json.h"
#include "moves.h"
#include "postings.h"
#include "streams.h"
#include "write_scope.h"

namespace eskit::ext {

namespace {

bool has_schema(Conn& c) { return schema_version(c, Schema::main_db()) != 0; }

void statusFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, [&](Conn& c) {
        const std::string_view stream = arg_id(argv[0], "es_status()", "stream_id");
        const char* status = has_schema(c) ? status_name(read_stream(c, stream).state()) : "none";
        sqlite3_result_text(ctx, status, -1, SQLITE_STATIC);
    });
}

int64_t archive_in_place(Conn& c, std::string_view stream) {
    WriteScope scope(c, "es_archive()");
    const StreamState st = read_stream(c, stream);
    if (st.state() == State::None) raise_not_found(stream);
    if (st.state() == State::Tombstoned) raise_tombstoned(st);
    if (st.state() == State::Active) {
        BookkeepingScope permit(c, Schema::main_db(), st.store_id);
        c.use(std::string("INSERT INTO main.es_lifecycle(stream_id, state, version, created_at, "
                          "updated_at) VALUES (?1, 'archived', ?2, (SELECT created_at FROM "
                          "main.es_events WHERE stream_id = ?1 ORDER BY version LIMIT 1), ?3)"))
            .bind(1, stream)
            .bind(2, st.version())
            .bind(3, now_micros())
            .step_done();
    }
    scope.commit();  // archiving an archived stream is a no-op
    return 0;
}

int64_t restore_in_place(Conn& c, std::string_view stream) {
    WriteScope scope(c, "es_restore()");
    const StreamState st = read_stream(c, stream);
    const char* id = st.stream.c_str();
    const char* where = st.life.archive_alias.c_str();
    switch (st.state()) {
        case State::None: raise_not_found(stream);
        case State::Tombstoned: raise_tombstoned(st);
        case State::ArchivedElsewhere:
            raise(Code::Archived, Context{st.stream},
                  "stream %Q is archived in database %Q; "
                  "es_restore(%Q, %Q) moves it back",
                  id, where, id, where);
        case State::Archiving:
            raise(Code::Archived, Context{st.stream},
                  "stream %Q is being moved to database %Q; "
                  "es_archive(%Q, %Q) finishes that move",
                  id, where, id, where);
        case State::Held: require_own(st, "es_restore()"); break;
        case State::Archived: {
            BookkeepingScope permit(c, Schema::main_db(), st.store_id);
            c.use(std::string("DELETE FROM main.es_lifecycle WHERE stream_id = ?1"))
                .bind(1, stream)
                .step_done();
            break;
        }
        case State::Active: break;  // restoring an active stream is a no-op
    }
    scope.commit();
    return 0;
}

void archiveFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    guard(ctx, [&](Conn& c) {
        const bool outside = sqlite3_get_autocommit(c.db) != 0;
        const std::string_view stream = arg_id(argv[0], "es_archive()", "stream_id");
        sqlite3_result_int64(
            ctx, argc > 1
                     ? archive_to(c, stream, Schema::attached(c, argv[1], "es_archive()"), outside)
                     : archive_in_place(c, stream));
    });
}

void restoreFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    guard(ctx, [&](Conn& c) {
        const bool outside = sqlite3_get_autocommit(c.db) != 0;
        const std::string_view stream = arg_id(argv[0], "es_restore()", "stream_id");
        sqlite3_result_int64(
            ctx, argc > 1 ? restore_from(c, stream, Schema::attached(c, argv[1], "es_restore()"),
                                         outside)
                          : restore_in_place(c, stream));
    });
}

// What a tombstone or delete leaves to erase elsewhere.
struct Elsewhere {
    std::string legacy_alias;  // a version 2 move: the archive known by name only
};

// The main half of tombstone and delete, in one transaction: the copy in another store is
// recorded for erasure, main's events and reservations go, and the stream row is set
// (tombstone) or removed (delete). Returns the events removed from main.
int64_t erase_in_main(Conn& c, std::string_view stream, const std::optional<std::string>& tombstone,
                      bool has_reason, const char* fn, Elsewhere& elsewhere) {
    WriteScope scope(c, fn);
    const StreamState st = read_stream(c, stream);
    if (st.state() == State::None) raise_not_found(stream);
    if (st.state() == State::Tombstoned && tombstone) raise_tombstoned(st);
    BookkeepingScope permit(c, Schema::main_db(), st.store_id);
    if (st.state() == State::ArchivedElsewhere || st.state() == State::Archiving) {
        if (st.life.archive_store.empty()) {
            elsewhere.legacy_alias = st.life.archive_alias;
        } else {
            record_cleanup(c, st.store_id, st.life.archive_store, st.life.archive_alias, stream,
                           st.life.move_id);
        }
    }
    if (tombstone) {
        const int64_t now = now_micros();
        c.use(std::string("INSERT OR REPLACE INTO main.es_lifecycle(stream_id, state, version, "
                          "created_at, updated_at, tombstone_reason, tombstoned_at) VALUES (?1, "
                          "'tombstoned', ?2, ifnull((SELECT created_at FROM main.es_events WHERE "
                          "stream_id = ?1 ORDER BY version LIMIT 1), ?3), ?4, ?5, ?4)"))
            .bind(1, stream)
            .bind(2, st.version())
            .bind(3, st.life.exists ? st.life.created_at : now)
            .bind(4, now)
            .bind_optional(5, has_reason ? &*tombstone : nullptr)
            .step_done();
    }
    c.use(std::string("DELETE FROM main.es_reserved_ids WHERE stream_id = ?1"))
        .bind(1, stream)
        .step_done();
    const int64_t removed = erase_stream_rows(c, Schema::main_db(), st.store_id, stream);
    if (!tombstone) {
        c.use(std::string("DELETE FROM main.es_lifecycle WHERE stream_id = ?1"))
            .bind(1, stream)
            .step_done();
    }
    scope.commit();
    return removed;
}

int64_t erase_stream(Conn& c, std::string_view stream, const std::optional<std::string>& tombstone,
                     bool has_reason, const char* fn) {
    const bool outside = sqlite3_get_autocommit(c.db) != 0;
    Elsewhere elsewhere;
    int64_t removed = erase_in_main(c, stream, tombstone, has_reason, fn, elsewhere);
    if (!outside) return removed;  // the archive's copy: es_maintain(), or the next call
    if (!elsewhere.legacy_alias.empty()) {
        removed += erase_legacy_copy(c, stream, elsewhere.legacy_alias, fn);
    }
    return removed + run_cleanups(c, stream, fn).erased;
}

void tombstoneFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, [&](Conn& c) {
        const char* fn = "es_tombstone()";
        const std::string_view stream = arg_id(argv[0], fn, "stream_id");
        const int rt = sqlite3_value_type(argv[1]);
        if (rt != SQLITE_TEXT && rt != SQLITE_NULL) {
            raise(Code::InvalidArgument, "%s: reason must be text or NULL, got %s", fn,
                  describe(argv[1]).c_str());
        }
        std::string reason;
        if (rt == SQLITE_TEXT) {
            reason.assign(reinterpret_cast<const char*>(sqlite3_value_text(argv[1])),
                          static_cast<size_t>(sqlite3_value_bytes(argv[1])));
        }
        sqlite3_result_int64(ctx, erase_stream(c, stream, reason, rt == SQLITE_TEXT, fn));
    });
}

void deleteFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, [&](Conn& c) {
        const char* fn = "es_delete()";
        const std::string_view stream = arg_id(argv[0], fn, "stream_id");
        sqlite3_result_int64(ctx, erase_stream(c, stream, std::nullopt, false, fn));
    });
}

// es_maintain() -> JSON {"indexed": N, "erased": N, "pending": N}: folds the index tail of main
// and runs the recorded clean-ups whose archive is attached (outside a transaction only). A
// clean-up that failed stays pending and its error is listed ("failed": [...]).
std::string maintain_json(int64_t indexed, const CleanupReport& r) {
    std::string out = format("{\"indexed\":%lld,\"erased\":%lld,\"pending\":%lld",
                             static_cast<long long>(indexed), static_cast<long long>(r.erased),
                             static_cast<long long>(r.pending));
    if (!r.failures.empty()) {
        out += ",\"failed\":[";
        for (size_t i = 0; i < r.failures.size(); ++i) {
            if (i) out += ',';
            json_quote(r.failures[i], out);
        }
        out += ']';
    }
    return out + '}';
}

void maintainFunc(sqlite3_context* ctx, int, sqlite3_value**) {
    guard(ctx, [&](Conn& c) {
        const char* fn = "es_maintain()";
        const bool outside = sqlite3_get_autocommit(c.db) != 0;
        int64_t indexed = 0;
        CleanupReport report;
        if (has_schema(c)) {
            {
                WriteScope scope(c, fn);
                indexed = fold_pending(c, Schema::main_db(), store_id(c, Schema::main_db()), 0);
                scope.commit();
            }
            if (outside) {
                report = run_cleanups(c, {}, fn);
            } else {
                Stmt n = c.use(std::string("SELECT count(*) FROM main.es_cleanups"));
                report.pending = n.step_row() ? n.int64(0) : 0;
            }
        }
        const std::string out = maintain_json(indexed, report);
        sqlite3_result_text(ctx, out.c_str(), static_cast<int>(out.size()), SQLITE_TRANSIENT);
    });
}

}  // namespace

int register_lifecycle(sqlite3* db, Conn* c) {
    constexpr int writer = SQLITE_UTF8 | SQLITE_DIRECTONLY;
    int rc = register_function(db, c, "es_status", {1}, SQLITE_UTF8 | SQLITE_INNOCUOUS, statusFunc);
    if (rc == SQLITE_OK) rc = register_function(db, c, "es_archive", {1, 2}, writer, archiveFunc);
    if (rc == SQLITE_OK) rc = register_function(db, c, "es_restore", {1, 2}, writer, restoreFunc);
    if (rc == SQLITE_OK) rc = register_function(db, c, "es_tombstone", {2}, writer, tombstoneFunc);
    if (rc == SQLITE_OK) rc = register_function(db, c, "es_delete", {1}, writer, deleteFunc);
    if (rc == SQLITE_OK) rc = register_function(db, c, "es_maintain", {0}, writer, maintainFunc);
    return rc;
}

}  // namespace eskit::ext
