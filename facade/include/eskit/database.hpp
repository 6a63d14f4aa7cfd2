// eskit::Database and eskit::Transaction: an RAII connection set with the eskit extension
// registered in-process (no .so path), and transactions that join everything the thread does.
//
//     auto db = eskit::Database::open("events.db");       // WAL, busy timeout, BEGIN IMMEDIATE
//     {
//         eskit::Transaction tx = db.begin();              // rollback unless committed
//         store.append("order-17", eskit::NoStream{}, {placed});   // joins tx (same thread)
//         db.execute("INSERT INTO totals VALUES (?1, ?2)", {"order-17", 25});
//         tx.commit();
//     }
//
// A Database is move-only and safe to share between threads: writes (appends, transactions,
// execute) go through its one write connection, reads through a small pool of read connections
// (WAL readers do not block each other). A Transaction belongs to the thread that began it:
// while it is open, that thread's store calls and execute()/query() run inside it, other
// threads' writes wait for it, and beginning another on the same thread makes a savepoint.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

struct sqlite3;

namespace eskit {

namespace detail {
class Backend;
class DatabaseImpl;
class Rows;
}  // namespace detail

struct DatabaseOptions {
    bool wal = true;                                // PRAGMA journal_mode=WAL (files)
    std::chrono::milliseconds busy_timeout{10000};  // sqlite3_busy_timeout, every connection
    bool immediate = true;                          // Transactions start BEGIN IMMEDIATE
    std::string synchronous = "NORMAL";             // PRAGMA synchronous (FULL: durable
                                                    // on return even after power loss)
    int readers = 4;                                // read connections (files only)
    bool create = true;                             // create the file if missing
};

// A byte string parameter (bound as a BLOB).
struct Blob {
    std::string_view bytes;
};

// A parameter of execute()/query(): ?1, ?2, ... in order.
using Param = std::variant<std::nullptr_t, int64_t, double, std::string_view, Blob>;

// One row of query(): columns by index, valid during the callback.
class Row {
  public:
    explicit Row(const detail::Rows& rows) : rows_(rows) {}
    bool is_null(int col) const;
    int64_t integer(int col) const;
    double real(int col) const;
    std::string_view text(int col) const;

  private:
    const detail::Rows& rows_;
};

class Transaction;

class Database {
  public:
    // Opens (creating unless options.create is false) a database file, or ":memory:".
    static Database open(const std::string& path, const DatabaseOptions& options = {});
    static Database memory(const DatabaseOptions& options = {}) {
        return open(":memory:", options);
    }
    // Uses a connection the application owns and keeps open; it must outlive the Database.
    // eskit is registered on it; reads share it (no read pool).
    static Database adopt(sqlite3* db, const DatabaseOptions& options = {});
    // A database over a backend built outside libeskit (the cluster backend, <eskit/cluster.hpp>,
    // which lives in its own library so that libeskit needs no network client).
    static Database with_backend(std::unique_ptr<detail::Backend> backend,
                                 const DatabaseOptions& options = {});

    Database(Database&&) noexcept;
    Database& operator=(Database&&) noexcept;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    ~Database();

    // A transaction of the calling thread (a savepoint when one is open already).
    Transaction begin();

    // The application's own SQL (read models, say), in the thread's transaction if it has one.
    int64_t execute(std::string_view sql, std::initializer_list<Param> params = {});
    void query(std::string_view sql, std::initializer_list<Param> params,
               const std::function<void(const Row&)>& row);

    // es_head(): the highest seq ever assigned.
    int64_t head();
    // The write connection's SQLite handle (for the application's own statements; do not use it
    // from another thread while the Database works). nullptr for a cluster.
    sqlite3* handle();

    const std::shared_ptr<detail::DatabaseImpl>& impl() const noexcept { return impl_; }

  private:
    explicit Database(std::shared_ptr<detail::DatabaseImpl> impl);
    std::shared_ptr<detail::DatabaseImpl> impl_;
};

class Transaction {
  public:
    Transaction(Transaction&& other) noexcept;
    Transaction& operator=(Transaction&&) = delete;
    Transaction(const Transaction&) = delete;
    ~Transaction();  // rolls back unless committed (noexcept)

    void commit();
    void rollback();
    bool active() const noexcept { return impl_ != nullptr && !done_; }

    // Database::begin() for code that holds the database's shared state (stores, subscriptions).
    static Transaction begin(const std::shared_ptr<detail::DatabaseImpl>& db);

  private:
    friend class Database;
    Transaction(std::shared_ptr<detail::DatabaseImpl> impl, int depth);
    std::shared_ptr<detail::DatabaseImpl> impl_;
    int depth_ = 0;  // 0: the transaction, > 0: a savepoint inside it
    bool done_ = false;
};

}  // namespace eskit
