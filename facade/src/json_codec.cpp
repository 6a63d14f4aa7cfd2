// The `json` codec: compact JSON out, simdjson On-Demand in.
#include <simdjson.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>

#include <eskit/codec.hpp>

#include "utf8.hpp"

namespace eskit {
namespace {

namespace od = simdjson::ondemand;

// --- encoding ----------------------------------------------------------------------------------

constexpr char kHex[] = "0123456789abcdef";

// Per byte: 0 plain ASCII, 1 needs an escape (controls, '"', '\\'), 2 non-ASCII.
constexpr auto kByteClass = [] {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = 1;
    t['"'] = 1;
    t['\\'] = 1;
    for (int c = 0x80; c < 0x100; ++c) t[static_cast<std::size_t>(c)] = 2;
    return t;
}();

class JsonWriter final : public Writer {
  public:
    explicit JsonWriter(std::string& out) : out_(out) {}

    void finish() const {
        if (depth_ != 0 || !wrote_) throw CodecError("incomplete value");
    }

    void null() override {
        sep();
        out_.append("null", 4);
    }
    void boolean(bool v) override {
        sep();
        if (v)
            out_.append("true", 4);
        else
            out_.append("false", 5);
    }
    void int64(std::int64_t v) override {
        sep();
        char buf[24];
        out_.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    }
    void uint64(std::uint64_t v) override {
        sep();
        char buf[24];
        out_.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    }
    void float64(double v) override {
        if (!std::isfinite(v)) throw CodecError("NaN and infinity cannot be encoded in JSON");
        sep();
        char buf[40];
        char* end = std::to_chars(buf, buf + sizeof buf, v).ptr;  // shortest round trip
        out_.append(buf, end);
        // Keep the value a floating-point number when read back: 2.0 -> "2.0", not "2".
        if (std::memchr(buf, '.', static_cast<std::size_t>(end - buf)) == nullptr &&
            std::memchr(buf, 'e', static_cast<std::size_t>(end - buf)) == nullptr)
            out_.append(".0", 2);
    }
    void string(std::string_view v) override {
        sep();
        quote(v);
    }
    void bytes(std::span<const std::byte> v) override {
        sep();
        out_ += '"';
        detail::base64_encode(v, out_);
        out_ += '"';
    }
    void begin_array(std::size_t) override { open('['); }
    void end_array() override { close(']'); }
    void begin_object(std::size_t) override { open('{'); }
    void key(std::string_view k) override {
        if (comma_) out_ += ',';
        quote(k);
        out_ += ':';
        comma_ = false;
    }
    void end_object() override { close('}'); }

  private:
    void sep() {
        if (depth_ == 0) {
            if (wrote_) throw CodecError("more than one top-level value");
            wrote_ = true;
        }
        if (comma_) out_ += ',';
        comma_ = true;
    }
    void open(char c) {
        if (depth_ >= max_depth) detail::throw_depth();
        sep();
        out_ += c;
        comma_ = false;
        ++depth_;
    }
    void close(char c) {
        if (depth_ == 0) throw CodecError("unbalanced end of array or object");
        out_ += c;
        comma_ = true;
        --depth_;
    }
    // True if one of the 8 bytes needs a look: a control, '"', '\\' or non-ASCII byte.
    static bool special(std::uint64_t w) noexcept {
        constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
        const std::uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
        const std::uint64_t zero = ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash);
        return ((zero | (w - ones * 0x20) | w) & highs) != 0;
    }

    // One pass finds the bytes to escape, 8 at a time; UTF-8 is validated only if a non-ASCII
    // byte occurs.
    void quote(std::string_view s) {
        out_.reserve(out_.size() + s.size() + 2);
        out_ += '"';
        std::size_t run = 0;
        bool checked = false;
        std::size_t i = 0;
        while (i + 8 <= s.size()) {
            std::uint64_t w;
            std::memcpy(&w, s.data() + i, 8);
            if (special(w)) break;
            i += 8;
        }
        for (; i < s.size(); ++i) {
            const auto c = static_cast<unsigned char>(s[i]);
            const std::uint8_t cls = kByteClass[c];
            if (cls == 0) [[likely]]
                continue;
            if (cls == 2) {
                if (!checked && !detail::valid_utf8(s.data() + i, s.size() - i))
                    throw CodecError("invalid UTF-8 in a string");
                checked = true;
                continue;
            }
            out_.append(s.data() + run, i - run);
            run = i + 1;
            switch (c) {
                case '"': out_.append("\\\"", 2); break;
                case '\\': out_.append("\\\\", 2); break;
                case '\b': out_.append("\\b", 2); break;
                case '\f': out_.append("\\f", 2); break;
                case '\n': out_.append("\\n", 2); break;
                case '\r': out_.append("\\r", 2); break;
                case '\t': out_.append("\\t", 2); break;
                default: {
                    const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
                    out_.append(esc, 6);
                }
            }
        }
        out_.append(s.data() + run, s.size() - run);
        out_ += '"';
    }

    std::string& out_;
    std::size_t depth_ = 0;
    bool comma_ = false;
    bool wrote_ = false;
};

// --- decoding ----------------------------------------------------------------------------------

[[noreturn]] void fail(simdjson::error_code err) {
    if (err == simdjson::MEMALLOC) throw std::bad_alloc();
    if (err == simdjson::INCORRECT_TYPE) throw CodecError("invalid JSON: malformed literal");
    throw CodecError(std::string("invalid JSON: ") + simdjson::error_message(err));
}

inline void check(simdjson::error_code err) {
    if (err) [[unlikely]]
        fail(err);
}

// A pull Reader over one On-Demand document. Containers are entered with their iterators on a
// fixed stack; a value that is not read is skipped by the parent iterator's next step.
class JsonReader final : public Reader {
  public:
    explicit JsonReader(od::document& doc) : doc_(doc) {}

    // After the consumer returned: the root was read and nothing follows it.
    void finish() {
        if (root_pending_ || depth_ != 0) throw CodecError("the value was not read completely");
        const char* loc = nullptr;
        if (doc_.current_location().get(loc) != simdjson::OUT_OF_BOUNDS)
            throw CodecError("invalid JSON: content after the top-level value");
    }

    Kind read(Scalar& s) override {
        if (root_pending_) {
            root_pending_ = false;
            return read_from(doc_, s);
        }
        if (!cur_) throw CodecError("reader misuse: no value to read");
        od::value& v = *cur_;
        cur_ = nullptr;
        return read_from(v, s);
    }

    // Tries the expected kind first (a type error in simdjson consumes nothing), else read().
    Kind read_expecting(Scalar& s, Kind expected) override {
        return read_expecting_impl(s, expected);
    }
    bool next_element() override { return next_element_impl(); }
    bool next_key(std::string_view& key) override { return next_key_impl(key); }

    // The calls of the default, direct and inlined (this class is final) so that a field in the
    // expected order costs one virtual call.
    // The key is first compared raw, as it stands in the input: a field name matching there
    // needs no unescaping (most do). Only a key that differs is unescaped.
    Step next_member(std::string_view& key, std::string_view want, Kind want_kind, Scalar& s,
                     Kind& kind) override {
        od::field* field = next_field();
        if (!field) return Step::end;
        if (field->key().unsafe_is_equal(want)) {  // `want` has no '"' (Reader contract)
            key = want;
        } else {
            check(field->unescaped_key().get(key));
            if (key != want) return Step::key;
        }
        kind = read_expecting_impl(s, want_kind);
        return Step::value;
    }

  private:
    [[gnu::always_inline]] Kind read_expecting_impl(Scalar& s, Kind expected) {
        if (root_pending_ || !cur_) return read(s);
        od::value& v = *cur_;
        switch (expected) {
            case Kind::string:
                if (!v.get_string().get(s.string)) return consumed(Kind::string);
                break;
            case Kind::int64:
                if (!v.get_int64().get(s.int64)) return consumed(Kind::int64);
                break;
            case Kind::float64:
                if (!v.get_double().get(s.float64)) return consumed(Kind::float64);
                break;
            case Kind::boolean:
                if (!v.get_bool().get(s.boolean)) return consumed(Kind::boolean);
                break;
            case Kind::object: {
                od::object o;
                const auto err = v.get_object().get(o);
                if (!err) {
                    Frame& f = push(true);
                    check(o.begin().get(f.object_it));
                    return consumed(Kind::object);
                }
                if (err != simdjson::INCORRECT_TYPE) fail(err);
                break;
            }
            case Kind::array: {
                od::array a;
                const auto err = v.get_array().get(a);
                if (!err) {
                    Frame& f = push(false);
                    check(a.begin().get(f.array_it));
                    return consumed(Kind::array);
                }
                if (err != simdjson::INCORRECT_TYPE) fail(err);
                break;
            }
            default: break;
        }
        return read(s);  // another kind, or a scalar error: read() reports it precisely
    }

    [[gnu::always_inline]] bool next_element_impl() {
        Frame& f = top(false);
        if (f.started)
            ++f.array_it;
        else
            f.started = true;
        if (!(f.array_it != f.array_it)) {  // simdjson: != means "still open"
            pop();
            return false;
        }
        // Built in place and used by reference: copying simdjson's small iterator objects
        // through temporaries costs store-forwarding stalls on every value.
        auto* res = new (&f.element) simdjson::simdjson_result<od::value>(*f.array_it);
        check(res->error());
        od::value&& v = std::move(*res).value_unsafe();
        cur_ = &v;
        return true;
    }

    // Steps to the next member of the current object (nullptr at its end); its value becomes
    // the one to read next.
    [[gnu::always_inline]] od::field* next_field() {
        Frame& f = top(true);
        if (f.started)
            ++f.object_it;
        else
            f.started = true;
        if (!(f.object_it != f.object_it)) {
            pop();
            return nullptr;
        }
        auto* res = new (&f.field) simdjson::simdjson_result<od::field>(*f.object_it);
        check(res->error());
        od::field&& field = std::move(*res).value_unsafe();
        cur_ = &field.value();
        return &field;
    }

    [[gnu::always_inline]] bool next_key_impl(std::string_view& key) {
        od::field* field = next_field();
        if (!field) return false;
        check(field->unescaped_key().get(key));
        return true;
    }

  public:
    void skip() override {
        if (root_pending_) {
            root_pending_ = false;
            std::string_view ignored;
            check(doc_.raw_json().get(ignored));
            return;
        }
        if (!cur_) throw CodecError("reader misuse: no value to skip");
        cur_ = nullptr;  // the parent's next step skips it
    }

  private:
    struct Frame {
        bool object = false;
        bool started = false;
        od::array_iterator array_it;
        od::object_iterator object_it;
        union {  // the current element or member, constructed by next_element / next_key
            simdjson::simdjson_result<od::value> element;
            simdjson::simdjson_result<od::field> field;
        };
        Frame() noexcept {}
    };

    static_assert(std::is_trivially_destructible_v<Frame>);
    // Uninitialised until pushed: a reader is created per decode and most use a few levels.
    union Slot {
        Slot() noexcept {}
        Frame frame;
    };

    Kind consumed(Kind k) noexcept {
        cur_ = nullptr;
        return k;
    }

    Frame& top(bool object) {
        if (!top_ || top_->object != object) [[unlikely]]
            throw CodecError("reader misuse: not inside an array or object");
        return *top_;
    }

    Frame& push(bool object) {
        if (depth_ >= max_depth) [[unlikely]]
            detail::throw_depth();
        top_ = new (&stack_[depth_++].frame) Frame{};
        top_->object = object;
        return *top_;
    }

    void pop() noexcept {
        --depth_;
        top_ = depth_ ? &stack_[depth_ - 1].frame : nullptr;
        cur_ = nullptr;
    }

    template <class V>
    Kind read_from(V& v, Scalar& s) {
        od::json_type t;
        check(v.type().get(t));
        switch (t) {
            case od::json_type::array: {
                od::array a;
                check(v.get_array().get(a));
                Frame& f = push(false);
                check(a.begin().get(f.array_it));
                return Kind::array;
            }
            case od::json_type::object: {
                od::object o;
                check(v.get_object().get(o));
                Frame& f = push(true);
                check(o.begin().get(f.object_it));
                return Kind::object;
            }
            case od::json_type::number: return read_number(v, s);
            case od::json_type::string: check(v.get_string().get(s.string)); return Kind::string;
            case od::json_type::boolean: check(v.get_bool().get(s.boolean)); return Kind::boolean;
            case od::json_type::null: {
                bool is_null = false;
                check(v.is_null().get(is_null));
                if (!is_null) fail(simdjson::INCORRECT_TYPE);
                return Kind::null;
            }
        }
        throw CodecError("invalid JSON: unknown value type");
    }

    // Not get_number(): in simdjson 3.0.1 its double is 0 for decimals with many significant
    // digits (simdjson issue #2099, fixed in 3.6.4), e.g. 1000000000.000000001. The type scan
    // picks the getter; integers beyond 64 bits (valid JSON) read as the nearest double.
    template <class V>
    Kind read_number(V& v, Scalar& s) {
        od::number_type t;
        check(v.get_number_type().get(t));
        if (t == od::number_type::signed_integer) {
            if (!v.get_int64().get(s.int64)) return Kind::int64;
        } else if (t == od::number_type::unsigned_integer) {
            std::uint64_t u = 0;
            if (!v.get_uint64().get(u)) {
                if (u <= static_cast<std::uint64_t>(INT64_MAX)) {
                    s.int64 = static_cast<std::int64_t>(u);
                    return Kind::int64;
                }
                s.uint64 = u;
                return Kind::uint64;
            }
        }
        check(v.get_double().get(s.float64));
        return Kind::float64;
    }

    od::document& doc_;
    od::value* cur_ = nullptr;  // the value to read next (inside the top frame)
    bool root_pending_ = true;
    std::size_t depth_ = 0;
    Frame* top_ = nullptr;  // &stack_[depth_ - 1].frame
    Slot stack_[max_depth];
};

// The per-thread parser and padded input buffer, reused across calls. A nested decode on the
// same thread (a consumer that decodes again) or a very large input gets its own.
struct Scratch {
    od::parser parser;
    std::unique_ptr<char[]> buf;
    std::size_t capacity = 0;
    bool busy = false;
};

constexpr std::size_t kKeepBytes = std::size_t(16) << 20;  // larger inputs: a one-off buffer

class JsonCodec final : public Codec {
  public:
    std::string_view name() const noexcept override { return "json"; }
    bool is_text() const noexcept override { return true; }

  protected:
    void do_encode(std::string& out, FunctionRef<void(Writer&)> produce) const override {
        JsonWriter w(out);
        produce(w);
        w.finish();
    }

    void do_decode(std::string_view in, FunctionRef<void(Reader&)> consume) const override {
        thread_local Scratch tls;
        std::unique_ptr<Scratch> own;
        Scratch* sc = &tls;
        if (tls.busy || in.size() > kKeepBytes) {
            own = std::make_unique<Scratch>();
            sc = own.get();
        }
        struct Busy {
            Scratch& s;
            explicit Busy(Scratch& x) : s(x) { s.busy = true; }
            ~Busy() { s.busy = false; }
        } busy(*sc);

        const std::size_t need = in.size() + simdjson::SIMDJSON_PADDING;
        if (sc->capacity < need) {
            sc->buf = std::make_unique_for_overwrite<char[]>(need);
            sc->capacity = need;
        }
        if (!in.empty()) std::memcpy(sc->buf.get(), in.data(), in.size());
        std::memset(sc->buf.get() + in.size(), 0, simdjson::SIMDJSON_PADDING);

        od::document doc;
        check(sc->parser.iterate(sc->buf.get(), in.size(), sc->capacity).get(doc));
        JsonReader r(doc);
        consume(r);
        r.finish();
    }
};

}  // namespace

const Codec& json_codec() noexcept {
    static const JsonCodec codec;
    return codec;
}

}  // namespace eskit
