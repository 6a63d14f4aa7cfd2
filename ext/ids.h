/*
** Identifier helpers: UUIDv7 event ids and base64 payloads of non-json codecs.
*/
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace eskit::ext {

// RFC 9562 UUIDv7 generator: 48-bit Unix milliseconds, a 12-bit counter in rand_a that keeps
// ids from one generator strictly increasing within a millisecond (method 1 of the RFC), and
// 62 random bits. One generator per connection; not thread-safe (SQLite serialises calls).
class UuidGen {
  public:
    UuidGen();
    // Writes the 36-character lowercase text form plus a NUL into out.
    void next(char out[37], int64_t unix_ms);

  private:
    uint64_t random64();
    uint64_t state_[2];
    int64_t last_ms_ = -1;
    uint32_t counter_ = 0;
};

// Strict RFC 4648 base64 (standard alphabet; '=' padding optional but, when present, exact).
// Returns false on any other character or a dangling final symbol.
bool base64_decode(std::string_view in, std::string& out);
std::string base64_encode(std::string_view in);

}  // namespace eskit::ext
