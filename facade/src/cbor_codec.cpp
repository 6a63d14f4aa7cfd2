// The `cbor` codec (RFC 8949), written for eskit rather than taken from libcbor (see
// facade/CODECS.md).
//
// Encoding is deterministic (RFC 8949 section 4.2.1, core deterministic encoding): shortest
// heads, definite lengths, floating-point values in the shortest of half/single/double that
// keeps the value (NaN as f97e00), map keys sorted (shorter first, then bytewise). Structs are
// maps with text keys; eskit never writes tags.
//
// Decoding accepts any well-formed CBOR within these limits and rules:
//  - nesting at most eskit::max_depth (128) arrays/maps deep;
//  - every declared length is checked against the bytes left before anything is allocated or
//    read: a string of n bytes needs n bytes, an array of n items n bytes, a map of n pairs 2n
//    (every item takes at least one byte), so no input can allocate more than a small multiple of
//    its own size and the work is linear in its size;
//  - indefinite-length strings, arrays and maps are accepted (chunks must be definite strings of
//    the same major type); text must be valid UTF-8;
//  - map keys must be text strings (objects and structs have text keys);
//  - integers must fit int64 or uint64; tags 2 and 3 (bignums) are accepted when they fit;
//    tag 55799 (self-described CBOR) is ignored; other tags are rejected (unsupported tag N);
//  - false, true, null; undefined reads as null; other simple values are rejected; half, single
//    and double floats are read as doubles;
//  - nothing may follow the top-level item.
// Values that are skipped (unknown struct fields) are checked for well-formedness, UTF-8 and
// depth, but may hold any tag, simple value or key type.
#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>

#include <eskit/codec.hpp>

#include "utf8.hpp"

namespace eskit {
namespace {

// --- encoding ----------------------------------------------------------------------------------

// Half-precision bits of f when f is exactly representable as a half (not NaN).
bool half_of(float f, std::uint16_t& h) noexcept {
    const auto bits = std::bit_cast<std::uint32_t>(f);
    const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
    const std::uint32_t exp = (bits >> 23) & 0xffu;
    const std::uint32_t mant = bits & 0x7fffffu;
    if (exp == 0xff) {  // infinity (NaN is handled by the caller)
        h = static_cast<std::uint16_t>(sign | 0x7c00u);
        return mant == 0;
    }
    if (exp == 0) {  // zero; float subnormals are far below the half range
        h = sign;
        return mant == 0;
    }
    const int e = static_cast<int>(exp) - 127;
    if (e >= -14 && e <= 15) {  // half normal
        if (mant & 0x1fffu) return false;
        h = static_cast<std::uint16_t>(sign | (static_cast<std::uint32_t>(e + 15) << 10) |
                                       (mant >> 13));
        return true;
    }
    if (e >= -24 && e < -14) {  // half subnormal: value = m * 2^-24
        const std::uint32_t sig = mant | 0x800000u;
        const int shift = -(e + 1);  // 14..23
        if (sig & ((1u << shift) - 1)) return false;
        h = static_cast<std::uint16_t>(sign | (sig >> shift));
        return true;
    }
    return false;
}

class CborWriter final : public Writer {
  public:
    explicit CborWriter(std::string& out) : out_(out) {}

    void finish() const {
        if (depth_ != 0 || !wrote_) throw CodecError("incomplete value");
    }

    bool sorted_keys() const noexcept override { return true; }

    void null() override {
        item();
        out_ += '\xf6';
    }
    void boolean(bool v) override {
        item();
        out_ += v ? '\xf5' : '\xf4';
    }
    void int64(std::int64_t v) override {
        item();
        if (v >= 0)
            head(0, static_cast<std::uint64_t>(v));
        else
            head(1, ~static_cast<std::uint64_t>(v));  // -1 - v
    }
    void uint64(std::uint64_t v) override {
        item();
        head(0, v);
    }
    void float64(double d) override {
        item();
        if (std::isnan(d)) {
            out_.append("\xf9\x7e\x00", 3);
            return;
        }
        if (std::isinf(d) || std::fabs(d) <= static_cast<double>(FLT_MAX)) {
            const auto f = static_cast<float>(d);
            if (static_cast<double>(f) == d) {
                std::uint16_t h = 0;
                if (half_of(f, h)) {
                    out_ += '\xf9';
                    be(h, 2);
                } else {
                    out_ += '\xfa';
                    be(std::bit_cast<std::uint32_t>(f), 4);
                }
                return;
            }
        }
        out_ += '\xfb';
        be(std::bit_cast<std::uint64_t>(d), 8);
    }
    void string(std::string_view v) override {
        item();
        text(v);
    }
    void bytes(std::span<const std::byte> v) override {
        item();
        head(2, v.size());
        out_.append(reinterpret_cast<const char*>(v.data()), v.size());
    }
    void begin_array(std::size_t size) override {
        item();
        open(false, size);
        head(4, size);
    }
    void end_array() override { close(false); }
    void begin_object(std::size_t size) override {
        item();
        open(true, size);
        head(5, size);
    }
    void key(std::string_view k) override {
        if (depth_ == 0 || !levels_[depth_ - 1].object || levels_[depth_ - 1].after_key)
            throw CodecError("internal: key outside an object");
        Level& l = levels_[depth_ - 1];
        if (l.remaining == 0) throw CodecError("internal: more members than declared");
        --l.remaining;
        l.after_key = true;
        text(k);
    }
    void end_object() override { close(true); }

  private:
    // The declared sizes are written up front, so they are checked as the items arrive.
    struct Level {
        std::uint64_t remaining;
        bool object;
        bool after_key;
    };

    void item() {
        if (depth_ == 0) {
            if (wrote_) throw CodecError("internal: more than one top-level value");
            wrote_ = true;
            return;
        }
        Level& l = levels_[depth_ - 1];
        if (l.object) {
            if (!l.after_key) throw CodecError("internal: object member without a key");
            l.after_key = false;
        } else {
            if (l.remaining == 0) throw CodecError("internal: more elements than declared");
            --l.remaining;
        }
    }
    void open(bool object, std::size_t size) {
        if (depth_ >= max_depth) detail::throw_depth();
        levels_[depth_++] = Level{size, object, false};
    }
    void close(bool object) {
        if (depth_ == 0 || levels_[depth_ - 1].object != object)
            throw CodecError("internal: unbalanced end of array or object");
        const Level& l = levels_[depth_ - 1];
        if (l.remaining != 0 || l.after_key)
            throw CodecError("internal: fewer items than declared");
        --depth_;
    }
    void text(std::string_view v) {
        if (!detail::valid_utf8(v.data(), v.size())) throw CodecError("invalid UTF-8 in a string");
        head(3, v.size());
        out_.append(v);
    }
    void be(std::uint64_t v, int n) {
        char buf[8];
        for (int i = n - 1; i >= 0; --i) {
            buf[i] = static_cast<char>(v & 0xff);
            v >>= 8;
        }
        out_.append(buf, static_cast<std::size_t>(n));
    }
    void head(unsigned major, std::uint64_t arg) {
        const auto mt = static_cast<unsigned char>(major << 5);
        if (arg < 24) {
            out_ += static_cast<char>(mt | arg);
        } else if (arg <= 0xff) {
            out_ += static_cast<char>(mt | 24);
            be(arg, 1);
        } else if (arg <= 0xffff) {
            out_ += static_cast<char>(mt | 25);
            be(arg, 2);
        } else if (arg <= 0xffffffffu) {
            out_ += static_cast<char>(mt | 26);
            be(arg, 4);
        } else {
            out_ += static_cast<char>(mt | 27);
            be(arg, 8);
        }
    }

    std::string& out_;
    std::size_t depth_ = 0;
    bool wrote_ = false;
    Level levels_[max_depth];
};

// --- decoding ----------------------------------------------------------------------------------

double half_to_double(std::uint16_t h) noexcept {  // RFC 8949 Appendix D
    const int exp = (h >> 10) & 0x1f;
    const int mant = h & 0x3ff;
    if (exp != 0 && exp != 31) {  // normal: rebias the exponent, widen the mantissa
        const std::uint64_t bits = (static_cast<std::uint64_t>(h & 0x8000) << 48) |
                                   (static_cast<std::uint64_t>(exp - 15 + 1023) << 52) |
                                   (static_cast<std::uint64_t>(mant) << 42);
        return std::bit_cast<double>(bits);
    }
    double val;
    if (exp == 0)
        val = std::ldexp(mant, -24);
    else if (exp != 31)
        val = std::ldexp(mant + 1024, exp - 25);
    else
        val = mant == 0 ? INFINITY : NAN;
    return (h & 0x8000) ? -val : val;
}

std::string n_bytes(std::uint64_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

std::string hex_byte(std::uint8_t b) {
    constexpr char kHex[] = "0123456789abcdef";
    return std::string("0x") + kHex[b >> 4] + kHex[b & 15];
}

[[noreturn]] void malformed(const std::string& what) {
    throw CodecError("malformed item: " + what);
}

// What an item starting with this initial byte is, for "map key must be a text string, got X".
std::string_view kind_of_initial(std::uint8_t ib) noexcept {
    switch (ib >> 5) {
        case 0:
        case 1: return "an integer";
        case 2: return "a byte string";
        case 3: return "a string";
        case 4: return "an array";
        case 5: return "an object";
        case 6: return "a tagged item";
        default:
            if (ib == 0xf4 || ib == 0xf5) return "a boolean";
            if (ib == 0xf6 || ib == 0xf7) return "null";
            if (ib >= 0xf9 && ib <= 0xfb) return "a floating-point number";
            return "a simple value";
    }
}

constexpr std::size_t kMaxSizeHint = 1024;  // reserve() at most this many elements up front

class CborReader final : public Reader {
  public:
    CborReader(const std::uint8_t* p, std::size_t n) : p_(p), end_(p + n) {}

    void finish() const {
        if (pending_ || depth_ != 0) throw CodecError("the value was not read completely");
        if (p_ != end_) throw CodecError(n_bytes(left()) + " after the top-level item");
    }

    Kind read(Scalar& s) override {
        if (!pending_) throw CodecError("reader misuse: no value to read");
        pending_ = false;
        return read_item(s);
    }

    bool sorted_keys() const noexcept override { return true; }  // what eskit writes

    // The typed fast path: the expected kind's common heads first, else read().
    Kind read_expecting(Scalar& s, Kind expected) override {
        if (pending_ && p_ != end_) {
            const std::uint8_t ib = *p_;
            const unsigned major = ib >> 5, ai = ib & 31;
            switch (expected) {
                case Kind::string:
                    if (major == 3 && ai < 28) {
                        ++p_;
                        pending_ = false;
                        s.string = read_string(3, ai, scratch_);
                        return Kind::string;
                    }
                    break;
                case Kind::int64:
                    if (ib < 24) {
                        ++p_;
                        pending_ = false;
                        s.int64 = ib;
                        return Kind::int64;
                    }
                    if (major == 0 && ai < 28) {
                        ++p_;
                        pending_ = false;
                        return integer(argument(ib), s);
                    }
                    break;
                case Kind::float64:
                    if (ib == 0xfb) {
                        ++p_;
                        pending_ = false;
                        s.float64 = std::bit_cast<double>(be(8));
                        return Kind::float64;
                    }
                    if (ib == 0xf9) {
                        ++p_;
                        pending_ = false;
                        s.float64 = half_to_double(static_cast<std::uint16_t>(be(2)));
                        return Kind::float64;
                    }
                    break;
                default: break;
            }
        }
        return read(s);
    }

    bool next_element() override { return next(false); }

    bool next_key(std::string_view& key) override {
        if (!next(true)) return false;
        const std::uint8_t ib = byte();
        if ((ib >> 5) != 3)
            throw CodecError(std::string("map key must be a text string, got ") +
                             std::string(kind_of_initial(ib)));
        key = read_string(3, ib & 31, key_scratch_);
        return true;
    }

    // The calls of the default, direct (this class is final) so that they inline into one.
    Step next_member(std::string_view& key, std::string_view want, Kind want_kind, Scalar& s,
                     Kind& kind) override {
        if (!next_key(key)) return Step::end;
        if (key != want) return Step::key;
        kind = read_expecting(s, want_kind);
        return Step::value;
    }

    void skip() override {
        if (!pending_) throw CodecError("reader misuse: no value to skip");
        pending_ = false;
        skip_item(depth_);
    }

  private:
    struct Frame {
        std::uint64_t remaining;  // definite: items (arrays) or pairs (maps) left
        bool indefinite;
        bool object;
    };

    std::size_t left() const noexcept { return static_cast<std::size_t>(end_ - p_); }

    std::uint8_t byte() {
        if (p_ == end_) throw CodecError("unexpected end of input");
        return *p_++;
    }

    std::uint64_t be(int n) {
        if (left() < static_cast<std::size_t>(n)) throw CodecError("unexpected end of input");
        std::uint64_t v = 0;
        for (int i = 0; i < n; ++i) v = (v << 8) | *p_++;
        return v;
    }

    // The argument of a head whose additional information is ai (< 31).
    std::uint64_t argument(std::uint8_t ib) {
        const unsigned ai = ib & 31;
        if (ai < 24) return ai;
        switch (ai) {
            case 24: return be(1);
            case 25: return be(2);
            case 26: return be(4);
            case 27: return be(8);
            default:
                malformed("reserved additional information " + std::to_string(ai) +
                          " (initial byte " + hex_byte(ib) + ")");
        }
    }

    // A byte (major 2) or text (major 3) string; indefinite ones are joined in `scratch`.
    // The initial byte is consumed; ai is its additional information.
    [[gnu::always_inline]] std::string_view read_string(unsigned major, unsigned ai,
                                                        std::string& scratch) {
        if (ai < 24 && ai <= left()) [[likely]] {  // short definite strings: most of them
            std::string_view v(reinterpret_cast<const char*>(p_), ai);
            p_ += ai;
            if (major == 3 && !detail::valid_utf8(v.data(), v.size())) [[unlikely]]
                throw CodecError("invalid UTF-8 in a text string");
            return v;
        }
        return read_string_slow(major, ai, scratch);
    }

    [[gnu::noinline]] std::string_view read_string_slow(unsigned major, unsigned ai,
                                                        std::string& scratch) {
        const char* what = major == 2 ? "a byte string" : "a text string";
        if (ai != 31) {
            const std::uint64_t n = argument(static_cast<std::uint8_t>((major << 5) | ai));
            if (n > left())
                throw CodecError(std::string("truncated input: ") + what + " of " + n_bytes(n) +
                                 " declared, " + n_bytes(left()) + " left");
            std::string_view v(reinterpret_cast<const char*>(p_), static_cast<std::size_t>(n));
            p_ += n;
            if (major == 3 && !detail::valid_utf8(v.data(), v.size()))
                throw CodecError("invalid UTF-8 in a text string");
            return v;
        }
        scratch.clear();
        for (;;) {
            const std::uint8_t ib = byte();
            if (ib == 0xff) break;
            if ((ib >> 5) != major || (ib & 31) == 31)
                malformed(std::string("a chunk of an indefinite-length ") + (what + 2) +
                          " is not a definite " + (what + 2));
            scratch.append(read_string(major, ib & 31, scratch_chunk_));
        }
        return scratch;
    }

    Frame& push(bool object, bool indefinite, std::uint64_t n) {
        if (depth_ >= max_depth) detail::throw_depth();
        Frame& f = stack_[depth_++];
        f = Frame{n, indefinite, object};
        return f;
    }

    bool next(bool object) {
        if (depth_ == 0 || stack_[depth_ - 1].object != object || pending_)
            throw CodecError("reader misuse: not inside an unread array or object");
        Frame& f = stack_[depth_ - 1];
        if (f.indefinite) {
            if (p_ == end_) throw CodecError("unexpected end of input");
            if (*p_ == 0xff) {
                ++p_;
                --depth_;
                return false;
            }
        } else {
            if (f.remaining == 0) {
                --depth_;
                return false;
            }
            --f.remaining;
        }
        pending_ = true;
        return true;
    }

    static Kind integer(std::uint64_t v, Scalar& s) noexcept {
        if (v <= static_cast<std::uint64_t>(INT64_MAX)) {
            s.int64 = static_cast<std::int64_t>(v);
            return Kind::int64;
        }
        s.uint64 = v;
        return Kind::uint64;
    }

    static Kind negative(std::uint64_t n, Scalar& s) {  // the value -1 - n
        if (n > static_cast<std::uint64_t>(INT64_MAX)) {
            const std::string mag =
                n == UINT64_MAX ? "18446744073709551616" : std::to_string(n + 1);
            throw CodecError("integer -" + mag + " out of 64-bit range");
        }
        s.int64 = -1 - static_cast<std::int64_t>(n);
        return Kind::int64;
    }

    Kind read_item(Scalar& s) {
        for (;;) {
            const std::uint8_t ib = byte();
            const unsigned major = ib >> 5, ai = ib & 31;
            if (ai == 31 && (major <= 1 || major == 6))
                malformed("indefinite length on major type " + std::to_string(major) +
                          " (initial byte " + hex_byte(ib) + ")");
            switch (major) {
                case 0: return integer(argument(ib), s);
                case 1: return negative(argument(ib), s);
                case 2: s.string = read_string(2, ai, scratch_); return Kind::bytes;
                case 3: s.string = read_string(3, ai, scratch_); return Kind::string;
                case 4:
                case 5: {
                    const bool object = major == 5;
                    if (ai == 31) {
                        push(object, true, 0);
                        s.size_hint = 0;
                    } else {
                        const std::uint64_t n = argument(ib);
                        const std::uint64_t room = object ? left() / 2 : left();
                        if (n > room)
                            throw CodecError(std::string("truncated input: ") +
                                             (object ? "a map of " : "an array of ") +
                                             std::to_string(n) + (object ? " pairs" : " items") +
                                             " declared, " + n_bytes(left()) + " left");
                        push(object, false, n);
                        s.size_hint =
                            static_cast<std::size_t>(std::min<std::uint64_t>(n, kMaxSizeHint));
                    }
                    return object ? Kind::object : Kind::array;
                }
                case 6: {
                    const std::uint64_t tag = argument(ib);
                    if (tag == 55799) continue;  // self-described CBOR: a marker only
                    if (tag == 2 || tag == 3) return bignum(tag, s);
                    throw CodecError("unsupported tag " + std::to_string(tag));
                }
                default: return simple(ib, s);
            }
        }
    }

    Kind bignum(std::uint64_t tag, Scalar& s) {
        const std::uint8_t ib = byte();
        if ((ib >> 5) != 2)
            malformed("bignum tag " + std::to_string(tag) + " on " +
                      std::string(kind_of_initial(ib)) + ", not a byte string");
        std::string_view b = read_string(2, ib & 31, scratch_);
        while (!b.empty() && b.front() == '\0') b.remove_prefix(1);
        if (b.size() > 8) throw CodecError("bignum out of 64-bit range");
        std::uint64_t v = 0;
        for (char c : b) v = (v << 8) | static_cast<unsigned char>(c);
        return tag == 2 ? integer(v, s) : negative(v, s);
    }

    Kind simple(std::uint8_t ib, Scalar& s) {
        const unsigned ai = ib & 31;
        switch (ai) {
            case 20: s.boolean = false; return Kind::boolean;
            case 21: s.boolean = true; return Kind::boolean;
            case 22:
            case 23: return Kind::null;  // undefined reads as null
            case 24: {
                const std::uint8_t v = byte();
                if (v < 32) malformed("simple value " + std::to_string(v) + " in two bytes");
                throw CodecError("unsupported simple value " + std::to_string(v));
            }
            case 25:
                s.float64 = half_to_double(static_cast<std::uint16_t>(be(2)));
                return Kind::float64;
            case 26:
                s.float64 =
                    static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(be(4))));
                return Kind::float64;
            case 27: s.float64 = std::bit_cast<double>(be(8)); return Kind::float64;
            case 28:
            case 29:
            case 30:
                malformed("reserved additional information " + std::to_string(ai) +
                          " (initial byte " + hex_byte(ib) + ")");
            case 31: malformed("unexpected break (0xff)");
            default: throw CodecError("unsupported simple value " + std::to_string(ai));
        }
    }

    // Skips one item (depth: the containers already open around it).
    void skip_item(std::size_t depth) {
        for (;;) {
            const std::uint8_t ib = byte();
            const unsigned major = ib >> 5, ai = ib & 31;
            if (ai == 31 && (major <= 1 || major == 6))
                malformed("indefinite length on major type " + std::to_string(major) +
                          " (initial byte " + hex_byte(ib) + ")");
            switch (major) {
                case 0:
                case 1: argument(ib); return;
                case 2:
                case 3: read_string(major, ai, scratch_); return;
                case 4:
                case 5: {
                    if (depth >= max_depth) detail::throw_depth();
                    const unsigned per = major == 5 ? 2 : 1;
                    if (ai == 31) {
                        for (;;) {
                            if (p_ == end_) throw CodecError("unexpected end of input");
                            if (*p_ == 0xff) {
                                ++p_;
                                return;
                            }
                            for (unsigned i = 0; i < per; ++i) skip_item(depth + 1);
                        }
                    }
                    const std::uint64_t n = argument(ib);
                    if (n > left() / per)
                        throw CodecError(std::string("truncated input: ") +
                                         (per == 2 ? "a map of " : "an array of ") +
                                         std::to_string(n) + (per == 2 ? " pairs" : " items") +
                                         " declared, " + n_bytes(left()) + " left");
                    for (std::uint64_t i = 0; i < n * per; ++i) skip_item(depth + 1);
                    return;
                }
                case 6: argument(ib); continue;  // any tag, then its item
                default:
                    if (ai == 24) {
                        if (byte() < 32) malformed("simple value in two bytes below 32");
                    } else if (ai >= 25 && ai <= 27) {
                        be(1 << (ai - 24));
                    } else if (ai >= 28 && ai <= 30) {
                        malformed("reserved additional information " + std::to_string(ai) +
                                  " (initial byte " + hex_byte(ib) + ")");
                    } else if (ai == 31) {
                        malformed("unexpected break (0xff)");
                    }
                    return;
            }
        }
    }

    const std::uint8_t* p_;
    const std::uint8_t* end_;
    bool pending_ = true;
    std::size_t depth_ = 0;
    std::string scratch_, key_scratch_, scratch_chunk_;
    Frame stack_[max_depth];
};

class CborCodec final : public Codec {
  public:
    std::string_view name() const noexcept override { return "cbor"; }
    bool is_text() const noexcept override { return false; }

  protected:
    void do_encode(std::string& out, FunctionRef<void(Writer&)> produce) const override {
        CborWriter w(out);
        produce(w);
        w.finish();
    }

    void do_decode(std::string_view in, FunctionRef<void(Reader&)> consume) const override {
        CborReader r(reinterpret_cast<const std::uint8_t*>(in.data()), in.size());
        consume(r);
        r.finish();
    }
};

}  // namespace

const Codec& cbor_codec() noexcept {
    static const CborCodec codec;
    return codec;
}

}  // namespace eskit
