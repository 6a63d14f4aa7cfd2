// The field machinery (ESKIT_FIELDS / ESKIT_ENUM / Adapter) through both shipped codecs.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "types.hpp"

using eskit::Value;

std::string from_hex(std::string_view hex) {
    auto nib = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out += static_cast<char>(nib(hex[i]) * 16 + nib(hex[i + 1]));
    return out;
}

std::string to_hex(std::string_view bytes) {
    constexpr char k[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += k[c >> 4];
        out += k[c & 15];
    }
    return out;
}

kinds::All kinds::sample_all() {
    All a;
    a.b = true;
    a.i8 = -128;
    a.u8 = 255;
    a.i16 = -32768;
    a.u16 = 65535;
    a.i32 = std::numeric_limits<std::int32_t>::min();
    a.u32 = std::numeric_limits<std::uint32_t>::max();
    a.i64 = std::numeric_limits<std::int64_t>::min();
    a.u64 = std::numeric_limits<std::uint64_t>::max();
    a.sc = -5;
    a.uc = 200;
    a.sh = -300;
    a.lo = 1234567890123L;
    a.ull = 9223372036854775808ULL;
    a.f = 3.25f;
    a.d = 0.1;
    a.str = "h\xc3\xa9llo \"w\" \\ \n\t\x01 \xe6\xb0\xb4 \xf0\x9f\x98\x80";
    a.bytes = eskit::Bytes{0, 1, 2, 0xfe, 0xff};
    a.opt_some = "here";
    a.ints = {1, -2, 3};
    a.bools = {true, false, true};
    a.nested = {{"a", "b"}, {}, {"c"}};
    a.prices = {{"EUR", 1.5}, {"USD", 2}, {"a.b", -0.25}};
    a.by_name = {{"x", {"ex", 1}}, {"y", {"why", std::nullopt}}};
    a.inner = {"in", 42};
    a.inners = {{"one", 1}, {"two", std::nullopt}};
    a.color = Color::Green;
    a.level = Level::High;
    a.dyn = Value::object({{"k", Value::array({1, "two", 3.5, nullptr, true})},
                           {"big", std::numeric_limits<std::uint64_t>::max()},
                           {"neg", -7}});
    a.maybe_inner = Inner{"maybe", std::nullopt};
    a.holes = {1, std::nullopt, 3};
    a.money = Money{1999};
    a.palette = {{"warm", {Color::Red}}, {"all", {Color::Red, Color::Green, Color::Blue}}};
    return a;
}

namespace {

const eskit::Codec* const kCodecs[] = {&eskit::json_codec(), &eskit::cbor_codec()};

}  // namespace

TEST_CASE("README example round-trips through json and cbor") {
    shop::OrderPlaced o{
        "ord-1", {{"A-1", 2, 19.99}, {"B-7", 1, 5.5}}, "leave at door", shop::Status::Paid, true};
    const std::string json = eskit::encode(eskit::json_codec(), o);
    CHECK(
        json ==
        R"({"order_id":"ord-1","items":[{"sku":"A-1","qty":2,"price":19.99},)"
        R"({"sku":"B-7","qty":1,"price":5.5}],"note":"leave at door","status":"Paid","gift":true})");
    CHECK(eskit::decode<shop::OrderPlaced>(eskit::json_codec(), json) == o);

    const std::string cbor = eskit::encode(eskit::cbor_codec(), o);
    CHECK(eskit::decode<shop::OrderPlaced>(eskit::cbor_codec(), cbor) == o);
    // Deterministic: keys shortest first, then bytewise; 5.5 as a half, 19.99 as a double.
    CHECK(to_hex(cbor) ==
          "a5"
          "6467696674f5"                            // "gift": true
          "646e6f74656d6c6561766520617420646f6f72"  // "note": "leave at door"
          "656974656d7382"                          // "items": [2]
          "a3637174790263736b7563412d31657072696365fb4033fd70a3d70a3d"
          "a3637174790163736b7563422d37657072696365f94580"
          "667374617475736450616964"          // "status": "Paid"
          "686f726465725f6964656f72642d31");  // "order_id": "ord-1"
    CHECK(eskit::type_name<shop::OrderPlaced>() == "OrderPlaced");
    CHECK(eskit::type_name<shop::Status>() == "Status");
}

TEST_CASE("every field type round-trips through both codecs") {
    const kinds::All a = kinds::sample_all();
    for (const auto* c : kCodecs) {
        CAPTURE(c->name());
        const std::string bytes = eskit::encode(*c, a);
        kinds::All back = eskit::decode<kinds::All>(*c, bytes);
        CHECK(back == a);
        CHECK(eskit::encode(*c, back) == bytes);  // stable
        // Through a Value as well (what upcasters see).
        const Value v = c->decode(bytes);
        CHECK(eskit::from_value<kinds::All>(v) == a);
        CHECK(eskit::to_value(a) == eskit::to_value(back));
    }
}

TEST_CASE("wire shapes of the field types in JSON") {
    const kinds::All a = kinds::sample_all();
    const Value v = eskit::json_codec().decode(eskit::encode(eskit::json_codec(), a));
    CHECK(v.at("bytes").as_string() == "AAEC/v8=");         // base64
    CHECK(v.at("color").as_string() == "green");            // ESKIT_ENUM's wire name
    CHECK(v.at("level").as_int64() == 300);                 // no ESKIT_ENUM: the integer
    CHECK(v.at("amount").as_int64() == 1999);               // Adapter, renamed field
    CHECK(!v.contains("opt_none"));                         // empty optional members are omitted
    CHECK(v.at("holes") == Value::array({1, nullptr, 3}));  // elsewhere they are null
    CHECK(v.at("u64").kind() == eskit::Kind::uint64);
    CHECK(v.at("i64").as_int64() == std::numeric_limits<std::int64_t>::min());
    CHECK(v.at("f").as_double() == 3.25);
    CHECK(v.at("empty") == Value::object());
    CHECK(v.at("by_name").at("y") == Value::object({{"name", "why"}}));
    CHECK(v.size() == 34);  // 35 fields, one empty optional
}

TEST_CASE("unknown keys are ignored and missing fields keep their defaults") {
    for (const auto* c : kCodecs) {
        CAPTURE(c->name());
        const Value in = Value::object({
            {"future", Value::object({{"deep", Value::array({1, Value::object({{"x", 2}})})}})},
            {"sku", "A-1"},
            {"colour", "red"},
            {"price", 2.5},
            {"also_new", nullptr},
        });
        const auto item = eskit::decode<shop::Item>(*c, c->encode(in));
        CHECK(item.sku == "A-1");
        CHECK(item.qty == 0);  // missing
        CHECK(item.price == 2.5);

        // Decoding into an existing object leaves missing fields as they were.
        shop::Item existing{"old", 7, 1.0};
        eskit::decode(*c, c->encode(Value::object({{"price", 3}})), existing);
        CHECK(existing == shop::Item{"old", 7, 3.0});

        // Optional: absent or null both give nullopt; a present value resets a stale one.
        shop::OrderPlaced o;
        o.note = "stale";
        eskit::decode(*c, c->encode(Value::object({{"note", nullptr}})), o);
        CHECK(!o.note);
        eskit::decode(*c, c->encode(Value::object({{"note", "n"}})), o);
        CHECK(o.note == "n");
        // Vectors are replaced, not appended to.
        o.items = {{"x", 1, 1}};
        eskit::decode(*c, c->encode(Value::object({{"items", Value::array()}})), o);
        CHECK(o.items.empty());
        // Duplicate keys: the last one wins.
        const Value dup(Value::Object{{"qty", 1}, {"qty", 2}});
        CHECK(eskit::decode<shop::Item>(*c, c->encode(dup)).qty == 2);
    }
    // Keys in any order (JSON).
    CHECK(eskit::decode<shop::Item>(eskit::json_codec(), R"({"price":1,"qty":3,"sku":"s"})") ==
          shop::Item{"s", 3, 1});
}

TEST_CASE("decode errors name the codec and the path") {
    const Value bad_qty = Value::object({{"items", Value::array({Value::object(), Value::object(),
                                                                 Value::object({{"qty", "2"}})})}});
    CHECK(error_of([&] {
              eskit::decode<shop::OrderPlaced>(eskit::json_codec(),
                                               eskit::json_codec().encode(bad_qty));
          }) == "json: items[2].qty: expected an integer, got a string");
    CHECK(error_of([&] {
              eskit::decode<shop::OrderPlaced>(eskit::cbor_codec(),
                                               eskit::cbor_codec().encode(bad_qty));
          }) == "cbor: items[2].qty: expected an integer, got a string");
    CHECK(error_of([&] { eskit::from_value<shop::OrderPlaced>(bad_qty); }) ==
          "items[2].qty: expected an integer, got a string");

    auto err = [](std::string_view json) {
        return error_of([&] { eskit::decode<kinds::All>(eskit::json_codec(), json); });
    };
    CHECK(err(R"([])") == "json: expected an object, got an array");
    CHECK(err(R"({"u8":256})") == "json: u8: expected an integer in [0, 255], got 256");
    CHECK(err(R"({"i8":-129})") == "json: i8: expected an integer in [-128, 127], got -129");
    CHECK(err(R"({"u64":-1})") ==
          "json: u64: expected an integer in [0, 18446744073709551615], got -1");
    CHECK(err(R"({"i64":9223372036854775808})") ==
          "json: i64: expected an integer in [-9223372036854775808, 9223372036854775807], got "
          "9223372036854775808");
    CHECK(err(R"({"i32":2.5})") == "json: i32: expected an integer, got a floating-point number");
    CHECK(err(R"({"i32":2.0})") == "json: i32: expected an integer, got a floating-point number");
    CHECK(err(R"({"f":1e300})") == "json: f: expected a number in float range, got 1e+300");
    CHECK(err(R"({"d":"1"})") == "json: d: expected a number, got a string");
    CHECK(err(R"({"b":1})") == "json: b: expected a boolean, got an integer");
    CHECK(err(R"({"str":null})") == "json: str: expected a string, got null");
    CHECK(err(R"({"bytes":"!!"})") == "json: bytes: invalid base64 text for a byte string");
    CHECK(err(R"({"bytes":5})") == "json: bytes: expected a byte string, got an integer");
    CHECK(err(R"({"color":"Purple"})") ==
          "json: color: expected one of Red, green, Blue, got 'Purple'");
    CHECK(err(R"({"color":1})") == "json: color: expected a string, got an integer");
    CHECK(err(R"({"level":70000})") ==
          "json: level: expected an integer in [-32768, 32767], got 70000");
    CHECK(err(R"({"prices":{"EUR":"x"}})") == "json: prices.EUR: expected a number, got a string");
    CHECK(err(R"({"prices":{"a.b":"x"}})") ==
          R"(json: prices["a.b"]: expected a number, got a string)");
    CHECK(err(R"({"inners":[{},{"n":true}]})") ==
          "json: inners[1].n: expected an integer, got a boolean");
    CHECK(err(R"({"nested":[[],["a",{}]]})") ==
          "json: nested[1][1]: expected a string, got an object");
    CHECK(err(R"({"by_name":{"k":{"name":[]}}})") ==
          "json: by_name.k.name: expected a string, got an array");
    CHECK(err(R"({"amount":-1})") == "json: amount: amount must not be negative");
    CHECK(err(R"({"holes":[1,"x"]})") == "json: holes[1]: expected an integer, got a string");
    CHECK(err(R"({"palette":{"p":["Red","Mauve"]}})") ==
          "json: palette.p[1]: expected one of Red, green, Blue, got 'Mauve'");
    CHECK(err(R"({"bools":[true,0]})") == "json: bools[1]: expected a boolean, got an integer");
    CHECK(err(R"({"empty":[]})") == "json: empty: expected an object, got an array");

    // The CodecError parts.
    try {
        eskit::decode<kinds::All>(eskit::cbor_codec(),
                                  eskit::cbor_codec().encode(Value::object({{"u8", -1}})));
        FAIL("no error");
    } catch (const eskit::CodecError& e) {
        CHECK(e.codec() == "cbor");
        CHECK(e.path() == "u8");
        CHECK(e.reason() == "expected an integer in [0, 255], got -1");
    }
}

TEST_CASE("integer fields accept exactly their range") {
    for (const auto* c : kCodecs) {
        CAPTURE(c->name());
        auto dec = [&](const Value& v) { return eskit::decode<kinds::All>(*c, c->encode(v)); };
        CHECK(dec(Value::object({{"i8", 127}})).i8 == 127);
        CHECK(dec(Value::object({{"u16", 65535}})).u16 == 65535);
        CHECK(dec(Value::object({{"u64", std::numeric_limits<std::uint64_t>::max()}})).u64 ==
              std::numeric_limits<std::uint64_t>::max());
        CHECK(dec(Value::object({{"i64", std::numeric_limits<std::int64_t>::min()}})).i64 ==
              std::numeric_limits<std::int64_t>::min());
        CHECK(dec(Value::object({{"d", 3}})).d == 3.0);  // integers are numbers
        CHECK(dec(Value::object({{"f", std::numeric_limits<std::uint64_t>::max()}})).f ==
              static_cast<float>(std::numeric_limits<std::uint64_t>::max()));
        CHECK(error_of([&] {
                  dec(Value::object({{"u32", 4294967296LL}}));
              }) == std::string(c->name()) +
                        ": u32: expected an integer in [0, 4294967295], got 4294967296");
        CHECK(error_of([&] {
                  dec(Value::object({{"i16", std::numeric_limits<std::uint64_t>::max()}}));
              }) == std::string(c->name()) +
                        ": i16: expected an integer in [-32768, 32767], got 18446744073709551615");
    }
}

TEST_CASE("encode errors name the codec and the path") {
    kinds::All a;
    a.inners = {{"ok", 1}, {"bad\xff", 2}};
    CHECK(error_of([&] { eskit::encode(eskit::json_codec(), a); }) ==
          "json: inners[1].name: invalid UTF-8 in a string");
    CHECK(error_of([&] { eskit::encode(eskit::cbor_codec(), a); }) ==
          "cbor: inners[1].name: invalid UTF-8 in a string");

    kinds::All n;
    n.prices["nan"] = std::nan("");
    CHECK(error_of([&] { eskit::encode(eskit::json_codec(), n); }) ==
          "json: prices.nan: NaN and infinity cannot be encoded in JSON");
    n.prices["nan"] = std::numeric_limits<double>::infinity();
    CHECK(error_of([&] { eskit::encode(eskit::json_codec(), n); }) ==
          "json: prices.nan: NaN and infinity cannot be encoded in JSON");
    CHECK_NOTHROW(eskit::encode(eskit::cbor_codec(), n));  // CBOR has infinities

    kinds::All e;
    e.color = static_cast<kinds::Color>(7);
    CHECK(error_of([&] { eskit::encode(eskit::cbor_codec(), e); }) ==
          "cbor: color: Color value 7 has no name in ESKIT_ENUM");
    std::string out = "previous";
    CHECK_THROWS_AS(eskit::encode(eskit::json_codec(), e, out), eskit::CodecError);
    CHECK(out.empty());
}

TEST_CASE("floats keep their value and kind") {
    for (const auto* c : kCodecs) {
        CAPTURE(c->name());
        for (double d : {0.0, -0.0, 1.0, 0.1, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 2.5, -4.1,
                         100000.0, 65504.0, 3.4028234663852886e38, 5.960464477539063e-8}) {
            CAPTURE(d);
            const Value v = c->decode(c->encode(Value(d)));
            REQUIRE(v.is_double());
            CHECK(std::bit_cast<std::uint64_t>(v.as_double()) == std::bit_cast<std::uint64_t>(d));
        }
    }
}

namespace embed {
// A payload carrying another payload as JSON text: its adapter decodes while the outer decode
// holds the thread's parser.
struct Envelope {
    shop::Item item;
};
struct Outer {
    std::string id;
    Envelope env;
    int after = 0;
};
ESKIT_FIELDS(Outer, id, env, after);
}  // namespace embed

template <>
struct eskit::Adapter<embed::Envelope> {
    using wire = std::string;
    static wire to_wire(const embed::Envelope& e) {
        return eskit::encode(eskit::json_codec(), e.item);
    }
    static embed::Envelope from_wire(wire&& json) {
        return {eskit::decode<shop::Item>(eskit::json_codec(), json)};
    }
};

TEST_CASE("a nested decode on the same thread (an adapter that decodes JSON)") {
    const embed::Outer o{"x", {{"s", 1, 2}}, 9};
    for (const auto* c : kCodecs) {
        const std::string bytes = eskit::encode(*c, o);
        const auto back = eskit::decode<embed::Outer>(*c, bytes);
        CHECK(back.id == "x");
        CHECK(back.env.item == shop::Item{"s", 1, 2});
        CHECK(back.after == 9);  // the outer document is intact after the inner decode
    }
    CHECK(eskit::encode(eskit::json_codec(), o) ==
          R"({"id":"x","env":"{\"sku\":\"s\",\"qty\":1,\"price\":2.0}","after":9})");
}

namespace {
struct Wide {
    int f01 = 0, f02 = 0, f03 = 0, f04 = 0, f05 = 0, f06 = 0, f07 = 0, f08 = 0, f09 = 0, f10 = 0,
        f11 = 0, f12 = 0, f13 = 0, f14 = 0, f15 = 0, f16 = 0, f17 = 0, f18 = 0, f19 = 0, f20 = 0,
        f21 = 0, f22 = 0, f23 = 0, f24 = 0, f25 = 0, f26 = 0, f27 = 0, f28 = 0, f29 = 0, f30 = 0,
        f31 = 0, f32 = 0, f33 = 0, f34 = 0, f35 = 0, f36 = 0, f37 = 0, f38 = 0, f39 = 0, f40 = 0,
        f41 = 0, f42 = 0, f43 = 0, f44 = 0, f45 = 0, f46 = 0, f47 = 0, f48 = 0, f49 = 0, f50 = 0,
        f51 = 0, f52 = 0, f53 = 0, f54 = 0, f55 = 0, f56 = 0, f57 = 0, f58 = 0, f59 = 0, f60 = 0,
        f61 = 0, f62 = 0, f63 = 0, f64 = 0;
    friend bool operator==(const Wide&, const Wide&) = default;
};
ESKIT_FIELDS(Wide, f01, f02, f03, f04, f05, f06, f07, f08, f09, f10, f11, f12, f13, f14, f15, f16,
             f17, f18, f19, f20, f21, f22, f23, f24, f25, f26, f27, f28, f29, f30, f31, f32, f33,
             f34, f35, f36, f37, f38, f39, f40, f41, f42, f43, f44, f45, f46, f47, f48, f49, f50,
             f51, f52, f53, f54, f55, f56, f57, f58, f59, f60, f61, f62, f63, f64);

// A recursive type: depth is bounded by the codecs' nesting limit.
struct Node {
    std::string label;
    std::vector<Node> children;
};
ESKIT_FIELDS(Node, label, children);
}  // namespace

TEST_CASE("64 fields, and a type in an anonymous namespace") {
    Wide w;
    w.f01 = 1;
    w.f33 = 33;
    w.f64 = 64;
    for (const auto* c : kCodecs) CHECK(eskit::decode<Wide>(*c, eskit::encode(*c, w)) == w);
    CHECK(eskit::to_value(w).size() == 64);
}

TEST_CASE("recursive types stop at the nesting limit") {
    Node root{"0", {}};
    Node* cur = &root;
    for (int i = 1; i < 64; ++i) {  // 64 structs = 127 levels of object/array
        cur->children.push_back(Node{std::to_string(i), {}});
        cur = &cur->children.back();
    }
    for (const auto* c : kCodecs) {
        CAPTURE(c->name());
        const std::string bytes = eskit::encode(*c, root);
        CHECK(eskit::decode<Node>(*c, bytes).children.size() == 1);
        cur->children.push_back(Node{"too deep", {}});  // 129 levels
        try {
            eskit::encode(*c, root);
            FAIL("no error");
        } catch (const eskit::CodecError& e) {
            CHECK(e.reason() == "nesting deeper than 128 levels");
        }
        cur->children.clear();
    }
}
