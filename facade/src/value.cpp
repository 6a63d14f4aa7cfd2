// eskit::Value, and Value as the source or target of the wire interface.
#include <eskit/fields.hpp>
#include <eskit/value.hpp>

#include <algorithm>
#include <cstring>

namespace eskit {

Bytes::Bytes(std::string_view chars) {
    const auto* p = reinterpret_cast<const std::byte*>(chars.data());
    data_.assign(p, p + chars.size());
}

Bytes::Bytes(std::initializer_list<std::uint8_t> b) {
    data_.reserve(b.size());
    for (auto x : b) data_.push_back(static_cast<std::byte>(x));
}

Value Value::array(std::initializer_list<Value> items) { return Value(Array(items)); }
Value Value::object(std::initializer_list<Member> members) { return Value(Object(members)); }

bool Value::as_bool() const {
    if (auto* b = get_if<bool>()) return *b;
    detail::throw_mismatch("a boolean", kind());
}

std::int64_t Value::as_int64() const {
    if (auto* i = get_if<std::int64_t>()) return *i;
    if (is_integer()) {
        Scalar s;
        s.uint64 = std::get<std::uint64_t>(v_);
        detail::throw_int_range(INT64_MIN, INT64_MAX, Kind::uint64, s);
    }
    detail::throw_mismatch("an integer", kind());
}

std::uint64_t Value::as_uint64() const {
    if (auto* u = get_if<std::uint64_t>()) return *u;
    if (auto* i = get_if<std::int64_t>()) {
        if (*i >= 0) return static_cast<std::uint64_t>(*i);
        Scalar s;
        s.int64 = *i;
        detail::throw_int_range(0, UINT64_MAX, Kind::int64, s);
    }
    detail::throw_mismatch("an integer", kind());
}

double Value::as_double() const {
    if (auto* d = get_if<double>()) return *d;
    if (auto* i = get_if<std::int64_t>()) return static_cast<double>(*i);
    if (auto* u = get_if<std::uint64_t>()) return static_cast<double>(*u);
    detail::throw_mismatch("a number", kind());
}

#define ESKIT_VALUE_AS(T, name, what)         \
    const T& Value::name() const {            \
        if (auto* p = get_if<T>()) return *p; \
        detail::throw_mismatch(what, kind()); \
    }                                         \
    T& Value::name() {                        \
        if (auto* p = get_if<T>()) return *p; \
        detail::throw_mismatch(what, kind()); \
    }
ESKIT_VALUE_AS(std::string, as_string, "a string")
ESKIT_VALUE_AS(Bytes, as_bytes, "a byte string")
ESKIT_VALUE_AS(Value::Array, as_array, "an array")
ESKIT_VALUE_AS(Value::Object, as_object, "an object")
#undef ESKIT_VALUE_AS

Value* Value::find(std::string_view key) noexcept {
    if (auto* o = get_if<Object>())
        for (auto& m : *o)
            if (m.key == key) return &m.value;
    return nullptr;
}

const Value* Value::find(std::string_view key) const noexcept {
    return const_cast<Value*>(this)->find(key);
}

const Value& Value::at(std::string_view key) const { return const_cast<Value*>(this)->at(key); }

Value& Value::at(std::string_view key) {
    auto& o = as_object();
    for (auto& m : o)
        if (m.key == key) return m.value;
    throw CodecError("no member '" + std::string(key) + "'");
}

Value& Value::operator[](std::string_view key) {
    if (is_null()) v_ = Object{};
    auto& o = as_object();
    for (auto& m : o)
        if (m.key == key) return m.value;
    return o.emplace_back(Member{std::string(key), Value{}}).value;
}

Value& Value::set(std::string_view key, Value v) {
    Value& slot = (*this)[key];
    slot = std::move(v);
    return slot;
}

bool Value::erase(std::string_view key) {
    auto* o = get_if<Object>();
    if (!o) return false;
    auto it = std::find_if(o->begin(), o->end(), [&](const Member& m) { return m.key == key; });
    if (it == o->end()) return false;
    o->erase(it);
    return true;
}

bool Value::rename(std::string_view from, std::string_view to) {
    auto* o = get_if<Object>();
    if (!o) return false;
    auto it = std::find_if(o->begin(), o->end(), [&](const Member& m) { return m.key == from; });
    if (it == o->end()) return false;
    if (from == to) return true;
    std::string target(to);
    const auto pos = it - o->begin();
    auto dup = std::find_if(o->begin(), o->end(), [&](const Member& m) { return m.key == target; });
    if (dup != o->end()) {
        const auto dpos = dup - o->begin();
        o->erase(dup);
        it = o->begin() + (dpos < pos ? pos - 1 : pos);
    }
    it->key = std::move(target);
    return true;
}

std::size_t Value::size() const noexcept {
    if (auto* a = get_if<Array>()) return a->size();
    if (auto* o = get_if<Object>()) return o->size();
    return 0;
}

const Value& Value::at(std::size_t index) const { return const_cast<Value*>(this)->at(index); }

Value& Value::at(std::size_t index) {
    auto& a = as_array();
    if (index >= a.size())
        throw CodecError("index " + std::to_string(index) + " out of range (size " +
                         std::to_string(a.size()) + ")");
    return a[index];
}

Value& Value::push_back(Value v) {
    if (is_null()) v_ = Array{};
    return as_array().emplace_back(std::move(v));
}

bool operator==(const Value& a, const Value& b) noexcept { return a.v_ == b.v_; }

namespace detail {

void sort_keys(std::span<const std::string_view> keys, std::span<std::size_t> order, bool cbor) {
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (cbor) {
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return cbor_key_less(keys[a], keys[b]);
        });
    } else {  // std::string_view compares bytes as unsigned char
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t a, std::size_t b) { return keys[a] < keys[b]; });
    }
}

void write_value(Writer& w, const Value& v) {
    switch (v.kind()) {
        case Kind::null: return w.null();
        case Kind::boolean: return w.boolean(*v.get_if<bool>());
        case Kind::int64: return w.int64(*v.get_if<std::int64_t>());
        case Kind::uint64: return w.uint64(*v.get_if<std::uint64_t>());
        case Kind::float64: return w.float64(*v.get_if<double>());
        case Kind::string: return w.string(*v.get_if<std::string>());
        case Kind::bytes: return w.bytes(v.get_if<Bytes>()->span());
        case Kind::array: {
            const auto& a = *v.get_if<Value::Array>();
            w.begin_array(a.size());
            for (std::size_t i = 0; i < a.size(); ++i) {
                try {
                    write_value(w, a[i]);
                } catch (CodecError& e) {
                    e.prepend_index(i);
                    throw;
                }
            }
            return w.end_array();
        }
        case Kind::object: {
            const auto& o = *v.get_if<Value::Object>();
            w.begin_object(o.size());
            auto one = [&](const Member& m) {
                w.key(m.key);
                try {
                    write_value(w, m.value);
                } catch (CodecError& e) {
                    e.prepend_field(m.key);
                    throw;
                }
            };
            if (w.sorted_keys() && o.size() > 1) {
                std::vector<std::string_view> keys;
                keys.reserve(o.size());
                for (const auto& m : o) keys.emplace_back(m.key);
                std::vector<std::size_t> order(o.size());
                sort_keys(keys, order, true);
                for (std::size_t i : order) one(o[i]);
            } else {
                for (const auto& m : o) one(m);
            }
            return w.end_object();
        }
    }
}

void read_value(Reader& r, Kind k, Scalar& s, Value& out) {
    switch (k) {
        case Kind::null: out = Value(); return;
        case Kind::boolean: out = Value(s.boolean); return;
        case Kind::int64: out = Value(s.int64); return;
        case Kind::uint64: out = Value(s.uint64); return;
        case Kind::float64: out = Value(s.float64); return;
        case Kind::string: out = Value(std::string(s.string)); return;
        case Kind::bytes: out = Value(Bytes(s.string)); return;
        case Kind::array: {
            Value::Array a;
            if (s.size_hint) a.reserve(s.size_hint);
            while (r.next_element()) {
                const std::size_t i = a.size();
                try {
                    Scalar es;
                    const Kind ek = r.read(es);
                    read_value(r, ek, es, a.emplace_back());
                } catch (CodecError& e) {
                    e.prepend_index(i);
                    throw;
                }
            }
            out = Value(std::move(a));
            return;
        }
        case Kind::object: {
            Value::Object o;
            if (s.size_hint) o.reserve(s.size_hint);
            std::string_view key;
            while (r.next_key(key)) {
                Member& m = o.emplace_back(Member{std::string(key), Value{}});
                try {
                    Scalar es;
                    const Kind ek = r.read(es);
                    read_value(r, ek, es, m.value);
                } catch (CodecError& e) {
                    e.prepend_field(m.key);
                    throw;
                }
            }
            out = Value(std::move(o));
            return;
        }
    }
}

namespace {

// Builds a Value from what a producer writes.
class ValueWriter final : public Writer {
  public:
    Value take() {
        if (!done_) throw CodecError("no complete value was written");
        return std::move(root_);
    }

    void null() override { put(Value()); }
    void boolean(bool v) override { put(Value(v)); }
    void int64(std::int64_t v) override { put(Value(v)); }
    void uint64(std::uint64_t v) override { put(Value(v)); }
    void float64(double v) override { put(Value(v)); }
    void string(std::string_view v) override { put(Value(std::string(v))); }
    void bytes(std::span<const std::byte> v) override { put(Value(Bytes(v))); }
    void begin_array(std::size_t size) override {
        Value& slot = put(Value(Value::Array{}));
        slot.as_array().reserve(size);
        open(slot);
    }
    void end_array() override { close(); }
    void begin_object(std::size_t size) override {
        Value& slot = put(Value(Value::Object{}));
        slot.as_object().reserve(size);
        open(slot);
    }
    void key(std::string_view k) override {
        if (stack_.empty() || !stack_.back()->is_object())
            throw CodecError("key outside an object");
        stack_.back()->as_object().push_back(Member{std::string(k), Value{}});
        key_ready_ = true;
    }
    void end_object() override { close(); }

  private:
    Value& put(Value v) {
        if (stack_.empty()) {
            if (done_) throw CodecError("more than one top-level value");
            root_ = std::move(v);
            done_ = true;
            return root_;
        }
        Value& top = *stack_.back();
        if (top.is_array()) return top.as_array().emplace_back(std::move(v));
        if (!key_ready_) throw CodecError("object member without a key");
        key_ready_ = false;
        Value& slot = top.as_object().back().value;
        slot = std::move(v);
        return slot;
    }
    void open(Value& v) {
        if (stack_.size() >= max_depth) throw_depth();
        stack_.push_back(&v);
    }
    void close() {
        if (stack_.empty()) throw CodecError("unbalanced end of array or object");
        stack_.pop_back();
    }

    Value root_;
    std::vector<Value*> stack_;
    bool done_ = false;
    bool key_ready_ = false;
};

// Reads a Value as if it were encoded input.
class ValueReader final : public Reader {
  public:
    explicit ValueReader(const Value& root) : next_(&root) {}

    bool finished() const noexcept { return next_ == nullptr && stack_.empty(); }

    Kind read(Scalar& s) override {
        const Value* v = take();
        const Kind k = v->kind();
        switch (k) {
            case Kind::null: break;
            case Kind::boolean: s.boolean = *v->get_if<bool>(); break;
            case Kind::int64: s.int64 = *v->get_if<std::int64_t>(); break;
            case Kind::uint64: s.uint64 = *v->get_if<std::uint64_t>(); break;
            case Kind::float64: s.float64 = *v->get_if<double>(); break;
            case Kind::string: s.string = *v->get_if<std::string>(); break;
            case Kind::bytes: s.string = v->get_if<Bytes>()->view(); break;
            case Kind::array:
            case Kind::object:
                if (stack_.size() >= max_depth) detail::throw_depth();
                s.size_hint = v->size();
                stack_.push_back(Frame{v, 0});
                break;
        }
        return k;
    }

    bool next_element() override {
        Frame& f = top(Kind::array);
        const auto& a = *f.container->get_if<Value::Array>();
        if (f.index == a.size()) {
            stack_.pop_back();
            return false;
        }
        next_ = &a[f.index++];
        return true;
    }

    bool next_key(std::string_view& key) override {
        Frame& f = top(Kind::object);
        const auto& o = *f.container->get_if<Value::Object>();
        if (f.index == o.size()) {
            stack_.pop_back();
            return false;
        }
        const Member& m = o[f.index++];
        key = m.key;
        next_ = &m.value;
        return true;
    }

    void skip() override { take(); }

  private:
    struct Frame {
        const Value* container;
        std::size_t index;
    };
    const Value* take() {
        if (!next_) throw CodecError("read past the end of the value");
        const Value* v = next_;
        next_ = nullptr;
        return v;
    }
    Frame& top(Kind k) {
        if (stack_.empty() || stack_.back().container->kind() != k || next_)
            throw CodecError("reader misuse: not inside an unread container");
        return stack_.back();
    }

    const Value* next_;
    std::vector<Frame> stack_;
};

}  // namespace

Value build_value(FunctionRef<void(Writer&)> produce) {
    ValueWriter w;
    produce(w);
    return w.take();
}

void read_from_value(const Value& v, FunctionRef<void(Reader&)> consume) {
    ValueReader r(v);
    consume(r);
    if (!r.finished()) throw CodecError("the value was not read completely");
}

}  // namespace detail
}  // namespace eskit
