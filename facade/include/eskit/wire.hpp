// The wire interface between described C++ types and codecs.
//
// A codec implements a Writer (the encoder: a visitor that receives one value at a time) and a
// Reader (the decoder: a pull parser). The typed machinery of <eskit/fields.hpp> drives them, so
// every described type works with every codec, including user-defined ones. Errors travel as
// eskit::CodecError; the machinery adds the path (`items[2].qty`) and the codec's name on the
// way out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <eskit/error.hpp>

namespace eskit {

// Arrays and objects nest at most this deep, in every codec, when encoding and when decoding.
inline constexpr std::size_t max_depth = 128;

// The kind of a value on the wire (and of an eskit::Value). uint64 is used only for integers
// above INT64_MAX; every other integer is an int64.
enum class Kind : std::uint8_t {
    null,
    boolean,
    int64,
    uint64,
    float64,
    string,
    bytes,
    array,
    object
};

// "null", "a boolean", "an integer", "a floating-point number", "a string", "a byte string",
// "an array", "an object": the words error messages use.
std::string_view describe(Kind kind) noexcept;

// Raised by codecs, by the typed machinery and by eskit::Value's checked accessors.
// what() is "<codec>: <path>: <reason>", each part omitted when empty, e.g.
//     json: items[2].qty: expected an integer, got a string
class CodecError : public Error {
  public:
    explicit CodecError(std::string reason);

    const char* what() const noexcept override { return message_.c_str(); }
    const std::string& codec() const noexcept { return codec_; }
    const std::string& path() const noexcept { return path_; }  // "" at the top level
    const std::string& reason() const noexcept { return reason_; }

    // Used while the error propagates outwards (innermost segment first).
    void prepend_field(std::string_view name);  // a struct field or an object/map key
    void prepend_index(std::size_t index);      // an array element
    void set_codec(std::string_view name);      // kept if already set

  private:
    void rebuild();
    std::string codec_, path_, reason_, message_;
};

// One decoded scalar, or the header of an array/object (see Reader::read).
// Only the member of the kind read() returned is meaningful; the others are left unset
// (a Scalar is made for every value decoded).
struct Scalar {
    bool boolean;
    std::int64_t int64;
    std::uint64_t uint64;
    double float64;
    std::string_view string;    // Kind::string (UTF-8) and Kind::bytes (raw bytes); valid until
                                // the next call on the reader
    std::size_t size_hint = 0;  // Kind::array/object: the element count when known (a reader
                                // that sets it must have checked it against its input), else 0
};

// The encoder side. Sizes given to begin_array/begin_object are exact (CBOR writes them).
class Writer {
  public:
    virtual ~Writer() = default;
    virtual void null() = 0;
    virtual void boolean(bool v) = 0;
    virtual void int64(std::int64_t v) = 0;
    virtual void uint64(std::uint64_t v) = 0;
    virtual void float64(double v) = 0;
    virtual void string(std::string_view utf8) = 0;
    virtual void bytes(std::span<const std::byte> v) = 0;
    virtual void begin_array(std::size_t size) = 0;
    virtual void end_array() = 0;
    virtual void begin_object(std::size_t size) = 0;
    virtual void key(std::string_view utf8) = 0;  // before each member's value
    virtual void end_object() = 0;
    // True when keys must arrive in deterministic order (CBOR: shorter first, then bytewise);
    // producers then sort. False: declaration/insertion order.
    virtual bool sorted_keys() const noexcept { return false; }
};

// The decoder side, a pull parser positioned before the root value.
//  - read() reads the next value. A scalar is consumed and stored in `out`. For Kind::array and
//    Kind::object the reader enters the container: call next_element() / next_key() until they
//    return false; after each true, exactly one value (read or skip) follows.
//  - skip() consumes the next value whole, whatever it is.
// Strings and keys returned are valid until the next call on the reader.
class Reader {
  public:
    virtual ~Reader() = default;
    virtual Kind read(Scalar& out) = 0;
    // read() when the caller knows what it wants: `expected` is a hint that lets a codec try
    // that kind first (the typed machinery passes it). The result may still be any kind, and
    // the caller checks it; when float64 is expected, an integer may come back as float64.
    virtual Kind read_expecting(Scalar& out, Kind expected) {
        (void)expected;
        return read(out);
    }
    virtual bool next_element() = 0;
    virtual bool next_key(std::string_view& key) = 0;
    virtual void skip() = 0;

    // True when objects are expected in CBOR key order (shorter first, then bytewise) rather
    // than declaration order: the typed machinery then expects fields in that order. A hint.
    virtual bool sorted_keys() const noexcept { return false; }

    // Typed structs: next_key(), and when the key is `want`, also the value's read_expecting(
    // out, want_kind) in the same call -- one virtual call per field that arrives in the
    // expected order. Returns Step::end (no more keys), Step::key (key read, its value not
    // yet) or Step::value (key == want, value read: `kind` and `out` are set). The default
    // composes the calls above; codecs override it to save a call. `want` is a field name:
    // never empty, without '"', '\\' or control characters (ESKIT_FIELDS checks this).
    enum class Step : std::uint8_t { end, key, value };
    virtual Step next_member(std::string_view& key, std::string_view want, Kind want_kind,
                             Scalar& out, Kind& kind) {
        if (!next_key(key)) return Step::end;
        if (key != want) return Step::key;
        kind = read_expecting(out, want_kind);
        return Step::value;
    }
};

// A non-owning reference to a callable, for the typed paths of Codec (no allocation).
template <class Sig>
class FunctionRef;
template <class R, class... A>
class FunctionRef<R(A...)> {
  public:
    template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> &&
             std::is_invocable_r_v<R, F&, A...>) FunctionRef(F&& f)
    noexcept  // NOLINT: implicit on purpose
        : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
          call_([](void* o, A... a) -> R {
              return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<A>(a)...);
          }) {}
    R operator()(A... a) const { return call_(obj_, std::forward<A>(a)...); }

  private:
    void* obj_;
    R (*call_)(void*, A...);
};

namespace detail {
// Out-of-line error builders used by the header templates (keep messages in one place).
[[noreturn]] void throw_mismatch(std::string_view expected, Kind got);
[[noreturn]] void throw_int_range(std::int64_t min, std::uint64_t max, Kind got, const Scalar& s);
[[noreturn]] void throw_float_range(double got);
[[noreturn]] void throw_enum_name(std::span<const std::string_view> names, std::string_view got);
[[noreturn]] void throw_enum_value(std::string_view type, std::int64_t value);
[[noreturn]] void throw_depth();
void base64_encode(std::span<const std::byte> in, std::string& out);
bool base64_decode(std::string_view in, std::string& out);  // false: not base64
}  // namespace detail

}  // namespace eskit
