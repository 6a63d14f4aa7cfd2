// The codec registry, and a user-defined third codec working with described types.
#include <doctest/doctest.h>

#include <bit>
#include <charconv>
#include <cstring>

#include "types.hpp"

using eskit::Value;

bool headers_check_round_trip();  // headers_check.cpp, compiled with -Werror

namespace {

// A small user codec: a token stream. n t f i<int>; u<uint>; d<16 hex digits of the bits>
// s<len>:<utf8> b<len>:<bytes> [ ] { } (keys are s tokens).
class TokenWriter final : public eskit::Writer {
  public:
    explicit TokenWriter(std::string& out) : out_(out) {}
    void null() override { out_ += 'n'; }
    void boolean(bool v) override { out_ += v ? 't' : 'f'; }
    void int64(std::int64_t v) override { out_ += 'i' + std::to_string(v) + ';'; }
    void uint64(std::uint64_t v) override { out_ += 'u' + std::to_string(v) + ';'; }
    void float64(double v) override {
        char buf[17];
        std::snprintf(buf, sizeof buf, "%016llx",
                      static_cast<unsigned long long>(std::bit_cast<std::uint64_t>(v)));
        out_ += 'd';
        out_ += buf;
    }
    void string(std::string_view v) override { str('s', v); }
    void bytes(std::span<const std::byte> v) override {
        str('b', {reinterpret_cast<const char*>(v.data()), v.size()});
    }
    void begin_array(std::size_t) override { out_ += '['; }
    void end_array() override { out_ += ']'; }
    void begin_object(std::size_t) override { out_ += '{'; }
    void key(std::string_view k) override { str('s', k); }
    void end_object() override { out_ += '}'; }

  private:
    void str(char tag, std::string_view v) {
        out_ += tag;
        out_ += std::to_string(v.size());
        out_ += ':';
        out_.append(v);
    }
    std::string& out_;
};

class TokenReader final : public eskit::Reader {
  public:
    explicit TokenReader(std::string_view in) : in_(in) {}
    bool at_end() const { return pos_ == in_.size(); }

    eskit::Kind read(eskit::Scalar& s) override {
        const char c = get();
        switch (c) {
            case 'n': return eskit::Kind::null;
            case 't': s.boolean = true; return eskit::Kind::boolean;
            case 'f': s.boolean = false; return eskit::Kind::boolean;
            case 'i': s.int64 = std::stoll(std::string(until(';'))); return eskit::Kind::int64;
            case 'u': s.uint64 = std::stoull(std::string(until(';'))); return eskit::Kind::uint64;
            case 'd': {
                const auto hex = take(16);
                std::uint64_t bits = 0;
                std::from_chars(hex.data(), hex.data() + hex.size(), bits, 16);
                s.float64 = std::bit_cast<double>(bits);
                return eskit::Kind::float64;
            }
            case 's': s.string = counted(); return eskit::Kind::string;
            case 'b': s.string = counted(); return eskit::Kind::bytes;
            case '[': return eskit::Kind::array;
            case '{': return eskit::Kind::object;
            default: throw eskit::CodecError(std::string("unexpected token '") + c + "'");
        }
    }
    bool next_element() override { return !close(']'); }
    bool next_key(std::string_view& key) override {
        if (close('}')) return false;
        if (get() != 's') throw eskit::CodecError("expected a key");
        key = counted();
        return true;
    }
    void skip() override {
        eskit::Scalar s;
        const eskit::Kind k = read(s);
        if (k == eskit::Kind::array) {
            while (next_element()) skip();
        } else if (k == eskit::Kind::object) {
            std::string_view key;
            while (next_key(key)) skip();
        }
    }

  private:
    char get() {
        if (pos_ >= in_.size()) throw eskit::CodecError("unexpected end of input");
        return in_[pos_++];
    }
    bool close(char c) {
        if (pos_ < in_.size() && in_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    std::string_view take(std::size_t n) {
        if (in_.size() - pos_ < n) throw eskit::CodecError("unexpected end of input");
        auto v = in_.substr(pos_, n);
        pos_ += n;
        return v;
    }
    std::string_view until(char c) {
        const auto end = in_.find(c, pos_);
        if (end == std::string_view::npos) throw eskit::CodecError("unexpected end of input");
        auto v = in_.substr(pos_, end - pos_);
        pos_ = end + 1;
        return v;
    }
    std::string_view counted() { return take(std::stoull(std::string(until(':')))); }

    std::string_view in_;
    std::size_t pos_ = 0;
};

class TokenCodec : public eskit::Codec {
  public:
    std::string_view name() const noexcept override { return "tokens"; }
    bool is_text() const noexcept override { return false; }

  protected:
    void do_encode(std::string& out,
                   eskit::FunctionRef<void(eskit::Writer&)> produce) const override {
        TokenWriter w(out);
        produce(w);
    }
    void do_decode(std::string_view in,
                   eskit::FunctionRef<void(eskit::Reader&)> consume) const override {
        TokenReader r(in);
        consume(r);
        if (!r.at_end()) throw eskit::CodecError("trailing input");
    }
};

class Named final : public TokenCodec {
  public:
    explicit Named(std::string n) : n_(std::move(n)) {}
    std::string_view name() const noexcept override { return n_; }

  private:
    std::string n_;
};

}  // namespace

TEST_CASE("registry: json and cbor by default") {
    const eskit::CodecRegistry reg;
    CHECK(reg.names() == std::vector<std::string>{"cbor", "json"});
    CHECK(&reg.get("json") == &eskit::json_codec());
    CHECK(&reg.get("cbor") == &eskit::cbor_codec());
    CHECK(reg.find("msgpack") == nullptr);
    CHECK(error_of([&] { (void)reg.get("msgpack"); }) ==
          "unknown codec 'msgpack' (registered: cbor, json)");
    CHECK(error_of([] { (void)eskit::CodecRegistry::empty().get("json"); }) ==
          "unknown codec 'json' (registered: none)");
}

TEST_CASE("registry: adding codecs") {
    eskit::CodecRegistry reg;
    reg.add(std::make_shared<TokenCodec>());
    CHECK(reg.names() == std::vector<std::string>{"cbor", "json", "tokens"});
    CHECK(error_of([&] { reg.add(std::make_shared<TokenCodec>()); }) ==
          "codec 'tokens' is already registered");
    CHECK(error_of([&] { reg.add(std::make_shared<Named>("")); }) ==
          "invalid codec name '': 1 to 1024 bytes without NUL");
    CHECK(error_of([&] {
              reg.add(std::make_shared<Named>(std::string(1025, 'x')));
          }).ends_with("': 1 to 1024 bytes without NUL"));
    CHECK(error_of([&] { reg.add(nullptr); }) == "cannot register a null codec");
    reg.add(std::make_shared<Named>("json2"));
    CHECK(reg.get("json2").name() == "json2");
}

TEST_CASE("registry: a user-defined codec works with described types") {
    eskit::CodecRegistry reg;
    reg.add(std::make_shared<TokenCodec>());
    const eskit::Codec& tokens = reg.get("tokens");

    const shop::Item item{"A-1", 2, 19.99};
    const std::string bytes = eskit::encode(tokens, item);
    CHECK(bytes == "{s3:skus3:A-1s3:qtyi2;s5:priced4033fd70a3d70a3d}");
    CHECK(eskit::decode<shop::Item>(tokens, bytes) == item);

    const kinds::All all = kinds::sample_all();
    CHECK(eskit::decode<kinds::All>(tokens, eskit::encode(tokens, all)) == all);
    CHECK(tokens.decode(eskit::encode(tokens, all)) == eskit::to_value(all));

    // Errors get the codec's name and the path from the shared machinery.
    CHECK(error_of([&] { eskit::decode<shop::OrderPlaced>(tokens, "{s5:items[{s3:qtys1:x}]}"); }) ==
          "tokens: items[0].qty: expected an integer, got a string");
    CHECK(error_of([&] { eskit::decode<shop::Item>(tokens, "{s3:qty"); }) ==
          "tokens: qty: unexpected end of input");
    CHECK(error_of([&] { eskit::decode<shop::Item>(tokens, "{}x"); }) == "tokens: trailing input");

    // One store, several codecs: the registry resolves the codec stored with each payload.
    struct Stored {
        std::string codec, bytes;
    };
    std::vector<Stored> log;
    for (const char* name : {"json", "cbor", "tokens"})
        log.push_back({name, eskit::encode(reg.get(name), item)});
    for (const auto& s : log) CHECK(eskit::decode<shop::Item>(reg.get(s.codec), s.bytes) == item);
}

TEST_CASE("the public headers compile cleanly in a -Werror consumer") {
    CHECK(headers_check_round_trip());
}
