// Types shared by the facade codec tests.
#pragma once

#include <eskit/codec.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

// The README example, at namespace scope next to the types.
namespace shop {

struct Item {
    std::string sku;
    int qty = 0;
    double price = 0;
    friend bool operator==(const Item&, const Item&) = default;
};
ESKIT_FIELDS(Item, sku, qty, price);

enum class Status { Pending, Paid };
ESKIT_ENUM(Status, Pending, Paid);

struct OrderPlaced {
    std::string order_id;
    std::vector<Item> items;
    std::optional<std::string> note;
    Status status{};
    bool gift = false;
    friend bool operator==(const OrderPlaced&, const OrderPlaced&) = default;
};
ESKIT_FIELDS(OrderPlaced, order_id, items, note, status, gift);

}  // namespace shop

namespace kinds {

// A user type carried as an integer through an eskit::Adapter.
struct Money {
    std::int64_t cents = 0;
    friend bool operator==(const Money&, const Money&) = default;
};

enum class Color : std::uint8_t { Red, Green, Blue };
ESKIT_ENUM(Color, Red, (Green, "green"), Blue);
enum class Level : std::int16_t { Low = -1, High = 300 };  // no ESKIT_ENUM: the integer

struct Inner {
    std::string name;
    std::optional<int> n;
    friend bool operator==(const Inner&, const Inner&) = default;
};
ESKIT_FIELDS(Inner, name, n);

struct Empty {
    friend bool operator==(const Empty&, const Empty&) = default;
};
ESKIT_FIELDS(Empty);

// Every supported field type, and more than 32 fields.
struct All {
    bool b = false;
    std::int8_t i8 = 0;
    std::uint8_t u8 = 0;
    std::int16_t i16 = 0;
    std::uint16_t u16 = 0;
    std::int32_t i32 = 0;
    std::uint32_t u32 = 0;
    std::int64_t i64 = 0;
    std::uint64_t u64 = 0;
    signed char sc = 0;
    unsigned char uc = 0;
    short sh = 0;
    long lo = 0;
    unsigned long long ull = 0;
    float f = 0;
    double d = 0;
    std::string str;
    eskit::Bytes bytes;
    std::optional<std::string> opt_some;
    std::optional<int> opt_none;
    std::vector<int> ints;
    std::vector<bool> bools;
    std::vector<std::vector<std::string>> nested;
    std::map<std::string, double> prices;
    std::unordered_map<std::string, Inner> by_name;
    Inner inner;
    std::vector<Inner> inners;
    Color color = Color::Red;
    Level level = Level::Low;
    eskit::Value dyn;
    std::optional<Inner> maybe_inner;
    std::vector<std::optional<int>> holes;
    Money money;
    Empty empty;
    std::map<std::string, std::vector<Color>> palette;
    friend bool operator==(const All&, const All&) = default;
};
ESKIT_FIELDS(All, b, i8, u8, i16, u16, i32, u32, i64, u64, sc, uc, sh, lo, ull, f, d, str, bytes,
             opt_some, opt_none, ints, bools, nested, prices, by_name, inner, inners, color, level,
             dyn, maybe_inner, holes, (money, "amount"), empty, palette);

// A filled-in All whose values exercise the edges of each type.
All sample_all();

}  // namespace kinds

template <>
struct eskit::Adapter<kinds::Money> {
    using wire = std::int64_t;
    static wire to_wire(const kinds::Money& m) { return m.cents; }
    static kinds::Money from_wire(wire&& cents) {
        if (cents < 0) throw eskit::CodecError("amount must not be negative");
        return kinds::Money{cents};
    }
};

// Returns what() of the exception f throws ("" if none).
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

// Hex <-> bytes for CBOR vectors.
std::string from_hex(std::string_view hex);
std::string to_hex(std::string_view bytes);
