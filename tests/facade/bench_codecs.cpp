// Micro-benchmark of the codec layer (not a test; built by meson, run by hand):
//     build/tests/facade/bench_codecs [--seconds S]
//     build/tests/facade/bench_codecs --run ROW COUNT   # one row (0-based), for callgrind
// Decodes and encodes the order payload below into a struct, typed through eskit's codecs and
// by hand-written simdjson On-Demand code (the reference for the typed JSON decode), plus CBOR
// and, when libcbor-dev is installed, libcbor for comparison. Rows print the median over
// interleaved rounds of the thread's CPU time per operation.
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <eskit/codec.hpp>

#if ESKIT_BENCH_LIBCBOR
#include <cbor.h>
#endif

namespace bench {

struct Item {
    std::string sku;
    int qty = 0;
    double price = 0;
};
ESKIT_FIELDS(Item, sku, qty, price);

struct Order {
    std::string order_id;
    std::string customer;
    std::vector<Item> items;
    std::optional<std::string> note;
};
ESKIT_FIELDS(Order, (order_id, "orderId"), customer, items, note);

}  // namespace bench

namespace {

const std::string kPayload =
    R"({"orderId":"ord-000123","customer":"cust-42","items":[{"sku":"A-1","qty":2,"price":19.99},{"sku":"B-7","qty":1,"price":5.5}],"note":"leave at door"})";

template <class T>
inline void keep(T const& v) {
    asm volatile("" : : "g"(&v) : "memory");
}

double g_seconds = 0.2;
constexpr int kRounds = 7;

double cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// One round: CPU time of this thread (not wall time: the machine may be shared) per call.
double round_ns(const std::function<void()>& f) {
    std::size_t n = 0;
    const double start = cpu_ns();
    double now = start;
    do {
        for (int i = 0; i < 256; ++i) f();
        n += 256;
        now = cpu_ns();
    } while (now - start < g_seconds * 1e9);
    return (now - start) / static_cast<double>(n);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// --- the hand-written simdjson decoders ----------------------------------------------------

namespace od = simdjson::ondemand;

struct HandDecoder {
    od::parser parser;
    std::vector<char> buf;

    od::document load(std::string_view in) {
        const std::size_t need = in.size() + simdjson::SIMDJSON_PADDING;
        if (buf.size() < need) buf.resize(need);
        std::memcpy(buf.data(), in.data(), in.size());
        std::memset(buf.data() + in.size(), 0, simdjson::SIMDJSON_PADDING);
        od::document doc;
        if (parser.iterate(buf.data(), in.size(), buf.size()).get(doc)) std::abort();
        return doc;
    }

    // Field loop: any key order, unknown keys skipped (the semantics of eskit's decode).
    void decode_loop(std::string_view in, bench::Order& o) {
        od::document doc = load(in);
        od::object obj;
        if (doc.get_object().get(obj)) std::abort();
        for (auto field : obj) {
            std::string_view key;
            if (field.unescaped_key().get(key)) std::abort();
            od::value v = field.value();
            std::string_view s;
            if (key == "orderId") {
                if (v.get_string().get(s)) std::abort();
                o.order_id.assign(s);
            } else if (key == "customer") {
                if (v.get_string().get(s)) std::abort();
                o.customer.assign(s);
            } else if (key == "items") {
                o.items.clear();
                od::array arr;
                if (v.get_array().get(arr)) std::abort();
                for (auto e : arr) {
                    od::object io;
                    if (e.get_object().get(io)) std::abort();
                    bench::Item& it = o.items.emplace_back();
                    for (auto f : io) {
                        std::string_view k;
                        if (f.unescaped_key().get(k)) std::abort();
                        od::value iv = f.value();
                        if (k == "sku") {
                            if (iv.get_string().get(s)) std::abort();
                            it.sku.assign(s);
                        } else if (k == "qty") {
                            int64_t q;
                            if (iv.get_int64().get(q)) std::abort();
                            it.qty = static_cast<int>(q);
                        } else if (k == "price") {
                            if (iv.get_double().get(it.price)) std::abort();
                        }
                    }
                }
            } else if (key == "note") {
                if (v.get_string().get(s)) std::abort();
                o.note = s;
            }
        }
    }

    // Lookups by name in the expected order (the shortest code a user would write).
    void decode_lookup(std::string_view in, bench::Order& o) {
        od::document doc = load(in);
        std::string_view s;
        if (doc["orderId"].get_string().get(s)) std::abort();
        o.order_id.assign(s);
        if (doc["customer"].get_string().get(s)) std::abort();
        o.customer.assign(s);
        o.items.clear();
        od::array arr;
        if (doc["items"].get_array().get(arr)) std::abort();
        for (auto e : arr) {
            bench::Item& it = o.items.emplace_back();
            if (e["sku"].get_string().get(s)) std::abort();
            it.sku.assign(s);
            int64_t q;
            if (e["qty"].get_int64().get(q)) std::abort();
            it.qty = static_cast<int>(q);
            if (e["price"].get_double().get(it.price)) std::abort();
        }
        if (doc["note"].get_string().get(s)) std::abort();
        o.note = s;
    }
};

// A hand-written JSON encoder of the same struct (escapes, shortest doubles).
void quote(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            out += b;
        } else {
            out += c;
        }
    }
    out += '"';
}
void hand_encode(const bench::Order& o, std::string& out) {
    out.clear();
    char buf[32];
    out += "{\"orderId\":";
    quote(out, o.order_id);
    out += ",\"customer\":";
    quote(out, o.customer);
    out += ",\"items\":[";
    for (std::size_t i = 0; i < o.items.size(); ++i) {
        if (i) out += ',';
        out += "{\"sku\":";
        quote(out, o.items[i].sku);
        out += ",\"qty\":";
        out.append(buf, std::to_chars(buf, buf + 32, o.items[i].qty).ptr);
        out += ",\"price\":";
        out.append(buf, std::to_chars(buf, buf + 32, o.items[i].price).ptr);
        out += '}';
    }
    out += ']';
    if (o.note) {
        out += ",\"note\":";
        quote(out, *o.note);
    }
    out += '}';
}

#if ESKIT_BENCH_LIBCBOR
void libcbor_decode(std::string_view in, bench::Order& o) {
    cbor_load_result res;
    cbor_item_t* root =
        cbor_load(reinterpret_cast<const unsigned char*>(in.data()), in.size(), &res);
    if (!root) std::abort();
    auto str = [](cbor_item_t* s) {
        return std::string_view(reinterpret_cast<const char*>(cbor_string_handle(s)),
                                cbor_string_length(s));
    };
    auto num = [](cbor_item_t* n) -> double {
        if (cbor_isa_float_ctrl(n)) return cbor_float_get_float(n);
        return static_cast<double>(cbor_get_int(n));
    };
    const std::size_t n = cbor_map_size(root);
    cbor_pair* pairs = cbor_map_handle(root);
    for (std::size_t i = 0; i < n; ++i) {
        const std::string_view k = str(pairs[i].key);
        cbor_item_t* v = pairs[i].value;
        if (k == "orderId") {
            o.order_id.assign(str(v));
        } else if (k == "customer") {
            o.customer.assign(str(v));
        } else if (k == "note") {
            o.note = str(v);
        } else if (k == "items") {
            o.items.clear();
            for (std::size_t j = 0; j < cbor_array_size(v); ++j) {
                cbor_item_t* e = cbor_array_handle(v)[j];
                bench::Item& it = o.items.emplace_back();
                cbor_pair* ip = cbor_map_handle(e);
                for (std::size_t m = 0; m < cbor_map_size(e); ++m) {
                    const std::string_view ik = str(ip[m].key);
                    if (ik == "sku") it.sku.assign(str(ip[m].value));
                    if (ik == "qty") it.qty = static_cast<int>(num(ip[m].value));
                    if (ik == "price") it.price = num(ip[m].value);
                }
            }
        }
    }
    cbor_decref(&root);
}

void libcbor_encode(const bench::Order& o, std::string& out) {
    auto text = [](const std::string& s) {
        return cbor_move(cbor_build_stringn(s.data(), s.size()));
    };
    cbor_item_t* root = cbor_new_definite_map(4);
    cbor_map_add(root, {cbor_move(cbor_build_string("orderId")), text(o.order_id)});
    cbor_map_add(root, {cbor_move(cbor_build_string("customer")), text(o.customer)});
    cbor_item_t* items = cbor_new_definite_array(o.items.size());
    for (const auto& it : o.items) {
        cbor_item_t* m = cbor_new_definite_map(3);
        cbor_map_add(m, {cbor_move(cbor_build_string("sku")), text(it.sku)});
        cbor_map_add(m, {cbor_move(cbor_build_string("qty")),
                         cbor_move(cbor_build_uint32(static_cast<uint32_t>(it.qty)))});
        cbor_map_add(
            m, {cbor_move(cbor_build_string("price")), cbor_move(cbor_build_float8(it.price))});
        cbor_array_push(items, cbor_move(m));
    }
    cbor_map_add(root, {cbor_move(cbor_build_string("items")), cbor_move(items)});
    if (o.note) cbor_map_add(root, {cbor_move(cbor_build_string("note")), text(*o.note)});
    unsigned char* buf = nullptr;
    size_t size = 0;
    const size_t len = cbor_serialize_alloc(root, &buf, &size);
    out.assign(reinterpret_cast<const char*>(buf), len);
    free(buf);
    cbor_decref(&root);
}
#endif

}  // namespace

int main(int argc, char** argv) {
    int only = -1;
    long count = 0;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--seconds") == 0) g_seconds = std::atof(argv[i + 1]);
        if (std::strcmp(argv[i], "--run") == 0) {  // --run ROW COUNT: for valgrind/perf
            only = std::atoi(argv[i + 1]);
            count = i + 2 < argc ? std::atol(argv[i + 2]) : 1;
        }
    }

    const eskit::Codec& json = eskit::json_codec();
    const eskit::Codec& cbor = eskit::cbor_codec();
    HandDecoder hand;
    bench::Order o;
    std::string out;

    // Sanity: every decoder reads the same thing.
    bench::Order a, b, c;
    eskit::decode(json, kPayload, a);
    hand.decode_loop(kPayload, b);
    hand.decode_lookup(kPayload, c);
    if (eskit::encode(json, a) != eskit::encode(json, b) ||
        eskit::encode(json, a) != eskit::encode(json, c)) {
        std::fprintf(stderr, "decoders disagree\n");
        return 1;
    }
    const std::string cbor_bytes = eskit::encode(cbor, a);

    struct Row {
        const char* name;
        std::function<void()> f;
    };
    const std::vector<Row> rows = {
        {"json typed decode (eskit, into a reused struct)",
         [&] {
             eskit::decode(json, kPayload, o);
             keep(o);
         }},
        {"json typed decode (eskit, fresh struct)",
         [&] {
             auto x = eskit::decode<bench::Order>(json, kPayload);
             keep(x);
         }},
        {"json hand-written simdjson, field loop",
         [&] {
             hand.decode_loop(kPayload, o);
             keep(o);
         }},
        {"json hand-written simdjson, lookups",
         [&] {
             hand.decode_lookup(kPayload, o);
             keep(o);
         }},
        {"json decode to eskit::Value",
         [&] {
             auto v = json.decode(kPayload);
             keep(v);
         }},
        {"json typed encode (eskit)",
         [&] {
             eskit::encode(json, a, out);
             keep(out);
         }},
        {"json hand-written encoder",
         [&] {
             hand_encode(a, out);
             keep(out);
         }},
        {"cbor typed decode (eskit, into a reused struct)",
         [&] {
             eskit::decode(cbor, cbor_bytes, o);
             keep(o);
         }},
        {"cbor decode to eskit::Value",
         [&] {
             auto v = cbor.decode(cbor_bytes);
             keep(v);
         }},
        {"cbor typed encode (eskit)",
         [&] {
             eskit::encode(cbor, a, out);
             keep(out);
         }},
#if ESKIT_BENCH_LIBCBOR
        {"cbor libcbor 0.8 cbor_load + walk",
         [&] {
             libcbor_decode(cbor_bytes, o);
             keep(o);
         }},
        {"cbor libcbor 0.8 build + serialize",
         [&] {
             libcbor_encode(a, out);
             keep(out);
         }},
#endif
    };
    if (only >= 0) {  // one row COUNT times, nothing printed: count instructions with
                      //   valgrind --tool=callgrind bench_codecs --run ROW N (minus N = 0)
        if (static_cast<std::size_t>(only) >= rows.size()) return 2;
        for (long i = 0; i < count; ++i) rows[static_cast<std::size_t>(only)].f();
        return 0;
    }
    std::printf(
        "payload: %zu bytes JSON, %zu bytes CBOR; %d interleaved rounds of %.2f s "
        "CPU time per row, median ns per call\n",
        kPayload.size(), cbor_bytes.size(), kRounds, g_seconds);
    for (const auto& r : rows)
        for (int i = 0; i < 2000; ++i) r.f();  // warm up
    // Rounds run the rows in turn, so a change of machine load hits every row alike; ratios
    // are taken within a round.
    std::vector<std::vector<double>> ns(rows.size());
    std::vector<double> ratio_loop, ratio_lookup, ratio_encode;
    for (int round = 0; round < kRounds; ++round) {
        for (std::size_t i = 0; i < rows.size(); ++i) ns[i].push_back(round_ns(rows[i].f));
        ratio_loop.push_back(ns[0].back() / ns[2].back());
        ratio_lookup.push_back(ns[0].back() / ns[3].back());
        ratio_encode.push_back(ns[5].back() / ns[6].back());
    }
    for (std::size_t i = 0; i < rows.size(); ++i)
        std::printf("  %-50s %8.1f ns\n", rows[i].name, median(ns[i]));
    std::printf("typed JSON decode / hand-written simdjson: %.2fx (field loop), %.2fx (lookups)\n",
                median(ratio_loop), median(ratio_lookup));
    std::printf("typed JSON encode / hand-written encoder: %.2fx\n", median(ratio_encode));
    return 0;
}
