// Notifier: "the log has moved past seq n", for subscriptions and anyone who waits for events.
//
//     eskit::Notifier notifier(db, {.mode = eskit::NotifyMode::Watch});
//     int64_t head = notifier.wait(last_seen, std::chrono::seconds(5));
//
// Every mode hears the appends committed through this Database at once (callback mode: the
// database tells the notifier after each commit; an append inside a Transaction only when it
// commits, never after a rollback). For commits by other processes (or other Database objects)
// the notifier also watches the file: Poll reads PRAGMA data_version from a connection that
// never writes (SQLite changes it only for other connections' commits) every poll_interval;
// Watch blocks in es_wait() on a connection of its own, which the extension wakes through the
// file system without polling. On a cluster (Database::connect_cluster) es_wait refuses, so
// Watch polls like Poll; the poller there reads es_head() on the leader, not data_version. A
// notification is only a hint: wait() also re-reads the head every repoll interval, so a lost
// wake-up costs latency, never progress.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include <eskit/database.hpp>

namespace eskit {

enum class NotifyMode {
    Callback,  // appends through this Database only
    Poll,      // + PRAGMA data_version polling
    Watch,     // + es_wait on a connection of its own
};

struct NotifierOptions {
    NotifyMode mode = NotifyMode::Callback;
    std::chrono::milliseconds poll_interval{50};
    std::chrono::milliseconds repoll{1000};
};

class Notifier {
  public:
    explicit Notifier(Database& db, NotifierOptions options = {});
    ~Notifier();  // stops
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    // Tells the notifier the head is at least seq (the database calls it after commits).
    void signal(int64_t seq);
    // Returns as soon as the head passes after_seq, or at the timeout; the head last known.
    // With `cancel`, also as soon as *cancel is true (set it, then call wake()).
    int64_t wait(int64_t after_seq, std::chrono::milliseconds timeout,
                 const std::atomic<bool>* cancel = nullptr);
    // Wakes every wait() in progress now (each returns the head it knows): how a consumer's
    // stop() ends its wait (with `cancel`, without a race) without stopping a notifier other
    // consumers share.
    void wake();
    // fn(head) after each change seen, on the notifier's or the committing thread, one call at
    // a time and in increasing head order (a subscriber may append from it).
    uint64_t subscribe(std::function<void(int64_t head)> fn);
    void unsubscribe(uint64_t id);
    int64_t head() const;
    // Ends the watch/poll thread and wakes every waiter (wait() then returns at once).
    void stop();

  private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace eskit
