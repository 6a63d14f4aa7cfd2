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
    int64_t from_version = 1;              // inclusive
    std::optional<int64_t> to_version{};   // inclusive
    std::vector<std::string> types{};      // stored type names (empty: all)
    std::optional<int64_t> limit{};          // at most this many events
    bool backwards = false;                // newest first
    int page_size = 512;                   // events held in memory at once
};

struct ReadOptions {
    std::vector<std::string> types{};      // stored type names (empty: all)
    std::optional<std::string> category{};    // the stream id's prefix before '-'
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
