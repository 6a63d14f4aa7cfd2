// snippet: cpp-facade
// A bank account with eskit's C++ facade: typed events, an optimistic append, a conflict,
// and the state folded from the stream.
#include <eskit/eskit.hpp>

#include <cstdio>
#include <string>
#include <variant>

struct Deposited {
    long cents = 0;
};
ESKIT_FIELDS(Deposited, cents);          // the payload's fields, for every codec
ESKIT_EVENT(Deposited, "Deposited", 1);  // stored type name, schema version

struct Withdrawn {
    long cents = 0;
    std::string reason;
};
ESKIT_FIELDS(Withdrawn, cents, reason);
ESKIT_EVENT(Withdrawn, "Withdrawn", 1);

using AccountEvent = std::variant<Deposited, Withdrawn>;

long balance(const eskit::Store<AccountEvent>& store, const std::string& account) {
    auto folded = store.aggregate(account, 0L, [](long& cents, const auto& e) {
        if (const auto* d = std::get_if<Deposited>(&e.data)) cents += d->cents;
        if (const auto* w = std::get_if<Withdrawn>(&e.data)) cents -= w->cents;
    });
    return folded.state;
}

int main(int argc, char** argv) {
    auto db = eskit::Database::open(argc > 1 ? argv[1] : "bank.db");
    eskit::Store<AccountEvent> store(db);

    const std::string account = "account-" + std::to_string(store.latest_sequence() + 1);
    auto opened = store.append(account, eskit::NoStream{}, {Deposited{10000}});
    store.append(account, eskit::Exact{opened.back().version},
                 {Withdrawn{2500, "rent"}, Deposited{300}});
    try {  // a second writer that decided on version 1
        store.append(account, eskit::Exact{1}, {Withdrawn{9000, "car"}});
    } catch (const eskit::ConcurrencyConflict& e) {
        std::printf("conflict: %s is at version %lld, expected %lld\n", e.stream().c_str(),
                    static_cast<long long>(*e.actual()), static_cast<long long>(*e.expected()));
    }
    for (const auto& e : store.load(account)) {
        std::printf("%s v%lld seq %lld %s\n", e.stream_id.c_str(),
                    static_cast<long long>(e.version), static_cast<long long>(e.seq),
                    e.type.c_str());
    }
    std::printf("balance of %s: %ld cents\n", account.c_str(), balance(store, account));
    return 0;
}
// end snippet
