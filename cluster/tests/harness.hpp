/*
** A local dqlite cluster of eskit-node child processes on loopback, for tests and the
** benchmark. Each node logs to <dir>/node-<id>.log; children die with the harness
** (PR_SET_PDEATHSIG), so a killed test leaves no node behind. Start, kill and restart nodes
** from the thread that created the cluster (the death signal follows the forking thread).
*/
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "eskit/cluster/client.hpp"

namespace eskit::cluster::test {

struct NodeProc {
    std::uint64_t id = 0;
    std::string address;
    std::string dir;  // data dir
    std::string log;  // stderr of every run of the node, appended
    pid_t pid = -1;
    int starts = 0;
};

struct ClusterOptions {
    int nodes = 3;
    unsigned latency_ms = 50;  // --latency-ms of every node (0: dqlite's default)
    bool write_guard = true;   // false: --no-write-guard (tests of the lost-write path)
    std::string binary;        // eskit-node; default: $ESKIT_NODE
    std::string base_dir;      // default: a new directory under $TMPDIR
    bool keep_dir = false;     // keep base_dir afterwards (also when $ESKIT_KEEP is set)
};

class LocalCluster {
  public:
    explicit LocalCluster(ClusterOptions options = {});
    ~LocalCluster();
    LocalCluster(const LocalCluster&) = delete;
    LocalCluster& operator=(const LocalCluster&) = delete;

    // Node 1 bootstraps; the others join it (ADD + ASSIGN voter); returns when every node is
    // a voter.
    void start_all(std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // (Re)starts node i (0-based) with its data dir and waits until it accepts connections.
    void start(size_t i);
    // Sends sig and reaps the process (SIGKILL: the node gets no chance to clean up).
    void kill(size_t i, int sig = 9);
    // SIGTERM, then waits; returns the exit status (as from waitpid) or -1.
    int stop(size_t i, std::chrono::milliseconds timeout = std::chrono::seconds(15));
    bool running(size_t i) const { return nodes_.at(i).pid > 0; }
    // Reaps nodes that exited on their own (a crash, an assertion); returns their indexes and
    // remembers them in crashed().
    std::vector<size_t> reap();
    const std::vector<std::string>& crashed() const { return crashed_; }

    size_t size() const { return nodes_.size(); }
    const NodeProc& node(size_t i) const { return nodes_.at(i); }
    std::vector<std::string> addresses() const;
    const std::string& base_dir() const { return options_.base_dir; }

    // The running node every running node agrees is the leader, waiting for an election.
    size_t leader_index(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // Until the cluster lists n voters.
    void wait_voters(size_t n, std::chrono::milliseconds timeout);
    // Makes node i the leader (TRANSFER through the current leader) and waits for it.
    void transfer_to(size_t i, std::chrono::milliseconds timeout = std::chrono::seconds(20));
    std::string log_tail(size_t i, int lines = 30) const;
    void print_logs(int lines = 30) const;

  private:
    ClusterOptions options_;
    std::vector<NodeProc> nodes_;
    bool bootstrapped_ = false;
    std::vector<std::string> crashed_;  // "node N: status S"
};

// A free TCP port on 127.0.0.1 (bound and released; unlikely to be taken before the node binds).
int free_port();
// Microseconds of a steady clock, for latencies.
std::int64_t now_us();

}  // namespace eskit::cluster::test
