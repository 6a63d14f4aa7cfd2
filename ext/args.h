/*
** Arguments of the SQL functions: the checks every function shares, each written once.
*/
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sqlite.h"

namespace eskit::ext {

// Longest stream id, event id, type, codec, consumer or idempotency key accepted (bytes).
inline constexpr int kMaxIdBytes = 1024;

// "integer 5", "real 1.5", "text 'abc'", "a 3-byte blob", "NULL": the value an error names.
std::string describe(sqlite3_value* v);

// A name argument (stream id, consumer, codec): TEXT, non-empty, <= kMaxIdBytes, no NUL.
// fn names the function ("es_append()"), what the argument. Throws invalid_argument.
std::string_view arg_id(sqlite3_value* v, const char* fn, const char* what);

// The category of a stream id: the part before the first '-', or the whole id.
std::string_view category_of(std::string_view stream_id);

// Microseconds since the Unix epoch, UTC.
int64_t now_micros();

}  // namespace eskit::ext
