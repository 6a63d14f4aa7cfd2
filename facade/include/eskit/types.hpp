// The vocabulary of the store API: expected stream states, options, recorded events, stream
// status. Plain values, no behaviour.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace eskit {

// What the writer expects the stream to be at (KurrentDB's StreamState).
struct Any {};           // whatever its version
struct NoStream {};      // no events yet (version 0)
struct StreamExists {};  // at least one event
struct Exact {           // exactly this version (0: no events)
    int64_t version;
};
using Expected = std::variant<Any, NoStream, StreamExists, Exact>;

// The expected_version argument of es_append for an Expected.
int64_t expected_version_of(const Expected& e) noexcept;

// Microseconds since the Unix epoch, UTC (es_events.created_at).
using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

struct AppendOptions {
    std::optional<std::string> idempotency_key{};  // scoped to the stream (SPEC section 3)
    std::optional<Timestamp> timestamp{};          // created_at of every event (default: now)
    std::optional<std::string> metadata{};         // JSON object merged into each event's
};

// Per event, beside its payload.
struct EventOptions {
    std::optional<std::string> id{};        // event id (default: a generated UUIDv7)
    std::optional<std::string> metadata{};  // JSON object
};

struct LoadOptions {
    int64_t from_version = 1;             // inclusive
    std::optional<int64_t> to_version{};  // inclusive
    std::vector<std::string> types{};     // stored type names (empty: all)
    std::optional<int64_t> limit{};       // at most this many events
    bool backwards = false;               // newest first
    int page_size = 512;                  // events held in memory at once
};

struct ReadOptions {
    std::vector<std::string> types{};       // stored type names (empty: all)
    std::optional<std::string> category{};  // the stream id's prefix before '-'
    int page_size = 512;
};

// What an event is stored with, besides its payload.
struct EventMeta {
    int64_t seq = 0;
    std::string stream_id;
    int64_t version = 0;
    std::string type;
    std::string event_id;
    Timestamp created_at{};
    std::optional<std::string> metadata;  // JSON object text
    std::string codec;
    int64_t schema_version = 1;
};

// An event as stored, payload undecoded (Store::load_raw): decode on demand.
struct RawEvent : EventMeta {
    std::string data;  // JSON text (codec json) or the codec's bytes
};

// A stored event as the read delivers it: views into the row, valid during the callback only
// (reads decode from it without copying the row first).
struct RawEventView {
    int64_t seq = 0;
    std::string_view stream_id;
    int64_t version = 0;
    std::string_view type;
    std::string_view event_id;
    Timestamp created_at{};
    std::optional<std::string_view> metadata;
    std::string_view codec;
    int64_t schema_version = 1;
    std::string_view data;

    RawEventView() = default;
    RawEventView(const RawEvent& e)  // NOLINT(google-explicit-constructor): a view of it
        : seq(e.seq),
          stream_id(e.stream_id),
          version(e.version),
          type(e.type),
          event_id(e.event_id),
          created_at(e.created_at),
          codec(e.codec),
          schema_version(e.schema_version),
          data(e.data) {
        if (e.metadata) metadata = *e.metadata;
    }
    EventMeta meta() const {
        EventMeta m;
        m.seq = seq;
        m.stream_id = stream_id;
        m.version = version;
        m.type = type;
        m.event_id = event_id;
        m.created_at = created_at;
        if (metadata) m.metadata = std::string(*metadata);
        m.codec = codec;
        m.schema_version = schema_version;
        return m;
    }
    RawEvent to_raw() const {
        RawEvent e;
        static_cast<EventMeta&>(e) = meta();
        e.data = data;
        return e;
    }
};

// An event as stored, payload decoded into E.
template <class E>
struct RecordedEvent : EventMeta {
    E data;
};

enum class StreamStatus { None, Active, Archived, Tombstoned };
const char* to_string(StreamStatus s) noexcept;

struct Tombstone {
    std::optional<std::string> reason;
    Timestamp at{};
};

}  // namespace eskit
