// Compiled with -Werror and extra warnings (tests/facade/meson.build): the public headers must be
// clean in a consumer translation unit. The test suite calls headers_check_round_trip().
#include <eskit/codec.hpp>
#include <eskit/fields.hpp>
#include <eskit/value.hpp>
#include <eskit/wire.hpp>

#include <string>

namespace consumer {

struct Line {
    std::string sku;
    unsigned short qty = 0;
    float price = 0;
};
ESKIT_FIELDS(Line, sku, qty, price);

enum class State : unsigned char { Open, Closed };
ESKIT_ENUM(State, Open, (Closed, "closed"));

struct Order {
    std::string id;
    std::vector<Line> lines;
    std::optional<State> state;
    std::map<std::string, std::int8_t> tags;
    eskit::Bytes blob;
    eskit::Value extra;
};
ESKIT_FIELDS(Order, (id, "orderId"), lines, state, tags, blob, extra);

}  // namespace consumer

bool headers_check_round_trip() {
    consumer::Order o{"o-1",       {{"A", 2, 1.5f}},      consumer::State::Closed,
                      {{"x", -3}}, eskit::Bytes{1, 2, 3}, eskit::Value::object({{"k", 1}})};
    bool ok = true;
    for (const eskit::Codec* c : {&eskit::json_codec(), &eskit::cbor_codec()}) {
        const std::string bytes = eskit::encode(*c, o);
        const auto back = eskit::decode<consumer::Order>(*c, bytes);
        ok = ok && back.id == o.id && back.lines.size() == 1 && back.lines[0].qty == 2 &&
             back.state == o.state && back.tags == o.tags && back.blob == o.blob &&
             back.extra == o.extra;
        const eskit::Value v = eskit::to_value(o);
        ok = ok && eskit::from_value<consumer::Order>(v).id == "o-1";
    }
    return ok && eskit::type_name<consumer::Order>() == "Order";
}
