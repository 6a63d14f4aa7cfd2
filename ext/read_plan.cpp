#include "read_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <stdexcept>

namespace eskit::ext {

const char* const kColumnNames[kVisibleColumns] = {
    "seq",   "stream_id",      "category", "version",         "type",      "data", "metadata",
    "codec", "schema_version", "event_id", "idempotency_key", "created_at"};

namespace {

const char* op_text(Op op) {
    switch (op) {
        case Op::Eq: return "=";
        case Op::Gt: return ">";
        case Op::Ge: return ">=";
        case Op::Lt: return "<";
        case Op::Le: return "<=";
        default: return nullptr;
    }
}

const char* key_name(int col) {
    switch (col) {
        case kStreamId: return "stream_id";
        case kCategory: return "category";
        case kType: return "type";
        case kEventId: return "event_id";
        default: return nullptr;
    }
}

// What the constraints of one query allow.
struct Usage {
    bool stream_arg = false, stream_arg_unusable = false;
    bool seq_eq = false, seq_range = false, version_eq = false;
    bool keys[kVisibleColumns] = {};  // key columns constrained by = / IN
    bool all_used = true;             // every WHERE term is evaluated by the cursor
    int limit = -1, offset = -1;
};

class Builder {
  public:
    Builder(const PlanInput& in, Plan& out) : in_(in), out_(out) {
        out_.argv.assign(in.constraints.size(), 0);
        out_.in_list.assign(in.constraints.size(), false);
    }

    // Returns false when a hidden argument is present but unusable (SQLITE_CONSTRAINT).
    bool take_constraints() {
        for (size_t i = 0; i < in_.constraints.size(); ++i) {
            const ConstraintIn& c = in_.constraints[i];
            if (c.op == Op::Limit || c.op == Op::Offset) {
                if (c.usable) (c.op == Op::Limit ? u_.limit : u_.offset) = static_cast<int>(i);
            } else if (c.column >= kArg0) {
                if (!take_hidden(i, c)) return false;
            } else if (!c.usable) {
                u_.all_used = false;
            } else if (c.column == kSeq || c.column == kVersion) {
                take_range(i, c);
            } else if (key_name(c.column)) {
                take_key(i, c);
            } else {
                u_.all_used = false;  // e.g. data LIKE ...: SQLite checks it, we must not cut short
            }
        }
        return true;
    }

    void finish() {
        const bool missing_stream = in_.is_stream && !u_.stream_arg;
        const bool order_ok = take_order();
        if (!in_.is_stream) {
            if (u_.keys[kEventId])
                out_.idx_num |= kByEventId;
            else if (u_.keys[kStreamId])
                out_.idx_num |= kByStream;
            else if (u_.keys[kCategory])
                out_.idx_num |= kByCategory;
            else if (u_.keys[kType])
                out_.idx_num |= kByType;
        }
        double rows = estimate_rows(missing_stream);
        // LIMIT/OFFSET only when the cursor alone decides which rows are returned and in
        // which order; otherwise SQLite would filter or sort after we stopped.
        if (u_.all_used && order_ok) {
            if (u_.limit >= 0) {
                take(static_cast<size_t>(u_.limit), "limit");
                rows = std::min(rows, 10.0);
            }
            if (u_.offset >= 0) take(static_cast<size_t>(u_.offset), "offset");
        }
        out_.rows = static_cast<int64_t>(rows);
        // es_all: every plan that uses a constraint costs more than half a full scan. SQLite
        // may answer `WHERE a OR b` with one plan per branch, concatenated, which breaks seq
        // order (and pages read with LIMIT would skip events); two such plans cost more than
        // one scan evaluating the OR, while one constraint still beats the scan.
        out_.cost = in_.is_stream || rows >= 1000000 ? rows : 600000 + rows;
        char cols[24];
        std::snprintf(cols, sizeof cols, "cols=%x",
                      static_cast<unsigned>(in_.col_used & kVisibleMask));
        if (!out_.idx_str.empty()) out_.idx_str += ' ';
        out_.idx_str += cols;
    }

  private:
    void take(size_t i, const std::string& token) {
        out_.argv[i] = ++argc_;
        if (!out_.idx_str.empty()) out_.idx_str += ' ';
        out_.idx_str += token;
    }

    bool take_hidden(size_t i, const ConstraintIn& c) {
        if (c.op != Op::Eq) return true;
        const bool stream_arg = in_.is_stream && c.column == kArg0;
        if (!c.usable) {
            // es_stream's stream argument may be missing from this call only because SQLite is
            // costing one branch of an OR: make the plan too dear to win rather than fail.
            if (stream_arg) {
                u_.stream_arg_unusable = true;
                return true;
            }
            return false;
        }
        if (stream_arg) {
            u_.stream_arg = true;
            take(i, "stream=");
        } else if (in_.is_stream) {
            take(i, "from=");
        } else {
            u_.seq_range = true;
            take(i, "after=");
        }
        return true;
    }

    void take_range(size_t i, const ConstraintIn& c) {
        const char* op = op_text(c.op);
        if (!op) {
            u_.all_used = false;
            return;
        }
        const bool eq = c.op == Op::Eq;
        if (c.column == kSeq) {
            u_.seq_eq |= eq;
            u_.seq_range = true;
        } else {
            u_.version_eq |= eq;
        }
        take(i, std::string(kColumnNames[c.column]) + op);
    }

    void take_key(size_t i, const ConstraintIn& c) {
        if (c.op != Op::Eq || !c.binary) {
            u_.all_used = false;
            return;
        }
        out_.in_list[i] = c.in_list;
        take(i, std::string(key_name(c.column)) + (c.in_list ? "IN" : "="));
        u_.keys[c.column] = true;
    }

    // ORDER BY seq (either table) or version (es_stream) in one direction is our order.
    bool take_order() {
        if (in_.order_by.empty()) return true;
        if (in_.order_by.size() > 1) return false;
        const auto [col, desc] = in_.order_by.front();
        if (col != kSeq && !(in_.is_stream && col == kVersion)) return false;
        if (desc) out_.idx_num |= kDesc;
        out_.order_consumed = true;
        return true;
    }

    double estimate_rows(bool missing_stream) const {
        if (missing_stream) return 1e12;
        if (in_.is_stream) return u_.version_eq || u_.seq_eq ? 1 : 1000;
        if (u_.seq_eq || u_.keys[kEventId]) return 1;
        if (u_.keys[kStreamId]) return 1000;
        if (u_.keys[kCategory] || u_.keys[kType]) return 10000;
        return u_.seq_range ? 100000 : 1000000;
    }

    const PlanInput& in_;
    Plan& out_;
    Usage u_;
    int argc_ = 0;

  public:
    bool stream_arg_unusable_only() const {
        return in_.is_stream && !u_.stream_arg && u_.stream_arg_unusable;
    }
};

}  // namespace

Plan plan(const PlanInput& in) {
    Plan out;
    Builder b(in, out);
    if (!b.take_constraints() || b.stream_arg_unusable_only()) {
        out.usable = false;
        return out;
    }
    b.finish();
    return out;
}

ParsedPlan parse_plan(std::string_view s) {
    ParsedPlan p;
    while (!s.empty()) {
        const size_t end = s.find(' ');
        const std::string_view tok = s.substr(0, end);
        s = end == std::string_view::npos ? std::string_view() : s.substr(end + 1);
        if (tok.rfind("cols=", 0) == 0) {
            p.columns = static_cast<uint32_t>(
                            std::strtoul(std::string(tok.substr(5)).c_str(), nullptr, 16)) &
                        kVisibleMask;
            continue;
        }
        Token t{Token::Kind::Limit};
        auto op_after = [&](std::string_view name) {
            const std::string_view rest = tok.substr(name.size());
            if (rest == "=") return Op::Eq;
            if (rest == ">") return Op::Gt;
            if (rest == ">=") return Op::Ge;
            if (rest == "<") return Op::Lt;
            if (rest == "<=") return Op::Le;
            throw std::invalid_argument("bad plan token");
        };
        auto key = [&](std::string_view name, Token::Kind kind) {
            if (tok.substr(0, name.size()) != name) return false;
            t.kind = kind;
            t.in_list = tok.substr(name.size()) == "IN";
            if (!t.in_list && tok.substr(name.size()) != "=") return false;
            return true;
        };
        if (tok == "stream=")
            t.kind = Token::Kind::StreamArg;
        else if (tok == "from=")
            t.kind = Token::Kind::FromArg;
        else if (tok == "after=")
            t.kind = Token::Kind::AfterArg;
        else if (tok == "limit")
            t.kind = Token::Kind::Limit;
        else if (tok == "offset")
            t.kind = Token::Kind::Offset;
        else if (tok.rfind("seq", 0) == 0)
            t = Token{Token::Kind::Seq, op_after("seq")};
        else if (tok.rfind("version", 0) == 0)
            t = Token{Token::Kind::Version, op_after("version")};
        else if (!key("stream_id", Token::Kind::StreamId) &&
                 !key("category", Token::Kind::Category) && !key("type", Token::Kind::Type) &&
                 !key("event_id", Token::Kind::EventId)) {
            throw std::invalid_argument("bad plan token");
        }
        p.tokens.push_back(t);
    }
    return p;
}

void Range::apply_int(Op op, int64_t x) {
    switch (op) {
        case Op::Eq:
            lo = std::max(lo, x);
            hi = std::min(hi, x);
            break;
        case Op::Gt:
            if (x == kMax)
                empty = true;
            else
                lo = std::max(lo, x + 1);
            break;
        case Op::Ge: lo = std::max(lo, x); break;
        case Op::Lt:
            if (x == kMin)
                empty = true;
            else
                hi = std::min(hi, x - 1);
            break;
        case Op::Le: hi = std::min(hi, x); break;
        default: break;
    }
    if (lo > hi) empty = true;
}

void Range::apply_real(Op op, double d) {
    // A real bound on an integer column: seq > 5.5 is seq >= 6, seq <= 5.5 is seq <= 5.
    if (std::isnan(d)) {
        empty = true;
        return;
    }
    auto to_int = [](double x) -> int64_t {
        if (x <= -9.2e18) return kMin;
        if (x >= 9.2e18) return kMax;
        return static_cast<int64_t>(x);
    };
    switch (op) {
        case Op::Eq:
            if (std::floor(d) != d) empty = true;
            apply_int(Op::Eq, to_int(d));
            break;
        case Op::Gt: apply_int(Op::Ge, to_int(std::floor(d) + 1)); break;
        case Op::Ge: apply_int(Op::Ge, to_int(std::ceil(d))); break;
        case Op::Lt: apply_int(Op::Le, to_int(std::ceil(d) - 1)); break;
        case Op::Le: apply_int(Op::Le, to_int(std::floor(d))); break;
        default: break;
    }
}

void Range::apply_non_numeric(Op op, bool is_null) {
    if (is_null || op == Op::Eq || op == Op::Gt || op == Op::Ge) empty = true;  // numbers < text
}

void KeySet::add(std::vector<std::string> values) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    if (!keys) {
        keys = std::move(values);
        return;
    }
    std::vector<std::string> both;
    std::set_intersection(keys->begin(), keys->end(), values.begin(), values.end(),
                          std::back_inserter(both));
    keys = std::move(both);
}

bool KeySet::contains(std::string_view v) const {
    if (!keys) return true;
    return std::binary_search(keys->begin(), keys->end(), v, [](const auto& a, const auto& b) {
        return std::string_view(a) < std::string_view(b);
    });
}

}  // namespace eskit::ext
