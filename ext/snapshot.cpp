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
** 'json' and a BLOB state 'binary'. Read snapshots with a plain SELECT from
** es_snapshots.
*/
#include <cstring>

#include "common.h"

namespace eskit::ext {

namespace {

void saveFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    guard(ctx, [&] {
        const char* fn = "es_snapshot_save()";
        Conn& c = *static_cast<Conn*>(sqlite3_user_data(ctx));
        const std::string stream(arg_id(argv[0], fn, "stream_id"));
        if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER) {
            raise(SQLITE_ERROR, "invalid_argument: %s: version must be an integer, got %s", fn,
                  describe(argv[1]).c_str());
        }
        const int64_t version = sqlite3_value_int64(argv[1]);
        int64_t schema_version = 1;
        if (argc > 3 && sqlite3_value_type(argv[3]) != SQLITE_NULL) {
            if (sqlite3_value_type(argv[3]) != SQLITE_INTEGER || sqlite3_value_int64(argv[3]) < 1) {
                raise(SQLITE_ERROR,
                      "invalid_argument: %s: schema_version must be an integer >= 1, got %s", fn,
                      describe(argv[3]).c_str());
            }
            schema_version = sqlite3_value_int64(argv[3]);
        }
        const int st = sqlite3_value_type(argv[2]);
        std::string codec = st == SQLITE_BLOB ? "binary" : "json";
        if (argc > 4 && sqlite3_value_type(argv[4]) != SQLITE_NULL) {
            codec = std::string(arg_id(argv[4], fn, "codec"));
        }
        if (codec == "json") {
            if (st != SQLITE_TEXT) {
                raise(SQLITE_ERROR, "invalid_argument: %s: state must be JSON text for codec "
                      "'json', got %s", fn, describe(argv[2]).c_str());
            }
            c.json.validate({reinterpret_cast<const char*>(sqlite3_value_text(argv[2])),
                             static_cast<size_t>(sqlite3_value_bytes(argv[2]))},
                            fn, "state");
        } else if (st != SQLITE_TEXT && st != SQLITE_BLOB) {
            raise(SQLITE_ERROR, "invalid_argument: %s: state must be text or a blob, got %s", fn,
                  describe(argv[2]).c_str());
        }

        WriteScope scope(c, fn);
        const StreamRow row = read_stream(c, stream);
        if (!row.exists) raise(SQLITE_ERROR, "not_found: stream %Q does not exist", stream.c_str());
        if (row.state == "tombstoned") {
            raise_tombstoned(stream, row);
        }
        if (!row.archived_to.empty()) {
            raise(SQLITE_CONSTRAINT, "archived: stream %Q was moved to archive database %Q",
                  stream.c_str(), row.archived_to.c_str());
        }
        if (version < 1 || version > row.version) {
            raise(SQLITE_ERROR,
                  "invalid_argument: %s: version %lld is outside 1..%lld, the versions of stream "
                  "%Q",
                  fn, static_cast<long long>(version), static_cast<long long>(row.version),
                  stream.c_str());
        }
        sqlite3_stmt* s = c.stmt(Q::SnapshotUpsert);
        sqlite3_bind_text(s, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, version);
        sqlite3_bind_int64(s, 3, schema_version);
        sqlite3_bind_text(s, 4, codec.data(), static_cast<int>(codec.size()), SQLITE_STATIC);
        sqlite3_bind_value(s, 5, argv[2]);
        sqlite3_bind_int64(s, 6, now_micros());
        const int rc = sqlite3_step(s);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (rc != SQLITE_DONE) raise_db(c.db);
        scope.commit();
        sqlite3_result_int64(ctx, version);
    });
}

void invalidateFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, [&] {
        const char* fn = "es_snapshot_invalidate()";
        Conn& c = *static_cast<Conn*>(sqlite3_user_data(ctx));
        const bool all = sqlite3_value_type(argv[0]) == SQLITE_NULL;
        const std::string stream = all ? std::string() : std::string(arg_id(argv[0], fn, "stream_id"));
        if (!c.has_schema()) {  // nothing to invalidate; do not create tables for it
            sqlite3_result_int64(ctx, 0);
            return;
        }
        WriteScope scope(c, fn);
        const int64_t n = all ? run(c, "DELETE FROM main.es_snapshots")
                              : run(c, "DELETE FROM main.es_snapshots WHERE stream_id = ?1",
                                    {stream});
        scope.commit();
        sqlite3_result_int64(ctx, n);
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
