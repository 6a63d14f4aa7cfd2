// JSON text the facade writes for the SQL surface (es_append's options object): quoting, and
// the options of one call.
#pragma once

#include <string>
#include <string_view>

#include "backend.hpp"

namespace eskit::detail {

// Appends s as a JSON string literal.
void json_quote(std::string_view s, std::string& out);

// es_append's options argument for call ("" when it has none).
std::string append_options_json(const AppendCall& call);

}  // namespace eskit::detail
