// The shared state behind eskit::Database: the backend's connections and who may use them.
//
// WRITES. One write connection. A thread that begins a Transaction owns it until the
// transaction ends (other threads' writes wait); a thread that appends outside a transaction
// joins the group commit: the first waiting thread becomes the leader, takes every append
// queued by then, and runs them in one BEGIN IMMEDIATE ... COMMIT, each in its own savepoint so
// that a failing one (a conflict) fails only its caller; every caller is answered after the
// commit. A failure of the whole transaction (I/O, full disk) fails the whole batch with the
// real error.
//
// READS. Outside a transaction, reads use a pooled read connection (files), or the write
// connection when there is no pool (":memory:", an adopted connection); inside the thread's
// transaction they use the write connection, so they see its own writes.
//
// COMMITS. Listeners (the notifier) hear the head after every commit that appended: after each
// group commit, and for appends inside a Transaction only when it commits (an append in a
// savepoint that was rolled back is not told). They are called with no lock held and outside
// the leader's role, so a listener may append (it then leads or joins a group of its own).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "backend.hpp"

namespace eskit::detail {

class DatabaseImpl {
  public:
    DatabaseImpl(std::unique_ptr<Backend> backend, const DatabaseOptions& options);
    ~DatabaseImpl();

    const DatabaseOptions& options() const noexcept { return options_; }

    // Runs fn(Connection&) on the write connection: in the calling thread's transaction when
    // it has one, else holding the writer for the call.
    template <class F>
    decltype(auto) with_writer(F&& fn) {
        WriterLease lease(*this);
        return fn(*writer_);
    }
    // Runs fn(Connection&) on a connection that may read (see READS above).
    template <class F>
    decltype(auto) with_reader(F&& fn) {
        if (in_transaction() || !pooled_reads_) return with_writer(fn);
        ReaderLease lease(*this);
        return fn(*lease.conn);
    }

    // with_reader(fn), unless that would wait for another thread's hold on the write
    // connection (no read pool): then false, fn not run. For hints that must keep a timeout.
    template <class F>
    bool try_with_reader(F&& fn) {
        if (pooled_reads_ || in_transaction()) {
            with_reader(fn);
            return true;
        }
        if (!try_acquire_writer()) return false;
        struct Release {
            DatabaseImpl& d;
            ~Release() { d.release_writer(); }
        } release{*this};
        fn(*writer_);
        return true;
    }

    AppendReply append(const AppendCall& call);

    // Transactions of the calling thread.
    bool in_transaction() const;
    int begin();  // returns the depth (0: BEGIN, > 0: SAVEPOINT)
    void commit(int depth);
    void rollback(int depth) noexcept;

    using Listener = std::function<void(int64_t head)>;
    uint64_t listen(Listener l);
    void unlisten(uint64_t id);

    Backend& backend() { return *backend_; }
    sqlite3* native() { return writer_->native(); }

  private:
    struct WriterLease {
        explicit WriterLease(DatabaseImpl& d);
        ~WriterLease();
        DatabaseImpl& d;
        bool took;
    };
    struct ReaderLease {
        explicit ReaderLease(DatabaseImpl& d);
        ~ReaderLease();
        DatabaseImpl& d;
        std::unique_ptr<Connection> conn;
    };
    struct Pending;

    void acquire_writer();
    bool try_acquire_writer();  // acquire_writer() unless another thread holds it
    void release_writer();
    // The highest seq its batches committed (0: none); called and returns with lk held.
    int64_t lead_group(std::unique_lock<std::mutex>& lk, const Pending& mine);
    int64_t run_batch(std::vector<Pending*>& batch);
    int64_t run_batch_once(std::vector<Pending*>& batch);
    void notify(int64_t head);

    DatabaseOptions options_;
    std::unique_ptr<Backend> backend_;
    std::unique_ptr<Connection> writer_;
    bool pooled_reads_ = false;

    std::mutex m_;
    std::condition_variable cv_;
    std::thread::id owner_{};         // the thread holding the writer
    int holds_ = 0;                   // its nested leases
    int depth_ = -1;                  // the owner's transaction depth (-1: none)
    int64_t txn_last_seq_ = 0;        // appended inside the owner's transaction, told at commit
    std::vector<int64_t> txn_saved_;  // txn_last_seq_ as each open savepoint began

    std::deque<Pending*> queue_;
    bool leading_ = false;

    std::mutex readers_m_;
    std::condition_variable readers_cv_;
    std::vector<std::unique_ptr<Connection>> free_readers_;
    int readers_open_ = 0;

    std::mutex listeners_m_;
    std::vector<std::pair<uint64_t, Listener>> listeners_;
    uint64_t next_listener_ = 1;
};

}  // namespace eskit::detail
