/*
** The wire-protocol client against a live 3-node cluster of eskit-node processes on loopback:
** leader discovery and redirection from every seed, CLUSTER, PREPARE/EXEC/QUERY/FINALIZE with
** every parameter type, EXEC_SQL/QUERY_SQL and results of many batches, transactions,
** timeouts, TRANSFER to every node, REMOVE and re-joining (ADD + ASSIGN), the node's clean
** shutdown on SIGTERM and its leadership log. The test cases share one cluster and run in
** file order.
*/
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace ec = eskit::cluster;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// One cluster for the whole program, started by the first test case, stopped at exit.
ec::test::LocalCluster& cluster() {
    static std::unique_ptr<ec::test::LocalCluster> c;
    if (!c) {
        c = std::make_unique<ec::test::LocalCluster>();
        c->start_all();
    }
    return *c;
}

std::string file_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// kill() returns before every thread of the target has stopped: wait until they all have.
bool all_threads_stopped(pid_t pid) {
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    for (int round = 0; round < 200; ++round) {
        bool all = true;
        for (const auto& t : std::filesystem::directory_iterator(tasks)) {
            const std::string stat = file_text(t.path().string() + "/stat");
            const size_t paren = stat.rfind(')');
            if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'T') {
                all = false;
            }
        }
        if (all) return true;
        std::this_thread::sleep_for(5ms);
    }
    return false;
}

}  // namespace

TEST_CASE("discovery: every node as the only seed leads to the leader") {
    auto& lc = cluster();
    const size_t leader = lc.leader_index();
    for (size_t i = 0; i < lc.size(); ++i) {
        CAPTURE(i);
        // LEADER on any node names the leader with its id.
        std::optional<ec::NodeInfo> l = ec::Connection::dial(lc.node(i).address).leader();
        REQUIRE(l);
        CHECK(l->id == lc.node(leader).id);
        CHECK(l->address == lc.node(leader).address);
        // A client given only this node follows the redirection.
        ec::Client c({lc.node(i).address});
        ec::Result r = c.query("SELECT 40 + 2");
        CHECK(c.leader_address() == lc.node(leader).address);
        REQUIRE(r.rows.size() == 1);
        CHECK(r.rows[0][0] == ec::Value(42));
    }
    // A follower refuses to open a database for a client: reads run on the leader only.
    const size_t follower = (leader + 1) % lc.size();
    ec::Connection f = ec::Connection::dial(lc.node(follower).address);
    f.register_client(7);
    try {
        f.open("eskit");
        f.query_sql("SELECT 1");
        FAIL("a follower served a query");
    } catch (const ec::Error& e) {
        CHECK(e.kind() == ec::Error::Kind::server);
        CHECK(e.leadership());
    }
}

TEST_CASE("CLUSTER lists the three voters") {
    auto& lc = cluster();
    ec::Client c(lc.addresses());
    std::vector<ec::NodeInfo> nodes = c.nodes();
    std::sort(nodes.begin(), nodes.end(), [](auto& a, auto& b) { return a.id < b.id; });
    REQUIRE(nodes.size() == 3);
    for (size_t i = 0; i < 3; ++i) {
        CHECK(nodes[i] == ec::NodeInfo{lc.node(i).id, lc.node(i).address, ec::Role::voter});
    }
}

TEST_CASE("PREPARE/EXEC/QUERY/FINALIZE round-trip every parameter type") {
    auto& lc = cluster();
    ec::Client c(lc.addresses());
    ec::Connection& conn = c.leader_connection();
    conn.exec_sql("CREATE TABLE t(i, r, s, b, n)");
    const ec::Statement ins = conn.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?)");
    CHECK(ins.params == 5);
    const std::vector<std::vector<ec::Value>> rows = {
        {ec::Value(std::numeric_limits<std::int64_t>::min()), ec::Value(-0.0), ec::Value(""),
         ec::Value(ec::Blob{}), ec::Value(nullptr)},
        {ec::Value(std::numeric_limits<std::int64_t>::max()), ec::Value(3.141592653589793),
         ec::Value("1234567"), ec::Value(ec::Blob{0}), ec::Value(nullptr)},
        {ec::Value(0), ec::Value(1e300), ec::Value("12345678"),
         ec::Value(ec::Blob{0, 1, 2, 3, 4, 5, 6, 7}), ec::Value(nullptr)},
        {ec::Value(-1), ec::Value(-2.5e-300), ec::Value("ünïcødé ✓ 'quoted' \"x\""),
         ec::Value(ec::Blob(17, 0xff)), ec::Value(nullptr)},
    };
    std::uint64_t rowid = 0;
    for (const auto& r : rows) {
        ec::Result res = conn.exec(ins, r);
        CHECK(res.rows_affected == 1);
        CHECK(res.last_insert_id == ++rowid);
    }
    conn.finalize(ins);
    CHECK_THROWS_AS(conn.exec(ins, rows[0]), ec::Error);  // finalized

    const ec::Statement sel =
        conn.prepare("SELECT i, r, s, b, n, typeof(s), typeof(b) FROM t WHERE rowid = ?");
    CHECK(sel.params == 1);
    for (std::uint64_t id = 1; id <= rows.size(); ++id) {
        CAPTURE(id);
        ec::Result res =
            conn.query(sel, std::vector<ec::Value>{ec::Value(static_cast<std::int64_t>(id))});
        CHECK(res.columns ==
              std::vector<std::string>{"i", "r", "s", "b", "n", "typeof(s)", "typeof(b)"});
        REQUIRE(res.rows.size() == 1);
        ec::Row want = rows[id - 1];
        want.push_back(ec::Value("text"));
        want.push_back(ec::Value("blob"));
        CHECK(res.rows[0] == want);
    }
    conn.finalize(sel);
    // Parameters through the SQL requests too, including a NULL that is returned as NULL.
    ec::Result q =
        c.query("SELECT ?, ?, ? || 'b', length(?)",
                {ec::Value(5), ec::Value(nullptr), ec::Value("a"), ec::Value(ec::Blob{1, 2, 3})});
    REQUIRE(q.rows.size() == 1);
    CHECK(q.rows[0] == ec::Row{ec::Value(5), ec::Value(nullptr), ec::Value("ab"), ec::Value(3)});
}

TEST_CASE("EXEC_SQL runs several statements; QUERY_SQL results of many batches") {
    auto& lc = cluster();
    ec::Client c(lc.addresses());
    ec::Result r = c.exec(
        "CREATE TABLE big(x INTEGER, pad TEXT);"
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 20000) "
        "INSERT INTO big SELECT x, printf('%0100d', x) FROM n");
    CHECK(r.rows_affected == 20000);
    ec::Result all = c.query("SELECT x, pad FROM big ORDER BY x");
    REQUIRE(all.rows.size() == 20000);  // about 2.4 MB: the node sends it in many batches
    for (std::int64_t i = 0; i < 20000; ++i) {
        if (all.rows[i][0].as_int() != i + 1 || all.rows[i][1].as_text().size() != 100) {
            FAIL("row " << i << " differs");
        }
    }
    CHECK(all.rows[19999][1].as_text() == std::string(95, '0') + "20000");
}

TEST_CASE("transactions: COMMIT is visible; ROLLBACK and a dropped connection are not") {
    auto& lc = cluster();
    ec::Client c(lc.addresses());
    ec::Client other(lc.addresses());
    c.exec("CREATE TABLE tx(v)");
    {
        auto tx = c.begin();
        tx.exec("INSERT INTO tx VALUES (1)");
        tx.exec("INSERT INTO tx VALUES (2)");
        CHECK(tx.query("SELECT count(*) FROM tx").rows[0][0] == ec::Value(2));
        tx.commit();
    }
    {
        auto tx = c.begin();
        tx.exec("INSERT INTO tx VALUES (3)");
        tx.rollback();
    }
    {
        auto tx = c.begin();
        tx.exec("INSERT INTO tx VALUES (4)");
    }  // destroyed without commit: rolled back
    {
        auto tx = c.begin();
        tx.exec("INSERT INTO tx VALUES (5)");
        c.reset();  // the connection goes away: the node drops the transaction
        CHECK_THROWS_AS(tx.exec("INSERT INTO tx VALUES (6)"), ec::Error);
        CHECK_THROWS_AS(tx.commit(), ec::Error);
    }
    CHECK(other.query("SELECT group_concat(v) FROM tx").rows[0][0] == ec::Value("1,2"));
    CHECK(c.connects() == 1);
}

TEST_CASE("timeouts: a node that does not answer, no listener, no leader") {
    auto& lc = cluster();
    const size_t leader = lc.leader_index();
    const size_t follower = (leader + 1) % lc.size();
    ec::Options o;
    o.request_timeout = 300ms;
    ec::Connection f = ec::Connection::dial(lc.node(follower).address, o);
    f.leader();
    struct Resume {  // SIGCONT also when a check below throws
        pid_t pid;
        ~Resume() { ::kill(pid, SIGCONT); }
    } resume{lc.node(follower).pid};
    REQUIRE(::kill(resume.pid, SIGSTOP) == 0);
    REQUIRE(all_threads_stopped(resume.pid));
    const auto t0 = Clock::now();
    try {
        auto l = f.leader();
        FAIL("a stopped node answered: " << (l ? l->address : "none"));
    } catch (const ec::Error& e) {
        CHECK(e.kind() == ec::Error::Kind::timeout);
    }
    const auto waited = Clock::now() - t0;
    CHECK(waited >= 290ms);
    CHECK(waited < 2s);
    CHECK_FALSE(f.usable());  // its stream position is unknown: closed

    // Nothing listens on a just-released port.
    const std::string nowhere = "127.0.0.1:" + std::to_string(ec::test::free_port());
    try {
        ec::Connection::dial(nowhere, o);
        FAIL("connected to nothing");
    } catch (const ec::Error& e) {
        CHECK(e.kind() == ec::Error::Kind::connection);
    }
    ec::Options quick;
    quick.leader_timeout = 300ms;
    ec::Client none({nowhere}, quick);
    const auto t1 = Clock::now();
    try {
        none.query("SELECT 1");
        FAIL("found a leader at no address");
    } catch (const ec::Error& e) {
        CHECK(e.kind() == ec::Error::Kind::no_leader);
        CHECK(e.retriable());
    }
    CHECK(Clock::now() - t1 < 2s);
}

TEST_CASE("TRANSFER moves leadership to every node; nodes log it") {
    auto& lc = cluster();
    for (size_t i : {size_t{2}, size_t{0}, size_t{1}, size_t{0}}) {
        CAPTURE(i);
        lc.transfer_to(i);
        ec::Client c(lc.addresses());
        CHECK(c.query("SELECT count(*) FROM big").rows[0][0] == ec::Value(20000));
        CHECK(c.leader_address() == lc.node(i).address);
    }
    // The client's own TRANSFER, to node 2.
    ec::Client c(lc.addresses());
    c.transfer(lc.node(1).id);
    const auto deadline = Clock::now() + 10s;
    while (lc.leader_index() != 1 && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
    CHECK(lc.leader_index() == 1);
    std::this_thread::sleep_for(300ms);  // the watcher polls every 100 ms
    for (size_t i = 0; i < lc.size(); ++i) {
        CAPTURE(i);
        CHECK(file_text(lc.node(i).log).find("leadership: this node is now the leader") !=
              std::string::npos);
    }
}

TEST_CASE("REMOVE a node, stop it with SIGTERM, wipe it, and it re-joins (ADD + ASSIGN)") {
    auto& lc = cluster();
    lc.transfer_to(0);
    ec::Client c(lc.addresses());
    c.remove(lc.node(2).id);
    std::vector<ec::NodeInfo> nodes = c.nodes();
    CHECK(nodes.size() == 2);
    for (const auto& n : nodes) CHECK(n.id != lc.node(2).id);

    const int status = lc.stop(2);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(file_text(lc.node(2).log).find("eskit-node 3: stopped") != std::string::npos);
    std::filesystem::remove_all(lc.node(2).dir);

    lc.start(2);  // --join: ADD as spare, then ASSIGN voter
    lc.wait_voters(3, 30s);
    const std::string log = file_text(lc.node(2).log);
    CHECK(log.find("join: added to the cluster as spare") != std::string::npos);
    CHECK(log.find("join: assigned role voter") != std::string::npos);
    // It caught up from nothing.
    lc.transfer_to(2);
    ec::Client on3(lc.addresses());
    CHECK(on3.query("SELECT count(*), sum(x) FROM big").rows[0] ==
          ec::Row{ec::Value(20000), ec::Value(std::int64_t{200010000})});
    CHECK(on3.leader_address() == lc.node(2).address);
    CHECK(lc.reap().empty());
    CHECK(lc.crashed().empty());
}
