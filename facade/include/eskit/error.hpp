// Errors of the eskit facade: eskit::Error and one subclass per code of SPEC section 2, built
// from the structured error the extension reports (eskit_last_error / es_last_error()), never
// parsed from message text.
//
//     try {
//         store.append("order-17", eskit::Exact{3}, events);
//     } catch (const eskit::ConcurrencyConflict& e) {
//         retry_from(e.actual());                   // the stream's version now
//     } catch (const eskit::Error& e) {
//         log(e.code(), e.what());
//     }
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <eskit/codes.h>

namespace eskit {

class Error : public std::runtime_error {
  public:
    Error(Code code, int sqlite_rc, const std::string& message, std::string stream = {},
          std::optional<int64_t> expected = {}, std::optional<int64_t> actual = {})
        : std::runtime_error(message),
          code_(code),
          sqlite_rc_(sqlite_rc),
          stream_(std::move(stream)),
          expected_(expected),
          actual_(actual) {}

    Code code() const noexcept { return code_; }
    // The SQLite result code the call failed with (extended when SQLite's own).
    int sqlite_code() const noexcept { return sqlite_rc_; }
    // The stream the error is about, when there is one.
    const std::string& stream() const noexcept { return stream_; }
    // Conflicts: the expected and the actual version (or checkpoint position).
    std::optional<int64_t> expected() const noexcept { return expected_; }
    std::optional<int64_t> actual() const noexcept { return actual_; }

  private:
    Code code_;
    int sqlite_rc_;
    std::string stream_;
    std::optional<int64_t> expected_, actual_;
};

// conflict: the stream is not at the expected version (or a checkpoint CAS failed).
class ConcurrencyConflict : public Error {
  public:
    using Error::Error;
};
// duplicate_event: an event id exists and the append is not an exact replay.
class DuplicateEvent : public Error {
  public:
    using Error::Error;
};
// archived: append to an archived stream, or read of one moved to an archive.
class StreamArchived : public Error {
  public:
    using Error::Error;
};
// tombstoned: any write to, or read of, a tombstoned stream.
class StreamTombstoned : public Error {
  public:
    using Error::Error;
};
// not_found: delete/archive/restore of a stream that does not exist.
class StreamNotFound : public Error {
  public:
    using Error::Error;
};
// invalid_argument (also for oversized input: sqlite_code() is SQLITE_TOOBIG then).
class InvalidArgument : public Error {
  public:
    using Error::Error;
};
// An error of SQLite itself (I/O, full disk, busy after the timeout), passed through.
class StorageError : public Error {
  public:
    using Error::Error;
};
// A transaction on a cluster (eskit::connect_cluster) that certainly did not commit: its
// connection or the leader was lost before the commit took effect, or a commit whose answer
// was lost was found not applied. Nothing of it was written: running it again is safe (unlike
// a plain StorageError at COMMIT, whose outcome may be unknown).
class NotCommitted : public StorageError {
  public:
    using StorageError::StorageError;
};
// A payload that cannot be encoded or decoded (codec, event type registry, upcasters):
// eskit::CodecError, in <eskit/wire.hpp>.

// Throws the subclass for code.
[[noreturn]] void throw_error(Code code, int sqlite_rc, const std::string& message,
                              std::string stream = {}, std::optional<int64_t> expected = {},
                              std::optional<int64_t> actual = {});

}  // namespace eskit
