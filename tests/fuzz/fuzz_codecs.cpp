// libFuzzer target: the facade's codecs (facade/src: cbor and json, eskit::Value, the typed
// field machinery) on arbitrary bytes.
//
// The input is decoded as CBOR and as JSON, each to an eskit::Value and to Sample, a struct with
// a field of every supported kind (and a recursive one). Hostile input must end in a CodecError
// whose message starts with the codec's name -- never a crash, a sanitizer report, another
// exception type (std::bad_alloc, std::length_error), a hang or unbounded memory (libFuzzer's
// -rss_limit_mb / -malloc_limit_mb catch those). For what decodes:
//   - CBOR encoding is deterministic and stable: enc(dec(enc(x))) == enc(x), for the Value
//     and for the struct; a Value decoded from JSON always encodes as CBOR;
//   - JSON round-trips: dec(enc(v)) == v for a Value decoded from JSON, enc(dec(enc(x))) ==
//     enc(x) for the struct; encoding to JSON fails only for NaN/infinity (CBOR has them);
//   - the typed decode through a Value (from_value(cbor.decode(b))) agrees with the direct one.
// A violated invariant abort()s (libFuzzer saves the input).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include <eskit/codec.hpp>

namespace fz {

enum class Mood : std::uint8_t { calm, angry, happy };
ESKIT_ENUM(Mood, calm, (angry, "ANGRY"), happy);
enum class Raw : std::int16_t { a = -5, b = 7 };  // undescribed: its integer

struct Leaf {
    std::string name;
    std::optional<std::int32_t> n;
    bool operator==(const Leaf&) const = default;
};
ESKIT_FIELDS(Leaf, name, n);

struct Tree {  // recursive: bounded by the nesting limit only
    std::string label;
    std::vector<Tree> kids;
};
ESKIT_FIELDS(Tree, label, kids);

struct Sample {
    bool b = false;
    std::int8_t i8 = 0;
    std::uint8_t u8 = 0;
    std::int16_t i16 = 0;
    std::uint32_t u32 = 0;
    std::int64_t i64 = 0;
    std::uint64_t u64 = 0;
    float f = 0;
    double d = 0;
    std::string s;
    eskit::Bytes bytes;
    std::optional<std::string> opt;
    std::vector<std::int64_t> ints;
    std::vector<bool> bools;
    std::vector<std::optional<double>> holes;
    std::map<std::string, Leaf> leaves;
    std::unordered_map<std::string, std::vector<Mood>> moods;
    Leaf leaf;
    Mood mood = Mood::calm;
    Raw raw = Raw::a;
    eskit::Value dyn;
    Tree tree;
};
ESKIT_FIELDS(Sample, b, i8, u8, i16, u32, i64, u64, f, d, s, bytes, opt, ints, bools, holes, leaves,
             moods, leaf, mood, raw, dyn, tree, (s, "alias"));

}  // namespace fz

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "\n*** eskit fuzz invariant violated: %s\n*** %s\n", what, detail.c_str());
    std::fflush(stderr);
    std::abort();
}

#define CHECK_OR_FAIL(cond, detail)                    \
    do {                                               \
        if (!(cond)) fail(#cond, std::string(detail)); \
    } while (0)

const eskit::Codec& cbor = eskit::cbor_codec();
const eskit::Codec& json = eskit::json_codec();

// Runs f; true if it succeeded, false on a CodecError of `codec` (anything else aborts).
template <class F>
bool attempt(const eskit::Codec& codec, const char* what, F&& f) {
    try {
        f();
        return true;
    } catch (const eskit::CodecError& e) {
        const std::string m = e.what();
        CHECK_OR_FAIL(m.rfind(std::string(codec.name()) + ": ", 0) == 0,
                      std::string(what) + ": message without the codec's name: " + m);
        CHECK_OR_FAIL(!e.reason().empty(), std::string(what) + ": empty reason");
        return false;
    } catch (const std::exception& e) {
        fail("only CodecError may escape", std::string(what) + ": " + e.what());
    }
}

std::string hex(std::string_view b) {
    static const char* k = "0123456789abcdef";
    std::string out;
    for (unsigned char c : b.substr(0, 256)) {
        out += k[c >> 4];
        out += k[c & 15];
    }
    return out;
}

void cbor_value(std::string_view in) {
    eskit::Value v;
    if (!attempt(cbor, "cbor decode Value", [&] { v = cbor.decode(in); })) return;
    std::string c1, c2;
    CHECK_OR_FAIL(attempt(cbor, "cbor encode Value", [&] { c1 = cbor.encode(v); }), hex(in));
    eskit::Value v2;
    CHECK_OR_FAIL(attempt(cbor, "cbor decode own Value", [&] { v2 = cbor.decode(c1); }), hex(c1));
    CHECK_OR_FAIL(attempt(cbor, "cbor re-encode Value", [&] { c2 = cbor.encode(v2); }), hex(c1));
    CHECK_OR_FAIL(c1 == c2, "cbor Value encoding not stable: " + hex(c1) + " vs " + hex(c2));
    std::string j;
    if (attempt(json, "json encode Value from cbor", [&] { j = json.encode(v); })) {
        eskit::Value jv;
        CHECK_OR_FAIL(attempt(json, "json decode own Value", [&] { jv = json.decode(j); }), j);
        std::string j2;
        CHECK_OR_FAIL(attempt(json, "json re-encode", [&] { j2 = json.encode(jv); }), j);
        CHECK_OR_FAIL(j == j2, "json Value encoding not stable: " + j + " vs " + j2);
    }
}

void cbor_typed(std::string_view in) {
    fz::Sample s;
    if (!attempt(cbor, "cbor decode Sample", [&] { eskit::decode(cbor, in, s); })) return;
    std::string b1, b2;
    CHECK_OR_FAIL(attempt(cbor, "cbor encode Sample", [&] { eskit::encode(cbor, s, b1); }),
                  hex(in));
    // The same through a Value, when the input decodes to one (a Value is stricter: skipped
    // unknown fields may hold tags or non-text keys that a Value refuses).
    fz::Sample via;
    if (attempt(cbor, "cbor Sample via Value", [&] {
            const eskit::Value v = cbor.decode(in);
            try {
                eskit::from_value(v, via);
            } catch (eskit::CodecError& e) {
                fail("from_value failed where the direct decode did not", e.what());
            }
        })) {
        std::string bv;
        CHECK_OR_FAIL(attempt(cbor, "cbor encode via", [&] { eskit::encode(cbor, via, bv); }), "");
        CHECK_OR_FAIL(bv == b1, "typed decode via a Value differs: " + hex(bv) + " vs " + hex(b1));
    }
    fz::Sample s2;
    CHECK_OR_FAIL(attempt(cbor, "cbor decode own Sample", [&] { eskit::decode(cbor, b1, s2); }),
                  hex(b1));
    CHECK_OR_FAIL(attempt(cbor, "cbor re-encode Sample", [&] { eskit::encode(cbor, s2, b2); }),
                  hex(b1));
    CHECK_OR_FAIL(b1 == b2, "cbor Sample encoding not stable: " + hex(b1) + " vs " + hex(b2));
    std::string j1, j2;
    if (attempt(json, "json encode Sample", [&] { eskit::encode(json, s, j1); })) {
        fz::Sample s3;
        CHECK_OR_FAIL(attempt(json, "json decode own Sample", [&] { eskit::decode(json, j1, s3); }),
                      j1);
        CHECK_OR_FAIL(attempt(json, "json re-encode Sample", [&] { eskit::encode(json, s3, j2); }),
                      j1);
        CHECK_OR_FAIL(j1 == j2, "json Sample encoding not stable: " + j1 + " vs " + j2);
    }
}

void json_value(std::string_view in) {
    eskit::Value v;
    if (!attempt(json, "json decode Value", [&] { v = json.decode(in); })) return;
    std::string j1;
    CHECK_OR_FAIL(attempt(json, "json encode Value", [&] { j1 = json.encode(v); }),
                  std::string(in.substr(0, 200)));
    eskit::Value v2;
    CHECK_OR_FAIL(attempt(json, "json decode own Value", [&] { v2 = json.decode(j1); }), j1);
    CHECK_OR_FAIL(v == v2, "json Value round trip: " + j1);
    std::string c;
    CHECK_OR_FAIL(attempt(cbor, "cbor encode Value from json", [&] { c = cbor.encode(v); }), j1);
    eskit::Value cv;
    CHECK_OR_FAIL(attempt(cbor, "cbor decode Value from json", [&] { cv = cbor.decode(c); }),
                  hex(c));
    CHECK_OR_FAIL(cv.size() == v.size() && cv.kind() == v.kind(), "cbor of a json Value: " + j1);
}

void json_typed(std::string_view in) {
    fz::Sample s;
    if (!attempt(json, "json decode Sample", [&] { eskit::decode(json, in, s); })) return;
    std::string j1, j2;
    if (!attempt(json, "json encode Sample", [&] { eskit::encode(json, s, j1); })) return;
    fz::Sample s2;
    CHECK_OR_FAIL(attempt(json, "json decode own Sample", [&] { eskit::decode(json, j1, s2); }),
                  j1);
    CHECK_OR_FAIL(attempt(json, "json re-encode Sample", [&] { eskit::encode(json, s2, j2); }), j1);
    CHECK_OR_FAIL(j1 == j2, "json Sample encoding not stable: " + j1 + " vs " + j2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    cbor_value(in);
    cbor_typed(in);
    json_value(in);
    json_typed(in);
    return 0;
}
