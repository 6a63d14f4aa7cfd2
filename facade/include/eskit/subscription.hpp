// Subscription<E>: a catch-up consumer of the global log, from its checkpoint on.
//
//     eskit::Subscription<OrderEvent> sub(store, notifier, {.name = "totals"});
//     sub.run([&](const std::vector<eskit::RecordedEvent<OrderEvent>>& batch) {
//         for (const auto& e : batch) apply(e);      // transactional mode: these writes and
//     });                                            // the checkpoint commit together
//
// It reads the events strictly after its checkpoint (es_checkpoint of its name), in batches, in
// seq order, optionally filtered by type or category; hands each batch to the handler; stores
// the checkpoint; and when a batch comes back short (caught up) waits on the notifier for more.
// Positions are assigned in commit order, so reading "after the last seq handled" never skips
// or repeats an event, also across the switch between catching up and live.
//
//   AtLeastOnce    the checkpoint is stored after the handler returns: a crash in between
//                  delivers that batch again.
//   Transactional  the handler runs inside a Transaction and the checkpoint moves by
//                  compare-and-set in the same one: the handler's writes (through the same
//                  Database, on this thread) and the position commit together, exactly once;
//                  a second consumer under the same name makes the CAS fail instead of
//                  double-applying.
//
// The pull form (next()) delivers one message at a time: an event, CaughtUp when the reader
// reaches the head, FellBehind when, live, it finds more than a batch waiting, or Timeout; it
// stores the checkpoint of a batch when it fetches the next (so a crash repeats at most one
// batch). stop() may be called from any thread; run() and next() then return (a wait in
// progress is woken through Notifier::wake()). A wait for new events is for a head beyond the
// one the last short page covered, so a filtered consumer whose newest events do not match
// sleeps instead of re-reading.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <eskit/notifier.hpp>
#include <eskit/raw_store.hpp>
#include <eskit/store.hpp>

namespace eskit {

enum class Delivery { AtLeastOnce, Transactional };
enum class OnDecodeError { Stop, Skip, Callback };

struct SubscriptionOptions {
    std::string name{};    // the checkpoint's consumer name
    ReadOptions filter{};  // types / category
    int batch = 256;
    Delivery delivery = Delivery::AtLeastOnce;
    OnDecodeError on_decode_error = OnDecodeError::Stop;
    std::function<void(const RawEvent&, const std::exception&)> decode_error{};  // Callback
    std::chrono::milliseconds wait_slice{500};  // how long one wait on the notifier lasts
};

template <class E>
struct Message {
    enum class Kind { Event, CaughtUp, FellBehind, Timeout, Stopped } kind;
    std::optional<RecordedEvent<E>> event;
};

template <class E>
class Subscription {
  public:
    using Batch = std::vector<RecordedEvent<E>>;

    Subscription(Store<E>& store, Notifier& notifier, SubscriptionOptions options)
        : store_(store),
          notifier_(notifier),
          checkpoints_(store.raw().database()),
          options_(std::move(options)) {
        if (options_.name.empty())
            throw_error(Code::InvalidArgument, 1, "eskit: a subscription needs a name");
        if (options_.batch <= 0) options_.batch = 256;
        position_ = checkpoints_.get(options_.name);
        stored_ = position_;
    }

    // The last seq handled (delivered, for the pull form).
    int64_t position() const noexcept { return position_; }

    // Callback form: runs until stop(), handler(batch) per batch.
    void run(const std::function<void(const Batch&)>& handler) {
        while (!stopped_) {
            Batch batch;
            const int64_t last = fetch(batch);
            if (last > position_) {
                deliver(batch, last, handler);
                continue;
            }
            notifier_.wait(idle_from(), options_.wait_slice, &stopped_);
        }
    }

    // Handles every batch up to the head as of now, then returns the events handled (the
    // callback form without waiting: a projection catching up at start, a test).
    int64_t catch_up(const std::function<void(const Batch&)>& handler) {
        int64_t handled = 0;
        while (!stopped_) {
            Batch batch;
            const int64_t last = fetch(batch);
            if (last <= position_) break;
            handled += static_cast<int64_t>(batch.size());
            deliver(batch, last, handler);
        }
        return handled;
    }

    // Pull form: the next message within timeout.
    Message<E> next(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (stopped_) return {Message<E>::Kind::Stopped, std::nullopt};
            if (!pending_.empty()) {
                RecordedEvent<E> e = std::move(pending_.front());
                pending_.pop_front();
                position_ = e.seq;
                return {Message<E>::Kind::Event, std::move(e)};
            }
            if (!pending_signal_.empty()) {
                const auto k = pending_signal_.front();
                pending_signal_.pop_front();
                return {k, std::nullopt};
            }
            store_checkpoint(position_);  // the batch handed out is done with
            Batch batch;
            const int64_t last = fetch(batch);
            const bool full = fetched_ >= static_cast<size_t>(options_.batch);
            if (live_ && full) {
                live_ = false;
                pending_signal_.push_back(Message<E>::Kind::FellBehind);
            } else if (!live_ && !full) {
                live_ = true;
                pending_signal_.push_back(Message<E>::Kind::CaughtUp);
            }
            for (auto& e : batch) pending_.push_back(std::move(e));
            if (last > position_ && batch.empty()) position_ = last;  // all skipped
            if (!pending_.empty() || !pending_signal_.empty()) continue;
            const auto now = std::chrono::steady_clock::now();
            if (now >= deadline) return {Message<E>::Kind::Timeout, std::nullopt};
            notifier_.wait(
                idle_from(),
                std::min(options_.wait_slice,
                         std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now)),
                &stopped_);
        }
    }

    // Ends run(), catch_up() and next(), from any thread: a wait in progress is woken.
    void stop() {
        stopped_ = true;
        notifier_.wake();
    }

  private:
    // One page after position_, decoded; returns the last seq read (decode failures skipped
    // by policy count as read).
    int64_t fetch(Batch& out) {
        // The head before the page: when the page comes back short, every event up to it that
        // passes the filter is in the page or before it (seq order is commit order), so the wait
        // that follows is for a head beyond it, not beyond the last event that matched.
        const int64_t head = store_.raw().latest_sequence();
        const std::vector<RawEvent> raw =
            store_.raw().log_page(position_, options_.batch, options_.filter);
        fetched_ = raw.size();
        seen_head_ = fetched_ < static_cast<size_t>(options_.batch) ? head : 0;
        int64_t last = position_;
        for (const RawEvent& r : raw) {
            try {
                if (auto e = store_.decode(r)) out.push_back(std::move(*e));
            } catch (const Error& err) {
                if (options_.on_decode_error == OnDecodeError::Stop) {
                    if (last > position_ && out.empty()) position_ = last;
                    throw;
                }
                if (options_.on_decode_error == OnDecodeError::Callback && options_.decode_error) {
                    options_.decode_error(r, err);
                }
            }
            last = r.seq;
        }
        return last;
    }

    // The handler gets only non-empty batches; a page whose events were all skipped (decode
    // policy, unknown types) still moves the checkpoint.
    void deliver(const Batch& batch, int64_t last,
                 const std::function<void(const Batch&)>& handler) {
        if (options_.delivery == Delivery::Transactional) {
            Transaction tx = Transaction::begin(store_.raw().database());
            if (!batch.empty()) handler(batch);
            checkpoints_.compare_and_set(options_.name, stored_, last);
            tx.commit();
            stored_ = last;
        } else {
            if (!batch.empty()) handler(batch);
            store_checkpoint(last);
        }
        position_ = last;
    }

    // What a wait after a short page waits to be passed: the head that page covered.
    int64_t idle_from() const { return std::max(position_, seen_head_); }

    void store_checkpoint(int64_t seq) {
        if (seq == stored_) return;
        checkpoints_.set(options_.name, seq);
        stored_ = seq;
    }

    Store<E>& store_;
    Notifier& notifier_;
    CheckpointStore checkpoints_;
    SubscriptionOptions options_;
    int64_t position_ = 0;
    int64_t stored_ = 0;
    std::atomic<bool> stopped_{false};
    bool live_ = false;
    size_t fetched_ = 0;
    int64_t seen_head_ = 0;
    std::deque<RecordedEvent<E>> pending_;
    std::deque<typename Message<E>::Kind> pending_signal_;
};

}  // namespace eskit
