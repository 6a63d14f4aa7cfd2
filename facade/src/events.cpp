#include <eskit/events.hpp>

namespace eskit {

Upcasters& Upcasters::add(std::string_view type, int64_t current, int64_t from, Step step) {
    const std::string t(type);
    if (from < 1 || from >= current) {
        throw CodecError("eskit: upcaster of '" + t + "' from version " + std::to_string(from) +
                         ": the type is at version " + std::to_string(current) +
                         ", so steps lift versions 1 to " + std::to_string(current - 1));
    }
    Chain& chain = chains_[t];
    chain.current = current;
    if (!chain.steps.emplace(from, std::move(step)).second) {
        throw CodecError("eskit: upcaster of '" + t + "' from version " + std::to_string(from) +
                         " is registered twice");
    }
    return *this;
}

void Upcasters::validate() const {
    for (const auto& [type, chain] : chains_) {
        int64_t expect = chain.steps.begin()->first;
        for (const auto& [from, step] : chain.steps) {
            if (from != expect) {
                throw CodecError("eskit: upcasters of '" + type +
                                 "' have a gap: no step from "
                                 "version " +
                                 std::to_string(expect) + " to " + std::to_string(expect + 1));
            }
            ++expect;
        }
        if (expect != chain.current) {
            throw CodecError("eskit: upcasters of '" + type + "' end at version " +
                             std::to_string(expect) + ", not at the type's version " +
                             std::to_string(chain.current));
        }
    }
}

void Upcasters::lift(std::string_view type, int64_t from, int64_t to, Value& v) const {
    auto it = chains_.find(type);
    for (int64_t k = from; k < to; ++k) {
        const auto step = it == chains_.end() ? nullptr : &it->second.steps;
        auto s = step ? step->find(k) : decltype(it->second.steps.end()){};
        if (!step || s == step->end()) {
            throw CodecError("eskit: no upcaster lifts '" + std::string(type) + "' from version " +
                             std::to_string(k) + " (the event was stored at version " +
                             std::to_string(from) + ")");
        }
        s->second(v);
    }
}

}  // namespace eskit
