#include <eskit/error.hpp>
#include <eskit/raw_store.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <limits>

#include "database_impl.hpp"
#include "json_text.hpp"

namespace eskit {

using detail::Connection;
using detail::query_int;

namespace {

constexpr int64_t kMaxVersion = std::numeric_limits<int64_t>::max();

// The stored columns of an event, in this order, in every read below.
constexpr const char* kEventColumns =
    "seq, stream_id, version, type, data, metadata, codec, schema_version, event_id, created_at";

RawEventView view_of(const detail::Rows& r) {
    RawEventView e;
    e.seq = r.integer(0);
    e.stream_id = r.text(1);
    e.version = r.integer(2);
    e.type = r.text(3);
    e.data = r.text(4);
    if (!r.is_null(5)) e.metadata = r.text(5);
    e.codec = r.text(6);
    e.schema_version = r.integer(7);
    e.event_id = r.text(8);
    e.created_at = Timestamp(std::chrono::microseconds(r.integer(9)));
    return e;
}

size_t each_row(Connection& c, const std::string& sql, std::span<const Param> params,
                RawStore::Sink sink) {
    size_t n = 0;
    auto rows = c.query(sql, params);
    while (rows->next()) {
        sink(view_of(*rows));
        ++n;
    }
    return n;
}

std::string json_array(const std::vector<std::string>& values) {
    std::string out = "[";
    for (size_t i = 0; i < values.size(); ++i) {
        if (i) out.push_back(',');
        detail::json_quote(values[i], out);
    }
    out.push_back(']');
    return out;
}

std::vector<RawEvent> rows_of(Connection& c, const std::string& sql,
                              std::span<const Param> params) {
    std::vector<RawEvent> out;
    each_row(c, sql, params, [&](const RawEventView& e) { out.push_back(e.to_raw()); });
    return out;
}

// The events an earlier append with this key wrote (its replay's answer).
std::vector<RawEvent> keyed_events(Connection& c, std::string_view stream, const std::string& key) {
    const Param p[] = {stream, std::string_view(key)};
    return rows_of(c,
                   std::string("SELECT ") + kEventColumns +
                       " FROM es_events WHERE stream_id = ?1 "
                       "AND idempotency_key = ?2 ORDER BY version",
                   p);
}

std::vector<RawEvent> versions(Connection& c, std::string_view stream, int64_t lo, int64_t hi) {
    const Param p[] = {stream, lo, hi};
    return rows_of(c,
                   std::string("SELECT ") + kEventColumns +
                       " FROM es_events WHERE stream_id = ?1 "
                       "AND version BETWEEN ?2 AND ?3 ORDER BY version",
                   p);
}

int64_t call_int(Connection& c, const char* sql, std::initializer_list<Param> params) {
    return query_int(c, sql, std::span<const Param>(params.begin(), params.size()));
}

// Archives into an attached database need the file next to the main one; a cluster replicates
// its main database only (dqlite has no ATTACH of replicated files), so it refuses up front.
void require_local(Connection& c, const char* what) {
    if (c.native()) return;
    throw_error(Code::InvalidArgument, SQLITE_ERROR,
                std::string("eskit: ") + what +
                    " is not available on a cluster: only the main database is replicated "
                    "(archive in place with archive(stream))");
}

// ATTACHes another store's file to the write connection for one call.
class Attached {
  public:
    Attached(Connection& c, Database& other) : c_(c) {
        require_local(c, "archiving into another store");
        if (!other.handle()) {
            throw_error(Code::InvalidArgument, SQLITE_ERROR,
                        "eskit: the target store is a cluster; archive into a store file");
        }
        const char* path = sqlite3_db_filename(other.handle(), "main");
        if (!path || !*path) {
            throw_error(Code::InvalidArgument, SQLITE_ERROR,
                        "eskit: the target store is in memory; archive into a store file");
        }
        const Param p[] = {std::string_view(path)};
        c_.execute("ATTACH ?1 AS es_facade_peer", p);
    }
    ~Attached() {
        try {
            c_.exec("DETACH es_facade_peer");
        } catch (...) {
        }
    }
    Attached(const Attached&) = delete;
    Attached& operator=(const Attached&) = delete;

  private:
    Connection& c_;
};

}  // namespace

int64_t expected_version_of(const Expected& e) noexcept {
    struct V {
        int64_t operator()(Any) const { return -1; }
        int64_t operator()(NoStream) const { return 0; }
        int64_t operator()(StreamExists) const { return -2; }
        int64_t operator()(Exact x) const { return x.version; }
    };
    return std::visit(V{}, e);
}

const char* to_string(StreamStatus s) noexcept {
    switch (s) {
        case StreamStatus::None: return "none";
        case StreamStatus::Active: return "active";
        case StreamStatus::Archived: return "archived";
        case StreamStatus::Tombstoned: return "tombstoned";
    }
    return "none";
}

RawStore::RawStore(Database& db) : db_(db.impl()) {}
RawStore::RawStore(std::shared_ptr<detail::DatabaseImpl> db) : db_(std::move(db)) {}

std::vector<EventMeta> RawStore::append(std::string_view stream, const Expected& expected,
                                        const std::vector<EncodedEvent>& events,
                                        const AppendOptions& options,
                                        std::vector<RawEvent>* stored_out) {
    std::vector<detail::EventData> data(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
        const EncodedEvent& e = events[i];
        data[i] = {e.type, e.data, e.codec, e.schema_version, e.options.id, e.options.metadata};
    }
    detail::AppendCall call;
    call.stream = stream;
    call.expected = expected_version_of(expected);
    call.events = &data;
    call.idempotency_key = options.idempotency_key;
    if (options.timestamp) call.timestamp = options.timestamp->time_since_epoch().count();
    call.metadata = options.metadata;
    const detail::AppendReply r = db_->append(call);
    std::vector<EventMeta> out;
    if (r.replay) {  // nothing was written: the events the earlier append wrote, as stored
        std::vector<RawEvent> stored = db_->with_reader([&](Connection& c) {
            return options.idempotency_key && r.count == 0
                       ? keyed_events(c, stream, *options.idempotency_key)
                       : versions(c, stream, r.first_version, r.last_version);
        });
        for (const RawEvent& e : stored) out.push_back(e);
        if (stored_out) *stored_out = std::move(stored);
        return out;
    }
    out.resize(static_cast<size_t>(r.count));
    for (size_t i = 0; i < out.size(); ++i) {
        EventMeta& m = out[i];
        m.seq = r.first_seq + static_cast<int64_t>(i);
        m.stream_id = stream;
        m.version = r.first_version + static_cast<int64_t>(i);
        m.type = events[i].type;
        m.event_id = r.event_ids[i];
        m.created_at = Timestamp(std::chrono::microseconds(r.created_at));
        m.codec = events[i].codec;
        m.schema_version = events[i].schema_version;
        // The event's own, or as stored when the call's metadata was merged into it.
        m.metadata = r.metadata.empty() ? events[i].options.metadata : r.metadata[i];
    }
    return out;
}

std::vector<RawEvent> RawStore::stream_page(std::string_view stream, const LoadOptions& o,
                                            PageCursor& cur) const {
    std::vector<RawEvent> out;
    stream_page(stream, o, cur, [&](const RawEventView& e) { out.push_back(e.to_raw()); });
    return out;
}

std::vector<RawEvent> RawStore::log_page(int64_t after_seq, int64_t limit,
                                         const ReadOptions& o) const {
    std::vector<RawEvent> out;
    out.reserve(static_cast<size_t>(std::clamp<int64_t>(limit, 0, 4096)));
    log_page(after_seq, limit, o, [&](const RawEventView& e) { out.push_back(e.to_raw()); });
    return out;
}

size_t RawStore::stream_page(std::string_view stream, const LoadOptions& o, PageCursor& cur,
                             Sink sink) const {
    if (cur.done) return 0;
    int64_t page = o.page_size > 0 ? o.page_size : 512;
    if (o.limit) page = std::min(page, *o.limit - cur.taken);
    if (page <= 0) {
        cur.done = true;
        return 0;
    }
    if (cur.taken == 0 && cur.next == 0)
        cur.next = o.backwards ? o.to_version.value_or(kMaxVersion) : o.from_version;
    const int64_t lo = o.backwards ? o.from_version : cur.next;
    const int64_t hi = o.backwards ? cur.next : o.to_version.value_or(kMaxVersion);
    const std::string types = o.types.empty() ? std::string() : json_array(o.types);
    std::string sql = std::string("SELECT ") + kEventColumns +
                      " FROM es_events WHERE stream_id = ?1 AND es_readable(?1) AND version "
                      "BETWEEN ?2 AND ?3";
    if (!types.empty()) sql += " AND type IN (SELECT value FROM json_each(?5))";
    sql += o.backwards ? " ORDER BY version DESC LIMIT ?4" : " ORDER BY version LIMIT ?4";
    std::vector<Param> params{stream, lo, hi, page};
    if (!types.empty()) params.emplace_back(std::string_view(types));
    int64_t last = 0;
    const size_t n = db_->with_reader([&](Connection& c) {
        return each_row(c, sql, params, [&](const RawEventView& e) {
            last = e.version;
            sink(e);
        });
    });
    cur.taken += static_cast<int64_t>(n);
    if (static_cast<int64_t>(n) < page || (o.limit && cur.taken >= *o.limit)) cur.done = true;
    if (n) cur.next = o.backwards ? last - 1 : last + 1;
    return n;
}

size_t RawStore::log_page(int64_t after_seq, int64_t limit, const ReadOptions& o, Sink sink) const {
    if (limit <= 0) return 0;
    const std::string types = o.types.empty() ? std::string() : json_array(o.types);
    std::vector<Param> params{after_seq, limit};
    std::string sql = std::string("SELECT ") + kEventColumns;
    if (!o.category && types.empty()) {
        // The log needs no check: events of tombstoned or moved streams are not in es_events.
        sql += " FROM es_events WHERE seq > ?1 ORDER BY seq LIMIT ?2";
    } else {
        // Category and type reads are served by es_all's index.
        sql += " FROM es_all(?1) WHERE 1";
        if (o.category) {
            sql += " AND category = ?3";
            params.emplace_back(std::string_view(*o.category));
        }
        if (!types.empty()) {
            sql += o.category ? " AND type IN (SELECT value FROM json_each(?4))"
                              : " AND type IN (SELECT value FROM json_each(?3))";
            params.emplace_back(std::string_view(types));
        }
        sql += " LIMIT ?2";
    }
    return db_->with_reader([&](Connection& c) { return each_row(c, sql, params, sink); });
}

int64_t RawStore::latest_sequence() const {
    return db_->with_reader([](Connection& c) { return query_int(c, "SELECT es_head()"); });
}

StreamStatus RawStore::status(std::string_view stream) const {
    return db_->with_reader([&](Connection& c) {
        const Param p[] = {stream};
        auto rows = c.query("SELECT es_status(?1)", p);
        const std::string s(rows->next() ? rows->text(0) : "none");
        if (s == "active") return StreamStatus::Active;
        if (s == "archived") return StreamStatus::Archived;
        if (s == "tombstoned") return StreamStatus::Tombstoned;
        return StreamStatus::None;
    });
}

void RawStore::archive(std::string_view stream) {
    db_->with_writer([&](Connection& c) { return call_int(c, "SELECT es_archive(?1)", {stream}); });
}

int64_t RawStore::archive_to(std::string_view stream, std::string_view schema) {
    return db_->with_writer([&](Connection& c) {
        require_local(c, "archiving into an attached database");
        return call_int(c, "SELECT es_archive(?1, ?2)", {stream, schema});
    });
}

int64_t RawStore::archive_to(std::string_view stream, Database& target) {
    return db_->with_writer([&](Connection& c) {
        Attached peer(c, target);
        return call_int(c, "SELECT es_archive(?1, 'es_facade_peer')", {stream});
    });
}

void RawStore::restore(std::string_view stream) {
    db_->with_writer([&](Connection& c) { return call_int(c, "SELECT es_restore(?1)", {stream}); });
}

int64_t RawStore::restore_from(std::string_view stream, std::string_view schema) {
    return db_->with_writer([&](Connection& c) {
        require_local(c, "restoring from an attached database");
        return call_int(c, "SELECT es_restore(?1, ?2)", {stream, schema});
    });
}

int64_t RawStore::restore_from(std::string_view stream, Database& source) {
    return db_->with_writer([&](Connection& c) {
        Attached peer(c, source);
        return call_int(c, "SELECT es_restore(?1, 'es_facade_peer')", {stream});
    });
}

int64_t RawStore::tombstone(std::string_view stream, std::optional<std::string_view> reason) {
    return db_->with_writer([&](Connection& c) {
        return call_int(c, "SELECT es_tombstone(?1, ?2)",
                        {stream, reason ? Param(*reason) : Param(nullptr)});
    });
}

std::optional<Tombstone> RawStore::is_tombstoned(std::string_view stream) const {
    return db_->with_reader([&](Connection& c) -> std::optional<Tombstone> {
        const Param p[] = {stream};
        auto rows = c.query(
            "SELECT tombstone_reason, tombstoned_at FROM es_streams WHERE "
            "stream_id = ?1 AND state = 'tombstoned'",
            p);
        if (!rows->next()) return std::nullopt;
        Tombstone t;
        if (!rows->is_null(0)) t.reason = std::string(rows->text(0));
        t.at = Timestamp(std::chrono::microseconds(rows->integer(1)));
        return t;
    });
}

int64_t RawStore::remove(std::string_view stream) {
    return db_->with_writer(
        [&](Connection& c) { return call_int(c, "SELECT es_delete(?1)", {stream}); });
}

// ---------------------------------------------------------------------------------------------

CheckpointStore::CheckpointStore(Database& db) : db_(db.impl()) {}
CheckpointStore::CheckpointStore(std::shared_ptr<detail::DatabaseImpl> db) : db_(std::move(db)) {}

int64_t CheckpointStore::get(std::string_view consumer) {
    return db_->with_reader(
        [&](Connection& c) { return call_int(c, "SELECT es_checkpoint(?1)", {consumer}); });
}

void CheckpointStore::set(std::string_view consumer, int64_t seq) {
    db_->with_writer([&](Connection& c) {
        return call_int(c, "SELECT es_checkpoint(?1, ?2)", {consumer, seq});
    });
}

void CheckpointStore::compare_and_set(std::string_view consumer, int64_t expected, int64_t seq) {
    db_->with_writer([&](Connection& c) {
        return call_int(c, "SELECT es_checkpoint(?1, ?2, ?3)", {consumer, expected, seq});
    });
}

RawSnapshots::RawSnapshots(Database& db) : db_(db.impl()) {}
RawSnapshots::RawSnapshots(std::shared_ptr<detail::DatabaseImpl> db) : db_(std::move(db)) {}

void RawSnapshots::save(std::string_view stream, int64_t version, std::string_view state, bool text,
                        int64_t schema_version, std::string_view codec) {
    db_->with_writer([&](Connection& c) {
        return call_int(
            c, "SELECT es_snapshot_save(?1, ?2, ?3, ?4, ?5)",
            {stream, version, text ? Param(state) : Param(Blob{state}), schema_version, codec});
    });
}

std::optional<RawSnapshot> RawSnapshots::load(std::string_view stream) {
    return db_->with_reader([&](Connection& c) -> std::optional<RawSnapshot> {
        const Param p[] = {stream};
        auto rows = c.query(
            "SELECT version, schema_version, codec, state, created_at FROM "
            "es_snapshots WHERE stream_id = ?1",
            p);
        if (!rows->next()) return std::nullopt;
        RawSnapshot s;
        s.version = rows->integer(0);
        s.schema_version = rows->integer(1);
        s.codec = rows->text(2);
        s.state = rows->text(3);
        s.created_at = Timestamp(std::chrono::microseconds(rows->integer(4)));
        return s;
    });
}

int64_t RawSnapshots::invalidate(std::string_view stream) {
    return db_->with_writer(
        [&](Connection& c) { return call_int(c, "SELECT es_snapshot_invalidate(?1)", {stream}); });
}

int64_t RawSnapshots::invalidate_all() {
    return db_->with_writer(
        [&](Connection& c) { return call_int(c, "SELECT es_snapshot_invalidate(NULL)", {}); });
}

}  // namespace eskit
