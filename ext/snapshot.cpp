/*
** Snapshots (SPEC section 3):
**
**   es_snapshot_save(stream_id, version, state [, schema_version [, codec]]) -> version
**   es_snapshot_invalidate(stream_id)  -> 1 or 0 removed
**   es_snapshot_invalidate(NULL)       -> every snapshot removed, returns the count
**
** One snapshot per stream (upsert). version must lie in 1..the stream's current version, so a
** snapshot can never claim events that do not exist; state is JSON text for codec 'json'
** (validated) and TEXT or BLOB for any other codec. Without a codec argument a TEXT state is
** 'json' and a BLOB state 'binary'. Read snapshots with a plain SELECT from es_snapshots.
*/
#include "args.h"
#include "boundary.h"
#include "schema.h"
#include "streams.h"
#include "write_scope.h"

namespace eskit::ext {

namespace {

const Query kSnapshotUpsert{
    "INSERT OR REPLACE INTO main.es_snapshots(stream_id, version, schema_version, codec, state, "
    "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"};

struct SnapshotIn {
    std::string_view stream;
    int64_t version = 0;
    int64_t schema_version = 1;
    std::string codec;
};

SnapshotIn parse_snapshot(Conn& c, int argc, sqlite3_value** argv, const char* fn) {
    SnapshotIn in;
    in.stream = arg_id(argv[0], fn, "stream_id");
    if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER) {
        raise(Code::InvalidArgument, "%s: version must be an integer, got %s", fn,
              describe(argv[1]).c_str());
    }
    in.version = sqlite3_value_int64(argv[1]);
    if (argc > 3 && sqlite3_value_type(argv[3]) != SQLITE_NULL) {
        if (sqlite3_value_type(argv[3]) != SQLITE_INTEGER || sqlite3_value_int64(argv[3]) < 1) {
            raise(Code::InvalidArgument, "%s: schema_version must be an integer >= 1, got %s", fn,
                  describe(argv[3]).c_str());
        }
        in.schema_version = sqlite3_value_int64(argv[3]);
    }
    const int st = sqlite3_value_type(argv[2]);
    in.codec = st == SQLITE_BLOB ? "binary" : "json";
    if (argc > 4 && sqlite3_value_type(argv[4]) != SQLITE_NULL) {
        in.codec = std::string(arg_id(argv[4], fn, "codec"));
    }
    if (in.codec == "json") {
        if (st != SQLITE_TEXT) {
            raise(Code::InvalidArgument, "%s: state must be JSON text for codec 'json', got %s", fn,
                  describe(argv[2]).c_str());
        }
        c.json.validate({reinterpret_cast<const char*>(sqlite3_value_text(argv[2])),
                         static_cast<size_t>(sqlite3_value_bytes(argv[2]))},
                        fn, "state");
    } else if (st != SQLITE_TEXT && st != SQLITE_BLOB) {
        raise(Code::InvalidArgument, "%s: state must be text or a blob, got %s", fn,
              describe(argv[2]).c_str());
    }
    return in;
}

// A snapshot describes events in main: the stream must be there, and not about to leave.
void check_snapshottable(const StreamState& st, int64_t version, const char* fn) {
    const char* id = st.stream.c_str();
    switch (st.state()) {
        case State::None: raise_not_found(st.stream);
        case State::Tombstoned: raise_tombstoned(st);
        case State::ArchivedElsewhere:
        case State::Archiving:
            raise(Code::Archived, Context{st.stream}, "stream %Q was moved to archive database %Q",
                  id, st.life.archive_alias.c_str());
        case State::Held:
            raise(Code::Archived, Context{st.stream},
                  "stream %Q is an archive copy held here for "
                  "store %s",
                  id, st.life.origin_store.c_str());
        case State::Active:
        case State::Archived: break;
    }
    if (version < 1 || version > st.version()) {
        raise(Code::InvalidArgument, Context{st.stream},
              "%s: version %lld is outside 1..%lld, the versions of stream %Q", fn,
              static_cast<long long>(version), static_cast<long long>(st.version()), id);
    }
}

void saveFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    guard(ctx, [&](Conn& c) {
        const char* fn = "es_snapshot_save()";
        const SnapshotIn in = parse_snapshot(c, argc, argv, fn);
        WriteScope scope(c, fn);
        check_snapshottable(read_stream(c, in.stream), in.version, fn);
        c.use(kSnapshotUpsert)
            .bind(1, in.stream)
            .bind(2, in.version)
            .bind(3, in.schema_version)
            .bind(4, in.codec)
            .bind_value(5, argv[2])
            .bind(6, now_micros())
            .step_done();
        scope.commit();
        sqlite3_result_int64(ctx, in.version);
    });
}

void invalidateFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, [&](Conn& c) {
        const char* fn = "es_snapshot_invalidate()";
        const bool all = sqlite3_value_type(argv[0]) == SQLITE_NULL;
        const std::string_view stream = all ? std::string_view() : arg_id(argv[0], fn, "stream_id");
        // Nothing to remove is answered without writing: it works on a read-only connection.
        if (schema_version(c, Schema::main_db()) == 0) {
            sqlite3_result_int64(ctx, 0);
            return;
        }
        const std::string where = all ? "" : " WHERE stream_id = ?1";
        {
            Stmt n = c.use("SELECT count(*) FROM main.es_snapshots" + where);
            if (!all) n.bind(1, stream);
            if (!n.step_row() || n.int64(0) == 0) {
                sqlite3_result_int64(ctx, 0);
                return;
            }
        }
        WriteScope scope(c, fn);
        Stmt d = c.use("DELETE FROM main.es_snapshots" + where);
        if (!all) d.bind(1, stream);
        d.step_done();
        const int64_t removed = d.changes();
        d = Stmt();
        scope.commit();
        sqlite3_result_int64(ctx, removed);
    });
}

}  // namespace

int register_snapshot(sqlite3* db, Conn* c) {
    constexpr int writer = SQLITE_UTF8 | SQLITE_DIRECTONLY;
    int rc = register_function(db, c, "es_snapshot_save", {3, 4, 5}, writer, saveFunc);
    if (rc == SQLITE_OK) {
        rc = register_function(db, c, "es_snapshot_invalidate", {1}, writer, invalidateFunc);
    }
    return rc;
}

}  // namespace eskit::ext
