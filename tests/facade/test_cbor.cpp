// The cbor codec: RFC 8949 Appendix A, deterministic encoding, hostile input.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "types.hpp"

using eskit::Kind;
using eskit::Value;

namespace {
const eskit::Codec& cbor = eskit::cbor_codec();

Value dec(std::string_view hex) { return cbor.decode(from_hex(hex)); }
std::string enc(const Value& v) { return to_hex(cbor.encode(v)); }
std::string dec_err(std::string_view hex) {
    return error_of([&] { (void)cbor.decode(from_hex(hex)); });
}
Value range(int from, int to) {
    Value a = Value::array();
    for (int i = from; i <= to; ++i) a.push_back(i);
    return a;
}
}  // namespace

TEST_CASE("cbor: name and binary") {
    CHECK(cbor.name() == "cbor");
    CHECK(!cbor.is_text());
}

// RFC 8949 Appendix A, the vectors a Value can hold: decoded, and encoded back to the same
// bytes (every vector there is in preferred serialization).
TEST_CASE("cbor: RFC 8949 Appendix A, both ways") {
    const std::pair<const char*, Value> vectors[] = {
        {"00", 0},
        {"01", 1},
        {"0a", 10},
        {"17", 23},
        {"1818", 24},
        {"1819", 25},
        {"1864", 100},
        {"1903e8", 1000},
        {"1a000f4240", 1000000},
        {"1b000000e8d4a51000", 1000000000000LL},
        {"1bffffffffffffffff", std::numeric_limits<std::uint64_t>::max()},
        {"20", -1},
        {"29", -10},
        {"3863", -100},
        {"3903e7", -1000},
        {"f90000", 0.0},
        {"f98000", -0.0},
        {"f93c00", 1.0},
        {"fb3ff199999999999a", 1.1},
        {"f93e00", 1.5},
        {"f97bff", 65504.0},
        {"fa47c35000", 100000.0},
        {"fa7f7fffff", 3.4028234663852886e+38},
        {"fb7e37e43c8800759c", 1.0e+300},
        {"f90001", 5.960464477539063e-8},
        {"f90400", 0.00006103515625},
        {"f9c400", -4.0},
        {"fbc010666666666666", -4.1},
        {"f97c00", std::numeric_limits<double>::infinity()},
        {"f9fc00", -std::numeric_limits<double>::infinity()},
        {"f4", false},
        {"f5", true},
        {"f6", nullptr},
        {"40", eskit::Bytes{}},
        {"4401020304", eskit::Bytes{1, 2, 3, 4}},
        {"60", ""},
        {"6161", "a"},
        {"6449455446", "IETF"},
        {"62225c", "\"\\"},
        {"62c3bc", "\xc3\xbc"},
        {"63e6b0b4", "\xe6\xb0\xb4"},
        {"64f0908591", "\xf0\x90\x85\x91"},
        {"80", Value::array()},
        {"83010203", Value::array({1, 2, 3})},
        {"8301820203820405", Value::array({1, Value::array({2, 3}), Value::array({4, 5})})},
        {"98190102030405060708090a0b0c0d0e0f101112131415161718181819", range(1, 25)},
        {"a0", Value::object()},
        {"a26161016162820203", Value::object({{"a", 1}, {"b", Value::array({2, 3})}})},
        {"826161a161626163", Value::array({"a", Value::object({{"b", "c"}})})},
        {"a56161614161626142616361436164614461656145",
         Value::object({{"a", "A"}, {"b", "B"}, {"c", "C"}, {"d", "D"}, {"e", "E"}})},
    };
    for (const auto& vector : vectors) {
        const char* hex = vector.first;
        const Value& value = vector.second;
        CAPTURE(hex);
        CHECK(dec(hex) == value);
        CHECK(enc(value) == hex);
    }
    CHECK(std::isnan(dec("f97e00").as_double()));
    CHECK(enc(Value(std::nan(""))) == "f97e00");
}

TEST_CASE("cbor: RFC 8949 Appendix A, decode only") {
    // Longer floats of values that have a shorter preferred form.
    CHECK(dec("fa7f800000") == Value(std::numeric_limits<double>::infinity()));
    CHECK(dec("faff800000") == Value(-std::numeric_limits<double>::infinity()));
    CHECK(dec("fb7ff0000000000000") == Value(std::numeric_limits<double>::infinity()));
    CHECK(dec("fbfff0000000000000") == Value(-std::numeric_limits<double>::infinity()));
    CHECK(std::isnan(dec("fa7fc00000").as_double()));
    CHECK(std::isnan(dec("fb7ff8000000000000").as_double()));
    // undefined reads as null.
    CHECK(dec("f7").is_null());
    // Indefinite lengths; re-encoded with definite lengths.
    CHECK(dec("5f42010243030405ff") == Value(eskit::Bytes{1, 2, 3, 4, 5}));
    CHECK(dec("7f657374726561646d696e67ff") == Value("streaming"));
    CHECK(dec("9fff") == Value::array());
    const Value nested = Value::array({1, Value::array({2, 3}), Value::array({4, 5})});
    CHECK(dec("9f018202039f0405ffff") == nested);
    CHECK(dec("9f01820203820405ff") == nested);
    CHECK(dec("83018202039f0405ff") == nested);
    CHECK(dec("83019f0203ff820405") == nested);
    CHECK(dec("9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff") == range(1, 25));
    CHECK(dec("bf61610161629f0203ffff") == Value::object({{"a", 1}, {"b", Value::array({2, 3})}}));
    CHECK(dec("826161bf61626163ff") == Value::array({"a", Value::object({{"b", "c"}})}));
    CHECK(dec("bf6346756ef563416d7421ff") == Value::object({{"Fun", true}, {"Amt", -2}}));
    CHECK(enc(dec("bf6346756ef563416d7421ff")) == "a263416d74216346756ef5");  // sorted
    // Bignums that fit 64 bits (tag 2 / 3); non-preferred heads are accepted.
    CHECK(dec("c2420100") == Value(256));
    CHECK(dec("c24900ffffffffffffffff") == Value(std::numeric_limits<std::uint64_t>::max()));
    CHECK(dec("c34100") == Value(-1));
    CHECK(dec("1801") == Value(1));
    CHECK(dec("d9d9f701") == Value(1));  // self-described CBOR (tag 55799)
}

TEST_CASE("cbor: RFC 8949 Appendix A, rejected") {
    CHECK(dec_err("c249010000000000000000") == "cbor: bignum out of 64-bit range");  // 2^64
    CHECK(dec_err("3bffffffffffffffff") ==
          "cbor: integer -18446744073709551616 out of 64-bit range");
    CHECK(dec_err("3b8000000000000000") ==
          "cbor: integer -9223372036854775809 out of 64-bit range");
    CHECK(dec("3b7fffffffffffffff") == Value(std::numeric_limits<std::int64_t>::min()));
    CHECK(dec_err("c349010000000000000000") == "cbor: bignum out of 64-bit range");
    CHECK(dec_err("f0") == "cbor: unsupported simple value 16");
    CHECK(dec_err("f8ff") == "cbor: unsupported simple value 255");
    CHECK(dec_err("c074323031332d30332d32315432303a30343a30305a") == "cbor: unsupported tag 0");
    CHECK(dec_err("c11a514b67b0") == "cbor: unsupported tag 1");
    CHECK(dec_err("c1fb41d452d9ec200000") == "cbor: unsupported tag 1");
    CHECK(dec_err("d74401020304") == "cbor: unsupported tag 23");
    CHECK(dec_err("d818456449455446") == "cbor: unsupported tag 24");
    CHECK(dec_err("d82076687474703a2f2f7777772e6578616d706c652e636f6d") ==
          "cbor: unsupported tag 32");
    CHECK(dec_err("a201020304") == "cbor: map key must be a text string, got an integer");
    CHECK(dec_err("a1400102") == "cbor: map key must be a text string, got a byte string");
}

TEST_CASE("cbor: deterministic encoding") {
    // Keys shorter first, then bytewise, whatever the order of the Value.
    const Value v(Value::Object{{"\xc3\xbc", 4}, {"b", 1}, {"aa", 3}, {"a", 2}});
    CHECK(enc(v) ==
          "a4616102616201626161036"
          "2c3bc04");
    // Decoding keeps the input's order; re-encoding sorts again.
    CHECK(cbor.decode(from_hex("a2616201616102")) == Value(Value::Object{{"b", 1}, {"a", 2}}));
    CHECK(enc(cbor.decode(from_hex("a2616201616102"))) == "a2616102616201");
    // Shortest heads at every boundary.
    CHECK(enc(Value(23)) == "17");
    CHECK(enc(Value(255)) == "18ff");
    CHECK(enc(Value(256)) == "190100");
    CHECK(enc(Value(65535)) == "19ffff");
    CHECK(enc(Value(65536)) == "1a00010000");
    CHECK(enc(Value(4294967295LL)) == "1affffffff");
    CHECK(enc(Value(4294967296LL)) == "1b0000000100000000");
    CHECK(enc(Value(-24)) == "37");
    CHECK(enc(Value(-25)) == "3818");
    CHECK(enc(Value(std::numeric_limits<std::int64_t>::min())) == "3b7fffffffffffffff");
    CHECK(enc(Value(std::string(24, 'x'))).starts_with("7818"));
    // Floats: the shortest of half, single, double that keeps the value.
    CHECK(enc(Value(0.5)) == "f93800");
    CHECK(enc(Value(6.103515625e-05)) == "f90400");
    CHECK(enc(Value(1.0 / 3)) == "fb3fd5555555555555");
    CHECK(enc(Value(0.1f)) == "fa3dcccccd");
    CHECK(enc(Value(1e-40)) == "fb37a16c262777579c");          // a float subnormal stays double
    CHECK(enc(Value(1.401298464324817e-45)) == "fa00000001");  // smallest float subnormal
    // Typed structs: the same bytes as their Value.
    const shop::Item item{"A-1", 2, 19.99};
    CHECK(eskit::encode(cbor, item) == cbor.encode(eskit::to_value(item)));
    CHECK(eskit::encode(eskit::cbor_codec(), kinds::sample_all()) ==
          cbor.encode(eskit::to_value(kinds::sample_all())));
}

TEST_CASE("cbor: hostile input is refused with exact errors") {
    // Huge declared lengths: refused before anything is allocated.
    CHECK(dec_err("9b0000000100000000") ==
          "cbor: truncated input: an array of 4294967296 items declared, 0 bytes left");
    CHECK(dec_err("9b000000001000000001") ==
          "cbor: truncated input: an array of 268435456 items declared, 1 byte left");
    CHECK(dec_err("bb00000000000010000102") ==
          "cbor: truncated input: a map of 4096 pairs declared, 2 bytes left");
    CHECK(dec_err("5bffffffffffffffff") ==
          "cbor: truncated input: a byte string of 18446744073709551615 bytes declared, 0 bytes "
          "left");
    CHECK(dec_err("7a7fffffff61") ==
          "cbor: truncated input: a text string of 2147483647 bytes declared, 1 byte left");
    CHECK(dec_err("826161") == "cbor: [1]: unexpected end of input");
    // Truncation anywhere.
    CHECK(dec_err("") == "cbor: unexpected end of input");
    CHECK(dec_err("19") == "cbor: unexpected end of input");
    CHECK(dec_err("1901") == "cbor: unexpected end of input");
    CHECK(dec_err("fb3ff1") == "cbor: unexpected end of input");
    CHECK(dec_err("6261") ==
          "cbor: truncated input: a text string of 2 bytes declared, 1 byte left");
    CHECK(dec_err("a16161") == "cbor: a: unexpected end of input");
    CHECK(dec_err("9f01") == "cbor: unexpected end of input");
    CHECK(dec_err("5f4101") == "cbor: unexpected end of input");
    // Deep nesting.
    std::string deep;
    for (int i = 0; i < 129; ++i) deep += "81";
    deep += "00";
    try {
        (void)cbor.decode(from_hex(deep));
        FAIL("no error");
    } catch (const eskit::CodecError& e) {
        CHECK(e.reason() == "nesting deeper than 128 levels");
    }
    CHECK(dec(deep.substr(2)).is_array());  // 128 levels are fine
    std::string deep_indef(200000, '9');    // 0x99 0x99 ...: arrays of 0x9999 items
    for (std::size_t i = 1; i < deep_indef.size(); i += 2) deep_indef[i] = 'f';  // 9f9f9f...
    CHECK(error_of([&] {
              (void)cbor.decode(from_hex(deep_indef));
          }).ends_with("nesting deeper than 128 levels"));
    // Malformed items.
    CHECK(dec_err("ff") == "cbor: malformed item: unexpected break (0xff)");
    CHECK(dec_err("81ff") == "cbor: [0]: malformed item: unexpected break (0xff)");
    CHECK(dec_err("1c") ==
          "cbor: malformed item: reserved additional information 28 (initial byte 0x1c)");
    CHECK(dec_err("fe") ==
          "cbor: malformed item: reserved additional information 30 (initial byte 0xfe)");
    CHECK(dec_err("1f") ==
          "cbor: malformed item: indefinite length on major type 0 (initial byte 0x1f)");
    CHECK(dec_err("3f") ==
          "cbor: malformed item: indefinite length on major type 1 (initial byte 0x3f)");
    CHECK(dec_err("df") ==
          "cbor: malformed item: indefinite length on major type 6 (initial byte 0xdf)");
    CHECK(dec_err("5f6161ff") ==
          "cbor: malformed item: a chunk of an indefinite-length byte "
          "string is not a definite byte string");
    CHECK(dec_err("7f7f6161ffff") ==
          "cbor: malformed item: a chunk of an indefinite-length text "
          "string is not a definite text string");
    CHECK(dec_err("f818") == "cbor: malformed item: simple value 24 in two bytes");
    CHECK(dec_err("c26161") == "cbor: malformed item: bignum tag 2 on a string, not a byte string");
    CHECK(dec_err("62fffe") == "cbor: invalid UTF-8 in a text string");
    CHECK(dec_err("7f61c361bcff") == "cbor: invalid UTF-8 in a text string");  // split code point
    CHECK(dec_err("a162fffe01") == "cbor: invalid UTF-8 in a text string");
    CHECK(dec_err("0102") == "cbor: 1 byte after the top-level item");
    CHECK(dec_err("80808080") == "cbor: 3 bytes after the top-level item");
}

TEST_CASE("cbor: typed decoding of hostile input") {
    auto err = [](std::string_view hex) {
        return error_of([&] { eskit::decode<shop::OrderPlaced>(cbor, from_hex(hex)); });
    };
    // Unknown fields are skipped, checked for well-formedness and limits, any tag allowed.
    CHECK(eskit::decode<shop::Item>(cbor, from_hex("a2617ac1a1000163717479"
                                                   "03"))
              .qty == 3);
    CHECK(err("a1617a9b0000000100000000") ==
          "cbor: z: truncated input: an array of 4294967296 items declared, 0 bytes left");
    CHECK(err("a1617a7a7fffffff") ==
          "cbor: z: truncated input: a text string of 2147483647 bytes declared, 0 bytes left");
    CHECK(err("a1617aff") == "cbor: z: malformed item: unexpected break (0xff)");
    std::string deep = "a1617a";
    for (int i = 0; i < 129; ++i) deep += "81";
    deep += "00";
    CHECK(err(deep) == "cbor: z: nesting deeper than 128 levels");
    CHECK(err("a1656974656d739b0000000100000000") ==
          "cbor: items: truncated input: an array of 4294967296 items declared, 0 bytes left");
    CHECK(err("a1656974656d7381a16371747918") == "cbor: items[0].qty: unexpected end of input");
    CHECK(err("a1656974656d7381a1637174791864ff") == "cbor: 1 byte after the top-level item");
    CHECK(err("a1656974656d7381a163717479c11864") == "cbor: items[0].qty: unsupported tag 1");
    CHECK(err("a16673746174757363426164") ==
          "cbor: status: expected one of Pending, Paid, got 'Bad'");
    CHECK(err("a1646e6f7465f7").empty());  // undefined -> null -> nullopt
    CHECK(err("80") == "cbor: expected an object, got an array");
    // Typed byte strings: a byte string, or base64 text.
    CHECK(eskit::decode<kinds::All>(cbor, from_hex("a165627974657342abcd")).bytes ==
          eskit::Bytes{0xab, 0xcd});
    CHECK(eskit::decode<kinds::All>(cbor, from_hex("a165627974657363713830")).bytes ==
          eskit::Bytes{0xab, 0xcd});
}
