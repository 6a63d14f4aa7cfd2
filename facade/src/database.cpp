#include <eskit/database.hpp>
#include <eskit/error.hpp>

#include <algorithm>
#include <exception>

#include "database_impl.hpp"

namespace eskit {

namespace detail {

// One append waiting for the group commit; woken alone (its own condition) when answered or
// when it is its turn to lead.
struct DatabaseImpl::Pending {
    const AppendCall* call = nullptr;
    AppendReply reply;
    std::exception_ptr error;
    bool done = false;
    std::condition_variable cv;
};

DatabaseImpl::DatabaseImpl(std::unique_ptr<Backend> backend, const DatabaseOptions& options)
    : options_(options), backend_(std::move(backend)) {
    writer_ = backend_->open_writer();
    if (auto first = backend_->open_reader()) {
        pooled_reads_ = true;
        free_readers_.push_back(std::move(first));
        readers_open_ = 1;
    }
}

DatabaseImpl::~DatabaseImpl() = default;

DatabaseImpl::WriterLease::WriterLease(DatabaseImpl& db) : d(db), took(true) { d.acquire_writer(); }
DatabaseImpl::WriterLease::~WriterLease() { d.release_writer(); }

void DatabaseImpl::acquire_writer() {
    std::unique_lock lk(m_);
    const auto me = std::this_thread::get_id();
    if (owner_ != me) {
        cv_.wait(lk, [&] { return owner_ == std::thread::id{}; });
        owner_ = me;
    }
    ++holds_;
}

bool DatabaseImpl::try_acquire_writer() {
    std::lock_guard lk(m_);
    const auto me = std::this_thread::get_id();
    if (owner_ != me && owner_ != std::thread::id{}) return false;
    owner_ = me;
    ++holds_;
    return true;
}

void DatabaseImpl::release_writer() {
    std::lock_guard lk(m_);
    if (--holds_ == 0) {
        owner_ = {};
        cv_.notify_all();
    }
}

DatabaseImpl::ReaderLease::ReaderLease(DatabaseImpl& db) : d(db) {
    std::unique_lock lk(d.readers_m_);
    for (;;) {
        if (!d.free_readers_.empty()) {
            conn = std::move(d.free_readers_.back());
            d.free_readers_.pop_back();
            return;
        }
        if (d.readers_open_ < std::max(1, d.options_.readers)) {
            ++d.readers_open_;
            lk.unlock();
            try {
                conn = d.backend_->open_reader();
            } catch (...) {
                std::lock_guard relock(d.readers_m_);
                --d.readers_open_;
                throw;
            }
            return;
        }
        d.readers_cv_.wait(lk);
    }
}

DatabaseImpl::ReaderLease::~ReaderLease() {
    std::lock_guard lk(d.readers_m_);
    d.free_readers_.push_back(std::move(conn));
    d.readers_cv_.notify_one();
}

bool DatabaseImpl::in_transaction() const {
    std::lock_guard lk(const_cast<std::mutex&>(m_));
    return owner_ == std::this_thread::get_id() && depth_ >= 0;
}

AppendReply DatabaseImpl::append(const AppendCall& call) {
    bool holding = false, in_txn = false;
    {
        std::lock_guard lk(m_);
        holding = owner_ == std::this_thread::get_id();
        in_txn = holding && depth_ >= 0;
    }
    if (holding) {
        // In the thread's transaction: joins it, told to listeners at its commit. Holding the
        // writer without one (a query's row callback on the write connection): a group leader
        // would wait for this very thread, so the append runs here, on its own.
        AppendReply r = with_writer([&](Connection& c) { return c.append(call); });
        if (r.count > 0 && !r.replay) {
            const int64_t last = r.first_seq + r.count - 1;
            if (!in_txn) {
                notify(last);
                return r;
            }
            std::lock_guard lk(m_);
            txn_last_seq_ = std::max(txn_last_seq_, last);
        }
        return r;
    }
    Pending p;
    p.call = &call;
    int64_t committed = 0;
    std::unique_lock lk(m_);
    queue_.push_back(&p);
    while (!p.done) {
        if (!leading_) {
            committed = std::max(committed, lead_group(lk, p));
        } else {
            p.cv.wait(lk);
        }
    }
    lk.unlock();
    // Told after the leader's role and the writer are given up: a listener may append.
    if (committed) notify(committed);
    if (p.error) std::rethrow_exception(p.error);
    return p.reply;
}

// The leader runs one transaction after another over the appends queued meanwhile, so the
// writer stays busy while the answered callers wake up and queue their next append (a hand-
// over to a sleeping thread would leave it idle). After its own append and a few more
// batches it hands the lead to the oldest waiter, so no caller waits behind an endless queue.
// Called and returns with lk held; returns the highest seq its batches committed (0: none).
int64_t DatabaseImpl::lead_group(std::unique_lock<std::mutex>& lk, const Pending& mine) {
    constexpr size_t kMaxBatch = 1024;
    constexpr int kRoundsAfterMine = 8;
    leading_ = true;
    std::vector<Pending*> batch;
    int64_t committed = 0;
    int after_mine = 0;
    while (!queue_.empty() && (!mine.done || after_mine++ < kRoundsAfterMine)) {
        lk.unlock();
        try {
            // The writer first, then the batch: appends queued while a transaction held the
            // writer all go into the first batch after it.
            WriterLease lease(*this);
            lk.lock();
            while (!queue_.empty() && batch.size() < kMaxBatch) {
                batch.push_back(queue_.front());
                queue_.pop_front();
            }
            lk.unlock();
            committed = std::max(committed, run_batch(batch));
        } catch (...) {  // run_batch answers every append itself; this is only bad_alloc
            if (!lk.owns_lock()) lk.lock();
            for (Pending* p : batch) p->error = std::current_exception();
            lk.unlock();
        }
        lk.lock();
        for (Pending* p : batch) {
            p->done = true;
            p->cv.notify_one();
        }
        batch.clear();
    }
    leading_ = false;
    if (!queue_.empty()) queue_.front()->cv.notify_one();  // the next leader
    return committed;
}

// One transaction for the batch. es_append runs in a savepoint of its own, so a failing append
// (a conflict) changes nothing and fails only its caller; a failure of the transaction itself
// (I/O, a full disk: SQLite has rolled it back) fails every append of the batch. A remote
// backend that knows the transaction did not commit (NotCommitted: the leader was lost) gets
// the whole batch again, a bounded number of times: nothing of it was stored, and each try
// waits for a leader inside the backend.
int64_t DatabaseImpl::run_batch(std::vector<Pending*>& batch) {
    constexpr int kMaxTries = 50;
    for (int tries = 1;; ++tries) {
        try {
            return run_batch_once(batch);
        } catch (const NotCommitted&) {
            for (Pending* p : batch) {
                p->error = tries < kMaxTries ? nullptr : std::current_exception();
                p->reply = {};
            }
            if (tries >= kMaxTries) return 0;
        }
    }
}

// run_batch's one try; throws NotCommitted (after rolling back) for run_batch to try again.
int64_t DatabaseImpl::run_batch_once(std::vector<Pending*>& batch) {
    int64_t last_seq = 0;
    auto record = [&](Pending* p) {
        if (p->reply.count > 0 && !p->reply.replay) {
            last_seq = std::max(last_seq, p->reply.first_seq + p->reply.count - 1);
        }
    };
    if (batch.size() == 1) {  // alone: es_append commits on its own (a remote backend settles it)
        try {
            batch[0]->reply = writer_->append(*batch[0]->call);
            record(batch[0]);
        } catch (...) {
            batch[0]->error = std::current_exception();
        }
        return last_seq;
    }
    auto fail_all = [&](std::exception_ptr e) {
        for (Pending* p : batch) p->error = e;
        last_seq = 0;
    };
    auto roll_back = [&] {
        if (writer_->autocommit()) return;
        try {
            writer_->exec("ROLLBACK");
        } catch (...) {
        }
    };
    try {
        writer_->exec(options_.immediate ? "BEGIN IMMEDIATE" : "BEGIN");
    } catch (...) {
        fail_all(std::current_exception());
        return 0;
    }
    for (Pending* p : batch) {
        try {
            p->reply = writer_->append(*p->call);
            record(p);
        } catch (const NotCommitted&) {
            roll_back();
            throw;
        } catch (...) {
            p->error = std::current_exception();
            if (writer_->autocommit()) {  // the transaction is gone, and every append with it
                fail_all(p->error);
                return 0;
            }
        }
    }
    try {
        writer_->exec("COMMIT");
    } catch (const NotCommitted&) {
        roll_back();
        throw;
    } catch (...) {
        const std::exception_ptr e = std::current_exception();
        roll_back();
        fail_all(e);
        return 0;
    }
    return last_seq;
}

int DatabaseImpl::begin() {
    acquire_writer();
    try {
        std::unique_lock lk(m_);
        const int depth = ++depth_;
        if (depth > 0) txn_saved_.push_back(txn_last_seq_);
        lk.unlock();
        if (depth == 0) {
            writer_->exec(options_.immediate ? "BEGIN IMMEDIATE" : "BEGIN");
        } else {
            writer_->exec("SAVEPOINT es_tx_" + std::to_string(depth));
        }
        return depth;
    } catch (...) {
        {
            std::lock_guard lk(m_);
            if (depth_ > 0) txn_saved_.pop_back();
            --depth_;
        }
        release_writer();
        throw;
    }
}

void DatabaseImpl::commit(int depth) {
    int64_t told = 0;
    {
        std::lock_guard lk(m_);
        if (depth != depth_) {
            throw_error(Code::InvalidArgument, 21,
                        "eskit: Transaction::commit() of an outer transaction while an inner one "
                        "is open");
        }
    }
    writer_->exec(depth == 0 ? std::string("COMMIT") : "RELEASE es_tx_" + std::to_string(depth));
    {
        std::lock_guard lk(m_);
        --depth_;
        if (depth == 0) {
            told = txn_last_seq_;
            txn_last_seq_ = 0;
        } else {
            txn_saved_.pop_back();  // released: its appends are the outer transaction's now
        }
    }
    release_writer();
    if (told) notify(told);
}

void DatabaseImpl::rollback(int depth) noexcept {
    try {
        if (depth == 0) {
            if (!writer_->autocommit()) writer_->exec("ROLLBACK");
        } else {
            const std::string sp = "es_tx_" + std::to_string(depth);
            writer_->exec("ROLLBACK TO " + sp + "; RELEASE " + sp);
        }
    } catch (...) {
        // SQLite may have rolled back already (I/O error); the caller's error explains it.
    }
    {
        std::lock_guard lk(m_);
        depth_ = depth - 1;
        if (depth == 0) {
            txn_last_seq_ = 0;
            txn_saved_.clear();
        } else {
            txn_last_seq_ = txn_saved_.back();  // its appends are gone: never told
            txn_saved_.pop_back();
        }
    }
    release_writer();
}

uint64_t DatabaseImpl::listen(Listener l) {
    std::lock_guard lk(listeners_m_);
    listeners_.emplace_back(next_listener_, std::move(l));
    return next_listener_++;
}

void DatabaseImpl::unlisten(uint64_t id) {
    std::lock_guard lk(listeners_m_);
    std::erase_if(listeners_, [&](const auto& e) { return e.first == id; });
}

void DatabaseImpl::notify(int64_t head) {
    std::vector<Listener> copy;
    {
        std::lock_guard lk(listeners_m_);
        for (const auto& [id, l] : listeners_) copy.push_back(l);
    }
    for (const Listener& l : copy) {
        try {
            l(head);
        } catch (...) {
            // a listener's failure is its own
        }
    }
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------

bool Row::is_null(int col) const { return rows_.is_null(col); }
int64_t Row::integer(int col) const { return rows_.integer(col); }
double Row::real(int col) const { return rows_.real(col); }
std::string_view Row::text(int col) const { return rows_.text(col); }

Database::Database(std::shared_ptr<detail::DatabaseImpl> impl) : impl_(std::move(impl)) {}
Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;
Database::~Database() = default;

Database Database::open(const std::string& path, const DatabaseOptions& options) {
    return Database(
        std::make_shared<detail::DatabaseImpl>(detail::local_backend(path, options), options));
}

Database Database::adopt(sqlite3* db, const DatabaseOptions& options) {
    return Database(
        std::make_shared<detail::DatabaseImpl>(detail::adopted_backend(db, options), options));
}

Database Database::with_backend(std::unique_ptr<detail::Backend> backend,
                                const DatabaseOptions& options) {
    return Database(std::make_shared<detail::DatabaseImpl>(std::move(backend), options));
}

Transaction Database::begin() { return Transaction::begin(impl_); }

Transaction Transaction::begin(const std::shared_ptr<detail::DatabaseImpl>& db) {
    return Transaction(db, db->begin());
}

int64_t Database::execute(std::string_view sql, std::initializer_list<Param> params) {
    return impl_->with_writer([&](detail::Connection& c) {
        return c.execute(sql, std::span<const Param>(params.begin(), params.size()));
    });
}

void Database::query(std::string_view sql, std::initializer_list<Param> params,
                     const std::function<void(const Row&)>& row) {
    impl_->with_reader([&](detail::Connection& c) {
        auto rows = c.query(sql, std::span<const Param>(params.begin(), params.size()));
        while (rows->next()) row(Row(*rows));
    });
}

int64_t Database::head() {
    return impl_->with_reader(
        [](detail::Connection& c) { return detail::query_int(c, "SELECT es_head()"); });
}

sqlite3* Database::handle() { return impl_->native(); }

Transaction::Transaction(std::shared_ptr<detail::DatabaseImpl> impl, int depth)
    : impl_(std::move(impl)), depth_(depth) {}

Transaction::Transaction(Transaction&& other) noexcept
    : impl_(std::move(other.impl_)), depth_(other.depth_), done_(other.done_) {
    other.done_ = true;
}

Transaction::~Transaction() {
    if (active()) impl_->rollback(depth_);
}

void Transaction::commit() {
    if (!active()) throw_error(Code::InvalidArgument, 21, "eskit: the transaction has ended");
    impl_->commit(depth_);
    done_ = true;
}

void Transaction::rollback() {
    if (!active()) return;
    done_ = true;
    impl_->rollback(depth_);
}

}  // namespace eskit
