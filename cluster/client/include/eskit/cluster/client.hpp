/*
** eskit::cluster — a C++20 client of dqlite's wire protocol, and the exactly-once append rule
** for eskit stores replicated by dqlite (issue 13).
**
** Three layers, each usable alone:
**
**   Connection  one socket to one node: the protocol itself (HANDSHAKE, LEADER, CLIENT, OPEN,
**               PREPARE/EXEC/QUERY/FINALIZE, EXEC_SQL/QUERY_SQL, INTERRUPT, ADD/ASSIGN/REMOVE,
**               TRANSFER, CLUSTER). No cluster logic.
**   Client      a cluster: finds the leader from seed addresses (following redirections),
**               keeps one connection to it with the database open, reconnects when it goes
**               away. run()/query()/exec() are the generic "run this SQL with these params,
**               give me rows" seam; begin() gives a transaction on one connection (BEGIN,
**               COMMIT and ROLLBACK are sent as SQL). After a failed query it asks the node
**               for es_last_error() so that callers see eskit's real code and message (dqlite
**               garbles errors on the QUERY path).
**   Appender    eskit appends that are stored exactly once: each carries an idempotency key
**               and is retried — on the new leader after a failover — until a definite answer.
**
** Not thread-safe: use one Client (and one Appender) per thread. Every request has a timeout.
**
**   eskit::cluster::Client client({"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"});
**   eskit::cluster::Appender appender(client);
**   auto r = appender.append({.stream = "order-1", .expected = 0,
**                             .events = R"({"type":"OrderPlaced","data":{}})"});
**   // r.version == 1, stored exactly once even if the leader died during the commit
**   auto rows = client.query("SELECT version, type FROM es_stream(?)", {Value("order-1")});
*/
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace eskit::cluster {

using Blob = std::vector<std::uint8_t>;

// One SQL value as the wire carries it: NULL, INTEGER, REAL, TEXT or BLOB. Row values of
// dqlite's extra types arrive as the nearest: UNIXTIME and BOOLEAN as integers, ISO8601 as text.
class Value {
  public:
    using Storage = std::variant<std::nullptr_t, std::int64_t, double, std::string, Blob>;
    Value() : v_(nullptr) {}
    Value(std::nullptr_t) : v_(nullptr) {}
    Value(std::int64_t i) : v_(i) {}
    Value(int i) : v_(static_cast<std::int64_t>(i)) {}
    Value(double d) : v_(d) {}
    Value(std::string s) : v_(std::move(s)) {}
    Value(std::string_view s) : v_(std::string(s)) {}
    Value(const char* s) : v_(std::string(s)) {}
    Value(Blob b) : v_(std::move(b)) {}

    bool is_null() const { return std::holds_alternative<std::nullptr_t>(v_); }
    bool is_int() const { return std::holds_alternative<std::int64_t>(v_); }
    bool is_real() const { return std::holds_alternative<double>(v_); }
    bool is_text() const { return std::holds_alternative<std::string>(v_); }
    bool is_blob() const { return std::holds_alternative<Blob>(v_); }
    // Typed access; throws std::bad_variant_access on another type.
    std::int64_t as_int() const { return std::get<std::int64_t>(v_); }
    double as_real() const { return std::get<double>(v_); }
    const std::string& as_text() const { return std::get<std::string>(v_); }
    const Blob& as_blob() const { return std::get<Blob>(v_); }
    const Storage& storage() const { return v_; }
    bool operator==(const Value&) const = default;

  private:
    Storage v_;
};

using Row = std::vector<Value>;
using Params = std::span<const Value>;

// The rows a query yielded, and the counters of a statement that yields none.
struct Result {
    std::vector<std::string> columns;
    std::vector<Row> rows;
    std::uint64_t last_insert_id = 0;
    std::uint64_t rows_affected = 0;
};

enum class Role : std::uint64_t { voter = 0, standby = 1, spare = 2 };

struct NodeInfo {
    std::uint64_t id = 0;
    std::string address;
    Role role = Role::voter;
    bool operator==(const NodeInfo&) const = default;
};

// Every failure of this library.
class Error : public std::runtime_error {
  public:
    enum class Kind {
        server,           // the node answered FAILURE: code() is its (SQLite extended) code
        connection,       // could not connect, or the connection broke
        timeout,          // no answer within the request timeout
        no_leader,        // no node named a leader within Options::leader_timeout
        protocol,         // the node sent something this client does not understand
        unknown_outcome,  // Appender: no definite answer within its deadline (see Appender)
    };
    Error(Kind kind, int code, std::string message, bool from_last_error = false);

    Kind kind() const { return kind_; }
    int code() const { return code_; }
    const std::string& message() const { return message_; }
    // The eskit error code the message starts with ("conflict", "duplicate_event", "archived",
    // "tombstoned", "not_found", "invalid_argument"), or empty.
    std::string eskit_code() const;
    // True when code and message were read back with es_last_error() after a garbled failure.
    bool from_last_error() const { return from_last_error_; }
    // Worth retrying on a new connection (broken connection, timeout, no leader, the node is
    // not or no longer the leader, SQLITE_BUSY/LOCKED). Nothing else is.
    bool retriable() const;
    // The node stopped being (or never was) the leader.
    bool leadership() const;

  private:
    Kind kind_;
    int code_;
    std::string message_;
    bool from_last_error_;
};

struct Options {
    std::string database = "eskit";  // name given to OPEN
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds request_timeout{5000};
    // How long Client looks for a leader (rounds over the seeds) before Error::no_leader.
    std::chrono::milliseconds leader_timeout{10000};
    // After a failed query, ask the same connection for es_last_error() and report eskit's
    // real code and message.
    bool real_errors = true;
    std::uint64_t client_id = 0;  // sent with CLIENT; 0: random
};

// A statement prepared on one connection.
struct Statement {
    std::uint32_t db = 0;
    std::uint32_t id = 0;
    std::uint64_t params = 0;
};

// One socket to one node.
class Connection {
  public:
    // Connects and sends the protocol version (1). Address: "host:port" (TCP) or "@name"
    // (abstract Unix socket).
    static Connection dial(const std::string& address, const Options& options = {});
    Connection(Connection&&) noexcept;
    Connection& operator=(Connection&&) noexcept;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection();

    const std::string& address() const { return address_; }
    // False once a request failed below the protocol (I/O, timeout, garbage): drop it.
    bool usable() const { return fd_ >= 0; }

    // LEADER: the leader this node knows of, nullopt if none.
    std::optional<NodeInfo> leader();
    // CLIENT: registers as a client; returns the heartbeat timeout of WELCOME.
    std::uint64_t register_client(std::uint64_t id);
    // OPEN: opens the database (by name) for this connection; later calls use it.
    std::uint32_t open(std::string_view name);
    std::uint32_t db() const { return db_; }

    Statement prepare(std::string_view sql);
    Result exec(const Statement& s, Params params = {});
    Result query(const Statement& s, Params params = {});
    void finalize(const Statement& s);
    // EXEC_SQL runs every statement of sql; QUERY_SQL one statement yielding rows.
    Result exec_sql(std::string_view sql, Params params = {});
    Result query_sql(std::string_view sql, Params params = {});
    void interrupt();

    // Membership (send to the leader): ADD a node as spare, ASSIGN it a role, REMOVE it.
    void add(std::uint64_t id, std::string_view address);
    void assign(std::uint64_t id, Role role);
    void remove(std::uint64_t id);
    // TRANSFER leadership to node id (0: let the leader choose).
    void transfer(std::uint64_t id);
    // CLUSTER: every node with its role.
    std::vector<NodeInfo> cluster();

  private:
    Connection(int fd, std::string address, std::chrono::milliseconds timeout);
    struct Message;
    Message request(const std::vector<std::uint8_t>& bytes, std::uint8_t expected_type);
    Message receive(std::uint8_t expected_type);
    Result rows_request(const std::vector<std::uint8_t>& bytes);
    void send_all(const std::uint8_t* p, std::size_t n);
    void recv_all(std::uint8_t* p, std::size_t n);
    [[noreturn]] void fail(Error::Kind kind, const std::string& what);

    int fd_ = -1;
    std::string address_;
    std::chrono::milliseconds timeout_;
    std::uint32_t db_ = 0;
    bool has_db_ = false;
};

// How a statement is sent: QUERY (yields rows) or EXEC (counters only). Under dqlite a
// statement that writes must be sent with EXEC unless it runs inside BEGIN ... COMMIT, where
// QUERY is safe too (the COMMIT, an EXEC, replicates the transaction's pages).
enum class Mode {
    automatic,  // QUERY for SELECT/VALUES/WITH/PRAGMA/EXPLAIN, EXEC for everything else
    query,
    exec,
};

// A cluster reached through any of its nodes.
class Client {
  public:
    explicit Client(std::vector<std::string> seeds, Options options = {});
    Client(std::initializer_list<std::string> seeds, Options options = {})
        : Client(std::vector<std::string>(seeds), std::move(options)) {}
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;
    ~Client();

    // The generic seam: one statement with parameters on the leader.
    Result run(std::string_view sql, Params params = {}, Mode mode = Mode::automatic);
    Result query(std::string_view sql, std::initializer_list<Value> params = {});
    Result exec(std::string_view sql, std::initializer_list<Value> params = {});

    // A transaction on one leader connection. Destroying it without commit() rolls back.
    class Transaction {
      public:
        Transaction(Transaction&&) noexcept;
        Transaction& operator=(Transaction&&) = delete;
        ~Transaction();
        Result run(std::string_view sql, Params params = {}, Mode mode = Mode::automatic);
        Result query(std::string_view sql, std::initializer_list<Value> params = {});
        Result exec(std::string_view sql, std::initializer_list<Value> params = {});
        // COMMIT. When it throws, whether the transaction committed is unknown unless the
        // error is not retriable() (see Appender for settling that).
        void commit();
        void rollback();  // never throws; drops the connection if ROLLBACK fails

      private:
        friend class Client;
        explicit Transaction(Client& c);
        Connection& connection();
        Client* client_;
        bool open_ = true;
        std::uint64_t connects_ = 0;  // the client's connection this transaction runs on
    };
    // BEGIN (deferred) or BEGIN IMMEDIATE (takes the write lock first: a concurrent writer
    // then gets SQLITE_BUSY from this EXEC, with its real code, instead of from a later query,
    // where dqlite would garble it).
    Transaction begin(bool immediate = false);

    // The connection to the current leader (found or re-found as needed). Throws
    // Error::no_leader after Options::leader_timeout.
    Connection& leader_connection();
    // Forgets the current connection (the next call looks for the leader again).
    void reset();
    const std::string& leader_address() const { return leader_address_; }

    // Membership and leadership, sent to the leader.
    std::vector<NodeInfo> nodes();
    std::optional<NodeInfo> leader();
    void add(const NodeInfo& node);  // ADD, then ASSIGN the role unless spare
    void assign(std::uint64_t id, Role role);
    void remove(std::uint64_t id);
    void transfer(std::uint64_t id);

    const Options& options() const { return options_; }
    const std::vector<std::string>& seeds() const { return seeds_; }
    // Leader connections opened so far (1 + the number of reconnections).
    std::uint64_t connects() const { return connects_; }

  private:
    Result run_on(Connection& c, std::string_view sql, Params params, Mode mode);
    std::vector<std::string> seeds_;
    Options options_;
    std::optional<Connection> conn_;
    std::string leader_address_;
    std::uint64_t connects_ = 0;
};

// Finds the leader through seeds and returns a connection to it (CLIENT sent, database not
// yet open). Throws Error::no_leader after options.leader_timeout.
Connection connect_leader(const std::vector<std::string>& seeds, const Options& options,
                          const std::string& hint = {});

// One eskit append: es_append(stream, expected, events, options).
struct AppendRequest {
    std::string stream;
    std::optional<std::int64_t> expected;   // nullopt: any version (-1)
    std::string events;                     // JSON: one event object or an array of them
    std::string idempotency_key;            // empty: the Appender makes one
    std::optional<std::int64_t> timestamp;  // created_at of the events (µs), default now
    std::string metadata;                   // JSON object merged into each event, or empty
};

struct AppendResult {
    std::int64_t version = 0;     // the stream's version after the append
    std::string idempotency_key;  // the key the append carried
    int attempts = 0;             // transactions tried
    // An earlier attempt reached COMMIT without a definite answer; this answer settled it
    // (version is then what the first committed attempt reached, read back through the key).
    bool settled_ambiguity = false;
};

// One answer of append_batch(): a version, or a definite eskit error (conflict, ...).
struct BatchItem {
    std::optional<std::int64_t> version;
    std::optional<Error> error;
    std::string idempotency_key;
};

struct AppendPolicy {
    // How long to keep retrying for a definite answer before Error::unknown_outcome.
    std::chrono::milliseconds deadline{60000};
    std::chrono::milliseconds backoff_min{20};
    std::chrono::milliseconds backoff_max{500};
};

// The exactly-once append rule over a Client. Every append carries an idempotency key and
// runs as BEGIN IMMEDIATE; SELECT es_append(...); COMMIT on the leader. On anything but a definite
// answer — a broken connection, a timeout, a node that is no longer the leader, SQLITE_BUSY —
// it reconnects (to the new leader) and runs the same append with the same key again. If an
// earlier attempt did commit, es_append finds the key and returns the version that attempt
// reached instead of appending again, so an acknowledged append is stored exactly once and an
// append that failed definitely (conflict, ...) is stored not at all. Error::unknown_outcome
// after the deadline: the append may or may not be stored; appending again with the same key
// settles it.
class Appender {
  public:
    explicit Appender(Client& client, AppendPolicy policy = {});
    AppendResult append(AppendRequest request);
    // Many appends in one transaction (group commit): each es_append in its own savepoint, so a
    // conflict fails that item only. The whole batch is retried as one, with the same keys.
    std::vector<BatchItem> append_batch(std::vector<AppendRequest> requests);
    // The same rule for any body: body(tx) runs inside BEGIN IMMEDIATE on the leader, then
    // COMMIT; on anything but a definite answer the whole is run again (on the new leader).
    // body must be safe to repeat after a commit that did go through: every write it makes
    // must carry an idempotency key (es_append), so that the repeat writes nothing. *info (if
    // given) gets attempts and settled_ambiguity. The facade's cluster backend uses it to read
    // es_last_append() in the append's own transaction.
    Result transact(const std::function<Result(Client::Transaction&)>& body,
                    AppendResult* info = nullptr);

    // Counters over the appender's life.
    std::uint64_t retries() const { return retries_; }
    std::uint64_t ambiguous_commits() const { return ambiguous_; }

  private:
    Client& client_;
    AppendPolicy policy_;
    std::uint64_t retries_ = 0;
    std::uint64_t ambiguous_ = 0;
};

// A random idempotency key ("ek-" + 32 hex digits).
std::string make_idempotency_key();
// The options argument of es_append for a request (key included), as JSON text.
std::string append_options_json(const AppendRequest& r);

}  // namespace eskit::cluster
