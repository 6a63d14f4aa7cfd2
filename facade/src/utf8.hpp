// UTF-8 validation for the codecs (internal). Most strings of event payloads are short and
// ASCII: checking 8 bytes at a time first avoids simdjson's dispatch and SIMD set-up for them.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace eskit::detail {

inline bool valid_utf8(const char* p, std::size_t n) noexcept {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ULL) return simdjson::validate_utf8(p, n);
    }
    for (; i < n; ++i)
        if (static_cast<unsigned char>(p[i]) >= 0x80) return simdjson::validate_utf8(p, n);
    return true;
}

}  // namespace eskit::detail
