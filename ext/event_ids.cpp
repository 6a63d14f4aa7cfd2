#include "event_ids.h"

#include "conn.h"
#include "ids.h"
#include "schema.h"

namespace eskit::ext {

namespace {

const Query kListedId{
    "SELECT e.seq, e.stream_id, e.version, e.type, e.data, e.codec FROM main.es_event_ids AS i "
    "JOIN main.es_events AS e ON e.seq = i.seq WHERE i.event_id = ?1 AND e.event_id = ?1"};
const Query kEventAtSeq{
    "SELECT seq, stream_id, version, type, data, codec FROM main.es_events "
    "WHERE seq = ?1 AND event_id = ?2"};
const Query kReservedId{"SELECT stream_id FROM main.es_reserved_ids WHERE event_id = ?1"};

IdOwner owner_from(Stmt& s, std::string_view id) {
    IdOwner o;
    o.event_id.assign(id);
    o.kind = IdOwner::Kind::Event;
    o.seq = s.int64(0);
    o.stream = s.str(1);
    o.version = s.int64(2);
    o.type = s.str(3);
    o.data = s.str(4);
    o.codec = s.str(5);
    return o;
}

}  // namespace

bool needs_listing(std::string_view id, int64_t seq) {
    const auto carried = seq_in_id(id);
    return !carried || *carried != seq;
}

IdOwner find_id(Conn& c, std::string_view id) {
    {
        Stmt s = c.use(kListedId);
        s.bind(1, id);
        if (s.step_row()) return owner_from(s, id);
    }
    if (const auto seq = seq_in_id(id)) {
        Stmt s = c.use(kEventAtSeq);
        s.bind(1, *seq).bind(2, id);
        if (s.step_row()) return owner_from(s, id);
    }
    Stmt r = c.use(kReservedId);
    r.bind(1, id);
    IdOwner o;
    if (r.step_row()) {
        o.kind = IdOwner::Kind::Reserved;
        o.stream = r.str(0);
    }
    return o;
}

void list_stream_ids(Conn& c, const Schema& s, std::string_view stream) {
    std::vector<std::pair<std::string, int64_t>> listed;
    {
        Stmt rows = c.prepare(format("SELECT event_id, seq FROM %s.es_events WHERE stream_id = ?1",
                                     s.quoted().c_str()));
        rows.bind(1, stream);
        while (rows.step_row()) {
            if (needs_listing(rows.text(0), rows.int64(1)))
                listed.emplace_back(rows.str(0), rows.int64(1));
        }
    }
    Stmt insert =
        c.prepare(format("INSERT OR REPLACE INTO %s.es_event_ids(event_id, seq) "
                         "VALUES (?1, ?2)",
                         s.quoted().c_str()));
    for (const auto& [id, seq] : listed) {
        insert.bind(1, id).bind(2, seq).step_done();
        insert.reset();
    }
}

void unlist_stream_ids(Conn& c, const Schema& s, std::string_view stream) {
    const char* q = s.quoted().c_str();
    c.prepare(format("DELETE FROM %s.es_event_ids WHERE event_id IN (SELECT event_id FROM "
                     "%s.es_events WHERE stream_id = ?1)",
                     q, q))
        .bind(1, stream)
        .step_done();
}

}  // namespace eskit::ext
