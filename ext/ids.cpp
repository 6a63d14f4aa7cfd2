#include "ids.h"

#include <random>

namespace eskit::ext {

namespace {

uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

constexpr char kHex[] = "0123456789abcdef";

int b64_value(unsigned char ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

}  // namespace

UuidGen::UuidGen() {
    std::random_device rd;
    uint64_t seed = (uint64_t{rd()} << 32) ^ rd();
    state_[0] = splitmix64(seed);
    state_[1] = splitmix64(seed) | 1;
}

// xorshift128+: ids need uniqueness, not secrecy, and this costs a few cycles per id.
uint64_t UuidGen::random64() {
    uint64_t s1 = state_[0];
    const uint64_t s0 = state_[1];
    state_[0] = s0;
    s1 ^= s1 << 23;
    state_[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return state_[1] + s0;
}

void UuidGen::next(char out[37], int64_t unix_ms, int64_t seq) {
    if (unix_ms <= last_ms_) {
        unix_ms = last_ms_;
        if (++counter_ > 0xfff) {  // counter exhausted: borrow the next millisecond
            unix_ms = ++last_ms_;
            counter_ = static_cast<uint32_t>(random64() & 0x7ff);
        }
    } else {
        last_ms_ = unix_ms;
        // Start low in the 12-bit space so many ids fit in one millisecond.
        counter_ = static_cast<uint32_t>(random64() & 0x7ff);
    }
    unsigned char b[16];
    const uint64_t ms = static_cast<uint64_t>(unix_ms) & 0xffffffffffffULL;
    for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
    b[6] = static_cast<unsigned char>(0x70 | ((counter_ >> 8) & 0x0f));
    b[7] = static_cast<unsigned char>(counter_ & 0xff);
    uint64_t r = random64();
    if (seq >= 1 && static_cast<uint64_t>(seq) <= kMaxSeqInId) {
        r = (r & ~kMaxSeqInId) | static_cast<uint64_t>(seq);
    }
    for (int i = 0; i < 8; ++i) b[8 + i] = static_cast<unsigned char>(r >> (56 - 8 * i));
    b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3f));
    int o = 0;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = kHex[b[i] >> 4];
        out[o++] = kHex[b[i] & 0x0f];
    }
    out[o] = '\0';
}

std::optional<int64_t> seq_in_id(std::string_view id) {
    if (id.size() != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' ||
        id[14] != '7') {
        return std::nullopt;
    }
    const char variant = id[19];
    if (variant != '8' && variant != '9' && variant != 'a' && variant != 'b') return std::nullopt;
    uint64_t seq = 0;
    for (size_t i = 26; i < 36; ++i) {  // the last 40 bits: bytes 11..15
        const char ch = id[i];
        const int v = ch >= '0' && ch <= '9'   ? ch - '0'
                      : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                               : -1;
        if (v < 0) return std::nullopt;
        seq = seq << 4 | static_cast<uint64_t>(v);
    }
    if (seq == 0) return std::nullopt;
    return static_cast<int64_t>(seq);
}

bool base64_decode(std::string_view in, std::string& out) {
    out.clear();
    size_t n = in.size();
    size_t pad = 0;
    while (pad < 2 && n > 0 && in[n - 1] == '=') {
        --n;
        ++pad;
    }
    if (pad > 0 && in.size() % 4 != 0) return false;
    if (n % 4 == 1) return false;
    out.reserve(n / 4 * 3 + 2);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; ++i) {
        const int v = b64_value(static_cast<unsigned char>(in[i]));
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    // Leftover bits must be zero, or two encodings would decode to the same bytes.
    return (acc & ((1u << bits) - 1)) == 0;
}

std::string base64_encode(std::string_view in) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) |
                           uint8_t(in[i + 2]);
        out.push_back(kAlphabet[v >> 18]);
        out.push_back(kAlphabet[(v >> 12) & 63]);
        out.push_back(kAlphabet[(v >> 6) & 63]);
        out.push_back(kAlphabet[v & 63]);
    }
    if (i < in.size()) {
        uint32_t v = uint32_t(uint8_t(in[i])) << 16;
        if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
        out.push_back(kAlphabet[v >> 18]);
        out.push_back(kAlphabet[(v >> 12) & 63]);
        out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

}  // namespace eskit::ext
