// SnapshotStore<S>: one snapshot per stream (es_snapshot_save), state encoded with a codec and
// stamped with the state type's schema version. A snapshot written with another schema version
// is reported stale (not decoded), so the caller replays the stream instead.
//
//     eskit::SnapshotStore<Order> snapshots(db, /*schema_version=*/2);
//     snapshots.save("order-17", 42, order);
//     auto a = store.aggregate("order-17", Order{}, evolve, &snapshots);  // starts at 43
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <eskit/codec.hpp>
#include <eskit/raw_store.hpp>

namespace eskit {

template <class S>
struct Snapshot {
    int64_t version = 0;         // the last event the state includes
    int64_t schema_version = 1;  // as stored
    S state{};                   // decoded unless stale
    Timestamp created_at{};
    bool stale = false;  // stored with another schema version: replay instead
    bool current() const noexcept { return !stale; }
};

template <class S>
class SnapshotStore {
  public:
    explicit SnapshotStore(Database& db, int64_t schema_version = 1,
                           const Codec& codec = json_codec(),
                           std::shared_ptr<const CodecRegistry> codecs = nullptr)
        : raw_(db),
          schema_version_(schema_version),
          codec_(codec),
          codecs_(codecs ? std::move(codecs) : std::make_shared<const CodecRegistry>()) {}

    void save(std::string_view stream, int64_t version, const S& state) {
        const std::string bytes = eskit::encode(codec_, state);
        raw_.save(stream, version, bytes, codec_.is_text(), schema_version_, codec_.name());
    }

    std::optional<Snapshot<S>> load(std::string_view stream) {
        std::optional<RawSnapshot> raw = raw_.load(stream);
        if (!raw) return std::nullopt;
        Snapshot<S> s;
        s.version = raw->version;
        s.schema_version = raw->schema_version;
        s.created_at = raw->created_at;
        s.stale = raw->schema_version != schema_version_;
        if (!s.stale) eskit::decode(codecs_->get(raw->codec), raw->state, s.state);
        return s;
    }

    bool invalidate(std::string_view stream) { return raw_.invalidate(stream) > 0; }
    int64_t invalidate_all() { return raw_.invalidate_all(); }

  private:
    RawSnapshots raw_;
    int64_t schema_version_;
    const Codec& codec_;
    std::shared_ptr<const CodecRegistry> codecs_;
};

}  // namespace eskit
