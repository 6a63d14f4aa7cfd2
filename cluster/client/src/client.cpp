/*
** Client: leader discovery, the leader connection, the generic statement seam, transactions,
** membership; and Error.
**
** Leader discovery. Each seed (the last known leader first) is asked LEADER. A node that names
** itself is the leader; a node that names another is followed once, and that node must name
** itself too (a follower can name a leader that just died). No answer in a round: wait 50 ms
** and ask again, until Options::leader_timeout. The leader connection then sends CLIENT and
** OPEN. When a request breaks the connection, it is dropped and the next call looks again.
**
** Real errors. dqlite answers a failed QUERY with a garbled error (code 1, a column name as
** message); an eskit host records the real one, and the next statement on the same connection
** can read it with es_last_error(). run() does that after every failed query.
*/
#include <cctype>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "eskit/cluster/client.hpp"
#include "json.hpp"

namespace eskit::cluster {

using Clock = std::chrono::steady_clock;

namespace {

constexpr int kSqliteBusy = 5;
constexpr int kSqliteLocked = 6;
constexpr int kIoErr = 10;
constexpr int kIoErrNotLeader = kIoErr | (40 << 8);
constexpr int kIoErrLeadershipLost = kIoErr | (41 << 8);
constexpr int kIoErrNotLeaderLegacy = kIoErr | (32 << 8);
constexpr int kIoErrLeadershipLostLegacy = kIoErr | (33 << 8);

std::uint64_t random_u64() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return rng();
}

// The first keyword of sql, upper-cased, after whitespace and comments.
std::string first_keyword(std::string_view sql) {
    size_t i = 0;
    for (;;) {
        while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
        if (sql.substr(i, 2) == "--") {
            while (i < sql.size() && sql[i] != '\n') ++i;
        } else if (sql.substr(i, 2) == "/*") {
            const size_t end = sql.find("*/", i + 2);
            i = end == std::string_view::npos ? sql.size() : end + 2;
        } else {
            break;
        }
    }
    std::string k;
    while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i]))) {
        k += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++])));
    }
    return k;
}

bool yields_rows(std::string_view sql) {
    const std::string k = first_keyword(sql);
    return k == "SELECT" || k == "VALUES" || k == "WITH" || k == "PRAGMA" || k == "EXPLAIN";
}

// A failed query's real error, read with es_last_error() on the same connection; the original
// when the node has no such function or none was recorded.
Error real_error(Connection& c, const Error& original) {
    try {
        Result r = c.query_sql("SELECT es_last_error()");
        if (r.rows.size() == 1 && r.rows[0].size() == 1 && r.rows[0][0].is_text()) {
            const std::string& j = r.rows[0][0].as_text();
            auto message = json::string_field(j, "message");
            auto code = json::int_field(j, "sqlite_code");
            if (message && code) {
                return Error(Error::Kind::server, static_cast<int>(*code), *message, true);
            }
        }
    } catch (const Error&) {
        // No es_last_error() here, or the connection broke: keep what dqlite said.
    }
    return original;
}

}  // namespace

Error::Error(Kind kind, int code, std::string message, bool from_last_error)
    : std::runtime_error(message),
      kind_(kind),
      code_(code),
      message_(std::move(message)),
      from_last_error_(from_last_error) {}

std::string Error::eskit_code() const {
    static const char* const kCodes[] = {"conflict",   "duplicate_event", "archived",
                                         "tombstoned", "not_found",       "invalid_argument"};
    for (const char* c : kCodes) {
        const size_t n = std::strlen(c);
        if (message_.size() > n && message_.compare(0, n, c) == 0 && message_[n] == ':') return c;
    }
    return {};
}

bool Error::leadership() const {
    return kind_ == Kind::server &&
           (code_ == kIoErrNotLeader || code_ == kIoErrLeadershipLost ||
            code_ == kIoErrNotLeaderLegacy || code_ == kIoErrLeadershipLostLegacy);
}

bool Error::retriable() const {
    switch (kind_) {
        case Kind::connection:
        case Kind::timeout:
        case Kind::no_leader: return true;
        case Kind::server:
            return leadership() || (code_ & 0xff) == kSqliteBusy || (code_ & 0xff) == kSqliteLocked;
        default: return false;
    }
}

Connection connect_leader(const std::vector<std::string>& seeds, const Options& options,
                          const std::string& hint) {
    std::vector<std::string> order;
    if (!hint.empty()) order.push_back(hint);
    for (const std::string& s : seeds) {
        if (s != hint) order.push_back(s);
    }
    const std::uint64_t client_id = options.client_id ? options.client_id : random_u64();
    const auto deadline = Clock::now() + options.leader_timeout;
    std::string last = "no seeds";
    for (;;) {
        for (const std::string& address : order) {
            try {
                Connection c = Connection::dial(address, options);
                std::optional<NodeInfo> l = c.leader();
                if (!l) {
                    last = address + " knows no leader";
                    continue;
                }
                if (l->address == address) {
                    c.register_client(client_id);
                    return c;
                }
                Connection d = Connection::dial(l->address, options);
                std::optional<NodeInfo> l2 = d.leader();
                if (l2 && l2->address == l->address) {
                    d.register_client(client_id);
                    return d;
                }
                last = address + " named " + l->address + ", which is not the leader";
            } catch (const Error& e) {
                last = e.message();
            }
        }
        if (Clock::now() >= deadline) {
            throw Error(Error::Kind::no_leader, 0, "no leader found (last: " + last + ")");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

Client::Client(std::vector<std::string> seeds, Options options)
    : seeds_(std::move(seeds)), options_(std::move(options)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

Connection& Client::leader_connection() {
    if (conn_ && conn_->usable()) return *conn_;
    conn_.reset();
    Connection c = connect_leader(seeds_, options_, leader_address_);
    c.open(options_.database);
    leader_address_ = c.address();
    conn_.emplace(std::move(c));
    ++connects_;
    return *conn_;
}

void Client::reset() { conn_.reset(); }

Result Client::run_on(Connection& c, std::string_view sql, Params params, Mode mode) {
    const bool rows = mode == Mode::query || (mode == Mode::automatic && yields_rows(sql));
    try {
        return rows ? c.query_sql(sql, params) : c.exec_sql(sql, params);
    } catch (const Error& e) {
        if (!c.usable()) {
            reset();
            throw;
        }
        if (rows && e.kind() == Error::Kind::server && options_.real_errors && !e.leadership()) {
            Error real = real_error(c, e);
            if (!c.usable()) reset();
            throw real;
        }
        throw;
    }
}

Result Client::run(std::string_view sql, Params params, Mode mode) {
    return run_on(leader_connection(), sql, params, mode);
}

Result Client::query(std::string_view sql, std::initializer_list<Value> params) {
    return run(sql, Params(params.begin(), params.size()), Mode::query);
}

Result Client::exec(std::string_view sql, std::initializer_list<Value> params) {
    return run(sql, Params(params.begin(), params.size()), Mode::exec);
}

Client::Transaction Client::begin(bool immediate) {
    run(immediate ? "BEGIN IMMEDIATE" : "BEGIN", {}, Mode::exec);
    return Transaction(*this);
}

Client::Transaction::Transaction(Client& c) : client_(&c), connects_(c.connects_) {}

Client::Transaction::Transaction(Transaction&& o) noexcept
    : client_(o.client_), open_(o.open_), connects_(o.connects_) {
    o.open_ = false;
}

Client::Transaction::~Transaction() { rollback(); }

Connection& Client::Transaction::connection() {
    if (!open_) throw Error(Error::Kind::connection, 0, "the transaction is over");
    // Never run a statement of this transaction on another connection: that one would be
    // outside the transaction.
    if (!client_->conn_ || !client_->conn_->usable() || client_->connects_ != connects_) {
        open_ = false;
        throw Error(Error::Kind::connection, 0, "the transaction's connection was lost");
    }
    return *client_->conn_;
}

Result Client::Transaction::run(std::string_view sql, Params params, Mode mode) {
    return client_->run_on(connection(), sql, params, mode);
}

Result Client::Transaction::query(std::string_view sql, std::initializer_list<Value> params) {
    return run(sql, Params(params.begin(), params.size()), Mode::query);
}

Result Client::Transaction::exec(std::string_view sql, std::initializer_list<Value> params) {
    return run(sql, Params(params.begin(), params.size()), Mode::exec);
}

void Client::Transaction::commit() {
    Connection& c = connection();
    open_ = false;
    try {
        client_->run_on(c, "COMMIT", {}, Mode::exec);
    } catch (const Error&) {
        // A failed COMMIT may leave the transaction open on the node (SQLITE_BUSY) or its
        // outcome unknown: drop the connection, which ends the transaction either way.
        client_->reset();
        throw;
    }
}

void Client::Transaction::rollback() {
    if (!open_) return;
    open_ = false;
    if (!client_->conn_ || !client_->conn_->usable() || client_->connects_ != connects_) return;
    try {
        client_->conn_->exec_sql("ROLLBACK");
    } catch (const Error&) {
        client_->reset();  // the node drops the transaction with the connection
    }
}

std::vector<NodeInfo> Client::nodes() { return leader_connection().cluster(); }

std::optional<NodeInfo> Client::leader() { return leader_connection().leader(); }

void Client::add(const NodeInfo& node) {
    Connection& c = leader_connection();
    c.add(node.id, node.address);
    if (node.role != Role::spare) c.assign(node.id, node.role);
}

void Client::assign(std::uint64_t id, Role role) { leader_connection().assign(id, role); }

void Client::remove(std::uint64_t id) { leader_connection().remove(id); }

void Client::transfer(std::uint64_t id) {
    leader_connection().transfer(id);
    reset();  // the old leader's connection can no longer write
}

}  // namespace eskit::cluster
