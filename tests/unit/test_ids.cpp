/*
** Unit tests of ext/ids.h: UUIDv7 event ids (RFC 9562) and strict base64 (RFC 4648).
*/
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ids.h"

namespace {

using eskit::ext::base64_decode;
using eskit::ext::base64_encode;
using eskit::ext::UuidGen;

std::string next_id(UuidGen& gen, int64_t ms) {
    char buf[37];
    std::memset(buf, 'Z', sizeof buf);
    gen.next(buf, ms, 0);
    REQUIRE(buf[36] == '\0');
    return std::string(buf);
}

// Empty when id has the RFC 9562 UUIDv7 text form, else what is wrong with it.
std::string format_problem(const std::string& id) {
    if (id.size() != 36) return "length " + std::to_string(id.size());
    for (size_t i = 0; i < id.size(); ++i) {
        const char c = id[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return "no dash at " + std::to_string(i);
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return "not lowercase hex at " + std::to_string(i);
        }
    }
    if (id[14] != '7') return "version nibble is not 7";
    if (std::strchr("89ab", id[19]) == nullptr) return "variant bits are not 10";
    return "";
}

// The 48-bit Unix millisecond timestamp in the first 12 hex digits.
int64_t ms_of(const std::string& id) {
    const std::string hex = id.substr(0, 8) + id.substr(9, 4);
    return static_cast<int64_t>(std::stoull(hex, nullptr, 16));
}

// The 12-bit rand_a field (method 1: the monotonic counter).
int counter_of(const std::string& id) { return std::stoi(id.substr(15, 3), nullptr, 16); }

std::string decoded(const std::string& in) {
    std::string out;
    REQUIRE(base64_decode(in, out));
    return out;
}

bool rejects(const std::string& in) {
    std::string out;
    return !base64_decode(in, out);
}

}  // namespace

// --------------------------------------------------------------------------------------------
// UuidGen
// --------------------------------------------------------------------------------------------

TEST_CASE("UuidGen: text form") {
    UuidGen gen;
    for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{1700000000123}, int64_t{0xffffffffffff}}) {
        const std::string id = next_id(gen, ms);
        INFO("id ", id);
        CHECK(format_problem(id) == "");
    }
    // Many ids: every one well formed, and the variant nibble takes all four values.
    std::set<char> variants;
    for (int i = 0; i < 2000; ++i) {
        const std::string id = next_id(gen, 1700000000123 + i / 10);
        variants.insert(id[19]);
        if (!format_problem(id).empty()) {
            INFO("id ", id);
            CHECK(format_problem(id) == "");
        }
    }
    CHECK(variants == std::set<char>{'8', '9', 'a', 'b'});
}

TEST_CASE("UuidGen: the embedded timestamp decodes to the given millisecond") {
    SUBCASE("fresh generators") {
        for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{1234567890123}, int64_t{1700000000000},
                           int64_t{0xfffffffffffe}, int64_t{0xffffffffffff}}) {
            UuidGen gen;
            const std::string id = next_id(gen, ms);
            INFO("id ", id);
            CHECK(ms_of(id) == ms);
        }
    }
    SUBCASE("one generator, advancing clock") {
        UuidGen gen;
        for (int64_t ms = 1700000000000; ms < 1700000000000 + 50; ms += 7) {
            CHECK(ms_of(next_id(gen, ms)) == ms);
        }
    }
    SUBCASE("the first 2049 ids of a millisecond keep its timestamp") {
        // The counter starts below 0x800, so at least 0x800 more ids fit in the 12-bit field.
        UuidGen gen;
        for (int i = 0; i < 2049; ++i) {
            const std::string id = next_id(gen, 1700000000000);
            if (ms_of(id) != 1700000000000) {
                INFO("id #", i, " ", id);
                CHECK(ms_of(id) == 1700000000000);
                break;
            }
        }
    }
}

TEST_CASE("UuidGen: text order is generation order") {
    SUBCASE("many ids within one millisecond, past counter overflow") {
        UuidGen gen;
        const int64_t ms = 1700000000000;
        std::string prev = next_id(gen, ms);
        const int first_counter = counter_of(prev);
        CHECK(first_counter < 0x800);
        bool borrowed = false;
        for (int i = 1; i < 10000; ++i) {
            const std::string id = next_id(gen, ms);
            if (!(prev < id)) {
                INFO("id #", i, ": ", prev, " then ", id);
                CHECK(prev < id);
                break;
            }
            // After the counter, the next millisecond is borrowed (never more than needed).
            borrowed |= ms_of(id) > ms;
            CHECK(ms_of(id) >= ms);
            CHECK(ms_of(id) <= ms + i / 2048 + 1);
            prev = id;
        }
        CHECK(borrowed);  // 10000 ids cannot fit in one 12-bit counter space
    }
    SUBCASE("more than 4096 ids in one millisecond from the first counter value") {
        UuidGen gen;
        std::vector<std::string> ids;
        for (int i = 0; i < 4097 * 3; ++i) ids.push_back(next_id(gen, 42));
        CHECK(std::is_sorted(ids.begin(), ids.end()));
        CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
        CHECK(ms_of(ids.front()) == 42);
        CHECK(ms_of(ids.back()) > 42);
    }
    SUBCASE("across milliseconds") {
        UuidGen gen;
        std::string prev = next_id(gen, 1000);
        for (int64_t ms = 1001; ms < 1500; ++ms) {
            for (int k = 0; k < 3; ++k) {
                const std::string id = next_id(gen, ms);
                CHECK(prev < id);
                CHECK(ms_of(id) == ms);
                prev = id;
            }
        }
    }
    SUBCASE("a clock that steps back does not break the order") {
        UuidGen gen;
        const std::string a = next_id(gen, 5000);
        const std::string b = next_id(gen, 4000);
        const std::string c = next_id(gen, 4999);
        const std::string d = next_id(gen, 5001);
        CHECK(a < b);
        CHECK(b < c);
        CHECK(c < d);
        CHECK(ms_of(b) == 5000);
        CHECK(ms_of(c) == 5000);
        CHECK(ms_of(d) == 5001);
    }
}

TEST_CASE("UuidGen: uniqueness") {
    SUBCASE("100k ids from one generator") {
        UuidGen gen;
        std::vector<std::string> ids;
        ids.reserve(100000);
        int64_t ms = 1700000000000;
        for (int i = 0; i < 100000; ++i) {
            if (i % 300 == 0) ++ms;
            ids.push_back(next_id(gen, ms));
        }
        std::sort(ids.begin(), ids.end());
        CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
    }
    SUBCASE("two generators in the same millisecond") {
        UuidGen a, b;
        std::vector<std::string> ids;
        for (int i = 0; i < 2000; ++i) {
            ids.push_back(next_id(a, 1700000000000));
            ids.push_back(next_id(b, 1700000000000));
        }
        std::sort(ids.begin(), ids.end());
        CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
    }
    SUBCASE("the random tail varies") {
        UuidGen gen;
        std::set<std::string> tails;
        for (int i = 0; i < 1000; ++i) tails.insert(next_id(gen, 7).substr(19));
        CHECK(tails.size() == 1000);
    }
}

// --------------------------------------------------------------------------------------------
// base64
// --------------------------------------------------------------------------------------------

TEST_CASE("base64: RFC 4648 section 10 test vectors") {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        INFO("vector ", plain);
        CHECK(base64_encode(plain) == encoded);
        CHECK(decoded(encoded) == plain);
        // Padding is optional.
        std::string bare = encoded;
        bare.erase(bare.find_last_not_of('=') + 1);
        CHECK(decoded(bare) == plain);
    }
}

TEST_CASE("base64: round trips of random bytes, lengths 0..64") {
    std::mt19937 rng(4648);
    std::uniform_int_distribution<int> byte(0, 255);
    for (size_t n = 0; n <= 64; ++n) {
        for (int rep = 0; rep < 8; ++rep) {
            std::string in;
            for (size_t i = 0; i < n; ++i) in.push_back(static_cast<char>(byte(rng)));
            const std::string enc = base64_encode(in);
            INFO("length ", n, " encoded ", enc);
            CHECK(enc.size() == (n + 2) / 3 * 4);
            CHECK(decoded(enc) == in);
            std::string bare = enc;
            bare.erase(bare.find_last_not_of('=') + 1);
            if (enc.empty()) bare.clear();
            CHECK(decoded(bare) == in);
        }
    }
    // Every byte value, and the two characters outside [A-Za-z0-9].
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    CHECK(decoded(base64_encode(all)) == all);
    CHECK(base64_encode("\xfb\xff") == "+/8=");
    CHECK(decoded("+/8=") == "\xfb\xff");
}

TEST_CASE("base64: decode replaces previous output") {
    std::string out = "previous";
    REQUIRE(base64_decode("Zm9v", out));
    CHECK(out == "foo");
    REQUIRE(base64_decode("", out));
    CHECK(out.empty());
}

TEST_CASE("base64: rejected input") {
    SUBCASE("characters outside the alphabet") {
        for (const char* in : {"Zm9v!", "Zm 9v", "Zm9v\n", " Zm9v", "Zm9v-_", "Zm-_", "Zm.v",
                               "Zm9\xc3\xa9", "Zm\\/"}) {
            INFO("input ", in);
            CHECK(rejects(in));
        }
        CHECK(rejects(std::string("Zm9v\0AAA", 8)));
        CHECK(rejects(std::string("Zm\0v", 4)));
    }
    SUBCASE("bad padding") {
        for (const char* in :
             {"=", "==", "===", "====", "Zg=", "Zg===", "Zg====", "Zm8==", "Zm9v=", "Zm9v==",
              "Zm9v====", "Z===", "Zg==Zg==", "Zm=8", "=Zm8", "Zm9vYg=", "Zm9vYmE", "Zm9vYmE=="}) {
            INFO("input ", in);
            // "Zm9vYmE" is valid unpadded; everything else in the list is not.
            if (std::string(in) == "Zm9vYmE") {
                CHECK(decoded(in) == "fooba");
            } else {
                CHECK(rejects(in));
            }
        }
    }
    SUBCASE("a dangling final symbol") {
        for (const char* in : {"Z", "Zm9vZ", "Zm9vYmFyZ", "Z=", "Zm9vZ==="}) {
            INFO("input ", in);
            CHECK(rejects(in));
        }
    }
    SUBCASE("non-zero leftover bits") {
        // "Zg" is canonical for "f"; "Zh".."Zv" carry bits beyond the last byte.
        for (const char* in : {"Zh", "Zh==", "Zv==", "Zm9=", "Zm9", "Zm+=", "AB", "AAB", "AAF="}) {
            INFO("input ", in);
            CHECK(rejects(in));
        }
        CHECK(decoded("Zg") == "f");
        CHECK(decoded("Zm8") == "fo");
        CHECK(decoded("AAE=") == std::string("\x00\x01", 2));
    }
}
