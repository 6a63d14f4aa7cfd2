#include "json.hpp"

#include <cstdio>

namespace eskit::cluster::json {

namespace {

// A cursor over one JSON text; every parse_* returns false on malformed input.
struct Cursor {
    std::string_view s;
    size_t i = 0;

    void ws() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    }
    bool eat(char c) {
        ws();
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    }

    static void utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xc0 | cp >> 6);
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xe0 | cp >> 12);
            out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else {
            out += static_cast<char>(0xf0 | cp >> 18);
            out += static_cast<char>(0x80 | (cp >> 12 & 0x3f));
            out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        }
    }

    bool hex4(unsigned& v) {
        if (i + 4 > s.size()) return false;
        v = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = s[i++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= static_cast<unsigned>(c - 'A' + 10);
            else
                return false;
        }
        return true;
    }

    bool parse_string(std::string& out) {
        if (!eat('"')) return false;
        while (i < s.size()) {
            const char c = s[i++];
            if (c == '"') return true;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i >= s.size()) return false;
            const char e = s[i++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    unsigned cp;
                    if (!hex4(cp)) return false;
                    if (cp >= 0xd800 && cp < 0xdc00 && s.substr(i, 2) == "\\u") {
                        i += 2;
                        unsigned lo;
                        if (!hex4(lo)) return false;
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    }
                    utf8(out, cp);
                    break;
                }
                default: return false;
            }
        }
        return false;
    }

    // Skips any value (string, number, literal, object, array).
    bool skip_value() {
        ws();
        if (i >= s.size()) return false;
        if (s[i] == '"') {
            std::string ignored;
            return parse_string(ignored);
        }
        if (s[i] == '{' || s[i] == '[') {
            int depth = 0;
            while (i < s.size()) {
                const char c = s[i];
                if (c == '"') {
                    std::string ignored;
                    if (!parse_string(ignored)) return false;
                    continue;
                }
                ++i;
                if (c == '{' || c == '[') ++depth;
                if (c == '}' || c == ']') {
                    if (--depth == 0) return true;
                }
            }
            return false;
        }
        while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
        return true;
    }

    // Positions the cursor at the value of key in the top-level object.
    bool find(std::string_view key) {
        i = 0;
        if (!eat('{')) return false;
        if (eat('}')) return false;
        for (;;) {
            std::string k;
            if (!parse_string(k) || !eat(':')) return false;
            ws();
            if (k == key) return true;
            if (!skip_value()) return false;
            if (!eat(',')) return false;
        }
    }
};

}  // namespace

void quote(std::string& out, std::string_view s) {
    out += '"';
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += ch;
        }
    }
    out += '"';
}

std::optional<std::string> string_field(std::string_view object, std::string_view key) {
    Cursor c{object};
    if (!c.find(key)) return std::nullopt;
    std::string out;
    if (!c.parse_string(out)) return std::nullopt;
    return out;
}

std::optional<std::int64_t> int_field(std::string_view object, std::string_view key) {
    Cursor c{object};
    if (!c.find(key)) return std::nullopt;
    size_t start = c.i;
    if (c.i < object.size() && object[c.i] == '-') ++c.i;
    size_t digits = c.i;
    while (c.i < object.size() && object[c.i] >= '0' && object[c.i] <= '9') ++c.i;
    if (c.i == digits) return std::nullopt;
    try {
        return std::stoll(std::string(object.substr(start, c.i - start)));
    } catch (...) {
        return std::nullopt;
    }
}

}  // namespace eskit::cluster::json
