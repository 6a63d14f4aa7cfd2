#include "guard.h"

#include "boundary.h"
#include "conn.h"

namespace eskit::ext {

bool Guard::allows_insert(std::string_view store, int64_t seq) const {
    for (const Permit& p : permits_) {
        if (p.kind == Permit::Kind::EventsInsert && p.store == store && seq >= p.seq_lo &&
            seq <= p.seq_hi) {
            return true;
        }
    }
    return false;
}

bool Guard::allows_delete(std::string_view store, std::string_view stream) const {
    for (const Permit& p : permits_) {
        if (p.kind == Permit::Kind::EventsDelete && p.store == store && p.stream == stream) {
            return true;
        }
    }
    return false;
}

bool Guard::allows_bookkeeping(std::string_view store) const {
    for (const Permit& p : permits_) {
        if (p.kind == Permit::Kind::Bookkeeping && p.store == store) return true;
    }
    return false;
}

PermitScope::PermitScope(Guard& g, Permit p) : g_(g) { g_.permits_.push_back(std::move(p)); }
PermitScope::~PermitScope() { g_.permits_.pop_back(); }

namespace {

std::string_view text_arg(sqlite3_value* v) {
    const auto* t = reinterpret_cast<const char*>(sqlite3_value_text(v));
    return t ? std::string_view(t, static_cast<size_t>(sqlite3_value_bytes(v))) : std::string_view();
}

// (store, seq): an insert into es_events. (store, op, stream): an update or delete of one of
// its rows. (store): a write to a bookkeeping table. Answers 1 to let the write through.
// Reads a few values and the permits: INNOCUOUS, so it works with trusted_schema=OFF.
void guardFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    const Guard& g = static_cast<Conn*>(sqlite3_user_data(ctx))->guard;
    const std::string_view store = text_arg(argv[0]);
    bool ok = false;
    if (argc == 1) {
        ok = g.allows_bookkeeping(store);
    } else if (argc == 2) {
        ok = g.allows_insert(store, sqlite3_value_int64(argv[1]));
    } else {
        ok = text_arg(argv[1]) == "delete" && g.allows_delete(store, text_arg(argv[2]));
    }
    sqlite3_result_int(ctx, ok ? 1 : 0);
}

}  // namespace

int register_guard(sqlite3* db, Conn* c) {
    return register_function(db, c, kGuardFunction, {1, 2, 3}, SQLITE_UTF8 | SQLITE_INNOCUOUS,
                             guardFunc);
}

}  // namespace eskit::ext
