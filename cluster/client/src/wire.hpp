/*
** dqlite's wire protocol, version 1 (doc/protocol.md of the dqlite project): message
** encoding and decoding, no I/O.
**
** A message is one header word — body size in words (uint32 LE), type, schema revision, two
** unused bytes — and a body of 8-byte words. Integers are little endian; text is
** zero-terminated and zero-padded to a word boundary; a blob is its length (uint64) and its
** bytes padded likewise. A tuple of parameters starts with one byte of count and one byte of
** type per value, padded to a word; a row starts with 4 bits of type per column (first column
** in the low nibble), padded to a word. A batch of rows ends with a word of 0xff (complete)
** or 0xee (more batches follow, each repeating the column names).
*/
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "eskit/cluster/client.hpp"

namespace eskit::cluster::wire {

inline constexpr std::uint64_t kProtocolVersion = 1;

// Request types.
enum Request : std::uint8_t {
    kLeader = 0,
    kClient = 1,
    kOpen = 3,
    kPrepare = 4,
    kExec = 5,
    kQuery = 6,
    kFinalize = 7,
    kExecSql = 8,
    kQuerySql = 9,
    kInterrupt = 10,
    kAdd = 12,
    kAssign = 13,
    kRemove = 14,
    kCluster = 16,
    kTransfer = 17,
};

// Response types.
enum Response : std::uint8_t {
    kFailure = 0,
    kNode = 1,
    kWelcome = 2,
    kNodes = 3,
    kDb = 4,
    kStmt = 5,
    kResult = 6,
    kRows = 7,
    kEmpty = 8,
};

// Value type codes of tuples.
enum Type : std::uint8_t {
    kInteger = 1,
    kFloat = 2,
    kText = 3,
    kBlob = 4,
    kNull = 5,
    kUnixTime = 9,
    kIso8601 = 10,
    kBoolean = 11,
};

inline constexpr std::uint8_t kRowsDone = 0xff;  // first byte of the end-marker words
inline constexpr std::uint8_t kRowsPart = 0xee;
inline constexpr std::size_t kMaxParams = 255;  // one byte of count (schema 0)

// Builds one message: the header word is filled in by finish().
class Encoder {
  public:
    Encoder() : b_(8, 0) {}
    void u64(std::uint64_t v);
    void u32(std::uint32_t v);
    // Throws std::invalid_argument for text containing a NUL byte (the wire cannot carry it).
    void text(std::string_view s);
    void params(Params values);
    std::vector<std::uint8_t> finish(std::uint8_t type);

  private:
    void pad();
    std::vector<std::uint8_t> b_;
};

// Reads one message body. Every getter throws Error::protocol when the body is too short.
class Decoder {
  public:
    Decoder(const std::uint8_t* p, std::size_t n) : p_(p), n_(n) {}
    std::uint64_t u64();
    std::uint32_t u32();
    std::string text();
    Blob blob();
    std::uint8_t peek() const;
    bool at_end() const { return off_ >= n_; }
    std::size_t offset() const { return off_; }

  private:
    void need(std::size_t k) const;
    const std::uint8_t* p_;
    std::size_t n_;
    std::size_t off_ = 0;
};

// Decodes one ROWS body into out (columns replaced, rows appended). Returns true when the
// batch ended with the "more follow" marker.
bool decode_rows(Decoder& d, Result& out);

// The protocol-level encodings of values, exposed for the unit test.
std::vector<std::uint8_t> encode_params_for_test(Params values);

}  // namespace eskit::cluster::wire
