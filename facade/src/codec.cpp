// eskit::Codec's shared entry points and eskit::CodecRegistry.
#include <eskit/codec.hpp>

#include <algorithm>

namespace eskit {

void Codec::encode_with(std::string& out, FunctionRef<void(Writer&)> produce) const {
    out.clear();
    try {
        do_encode(out, produce);
    } catch (CodecError& e) {
        out.clear();
        e.set_codec(name());
        throw;
    }
}

void Codec::decode_with(std::string_view bytes, FunctionRef<void(Reader&)> consume) const {
    try {
        do_decode(bytes, consume);
    } catch (CodecError& e) {
        e.set_codec(name());
        throw;
    }
}

void Codec::encode(const Value& v, std::string& out) const {
    encode_with(out, [&](Writer& w) { detail::write_value(w, v); });
}

std::string Codec::encode(const Value& v) const {
    std::string out;
    encode(v, out);
    return out;
}

Value Codec::decode(std::string_view bytes) const {
    Value v;
    decode_with(bytes, [&](Reader& r) { deserialize(r, v); });
    return v;
}

namespace {

// Shipped codecs have static lifetime: shared_ptrs that own nothing.
std::shared_ptr<const Codec> unowned(const Codec& c) {
    return std::shared_ptr<const Codec>(std::shared_ptr<const Codec>(), &c);
}

}  // namespace

CodecRegistry::CodecRegistry() {
    codecs_.push_back(unowned(json_codec()));
    codecs_.push_back(unowned(cbor_codec()));
}

CodecRegistry CodecRegistry::empty() { return CodecRegistry(NoDefaults{}); }

void CodecRegistry::add(std::shared_ptr<const Codec> codec) {
    if (!codec) throw CodecError("cannot register a null codec");
    const std::string_view n = codec->name();
    if (n.empty() || n.size() > 1024 || n.find('\0') != std::string_view::npos)
        throw CodecError("invalid codec name '" + std::string(n) +
                         "': 1 to 1024 bytes without NUL");
    if (find(n)) throw CodecError("codec '" + std::string(n) + "' is already registered");
    codecs_.push_back(std::move(codec));
}

const Codec* CodecRegistry::find(std::string_view name) const noexcept {
    for (const auto& c : codecs_)
        if (c->name() == name) return c.get();
    return nullptr;
}

const Codec& CodecRegistry::get(std::string_view name) const {
    if (const Codec* c = find(name)) return *c;
    std::string m = "unknown codec '" + std::string(name) + "' (registered: ";
    const auto all = names();
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (i) m += ", ";
        m += all[i];
    }
    if (all.empty()) m += "none";
    m += ")";
    throw CodecError(std::move(m));
}

std::vector<std::string> CodecRegistry::names() const {
    std::vector<std::string> out;
    out.reserve(codecs_.size());
    for (const auto& c : codecs_) out.emplace_back(c->name());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace eskit
