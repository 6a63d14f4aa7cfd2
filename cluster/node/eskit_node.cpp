/*
** eskit-node: one dqlite node whose every SQLite connection has eskit registered.
**
**   eskit-node --id 1 --address 127.0.0.1:9001 --dir /var/lib/eskit/1
**   eskit-node --id 2 --address 127.0.0.1:9002 --dir /var/lib/eskit/2 --join 127.0.0.1:9001
**
** Options:
**   --id N            node id, >= 1, the same on every restart. Node 1 bootstraps a new
**                     cluster (a one-voter configuration) when its data dir is empty.
**   --address H:P     address to bind and to be known by (loopback in tests)
**   --dir PATH        data dir (Raft log and snapshots); created if missing
**   --join A[,A...]   nodes of the cluster to join: once started, this node asks the leader
**                     to ADD it and to ASSIGN it the voter role (dqlite 1.11 has no C call to
**                     join; a cluster grows by client requests). Nothing is done when it is
**                     already a voter, so the same command line restarts a node.
**   --role R          role to join with: voter (default), standby or spare
**   --latency-ms N    dqlite_node_set_network_latency_ms (heartbeat and election timeouts
**                     follow it; default: dqlite's)
**   --no-write-guard  TESTS ONLY: do not refuse eskit writes in autocommit (shows the
**                     lost-write path that the guard closes)
**   --no-nodelay      connect to the other nodes with dqlite's own connect function (Nagle
**                     on: about 7 % of commits then wait ~45 ms for a delayed ACK)
**
** Every connection dqlite opens (leader and followers) gets eskit through
** sqlite3_auto_extension, registered before dqlite_node_start, with
** ESKIT_OPTION_WRITES_NEED_TRANSACTION on: dqlite replicates a statement's writes only when
** it runs as EXEC or inside BEGIN ... COMMIT, so an eskit write called as a QUERY in
** autocommit would be answered and then lost. Connections to the other nodes (Raft traffic)
** are made by our own connect function with TCP_NODELAY. SIGPIPE is ignored (a follower writing to
*a dead
** leader must not die with it). SIGTERM or SIGINT stops the node cleanly. Leadership changes
** seen by this node are logged to stderr.
*/
extern "C" {
#include <dqlite.h>  // a C header without extern "C" of its own
}
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "eskit.h"
#include "eskit/cluster/client.hpp"

namespace {

using namespace std::chrono_literals;
namespace ec = eskit::cluster;

struct Config {
    std::uint64_t id = 0;
    std::string address;
    std::string dir;
    std::vector<std::string> join;
    ec::Role role = ec::Role::voter;
    unsigned latency_ms = 0;
    bool write_guard = true;
    bool nodelay = true;
};

Config g_config;
std::atomic<bool> g_stopping{false};
std::mutex g_log_mutex;

void log(const char* fmt, ...) {
    char when[32];
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(when, sizeof when, "%H:%M:%S", &tm);
    std::lock_guard<std::mutex> lock(g_log_mutex);
    std::fprintf(stderr, "%s.%03lld eskit-node %llu: ", when, static_cast<long long>(ms),
                 static_cast<unsigned long long>(g_config.id));
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fputc('\n', stderr);
    std::fflush(stderr);
}

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "eskit-node: %s\n"
                 "usage: eskit-node --id N --address HOST:PORT --dir PATH [--join A[,A...]]\n"
                 "                  [--role voter|standby|spare] [--latency-ms N]\n",
                 why);
    std::exit(2);
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        const size_t comma = s.find(',', start);
        const std::string part =
            s.substr(start, comma == std::string::npos ? comma : comma - start);
        if (!part.empty()) out.push_back(part);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

Config parse(int argc, char** argv) {
    Config c;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value for " + a).c_str());
            return argv[++i];
        };
        if (a == "--id") {
            c.id = std::strtoull(value().c_str(), nullptr, 10);
        } else if (a == "--address") {
            c.address = value();
        } else if (a == "--dir") {
            c.dir = value();
        } else if (a == "--join") {
            for (const std::string& j : split(value())) c.join.push_back(j);
        } else if (a == "--role") {
            const std::string r = value();
            if (r == "voter")
                c.role = ec::Role::voter;
            else if (r == "standby")
                c.role = ec::Role::standby;
            else if (r == "spare")
                c.role = ec::Role::spare;
            else
                usage("--role must be voter, standby or spare");
        } else if (a == "--latency-ms") {
            c.latency_ms = static_cast<unsigned>(std::strtoul(value().c_str(), nullptr, 10));
            if (c.latency_ms == 0) usage("--latency-ms must be >= 1");
        } else if (a == "--no-write-guard") {
            c.write_guard = false;
        } else if (a == "--no-nodelay") {
            c.nodelay = false;
        } else if (a == "--help" || a == "-h") {
            usage("help");
        } else {
            usage(("unknown argument " + a).c_str());
        }
    }
    if (c.id == 0) usage("--id is required (>= 1)");
    if (c.address.empty()) usage("--address is required");
    if (c.dir.empty()) usage("--dir is required");
    return c;
}

// Registered with sqlite3_auto_extension: every connection dqlite opens gets eskit, with
// writes refused outside BEGIN ... COMMIT.
int eskit_host_init(sqlite3* db, char** err, const sqlite3_api_routines* api) {
    int rc = sqlite3_eskit_init(db, err, api);
    if (rc != SQLITE_OK) return rc;
    if (g_config.write_guard) {
        rc = eskit_set_option(db, ESKIT_OPTION_WRITES_NEED_TRANSACTION, 1);
        if (rc != SQLITE_OK && err) {
            *err = sqlite3_mprintf("eskit_set_option failed: %s", sqlite3_errstr(rc));
        }
    }
    return rc;
}

// dqlite_node_set_connect_func: the Raft connections to the other nodes, with TCP_NODELAY.
// With Nagle on, an AppendEntries message written while a heartbeat is unacknowledged waits
// for the peer's delayed ACK (~40 ms): that was the p99 of every commit. dqlite calls this
// from a worker thread; it may block.
int connect_nodelay(void*, const char* address, int* fd) {
    const std::string a = address;
    const size_t colon = a.rfind(':');
    if (colon == std::string::npos) return DQLITE_ERROR;
    const std::string host = a.substr(0, colon), port = a.substr(colon + 1);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return DQLITE_ERROR;
    int s = -1;
    for (addrinfo* ai = res; ai && s < 0; ai = ai->ai_next) {
        s = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (s < 0) continue;
        timeval tv{2, 0};  // bounded connect: dqlite retries failed peers itself
        ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (::connect(s, ai->ai_addr, ai->ai_addrlen) != 0) {
            ::close(s);
            s = -1;
            continue;
        }
        timeval none{0, 0};
        ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
        const int one = 1;
        ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ::freeaddrinfo(res);
    if (s < 0) return DQLITE_ERROR;
    *fd = s;
    return 0;
}

void mkdirs(const std::string& path) {
    for (size_t i = 1; i <= path.size(); ++i) {
        if (i == path.size() || path[i] == '/') {
            const std::string p = path.substr(0, i);
            if (::mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) {
                log("cannot create %s: %s", p.c_str(), std::strerror(errno));
                std::exit(1);
            }
        }
    }
}

void sleep_unless_stopping(std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (!g_stopping && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(20ms);
}

const char* role_name(ec::Role r) {
    switch (r) {
        case ec::Role::voter: return "voter";
        case ec::Role::standby: return "standby";
        case ec::Role::spare: return "spare";
    }
    return "?";
}

// Joins the cluster through --join: ADD, then ASSIGN the role, retried until done.
void join_loop() {
    ec::Options o;
    o.leader_timeout = 2s;
    o.request_timeout = 5s;
    std::string last_error;
    while (!g_stopping) {
        try {
            // Membership requests need no database: a leader connection without OPEN.
            ec::Connection leader = ec::connect_leader(g_config.join, o);
            std::vector<ec::NodeInfo> nodes = leader.cluster();
            const ec::NodeInfo* self = nullptr;
            for (const ec::NodeInfo& n : nodes) {
                if (n.id == g_config.id) self = &n;
            }
            if (self && self->address != g_config.address) {
                log("join: node id %llu is already in the cluster at %s; not joining",
                    static_cast<unsigned long long>(g_config.id), self->address.c_str());
                return;
            }
            if (!self) {
                leader.add(g_config.id, g_config.address);
                log("join: added to the cluster as spare");
            }
            if (!self || self->role != g_config.role) {
                if (g_config.role != ec::Role::spare) leader.assign(g_config.id, g_config.role);
                log("join: assigned role %s", role_name(g_config.role));
            } else {
                log("join: already a %s", role_name(self->role));
            }
            return;
        } catch (const ec::Error& e) {
            if (e.message() != last_error) log("join: %s (retrying)", e.message().c_str());
            last_error = e.message();
        }
        sleep_unless_stopping(500ms);
    }
}

// Polls this node's view of the leader and logs every change.
void leader_watch() {
    ec::Options o;
    o.connect_timeout = 500ms;
    o.request_timeout = 1s;
    std::optional<ec::Connection> conn;
    std::string last = "(unknown)";
    while (!g_stopping) {
        std::string now;
        try {
            if (!conn || !conn->usable()) conn.emplace(ec::Connection::dial(g_config.address, o));
            std::optional<ec::NodeInfo> l = conn->leader();
            if (!l) {
                now = "none";
            } else if (l->id == g_config.id) {
                now = "self";
            } else {
                now = "node " + std::to_string(l->id) + " at " + l->address;
            }
        } catch (const ec::Error&) {
            conn.reset();
            now = last;  // our own node did not answer: say nothing new
        }
        if (now != last) {
            if (now == "self")
                log("leadership: this node is now the leader");
            else if (now == "none")
                log("leadership: no leader known");
            else if (last == "self")
                log("leadership: lost; the leader is %s", now.c_str());
            else
                log("leadership: the leader is %s", now.c_str());
            last = now;
        }
        sleep_unless_stopping(100ms);
    }
}

}  // namespace

int main(int argc, char** argv) {
    g_config = parse(argc, argv);
    std::signal(SIGPIPE, SIG_IGN);
    // SIGTERM/SIGINT are taken by sigwait() below; blocked before any thread starts, so that
    // dqlite's threads inherit the mask and never receive them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    if (sqlite3_auto_extension(reinterpret_cast<void (*)()>(eskit_host_init)) != SQLITE_OK) {
        log("sqlite3_auto_extension failed");
        return 1;
    }
    mkdirs(g_config.dir);

    dqlite_node* node = nullptr;
    int rc = dqlite_node_create(g_config.id, g_config.address.c_str(), g_config.dir.c_str(), &node);
    if (rc != 0) {
        log("dqlite_node_create failed (%d)", rc);
        return 1;
    }
    rc = dqlite_node_set_bind_address(node, g_config.address.c_str());
    if (rc == 0 && g_config.nodelay)
        rc = dqlite_node_set_connect_func(node, connect_nodelay, nullptr);
    if (rc == 0 && g_config.latency_ms) {
        rc = dqlite_node_set_network_latency_ms(node, g_config.latency_ms);
    }
    if (rc != 0) {
        log("configuring the node failed: %s", dqlite_node_errmsg(node));
        dqlite_node_destroy(node);
        return 1;
    }
    rc = dqlite_node_start(node);
    if (rc != 0) {
        log("dqlite_node_start failed: %s", dqlite_node_errmsg(node));
        dqlite_node_destroy(node);
        return 1;
    }
    log("started: address %s, data %s, network latency %s ms, eskit writes %s",
        g_config.address.c_str(), g_config.dir.c_str(),
        g_config.latency_ms ? std::to_string(g_config.latency_ms).c_str() : "default",
        g_config.write_guard ? "need a transaction" : "UNGUARDED (test mode)");

    std::thread watcher(leader_watch);
    std::thread joiner;
    if (!g_config.join.empty()) joiner = std::thread(join_loop);

    int sig = 0;
    sigwait(&stop_signals, &sig);
    log("stopping (signal %d)", sig);
    g_stopping = true;
    if (joiner.joinable()) joiner.join();
    watcher.join();
    rc = dqlite_node_stop(node);
    if (rc != 0) log("dqlite_node_stop: %s", dqlite_node_errmsg(node));
    dqlite_node_destroy(node);
    log("stopped");
    return rc == 0 ? 0 : 1;
}
