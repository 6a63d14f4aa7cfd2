// Codecs (name <-> bytes of an event payload) and the codec registry.
//
//     std::string bytes = eskit::encode(eskit::json_codec(), order);        // any described type
//     auto back = eskit::decode<OrderPlaced>(eskit::cbor_codec(), blob);
//     eskit::Value v = registry.get(stored_codec).decode(bytes);            // dynamic
//
// Shipped: `json` (text, stored as SQLite TEXT; the default) and `cbor` (RFC 8949, binary,
// stored as BLOB). A codec is stateless and safe to use from any number of threads. A user codec
// derives from Codec and implements a Writer and a Reader (<eskit/wire.hpp>); every described
// type then works with it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <eskit/fields.hpp>
#include <eskit/value.hpp>
#include <eskit/wire.hpp>

namespace eskit {

class Codec {
  public:
    virtual ~Codec() = default;

    // The name stored with each event ("json", "cbor"): 1 to 1024 bytes, no NUL.
    virtual std::string_view name() const noexcept = 0;
    // True if the bytes are UTF-8 text (stored as TEXT), false for binary (BLOB).
    virtual bool is_text() const noexcept = 0;

    // Replaces `out` with the bytes `produce` writes through this codec's Writer (exactly one
    // value). Errors are CodecErrors naming this codec; `out` is then empty.
    void encode_with(std::string& out, FunctionRef<void(Writer&)> produce) const;
    // Runs `consume` on a Reader over `bytes`; the input must hold exactly one value.
    void decode_with(std::string_view bytes, FunctionRef<void(Reader&)> consume) const;

    void encode(const Value& v, std::string& out) const;
    std::string encode(const Value& v) const;
    Value decode(std::string_view bytes) const;

  protected:
    Codec() = default;
    Codec(const Codec&) = default;
    Codec& operator=(const Codec&) = default;

    // Implementations: create the Writer over `out` (empty on entry), call produce(writer), then
    // check that one complete value was written.
    virtual void do_encode(std::string& out, FunctionRef<void(Writer&)> produce) const = 0;
    // Create the Reader over `bytes`, call consume(reader), then reject trailing input.
    virtual void do_decode(std::string_view bytes, FunctionRef<void(Reader&)> consume) const = 0;
};

// The shipped codecs (static lifetime).
const Codec& json_codec() noexcept;
const Codec& cbor_codec() noexcept;

// Typed fast path: no eskit::Value in between.
template <class T>
void encode(const Codec& codec, const T& v, std::string& out) {
    if constexpr (std::is_same_v<T, Value>) {
        codec.encode(v, out);
    } else {
        codec.encode_with(out, [&](Writer& w) { serialize(w, v); });
    }
}
template <class T>
std::string encode(const Codec& codec, const T& v) {
    std::string out;
    encode(codec, v, out);
    return out;
}
// Decodes into `out`: fields missing from the input keep their current values (their defaults
// in a fresh object). On error `out` may be partly assigned.
template <class T>
void decode(const Codec& codec, std::string_view bytes, T& out) {
    codec.decode_with(bytes, [&](Reader& r) { deserialize(r, out); });
}
template <class T>
T decode(const Codec& codec, std::string_view bytes) {
    T out{};
    decode(codec, bytes, out);
    return out;
}

// Name -> codec. Starts with json and cbor. Lookups are const and may run concurrently; add()
// is meant for setup, before the registry is shared between threads.
class CodecRegistry {
  public:
    CodecRegistry();               // json and cbor
    static CodecRegistry empty();  // none

    // Throws CodecError if the name is invalid or already registered.
    void add(std::shared_ptr<const Codec> codec);
    // Throws CodecError "unknown codec 'x' (registered: cbor, json)".
    const Codec& get(std::string_view name) const;
    const Codec* find(std::string_view name) const noexcept;
    std::vector<std::string> names() const;  // sorted

  private:
    struct NoDefaults {};
    explicit CodecRegistry(NoDefaults) {}
    std::vector<std::shared_ptr<const Codec>> codecs_;  // a handful: a linear scan is fastest
};

}  // namespace eskit
