/*
** Identifier helpers: UUIDv7 event ids and base64 payloads of non-json codecs.
*/
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace eskit::ext {

// Largest seq an id carries (40 bits); larger positions get fully random ids.
inline constexpr uint64_t kMaxSeqInId = (uint64_t{1} << 40) - 1;

// RFC 9562 UUIDv7 generator: 48-bit Unix milliseconds, a 12-bit counter in rand_a that keeps
// ids from one generator strictly increasing within a millisecond (method 1 of the RFC), and
// in rand_b 22 random bits followed by the event's seq in the low 40 bits (the RFC leaves the
// content of rand_b to the implementation as long as ids stay unique: the seq is unique in its
// store, and the 34 random bits keep ids of different stores apart). Carrying its position
// lets an id be found without an index (seq_in_id): eskit needs no event-id index entry for
// the ids it generates. One generator per connection; not thread-safe (SQLite serialises
// calls).
class UuidGen {
  public:
    UuidGen();
    // Writes the 36-character lowercase text form plus a NUL into out. seq: the position of
    // the event the id is for (outside 1..kMaxSeqInId: none, all 62 bits random).
    void next(char out[37], int64_t unix_ms, int64_t seq);

  private:
    uint64_t random64();
    uint64_t state_[2];
    int64_t last_ms_ = -1;
    uint32_t counter_ = 0;
};

// The seq an eskit-generated id would carry, when id has the shape of one (lowercase UUIDv7
// text). Any id may have that shape: the caller checks the event at that seq has this id.
std::optional<int64_t> seq_in_id(std::string_view id);

// Strict RFC 4648 base64 (standard alphabet; '=' padding optional but, when present, exact).
// Returns false on any other character or a dangling final symbol.
bool base64_decode(std::string_view in, std::string& out);
std::string base64_encode(std::string_view in);

}  // namespace eskit::ext
