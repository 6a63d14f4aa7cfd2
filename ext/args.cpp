#include "args.h"

#include <chrono>
#include <cstring>
#include <new>

#include "error.h"

namespace eskit::ext {

std::string describe(sqlite3_value* v) {
    // The type is read before any conversion: sqlite3_value_text() would turn a blob into text.
    switch (sqlite3_value_type(v)) {
        case SQLITE_INTEGER:
            return format("integer %lld", static_cast<long long>(sqlite3_value_int64(v)));
        case SQLITE_FLOAT: return format("real %!.15g", sqlite3_value_double(v));
        case SQLITE_TEXT: {
            const auto* t = reinterpret_cast<const char*>(sqlite3_value_text(v));
            if (!t) throw std::bad_alloc();
            const int n = sqlite3_value_bytes(v);
            if (n > 40) return format("text %Q...", std::string(t, 40).c_str());
            return format("text %Q", t);
        }
        case SQLITE_BLOB: return format("a %d-byte blob", sqlite3_value_bytes(v));
        default: return "NULL";
    }
}

std::string_view arg_id(sqlite3_value* v, const char* fn, const char* what) {
    if (sqlite3_value_type(v) != SQLITE_TEXT) {
        raise(Code::InvalidArgument, "%s: %s must be text, got %s", fn, what, describe(v).c_str());
    }
    const char* s = reinterpret_cast<const char*>(sqlite3_value_text(v));
    if (!s) throw std::bad_alloc();
    const int n = sqlite3_value_bytes(v);
    if (n == 0) raise(Code::InvalidArgument, "%s: %s must not be empty", fn, what);
    if (n > kMaxIdBytes) {
        raise(Code::TooBig, "%s: %s is %d bytes, maximum %d", fn, what, n, kMaxIdBytes);
    }
    if (std::memchr(s, 0, static_cast<size_t>(n)) != nullptr) {
        raise(Code::InvalidArgument, "%s: %s must not contain NUL bytes", fn, what);
    }
    return {s, static_cast<size_t>(n)};
}

std::string_view category_of(std::string_view stream_id) {
    const size_t dash = stream_id.find('-');
    return dash == std::string_view::npos ? stream_id : stream_id.substr(0, dash);
}

int64_t now_micros() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace eskit::ext
