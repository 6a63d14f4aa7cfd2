/*
** The little JSON this client reads and writes: escaping a string, and fields of the flat
** objects es_last_error() returns ({"code":"conflict","sqlite_code":19,"message":"..."}).
*/
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace eskit::cluster::json {

// Appends s as a JSON string literal.
void quote(std::string& out, std::string_view s);

// The value of a top-level string or integer field of a JSON object, if present and of that
// type. Nested objects and arrays are skipped.
std::optional<std::string> string_field(std::string_view object, std::string_view key);
std::optional<std::int64_t> int_field(std::string_view object, std::string_view key);

}  // namespace eskit::cluster::json
