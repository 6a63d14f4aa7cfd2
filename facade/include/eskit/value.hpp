// eskit::Bytes (raw bytes as a field type) and eskit::Value (a dynamic document).
//
// A Value is null, a boolean, an integer (int64, or uint64 above INT64_MAX), a double, a UTF-8
// string, bytes, an array or an object (an ordered list of key/value pairs). Codecs decode to
// and encode from it; upcasters receive one, edit it, and the typed decode reads it
// (eskit::from_value in <eskit/fields.hpp>).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <eskit/wire.hpp>

namespace eskit {

// Raw bytes. CBOR writes a byte string; JSON writes standard base64 text (RFC 4648, padded).
class Bytes {
  public:
    Bytes() = default;
    explicit Bytes(std::span<const std::byte> b) : data_(b.begin(), b.end()) {}
    explicit Bytes(std::string_view chars);  // the chars' bytes, verbatim
    Bytes(std::initializer_list<std::uint8_t> b);

    const std::byte* data() const noexcept { return data_.data(); }
    std::byte* data() noexcept { return data_.data(); }
    std::size_t size() const noexcept { return data_.size(); }
    bool empty() const noexcept { return data_.empty(); }
    std::span<const std::byte> span() const noexcept { return data_; }
    std::string_view view() const noexcept {  // the bytes as chars
        return {reinterpret_cast<const char*>(data_.data()), data_.size()};
    }
    std::vector<std::byte>& vector() noexcept { return data_; }
    const std::vector<std::byte>& vector() const noexcept { return data_; }

    friend bool operator==(const Bytes&, const Bytes&) = default;

  private:
    std::vector<std::byte> data_;
};

class Value;
struct Member;

class Value {
  public:
    using Array = std::vector<Value>;
    using Object = std::vector<Member>;

    // The constructors are defined below, once Member is complete (clang needs it).
    Value() noexcept;  // null
    Value(std::nullptr_t) noexcept;
    Value(bool b) noexcept;
    template <std::integral I>
    requires(!std::same_as<I, bool> && !std::same_as<I, char> && !std::same_as<I, wchar_t> &&
             !std::same_as<I, char8_t> && !std::same_as<I, char16_t> && !std::same_as<I, char32_t>)
        Value(I i)
    noexcept;
    Value(double d) noexcept;
    Value(float f) noexcept;
    Value(std::string s) noexcept;
    Value(std::string_view s);
    Value(const char* s);
    Value(Bytes b) noexcept;
    Value(Array a) noexcept;
    Value(Object o) noexcept;

    static Value array(std::initializer_list<Value> items = {});
    static Value object(std::initializer_list<Member> members = {});

    Kind kind() const noexcept { return static_cast<Kind>(v_.index()); }
    bool is_null() const noexcept { return kind() == Kind::null; }
    bool is_bool() const noexcept { return kind() == Kind::boolean; }
    bool is_integer() const noexcept { return kind() == Kind::int64 || kind() == Kind::uint64; }
    bool is_double() const noexcept { return kind() == Kind::float64; }
    bool is_number() const noexcept { return is_integer() || is_double(); }
    bool is_string() const noexcept { return kind() == Kind::string; }
    bool is_bytes() const noexcept { return kind() == Kind::bytes; }
    bool is_array() const noexcept { return kind() == Kind::array; }
    bool is_object() const noexcept { return kind() == Kind::object; }

    // Checked accessors: a wrong kind (or an integer out of range) throws CodecError, e.g.
    // "expected an integer, got a string".
    bool as_bool() const;
    std::int64_t as_int64() const;
    std::uint64_t as_uint64() const;
    double as_double() const;  // integers convert
    const std::string& as_string() const;
    std::string& as_string();
    const Bytes& as_bytes() const;
    Bytes& as_bytes();
    const Array& as_array() const;
    Array& as_array();
    const Object& as_object() const;
    Object& as_object();

    // Unchecked access: nullptr when the kind differs.
    template <class T>
    T* get_if() noexcept {
        return std::get_if<T>(&v_);
    }
    template <class T>
    const T* get_if() const noexcept {
        return std::get_if<T>(&v_);
    }

    // Objects. Lookups are linear (objects of events are small) and find the first match.
    Value* find(std::string_view key) noexcept;
    const Value* find(std::string_view key) const noexcept;
    bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }
    const Value& at(std::string_view key) const;  // missing key: CodecError "no member 'k'"
    Value& at(std::string_view key);
    Value& operator[](std::string_view key);    // finds or appends a null member; null -> {}
    Value& set(std::string_view key, Value v);  // replaces or appends
    bool erase(std::string_view key);           // false if absent
    // Renames the member in place (keeps its position). False if `from` is absent; an existing
    // `to` member is removed first.
    bool rename(std::string_view from, std::string_view to);

    // Arrays (size() also counts object members; 0 for scalars).
    std::size_t size() const noexcept;
    const Value& at(std::size_t index) const;  // out of range: CodecError
    Value& at(std::size_t index);
    Value& operator[](std::size_t index) { return at(index); }
    Value& push_back(Value v);  // null -> []

    friend bool operator==(const Value& a, const Value& b) noexcept;

  private:
    std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double, std::string, Bytes,
                 Array, Object>
        v_;
};

struct Member {
    std::string key;
    Value value;
    friend bool operator==(const Member&, const Member&) = default;
};

inline Value::Value() noexcept = default;
inline Value::Value(std::nullptr_t) noexcept {}
inline Value::Value(bool b) noexcept : v_(b) {}
template <std::integral I>
requires(!std::same_as<I, bool> && !std::same_as<I, char> && !std::same_as<I, wchar_t> &&
         !std::same_as<I, char8_t> && !std::same_as<I, char16_t> &&
         !std::same_as<I, char32_t>) inline Value::Value(I i) noexcept {
    if constexpr (std::is_signed_v<I>) {
        v_ = static_cast<std::int64_t>(i);
    } else if (static_cast<std::uint64_t>(i) <= 0x7fffffffffffffffULL) {
        v_ = static_cast<std::int64_t>(i);
    } else {
        v_ = static_cast<std::uint64_t>(i);
    }
}
inline Value::Value(double d) noexcept : v_(d) {}
inline Value::Value(float f) noexcept : v_(static_cast<double>(f)) {}
inline Value::Value(std::string s) noexcept : v_(std::move(s)) {}
inline Value::Value(std::string_view s) : v_(std::string(s)) {}
inline Value::Value(const char* s) : v_(std::string(s)) {}
inline Value::Value(Bytes b) noexcept : v_(std::move(b)) {}
inline Value::Value(Array a) noexcept : v_(std::move(a)) {}
inline Value::Value(Object o) noexcept : v_(std::move(o)) {}

}  // namespace eskit
