// CodecError, the error messages of the typed machinery, base64.
#include <eskit/wire.hpp>

#include <charconv>
#include <cstring>

namespace eskit {

std::string_view describe(Kind kind) noexcept {
    switch (kind) {
        case Kind::null: return "null";
        case Kind::boolean: return "a boolean";
        case Kind::int64:
        case Kind::uint64: return "an integer";
        case Kind::float64: return "a floating-point number";
        case Kind::string: return "a string";
        case Kind::bytes: return "a byte string";
        case Kind::array: return "an array";
        case Kind::object: return "an object";
    }
    return "an unknown value";
}

CodecError::CodecError(std::string reason)
    : Error(Code::InvalidArgument, 1, "codec error"), reason_(std::move(reason)) {
    rebuild();
}

namespace {

// A key is written `.key` when it looks like an identifier, else `["k\"ey"]`.
bool plain_key(std::string_view k) noexcept {
    if (k.empty()) return false;
    for (char c : k) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '$' ||
                        static_cast<unsigned char>(c) >= 0x80;
        if (!ok) return false;
    }
    return true;
}

}  // namespace

void CodecError::prepend_field(std::string_view name) {
    std::string seg;
    if (plain_key(name)) {
        seg.assign(name);
        if (!path_.empty() && path_.front() != '[') seg += '.';
    } else {
        seg = "[\"";
        for (char c : name) {
            if (c == '"' || c == '\\') seg += '\\';
            seg += c;
        }
        seg += "\"]";
        if (!path_.empty() && path_.front() != '[') seg += '.';
    }
    path_.insert(0, seg);
    rebuild();
}

void CodecError::prepend_index(std::size_t index) {
    std::string seg(1, '[');  // not "[" + ... + "]": GCC 12 warns (-Wrestrict, a false alarm)
    seg += std::to_string(index);
    seg += ']';
    if (!path_.empty() && path_.front() != '[') seg += '.';
    path_.insert(0, seg);
    rebuild();
}

void CodecError::set_codec(std::string_view name) {
    if (!codec_.empty()) return;
    codec_.assign(name);
    rebuild();
}

void CodecError::rebuild() {
    message_.clear();
    if (!codec_.empty()) message_.append(codec_).append(": ");
    if (!path_.empty()) message_.append(path_).append(": ");
    message_.append(reason_);
}

namespace detail {

namespace {

std::string number_text(double d) {
    char buf[40];
    auto res = std::to_chars(buf, buf + sizeof buf, d);
    return std::string(buf, res.ptr);
}

std::string got_text(Kind k, const Scalar& s) {
    switch (k) {
        case Kind::int64: return std::to_string(s.int64);
        case Kind::uint64: return std::to_string(s.uint64);
        case Kind::float64: return number_text(s.float64);
        default: return std::string(describe(k));
    }
}

}  // namespace

void throw_mismatch(std::string_view expected, Kind got) {
    std::string m = "expected ";
    m.append(expected).append(", got ").append(describe(got));
    throw CodecError(std::move(m));
}

void throw_int_range(std::int64_t min, std::uint64_t max, Kind got, const Scalar& s) {
    throw CodecError("expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                     "], got " + got_text(got, s));
}

void throw_float_range(double got) {
    throw CodecError("expected a number in float range, got " + number_text(got));
}

void throw_enum_name(std::span<const std::string_view> names, std::string_view got) {
    std::string m = "expected one of ";
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i) m += ", ";
        m.append(names[i]);
    }
    m.append(", got '").append(got).append("'");
    throw CodecError(std::move(m));
}

void throw_enum_value(std::string_view type, std::int64_t value) {
    throw CodecError(std::string(type) + " value " + std::to_string(value) +
                     " has no name in ESKIT_ENUM");
}

void throw_depth() {
    throw CodecError("nesting deeper than " + std::to_string(max_depth) + " levels");
}

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr int b64_value(char c) noexcept {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}
}  // namespace

void base64_encode(std::span<const std::byte> in, std::string& out) {
    const std::size_t n = in.size();
    out.reserve(out.size() + (n + 2) / 3 * 4);
    std::size_t i = 0;
    auto b = [&](std::size_t j) { return static_cast<unsigned>(in[j]); };
    for (; i + 3 <= n; i += 3) {
        const unsigned v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += kB64[(v >> 6) & 63];
        out += kB64[v & 63];
    }
    if (n - i == 1) {
        const unsigned v = b(i) << 16;
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += "==";
    } else if (n - i == 2) {
        const unsigned v = (b(i) << 16) | (b(i + 1) << 8);
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += kB64[(v >> 6) & 63];
        out += '=';
    }
}

// Standard alphabet; padding optional; no whitespace; the unused low bits must be zero (so
// every accepted text is the canonical encoding of its bytes, padding aside).
bool base64_decode(std::string_view in, std::string& out) {
    if (in.size() % 4 == 0 && !in.empty() && in.back() == '=') {
        in.remove_suffix(1);
        if (in.back() == '=') in.remove_suffix(1);
    }
    if (in.size() % 4 == 1) return false;
    out.clear();
    out.reserve(in.size() / 4 * 3 + 2);
    unsigned acc = 0;
    int bits = 0;
    for (char c : in) {
        const int v = b64_value(c);
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return (acc & ((1u << bits) - 1)) == 0;
}

}  // namespace detail
}  // namespace eskit
