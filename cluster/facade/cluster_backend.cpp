// The facade's cluster backend: detail::Connection over eskit::cluster::Client, so that
// Store<E> and the rest of libeskit run unchanged on a dqlite cluster.
//
// Statements. Everything runs on the leader (dqlite serves nothing on followers). eskit refuses
// writing functions in autocommit on a dqlite host, so a statement the write connection runs
// outside a transaction is wrapped in BEGIN IMMEDIATE ... COMMIT here (the facade cannot tell
// which SELECT writes); read connections send theirs as they are, retried after a failover.
//
// Appends. The pointer batch of the local backend cannot cross the wire: events go as JSON
// text (es_append's SQL form), and the reply is read in the same statement as
// `SELECT es_append(...), es_last_append()` (SQLite evaluates result columns in order).
// Every append carries an idempotency key (a generated one when the caller gave none):
//   - alone (autocommit), it runs through Appender::transact, which retries it until a
//     definite answer; a replay of a generated key means an earlier attempt of this very call
//     committed, so its reply is read back through the key and reported as a fresh append;
//   - in a transaction, the first append that wrote rows is the transaction's probe: when the
//     COMMIT's answer is lost, the probe's key on the (new) leader tells whether it committed.
//     If it did not, NotCommitted: nothing was written, and the group commit runs its batch
//     again (database.cpp), a user's Transaction::commit() reports it.
//
// Errors. dqlite garbles a failed QUERY (code 1, the column text as message); eskit records
// the real error, read with es_last_error() on the same connection and trusted when the
// failure is eskit's: its message equals the one received (EXEC path), or the received one is
// the garbled form. Connection losses inside a transaction make the transaction lost: every
// statement then fails with NotCommitted until it is rolled back.
#include <eskit/cluster.hpp>
#include <eskit/error.hpp>

#include <simdjson.h>

#include <deque>
#include <thread>

#include "backend.hpp"
#include "eskit/cluster/client.hpp"
#include "json_text.hpp"

namespace eskit {

namespace {

namespace ec = eskit::cluster;
using detail::AppendCall;
using detail::AppendReply;
using Clock = std::chrono::steady_clock;

constexpr int kSqliteError = 1;
constexpr int kSqliteIoErr = 10;
constexpr const char* kAppendSql = "SELECT es_append(?1, ?2, ?3, ?4), es_last_append()";

// ---- values -------------------------------------------------------------------------------

std::vector<ec::Value> values_of(std::span<const Param> params) {
    std::vector<ec::Value> out;
    out.reserve(params.size());
    for (const Param& p : params) {
        if (const auto* i = std::get_if<int64_t>(&p)) {
            out.emplace_back(*i);
        } else if (const auto* d = std::get_if<double>(&p)) {
            out.emplace_back(*d);
        } else if (const auto* t = std::get_if<std::string_view>(&p)) {
            out.emplace_back(*t);
        } else if (const auto* b = std::get_if<Blob>(&p)) {
            out.emplace_back(ec::Blob(b->bytes.begin(), b->bytes.end()));
        } else {
            out.emplace_back(nullptr);
        }
    }
    return out;
}

// Rows of a materialized result, converted the way sqlite3_column_* converts.
class ClusterRows final : public detail::Rows {
  public:
    explicit ClusterRows(ec::Result r) : r_(std::move(r)) {}
    bool next() override {
        if (pos_ >= r_.rows.size()) return false;
        ++pos_;
        texts_.clear();
        return true;
    }
    bool is_null(int col) const override { return at(col).is_null(); }
    int64_t integer(int col) const override {
        const ec::Value& v = at(col);
        if (v.is_int()) return v.as_int();
        if (v.is_real()) return static_cast<int64_t>(v.as_real());
        return v.is_text() ? std::strtoll(v.as_text().c_str(), nullptr, 10) : 0;
    }
    double real(int col) const override {
        const ec::Value& v = at(col);
        if (v.is_real()) return v.as_real();
        if (v.is_int()) return static_cast<double>(v.as_int());
        return v.is_text() ? std::strtod(v.as_text().c_str(), nullptr) : 0.0;
    }
    std::string_view text(int col) const override {
        const ec::Value& v = at(col);
        if (v.is_text()) return v.as_text();
        if (v.is_blob())
            return {reinterpret_cast<const char*>(v.as_blob().data()), v.as_blob().size()};
        if (v.is_null()) return {};
        // Numbers as text: kept until next(), like SQLite's converted column.
        return texts_.emplace_back(v.is_int() ? std::to_string(v.as_int())
                                              : std::to_string(v.as_real()));
    }

  private:
    const ec::Value& at(int col) const { return r_.rows.at(pos_ - 1).at(static_cast<size_t>(col)); }
    ec::Result r_;
    size_t pos_ = 0;
    mutable std::deque<std::string> texts_;
};

// ---- JSON: the events argument, es_last_append, es_last_error ------------------------------

void base64(std::string_view in, std::string& out) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.push_back('"');
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
        for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(n >> s) & 63]);
    }
    if (i < in.size()) {
        const bool two = i + 1 < in.size();
        const uint32_t n = (uint8_t(in[i]) << 16) | (two ? uint8_t(in[i + 1]) << 8 : 0);
        out.push_back(kAlphabet[(n >> 18) & 63]);
        out.push_back(kAlphabet[(n >> 12) & 63]);
        out.push_back(two ? kAlphabet[(n >> 6) & 63] : '=');
        out.push_back('=');
    }
    out.push_back('"');
}

// es_append's events argument: an array of event objects (README, es_append). JSON payloads
// go in as their text, so they are stored byte for byte as the codec wrote them.
std::string events_json(const std::vector<detail::EventData>& events) {
    std::string out = "[";
    for (const detail::EventData& e : events) {
        if (out.size() > 1) out.push_back(',');
        out += "{\"type\":";
        detail::json_quote(e.type, out);
        out += ",\"codec\":";
        detail::json_quote(e.codec, out);
        out += ",\"schema_version\":" + std::to_string(e.schema_version) + ",\"data\":";
        if (e.codec == "json") {
            out += e.data;
        } else {
            base64(e.data, out);
        }
        if (e.id) {
            out += ",\"id\":";
            detail::json_quote(*e.id, out);
        }
        if (e.metadata) out += ",\"metadata\":" + *e.metadata;
        out.push_back('}');
    }
    out.push_back(']');
    return out;
}

[[noreturn]] void protocol_error(const std::string& what) {
    throw_error(Code::Sqlite, kSqliteError, "eskit: the cluster answered " + what);
}

AppendReply parse_last_append(const ec::Value& v) {
    if (!v.is_text()) protocol_error("no es_last_append()");
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(v.as_text()).get(doc)) protocol_error("es_last_append() that is not JSON");
    AppendReply r;
    auto get_int = [&](const char* k) {
        int64_t x = 0;
        if (doc[k].get(x)) protocol_error(std::string("es_last_append() without ") + k);
        return x;
    };
    r.first_seq = get_int("first_seq");
    r.count = get_int("count");
    r.first_version = get_int("first_version");
    r.last_version = get_int("last_version");
    r.created_at = get_int("created_at");
    bool replay = false;
    if (doc["replay"].get(replay)) protocol_error("es_last_append() without replay");
    r.replay = replay;
    simdjson::dom::array ids;
    if (doc["event_ids"].get(ids)) protocol_error("es_last_append() without event_ids");
    for (auto id : ids) r.event_ids.emplace_back(std::string_view(id.get_string().value_unsafe()));
    return r;
}

// Code from es_last_error()'s "code" name and SQLite code (invalid_argument with
// SQLITE_TOOBIG is TooBig), through the table the extension raises from.
Code code_named(std::string_view name, int64_t sqlite_code) {
    for (const CodeInfo& c : kCodeTable) {
        if (!c.prefix.empty() && c.prefix == name && c.sqlite_rc == (sqlite_code & 0xff))
            return c.code;
    }
    for (const CodeInfo& c : kCodeTable) {
        if (!c.prefix.empty() && c.prefix == name) return c.code;
    }
    return Code::Sqlite;
}

// Throws the structured error of es_last_error()'s JSON if it is the one `received` reports.
void raise_if_eskit(const ec::Value& last, const ec::Error& received, std::string_view sql) {
    if (!last.is_text()) return;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(last.as_text()).get(doc)) return;
    std::string_view message, code, stream;
    int64_t sqlite_code = kSqliteError;
    if (doc["message"].get(message) || doc["code"].get(code)) return;
    if (doc["sqlite_code"].get(sqlite_code)) sqlite_code = kSqliteError;
    // dqlite's garbled form: a small code (1, 2 seen) and the column text as message.
    const bool garbled =
        !received.message().empty() && sql.find(received.message()) != std::string_view::npos;
    if (message != received.message() && !garbled) return;  // an older call's error
    if (doc["stream_id"].get(stream)) stream = {};          // none for errors about no stream
    std::optional<int64_t> expected, actual;
    int64_t x = 0;
    if (!doc["expected"].get(x)) expected = x;
    if (!doc["actual"].get(x)) actual = x;
    throw_error(code_named(code, sqlite_code), static_cast<int>(sqlite_code), std::string(message),
                std::string(stream), expected, actual);
}

// A definite (not retriable) failure as the facade's exception: eskit's structured error when
// the failure is eskit's (ask runs SELECT es_last_error() on the same connection), else
// SQLite's code and message.
template <class Ask>
[[noreturn]] void raise(const ec::Error& e, std::string_view sql, Ask&& ask) {
    if (e.kind() == ec::Error::Kind::server) {
        try {
            ec::Result r = ask("SELECT es_last_error()");
            if (!r.rows.empty() && !r.rows[0].empty()) raise_if_eskit(r.rows[0][0], e, sql);
        } catch (const ec::Error&) {
            // the connection is gone: what dqlite said is all there is
        }
        throw_error(Code::Sqlite, e.code(), e.message());
    }
    throw_error(Code::Sqlite,
                e.kind() == ec::Error::Kind::unknown_outcome ? kSqliteIoErr : kSqliteError,
                "eskit: cluster: " + e.message());
}

// ---- the connection -----------------------------------------------------------------------

struct Settings {
    std::vector<std::string> addresses;
    ClusterOptions options;
};

ec::Options client_options(const ClusterOptions& o) {
    ec::Options c;
    c.database = o.database;
    c.connect_timeout = o.connect_timeout;
    c.request_timeout = o.request_timeout;
    c.leader_timeout = o.leader_timeout;
    c.real_errors = false;  // read here, with stream/expected/actual (raise)
    return c;
}

// The transaction's probe: the first append in it that wrote rows, found by its key.
struct Probe {
    std::string stream;
    std::string key;
};

class ClusterConnection final : public detail::Connection {
  public:
    ClusterConnection(const Settings& s, bool writer)
        : client_(s.addresses, client_options(s.options)),
          appender_(client_, ec::AppendPolicy{.deadline = s.options.append_deadline}),
          options_(s.options),
          writer_(writer) {}
    // Fails now, not at the first statement, when no leader answers.
    void connect();

    void exec(std::string_view sql) override;
    int64_t execute(std::string_view sql, std::span<const Param> params) override {
        return static_cast<int64_t>(run(sql, values_of(params), ec::Mode::automatic).rows_affected);
    }
    std::unique_ptr<detail::Rows> query(std::string_view sql,
                                        std::span<const Param> params) override {
        return std::make_unique<ClusterRows>(run(sql, values_of(params), ec::Mode::query));
    }
    AppendReply append(const AppendCall& call) override;
    // A lost transaction counts as open until it is rolled back, so that the facade's rollback
    // clears it and nothing after the loss runs outside the transaction it was meant for.
    bool autocommit() override { return !tx_ && !lost_; }
    // es_head() changes with every commit that appended, which is all the notifier watches
    // for; PRAGMA data_version means nothing across a dqlite leader's connections.
    int64_t data_version() override { return detail::query_int(*this, "SELECT es_head()"); }
    bool can_wait() const noexcept override { return false; }

    // es_init() in a transaction of its own (idempotent: safe to retry).
    void init() {
        appender_.transact(
            [](ec::Client::Transaction& tx) { return tx.query("SELECT es_init()"); });
    }

  private:
    ec::Result run(std::string_view sql, const std::vector<ec::Value>& params, ec::Mode mode);
    ec::Result run_in_tx(std::string_view sql, const std::vector<ec::Value>& params, ec::Mode mode);
    ec::Result run_alone(std::string_view sql, const std::vector<ec::Value>& params, ec::Mode mode);
    AppendReply append_in(ec::Client::Transaction& tx, const AppendCall& call,
                          const std::string& key, bool generated);
    void begin(bool immediate);
    void commit();
    bool committed(const Probe& p);
    [[noreturn]] void lose(const ec::Error& e);
    [[noreturn]] static void throw_lost() {
        throw NotCommitted(
            Code::Sqlite, kSqliteIoErr,
            "eskit: the cluster lost this transaction (leader change); nothing of it "
            "was committed: roll it back and run it again");
    }

    // fn() again after retriable failures (nothing was committed by it: reads, BEGIN), looking
    // for the leader again, until the leader timeout.
    template <class F>
    auto retrying(F&& fn) {
        const auto deadline = Clock::now() + options_.leader_timeout;
        for (auto pause = std::chrono::milliseconds(20);;
             pause = std::min(pause * 2, std::chrono::milliseconds(500))) {
            try {
                return fn();
            } catch (const ec::Error& e) {
                if (!e.retriable())
                    raise(e, {}, [&](std::string_view q) { return client_.query(q); });
                client_.reset();
                if (Clock::now() + pause > deadline)
                    raise(e, {}, [](std::string_view) { return ec::Result{}; });
                std::this_thread::sleep_for(pause);
            }
        }
    }

    ec::Client client_;
    ec::Appender appender_;
    ClusterOptions options_;
    bool writer_;
    std::optional<ec::Client::Transaction> tx_;
    bool lost_ = false;
    std::optional<Probe> probe_;
};

void ClusterConnection::connect() {
    retrying([&] { return client_.leader_connection(), 0; });
}

ec::Result ClusterConnection::run(std::string_view sql, const std::vector<ec::Value>& params,
                                  ec::Mode mode) {
    if (tx_ || lost_) return run_in_tx(sql, params, mode);
    if (writer_) return run_alone(sql, params, mode);
    return retrying([&] {
        try {
            return client_.run(sql, params, mode);
        } catch (const ec::Error& e) {
            if (e.retriable()) throw;
            raise(e, sql, [&](std::string_view q) { return client_.query(q); });
        }
    });
}

ec::Result ClusterConnection::run_in_tx(std::string_view sql, const std::vector<ec::Value>& params,
                                        ec::Mode mode) {
    if (lost_) throw_lost();
    try {
        return tx_->run(sql, params, mode);
    } catch (const ec::Error& e) {
        if (e.retriable()) lose(e);
        raise(e, sql, [&](std::string_view q) { return tx_->query(q); });
    }
}

// A connection or leader lost inside the transaction: it cannot commit any more.
void ClusterConnection::lose(const ec::Error& e) {
    tx_.reset();  // ROLLBACK if the connection still works (SQLITE_BUSY), else dropped with it
    client_.reset();
    probe_.reset();
    lost_ = true;
    throw NotCommitted(Code::Sqlite, kSqliteIoErr,
                       "eskit: the cluster lost the transaction before it committed (" +
                           e.message() + "); nothing of it was written: run it again");
}

// A write connection's statement outside a transaction: in BEGIN IMMEDIATE ... COMMIT of its
// own. Retried while nothing can have committed; a COMMIT whose answer was lost is reported
// (the statement is not known to be safe to repeat, unlike a keyed append).
ec::Result ClusterConnection::run_alone(std::string_view sql, const std::vector<ec::Value>& params,
                                        ec::Mode mode) {
    return retrying([&] {
        ec::Client::Transaction tx = client_.begin(true);
        ec::Result r;
        try {
            r = tx.run(sql, params, mode);
        } catch (const ec::Error& e) {
            if (e.retriable()) throw;  // nothing committed: retrying() runs it again
            raise(e, sql, [&](std::string_view q) { return tx.query(q); });
        }
        try {
            tx.commit();
        } catch (const ec::Error& e) {
            if (!e.retriable()) raise(e, "COMMIT", [](std::string_view) { return ec::Result{}; });
            throw_error(Code::Sqlite, kSqliteIoErr,
                        "eskit: the cluster connection was lost at COMMIT of `" + std::string(sql) +
                            "` (" + e.message() + "); it may or may not have been applied");
        }
        return r;
    });
}

void ClusterConnection::exec(std::string_view sql) {
    if (sql == "BEGIN" || sql == "BEGIN IMMEDIATE" || sql == "BEGIN DEFERRED") {
        begin(sql == "BEGIN IMMEDIATE");
    } else if (sql == "COMMIT") {
        commit();
    } else if (sql == "ROLLBACK") {
        lost_ = false;
        probe_.reset();
        tx_.reset();  // Client::Transaction rolls back (or drops a broken connection)
    } else {
        run(sql, {}, ec::Mode::exec);
    }
}

void ClusterConnection::begin(bool immediate) {
    if (tx_ || lost_)
        throw_error(Code::Sqlite, kSqliteError, "eskit: a transaction is already open");
    // Nothing is written yet: BEGIN may wait for an election.
    tx_.emplace(retrying([&] { return client_.begin(immediate); }));
    probe_.reset();
}

void ClusterConnection::commit() {
    if (lost_) throw_lost();
    if (!tx_)
        throw_error(Code::Sqlite, kSqliteError, "eskit: cannot commit - no transaction is active");
    ec::Client::Transaction tx = std::move(*tx_);
    tx_.reset();
    const std::optional<Probe> probe = std::move(probe_);
    probe_.reset();
    try {
        tx.commit();
        return;
    } catch (const ec::Error& e) {
        if (!e.retriable()) raise(e, "COMMIT", [](std::string_view) { return ec::Result{}; });
        if (!probe) {
            throw_error(Code::Sqlite, kSqliteIoErr,
                        "eskit: the cluster connection was lost at COMMIT (" + e.message() +
                            ") and the transaction appended nothing to settle it by: it may or "
                            "may not have committed");
        }
        if (committed(*probe)) return;
        throw NotCommitted(
            Code::Sqlite, kSqliteIoErr,
            "eskit: the transaction did not commit (the leader was lost at COMMIT: " + e.message() +
                "); nothing of it was written: run it again");
    }
}

// Whether the probe's append is stored: asked of the leader now, which has applied every
// entry the old one committed before it answers (dqlite's barrier); an entry that did not
// commit can no longer commit (see appender.cpp).
bool ClusterConnection::committed(const Probe& p) {
    return retrying([&] {
        ec::Result r = client_.query(
            "SELECT count(*) FROM es_events WHERE stream_id = ? AND idempotency_key = ?",
            {ec::Value(p.stream), ec::Value(p.key)});
        return !r.rows.empty() && r.rows[0].at(0).as_int() > 0;
    });
}

AppendReply ClusterConnection::append(const AppendCall& call) {
    const bool generated = !call.idempotency_key;
    const std::string key = generated ? ec::make_idempotency_key() : *call.idempotency_key;
    if (tx_ || lost_) {
        if (lost_) throw_lost();
        AppendReply r = append_in(*tx_, call, key, generated);
        if (!probe_ && !r.replay && r.count > 0) probe_ = Probe{std::string(call.stream), key};
        return r;
    }
    // Alone: the Appender's rule, with the reply read in each attempt's own transaction (the
    // last attempt's is the answer).
    AppendReply reply;
    try {
        appender_.transact([&](ec::Client::Transaction& tx) {
            reply = append_in(tx, call, key, generated);
            return ec::Result{};
        });
    } catch (const ec::Error& e) {
        raise(e, kAppendSql, [&](std::string_view q) { return client_.query(q); });
    }
    return reply;
}

// One es_append in tx; its reply, settled for a replay of our own generated key and with the
// merged metadata read back when the call had metadata of its own (as the local backend does).
AppendReply ClusterConnection::append_in(ec::Client::Transaction& tx, const AppendCall& call,
                                         const std::string& key, bool generated) {
    AppendCall keyed = call;
    keyed.idempotency_key = key;
    const std::vector<ec::Value> params{ec::Value(call.stream), ec::Value(call.expected),
                                        ec::Value(events_json(*call.events)),
                                        ec::Value(detail::append_options_json(keyed))};
    auto ask = [&](std::string_view q) { return tx.query(q); };
    auto run = [&](std::string_view sql, const std::vector<ec::Value>& p) {
        try {
            return tx.run(sql, p, ec::Mode::query);
        } catch (const ec::Error& e) {
            if (e.retriable()) throw;  // the caller's retry or loss rules
            raise(e, sql, ask);
        }
    };
    const ec::Result r = run(kAppendSql, params);
    if (r.rows.size() != 1 || r.rows[0].size() != 2) protocol_error("no row for es_append");
    AppendReply reply = parse_last_append(r.rows[0][1]);
    const std::vector<ec::Value> by_key{ec::Value(call.stream), ec::Value(key)};
    if (generated && reply.replay) {
        // Only an earlier attempt of this call knows the key: it committed. Its rows are this
        // call's answer, a fresh append as far as the caller is concerned.
        const ec::Result rows =
            run("SELECT seq, version, created_at, event_id FROM es_events "
                "WHERE stream_id = ?1 AND idempotency_key = ?2 ORDER BY version",
                by_key);
        if (rows.rows.empty()) protocol_error("a replay without the key's events");
        reply = AppendReply{rows.rows[0][0].as_int(),
                            static_cast<int64_t>(rows.rows.size()),
                            rows.rows[0][1].as_int(),
                            rows.rows.back()[1].as_int(),
                            rows.rows[0][2].as_int(),
                            false,
                            {},
                            {}};
        for (const ec::Row& row : rows.rows) reply.event_ids.push_back(row[3].as_text());
    }
    if (call.metadata && !reply.replay && reply.count > 0) {
        const ec::Result m =
            run("SELECT metadata FROM es_events WHERE stream_id = ?1 AND "
                "idempotency_key = ?2 ORDER BY version",
                by_key);
        for (const ec::Row& row : m.rows) {
            reply.metadata.push_back(row[0].is_text() ? std::optional<std::string>(row[0].as_text())
                                                      : std::nullopt);
        }
    }
    return reply;
}

class ClusterBackend final : public detail::Backend {
  public:
    explicit ClusterBackend(Settings s) : s_(std::move(s)) {}
    std::unique_ptr<detail::Connection> open_writer() override {
        auto c = std::make_unique<ClusterConnection>(s_, true);
        c->connect();
        try {
            c->init();
        } catch (const ec::Error& e) {
            raise(e, "SELECT es_init()", [](std::string_view) { return ec::Result{}; });
        }
        return c;
    }
    std::unique_ptr<detail::Connection> open_reader() override {
        if (s_.options.readers <= 0) return nullptr;
        auto c = std::make_unique<ClusterConnection>(s_, false);
        c->connect();
        return c;
    }

  private:
    Settings s_;
};

}  // namespace

Database connect_cluster(std::vector<std::string> addresses, const ClusterOptions& options) {
    if (addresses.empty())
        throw_error(Code::InvalidArgument, kSqliteError,
                    "eskit: connect_cluster needs node addresses");
    DatabaseOptions o;
    o.readers = options.readers;
    o.immediate = true;
    return Database::with_backend(
        std::make_unique<ClusterBackend>(Settings{std::move(addresses), options}), o);
}

}  // namespace eskit
