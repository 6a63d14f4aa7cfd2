// The json codec: exact output, escapes, unicode, numbers, errors, limits, threads.
#include <doctest/doctest.h>

#include <limits>
#include <thread>

#include "types.hpp"

using eskit::Kind;
using eskit::Value;

namespace {
const eskit::Codec& json = eskit::json_codec();

std::string enc(const Value& v) { return json.encode(v); }
std::string dec_err(std::string_view text) {
    return error_of([&] { (void)json.decode(text); });
}
}  // namespace

TEST_CASE("json: name, text, compact output") {
    CHECK(json.name() == "json");
    CHECK(json.is_text());
    CHECK(enc(Value::object({{"a", Value::array({1, -2, true, false, nullptr, "s"})},
                             {"b", Value::object()},
                             {"c", Value::array()}})) ==
          R"({"a":[1,-2,true,false,null,"s"],"b":{},"c":[]})");
    CHECK(enc(Value(5)) == "5");  // any value at the top level
    CHECK(json.decode("  [1 , 2]\n") == Value::array({1, 2}));
}

TEST_CASE("json: string escapes and unicode") {
    const std::string s = std::string("q\" b\\ / \b\f\n\r\t \x01\x1f \x7f ") +
                          "\xc3\xbc \xe6\xb0\xb4 \xf0\x90\x85\x91" + std::string(1, '\0') + "end";
    const std::string text = enc(Value(s));
    CHECK(text == std::string("\"q\\\" b\\\\ / \\b\\f\\n\\r\\t \\u0001\\u001f \x7f ") +
                      "\xc3\xbc \xe6\xb0\xb4 \xf0\x90\x85\x91\\u0000end\"");
    CHECK(json.decode(text).as_string() == s);
    // Escapes written by others, including surrogate pairs.
    CHECK(json.decode(R"("\u00fc\u6c34\ud800\udd51\/\"")").as_string() ==
          "\xc3\xbc\xe6\xb0\xb4\xf0\x90\x85\x91/\"");
    // Escaped keys are unescaped before matching fields.
    CHECK(eskit::decode<shop::Item>(json, R"({"\u0073ku":"x","q\u0074y":3})") ==
          shop::Item{"x", 3, 0});
    CHECK(enc(Value::object({{"k\"\n", 1}})) == R"({"k\"\n":1})");
    CHECK(error_of([] { (void)enc(Value("bad \xc3")); }) == "json: invalid UTF-8 in a string");
    CHECK(error_of([] {
              (void)enc(Value::object({{"\xff", 1}}));
          }) == "json: invalid UTF-8 in a string");
    CHECK(dec_err("\"\xff\"") == "json: invalid JSON: The input is not valid UTF-8");
    CHECK(dec_err(R"("\ud800")") == "json: invalid JSON: Problem while parsing a string");
}

TEST_CASE("json: numbers") {
    CHECK(enc(Value(0.1)) == "0.1");
    CHECK(enc(Value(2.0)) == "2.0");  // stays a double when read back
    CHECK(enc(Value(-0.0)) == "-0.0");
    CHECK(enc(Value(1e21)) == "1e+21");
    CHECK(enc(Value(1e-7)) == "1e-07");
    CHECK(enc(Value(5e-324)) == "5e-324");
    CHECK(enc(Value(19.99)) == "19.99");
    CHECK(enc(Value(std::numeric_limits<std::int64_t>::min())) == "-9223372036854775808");
    CHECK(enc(Value(std::numeric_limits<std::uint64_t>::max())) == "18446744073709551615");
    CHECK(json.decode("2.0").kind() == Kind::float64);
    CHECK(json.decode("2").kind() == Kind::int64);
    CHECK(json.decode("1e2").as_double() == 100.0);
    CHECK(json.decode("-9223372036854775808").as_int64() ==
          std::numeric_limits<std::int64_t>::min());
    CHECK(json.decode("9223372036854775808").kind() == Kind::uint64);
    CHECK(json.decode("18446744073709551615").as_uint64() ==
          std::numeric_limits<std::uint64_t>::max());
    // Integers beyond 64 bits are valid JSON: they read as the nearest double.
    CHECK(json.decode("18446744073709551616").as_double() == 18446744073709551616.0);
    CHECK(json.decode("-9223372036854775809").as_double() == -9223372036854775808.0);
    CHECK(json.decode("123456789012345678901234567890").as_double() == 1.2345678901234568e29);
    // Many significant digits (simdjson 3.0.1's get_number() returns 0 for these: #2099).
    CHECK(json.decode("1000000000.000000001").as_double() == 1e9);
    CHECK(json.decode("[37485678901234565120.0]").at(0).as_double() == 3.7485678901234565e19);
    CHECK(json.decode("[1234567890123456789.5]").at(0).as_double() == 1234567890123456789.5);
    CHECK(eskit::decode<kinds::All>(json, R"({"d":12345678901234567890.5})").d ==
          12345678901234567890.5);
    CHECK(error_of([] { eskit::decode<kinds::All>(json, R"({"u64":18446744073709551616})"); }) ==
          "json: u64: expected an integer, got a floating-point number");
    CHECK(dec_err("1e400") == "json: invalid JSON: Problem while parsing a number");
    CHECK(error_of([] { (void)enc(Value(std::numeric_limits<double>::quiet_NaN())); }) ==
          "json: NaN and infinity cannot be encoded in JSON");
    CHECK(error_of([] { (void)enc(Value(-std::numeric_limits<double>::infinity())); }) ==
          "json: NaN and infinity cannot be encoded in JSON");
}

TEST_CASE("json: bytes are base64") {
    CHECK(enc(Value(eskit::Bytes{})) == R"("")");
    CHECK(enc(Value(eskit::Bytes{'f'})) == R"("Zg==")");
    CHECK(enc(Value(eskit::Bytes{'f', 'o'})) == R"("Zm8=")");
    CHECK(enc(Value(eskit::Bytes{'f', 'o', 'o'})) == R"("Zm9v")");
    CHECK(enc(Value(eskit::Bytes(std::string_view("foobar")))) == R"("Zm9vYmFy")");
    // Typed byte strings accept padded and unpadded base64.
    CHECK(eskit::decode<kinds::All>(json, R"({"bytes":"Zm8"})").bytes == eskit::Bytes{'f', 'o'});
    CHECK(eskit::decode<kinds::All>(json, R"({"bytes":"Zm8="})").bytes == eskit::Bytes{'f', 'o'});
    CHECK(error_of([] { eskit::decode<kinds::All>(json, R"({"bytes":"Zm9="})"); }) ==
          "json: bytes: invalid base64 text for a byte string");  // non-zero unused bits
    CHECK(error_of([] { eskit::decode<kinds::All>(json, R"({"bytes":"Z"})"); }) ==
          "json: bytes: invalid base64 text for a byte string");
}

TEST_CASE("json: malformed input") {
    CHECK(dec_err("") == "json: invalid JSON: Empty: no JSON found");
    CHECK(dec_err("{\"a\":1}{}") == "json: invalid JSON: content after the top-level value");
    CHECK(dec_err("[1,2") ==
          "json: invalid JSON: JSON document ended early in the middle of an object or array.");
    CHECK(dec_err("[1,2}").starts_with("json: "));
    CHECK(dec_err("{\"a\":tru}") == "json: a: invalid JSON: malformed literal");
    CHECK(dec_err("[nul]") == "json: [0]: invalid JSON: malformed literal");
    CHECK(dec_err("{\"a\" 1}").starts_with("json: invalid JSON: "));
    // A typed decode skips unknown values without reading them.
    CHECK(eskit::decode<shop::Item>(json, R"({"x":{"y":[1,{"z":null}]},"qty":4})").qty == 4);
}

TEST_CASE("json: nesting limit") {
    auto nested = [](int levels) {
        return std::string(static_cast<std::size_t>(levels), '[') +
               std::string(static_cast<std::size_t>(levels), ']');
    };
    CHECK(json.decode(nested(128)).is_array());
    try {
        (void)json.decode(nested(129));
        FAIL("no error");
    } catch (const eskit::CodecError& e) {
        CHECK(e.reason() == "nesting deeper than 128 levels");
        std::string path;
        for (int i = 0; i < 128; ++i) path += "[0]";
        CHECK(e.path() == path);
        CHECK(e.codec() == "json");
    }
    // Unknown fields are skipped by simdjson, within its own depth limit.
    CHECK(eskit::decode<shop::Item>(json, "{\"x\":" + nested(500) + ",\"qty\":1}").qty == 1);
    Value deep;
    Value* cur = &deep;
    for (int i = 0; i < 129; ++i) cur = &cur->push_back(Value());
    CHECK(error_of([&] { (void)enc(deep); }).ends_with("[0]: nesting deeper than 128 levels"));
}

TEST_CASE("json: decodes concurrently on many threads") {
    const shop::OrderPlaced o{"ord", {{"A", 1, 1.5}, {"B", 2, 2.5}}, "n", shop::Status::Paid, true};
    const std::string text = eskit::encode(json, o);
    std::vector<std::thread> threads;
    std::atomic<int> good{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 2000; ++i) {
                if (eskit::decode<shop::OrderPlaced>(json, text) == o &&
                    eskit::encode(json, o) == text)
                    ++good;
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(good == 8000);
}

TEST_CASE("json: a large payload is not kept by the thread") {
    std::string big = "[";
    for (int i = 0; i < 2'000'000; ++i) big += "12345678,";
    big += "0]";
    CHECK(json.decode(big).size() == 2'000'001);
}
