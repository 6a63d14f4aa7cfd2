/*
** Appender: the exactly-once append rule over a dqlite cluster.
**
** One attempt is one transaction on the leader: BEGIN IMMEDIATE; SELECT es_append(s, e,
** events, '{"idempotency_key": k, ...}'); COMMIT. IMMEDIATE takes the write lock first, so
** that a concurrent writer's SQLITE_BUSY comes back from that EXEC with its real code (from
** the QUERY, dqlite would garble it). What an attempt's failure means:
**
**   before COMMIT was sent    nothing was committed. A definite error (eskit's conflict,
**                             duplicate_event, ..., or any other non-retriable SQL error) is
**                             the answer; a retriable one (connection lost, timeout, not the
**                             leader, SQLITE_BUSY) means: try again.
**   at or after COMMIT        unknown: the transaction may have committed (a leader killed
**                             while replicating often answers with an error, or not at all,
**                             although the entry reached a majority and the new leader
**                             applies it). Try again.
**
** Trying again runs the same call with the same key on whatever node is leader now. dqlite
** applies every committed entry on a new leader before it serves a statement (a barrier), so
** es_append sees an earlier attempt that committed: the key is found and the version that
** attempt reached is returned without writing (es_append checks keys before the expected
** version). An attempt that did not commit can no longer commit later: the old leader is gone
** or has given up the entry, and a connection drop rolls back an open transaction. So the
** first definite answer is the answer of the one append that is stored, or of none.
*/
#include <algorithm>
#include <random>
#include <thread>

#include "eskit/cluster/client.hpp"
#include "json.hpp"

namespace eskit::cluster {

using Clock = std::chrono::steady_clock;

std::string make_idempotency_key() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static const char* const kHex = "0123456789abcdef";
    std::string k = "ek-";
    for (int w = 0; w < 2; ++w) {
        std::uint64_t v = rng();
        for (int i = 0; i < 16; ++i) {
            k += kHex[v & 0xf];
            v >>= 4;
        }
    }
    return k;
}

std::string append_options_json(const AppendRequest& r) {
    std::string o = "{\"idempotency_key\":";
    json::quote(o, r.idempotency_key);
    if (r.timestamp) o += ",\"timestamp\":" + std::to_string(*r.timestamp);
    if (!r.metadata.empty()) o += ",\"metadata\":" + r.metadata;
    o += '}';
    return o;
}

namespace {

constexpr const char* kAppendSql = "SELECT es_append(?, ?, ?, ?)";

std::vector<Value> append_params(const AppendRequest& r) {
    return {Value(r.stream), r.expected ? Value(*r.expected) : Value(nullptr), Value(r.events),
            Value(append_options_json(r))};
}

std::int64_t version_of(const Result& r) {
    if (r.rows.size() != 1 || r.rows[0].size() != 1 || !r.rows[0][0].is_int()) {
        throw Error(Error::Kind::protocol, 0, "es_append() returned no version");
    }
    return r.rows[0][0].as_int();
}

// Runs attempt() until it returns, retrying what Error::retriable() (or a lost commit) allows,
// within the policy's deadline.
template <class F>
auto settle(Client& client, const AppendPolicy& policy, std::uint64_t& retries,
            std::uint64_t& ambiguous_commits, int& attempts, bool& ambiguous, F&& attempt) {
    const auto deadline = Clock::now() + policy.deadline;
    auto backoff = policy.backoff_min;
    for (;;) {
        ++attempts;
        bool committing = false;
        try {
            return attempt(committing);
        } catch (const Error& e) {
            if (!committing && !e.retriable()) throw;
            if (committing) {
                ambiguous = true;
                ++ambiguous_commits;
            }
            // Keep the connection only for SQLITE_BUSY/LOCKED before COMMIT (the attempt's
            // transaction was rolled back); otherwise look for the leader again.
            if (committing || e.kind() != Error::Kind::server || e.leadership()) client.reset();
            if (Clock::now() + backoff > deadline) {
                if (ambiguous) {
                    throw Error(Error::Kind::unknown_outcome, e.code(),
                                "no definite answer before the deadline (an attempt's commit "
                                "was not confirmed; append again with the same idempotency "
                                "key to settle it); last error: " +
                                    e.message());
                }
                throw;  // no attempt reached COMMIT: nothing was stored
            }
            ++retries;
            std::this_thread::sleep_for(backoff);
            backoff = std::min(backoff * 2, policy.backoff_max);
        }
    }
}

}  // namespace

Appender::Appender(Client& client, AppendPolicy policy) : client_(client), policy_(policy) {}

Result Appender::transact(const std::function<Result(Client::Transaction&)>& body,
                          AppendResult* info) {
    int attempts = 0;
    bool ambiguous = false;
    Result r =
        settle(client_, policy_, retries_, ambiguous_, attempts, ambiguous, [&](bool& committing) {
            Client::Transaction tx = client_.begin(true);
            Result out = body(tx);
            committing = true;
            tx.commit();
            return out;
        });
    if (info) {
        info->attempts = attempts;
        info->settled_ambiguity = ambiguous;
    }
    return r;
}

AppendResult Appender::append(AppendRequest request) {
    if (request.idempotency_key.empty()) request.idempotency_key = make_idempotency_key();
    const std::vector<Value> params = append_params(request);
    AppendResult out;
    out.idempotency_key = request.idempotency_key;
    out.version = version_of(transact(
        [&](Client::Transaction& tx) { return tx.run(kAppendSql, params, Mode::query); }, &out));
    return out;
}

std::vector<BatchItem> Appender::append_batch(std::vector<AppendRequest> requests) {
    std::vector<std::vector<Value>> params;
    params.reserve(requests.size());
    for (AppendRequest& r : requests) {
        if (r.idempotency_key.empty()) r.idempotency_key = make_idempotency_key();
        params.push_back(append_params(r));
    }
    int attempts = 0;
    bool ambiguous = false;
    return settle(
        client_, policy_, retries_, ambiguous_, attempts, ambiguous, [&](bool& committing) {
            std::vector<BatchItem> items(requests.size());
            Client::Transaction tx = client_.begin(true);
            for (size_t i = 0; i < requests.size(); ++i) {
                items[i].idempotency_key = requests[i].idempotency_key;
                try {
                    items[i].version = version_of(tx.run(kAppendSql, params[i], Mode::query));
                } catch (const Error& e) {
                    // A definite eskit error fails this item only: the failed call
                    // left nothing behind and the transaction goes on.
                    if (e.retriable() || e.eskit_code().empty()) throw;
                    items[i].error = e;
                }
            }
            committing = true;
            tx.commit();
            return items;
        });
}

}  // namespace eskit::cluster
