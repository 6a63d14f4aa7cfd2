#include "guard.h"

#include "boundary.h"
#include "conn.h"
#include "error.h"
#include "schema.h"
#include "stmt.h"

namespace eskit::ext {

bool Guard::admit_insert(std::string_view store, int64_t seq) {
    if (permits_.empty()) return false;
    Permit& p = permits_.back();
    if (p.kind != Permit::Kind::EventsInsert || p.store != store) return false;
    if (!p.seqs.empty()) {
        if (p.next >= p.seqs.size() || p.seqs[p.next] != seq) return false;
        ++p.next;
        return true;
    }
    if (seq != p.seq_lo || seq > p.seq_hi) return false;
    ++p.seq_lo;
    return true;
}

bool Guard::allows_delete(std::string_view store, std::string_view stream) const {
    if (permits_.empty()) return false;
    const Permit& p = permits_.back();
    return p.kind == Permit::Kind::EventsDelete && p.store == store && p.stream == stream;
}

bool Guard::allows_bookkeeping(std::string_view store) const {
    if (permits_.empty()) return false;
    const Permit& p = permits_.back();
    return p.kind == Permit::Kind::Bookkeeping && p.store == store;
}

PermitScope::PermitScope(Guard& g, Permit p) : g_(g) { g_.permits_.push_back(std::move(p)); }
PermitScope::~PermitScope() { g_.permits_.pop_back(); }

namespace {

// eskit's own triggers on the bookkeeping tables are named <table>_guard_<op> (schema.cpp).
constexpr const char* kBookkeepingIn =
    "('es_meta', 'es_lifecycle', 'es_postings', 'es_event_ids', 'es_reserved_ids', "
    "'es_cleanups')";

int64_t cookie(Conn& c, const char* quoted) {
    Stmt v = c.use(format("PRAGMA %s.schema_version", quoted));
    return v.step_row() ? v.int64(0) : 0;
}

}  // namespace

void check_bookkeeping_triggers(Conn& c, const Schema& s) {
    const std::pair<int64_t, int64_t> now{cookie(c, s.quoted().c_str()), cookie(c, "temp")};
    const auto known = c.bookkeeping_checked.find(s.name());
    if (known != c.bookkeeping_checked.end() && known->second == now) return;
    // TEMP triggers on another database's tables live in temp's schema (tbl_name unqualified).
    Stmt t = c.use(format(
        "SELECT name, tbl_name FROM %s.sqlite_schema WHERE type = 'trigger' AND tbl_name IN %s "
        "AND name <> tbl_name || '_guard_insert' AND name <> tbl_name || '_guard_update' AND "
        "name <> tbl_name || '_guard_delete' UNION ALL SELECT name, tbl_name FROM "
        "temp.sqlite_schema WHERE type = 'trigger' AND tbl_name IN %s LIMIT 1",
        s.quoted().c_str(), kBookkeepingIn, kBookkeepingIn));
    if (t.step_row()) {
        raise(Code::InvalidArgument,
              "trigger %Q on %s is not eskit's: eskit's bookkeeping tables "
              "take no triggers of their own (they would run while eskit writes them); drop it",
              t.str(0).c_str(), t.str(1).c_str());
    }
    c.bookkeeping_checked[s.name()] = now;
}

BookkeepingScope::BookkeepingScope(Conn& c, const Schema& s, const std::string& store)
    : permit_((check_bookkeeping_triggers(c, s), c.guard), bookkeeping_permit(store)) {}

namespace {

std::string_view text_arg(sqlite3_value* v) {
    const auto* t = reinterpret_cast<const char*>(sqlite3_value_text(v));
    return t ? std::string_view(t, static_cast<size_t>(sqlite3_value_bytes(v)))
             : std::string_view();
}

// (store, seq): an insert into es_events. (store, op, stream): an update or delete of one of
// its rows. (store): a write to a bookkeeping table. Answers 1 to let the write through.
// Reads a few values and the permits: INNOCUOUS, so it works with trusted_schema=OFF.
void guardFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    Guard& g = static_cast<Conn*>(sqlite3_user_data(ctx))->guard;
    const std::string_view store = text_arg(argv[0]);
    bool ok = false;
    if (argc == 1) {
        ok = g.allows_bookkeeping(store);
    } else if (argc == 2) {
        ok = g.admit_insert(store, sqlite3_value_int64(argv[1]));
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
