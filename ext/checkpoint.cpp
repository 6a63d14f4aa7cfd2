/*
** es_checkpoint: durable consumer positions (SPEC section 3).
**
**   es_checkpoint(consumer)                 -> stored seq, 0 when unknown
**   es_checkpoint(consumer, seq)            -> stores seq (may move backwards, for rebuilds)
**   es_checkpoint(consumer, expected, seq)  -> compare-and-set; conflict unless stored = expected
**
** Called inside the transaction that applies a batch to a read model, the compare-and-set
** makes a projection exactly-once: a crash rolls back the read-model writes and the position
** together, and a second instance that raced ahead makes the CAS fail instead of double-applying.
*/
#include "args.h"
#include "boundary.h"
#include "schema.h"
#include "write_scope.h"

namespace eskit::ext {

namespace {

constexpr const char* kFn = "es_checkpoint()";

const Query kCheckpointGet{"SELECT seq FROM main.es_checkpoints WHERE consumer = ?1"};
const Query kCheckpointSet{
    "INSERT INTO main.es_checkpoints(consumer, seq, updated_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT(consumer) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at"};

int64_t position_arg(sqlite3_value* v, const char* what) {
    if (sqlite3_value_type(v) != SQLITE_INTEGER || sqlite3_value_int64(v) < 0) {
        raise(Code::InvalidArgument, "%s: %s must be an integer >= 0, got %s", kFn, what,
              describe(v).c_str());
    }
    return sqlite3_value_int64(v);
}

// The stored position, 0 when the consumer is unknown. Needs the schema to exist.
int64_t stored(Conn& c, std::string_view consumer) {
    Stmt s = c.use(kCheckpointGet);
    s.bind(1, consumer);
    return s.step_row() ? s.int64(0) : 0;
}

void checkpointFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    guard(ctx, [&](Conn& c) {
        const std::string_view consumer = arg_id(argv[0], kFn, "consumer");
        if (argc == 1) {
            const bool tables = schema_version(c, Schema::main_db()) != 0;
            sqlite3_result_int64(ctx, tables ? stored(c, consumer) : 0);
            return;
        }
        const int64_t seq = position_arg(argv[argc - 1], "seq");
        const int64_t expected = argc == 3 ? position_arg(argv[1], "expected") : 0;
        WriteScope scope(c, kFn);
        if (argc == 3) {
            const int64_t current = stored(c, consumer);
            if (current != expected) {
                const std::string name(consumer);
                raise(Code::Conflict, Context{{}, true, expected, current},
                      "checkpoint %Q is at %lld, expected %lld", name.c_str(),
                      static_cast<long long>(current), static_cast<long long>(expected));
            }
        }
        c.use(kCheckpointSet).bind(1, consumer).bind(2, seq).bind(3, now_micros()).step_done();
        scope.commit();
        sqlite3_result_int64(ctx, seq);
    });
}

}  // namespace

int register_checkpoint(sqlite3* db, Conn* c) {
    int rc = register_function(db, c, "es_checkpoint", {1}, SQLITE_UTF8 | SQLITE_INNOCUOUS,
                               checkpointFunc);
    if (rc == SQLITE_OK) {
        rc = register_function(db, c, "es_checkpoint", {2, 3}, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                               checkpointFunc);
    }
    return rc;
}

}  // namespace eskit::ext
