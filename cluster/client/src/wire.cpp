#include "wire.hpp"

#include <cstring>
#include <stdexcept>

namespace eskit::cluster::wire {

namespace {

[[noreturn]] void short_body(const char* what) {
    throw Error(Error::Kind::protocol, 0, std::string("malformed message: ") + what);
}

std::size_t round_up(std::size_t n) { return (n + 7) / 8 * 8; }

}  // namespace

void Encoder::u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) b_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void Encoder::u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void Encoder::pad() {
    while (b_.size() % 8 != 0) b_.push_back(0);
}

void Encoder::text(std::string_view s) {
    if (s.find('\0') != std::string_view::npos) {
        throw std::invalid_argument("eskit::cluster: text values cannot contain NUL bytes");
    }
    b_.insert(b_.end(), s.begin(), s.end());
    b_.push_back(0);
    pad();
}

void Encoder::params(Params values) {
    if (values.size() > kMaxParams) {
        throw std::invalid_argument("eskit::cluster: at most 255 parameters per statement");
    }
    b_.push_back(static_cast<std::uint8_t>(values.size()));
    for (const Value& v : values) {
        std::uint8_t t = kNull;
        if (v.is_int())
            t = kInteger;
        else if (v.is_real())
            t = kFloat;
        else if (v.is_text())
            t = kText;
        else if (v.is_blob())
            t = kBlob;
        b_.push_back(t);
    }
    pad();
    for (const Value& v : values) {
        if (v.is_int()) {
            u64(static_cast<std::uint64_t>(v.as_int()));
        } else if (v.is_real()) {
            const double d = v.as_real();
            std::uint64_t bits;
            std::memcpy(&bits, &d, 8);
            u64(bits);
        } else if (v.is_text()) {
            text(v.as_text());
        } else if (v.is_blob()) {
            const Blob& b = v.as_blob();
            u64(b.size());
            b_.insert(b_.end(), b.begin(), b.end());
            pad();
        } else {
            u64(0);
        }
    }
}

std::vector<std::uint8_t> Encoder::finish(std::uint8_t type) {
    pad();
    const std::size_t words = (b_.size() - 8) / 8;
    for (int i = 0; i < 4; ++i) b_[i] = static_cast<std::uint8_t>(words >> (8 * i));
    b_[4] = type;
    b_[5] = 0;  // schema revision 0 of every request
    b_[6] = b_[7] = 0;
    return std::move(b_);
}

void Decoder::need(std::size_t k) const {
    if (off_ + k > n_) short_body("body ends early");
}

std::uint64_t Decoder::u64() {
    need(8);
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p_[off_ + i];
    off_ += 8;
    return v;
}

std::uint32_t Decoder::u32() {
    need(4);
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = v << 8 | p_[off_ + i];
    off_ += 4;
    return v;
}

std::string Decoder::text() {
    const void* nul = off_ < n_ ? std::memchr(p_ + off_, 0, n_ - off_) : nullptr;
    if (!nul) short_body("text without terminator");
    const std::size_t end = static_cast<const std::uint8_t*>(nul) - p_;
    std::string s(reinterpret_cast<const char*>(p_ + off_), end - off_);
    off_ = round_up(end + 1);
    if (off_ > n_) short_body("text padding");
    return s;
}

Blob Decoder::blob() {
    const std::uint64_t len = u64();
    if (len > n_ - off_) short_body("blob longer than the body");
    Blob b(p_ + off_, p_ + off_ + len);
    off_ = round_up(off_ + len);
    if (off_ > n_) short_body("blob padding");
    return b;
}

std::uint8_t Decoder::peek() const {
    need(1);
    return p_[off_];
}

bool decode_rows(Decoder& d, Result& out) {
    const std::uint64_t n = d.u64();
    if (n > 1u << 16) short_body("column count");
    out.columns.clear();
    for (std::uint64_t i = 0; i < n; ++i) out.columns.push_back(d.text());
    std::vector<std::uint8_t> types(n);
    for (;;) {
        const std::uint8_t first = d.peek();
        if (first == kRowsDone || first == kRowsPart) {
            d.u64();
            return first == kRowsPart;
        }
        if (n == 0) short_body("row of a statement without columns");
        // 4 bits per column, padded to whole words.
        const std::size_t header = (n + 15) / 16 * 8;
        std::vector<std::uint8_t> raw(header);
        for (std::size_t i = 0; i < header; i += 8) {
            const std::uint64_t w = d.u64();
            for (int k = 0; k < 8; ++k) raw[i + k] = static_cast<std::uint8_t>(w >> (8 * k));
        }
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::uint8_t byte = raw[i / 2];
            types[i] = i % 2 == 0 ? (byte & 0x0f) : (byte >> 4);
        }
        Row row;
        row.reserve(n);
        for (std::uint64_t i = 0; i < n; ++i) {
            switch (types[i]) {
                case kInteger:
                case kUnixTime:
                case kBoolean: row.emplace_back(static_cast<std::int64_t>(d.u64())); break;
                case kFloat: {
                    const std::uint64_t bits = d.u64();
                    double v;
                    std::memcpy(&v, &bits, 8);
                    row.emplace_back(v);
                    break;
                }
                case kText:
                case kIso8601: row.emplace_back(d.text()); break;
                case kBlob: row.emplace_back(d.blob()); break;
                case kNull:
                    d.u64();
                    row.emplace_back(nullptr);
                    break;
                default: short_body("unknown value type in a row");
            }
        }
        out.rows.push_back(std::move(row));
    }
}

std::vector<std::uint8_t> encode_params_for_test(Params values) {
    Encoder e;
    e.params(values);
    return e.finish(kExecSql);
}

}  // namespace eskit::cluster::wire
