#include <eskit/notifier.hpp>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "database_impl.hpp"

namespace eskit {

struct Notifier::State {
    std::shared_ptr<detail::DatabaseImpl> db;
    NotifierOptions options;
    mutable std::mutex m;
    std::condition_variable cv;
    int64_t head = 0;
    bool stopped = false;
    uint64_t wakes = 0;  // wake() calls: a waiter returns when it changes
    // Subscribers are called one signal at a time, in increasing head order (recursive: a
    // subscriber's own append signals on the same thread); a head lower than one already
    // delivered is left out.
    std::recursive_mutex deliver;
    int64_t delivered = 0;
    std::vector<std::pair<uint64_t, std::function<void(int64_t)>>> subs;
    uint64_t next_id = 1;
    uint64_t listener = 0;
    std::thread watcher;

    void signal(int64_t seq) {
        {
            std::lock_guard lk(m);
            if (seq <= head) return;
            head = seq;
        }
        cv.notify_all();
        std::lock_guard order(deliver);
        std::vector<std::function<void(int64_t)>> call;
        {
            std::lock_guard lk(m);
            if (seq <= delivered) return;
            delivered = seq;
            for (const auto& [id, fn] : subs) call.push_back(fn);
        }
        for (const auto& fn : call) {
            {
                std::lock_guard lk(m);  // a subscriber's append delivered a newer head meanwhile
                if (delivered != seq) return;
            }
            try {
                fn(seq);
            } catch (...) {
                // a subscriber's failure is its own
            }
        }
    }

    bool sleep_for(std::chrono::milliseconds d) {  // false once stopped
        std::unique_lock lk(m);
        cv.wait_for(lk, d, [&] { return stopped; });
        return !stopped;
    }

    int64_t known() const {
        std::lock_guard lk(m);
        return head;
    }

    // Commits by other connections: data_version changes only for those, so it is read from a
    // connection that never writes.
    void poll(std::unique_ptr<detail::Connection> c) {
        int64_t version = c->data_version();
        while (sleep_for(options.poll_interval)) {
            try {
                const int64_t now = c->data_version();
                if (now == version) continue;
                version = now;
                signal(detail::query_int(*c, "SELECT es_head()"));
            } catch (...) {
                // the database may be busy or gone for a moment: next tick
            }
        }
    }

    // es_wait wakes through the file system; its timeout bounds how long stop() waits.
    void watch(std::unique_ptr<detail::Connection> c) {
        constexpr int64_t kSliceMs = 250;
        for (;;) {
            {
                std::lock_guard lk(m);
                if (stopped) return;
            }
            try {
                const Param p[] = {known(), kSliceMs};
                signal(detail::query_int(*c, "SELECT es_wait(?1, ?2)", p));
            } catch (...) {
                if (!sleep_for(options.poll_interval)) return;
            }
        }
    }
};

Notifier::Notifier(Database& db, NotifierOptions options) : state_(std::make_shared<State>()) {
    State& s = *state_;
    s.db = db.impl();
    s.options = options;
    s.head = db.head();
    std::weak_ptr<State> weak = state_;
    s.listener = s.db->listen([weak](int64_t head) {
        if (auto st = weak.lock()) st->signal(head);
    });
    if (options.mode == NotifyMode::Callback) return;
    std::unique_ptr<detail::Connection> conn = s.db->backend().open_reader();
    if (!conn) return;  // in memory: no other connection can write it
    // es_wait refuses on a replicated host (a cluster): Watch polls there, rather than retry a
    // refused es_wait forever and never hear other clients' commits.
    if (options.mode == NotifyMode::Poll || !conn->can_wait()) {
        s.watcher =
            std::thread([st = state_, c = std::move(conn)]() mutable { st->poll(std::move(c)); });
    } else {
        s.watcher =
            std::thread([st = state_, c = std::move(conn)]() mutable { st->watch(std::move(c)); });
    }
}

Notifier::~Notifier() { stop(); }

void Notifier::stop() {
    {
        std::lock_guard lk(state_->m);
        if (state_->stopped) return;
        state_->stopped = true;
    }
    state_->cv.notify_all();
    state_->db->unlisten(state_->listener);
    if (state_->watcher.joinable()) state_->watcher.join();
}

void Notifier::signal(int64_t seq) { state_->signal(seq); }

void Notifier::wake() {
    {
        std::lock_guard lk(state_->m);
        ++state_->wakes;
    }
    state_->cv.notify_all();
}

int64_t Notifier::head() const { return state_->known(); }

int64_t Notifier::wait(int64_t after_seq, std::chrono::milliseconds timeout,
                       const std::atomic<bool>* cancel) {
    State& s = *state_;
    const auto now = std::chrono::steady_clock::now();
    const auto deadline = timeout >= std::chrono::hours(24 * 365 * 10)
                              ? std::chrono::steady_clock::time_point::max()
                              : now + timeout;
    uint64_t wakes;
    {
        std::lock_guard lk(s.m);
        wakes = s.wakes;
    }
    for (;;) {
        {
            std::unique_lock lk(s.m);
            const auto until =
                std::min(deadline, std::chrono::steady_clock::now() + s.options.repoll);
            auto done = [&] {
                return s.head > after_seq || s.stopped || s.wakes != wakes ||
                       (cancel && cancel->load());
            };
            s.cv.wait_until(lk, until, done);
            if (done() || std::chrono::steady_clock::now() >= deadline) return s.head;
        }
        // No word for a repoll interval: ask the database (a lost hint costs only this delay).
        // Without a read pool the read needs the write connection: skipped while another
        // thread holds it, so the wait keeps its timeout (the next interval tries again).
        try {
            int64_t h = 0;
            if (s.db->try_with_reader(
                    [&](detail::Connection& c) { h = detail::query_int(c, "SELECT es_head()"); })) {
                s.signal(h);
            }
        } catch (...) {
        }
    }
}

uint64_t Notifier::subscribe(std::function<void(int64_t head)> fn) {
    std::lock_guard lk(state_->m);
    state_->subs.emplace_back(state_->next_id, std::move(fn));
    return state_->next_id++;
}

void Notifier::unsubscribe(uint64_t id) {
    std::lock_guard lk(state_->m);
    std::erase_if(state_->subs, [&](const auto& e) { return e.first == id; });
}

}  // namespace eskit
