// RawStore: the SQL surface of one Database as C++ calls, payloads undecoded. Store<E> is a
// typed layer on top of it; applications that handle bytes themselves can use it directly.
// Every rule (versions, replays, lifecycle) is the extension's; this class only calls it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <eskit/database.hpp>
#include <eskit/types.hpp>
#include <eskit/wire.hpp>

namespace eskit {

namespace detail {
class DatabaseImpl;
}

// One event to append, payload encoded.
struct EncodedEvent {
    std::string type{};
    std::string data{};  // JSON text for codec "json", else the codec's bytes
    std::string codec = "json";
    int64_t schema_version = 1;
    EventOptions options{};
};

// Where a paged read of a stream or of the log has got to.
struct PageCursor {
    int64_t next = 0;   // next version (stream, ascending) / seq bound (log)
    int64_t taken = 0;  // events delivered so far (for LoadOptions::limit)
    bool done = false;
};

class RawStore {
  public:
    explicit RawStore(Database& db);
    explicit RawStore(std::shared_ptr<detail::DatabaseImpl> db);

    // es_append: the recorded events, as written. For a replay (an idempotency key or event
    // ids seen before: nothing is written) the events the earlier append wrote, as stored;
    // their payloads also go to *replayed when it is given (Store<E> decodes them).
    std::vector<EventMeta> append(std::string_view stream, const Expected& expected,
                                  const std::vector<EncodedEvent>& events,
                                  const AppendOptions& options = {},
                                  std::vector<RawEvent>* replayed = nullptr);

    using Sink = FunctionRef<void(const RawEventView&)>;

    // The next page of a stream read; cursor starts default-constructed.
    std::vector<RawEvent> stream_page(std::string_view stream, const LoadOptions& options,
                                      PageCursor& cursor) const;
    // Events with seq > after_seq, at most limit of them, in seq order.
    std::vector<RawEvent> log_page(int64_t after_seq, int64_t limit,
                                   const ReadOptions& options) const;
    // The same reads handing each row to sink as it is stepped (no copy of the row); they
    // return the number of rows delivered.
    size_t stream_page(std::string_view stream, const LoadOptions& options, PageCursor& cursor,
                       Sink sink) const;
    size_t log_page(int64_t after_seq, int64_t limit, const ReadOptions& options, Sink sink) const;

    int64_t latest_sequence() const;
    StreamStatus status(std::string_view stream) const;
    void archive(std::string_view stream);
    // Moves the stream's events into the attached database `schema`; returns the count.
    int64_t archive_to(std::string_view stream, std::string_view schema);
    // Moves them into another store's file (attached for the call).
    int64_t archive_to(std::string_view stream, Database& target);
    void restore(std::string_view stream);
    int64_t restore_from(std::string_view stream, std::string_view schema);
    int64_t restore_from(std::string_view stream, Database& source);
    int64_t tombstone(std::string_view stream, std::optional<std::string_view> reason);
    std::optional<Tombstone> is_tombstoned(std::string_view stream) const;
    int64_t remove(std::string_view stream);

    const std::shared_ptr<detail::DatabaseImpl>& database() const noexcept { return db_; }

  private:
    std::shared_ptr<detail::DatabaseImpl> db_;
};

// Consumer positions (es_checkpoint), for subscriptions and projections.
class CheckpointStore {
  public:
    explicit CheckpointStore(Database& db);
    explicit CheckpointStore(std::shared_ptr<detail::DatabaseImpl> db);
    int64_t get(std::string_view consumer);
    void set(std::string_view consumer, int64_t seq);
    // Stores seq if the stored position is `expected`; ConcurrencyConflict otherwise (its
    // expected() and actual() are the two positions).
    void compare_and_set(std::string_view consumer, int64_t expected, int64_t seq);

  private:
    std::shared_ptr<detail::DatabaseImpl> db_;
};

// A stream's snapshot as stored, state undecoded.
struct RawSnapshot {
    int64_t version = 0;
    int64_t schema_version = 1;
    std::string codec;
    std::string state;
    Timestamp created_at{};
};

class RawSnapshots {
  public:
    explicit RawSnapshots(Database& db);
    explicit RawSnapshots(std::shared_ptr<detail::DatabaseImpl> db);
    void save(std::string_view stream, int64_t version, std::string_view state, bool text,
              int64_t schema_version, std::string_view codec);
    std::optional<RawSnapshot> load(std::string_view stream);
    int64_t invalidate(std::string_view stream);
    int64_t invalidate_all();

  private:
    std::shared_ptr<detail::DatabaseImpl> db_;
};

}  // namespace eskit
