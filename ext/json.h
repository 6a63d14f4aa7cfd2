/*
** JSON input of es_append: the events batch and the options object, parsed with simdjson.
**
** One JsonScratch lives per connection and is reused by every call, so the parsers and the
** padded input buffer are allocated once and grow to the largest batch seen (simdjson's
** guidance: reuse parsers, avoid padded_string copies). The text is first validated in full
** by the DOM parser (on-demand skips over values it is not asked for, so on its own it would
** accept `{"data": [tru]}`), then walked once with On-Demand to pick fields and to slice the
** raw JSON text of `data` and `metadata` members without re-serialising them.
**
** Every string_view in the results points into this scratch and is valid until the next
** parse_events(), parse_options() or validate() call on it.
*/
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace eskit::ext {

// One member of a metadata object: unescaped key, raw JSON text of the value.
struct MetaMember {
    std::string key;
    std::string value;
};

struct EventIn {
    std::string_view type;
    std::string_view data;  // raw JSON text of "data"
    std::string payload;    // decoded bytes for non-json codecs
    std::string_view codec = "json";
    std::string_view id;  // empty: generate one
    int64_t schema_version = 1;
    bool has_metadata = false;
    std::vector<MetaMember> metadata;

    bool is_json() const { return codec == "json"; }
};

struct AppendOptions {
    bool has_idempotency_key = false;
    std::string idempotency_key;
    bool has_timestamp = false;
    int64_t timestamp = 0;
    bool has_metadata = false;
    std::vector<MetaMember> metadata;
};

class JsonScratch {
  public:
    JsonScratch();
    ~JsonScratch();
    JsonScratch(const JsonScratch&) = delete;
    // Lets valid JSON that simdjson cannot represent (65-bit integers, lone surrogates) be
    // confirmed by SQLite's json_valid() on this connection instead of being rejected.
    void set_db(sqlite3* db);
    JsonScratch& operator=(const JsonScratch&) = delete;

    // fn names the SQL function in error messages ("es_append()"). Throw Error on bad input.
    void parse_options(std::string_view text, AppendOptions& out, const char* fn);
    void parse_events(std::string_view text, std::vector<EventIn>& out, const char* fn);
    // Throws invalid_argument unless text is one complete JSON value.
    void validate(std::string_view text, const char* fn, const char* what);
    // The members of a JSON object text (metadata handed over by pointer, eskit.h).
    void parse_metadata(std::string_view text, std::vector<MetaMember>& out, const char* fn,
                        size_t index);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The metadata stored for one event: the call-level members, each replaced by the event's own
// value when the event has the same key, then the event's remaining members, as compact JSON
// ({"a":1,"b":2}). Returns false (store NULL) when neither level has metadata.
bool merge_metadata(const EventIn& ev, const AppendOptions& opts, std::string& out);

// The rule for type, codec and id of events[index]: non-empty, no NUL, at most kMaxIdBytes.
void check_event_name(std::string_view s, const char* fn, size_t index, const char* key);

// Appends s as a JSON string literal (quotes and escapes included).
void json_quote(std::string_view s, std::string& out);

}  // namespace eskit::ext
