// Describing C++ types once, for every codec.
//
//     struct Item { std::string sku; int qty = 0; double price = 0; };
//     ESKIT_FIELDS(Item, sku, qty, price);
//     enum class Status { Pending, Paid };
//     ESKIT_ENUM(Status, Pending, Paid);
//     struct OrderPlaced { std::string order_id; std::vector<Item> items; ... };
//     ESKIT_FIELDS(OrderPlaced, (order_id, "orderId"), items);   // (member, "wire name")
//
// Write the macros at namespace scope, in the namespace of the type (they are found by ADL).
// Up to 64 fields. A described struct is an object on the wire whose keys are the field names;
// a described enum is a string (its enumerator names), an undescribed enum its underlying
// integer.
//
// Field types: bool; every integer type (range-checked on decode; not char, wchar_t, charN_t);
// float, double; std::string; eskit::Bytes; eskit::Value; enums; described structs;
// std::optional<T> (as a struct member: omitted when empty, absent or null when decoding;
// elsewhere null); std::vector<T>; std::map<std::string, T> and std::unordered_map<std::string,
// T> (written in key order, so the bytes never depend on hashing); and any type with an
// eskit::Adapter specialisation (a conversion to a supported type):
//
//     template <> struct eskit::Adapter<Money> {
//         using wire = std::int64_t;
//         static wire to_wire(const Money& m) { return m.cents; }
//         static Money from_wire(wire&& cents) { return Money{cents}; }  // may throw CodecError
//     };
//
// Decoding ignores unknown keys, leaves fields missing from the input as they are (their
// defaults in a fresh object), lets the last of duplicate keys win, and rejects a wrong kind or
// an out-of-range number with a CodecError naming the path: `items[2].qty: expected an integer,
// got a string`. Integer fields do not accept floating-point values, and null is accepted only
// by std::optional and eskit::Value.
#pragma once

#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <eskit/detail/pp.hpp>
#include <eskit/value.hpp>
#include <eskit/wire.hpp>

// --- the declarations -------------------------------------------------------------------------

#define ESKIT_FIELDS(T, ...)                                                           \
    [[maybe_unused]] constexpr auto eskit_describe(::eskit::detail::tag<T>) noexcept { \
        return ::eskit::detail::describe<T>(                                           \
            #T __VA_OPT__(, ESKIT_PP_FOR_EACH(ESKIT_DETAIL_FIELD, T, __VA_ARGS__)));   \
    }                                                                                  \
    static_assert(true)

#define ESKIT_ENUM(E, ...)                                                                  \
    [[maybe_unused]] constexpr auto eskit_describe_enum(::eskit::detail::tag<E>) noexcept { \
        return ::eskit::detail::describe_enum<E>(                                           \
            #E, ESKIT_PP_FOR_EACH(ESKIT_DETAIL_ENUMERATOR, E, __VA_ARGS__));                \
    }                                                                                       \
    static_assert(true)

// x or (x, "wire name")
#define ESKIT_PP_IS_PAREN(x) ESKIT_PP_IS_PAREN_I(ESKIT_PP_IS_PAREN_PROBE x)
#define ESKIT_PP_IS_PAREN_PROBE(...) ~, 1
#define ESKIT_PP_IS_PAREN_I(...) ESKIT_PP_SECOND(__VA_ARGS__, 0, ~)
#define ESKIT_PP_SECOND(a, b, ...) b
#define ESKIT_PP_REM(...) __VA_ARGS__
#define ESKIT_PP_CALL(m, ...) m(__VA_ARGS__)

#define ESKIT_DETAIL_FIELD(T, x) ESKIT_PP_CAT(ESKIT_DETAIL_FIELD_, ESKIT_PP_IS_PAREN(x))(T, x)
#define ESKIT_DETAIL_FIELD_0(T, x) ::eskit::detail::field(#x, &T::x)
#define ESKIT_DETAIL_FIELD_1(T, x) ESKIT_PP_CALL(ESKIT_DETAIL_FIELD_NAMED, T, ESKIT_PP_REM x)
#define ESKIT_DETAIL_FIELD_NAMED(T, x, wire) ::eskit::detail::field(wire, &T::x)

#define ESKIT_DETAIL_ENUMERATOR(E, x) \
    ESKIT_PP_CAT(ESKIT_DETAIL_ENUMERATOR_, ESKIT_PP_IS_PAREN(x))(E, x)
#define ESKIT_DETAIL_ENUMERATOR_0(E, x) ::eskit::detail::enumerator(#x, E::x)
#define ESKIT_DETAIL_ENUMERATOR_1(E, x) \
    ESKIT_PP_CALL(ESKIT_DETAIL_ENUMERATOR_NAMED, E, ESKIT_PP_REM x)
#define ESKIT_DETAIL_ENUMERATOR_NAMED(E, x, wire) ::eskit::detail::enumerator(wire, E::x)

namespace eskit {

// Specialise for a type to convert it to and from a supported `wire` type (see above).
template <class T, class = void>
struct Adapter {};

namespace detail {

template <class T>
struct tag {};

template <class C, class M>
struct Field {
    std::string_view name;
    M C::*ptr;
};
template <class C, class M>
constexpr Field<C, M> field(std::string_view name, M C::*ptr) noexcept {
    return {name, ptr};
}

template <class T, class... F>
struct Description {
    std::string_view name;
    std::tuple<F...> fields;
    static constexpr std::size_t size = sizeof...(F);
};
template <class T, class... F>
constexpr Description<T, F...> describe(std::string_view name, F... fields) noexcept {
    return {name, std::tuple<F...>{fields...}};
}

template <class E>
struct Enumerator {
    std::string_view name;
    E value;
};
template <class E>
constexpr Enumerator<E> enumerator(std::string_view name, E value) noexcept {
    return {name, value};
}
template <class E, std::size_t N>
struct EnumDescription {
    std::string_view name;
    std::array<std::string_view, N> names;
    std::array<E, N> values;
};
template <class E, class... X>
constexpr EnumDescription<E, sizeof...(X)> describe_enum(std::string_view name, X... xs) noexcept {
    return {name, {xs.name...}, {xs.value...}};
}

template <class T>
concept described = std::is_class_v<T> && requires {
    eskit_describe(tag<T>{});
};
template <class E>
concept described_enum = std::is_enum_v<E> && requires {
    eskit_describe_enum(tag<E>{});
};
template <class T>
concept adapted = requires {
    typename Adapter<T>::wire;
};

template <class T>
inline constexpr auto description_of = eskit_describe(tag<T>{});
template <class E>
inline constexpr auto enum_description_of = eskit_describe_enum(tag<E>{});

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};
template <class T>
struct is_string_map : std::false_type {};
template <class T>
struct is_string_map<std::map<std::string, T>> : std::true_type {};
template <class T>
struct is_string_map<std::map<std::string, T, std::less<>>> : std::true_type {};
template <class T>
struct is_string_map<std::unordered_map<std::string, T>> : std::true_type {};

template <class T>
concept integer = std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char> &&
                  !std::same_as<T, wchar_t> && !std::same_as<T, char8_t> &&
                  !std::same_as<T, char16_t> && !std::same_as<T, char32_t>;

template <class>
inline constexpr bool unsupported = false;

// Field names: all distinct, and the CBOR order (shorter first, then bytewise).
template <class T>
constexpr auto names_of_impl() noexcept {
    return std::apply(
        [](const auto&... f) { return std::array<std::string_view, sizeof...(f)>{f.name...}; },
        description_of<T>.fields);
}
template <class T>
inline constexpr auto names_of = names_of_impl<T>();

constexpr bool cbor_key_less(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return a.size() < b.size();
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if (x != y) return x < y;
    }
    return false;
}
// Wire names are non-empty and free of '"', '\\' and control characters, so that codecs may
// compare them with keys as they stand in the input (Reader::next_member).
template <std::size_t N>
constexpr bool plain(const std::array<std::string_view, N>& names) noexcept {
    for (std::string_view name : names) {
        if (name.empty()) return false;
        for (char c : name)
            if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return false;
    }
    return true;
}

template <std::size_t N>
constexpr bool distinct(const std::array<std::string_view, N>& names) noexcept {
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = i + 1; j < N; ++j)
            if (names[i] == names[j]) return false;
    return true;
}
template <std::size_t N>
constexpr std::array<std::size_t, N> cbor_order(const std::array<std::string_view, N>& names) {
    std::array<std::size_t, N> order{};
    for (std::size_t i = 0; i < N; ++i) order[i] = i;
    for (std::size_t i = 1; i < N; ++i)  // insertion sort: constexpr and N is small
        for (std::size_t j = i; j > 0 && cbor_key_less(names[order[j]], names[order[j - 1]]); --j)
            std::swap(order[j], order[j - 1]);
    return order;
}
template <class T>
inline constexpr auto cbor_order_of = cbor_order(names_of<T>);

// Calls f.template operator()<I>() for the runtime index i < N.
template <std::size_t N, class F>
constexpr void with_index(std::size_t i, F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (void)((i == I ? (f.template operator()<I>(), true) : false) || ...);
    }
    (std::make_index_sequence<N>{});
}

template <class T>
void read_into(Reader& r, Kind k, Scalar& s, T& v);

// Out of line (value.cpp): Value on the wire, and Value as a Writer/Reader target/source.
void write_value(Writer& w, const Value& v);
void read_value(Reader& r, Kind k, Scalar& s, Value& out);
Value build_value(FunctionRef<void(Writer&)> produce);
void read_from_value(const Value& v, FunctionRef<void(Reader&)> consume);
// Sorts the indices [0, n) of keys: in CBOR order (shorter first, then bytewise), else bytewise.
void sort_keys(std::span<const std::string_view> keys, std::span<std::size_t> order, bool cbor);

}  // namespace detail

template <class T>
void serialize(Writer& w, const T& v);
template <class T>
void deserialize(Reader& r, T& v);

namespace detail {

template <class T, std::size_t I>
void write_field(Writer& w, const T& v) {
    constexpr auto f = std::get<I>(description_of<T>.fields);
    const auto& m = v.*(f.ptr);
    using M = std::remove_cvref_t<decltype(m)>;
    try {
        if constexpr (is_optional<M>::value) {
            if (!m) return;  // an empty optional member is omitted
            w.key(f.name);
            serialize(w, *m);
        } else {
            w.key(f.name);
            serialize(w, m);
        }
    } catch (CodecError& e) {
        e.prepend_field(f.name);
        throw;
    }
}

template <class M>
constexpr bool omitted(const M& m) noexcept {
    if constexpr (is_optional<M>::value) {
        return !m.has_value();
    } else {
        (void)m;
        return false;
    }
}

template <class T>
void write_struct(Writer& w, const T& v) {
    constexpr auto& d = description_of<T>;
    constexpr std::size_t n = d.size;
    static_assert(distinct(names_of<T>), "ESKIT_FIELDS: two fields have the same wire name");
    static_assert(plain(names_of<T>),
                  "ESKIT_FIELDS: a wire name is empty or holds '\"', '\\' or a control character");
    std::size_t present = n;
    std::apply([&](const auto&... f) { ((present -= omitted(v.*(f.ptr)) ? 1u : 0u), ...); },
               d.fields);
    w.begin_object(present);
    if (w.sorted_keys()) {
        for (std::size_t i : cbor_order_of<T>)
            with_index<n>(i, [&]<std::size_t I>() { write_field<T, I>(w, v); });
    } else {
        [&]<std::size_t... I>(std::index_sequence<I...>) { (write_field<T, I>(w, v), ...); }
        (std::make_index_sequence<n>{});
    }
    w.end_object();
}

template <class M>
void write_map(Writer& w, const M& m) {
    w.begin_object(m.size());
    auto one = [&](const auto& kv) {
        w.key(kv.first);
        try {
            serialize(w, kv.second);
        } catch (CodecError& e) {
            e.prepend_field(kv.first);
            throw;
        }
    };
    // std::map is already in bytewise order; an unordered_map is sorted too, so that its
    // encoding does not depend on hashing.
    constexpr bool unordered =
        !std::is_same_v<M, std::map<std::string, typename M::mapped_type>> &&
        !std::is_same_v<M, std::map<std::string, typename M::mapped_type, std::less<>>>;
    if ((w.sorted_keys() || unordered) && m.size() > 1) {
        std::vector<const typename M::value_type*> items;
        items.reserve(m.size());
        for (const auto& kv : m) items.push_back(&kv);
        std::vector<std::string_view> keys;
        keys.reserve(m.size());
        for (const auto* kv : items) keys.emplace_back(kv->first);
        std::vector<std::size_t> order(m.size());
        sort_keys(keys, order, w.sorted_keys());
        for (std::size_t i : order) one(*items[i]);
    } else {
        for (const auto& kv : m) one(kv);
    }
    w.end_object();
}

// Reads field I if key is its name. The name's length is a constant here, so the comparison
// compiles to a few loads rather than a call to memcmp.
template <class T, std::size_t I>
bool read_field_named(Reader& r, T& v, std::string_view key) {
    constexpr auto f = std::get<I>(description_of<T>.fields);
    constexpr std::size_t len = f.name.size();
    if (key.size() != len) return false;
    if constexpr (len > 0) {
        if (std::memcmp(key.data(), f.name.data(), len) != 0) return false;
    }
    try {
        deserialize(r, v.*(f.ptr));
    } catch (CodecError& e) {
        e.prepend_field(f.name);
        throw;
    }
    return true;
}

// Field I whose value the reader has already read or entered (Reader::next_member).
template <class T, std::size_t I>
void read_field_value(Reader& r, Kind k, Scalar& s, T& v) {
    constexpr auto f = std::get<I>(description_of<T>.fields);
    try {
        read_into(r, k, s, v.*(f.ptr));
    } catch (CodecError& e) {
        e.prepend_field(f.name);
        throw;
    }
}

template <class T>
constexpr Kind expected_kind() noexcept;

template <class T>
struct FieldTable {
    static constexpr std::size_t n = description_of<T>.size;
    using Named = bool (*)(Reader&, T&, std::string_view);
    using Started = void (*)(Reader&, Kind, Scalar&, T&);
    template <std::size_t... I>
    static constexpr std::array<Named, n> named(std::index_sequence<I...>) noexcept {
        return {&read_field_named<T, I>...};
    }
    template <std::size_t... I>
    static constexpr std::array<Started, n> started(std::index_sequence<I...>) noexcept {
        return {&read_field_value<T, I>...};
    }
    template <std::size_t... I>
    static constexpr std::array<Kind, n> kinds(std::index_sequence<I...>) noexcept {
        return {expected_kind<std::remove_cvref_t<
            decltype(std::declval<T&>().*(std::get<I>(description_of<T>.fields).ptr))>>()...};
    }
    static constexpr auto by_name = named(std::make_index_sequence<n>{});
    static constexpr auto by_order = started(std::make_index_sequence<n>{});
    static constexpr auto kind = kinds(std::make_index_sequence<n>{});
};

template <class T>
void read_struct(Reader& r, Kind k, T& v) {
    if (k != Kind::object) throw_mismatch("an object", k);
    using Table = FieldTable<T>;
    constexpr std::size_t n = Table::n;
    static_assert(distinct(names_of<T>), "ESKIT_FIELDS: two fields have the same wire name");
    static_assert(plain(names_of<T>),
                  "ESKIT_FIELDS: a wire name is empty or holds '\"', '\\' or a control character");
    // Keys usually arrive in declaration order (CBOR: in its key order): expect the next one.
    static constexpr auto identity = [] {
        std::array<std::size_t, n> a{};
        for (std::size_t i = 0; i < n; ++i) a[i] = i;
        return a;
    }();
    const std::size_t* order = r.sorted_keys() ? cbor_order_of<T>.data() : identity.data();
    std::size_t pos = 0;  // in order[]
    std::string_view key;
    for (;;) {
        Reader::Step m;
        if (pos < n) {
            const std::size_t want = order[pos];
            Scalar s;
            Kind vk;
            key = {};
            try {
                m = r.next_member(key, names_of<T>[want], Table::kind[want], s, vk);
            } catch (CodecError& e) {  // key == want: the key was read, its value failed
                if (key == names_of<T>[want]) e.prepend_field(key);
                throw;
            }
            if (m == Reader::Step::value) {
                Table::by_order[want](r, vk, s, v);
                ++pos;
                continue;
            }
        } else {
            m = r.next_key(key) ? Reader::Step::key : Reader::Step::end;
        }
        if (m == Reader::Step::end) break;
        bool found = false;
        for (std::size_t j = 0; j < n; ++j) {
            if (Table::by_name[order[j]](r, v, key)) {
                pos = j + 1;
                found = true;
                break;
            }
        }
        if (!found) {  // an unknown key: forward compatibility
            try {
                r.skip();
            } catch (CodecError& e) {
                e.prepend_field(key);
                throw;
            }
        }
    }
}

template <class E>
void write_enum(Writer& w, E v) {
    constexpr auto& d = enum_description_of<E>;
    for (std::size_t i = 0; i < d.values.size(); ++i) {
        if (d.values[i] == v) return w.string(d.names[i]);
    }
    throw_enum_value(d.name, static_cast<std::int64_t>(v));
}

template <class T>
void read_into(Reader& r, Kind k, Scalar& s, T& v) {
    if constexpr (adapted<T>) {
        typename Adapter<T>::wire w{};
        read_into(r, k, s, w);
        v = Adapter<T>::from_wire(std::move(w));
    } else if constexpr (std::is_same_v<T, Value>) {
        read_value(r, k, s, v);
    } else if constexpr (std::is_same_v<T, bool>) {
        if (k != Kind::boolean) throw_mismatch("a boolean", k);
        v = s.boolean;
    } else if constexpr (described_enum<T>) {
        if (k != Kind::string) throw_mismatch("a string", k);
        constexpr auto& d = enum_description_of<T>;
        for (std::size_t i = 0; i < d.names.size(); ++i) {
            if (d.names[i] == s.string) {
                v = d.values[i];
                return;
            }
        }
        throw_enum_name(d.names, s.string);
    } else if constexpr (std::is_enum_v<T>) {
        std::underlying_type_t<T> u{};
        read_into(r, k, s, u);
        v = static_cast<T>(u);
    } else if constexpr (integer<T>) {
        if (k == Kind::int64) {
            if (std::in_range<T>(s.int64)) {
                v = static_cast<T>(s.int64);
                return;
            }
        } else if (k == Kind::uint64) {
            if (std::in_range<T>(s.uint64)) {
                v = static_cast<T>(s.uint64);
                return;
            }
        } else {
            throw_mismatch("an integer", k);
        }
        throw_int_range(static_cast<std::int64_t>(std::numeric_limits<T>::min()),
                        static_cast<std::uint64_t>(std::numeric_limits<T>::max()), k, s);
    } else if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
        double d;
        if (k == Kind::float64) {
            d = s.float64;
        } else if (k == Kind::int64) {
            d = static_cast<double>(s.int64);
        } else if (k == Kind::uint64) {
            d = static_cast<double>(s.uint64);
        } else {
            throw_mismatch("a number", k);
        }
        if constexpr (std::is_same_v<T, float>) {
            if (std::isfinite(d) &&
                std::fabs(d) > static_cast<double>(std::numeric_limits<float>::max()))
                throw_float_range(d);
            v = static_cast<float>(d);
        } else {
            v = d;
        }
    } else if constexpr (std::is_same_v<T, std::string>) {
        if (k != Kind::string) throw_mismatch("a string", k);
        v.assign(s.string);
    } else if constexpr (std::is_same_v<T, Bytes>) {
        if (k == Kind::bytes) {
            const auto* p = reinterpret_cast<const std::byte*>(s.string.data());
            v.vector().assign(p, p + s.string.size());
        } else if (k == Kind::string) {  // how JSON carries bytes
            std::string raw;
            if (!base64_decode(s.string, raw))
                throw CodecError("invalid base64 text for a byte string");
            v = Bytes(std::string_view(raw));
        } else {
            throw_mismatch("a byte string", k);
        }
    } else if constexpr (is_optional<T>::value) {
        if (k == Kind::null) {
            v.reset();
        } else {
            if (!v) v.emplace();
            read_into(r, k, s, *v);
        }
    } else if constexpr (is_vector<T>::value) {
        if (k != Kind::array) throw_mismatch("an array", k);
        v.clear();
        if (s.size_hint) v.reserve(s.size_hint);  // bounded by the input size (see codecs)
        std::size_t i = 0;
        while (r.next_element()) {
            try {
                if constexpr (std::is_same_v<typename T::value_type, bool>) {
                    bool b = false;
                    deserialize(r, b);
                    v.push_back(b);
                } else {
                    deserialize(r, v.emplace_back());
                }
            } catch (CodecError& e) {
                e.prepend_index(i);
                throw;
            }
            ++i;
        }
    } else if constexpr (is_string_map<T>::value) {
        if (k != Kind::object) throw_mismatch("an object", k);
        v.clear();
        std::string_view key;
        while (r.next_key(key)) {
            auto& slot = *v.try_emplace(std::string(key)).first;
            slot.second = typename T::mapped_type{};  // a duplicate key: the last one wins
            try {
                deserialize(r, slot.second);
            } catch (CodecError& e) {
                e.prepend_field(slot.first);
                throw;
            }
        }
    } else if constexpr (described<T>) {
        read_struct(r, k, v);
    } else {
        static_assert(unsupported<T>,
                      "eskit: this type has no wire form; describe it with ESKIT_FIELDS or "
                      "ESKIT_ENUM, or specialise eskit::Adapter");
    }
}

}  // namespace detail

// Writes v through any codec's Writer.
template <class T>
void serialize(Writer& w, const T& v) {
    using namespace detail;
    if constexpr (adapted<T>) {
        serialize(w, Adapter<T>::to_wire(v));
    } else if constexpr (std::is_same_v<T, Value>) {
        write_value(w, v);
    } else if constexpr (std::is_same_v<T, bool>) {
        w.boolean(v);
    } else if constexpr (described_enum<T>) {
        write_enum(w, v);
    } else if constexpr (std::is_enum_v<T>) {
        serialize(w, static_cast<std::underlying_type_t<T>>(v));
    } else if constexpr (integer<T>) {
        if constexpr (std::is_signed_v<T>) {
            w.int64(static_cast<std::int64_t>(v));
        } else if (static_cast<std::uint64_t>(v) <= 0x7fffffffffffffffULL) {
            w.int64(static_cast<std::int64_t>(v));
        } else {
            w.uint64(static_cast<std::uint64_t>(v));
        }
    } else if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
        w.float64(static_cast<double>(v));
    } else if constexpr (std::is_same_v<T, std::string>) {
        w.string(v);
    } else if constexpr (std::is_same_v<T, Bytes>) {
        w.bytes(v.span());
    } else if constexpr (is_optional<T>::value) {
        if (v) {
            serialize(w, *v);
        } else {
            w.null();
        }
    } else if constexpr (is_vector<T>::value) {
        w.begin_array(v.size());
        std::size_t i = 0;
        for (const auto& e : v) {
            try {
                if constexpr (std::is_same_v<typename T::value_type, bool>) {
                    w.boolean(static_cast<bool>(e));
                } else {
                    serialize(w, e);
                }
            } catch (CodecError& err) {
                err.prepend_index(i);
                throw;
            }
            ++i;
        }
        w.end_array();
    } else if constexpr (is_string_map<T>::value) {
        write_map(w, v);
    } else if constexpr (described<T>) {
        write_struct(w, v);
    } else {
        static_assert(unsupported<T>,
                      "eskit: this type has no wire form; describe it with ESKIT_FIELDS or "
                      "ESKIT_ENUM, or specialise eskit::Adapter");
    }
}

namespace detail {
// The kind a T reads from, as a hint to Reader::read_expecting (Kind::null: no hint).
template <class T>
constexpr Kind expected_kind() noexcept {
    if constexpr (adapted<T>) {
        return expected_kind<typename Adapter<T>::wire>();
    } else if constexpr (std::is_same_v<T, Value> || std::is_same_v<T, Bytes>) {
        return Kind::null;
    } else if constexpr (std::is_same_v<T, bool>) {
        return Kind::boolean;
    } else if constexpr (described_enum<T> || std::is_same_v<T, std::string>) {
        return Kind::string;
    } else if constexpr (std::is_enum_v<T> || integer<T>) {
        return Kind::int64;
    } else if constexpr (std::is_floating_point_v<T>) {
        return Kind::float64;
    } else if constexpr (is_optional<T>::value) {
        return expected_kind<typename T::value_type>();
    } else if constexpr (is_vector<T>::value) {
        return Kind::array;
    } else if constexpr (is_string_map<T>::value || described<T>) {
        return Kind::object;
    } else {
        return Kind::null;
    }
}
}  // namespace detail

// Reads the next value of r into v.
template <class T>
void deserialize(Reader& r, T& v) {
    Scalar s;
    constexpr Kind hint = detail::expected_kind<T>();
    const Kind k = hint == Kind::null ? r.read(s) : r.read_expecting(s, hint);
    detail::read_into(r, k, s, v);
}

// The name given to ESKIT_FIELDS / ESKIT_ENUM ("OrderPlaced").
template <class T>
requires detail::described<T> || detail::described_enum<T>
constexpr std::string_view type_name() noexcept {
    if constexpr (detail::described<T>)
        return detail::description_of<T>.name;
    else
        return detail::enum_description_of<T>.name;
}

// Typed <-> Value, through the same machinery as the codecs. Errors carry the path and no codec.
template <class T>
Value to_value(const T& v) {
    if constexpr (std::is_same_v<T, Value>) {
        return v;
    } else {
        return detail::build_value([&](Writer& w) { serialize(w, v); });
    }
}
template <class T>
void from_value(const Value& v, T& out) {
    detail::read_from_value(v, [&](Reader& r) { deserialize(r, out); });
}
template <class T>
T from_value(const Value& v) {
    T out{};
    from_value(v, out);
    return out;
}

}  // namespace eskit
