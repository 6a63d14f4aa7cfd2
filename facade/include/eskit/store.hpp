// eskit::Store<E>: typed streams over the SQL surface (SPEC section 5).
//
//     using OrderEvent = std::variant<OrderPlaced, OrderPaid>;
//     eskit::Store<OrderEvent> store(db);
//
//     auto recorded = store.append("order-17", eskit::NoStream{}, {OrderPlaced{"o-17", 25.5}});
//     for (const auto& e : store.load("order-17")) {        // pages through the stream
//         std::visit([](const auto& ev) { ... }, e.data);
//     }
//     auto [state, version] = store.aggregate("order-17", Order{}, evolve);
//
// E is one ESKIT_EVENT type or a std::variant of them (events.hpp). Payloads are written with
// the store's write codec (JSON by default) and read with the codec each event names, from the
// store's codec registry, so one store can hold events written with several codecs. Older
// schema versions go through the upcasters on the way in. Loads are ranges that hold one page
// of events at a time (LoadOptions::page_size), so a stream of any length can be iterated.
//
// Errors are eskit::Error subclasses (error.hpp); a Store is safe to use from several threads
// (appends from several threads share transactions: database.hpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <eskit/codec.hpp>
#include <eskit/database.hpp>
#include <eskit/events.hpp>
#include <eskit/raw_store.hpp>
#include <eskit/types.hpp>

namespace eskit {

template <class E>
struct StoreOptions {
    const Codec* write_codec = nullptr;             // nullptr: json_codec()
    std::shared_ptr<const CodecRegistry> codecs{};  // nullptr: json and cbor
    Upcasters upcasters{};
    UnknownTypes unknown_types = UnknownTypes::Error;
};

// An event to append with options of its own (id, metadata).
template <class E>
struct NewEvent {
    E data;
    EventOptions options{};
};

// The fold of a stream: its state and the version it includes.
template <class S>
struct Aggregate {
    S state;
    int64_t version = 0;
};

template <class E>
class Store;

// An input range over a stream read or a log read, one page held at a time.
template <class E>
class EventRange {
  public:
    class iterator {
      public:
        using iterator_category = std::input_iterator_tag;
        using value_type = RecordedEvent<E>;
        using difference_type = std::ptrdiff_t;
        using pointer = const RecordedEvent<E>*;
        using reference = const RecordedEvent<E>&;

        iterator() = default;
        explicit iterator(EventRange* r) : r_(r) { settle(); }
        reference operator*() const { return r_->page_[i_]; }
        pointer operator->() const { return &r_->page_[i_]; }
        iterator& operator++() {
            ++i_;
            settle();
            return *this;
        }
        void operator++(int) { ++*this; }
        bool operator==(const iterator& o) const {
            return r_ == o.r_ && (r_ == nullptr || i_ == o.i_);
        }

      private:
        void settle() {
            while (r_ && i_ >= r_->page_.size()) {
                if (!r_->next_page()) {
                    r_ = nullptr;
                    return;
                }
                i_ = 0;
            }
        }
        EventRange* r_ = nullptr;
        size_t i_ = 0;
    };

    iterator begin() { return iterator(this); }
    iterator end() { return iterator(); }
    // Everything the read would deliver, in one vector.
    std::vector<RecordedEvent<E>> collect() {
        std::vector<RecordedEvent<E>> out;
        for (auto& e : *this) out.push_back(e);
        return out;
    }

  private:
    friend class Store<E>;
    // Reads the next page into the sink; returns the rows read (0: the end).
    using Fetch = std::function<size_t(RawStore::Sink)>;
    EventRange(const Store<E>* store, Fetch fetch) : store_(store), fetch_(std::move(fetch)) {}
    bool next_page() {
        if (done_) return false;
        page_.clear();  // keeps its capacity: one allocation for the whole read
        const size_t rows = fetch_([&](const RawEventView& e) {
            if (auto decoded = store_->decode(e)) page_.push_back(std::move(*decoded));
        });
        if (rows == 0) {
            done_ = true;
            return false;
        }
        return true;
    }

    const Store<E>* store_;
    Fetch fetch_;
    std::vector<RecordedEvent<E>> page_;
    bool done_ = false;
};

template <class E>
class Store {
  public:
    explicit Store(Database& db, StoreOptions<E> options = {})
        : raw_(db), options_(std::move(options)) {
        if (!options_.write_codec) options_.write_codec = &json_codec();
        if (!options_.codecs) options_.codecs = std::make_shared<const CodecRegistry>();
        if (options_.unknown_types == UnknownTypes::Raw && !holds_unknown()) {
            throw CodecError(
                "eskit: UnknownTypes::Raw needs an eskit::UnknownEvent alternative in "
                "the store's event variant");
        }
        options_.upcasters.validate();
    }

    // Appends events to stream, which must be as expected. Returns the recorded events
    // (seq, version, id, timestamp) without reading them back; for a replay (an idempotency
    // key or event ids seen before) the events that earlier append wrote, payloads included.
    std::vector<RecordedEvent<E>> append(std::string_view stream, const Expected& expected,
                                         const std::vector<E>& events,
                                         const AppendOptions& options = {}) {
        std::vector<EncodedEvent> encoded;
        encoded.reserve(events.size());
        for (const E& e : events) encoded.push_back(encode(e, {}));
        std::vector<RawEvent> replayed;
        auto metas = raw_.append(stream, expected, encoded, options, &replayed);
        if (!replayed.empty()) return decoded(replayed);
        return recorded(std::move(metas), events);
    }
    std::vector<RecordedEvent<E>> append(std::string_view stream, const Expected& expected,
                                         const std::vector<NewEvent<E>>& events,
                                         const AppendOptions& options = {}) {
        std::vector<EncodedEvent> encoded;
        std::vector<E> data;
        for (const NewEvent<E>& e : events) {
            encoded.push_back(encode(e.data, e.options));
            data.push_back(e.data);
        }
        std::vector<RawEvent> replayed;
        auto metas = raw_.append(stream, expected, encoded, options, &replayed);
        if (!replayed.empty()) return decoded(replayed);
        return recorded(std::move(metas), data);
    }

    EventRange<E> load(std::string_view stream, LoadOptions options = {}) const {
        auto cursor = std::make_shared<PageCursor>();
        return EventRange<E>(this,
                             [this, s = std::string(stream), options, cursor](RawStore::Sink sink) {
                                 return raw_.stream_page(s, options, *cursor, sink);
                             });
    }
    EventRange<E> load_from(std::string_view stream, int64_t from_version) const {
        LoadOptions o;
        o.from_version = from_version;
        return load(stream, o);
    }
    // The stream's events undecoded (decode on demand with decode()).
    std::vector<RawEvent> load_raw(std::string_view stream, LoadOptions options = {}) const {
        PageCursor cursor;
        std::vector<RawEvent> out;
        for (;;) {
            std::vector<RawEvent> page = raw_.stream_page(stream, options, cursor);
            if (page.empty()) return out;
            for (RawEvent& e : page) out.push_back(std::move(e));
        }
    }
    // One page of the global log: events with seq > after_seq, at most limit.
    std::vector<RecordedEvent<E>> read_from(int64_t after_seq, int64_t limit,
                                            const ReadOptions& options = {}) const {
        std::vector<RecordedEvent<E>> out;
        out.reserve(static_cast<size_t>(std::clamp<int64_t>(limit, 0, 4096)));
        raw_.log_page(after_seq, limit, options, [&](const RawEventView& e) {
            if (auto d = decode(e)) out.push_back(std::move(*d));
        });
        return out;
    }
    // The global log from after_seq on, paging (a catch-up read of any length).
    EventRange<E> log(int64_t after_seq, ReadOptions options = {}) const {
        auto after = std::make_shared<int64_t>(after_seq);
        return EventRange<E>(this, [this, options, after](RawStore::Sink sink) {
            const int64_t size = options.page_size > 0 ? options.page_size : 512;  // as loads
            return raw_.log_page(*after, size, options, [&](const RawEventView& e) {
                *after = e.seq;
                sink(e);
            });
        });
    }

    int64_t latest_sequence() const { return raw_.latest_sequence(); }
    StreamStatus status(std::string_view stream) const { return raw_.status(stream); }
    void archive(std::string_view stream) { raw_.archive(stream); }
    int64_t archive(std::string_view stream, std::string_view attached_schema) {
        return raw_.archive_to(stream, attached_schema);
    }
    int64_t archive(std::string_view stream, Database& target) {
        return raw_.archive_to(stream, target);
    }
    void restore(std::string_view stream) { raw_.restore(stream); }
    int64_t restore(std::string_view stream, std::string_view attached_schema) {
        return raw_.restore_from(stream, attached_schema);
    }
    int64_t restore(std::string_view stream, Database& source) {
        return raw_.restore_from(stream, source);
    }
    int64_t tombstone(std::string_view stream, std::optional<std::string_view> reason = {}) {
        return raw_.tombstone(stream, reason);
    }
    std::optional<Tombstone> is_tombstoned(std::string_view stream) const {
        return raw_.is_tombstoned(stream);
    }
    int64_t remove(std::string_view stream) { return raw_.remove(stream); }

    // Folds the stream: evolve(state, event) for each event from the start, or from the
    // snapshot's version on when snapshots gives a current one.
    template <class S, class Evolve, class Snapshots = std::nullptr_t>
    Aggregate<S> aggregate(std::string_view stream, S initial, Evolve evolve,
                           Snapshots* snapshots = nullptr) const {
        Aggregate<S> a{std::move(initial), 0};
        if constexpr (!std::is_same_v<Snapshots, std::nullptr_t>) {
            if (snapshots) {
                if (auto snap = snapshots->load(stream); snap && snap->current()) {
                    a.state = std::move(snap->state);
                    a.version = snap->version;
                }
            }
        }
        for (const RecordedEvent<E>& e : load_from(stream, a.version + 1)) {
            evolve(a.state, e);
            a.version = e.version;
        }
        return a;
    }

    // Decodes a stored event (nullopt: an unknown type the store skips).
    std::optional<RecordedEvent<E>> decode(const RawEventView& raw) const {
        RecordedEvent<E> out;
        const detail::Alternative<E>* alt = types_.find(raw.type);
        if (!alt) return unknown(raw, out);
        static_cast<EventMeta&>(out) = raw.meta();
        const Codec& codec = options_.codecs->get(raw.codec);
        if (raw.schema_version == alt->version) {
            alt->decode(codec, raw.data, out.data);
        } else if (raw.schema_version < alt->version) {
            Value v = codec.decode(raw.data);
            options_.upcasters.lift(alt->name, raw.schema_version, alt->version, v);
            alt->from_value(v, out.data);
            out.schema_version = alt->version;
        } else {
            throw CodecError("eskit: event " + std::string(raw.event_id) + " of type '" +
                             std::string(raw.type) + "' has schema version " +
                             std::to_string(raw.schema_version) + ", newer than this program's " +
                             std::to_string(alt->version));
        }
        return out;
    }

    RawStore& raw() noexcept { return raw_; }
    const EventTypes<E>& types() const noexcept { return types_; }
    const StoreOptions<E>& options() const noexcept { return options_; }

  private:
    EncodedEvent encode(const E& e, const EventOptions& options) const {
        const EventInfo& info = types_.info_of(e);
        EncodedEvent out;
        out.type = info.name;
        out.schema_version = info.version;
        out.codec = options_.write_codec->name();
        out.options = options;
        if constexpr (detail::is_variant<E>::value) {
            std::visit(
                [&](const auto& alt) {
                    if constexpr (EventType<std::decay_t<decltype(alt)>>) {
                        eskit::encode(*options_.write_codec, alt, out.data);
                    }
                },
                e);
        } else {
            eskit::encode(*options_.write_codec, e, out.data);
        }
        return out;
    }

    // A replay's answer: the events the earlier append wrote, decoded as a load would.
    std::vector<RecordedEvent<E>> decoded(const std::vector<RawEvent>& stored) const {
        std::vector<RecordedEvent<E>> out;
        out.reserve(stored.size());
        for (const RawEvent& e : stored) {
            if (auto d = decode(e)) out.push_back(std::move(*d));
        }
        return out;
    }

    std::vector<RecordedEvent<E>> recorded(std::vector<EventMeta> metas,
                                           const std::vector<E>& events) const {
        std::vector<RecordedEvent<E>> out;
        out.reserve(metas.size());
        const bool same = metas.size() == events.size();
        for (size_t i = 0; i < metas.size(); ++i) {
            RecordedEvent<E> r;
            static_cast<EventMeta&>(r) = std::move(metas[i]);
            if (same) r.data = events[i];
            out.push_back(std::move(r));
        }
        return out;
    }

    std::optional<RecordedEvent<E>> unknown(const RawEventView& raw, RecordedEvent<E>& out) const {
        switch (options_.unknown_types) {
            case UnknownTypes::Skip: return std::nullopt;
            case UnknownTypes::Raw:
                if constexpr (detail::is_variant<E>::value) {
                    if constexpr (requires { out.data = UnknownEvent{}; }) {
                        static_cast<EventMeta&>(out) = raw.meta();
                        out.data = UnknownEvent{std::string(raw.type), std::string(raw.codec),
                                                raw.schema_version, std::string(raw.data)};
                        return out;
                    }
                }
                [[fallthrough]];
            case UnknownTypes::Error: break;
        }
        throw CodecError("eskit: event " + std::string(raw.event_id) + " in stream '" +
                         std::string(raw.stream_id) + "' has type '" + std::string(raw.type) +
                         "', which this store does not know");
    }

    static constexpr bool holds_unknown() {
        if constexpr (detail::is_variant<E>::value) {
            return requires(E & e) { e = UnknownEvent{}; };
        } else {
            return false;
        }
    }

    RawStore raw_;
    StoreOptions<E> options_;
    EventTypes<E> types_;
};

}  // namespace eskit
