#include <eskit/error.hpp>

namespace eskit {

void throw_error(Code code, int sqlite_rc, const std::string& message, std::string stream,
                 std::optional<int64_t> expected, std::optional<int64_t> actual) {
    switch (code) {
        case Code::Conflict:
            throw ConcurrencyConflict(code, sqlite_rc, message, std::move(stream), expected,
                                      actual);
        case Code::DuplicateEvent:
            throw DuplicateEvent(code, sqlite_rc, message, std::move(stream));
        case Code::Archived: throw StreamArchived(code, sqlite_rc, message, std::move(stream));
        case Code::Tombstoned: throw StreamTombstoned(code, sqlite_rc, message, std::move(stream));
        case Code::NotFound: throw StreamNotFound(code, sqlite_rc, message, std::move(stream));
        case Code::InvalidArgument:
        case Code::TooBig: throw InvalidArgument(code, sqlite_rc, message, std::move(stream));
        case Code::Ok:
        case Code::Sqlite: break;
    }
    throw StorageError(Code::Sqlite, sqlite_rc, message, std::move(stream));
}

}  // namespace eskit
