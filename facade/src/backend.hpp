// The one narrow seam between the facade and a database engine. Everything the facade does to a
// database goes through a Connection: SQL text with parameters, rows back, and es_append with
// its structured reply. The local backend (local_backend.cpp) drives an in-process SQLite
// connection with eskit registered; a cluster backend drives the same SQL surface over a
// network protocol. Store<E> and the rest of the facade never see which.
//
// A Connection is used by one thread at a time (the facade's locks see to that). Errors are
// thrown as eskit::Error subclasses built from the extension's structured error.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <eskit/database.hpp>
#include <eskit/error.hpp>

namespace eskit::detail {

// A result row set; values are valid until the next call to next().
class Rows {
  public:
    virtual ~Rows() = default;
    virtual bool next() = 0;
    virtual bool is_null(int col) const = 0;
    virtual int64_t integer(int col) const = 0;
    virtual double real(int col) const = 0;
    virtual std::string_view text(int col) const = 0;  // also the bytes of a BLOB
};

// One event of an es_append call, payload encoded.
struct EventData {
    std::string type;
    std::string data;   // JSON text for codec json, else the codec's bytes
    std::string codec;  // "json", "cbor", ...
    int64_t schema_version = 1;
    std::optional<std::string> id;
    std::optional<std::string> metadata;  // JSON object text
};

struct AppendCall {
    std::string_view stream;
    int64_t expected = -1;  // es_append's expected_version (-1 any, -2 exists, N exact)
    const std::vector<EventData>* events = nullptr;
    std::optional<std::string> idempotency_key;
    std::optional<int64_t> timestamp;  // µs
    std::optional<std::string> metadata;
};

struct AppendReply {
    int64_t first_seq = 0;
    int64_t count = 0;
    int64_t first_version = 0;
    int64_t last_version = 0;
    int64_t created_at = 0;
    bool replay = false;
    std::vector<std::string> event_ids;
    // Each event's stored metadata, filled only when the call had metadata of its own (merged
    // into each event's by the extension); otherwise each event's is what it was given.
    std::vector<std::optional<std::string>> metadata;
};

// A remote connection throws eskit::NotCommitted (<eskit/error.hpp>) when it knows for certain
// that the transaction it was running did not commit; the group commit then runs its batch again.

class Connection {
  public:
    virtual ~Connection() = default;
    // Runs SQL without parameters or rows (BEGIN, COMMIT, SAVEPOINT ...).
    virtual void exec(std::string_view sql) = 0;
    // Runs one statement to its end; returns the rows changed.
    virtual int64_t execute(std::string_view sql, std::span<const Param> params) = 0;
    virtual std::unique_ptr<Rows> query(std::string_view sql, std::span<const Param> params) = 0;
    virtual AppendReply append(const AppendCall& call) = 0;
    virtual bool autocommit() = 0;
    // The SQLite handle of a local connection (nullptr for remote ones).
    virtual sqlite3* native() noexcept { return nullptr; }
    // PRAGMA data_version, for the notifier's polling mode (a remote connection may answer
    // another counter that changes with every commit that appended, such as es_head()).
    virtual int64_t data_version() = 0;
    // Whether es_wait can block on this connection (it refuses on a replicated host, where
    // the notifier polls instead).
    virtual bool can_wait() const noexcept { return true; }
};

class Backend {
  public:
    virtual ~Backend() = default;
    virtual std::unique_ptr<Connection> open_writer() = 0;
    // A connection for reads only; nullptr when reads must share the writer (":memory:").
    virtual std::unique_ptr<Connection> open_reader() = 0;
};

std::unique_ptr<Backend> local_backend(std::string path, const DatabaseOptions& options);
std::unique_ptr<Backend> adopted_backend(sqlite3* db, const DatabaseOptions& options);

// The first column of the first row as an integer (0 when there is no row).
int64_t query_int(Connection& c, std::string_view sql, std::span<const Param> params = {});

}  // namespace eskit::detail
