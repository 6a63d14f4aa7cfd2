// Event types, declared once next to the type, and upcasters between their schema versions.
//
//     struct OrderPlaced { std::string order_id; double total = 0; };
//     ESKIT_FIELDS(OrderPlaced, order_id, total);
//     ESKIT_EVENT(OrderPlaced, "OrderPlaced", 2, "order_placed");  // name, version, old names
//
//     using OrderEvent = std::variant<OrderPlaced, OrderPaid>;     // E of a Store<E>
//
//     eskit::Upcasters up;
//     up.add<OrderPlaced>(1, [](eskit::Value& v) {                 // version 1 -> 2
//         v.rename("amount", "total");
//     });
//
// The stored type name is the declared one; aliases are names it was stored under before a
// rename (read, never written). An append stamps the type's current version; a load lifts an
// older payload through the type's upcasters, k -> k+1 -> ... -> current, each step a function
// on the decoded payload (an eskit::Value), so one chain serves every codec. A type's steps must
// form one unbroken chain ending at its current version: a gap, or a step at or beyond the
// current version, is an error when the Store is built, not when an old event is first loaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <typeindex>
#include <variant>
#include <vector>

#include <eskit/codec.hpp>
#include <eskit/error.hpp>
#include <eskit/value.hpp>

namespace eskit {

struct EventInfo {
    std::string_view name;
    int64_t version;
    std::span<const std::string_view> aliases;
};

#define ESKIT_EVENT(T, NAME, VERSION, ...)                                              \
    inline const ::eskit::EventInfo& eskit_event_info(const T*) {                       \
        static constexpr std::string_view aliases_[] = {"" __VA_OPT__(, ) __VA_ARGS__}; \
        static const ::eskit::EventInfo info{                                           \
            NAME, VERSION,                                                              \
            std::span<const std::string_view>(aliases_ + 1, std::size(aliases_) - 1)};  \
        static_assert((VERSION) >= 1, "ESKIT_EVENT: the schema version starts at 1");   \
        return info;                                                                    \
    }

template <class T>
concept EventType = requires(const T* p) {
    { eskit_event_info(p) } -> std::convertible_to<const EventInfo&>;
};

template <EventType T>
const EventInfo& event_info() {
    return eskit_event_info(static_cast<const T*>(nullptr));
}

// A stored event of a type the store's E does not know, delivered as it is stored (when E is a
// variant holding UnknownEvent and the store's policy says so).
struct UnknownEvent {
    std::string type;
    std::string codec;
    int64_t schema_version = 1;
    std::string data;  // undecoded bytes
};

enum class UnknownTypes {
    Error,  // loading it fails (the default): a type the program forgot is not silently lost
    Skip,   // left out of loads and reads
    Raw,    // delivered as UnknownEvent (E must be a variant with an UnknownEvent alternative)
};

class Upcasters {
  public:
    using Step = std::function<void(Value&)>;

    // Adds the step that lifts T's payload from schema version `from` to from + 1.
    template <EventType T>
    Upcasters& add(int64_t from, Step step) {
        return add(event_info<T>().name, event_info<T>().version, from, std::move(step));
    }
    Upcasters& add(std::string_view type, int64_t current, int64_t from, Step step);

    // Lifts v (stored at version `from`) to the type's current version.
    void lift(std::string_view type, int64_t from, int64_t to, Value& v) const;
    // Every chain is complete (see above); throws CodecError naming the first broken one.
    void validate() const;
    bool empty() const noexcept { return chains_.empty(); }

  private:
    struct Chain {
        int64_t current = 0;
        std::map<int64_t, Step> steps;  // from -> step
    };
    std::map<std::string, Chain, std::less<>> chains_;
};

namespace detail {

template <class E>
struct is_variant : std::false_type {};
template <class... Ts>
struct is_variant<std::variant<Ts...>> : std::true_type {};

// One alternative of E, as the type registry sees it.
template <class E>
struct Alternative {
    std::string_view name;
    int64_t version;
    std::span<const std::string_view> aliases;
    // bytes of codec c -> E holding this alternative
    void (*decode)(const Codec& c, std::string_view bytes, E& out);
    void (*from_value)(const Value& v, E& out);
};

template <class E, class T>
Alternative<E> alternative() {
    const EventInfo& i = event_info<T>();
    return {i.name, i.version, i.aliases,
            [](const Codec& c, std::string_view bytes, E& out) {
                T t{};
                eskit::decode(c, bytes, t);
                out = std::move(t);
            },
            [](const Value& v, E& out) {
                T t{};
                eskit::from_value(v, t);
                out = std::move(t);
            }};
}

template <class E>
struct Alternatives;
template <class... Ts>
struct Alternatives<std::variant<Ts...>> {
    static std::vector<Alternative<std::variant<Ts...>>> list() {
        std::vector<Alternative<std::variant<Ts...>>> out;
        (
            [&] {
                if constexpr (EventType<Ts>) out.push_back(alternative<std::variant<Ts...>, Ts>());
            }(),
            ...);
        return out;
    }
};

}  // namespace detail

// The event types of a store's E (one ESKIT_EVENT type, or a variant of them): stored name and
// version to alternative, and back.
template <class E>
class EventTypes {
  public:
    EventTypes() {
        if constexpr (detail::is_variant<E>::value) {
            list_ = detail::Alternatives<E>::list();
        } else {
            static_assert(EventType<E>,
                          "Store<E>: E must be declared with ESKIT_EVENT, or be a "
                          "std::variant of such types");
            list_.push_back(detail::alternative<E, E>());
        }
        for (size_t i = 0; i < list_.size(); ++i) {
            index(list_[i].name, i);
            for (std::string_view a : list_[i].aliases) index(a, i);
        }
    }

    // The alternative stored under `type` (a name or an alias), or nullptr.
    const detail::Alternative<E>* find(std::string_view type) const {
        auto it = by_name_.find(type);
        return it == by_name_.end() ? nullptr : &list_[it->second];
    }
    // Name and current version of the alternative e holds.
    const EventInfo& info_of(const E& e) const {
        if constexpr (detail::is_variant<E>::value) {
            return std::visit(
                [](const auto& alt) -> const EventInfo& {
                    using T = std::decay_t<decltype(alt)>;
                    if constexpr (EventType<T>) {
                        return event_info<T>();
                    } else {
                        throw CodecError(
                            "eskit: this alternative of the event variant has no "
                            "ESKIT_EVENT declaration and cannot be appended");
                    }
                },
                e);
        } else {
            return event_info<E>();
        }
    }
    const std::vector<detail::Alternative<E>>& all() const noexcept { return list_; }

  private:
    void index(std::string_view name, size_t i) {
        auto [it, added] = by_name_.emplace(std::string(name), i);
        if (!added && it->second != i) {
            throw CodecError("eskit: event type name '" + std::string(name) +
                             "' is declared by two alternatives of the store's event type");
        }
    }
    std::vector<detail::Alternative<E>> list_;
    std::map<std::string, size_t, std::less<>> by_name_;
};

}  // namespace eskit
