/*
** Safe rules under dqlite (issue 13, item 2), on live 3-node clusters:
**
** - dqlite replicates a statement's writes only when it runs as EXEC or between BEGIN and
**   COMMIT. An eskit writer called as a QUERY in autocommit is answered but not replicated:
**   other connections do not see it, it is lost with the leader, and the leader aborts at the
**   next statement of that connection — an acknowledged write lost. The unguarded cluster
**   (eskit-node --no-write-guard) shows it; on the guarded cluster (the default) every writer
**   refuses to run in autocommit, so that path cannot be reached.
** - dqlite garbles a failed QUERY's error (code 1, the column's text as message); the EXEC path
**   carries the real one. es_last_error() on the same connection gives the real code and
**   message, and the client reads it by itself.
** - Inside BEGIN ... COMMIT the writers work, replicate to every node (read on each after
**   TRANSFER), and a failed call leaves the transaction usable.
*/
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <memory>
#include <thread>

#include "harness.hpp"

namespace ec = eskit::cluster;
using namespace std::chrono_literals;

namespace {

ec::test::LocalCluster& guarded() {
    static std::unique_ptr<ec::test::LocalCluster> c;
    if (!c) {
        c = std::make_unique<ec::test::LocalCluster>();
        c->start_all();
    }
    return *c;
}

ec::Options raw_errors() {
    ec::Options o;
    o.real_errors = false;  // what dqlite itself answers
    return o;
}

const char* const kEvent = R"({"type":"OrderPlaced","data":{"total":25}})";
const std::string kRefused =
    "(): must run between BEGIN and COMMIT on this host; outside a transaction its writes "
    "would not be replicated";

ec::Error error_of(auto&& f) {
    try {
        f();
    } catch (const ec::Error& e) {
        return e;
    }
    FAIL("no error");
    return ec::Error(ec::Error::Kind::protocol, 0, "");
}

// Runs f(client) with node i as the leader.
template <class F>
void on_node(ec::test::LocalCluster& lc, size_t i, F&& f) {
    lc.transfer_to(i);
    ec::Client c(lc.addresses());
    c.query("SELECT 1");
    REQUIRE(c.leader_address() == lc.node(i).address);
    f(c);
}

}  // namespace

TEST_CASE("an eskit write sent as a QUERY in autocommit is refused; the real error is readable") {
    auto& lc = guarded();
    const std::string sql = std::string("SELECT es_append('order-1', 0, '") + kEvent + "')";
    ec::Client raw(lc.addresses(), raw_errors());
    // dqlite's own answer: code 1 and the result column's name as the message.
    ec::Error garbled = error_of([&] { raw.query(sql); });
    CHECK(garbled.kind() == ec::Error::Kind::server);
    CHECK(garbled.code() == 1);
    CHECK(garbled.message() == sql.substr(7));
    // The next statement on the same connection reads the real one.
    ec::Result last = raw.query("SELECT es_last_error()");
    CHECK(
        last.rows.at(0).at(0) ==
        ec::Value(
            R"({"code":"invalid_argument","sqlite_code":1,"message":"invalid_argument: es_append)" +
            kRefused + "\"}"));
    CHECK(raw.query("SELECT es_last_error()").rows.at(0).at(0) == last.rows.at(0).at(0));
    // The client does that by itself.
    ec::Client c(lc.addresses());
    ec::Error real = error_of([&] { c.query(sql); });
    CHECK(real.code() == 1);
    CHECK(real.message() == "invalid_argument: es_append" + kRefused);
    CHECK(real.from_last_error());
    CHECK(real.eskit_code() == "invalid_argument");
    // The EXEC path carries the real error without help.
    ec::Error exec = error_of([&] { raw.exec(sql); });
    CHECK(exec.code() == 1);
    CHECK(exec.message() == "invalid_argument: es_append" + kRefused);
    CHECK_FALSE(exec.from_last_error());

    // Nothing was written anywhere, no node died, and new connections work.
    CHECK(lc.reap().empty());
    for (size_t i = 0; i < lc.size(); ++i) {
        on_node(lc, i, [&](ec::Client& ci) {
            CHECK(ci.query("SELECT count(*) FROM sqlite_schema WHERE name = 'es_events'")
                      .rows[0][0] == ec::Value(0));
            CHECK(ci.query("SELECT es_head()").rows[0][0] == ec::Value(0));
        });
    }
    CHECK(lc.crashed().empty());
}

TEST_CASE("every eskit writer is refused in autocommit through the cluster") {
    auto& lc = guarded();
    ec::Client c(lc.addresses());
    const std::pair<const char*, std::string> writers[] = {
        {"es_init", "SELECT es_init()"},
        {"es_append", std::string("SELECT es_append('order-1', 0, '") + kEvent + "')"},
        {"es_archive", "SELECT es_archive('order-1')"},
        {"es_restore", "SELECT es_restore('order-1')"},
        {"es_tombstone", "SELECT es_tombstone('order-1', 'gdpr')"},
        {"es_delete", "SELECT es_delete('order-1')"},
        {"es_checkpoint", "SELECT es_checkpoint('c', 5)"},
        {"es_checkpoint", "SELECT es_checkpoint('c', 0, 5)"},
        {"es_snapshot_save", "SELECT es_snapshot_save('order-1', 1, '{}')"},
    };
    for (const auto& [fn, sql] : writers) {
        CAPTURE(sql);
        ec::Error e = error_of([&] { c.query(sql); });
        CHECK(e.message() == "invalid_argument: " + std::string(fn) + kRefused);
    }
    // Readers run in autocommit.
    CHECK(c.query("SELECT es_head(), es_checkpoint('c'), es_status('order-1')").rows[0] ==
          ec::Row{ec::Value(0), ec::Value(0), ec::Value("none")});
}

TEST_CASE("inside BEGIN ... COMMIT the writers run and replicate to every node") {
    auto& lc = guarded();
    ec::Client c(lc.addresses());
    {
        auto tx = c.begin();
        CHECK(tx.query("SELECT es_init()").rows[0][0] == ec::Value(3));
        const std::string batch = R"([{"type":"OrderPlaced","data":{"total":25},"id":"e-1"},)"
                                  R"({"type":"ItemAdded","data":{"sku":"A-1"},"id":"e-2"},)"
                                  R"({"type":"Shipped","data":{},"id":"e-3"}])";
        CHECK(tx.query("SELECT es_append('order-1', 0, ?, '{\"timestamp\":1000}')",
                       {ec::Value(batch)})
                  .rows[0][0] == ec::Value(3));
        CHECK(tx.query("SELECT es_checkpoint('projector', 0, 3)").rows[0][0] == ec::Value(3));
        CHECK(tx.query("SELECT es_snapshot_save('order-1', 3, '{\"total\":25}')").rows[0][0] ==
              ec::Value(3));
        tx.commit();
    }
    const ec::Row r1{ec::Value(1),
                     ec::Value("order-1"),
                     ec::Value(1),
                     ec::Value("OrderPlaced"),
                     ec::Value(R"({"total":25})"),
                     ec::Value("e-1"),
                     ec::Value(1000)};
    for (size_t i = 0; i < lc.size(); ++i) {
        CAPTURE(i);
        on_node(lc, i, [&](ec::Client& ci) {
            ec::Result r = ci.query(
                "SELECT seq, stream_id, version, type, data, event_id, created_at "
                "FROM es_stream('order-1')");
            REQUIRE(r.rows.size() == 3);
            CHECK(r.rows[0] == r1);
            CHECK(r.rows[2][5] == ec::Value("e-3"));
            CHECK(ci.query("SELECT es_checkpoint('projector'), es_head(), "
                           "(SELECT version FROM es_snapshots WHERE stream_id = 'order-1')")
                      .rows[0] == ec::Row{ec::Value(3), ec::Value(3), ec::Value(3)});
        });
    }
}

TEST_CASE("a conflict inside a transaction: the real error, and the transaction goes on") {
    auto& lc = guarded();
    ec::Client c(lc.addresses());
    auto tx = c.begin();
    ec::Error e =
        error_of([&] { tx.query("SELECT es_append('order-1', 0, ?)", {ec::Value(kEvent)}); });
    CHECK(e.code() == 19);
    CHECK(e.message() == "conflict: stream 'order-1' is at version 3, expected 0");
    CHECK(e.from_last_error());
    CHECK(e.eskit_code() == "conflict");
    CHECK_FALSE(e.retriable());
    CHECK(tx.query("SELECT es_append('order-1', 3, ?)", {ec::Value(kEvent)}).rows[0][0] ==
          ec::Value(4));
    tx.commit();
    on_node(lc, (lc.leader_index() + 1) % lc.size(), [&](ec::Client& ci) {
        CHECK(ci.query("SELECT max(version), count(*) FROM es_stream('order-1')").rows[0] ==
              ec::Row{ec::Value(4), ec::Value(4)});
    });
}

TEST_CASE("EXEC of SELECT es_append(...) reports SQLITE_ROW although the append ran") {
    // dqlite's EXEC steps once and wants SQLITE_DONE; a SELECT yields a row, so the answer is
    // an error (100, "another row available") for an append that succeeded inside the
    // transaction. Writers therefore go through QUERY inside BEGIN ... COMMIT.
    auto& lc = guarded();
    ec::Client c(lc.addresses());
    auto tx = c.begin();
    ec::Error e =
        error_of([&] { tx.exec("SELECT es_append('order-2', 0, ?)", {ec::Value(kEvent)}); });
    CHECK(e.code() == 100);
    CHECK(e.message() == "another row available");
    tx.commit();
    CHECK(c.query("SELECT count(*) FROM es_stream('order-2')").rows[0][0] == ec::Value(1));
}

TEST_CASE("es_wait is per node: on the cluster it refuses, subscribers poll es_head()") {
    // es_wait watches the database file of its node; dqlite's databases live in its own VFS,
    // so there is no file to watch. The README says how a subscriber learns of new events.
    auto& lc = guarded();
    ec::Client raw(lc.addresses(), raw_errors());
    ec::Error e = error_of([&] { raw.exec("SELECT es_wait(0, 10)"); });
    CHECK(e.code() == 1);
    CHECK(e.message() ==
          "invalid_argument: es_wait(): not available on a replicated host: poll "
          "es_head() instead");
    CHECK(raw.query("SELECT es_head()").rows[0][0] == ec::Value(5));
}

TEST_CASE("Appender: keys make retries replays; conflicts are definite; batches") {
    auto& lc = guarded();
    ec::Client c(lc.addresses());
    ec::Appender a(c);
    ec::AppendRequest req{
        .stream = "order-3", .expected = 0, .events = kEvent, .idempotency_key = "key-1"};
    ec::AppendResult r = a.append(req);
    CHECK(r.version == 1);
    CHECK(r.attempts == 1);
    CHECK(r.idempotency_key == "key-1");
    CHECK(a.append(req).version == 1);  // the same key: a replay, nothing written
    req.idempotency_key.clear();        // a new key, a stale expected version
    ec::Error e = error_of([&] { a.append(req); });
    CHECK(e.message() == "conflict: stream 'order-3' is at version 1, expected 0");
    CHECK(e.code() == 19);
    CHECK(c.query("SELECT count(*) FROM es_stream('order-3')").rows[0][0] == ec::Value(1));

    std::vector<ec::BatchItem> items = a.append_batch({
        {.stream = "order-4", .expected = 0, .events = kEvent},
        {.stream = "order-3", .expected = 0, .events = kEvent},  // conflict: this item only
        {.stream = "order-4",
         .expected = 1,
         .events = std::string("[") + kEvent + "," + kEvent + "]"},
        {.stream = "order-5", .expected = std::nullopt, .events = kEvent},
    });
    REQUIRE(items.size() == 4);
    CHECK(items[0].version == 1);
    CHECK_FALSE(items[1].version);
    REQUIRE(items[1].error);
    CHECK(items[1].error->message() == "conflict: stream 'order-3' is at version 1, expected 0");
    CHECK(items[2].version == 3);
    CHECK(items[3].version == 1);
    CHECK(c.query("SELECT count(*) FROM es_events WHERE stream_id IN ('order-4', 'order-5')")
              .rows[0][0] == ec::Value(4));
    CHECK(a.retries() == 0);
    CHECK(lc.reap().empty());
}

TEST_CASE("Appender: another writer's transaction means SQLITE_BUSY, retried until it ends") {
    auto& lc = guarded();
    ec::Client holder(lc.addresses());
    auto lock = holder.begin(true);  // BEGIN IMMEDIATE: holds the write lock
    ec::Client c(lc.addresses());
    ec::Appender a(c);
    ec::Error busy = error_of([&] { c.begin(true); });
    CHECK(busy.code() == 5);  // SQLITE_BUSY from the EXEC, with its real code
    CHECK(busy.retriable());
    std::thread release([&] {
        std::this_thread::sleep_for(300ms);
        lock.commit();
    });
    const ec::AppendResult r = a.append({.stream = "order-6", .expected = 0, .events = kEvent});
    release.join();
    CHECK(r.version == 1);
    CHECK(r.attempts >= 2);
    CHECK(a.retries() == static_cast<std::uint64_t>(r.attempts - 1));
    CHECK_FALSE(r.settled_ambiguity);
    CHECK(c.query("SELECT count(*) FROM es_stream('order-6')").rows[0][0] == ec::Value(1));
}

TEST_CASE("without the guard: a QUERY in autocommit is acknowledged, then lost") {
    ec::test::ClusterOptions o;
    o.write_guard = false;  // eskit-node --no-write-guard
    ec::test::LocalCluster lc(o);
    lc.start_all();
    const std::string append = std::string("SELECT es_append('order-1', 0, '") + kEvent + "')";
    const char* const has_table = "SELECT count(*) FROM sqlite_schema WHERE name = 'es_events'";

    // 1. Acknowledged, invisible to every other connection, and gone with the leader.
    size_t leader = lc.leader_index();
    {
        ec::Client raw(lc.addresses(), raw_errors());
        CHECK(raw.query(append).rows.at(0).at(0) == ec::Value(1));  // the client holds v1
        ec::Client other(lc.addresses(), raw_errors());
        CHECK(other.query(has_table).rows[0][0] == ec::Value(0));
        lc.kill(leader);
    }
    {
        ec::Client after(lc.addresses());
        CHECK(after.query(has_table).rows[0][0] == ec::Value(0));  // lost
        CHECK(after.leader_address() != lc.node(leader).address);
    }
    lc.start(leader);
    lc.wait_voters(3, 20s);

    // 2. The leader aborts at the next statement of that connection.
    leader = lc.leader_index();
    {
        ec::Client raw(lc.addresses(), raw_errors());
        CHECK(raw.query(append).rows.at(0).at(0) == ec::Value(1));
        ec::Error e = error_of([&] { raw.exec("CREATE TABLE x(a)"); });
        CHECK(e.kind() == ec::Error::Kind::connection);
    }
    for (int i = 0; i < 100 && lc.running(leader); ++i) {
        lc.reap();
        std::this_thread::sleep_for(50ms);
    }
    REQUIRE_FALSE(lc.running(leader));
    REQUIRE(lc.crashed().size() == 1);
    CHECK(lc.crashed()[0] == "node " + std::to_string(lc.node(leader).id) + ": killed by signal 6");
    CHECK(lc.log_tail(leader).find("Assertion `wal->n_tx == 0' failed") != std::string::npos);
    ec::Client after(lc.addresses());
    CHECK(after.query(has_table).rows[0][0] == ec::Value(0));
}
