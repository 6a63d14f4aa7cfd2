/*
** Unit tests of ext/json.h: the events batch and options parsers of es_append, the metadata
** merge and the JSON string quoting. Every error path asserts its exact message and SQLite
** result code (SPEC section 2); simdjson's own reason text is that of simdjson 3.0.1.
*/
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"
#include "ids.h"
#include "json.h"

namespace {

using eskit::ext::AppendOptions;
using eskit::ext::Error;
using eskit::ext::EventIn;
using eskit::ext::JsonScratch;
using eskit::ext::MetaMember;

constexpr const char* kFn = "es_append()";

// doctest prints std::string operands of a failed CHECK; string_view results are copied.
std::string str(std::string_view v) { return std::string(v); }

std::vector<EventIn> events_of(JsonScratch& js, std::string_view text) {
    std::vector<EventIn> out;
    js.parse_events(text, out, kFn);
    return out;
}

AppendOptions options_of(std::string_view text) {
    JsonScratch js;
    AppendOptions out;
    js.parse_options(text, out, kFn);
    return out;
}

// The Error that parsing text throws; rc -1 when nothing (or something else) was thrown.
// With db, the scratch may ask SQLite's json_valid() about JSON that simdjson cannot represent.
Error events_error(std::string_view text, const char* fn = kFn, sqlite3* db = nullptr) {
    JsonScratch js;
    js.set_db(db);
    std::vector<EventIn> out;
    try {
        js.parse_events(text, out, fn);
    } catch (const Error& e) {
        return e;
    } catch (const std::exception& e) {
        return Error{eskit::Code::Ok, -1, std::string("unexpected exception: ") + e.what(), {}};
    }
    return Error{eskit::Code::Ok, -1, "no error", {}};
}

Error options_error(std::string_view text) {
    JsonScratch js;
    AppendOptions out;
    try {
        js.parse_options(text, out, kFn);
    } catch (const Error& e) {
        return e;
    } catch (const std::exception& e) {
        return Error{eskit::Code::Ok, -1, std::string("unexpected exception: ") + e.what(), {}};
    }
    return Error{eskit::Code::Ok, -1, "no error", {}};
}

std::string invalid(const std::string& rest) { return "invalid_argument: es_append(): " + rest; }

const char* const kStructure =
    "The JSON document has an improper structure: missing or superfluous commas, braces, "
    "missing keys, etc.";

}  // namespace

// An Error escaping a test case is reported with its message rather than "unknown exception".
REGISTER_EXCEPTION_TRANSLATOR(const Error& e) {
    return doctest::String((std::to_string(e.rc) + ": " + e.message).c_str());
}

// --------------------------------------------------------------------------------------------
// parse_events: accepted input
// --------------------------------------------------------------------------------------------

TEST_CASE("parse_events: one object is a batch of one, an array is a batch") {
    JsonScratch js;

    SUBCASE("lone object") {
        const auto evs = events_of(js, R"({"type":"Placed","data":{"n":1}})");
        REQUIRE(evs.size() == 1);
        CHECK(str(evs[0].type) == "Placed");
        CHECK(str(evs[0].data) == R"({"n":1})");
        CHECK(str(evs[0].codec) == "json");
        CHECK(evs[0].is_json());
        CHECK(evs[0].id.empty());
        CHECK(evs[0].schema_version == 1);
        CHECK_FALSE(evs[0].has_metadata);
        CHECK(evs[0].metadata.empty());
        CHECK(evs[0].payload.empty());
    }
    SUBCASE("array keeps order") {
        const auto evs =
            events_of(js, R"([{"type":"A","data":1},{"type":"B","data":2},{"type":"C","data":3}])");
        REQUIRE(evs.size() == 3);
        CHECK(str(evs[0].type) == "A");
        CHECK(str(evs[1].type) == "B");
        CHECK(str(evs[2].type) == "C");
        CHECK(str(evs[0].data) == "1");
        CHECK(str(evs[1].data) == "2");
        CHECK(str(evs[2].data) == "3");
    }
    SUBCASE("empty array") {
        CHECK(events_of(js, "[]").empty());
        CHECK(events_of(js, " [ ] ").empty());
    }
    SUBCASE("surrounding whitespace") {
        const auto evs = events_of(js, " \n\t{ \"type\" : \"A\" , \"data\" : 7 }\r\n ");
        REQUIRE(evs.size() == 1);
        CHECK(str(evs[0].type) == "A");
        CHECK(str(evs[0].data) == "7");
    }
    SUBCASE("all keys in any order") {
        const auto evs =
            events_of(js, R"({"schema_version":3,"id":"ev-1","metadata":{"k":"v"},"data":{"a":1},)"
                          R"("codec":"json","type":"T"})");
        REQUIRE(evs.size() == 1);
        CHECK(str(evs[0].type) == "T");
        CHECK(str(evs[0].data) == R"({"a":1})");
        CHECK(str(evs[0].codec) == "json");
        CHECK(str(evs[0].id) == "ev-1");
        CHECK(evs[0].schema_version == 3);
        CHECK(evs[0].has_metadata);
        REQUIRE(evs[0].metadata.size() == 1);
        CHECK(evs[0].metadata[0].key == "k");
        CHECK(evs[0].metadata[0].value == R"("v")");
    }
    SUBCASE("output vector is cleared first") {
        std::vector<EventIn> out(5);
        js.parse_events(R"({"type":"A","data":1})", out, kFn);
        CHECK(out.size() == 1);
    }
}

TEST_CASE("parse_events: data keeps its raw JSON text") {
    JsonScratch js;
    auto data_of = [&](const std::string& value) {
        const auto evs = events_of(js, R"({"type":"t","data":)" + value + "}");
        REQUIRE(evs.size() == 1);
        return str(evs[0].data);
    };

    SUBCASE("numbers are not re-serialised") {
        CHECK(data_of("1e2") == "1e2");
        CHECK(data_of("19.99") == "19.99");
        CHECK(data_of("-0") == "-0");
        CHECK(data_of("1.50") == "1.50");
        CHECK(data_of("0.1E-5") == "0.1E-5");
        CHECK(data_of("9223372036854775807") == "9223372036854775807");
        CHECK(data_of("-9223372036854775808") == "-9223372036854775808");
        CHECK(data_of("18446744073709551615") == "18446744073709551615");
        CHECK(data_of("1e-400") == "1e-400");
    }
    SUBCASE("literals and strings") {
        CHECK(data_of("null") == "null");
        CHECK(data_of("true") == "true");
        CHECK(data_of("false") == "false");
        CHECK(data_of(R"("")") == R"("")");
        CHECK(data_of(R"("he said \"hi\"\n\u00e9\\\/")") == R"("he said \"hi\"\n\u00e9\\\/")");
        CHECK(data_of("\"caf\xc3\xa9\"") == "\"caf\xc3\xa9\"");
        CHECK(data_of(R"("\u0000")") == R"("\u0000")");
    }
    SUBCASE("nested objects and arrays, inner whitespace kept") {
        CHECK(data_of(R"({"b":[1,2,{"c":null}],"d":{"e":"x"}})") ==
              R"({"b":[1,2,{"c":null}],"d":{"e":"x"}})");
        CHECK(data_of(R"({ "b" : [ 1 , 2 ] ,"d":{}})") == R"({ "b" : [ 1 , 2 ] ,"d":{}})");
        CHECK(data_of("[]") == "[]");
        CHECK(data_of("{}") == "{}");
        CHECK(data_of(R"([[[[["deep"]]]]])") == R"([[[[["deep"]]]]])");
    }
    SUBCASE("whitespace around a scalar value is not part of it") {
        CHECK(data_of(" 42 ") == "42");
        CHECK(data_of("\n\"s\"\t") == "\"s\"");
        const auto evs = events_of(js, R"({"data": 5 , "type":"t"})");
        REQUIRE(evs.size() == 1);
        CHECK(str(evs[0].data) == "5");
    }
    SUBCASE("whitespace around an object or array value is not part of it") {
        CHECK(data_of(R"( {"a":1} )") == R"({"a":1})");
        CHECK(data_of("\n[1, 2]\n") == "[1, 2]");
        const auto evs =
            events_of(js, R"([{"data": {"a":1}   , "type":"t"}, {"type":"u","data":[]  }])");
        REQUIRE(evs.size() == 2);
        CHECK(str(evs[0].data) == R"({"a":1})");
        CHECK(str(evs[1].data) == "[]");
    }
}

// simdjson refuses some valid JSON it cannot represent; SPEC section 3 says data is "any JSON
// value", so with a connection set the scratch asks SQLite's json_valid() instead.
TEST_CASE("parse_events: JSON beyond simdjson's range") {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    struct Close {
        sqlite3* db;
        ~Close() { sqlite3_close_v2(db); }
    } close{db};
    const char* const beyond[] = {
        R"({"type":"t","data":{"id":12345678901234567890123}})",
        R"({"type":"t","data":18446744073709551616})",
        R"({"type":"t","data":-1e400})",
        R"({"type":"t","data":[1e400, 2]})",
        R"({"type":"t","data":"\ud800"})",
        R"({"type":"t","data":1,"metadata":{"n":99999999999999999999999}})",
    };

    SUBCASE("accepted and kept verbatim when SQLite confirms it") {
        JsonScratch js;
        js.set_db(db);
        auto data_of = [&](const std::string& text) {
            const auto evs = events_of(js, text);
            REQUIRE(evs.size() == 1);
            return str(evs[0].data);
        };
        CHECK(data_of(beyond[0]) == R"({"id":12345678901234567890123})");
        CHECK(data_of(beyond[1]) == "18446744073709551616");
        CHECK(data_of(beyond[2]) == "-1e400");
        CHECK(data_of(beyond[3]) == "[1e400, 2]");
        CHECK(data_of(beyond[4]) == R"("\ud800")");
        const auto evs = events_of(js, beyond[5]);
        REQUIRE(evs.size() == 1);
        REQUIRE(evs[0].metadata.size() == 1);
        CHECK(evs[0].metadata[0].value == "99999999999999999999999");
        // The options object gets the same second opinion.
        AppendOptions o;
        js.parse_options(R"({"metadata":{"big":1e999}})", o, kFn);
        REQUIRE(o.metadata.size() == 1);
        CHECK(o.metadata[0].value == "1e999");
    }
    SUBCASE("invalid numbers and strings stay invalid with the second opinion") {
        auto check = [&](const std::string& data, const std::string& reason) {
            INFO("data: ", data);
            const Error e = events_error(R"({"type":"t","data":)" + data + "}", kFn, db);
            CHECK(e.rc == SQLITE_ERROR);
            CHECK(e.message == invalid("events is not valid JSON: " + reason));
        };
        for (const char* bad : {"01", "-01", "1.", "-", "1e", "1e+", "1.e5", "--1", "1ee2"}) {
            check(bad, "Problem while parsing a number");
        }
        check(R"("\x")", "Problem while parsing a string");
        check(R"("\u12")", "Problem while parsing a string");
        check(R"(["\ud800", 01])", "Problem while parsing a string");
        check("[1e400, \"\xff\"]", "The input is not valid UTF-8");
        check("[1e400, \"a\x01\"]",
              "Within strings, some characters must be escaped, we found unescaped characters");
        check("[1e400] x", "Problem while parsing a number");
    }
    SUBCASE("text after a NUL byte is still part of the input") {
        // SQLite's json_valid() reads its argument as a C string and would stop at the NUL.
        const std::string text = std::string(R"({"type":"t","data":1e400})") + '\0' + "garbage";
        const Error e = events_error(text, kFn, db);
        CHECK(e.rc == SQLITE_ERROR);
        CHECK(e.message.rfind(invalid("events is not valid JSON: "), 0) == 0);
    }
    SUBCASE("without a connection simdjson's verdict stands") {
        for (const char* text : beyond) {
            INFO("input: ", text);
            const Error e = events_error(text);
            CHECK(e.rc == SQLITE_ERROR);
            CHECK(e.message.rfind(invalid("events is not valid JSON: Problem while parsing a "),
                                  0) == 0);
        }
    }
    SUBCASE("fields eskit reads itself must still fit") {
        const Error e =
            events_error(R"({"type":"t","data":1,"schema_version":99999999999999999999})", kFn, db);
        CHECK(e.rc == SQLITE_ERROR);
        CHECK(e.message == invalid("events[0].schema_version must be an integer >= 1, got "
                                   "99999999999999999999"));
        const Error t = events_error(R"({"type":"\ud800","data":1})", kFn, db);
        CHECK(t.rc == SQLITE_ERROR);
        CHECK(t.message.rfind(invalid("events[0].type "), 0) == 0);
    }
}

TEST_CASE("parse_events: names, ids and schema versions") {
    JsonScratch js;

    SUBCASE("escaped strings are unescaped") {
        const auto evs =
            events_of(js, R"({"type":"a\"b\u00e9","id":"x\/y","codec":"js\u006fn","data":1})");
        REQUIRE(evs.size() == 1);
        CHECK(str(evs[0].type) == "a\"b\xc3\xa9");
        CHECK(str(evs[0].id) == "x/y");
        CHECK(str(evs[0].codec) == "json");
        CHECK(evs[0].is_json());
    }
    SUBCASE("escaped key names are matched after unescaping") {
        const auto evs = events_of(js, R"({"ty\u0070e":"A","d\u0061ta":2})");
        REQUIRE(evs.size() == 1);
        CHECK(str(evs[0].type) == "A");
        CHECK(str(evs[0].data) == "2");
    }
    SUBCASE("1024 bytes is the limit for type, codec and id") {
        const std::string max(1024, 'x');
        const auto evs = events_of(js, R"({"type":")" + max + R"(","id":")" + max +
                                           R"(","codec":")" + max + R"(","data":"AA=="})");
        REQUIRE(evs.size() == 1);
        CHECK(evs[0].type.size() == 1024);
        CHECK(evs[0].id.size() == 1024);
        CHECK(evs[0].codec.size() == 1024);
        CHECK(evs[0].payload == std::string(1, '\0'));
    }
    SUBCASE("the limit counts unescaped bytes") {
        std::string escaped;
        for (int i = 0; i < 512; ++i) escaped += "\\u00e9";  // 2 bytes each once unescaped
        const auto evs = events_of(js, R"({"type":")" + escaped + R"(","data":1})");
        REQUIRE(evs.size() == 1);
        CHECK(evs[0].type.size() == 1024);
    }
    SUBCASE("schema_version bounds") {
        CHECK(events_of(js, R"({"type":"t","data":1,"schema_version":1})")[0].schema_version == 1);
        CHECK(events_of(js, R"({"type":"t","data":1,"schema_version":42})")[0].schema_version ==
              42);
        CHECK(events_of(js, R"({"type":"t","data":1,"schema_version":9223372036854775807})")[0]
                  .schema_version == INT64_MAX);
    }
    SUBCASE("metadata null is the same as absent") {
        const auto evs = events_of(js, R"({"type":"t","data":1,"metadata":null})");
        REQUIRE(evs.size() == 1);
        CHECK_FALSE(evs[0].has_metadata);
        CHECK(evs[0].metadata.empty());
    }
}

TEST_CASE("parse_events: metadata members") {
    JsonScratch js;

    SUBCASE("keys unescaped, values raw") {
        const auto evs = events_of(
            js,
            R"({"type":"t","data":1,"metadata":{"a":1,"b":{"c":[1, 2]},"k\"q":"v\n","n":null,"f":1.50}})");
        REQUIRE(evs.size() == 1);
        CHECK(evs[0].has_metadata);
        REQUIRE(evs[0].metadata.size() == 5);
        CHECK(evs[0].metadata[0].key == "a");
        CHECK(evs[0].metadata[0].value == "1");
        CHECK(evs[0].metadata[1].key == "b");
        CHECK(evs[0].metadata[1].value == R"({"c":[1, 2]})");
        CHECK(evs[0].metadata[2].key == "k\"q");
        CHECK(evs[0].metadata[2].value == R"("v\n")");
        CHECK(evs[0].metadata[3].key == "n");
        CHECK(evs[0].metadata[3].value == "null");
        CHECK(evs[0].metadata[4].key == "f");
        CHECK(evs[0].metadata[4].value == "1.50");
    }
    SUBCASE("empty object counts as metadata") {
        const auto evs = events_of(js, R"({"type":"t","data":1,"metadata":{}})");
        REQUIRE(evs.size() == 1);
        CHECK(evs[0].has_metadata);
        CHECK(evs[0].metadata.empty());
    }
    SUBCASE("whitespace after a nested value is not part of it") {
        const auto evs =
            events_of(js, R"({"type":"t","data":1,"metadata":{"a": {"b":1} , "c": [2] }})");
        REQUIRE(evs.size() == 1);
        REQUIRE(evs[0].metadata.size() == 2);
        CHECK(evs[0].metadata[0].value == R"({"b":1})");
        CHECK(evs[0].metadata[1].value == "[2]");
    }
    SUBCASE("each event has its own members") {
        const auto evs = events_of(js, R"([{"type":"t","data":1,"metadata":{"a":1}},)"
                                       R"({"type":"t","data":2},)"
                                       R"({"type":"t","data":3,"metadata":{"b":2,"c":3}}])");
        REQUIRE(evs.size() == 3);
        REQUIRE(evs[0].metadata.size() == 1);
        CHECK(evs[0].metadata[0].key == "a");
        CHECK_FALSE(evs[1].has_metadata);
        CHECK(evs[1].metadata.empty());
        REQUIRE(evs[2].metadata.size() == 2);
        CHECK(evs[2].metadata[0].key == "b");
        CHECK(evs[2].metadata[1].key == "c");
    }
}

TEST_CASE("parse_events: non-json codecs carry base64 bytes") {
    JsonScratch js;
    const std::string bytes("\x00\x01\x02\xff", 4);

    SUBCASE("padded and unpadded") {
        auto evs = events_of(js, R"({"type":"t","codec":"proto","data":"AAEC/w=="})");
        REQUIRE(evs.size() == 1);
        CHECK_FALSE(evs[0].is_json());
        CHECK(str(evs[0].codec) == "proto");
        CHECK(evs[0].payload == bytes);
        CHECK(str(evs[0].data) == R"("AAEC/w==")");
        evs = events_of(js, R"({"type":"t","codec":"proto","data":"AAEC/w"})");
        REQUIRE(evs.size() == 1);
        CHECK(evs[0].payload == bytes);
    }
    SUBCASE("the \\/ escape is undone") {
        const auto evs = events_of(js, R"({"type":"t","codec":"proto","data":"AAEC\/w=="})");
        REQUIRE(evs.size() == 1);
        CHECK(evs[0].payload == bytes);
    }
    SUBCASE("codec may come after data") {
        const auto evs = events_of(js, R"({"type":"t","data":"AAEC/w==","codec":"bin"})");
        REQUIRE(evs.size() == 1);
        CHECK(str(evs[0].codec) == "bin");
        CHECK(evs[0].payload == bytes);
    }
    SUBCASE("empty string is zero bytes") {
        const auto evs = events_of(js, R"({"type":"t","codec":"bin","data":""})");
        REQUIRE(evs.size() == 1);
        CHECK(evs[0].payload.empty());
    }
    SUBCASE("codec json keeps a string as JSON text") {
        const auto evs = events_of(js, R"({"type":"t","codec":"json","data":"AAEC"})");
        REQUIRE(evs.size() == 1);
        CHECK(evs[0].is_json());
        CHECK(str(evs[0].data) == R"("AAEC")");
        CHECK(evs[0].payload.empty());
    }
    SUBCASE("mixed codecs in one batch") {
        const auto evs = events_of(js, R"([{"type":"a","codec":"bin","data":"Zm9v"},)"
                                       R"({"type":"b","data":{"x":1}},)"
                                       R"({"type":"c","codec":"bin","data":"YmFy"}])");
        REQUIRE(evs.size() == 3);
        CHECK(evs[0].payload == "foo");
        CHECK(str(evs[1].data) == R"({"x":1})");
        CHECK(evs[1].payload.empty());
        CHECK(evs[2].payload == "bar");
    }
}

// --------------------------------------------------------------------------------------------
// parse_events: rejected input
// --------------------------------------------------------------------------------------------

TEST_CASE("parse_events: invalid JSON names simdjson's reason") {
    auto check = [](const std::string& text, const std::string& reason) {
        INFO("input: ", text);
        const Error e = events_error(text);
        CHECK(e.rc == SQLITE_ERROR);
        CHECK(e.message == invalid("events is not valid JSON: " + reason));
    };
    SUBCASE("nested invalid values are found even where nothing reads them") {
        check(R"({"type":"a","data":[tru]})",
              "Problem while parsing an atom starting with the letter 't'");
        check(R"([{"type":"a","data":{"x":nul}}])",
              "Problem while parsing an atom starting with the letter 'n'");
        check(R"({"type":"a","data":1,"metadata":{"k":fals}})",
              "Problem while parsing an atom starting with the letter 'f'");
        check(R"([{"type":"a","data":1},{"type":"b","data":01}])",
              "Problem while parsing a number");
        check(R"({"type":"a","data":"\x"})", "Problem while parsing a string");
        check(R"({"type":"a","data":"\ud800"})", "Problem while parsing a string");
    }
    SUBCASE("structure") {
        check("{", kStructure);
        check("[1,]", kStructure);
        check(R"({"type":"a","data":1,})", kStructure);
        check(R"({"type":"a","data":1} x)", kStructure);
        check(R"({"type":"a","data":1} {"type":"b","data":2})", kStructure);
        check(R"({"type" "a"})", kStructure);
        check(R"({"type":"a","data":"abc})", "A string is opened, but never closed.");
    }
    SUBCASE("empty input") {
        check("", "Empty: no JSON found");
        check(" \n ", "Empty: no JSON found");
    }
    SUBCASE("encoding") {
        check("{\"type\":\"a\x01\",\"data\":1}",
              "Within strings, some characters must be escaped, we found unescaped characters");
        check("{\"type\":\"\xff\",\"data\":1}", "The input is not valid UTF-8");
    }
    SUBCASE("NUL bytes outside strings") {
        check(std::string("[]\0", 3), kStructure);
        check(std::string(R"({"type":"a","data":1})") + '\0', kStructure);
        check(std::string("[\0]", 3), kStructure);
    }
    SUBCASE("nesting deeper than 1024") {
        const std::string deep = std::string(1030, '[') + std::string(1030, ']');
        check(R"({"type":"a","data":)" + deep + "}",
              "The JSON document was too deep (too many nested objects and arrays)");
    }
    SUBCASE("fn names the caller") {
        const Error e = events_error("[", "es_test()");
        CHECK(e.rc == SQLITE_ERROR);
        CHECK(e.message ==
              std::string("invalid_argument: es_test(): events is not valid JSON: ") + kStructure);
    }
}

TEST_CASE("parse_events: wrong shapes") {
    auto check = [](const std::string& text, const std::string& rest) {
        INFO("input: ", text);
        const Error e = events_error(text);
        CHECK(e.rc == SQLITE_ERROR);
        CHECK(e.message == invalid(rest));
    };
    const std::string top =
        "events must be a JSON array of event objects or one event object, got ";
    SUBCASE("top level") {
        check("null", top + "null");
        check("1", top + "1");
        check(R"("x")", top + R"("x")");
        check(" true ", top + "true");
        check("-12.50e3", top + "-12.50e3");
        check(R"("12345678901234567890123456789012345678901234567890")",
              top + R"("123456789012345678901234567890123456789...)");
    }
    SUBCASE("elements") {
        check("[1]", "events[0] must be an object, got 1");
        check("[null]", "events[0] must be an object, got null");
        check(R"([{"type":"a","data":1},[]])", "events[1] must be an object, got an array");
        check(R"([{"type":"a","data":1},{"type":"b","data":2},"x"])",
              R"(events[2] must be an object, got "x")");
    }
    SUBCASE("unknown and duplicate keys") {
        check(R"({"type":"a","data":1,"payload":2})", "events[0] has unknown key 'payload'");
        check(R"({"Type":"a","data":1})", "events[0] has unknown key 'Type'");
        check(R"({"type":"a","data":1,"it's":2})", "events[0] has unknown key 'it''s'");
        check(R"({"type":"a","data":1,"":2})", "events[0] has unknown key ''");
        check(R"({"type":"a","type":"b","data":1})", "events[0] has key 'type' more than once");
        check(R"({"type":"a","data":1,"data":2})", "events[0] has key 'data' more than once");
        check(R"({"type":"a","data":1,"metadata":{},"metadata":{}})",
              "events[0] has key 'metadata' more than once");
        check(R"({"type":"a","data":1,"metadata":null,"metadata":null})",
              "events[0] has key 'metadata' more than once");
        check(R"({"type":"a","data":1,"id":"x","id":"x"})",
              "events[0] has key 'id' more than once");
        check(R"({"type":"a","data":1,"codec":"json","codec":"json"})",
              "events[0] has key 'codec' more than once");
        check(R"({"type":"a","data":1,"schema_version":1,"schema_version":1})",
              "events[0] has key 'schema_version' more than once");
        check(R"({"type":"a","data":1,"t\u0079pe":"b"})",
              "events[0] has key 'type' more than once");
        check(R"([{"type":"a","data":1},{"type":"b","data":2,"x":3}])",
              "events[1] has unknown key 'x'");
    }
    SUBCASE("missing type or data") {
        check("{}", "events[0] is missing 'type'");
        check(R"({"data":1})", "events[0] is missing 'type'");
        check(R"({"type":"a"})", "events[0] is missing 'data'");
        check(R"([{"type":"a","data":1},{"type":"b"}])", "events[1] is missing 'data'");
    }
    SUBCASE("type, codec and id must be non-empty strings without NUL") {
        for (const std::string key : {"type", "codec", "id"}) {
            auto with = [&](const std::string& value) {
                const std::string ev = key == "type" ? R"({"data":1)" : R"({"type":"t","data":1)";
                return ev + ",\"" + key + "\":" + value + "}";
            };
            const std::string must = "events[0]." + key + " must be a non-empty string, got ";
            check(with(R"("")"), must + R"("")");
            check(with("null"), must + "null");
            check(with("1"), must + "1");
            check(with("false"), must + "false");
            check(with("[]"), must + "an array");
            check(with(R"({"a":1})"), must + "an object");
            check(with(R"("a\u0000b")"), "events[0]." + key + " must not contain NUL bytes");
        }
    }
    SUBCASE("metadata must be an object") {
        const std::string must = "events[0].metadata must be a JSON object, got ";
        check(R"({"type":"a","data":1,"metadata":[]})", must + "an array");
        check(R"({"type":"a","data":1,"metadata":"x"})", must + R"("x")");
        check(R"({"type":"a","data":1,"metadata":1})", must + "1");
        check(R"({"type":"a","data":1,"metadata":false})", must + "false");
    }
    SUBCASE("schema_version must be an integer >= 1") {
        const std::string must = "events[0].schema_version must be an integer >= 1, got ";
        for (const char* v :
             {"0", "-1", "1.0", "1.5", "1e2", R"("1")", "null", "true", "9223372036854775808"}) {
            check(std::string(R"({"type":"a","data":1,"schema_version":)") + v + "}", must + v);
        }
        check(R"({"type":"a","data":1,"schema_version":[1]})", must + "an array");
        check(R"({"type":"a","data":1,"schema_version":{}})", must + "an object");
    }
    SUBCASE("base64 rules for non-json codecs") {
        const std::string must = "events[0].data must be a base64 string for codec 'proto', got ";
        auto with = [](const std::string& data) {
            return R"({"type":"a","codec":"proto","data":)" + data + "}";
        };
        // The value is quoted as given (raw JSON text), shortened to 40 bytes.
        for (const std::string data : {
                 "1", "null", "[]", R"({"a":"AA=="})",
                 R"("A")",    // dangling symbol
                 R"("AAF")",  // non-zero leftover bits
                 R"("AA=")",  // padding present but not exact
                 R"("AA===")",
                 R"("AA AA")",  // characters outside the alphabet
                 R"("AA-_")",   // base64url is another alphabet
                 R"("AA\nA")",  // escapes other than \/ are not base64
                 R"("\u0041AAA")", R"("AAAA\\")",
                 R"("AA\/")",  // \/ undone, then "AA/" has leftover bits
             }) {
            check(with(data), must + data);
        }
        check(with('"' + std::string(60, 'A') + "!\""), must + '"' + std::string(39, 'A') + "...");
        const Error e = events_error(R"({"type":"a","codec":"it's","data":1})");
        CHECK(e.message ==
              invalid("events[0].data must be a base64 string for codec 'it''s', got 1"));
    }
}

TEST_CASE("parse_events: oversized names are SQLITE_TOOBIG") {
    const std::string big(1025, 'x');
    SUBCASE("type") {
        const Error e = events_error(R"({"type":")" + big + R"(","data":1})");
        CHECK(e.rc == SQLITE_TOOBIG);
        CHECK(e.message == invalid("events[0].type is 1025 bytes, maximum 1024"));
    }
    SUBCASE("codec") {
        const Error e = events_error(R"({"type":"t","codec":")" + big + R"(","data":"AA=="})");
        CHECK(e.rc == SQLITE_TOOBIG);
        CHECK(e.message == invalid("events[0].codec is 1025 bytes, maximum 1024"));
    }
    SUBCASE("id, in a later element") {
        const Error e =
            events_error(R"([{"type":"t","data":1},{"type":"t","data":1,"id":")" + big + R"("}])");
        CHECK(e.rc == SQLITE_TOOBIG);
        CHECK(e.message == invalid("events[1].id is 1025 bytes, maximum 1024"));
    }
    SUBCASE("unescaped length is what counts") {
        std::string escaped;
        for (int i = 0; i < 513; ++i) escaped += "\\u00e9";
        const Error e = events_error(R"({"type":")" + escaped + R"(","data":1})");
        CHECK(e.rc == SQLITE_TOOBIG);
        CHECK(e.message == invalid("events[0].type is 1026 bytes, maximum 1024"));
    }
}

// --------------------------------------------------------------------------------------------
// parse_options
// --------------------------------------------------------------------------------------------

TEST_CASE("parse_options: accepted input") {
    SUBCASE("empty object sets nothing") {
        const AppendOptions o = options_of("{}");
        CHECK_FALSE(o.has_idempotency_key);
        CHECK_FALSE(o.has_timestamp);
        CHECK_FALSE(o.has_metadata);
    }
    SUBCASE("every option") {
        const AppendOptions o = options_of(
            R"({"idempotency_key":"k\"1","timestamp":1700000000000000,"metadata":{"a":1,"b":"x"}})");
        CHECK(o.has_idempotency_key);
        CHECK(o.idempotency_key == "k\"1");
        CHECK(o.has_timestamp);
        CHECK(o.timestamp == 1700000000000000);
        CHECK(o.has_metadata);
        REQUIRE(o.metadata.size() == 2);
        CHECK(o.metadata[0].key == "a");
        CHECK(o.metadata[0].value == "1");
        CHECK(o.metadata[1].key == "b");
        CHECK(o.metadata[1].value == R"("x")");
    }
    SUBCASE("bounds") {
        CHECK(options_of(R"({"timestamp":0})").timestamp == 0);
        CHECK(options_of(R"({"timestamp":9223372036854775807})").timestamp == INT64_MAX);
        CHECK(options_of(R"({"idempotency_key":")" + std::string(1024, 'k') + R"("})")
                  .idempotency_key.size() == 1024);
    }
    SUBCASE("null is the same as absent") {
        const AppendOptions o =
            options_of(R"({"idempotency_key":null,"timestamp":null,"metadata":null})");
        CHECK_FALSE(o.has_idempotency_key);
        CHECK_FALSE(o.has_timestamp);
        CHECK_FALSE(o.has_metadata);
    }
    SUBCASE("metadata {} is present") {
        const AppendOptions o = options_of(R"({"metadata":{}})");
        CHECK(o.has_metadata);
        CHECK(o.metadata.empty());
    }
}

TEST_CASE("parse_options: rejected input") {
    auto check = [](const std::string& text, const std::string& rest, int rc = SQLITE_ERROR) {
        INFO("input: ", text);
        const Error e = options_error(text);
        CHECK(e.rc == rc);
        CHECK(e.message == invalid(rest));
    };
    SUBCASE("invalid JSON") {
        check("{", std::string("options is not valid JSON: ") + kStructure);
        check("", "options is not valid JSON: Empty: no JSON found");
        check(R"({"metadata":{"a":[tru]}})",
              "options is not valid JSON: Problem while parsing an atom starting with the letter "
              "'t'");
    }
    SUBCASE("not an object") {
        const std::string must = "options must be a JSON object, got ";
        check("[]", must + "an array");
        check("[{}]", must + "an array");
        check("null", must + "null");
        check("1", must + "1");
        check(R"("x")", must + R"("x")");
    }
    SUBCASE("unknown and repeated options") {
        check(R"({"idempotencyKey":"k"})", "unknown option 'idempotencyKey'");
        check(R"({"timestamp":1,"it's":1})", "unknown option 'it''s'");
        check(R"({"timestamp":1,"timestamp":2})", "option 'timestamp' is given more than once");
        check(R"({"idempotency_key":"a","idempotency_key":"a"})",
              "option 'idempotency_key' is given more than once");
        check(R"({"metadata":{},"metadata":{"a":1}})", "option 'metadata' is given more than once");
        check(R"({"metadata":null,"metadata":{"a":1}})",
              "option 'metadata' is given more than once");
    }
    SUBCASE("idempotency_key") {
        const std::string must =
            "option idempotency_key must be a non-empty string without NUL bytes, got ";
        for (const char* v : {R"("")", "1", R"("a\u0000")", "false"}) {
            check(std::string(R"({"idempotency_key":)") + v + "}", must + v);
        }
        check(R"({"idempotency_key":["k"]})", must + "an array");
        check(R"({"idempotency_key":")" + std::string(1025, 'k') + R"("})",
              "option idempotency_key is 1025 bytes, maximum 1024", SQLITE_TOOBIG);
    }
    SUBCASE("timestamp") {
        const std::string must =
            "option timestamp must be an integer >= 0 (microseconds since the epoch), got ";
        for (const char* v : {"-1", "1.5", "1e6", R"("1")", "true", "9223372036854775808"}) {
            check(std::string(R"({"timestamp":)") + v + "}", must + v);
        }
        check(R"({"timestamp":{}})", must + "an object");
    }
    SUBCASE("metadata") {
        const std::string must = "option metadata must be a JSON object, got ";
        check(R"({"metadata":[]})", must + "an array");
        check(R"({"metadata":1})", must + "1");
        check(R"({"metadata":"x"})", must + R"("x")");
        check(R"({"metadata":true})", must + "true");
    }
}

TEST_CASE("JsonScratch::validate accepts exactly one complete JSON value") {
    JsonScratch js;
    for (const char* ok : {"1", "null", "\"s\"", "{}", "[]", R"({"a":[1,{"b":null}]})", " 1e2 "}) {
        INFO("input: ", ok);
        CHECK_NOTHROW(js.validate(ok, "es_test()", "state"));
    }
    auto error_of = [&](std::string_view text) {
        try {
            js.validate(text, "es_test()", "state");
        } catch (const Error& e) {
            return e;
        }
        return Error{eskit::Code::Ok, -1, "no error", {}};
    };
    Error e = error_of(R"({"a":[tru]})");
    CHECK(e.rc == SQLITE_ERROR);
    CHECK(e.message ==
          "invalid_argument: es_test(): state is not valid JSON: Problem while "
          "parsing an atom starting with the letter 't'");
    e = error_of("1 2");
    CHECK(e.rc == SQLITE_ERROR);
    CHECK(e.message ==
          std::string("invalid_argument: es_test(): state is not valid JSON: ") + kStructure);
    e = error_of("");
    CHECK(e.message ==
          "invalid_argument: es_test(): state is not valid JSON: Empty: no JSON found");
}

// --------------------------------------------------------------------------------------------
// One scratch, many calls
// --------------------------------------------------------------------------------------------

TEST_CASE("JsonScratch reuse: no content of an earlier call leaks into a later one") {
    JsonScratch js;

    SUBCASE("large, then small, then large again") {
        std::string big = "[";
        for (int i = 0; i < 300; ++i) {
            if (i) big += ',';
            big += R"({"type":"Big)" + std::to_string(i) + R"(","data":{"text":")" +
                   std::string(200, static_cast<char>('a' + i % 26)) + R"("}})";
        }
        big += "]";
        auto evs = events_of(js, big);
        REQUIRE(evs.size() == 300);
        CHECK(str(evs[299].type) == "Big299");

        evs = events_of(js, R"({"type":"s","data":1})");
        REQUIRE(evs.size() == 1);
        CHECK(str(evs[0].type) == "s");
        CHECK(str(evs[0].data) == "1");

        // A prefix of the earlier batch must not be completed by the bytes still in the buffer.
        const Error e = [&] {
            try {
                events_of(js, big.substr(0, 100));
            } catch (const Error& err) {
                return err;
            }
            return Error{eskit::Code::Ok, -1, "no error", {}};
        }();
        CHECK(e.rc == SQLITE_ERROR);
        CHECK(e.message.rfind(invalid("events is not valid JSON: "), 0) == 0);

        evs = events_of(js, big);
        REQUIRE(evs.size() == 300);
        CHECK(str(evs[7].data) == R"({"text":")" + std::string(200, 'h') + R"("})");
    }
    SUBCASE("an error leaves the scratch usable") {
        CHECK(events_error(R"({"type":"a","data":[tru]})").rc == SQLITE_ERROR);
        std::vector<EventIn> out;
        CHECK_THROWS_AS(js.parse_events(R"({"type":"a","data":[tru]})", out, kFn), Error);
        CHECK_THROWS_AS(js.parse_events(R"({"type":"a","data":1,"x":1})", out, kFn), Error);
        const auto evs = events_of(js, R"({"type":"ok","data":true})");
        REQUIRE(evs.size() == 1);
        CHECK(str(evs[0].type) == "ok");
        CHECK(str(evs[0].data) == "true");
    }
    SUBCASE("options and events share the scratch") {
        AppendOptions o;
        js.parse_options(R"({"idempotency_key":")" + std::string(1000, 'k') +
                             R"(","metadata":{"m":[1,2,3],"big":")" + std::string(5000, 'b') +
                             R"("}})",
                         o, kFn);
        const auto evs = events_of(js, R"({"type":"t","data":[1]})");
        REQUIRE(evs.size() == 1);
        CHECK(str(evs[0].data) == "[1]");
        // Options are owned copies and survive the next parse.
        CHECK(o.idempotency_key == std::string(1000, 'k'));
        REQUIRE(o.metadata.size() == 2);
        CHECK(o.metadata[0].value == "[1,2,3]");
        CHECK(o.metadata[1].value == '"' + std::string(5000, 'b') + '"');
    }
    SUBCASE("randomised sizes") {
        std::mt19937 rng(12345);
        std::uniform_int_distribution<int> count(0, 20), len(0, 3000), coin(0, 3);
        for (int round = 0; round < 200; ++round) {
            const int n = count(rng);
            std::string text = "[";
            std::vector<std::string> types, datas, payloads;
            for (int i = 0; i < n; ++i) {
                if (i) text += ',';
                const std::string type = "T" + std::to_string(round) + "_" + std::to_string(i);
                const int l = len(rng);
                const char fill = static_cast<char>('a' + (round + i) % 26);
                types.push_back(type);
                if (coin(rng) == 0) {
                    std::string bytes(static_cast<size_t>(l % 200), fill);
                    payloads.push_back(bytes);
                    datas.emplace_back();
                    text += R"({"type":")" + type + R"(","codec":"bin","data":")" +
                            eskit::ext::base64_encode(bytes) + R"("})";
                } else {
                    const std::string data = R"({"s":")" +
                                             std::string(static_cast<size_t>(l), fill) +
                                             R"(","n":)" + std::to_string(l) + "}";
                    payloads.emplace_back();
                    datas.push_back(data);
                    text += R"({"type":")" + type + R"(","data":)" + data + "}";
                }
            }
            text += "]";
            const auto evs = events_of(js, text);
            REQUIRE(evs.size() == static_cast<size_t>(n));
            for (int i = 0; i < n; ++i) {
                INFO("round ", round, " event ", i);
                CHECK(str(evs[i].type) == types[i]);
                if (evs[i].is_json()) {
                    CHECK(str(evs[i].data) == datas[i]);
                    CHECK(evs[i].payload.empty());
                } else {
                    CHECK(evs[i].payload == payloads[i]);
                }
            }
        }
    }
}

// --------------------------------------------------------------------------------------------
// merge_metadata and json_quote
// --------------------------------------------------------------------------------------------

namespace {

EventIn event_with(std::vector<MetaMember> members) {
    EventIn ev;
    ev.has_metadata = true;
    ev.metadata = std::move(members);
    return ev;
}

AppendOptions options_with(std::vector<MetaMember> members) {
    AppendOptions o;
    o.has_metadata = true;
    o.metadata = std::move(members);
    return o;
}

}  // namespace

TEST_CASE("merge_metadata") {
    std::string out = "left over";

    SUBCASE("NULL when neither level has metadata") {
        CHECK_FALSE(eskit::ext::merge_metadata(EventIn{}, AppendOptions{}, out));
        CHECK(out.empty());
    }
    SUBCASE("event only") {
        CHECK(eskit::ext::merge_metadata(event_with({{"a", "1"}, {"b", R"("x")"}}), AppendOptions{},
                                         out));
        CHECK(out == R"({"a":1,"b":"x"})");
    }
    SUBCASE("call only") {
        CHECK(eskit::ext::merge_metadata(EventIn{}, options_with({{"trace", R"("t-1")"}}), out));
        CHECK(out == R"({"trace":"t-1"})");
    }
    SUBCASE("empty objects still store {}") {
        CHECK(eskit::ext::merge_metadata(event_with({}), AppendOptions{}, out));
        CHECK(out == "{}");
        CHECK(eskit::ext::merge_metadata(EventIn{}, options_with({}), out));
        CHECK(out == "{}");
        CHECK(eskit::ext::merge_metadata(event_with({}), options_with({}), out));
        CHECK(out == "{}");
    }
    SUBCASE("call keys first with event values winning, then event-only keys") {
        const AppendOptions o = options_with({{"a", "1"}, {"b", "2"}, {"c", "3"}});
        const EventIn ev = event_with({{"c", "30"}, {"d", "40"}, {"a", R"({"x":10})"}});
        CHECK(eskit::ext::merge_metadata(ev, o, out));
        CHECK(out == R"({"a":{"x":10},"b":2,"c":30,"d":40})");
    }
    SUBCASE("disjoint keys") {
        CHECK(
            eskit::ext::merge_metadata(event_with({{"e", "1"}}), options_with({{"o", "2"}}), out));
        CHECK(out == R"({"o":2,"e":1})");
    }
    SUBCASE("keys are re-quoted") {
        CHECK(eskit::ext::merge_metadata(event_with({{"q\"k\n", "null"}}), AppendOptions{}, out));
        CHECK(out == R"({"q\"k\n":null})");
    }
    SUBCASE("out is replaced, not appended to") {
        CHECK(eskit::ext::merge_metadata(event_with({{"a", "1"}}), AppendOptions{}, out));
        CHECK(eskit::ext::merge_metadata(event_with({{"b", "2"}}), AppendOptions{}, out));
        CHECK(out == R"({"b":2})");
    }
    SUBCASE("end to end through the parsers") {
        JsonScratch js;
        AppendOptions o;
        js.parse_options(R"({"metadata":{"user":"u1","trace":"t"}})", o, kFn);
        const auto evs = events_of(js, R"([{"type":"a","data":1,"metadata":{"trace":"own","n":1}},)"
                                       R"({"type":"b","data":2},)"
                                       R"({"type":"c","data":3,"metadata":null}])");
        REQUIRE(evs.size() == 3);
        CHECK(eskit::ext::merge_metadata(evs[0], o, out));
        CHECK(out == R"({"user":"u1","trace":"own","n":1})");
        CHECK(eskit::ext::merge_metadata(evs[1], o, out));
        CHECK(out == R"({"user":"u1","trace":"t"})");
        CHECK(eskit::ext::merge_metadata(evs[2], o, out));
        CHECK(out == R"({"user":"u1","trace":"t"})");
        CHECK_FALSE(eskit::ext::merge_metadata(evs[1], AppendOptions{}, out));
    }
}

TEST_CASE("json_quote") {
    auto quote = [](std::string_view s) {
        std::string out;
        eskit::ext::json_quote(s, out);
        return out;
    };
    CHECK(quote("") == R"("")");
    CHECK(quote("plain") == R"("plain")");
    CHECK(quote("a\"b\\c/d") == R"("a\"b\\c/d")");
    CHECK(quote("\n\r\t\b\f") == R"("\n\r\t\b\f")");
    CHECK(quote(std::string_view("\x00\x01\x1f", 3)) == R"("\u0000\u0001\u001f")");
    CHECK(quote("\x7f") == "\"\x7f\"");
    CHECK(quote("caf\xc3\xa9 \xe2\x82\xac") == "\"caf\xc3\xa9 \xe2\x82\xac\"");

    SUBCASE("appends to out") {
        std::string out = "x:";
        eskit::ext::json_quote("a", out);
        CHECK(out == R"(x:"a")");
    }
    SUBCASE("round trip through the parser for every ASCII character") {
        JsonScratch js;
        for (int ch = 1; ch < 128; ++ch) {
            const std::string s = std::string("<") + static_cast<char>(ch) + ">";
            INFO("character ", ch);
            const auto evs = events_of(js, R"({"type":)" + quote(s) + R"(,"data":1})");
            REQUIRE(evs.size() == 1);
            CHECK(str(evs[0].type) == s);
        }
    }
}
