#include "json_text.hpp"

namespace eskit::detail {

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

std::string append_options_json(const AppendCall& call) {
    if (!call.idempotency_key && !call.timestamp && !call.metadata) return {};
    std::string out = "{";
    auto sep = [&] {
        if (out.size() > 1) out.push_back(',');
    };
    if (call.idempotency_key) {
        out += "\"idempotency_key\":";
        json_quote(*call.idempotency_key, out);
    }
    if (call.timestamp) {
        sep();
        out += "\"timestamp\":" + std::to_string(*call.timestamp);
    }
    if (call.metadata) {
        sep();
        out += "\"metadata\":" + *call.metadata;  // a JSON object text; the extension checks it
    }
    out.push_back('}');
    return out;
}

}  // namespace eskit::detail
