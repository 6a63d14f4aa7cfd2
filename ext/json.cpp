#include "json.h"

#include "sqlite.h"

#include <simdjson.h>

#include <cstring>

#include "args.h"
#include "error.h"
#include "ids.h"

namespace eskit::ext {

namespace od = simdjson::ondemand;

constexpr int kMaxBytes = kMaxIdBytes;

struct JsonScratch::Impl {
    sqlite3* db = nullptr;  // for the json_valid() second opinion; may be null (unit tests)
    simdjson::dom::parser dom;
    od::parser ondemand;
    od::document doc;
    std::vector<char> buf;  // input copy with SIMDJSON_PADDING spare bytes, reused

    // Copies text into the padded buffer and validates all of it; returns the length.
    size_t load(std::string_view text, const char* fn, const char* what) {
        const size_t need = text.size() + simdjson::SIMDJSON_PADDING;
        if (buf.size() < need) buf.resize(need);
        std::memcpy(buf.data(), text.data(), text.size());
        std::memset(buf.data() + text.size(), 0, simdjson::SIMDJSON_PADDING);
        simdjson::dom::element ignored;
        auto err = dom.parse(buf.data(), text.size(), false).get(ignored);
        if (err == simdjson::MEMALLOC) throw std::bad_alloc();
        if (err && sqlite_accepts(err, text)) err = simdjson::SUCCESS;
        if (err) {
            raise(Code::InvalidArgument, "%s: %s is not valid JSON: %s", fn, what,
                  simdjson::error_message(err));
        }
        return text.size();
    }

    // simdjson refuses some valid JSON it cannot represent: integers beyond 64 bits, numbers
    // out of double range, lone UTF-16 surrogates in \u escapes. The text is still valid JSON
    // and eskit stores it verbatim, so SQLite's own json_valid() gets the last word on those.
    bool sqlite_accepts(simdjson::error_code err, std::string_view text) const {
        if (!db || (err != simdjson::NUMBER_ERROR && err != simdjson::NUMBER_OUT_OF_RANGE &&
                    err != simdjson::STRING_ERROR)) {
            return false;
        }
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db, "SELECT json_valid(?1)", -1, &s, nullptr) != SQLITE_OK) {
            return false;
        }
        sqlite3_bind_text(s, 1, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
        const bool ok = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 1;
        sqlite3_finalize(s);
        return ok;
    }

    void iterate(size_t len, const char* fn, const char* what) {
        auto err = ondemand.iterate(buf.data(), len, buf.size()).get(doc);
        if (err) fail(err, fn, what);
    }

    // The DOM pass has validated the text, so On-Demand errors after it are not expected;
    // they are still reported rather than trusted away.
    [[noreturn]] static void fail(simdjson::error_code err, const char* fn, const char* what) {
        if (err == simdjson::MEMALLOC) throw std::bad_alloc();
        raise(Code::InvalidArgument, "%s: %s is not valid JSON: %s", fn, what,
              simdjson::error_message(err));
    }
};

namespace {

std::string_view trim_right(std::string_view s) {
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// What an error message says a JSON value was: its text for scalars (shortened), else its kind.
std::string json_describe(od::value& v) {
    od::json_type t;
    if (v.type().get(t)) return "invalid JSON";
    switch (t) {
        case od::json_type::object: return "an object";
        case od::json_type::array: return "an array";
        default: {
            std::string_view tok = trim_right(v.raw_json_token());
            if (tok.size() > 40) return std::string(tok.substr(0, 40)) + "...";
            return std::string(tok);
        }
    }
}

// The same for a whole document (a scalar document is not a value in On-Demand).
std::string json_describe(od::document& d) {
    od::json_type t;
    if (d.type().get(t)) return "invalid JSON";
    if (t == od::json_type::object) return "an object";
    if (t == od::json_type::array) return "an array";
    std::string_view tok;
    if (d.raw_json_token().get(tok)) return "invalid JSON";
    tok = trim_right(tok);
    if (tok.size() > 40) return std::string(tok.substr(0, 40)) + "...";
    return std::string(tok);
}

// Raw JSON text of a value, consuming it.
simdjson::error_code raw_text(od::value v, std::string_view& out) {
    od::json_type t;
    if (auto err = v.type().get(t)) return err;
    if (t == od::json_type::object) {
        od::object o;
        if (auto err = v.get_object().get(o)) return err;
        if (auto err = o.raw_json().get(out)) return err;
        out = trim_right(out);  // raw_json() runs up to the next token
        return simdjson::SUCCESS;
    }
    if (t == od::json_type::array) {
        od::array a;
        if (auto err = v.get_array().get(a)) return err;
        if (auto err = a.raw_json().get(out)) return err;
        out = trim_right(out);
        return simdjson::SUCCESS;
    }
    out = trim_right(v.raw_json_token());
    return simdjson::SUCCESS;
}

// Reads a metadata object into members; false if v is not an object.
bool read_members(od::value v, std::vector<MetaMember>& out, simdjson::error_code& err) {
    od::json_type t;
    if ((err = v.type().get(t))) return false;
    if (t != od::json_type::object) return false;
    od::object o;
    if ((err = v.get_object().get(o))) return false;
    out.clear();
    for (auto field : o) {
        od::field f;
        if ((err = std::move(field).get(f))) return false;
        std::string_view key;
        if ((err = f.unescaped_key().get(key))) return false;
        std::string_view raw;
        if ((err = raw_text(f.value(), raw))) return false;
        out.push_back(MetaMember{std::string(key), std::string(raw)});
    }
    return true;
}

// A bounded, non-empty string field (type, codec, id).
std::string_view read_name(od::value v, const char* fn, size_t index, const char* key) {
    od::json_type t;
    std::string_view s;
    if (v.type().get(t) || t != od::json_type::string || v.get_string().get(s)) {
        const std::string got = json_describe(v);
        raise(Code::InvalidArgument, "%s: events[%lld].%s must be a non-empty string, got %s", fn,
              static_cast<long long>(index), key, got.c_str());
    }
    check_event_name(s, fn, index, key);
    return s;
}

void parse_event(od::value v, size_t index, EventIn& ev, const char* fn) {
    od::json_type t;
    if (v.type().get(t) || t != od::json_type::object) {
        const std::string got = json_describe(v);
        raise(Code::InvalidArgument, "%s: events[%lld] must be an object, got %s", fn,
              static_cast<long long>(index), got.c_str());
    }
    od::object o;
    if (auto err = v.get_object().get(o))
        raise(Code::InvalidArgument, "%s: events[%lld] is not valid JSON: %s", fn,
              static_cast<long long>(index), simdjson::error_message(err));
    enum : unsigned { kType = 1, kData = 2, kCodec = 4, kMeta = 8, kId = 16, kSchema = 32 };
    unsigned seen = 0;
    bool data_is_string = false;
    for (auto field : o) {
        od::field f;
        std::string_view key;
        simdjson::error_code err = std::move(field).get(f);
        if (!err) err = f.unescaped_key().get(key);
        if (err) {
            raise(Code::InvalidArgument, "%s: events[%lld] is not valid JSON: %s", fn,
                  static_cast<long long>(index), simdjson::error_message(err));
        }
        unsigned bit = 0;
        if (key == "type")
            bit = kType;
        else if (key == "data")
            bit = kData;
        else if (key == "codec")
            bit = kCodec;
        else if (key == "metadata")
            bit = kMeta;
        else if (key == "id")
            bit = kId;
        else if (key == "schema_version")
            bit = kSchema;
        const std::string k(key);
        if (bit == 0) {
            raise(Code::InvalidArgument, "%s: events[%lld] has unknown key %Q", fn,
                  static_cast<long long>(index), k.c_str());
        }
        if (seen & bit) {
            raise(Code::InvalidArgument, "%s: events[%lld] has key %Q more than once", fn,
                  static_cast<long long>(index), k.c_str());
        }
        seen |= bit;
        od::value val = f.value();
        switch (bit) {
            case kType: ev.type = read_name(val, fn, index, "type"); break;
            case kCodec: ev.codec = read_name(val, fn, index, "codec"); break;
            case kId: ev.id = read_name(val, fn, index, "id"); break;
            case kData: {
                od::json_type dt;
                if (!val.type().get(dt)) data_is_string = dt == od::json_type::string;
                if (auto e = raw_text(val, ev.data)) {
                    raise(Code::InvalidArgument,
                          "%s: events[%lld].data is not valid "
                          "JSON: %s",
                          fn, static_cast<long long>(index), simdjson::error_message(e));
                }
                break;
            }
            case kMeta: {
                od::json_type mt{};
                simdjson::error_code e = val.type().get(mt);
                if (!e && mt == od::json_type::null) break;  // same as absent
                if (!e && mt != od::json_type::object) {
                    const std::string got = json_describe(val);
                    raise(Code::InvalidArgument,
                          "%s: events[%lld].metadata must be a JSON object, "
                          "got %s",
                          fn, static_cast<long long>(index), got.c_str());
                }
                if (!read_members(val, ev.metadata, e)) {
                    raise(Code::InvalidArgument,
                          "%s: events[%lld].metadata is not valid "
                          "JSON: %s",
                          fn, static_cast<long long>(index), simdjson::error_message(e));
                }
                ev.has_metadata = true;
                break;
            }
            case kSchema: {
                int64_t sv = 0;
                od::json_type st;
                const std::string got = json_describe(val);
                if (val.type().get(st) || st != od::json_type::number || val.get_int64().get(sv) ||
                    sv < 1) {
                    raise(Code::InvalidArgument,
                          "%s: events[%lld].schema_version must be an integer "
                          ">= 1, got %s",
                          fn, static_cast<long long>(index), got.c_str());
                }
                ev.schema_version = sv;
                break;
            }
        }
    }
    if (!(seen & kType)) {
        raise(Code::InvalidArgument, "%s: events[%lld] is missing 'type'", fn,
              static_cast<long long>(index));
    }
    if (!(seen & kData)) {
        raise(Code::InvalidArgument, "%s: events[%lld] is missing 'data'", fn,
              static_cast<long long>(index));
    }
    if (!ev.is_json()) {
        // Base64 never needs escapes; the one JSON allows for it ("\/") is undone here.
        std::string_view body = ev.data;
        bool ok = data_is_string && body.size() >= 2;
        std::string plain;
        if (ok) {
            body = body.substr(1, body.size() - 2);
            plain.reserve(body.size());
            for (size_t i = 0; i < body.size(); ++i) {
                if (body[i] == '\\') {
                    if (i + 1 < body.size() && body[i + 1] == '/') {
                        plain.push_back('/');
                        ++i;
                    } else {
                        ok = false;
                        break;
                    }
                } else {
                    plain.push_back(body[i]);
                }
            }
        }
        if (!ok || !base64_decode(plain, ev.payload)) {
            const std::string codec(ev.codec);
            std::string got(ev.data.substr(0, 40));
            if (ev.data.size() > 40) got += "...";
            raise(Code::InvalidArgument,
                  "%s: events[%lld].data must be a base64 string for codec %Q, "
                  "got %s",
                  fn, static_cast<long long>(index), codec.c_str(), got.c_str());
        }
    }
}

}  // namespace

JsonScratch::JsonScratch() : impl_(std::make_unique<Impl>()) {}
void JsonScratch::set_db(sqlite3* db) { impl_->db = db; }
JsonScratch::~JsonScratch() = default;

void JsonScratch::parse_options(std::string_view text, AppendOptions& out, const char* fn) {
    Impl& m = *impl_;
    const size_t len = m.load(text, fn, "options");
    m.iterate(len, fn, "options");
    od::object o;
    od::json_type t;
    if (m.doc.type().get(t) || t != od::json_type::object || m.doc.get_object().get(o)) {
        const std::string got = json_describe(m.doc);
        raise(Code::InvalidArgument, "%s: options must be a JSON object, got %s", fn, got.c_str());
    }
    bool seen_key = false, seen_ts = false, seen_meta = false;
    for (auto field : o) {
        od::field f;
        std::string_view key;
        simdjson::error_code err = std::move(field).get(f);
        if (!err) err = f.unescaped_key().get(key);
        if (err) Impl::fail(err, fn, "options");
        od::value v = f.value();
        bool* seen = key == "idempotency_key" ? &seen_key
                     : key == "timestamp"     ? &seen_ts
                     : key == "metadata"      ? &seen_meta
                                              : nullptr;
        const std::string k(key);
        if (!seen) raise(Code::InvalidArgument, "%s: unknown option %Q", fn, k.c_str());
        if (*seen) {
            raise(Code::InvalidArgument, "%s: option %Q is given more than once", fn, k.c_str());
        }
        *seen = true;
        if (v.type().get(t)) Impl::fail(simdjson::TAPE_ERROR, fn, "options");
        if (t == od::json_type::null) continue;  // an explicit null is the same as absent
        const std::string got = json_describe(v);
        if (key == "idempotency_key") {
            std::string_view s;
            if (t != od::json_type::string || v.get_string().get(s) || s.empty() ||
                std::memchr(s.data(), 0, s.size()) != nullptr) {
                raise(Code::InvalidArgument,
                      "%s: option idempotency_key must be a non-empty string "
                      "without NUL bytes, got %s",
                      fn, got.c_str());
            }
            if (s.size() > static_cast<size_t>(kMaxBytes)) {
                raise(Code::TooBig, "%s: option idempotency_key is %lld bytes, maximum %d", fn,
                      static_cast<long long>(s.size()), kMaxBytes);
            }
            out.has_idempotency_key = true;
            out.idempotency_key.assign(s);
        } else if (key == "timestamp") {
            int64_t ts = 0;
            if (t != od::json_type::number || v.get_int64().get(ts) || ts < 0) {
                raise(Code::InvalidArgument,
                      "%s: option timestamp must be an integer >= 0 "
                      "(microseconds since the epoch), got %s",
                      fn, got.c_str());
            }
            out.has_timestamp = true;
            out.timestamp = ts;
        } else {
            simdjson::error_code e = simdjson::SUCCESS;
            if (t != od::json_type::object) {
                raise(Code::InvalidArgument, "%s: option metadata must be a JSON object, got %s",
                      fn, got.c_str());
            }
            if (!read_members(v, out.metadata, e)) Impl::fail(e, fn, "options");
            out.has_metadata = true;
        }
    }
}

void JsonScratch::parse_events(std::string_view text, std::vector<EventIn>& out, const char* fn) {
    Impl& m = *impl_;
    out.clear();
    const size_t len = m.load(text, fn, "events");
    m.iterate(len, fn, "events");
    od::json_type t;
    if (auto err = m.doc.type().get(t)) Impl::fail(err, fn, "events");
    if (t == od::json_type::object) {  // a lone object is a batch of one
        od::value v;
        if (auto err = m.doc.get_value().get(v)) Impl::fail(err, fn, "events");
        out.emplace_back();
        parse_event(v, 0, out.back(), fn);
        return;
    }
    if (t != od::json_type::array) {
        const std::string got = json_describe(m.doc);
        raise(Code::InvalidArgument,
              "%s: events must be a JSON array of event objects or one event "
              "object, got %s",
              fn, got.c_str());
    }
    od::array a;
    if (auto err = m.doc.get_array().get(a)) Impl::fail(err, fn, "events");
    size_t index = 0;
    for (auto el : a) {
        od::value v;
        if (auto err = el.get(v)) Impl::fail(err, fn, "events");
        out.emplace_back();
        parse_event(v, index++, out.back(), fn);
    }
}

void JsonScratch::validate(std::string_view text, const char* fn, const char* what) {
    impl_->load(text, fn, what);
}

void check_event_name(std::string_view s, const char* fn, size_t index, const char* key) {
    const auto i = static_cast<long long>(index);
    if (s.empty()) {
        raise(Code::InvalidArgument, "%s: events[%lld].%s must be a non-empty string, got \"\"", fn,
              i, key);
    }
    if (std::memchr(s.data(), 0, s.size()) != nullptr) {
        raise(Code::InvalidArgument, "%s: events[%lld].%s must not contain NUL bytes", fn, i, key);
    }
    if (s.size() > static_cast<size_t>(kMaxBytes)) {
        raise(Code::TooBig, "%s: events[%lld].%s is %lld bytes, maximum %d", fn, i, key,
              static_cast<long long>(s.size()), kMaxBytes);
    }
}

void JsonScratch::parse_metadata(std::string_view text, std::vector<MetaMember>& out,
                                 const char* fn, size_t index) {
    Impl& m = *impl_;
    const std::string what = format("events[%lld].metadata", static_cast<long long>(index));
    const size_t len = m.load(text, fn, what.c_str());
    m.iterate(len, fn, what.c_str());
    od::value v;
    od::json_type t;
    if (m.doc.type().get(t) || t != od::json_type::object || m.doc.get_value().get(v)) {
        const std::string got = json_describe(m.doc);
        raise(Code::InvalidArgument, "%s: %s must be a JSON object, got %s", fn, what.c_str(),
              got.c_str());
    }
    simdjson::error_code e = simdjson::SUCCESS;
    if (!read_members(v, out, e)) Impl::fail(e, fn, what.c_str());
}

void json_quote(std::string_view s, std::string& out) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    for (unsigned char ch : s) {
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (ch < 0x20) {
                    out += "\\u00";
                    out.push_back(kHex[ch >> 4]);
                    out.push_back(kHex[ch & 15]);
                } else {
                    out.push_back(static_cast<char>(ch));
                }
        }
    }
    out.push_back('"');
}

bool merge_metadata(const EventIn& ev, const AppendOptions& opts, std::string& out) {
    out.clear();
    if (!ev.has_metadata && !opts.has_metadata) return false;
    out.push_back('{');
    bool first = true;
    auto emit = [&](const std::string& key, const std::string& value) {
        if (!first) out.push_back(',');
        first = false;
        json_quote(key, out);
        out.push_back(':');
        out += value;
    };
    auto find = [](const std::vector<MetaMember>& v, const std::string& key) -> const MetaMember* {
        for (const auto& m : v) {
            if (m.key == key) return &m;
        }
        return nullptr;
    };
    if (opts.has_metadata) {
        for (const auto& m : opts.metadata) {
            const MetaMember* own = ev.has_metadata ? find(ev.metadata, m.key) : nullptr;
            emit(m.key, own ? own->value : m.value);
        }
    }
    if (ev.has_metadata) {
        for (const auto& m : ev.metadata) {
            if (!opts.has_metadata || !find(opts.metadata, m.key)) emit(m.key, m.value);
        }
    }
    out.push_back('}');
    return true;
}

}  // namespace eskit::ext
