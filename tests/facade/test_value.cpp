// eskit::Value: construction, accessors, editing, and typed conversion (the upcaster path).
#include <doctest/doctest.h>

#include <limits>

#include "types.hpp"

using eskit::Kind;
using eskit::Value;

TEST_CASE("Value kinds and canonical integers") {
    CHECK(Value().kind() == Kind::null);
    CHECK(Value(nullptr).is_null());
    CHECK(Value(true).kind() == Kind::boolean);
    CHECK(Value(-3).kind() == Kind::int64);
    CHECK(Value(3u).kind() == Kind::int64);  // unsigned values up to INT64_MAX are int64
    CHECK(Value(std::uint64_t{9223372036854775807ULL}).kind() == Kind::int64);
    CHECK(Value(std::uint64_t{9223372036854775808ULL}).kind() == Kind::uint64);
    CHECK(Value(1.5).kind() == Kind::float64);
    CHECK(Value(1.5f).as_double() == 1.5);
    CHECK(Value("s").kind() == Kind::string);
    CHECK(Value(std::string_view("s")).as_string() == "s");
    CHECK(Value(eskit::Bytes{1, 2}).kind() == Kind::bytes);
    CHECK(Value::array({1, 2}).kind() == Kind::array);
    CHECK(Value::object({{"a", 1}}).kind() == Kind::object);
    CHECK(Value(3) == Value(3u));
    CHECK(Value(3) != Value(3.0));  // structural: an integer is not a double
    CHECK(eskit::describe(Kind::float64) == "a floating-point number");
}

TEST_CASE("Value checked accessors") {
    const Value v = Value::object(
        {{"n", 5}, {"s", "x"}, {"neg", -1}, {"big", std::numeric_limits<std::uint64_t>::max()}});
    CHECK(v.at("n").as_int64() == 5);
    CHECK(v.at("n").as_uint64() == 5);
    CHECK(v.at("n").as_double() == 5.0);
    CHECK(v.at("big").as_uint64() == std::numeric_limits<std::uint64_t>::max());
    CHECK(error_of([&] { (void)v.at("s").as_int64(); }) == "expected an integer, got a string");
    CHECK(error_of([&] { (void)v.at("neg").as_uint64(); }) ==
          "expected an integer in [0, 18446744073709551615], got -1");
    CHECK(error_of([&] { (void)v.at("big").as_int64(); }) ==
          "expected an integer in [-9223372036854775808, 9223372036854775807], got "
          "18446744073709551615");
    CHECK(error_of([&] { (void)v.at("missing"); }) == "no member 'missing'");
    CHECK(error_of([&] { (void)v.as_array(); }) == "expected an array, got an object");
    CHECK(error_of([&] { (void)Value::array({1}).at(1); }) == "index 1 out of range (size 1)");
    CHECK(error_of([&] { (void)Value(1).as_bool(); }) == "expected a boolean, got an integer");
    CHECK(v.get_if<std::string>() == nullptr);
    CHECK(*v.at("s").get_if<std::string>() == "x");
    CHECK(v.find("nope") == nullptr);
    CHECK(v.contains("s"));
    CHECK(v.size() == 4);
}

TEST_CASE("Value editing keeps member order") {
    Value v;
    v["b"] = 1;  // null becomes an object
    v["a"] = "x";
    v.set("b", 2);
    CHECK(v == Value(Value::Object{{"b", 2}, {"a", "x"}}));
    CHECK(v.rename("b", "c"));
    CHECK(v == Value(Value::Object{{"c", 2}, {"a", "x"}}));
    CHECK(v.rename("c", "a"));  // replaces the existing `a`, keeps c's position
    CHECK(v == Value(Value::Object{{"a", 2}}));
    CHECK(!v.rename("zz", "y"));
    CHECK(v.erase("a"));
    CHECK(!v.erase("a"));
    CHECK(v == Value::object());

    Value arr;
    arr.push_back(1);
    arr.push_back("two");
    arr[0] = 10;
    CHECK(arr == Value::array({10, "two"}));
    CHECK(error_of([] {
              Value s("str");
              s["k"] = 1;
          }) == "expected an object, got a string");
}

TEST_CASE("to_value and from_value") {
    const shop::OrderPlaced o{"o", {{"A", 1, 2.5}}, std::nullopt, shop::Status::Pending, false};
    const Value v = eskit::to_value(o);
    CHECK(v == Value(Value::Object{{"order_id", "o"},
                                   {"items", Value::array({Value(Value::Object{
                                                 {"sku", "A"}, {"qty", 1}, {"price", 2.5}})})},
                                   {"status", "Pending"},
                                   {"gift", false}}));
    CHECK(eskit::from_value<shop::OrderPlaced>(v) == o);
    CHECK(eskit::to_value(v) == v);
    CHECK(eskit::from_value<Value>(v) == v);
}

TEST_CASE("upcasting: edit the Value, then decode it typed") {
    // Version 1 of OrderPlaced: `id` instead of `order_id`, quantities as strings, no status.
    const std::string v1 =
        R"({"id":"ord-7","items":[{"sku":"A-1","qty":"2","price":19.99},{"sku":"B","qty":"10","price":1}]})";
    for (const eskit::Codec* c : {&eskit::json_codec(), &eskit::cbor_codec()}) {
        CAPTURE(c->name());
        const std::string stored = c->encode(eskit::json_codec().decode(v1));
        Value v = c->decode(stored);
        // The upcaster: rename a field, change a type, add a default.
        REQUIRE(v.rename("id", "order_id"));
        for (Value& item : v.at("items").as_array())
            item.at("qty") = std::stoi(item.at("qty").as_string());
        v.set("status", "Paid");
        const auto e = eskit::from_value<shop::OrderPlaced>(v);
        CHECK(e.order_id == "ord-7");
        CHECK(e.items == std::vector<shop::Item>{{"A-1", 2, 19.99}, {"B", 10, 1}});
        CHECK(e.status == shop::Status::Paid);
        // Without the upcaster the typed decode names the problem.
        CHECK(error_of([&] { eskit::decode<shop::OrderPlaced>(*c, stored); }) ==
              std::string(c->name()) + ": items[0].qty: expected an integer, got a string");
    }
}
