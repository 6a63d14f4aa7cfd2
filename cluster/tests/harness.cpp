#include "harness.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace eskit::cluster::test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot bind a loopback port");
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
        .count();
}

LocalCluster::LocalCluster(ClusterOptions options) : options_(std::move(options)) {
    if (options_.binary.empty()) {
        const char* b = std::getenv("ESKIT_NODE");
        if (!b) throw std::runtime_error("set ESKIT_NODE to the eskit-node binary");
        options_.binary = b;
    }
    if (std::getenv("ESKIT_KEEP")) options_.keep_dir = true;
    if (options_.base_dir.empty()) {
        const char* tmp = std::getenv("TMPDIR");
        std::string templ = std::string(tmp ? tmp : "/tmp") + "/eskit-cluster-XXXXXX";
        if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
        options_.base_dir = templ;
    } else {
        std::filesystem::create_directories(options_.base_dir);
    }
    for (int i = 0; i < options_.nodes; ++i) {
        NodeProc n;
        n.id = static_cast<std::uint64_t>(i + 1);
        n.address = "127.0.0.1:" + std::to_string(free_port());
        n.dir = options_.base_dir + "/node-" + std::to_string(n.id);
        n.log = options_.base_dir + "/node-" + std::to_string(n.id) + ".log";
        nodes_.push_back(n);
    }
}

LocalCluster::~LocalCluster() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
        if (running(i)) kill(i);
    }
    if (!options_.keep_dir) {
        std::error_code ec;
        std::filesystem::remove_all(options_.base_dir, ec);
    } else {
        std::fprintf(stderr, "cluster files kept in %s\n", options_.base_dir.c_str());
    }
}

std::vector<std::string> LocalCluster::addresses() const {
    std::vector<std::string> out;
    for (const NodeProc& n : nodes_) out.push_back(n.address);
    return out;
}

void LocalCluster::start(size_t i) {
    NodeProc& n = nodes_.at(i);
    if (n.pid > 0) throw std::runtime_error("node already running");
    std::vector<std::string> args = {
        options_.binary, "--id", std::to_string(n.id), "--address", n.address, "--dir", n.dir};
    if (options_.latency_ms) {
        args.push_back("--latency-ms");
        args.push_back(std::to_string(options_.latency_ms));
    }
    if (!options_.write_guard) args.push_back("--no-write-guard");
    // Node 1's first start bootstraps; every other start joins through the other nodes (a
    // restarted member finds itself already a voter and does nothing).
    if (bootstrapped_ || n.id != 1) {
        std::string join;
        for (const NodeProc& o : nodes_) {
            if (o.id == n.id) continue;
            if (!join.empty()) join += ',';
            join += o.address;
        }
        args.push_back("--join");
        args.push_back(join);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        const int fd = ::open(n.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            ::close(fd);
        }
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execv(argv[0], argv.data());
        std::fprintf(stderr, "exec %s: %s\n", argv[0], std::strerror(errno));
        ::_exit(127);
    }
    n.pid = pid;
    ++n.starts;
    if (n.id == 1) bootstrapped_ = true;
    // Until it accepts connections.
    const auto deadline = Clock::now() + 10s;
    Options o;
    o.connect_timeout = 200ms;
    for (;;) {
        try {
            Connection::dial(n.address, o).leader();
            return;
        } catch (const Error&) {
        }
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            n.pid = -1;
            throw std::runtime_error("node " + std::to_string(n.id) + " exited at start:\n" +
                                     log_tail(i));
        }
        if (Clock::now() > deadline) {
            throw std::runtime_error("node " + std::to_string(n.id) + " does not listen:\n" +
                                     log_tail(i));
        }
        std::this_thread::sleep_for(20ms);
    }
}

void LocalCluster::kill(size_t i, int sig) {
    NodeProc& n = nodes_.at(i);
    if (n.pid <= 0) return;
    ::kill(n.pid, sig);
    int status = 0;
    ::waitpid(n.pid, &status, 0);
    n.pid = -1;
}

int LocalCluster::stop(size_t i, std::chrono::milliseconds timeout) {
    NodeProc& n = nodes_.at(i);
    if (n.pid <= 0) return -1;
    ::kill(n.pid, SIGTERM);
    const auto deadline = Clock::now() + timeout;
    int status = 0;
    for (;;) {
        if (::waitpid(n.pid, &status, WNOHANG) == n.pid) break;
        if (Clock::now() > deadline) {
            ::kill(n.pid, SIGKILL);
            ::waitpid(n.pid, &status, 0);
            n.pid = -1;
            return -1;
        }
        std::this_thread::sleep_for(10ms);
    }
    n.pid = -1;
    return status;
}

std::vector<size_t> LocalCluster::reap() {
    std::vector<size_t> out;
    for (size_t i = 0; i < nodes_.size(); ++i) {
        NodeProc& n = nodes_[i];
        int status = 0;
        if (n.pid > 0 && ::waitpid(n.pid, &status, WNOHANG) == n.pid) {
            n.pid = -1;
            out.push_back(i);
            const std::string how = WIFSIGNALED(status)
                                        ? "killed by signal " + std::to_string(WTERMSIG(status))
                                        : "exit status " + std::to_string(WEXITSTATUS(status));
            crashed_.push_back("node " + std::to_string(n.id) + ": " + how);
        }
    }
    return out;
}

void LocalCluster::start_all(std::chrono::milliseconds timeout) {
    start(0);
    leader_index(timeout);
    for (size_t i = 1; i < nodes_.size(); ++i) start(i);
    wait_voters(nodes_.size(), timeout);
}

size_t LocalCluster::leader_index(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    Options o;
    o.connect_timeout = 200ms;
    o.request_timeout = 1s;
    for (;;) {
        reap();
        // A leader is a running node that names itself, named by every running node.
        std::optional<size_t> found;
        bool agreed = true;
        for (size_t i = 0; i < nodes_.size() && agreed; ++i) {
            if (!running(i)) continue;
            try {
                std::optional<NodeInfo> l = Connection::dial(nodes_[i].address, o).leader();
                if (!l) {
                    agreed = false;
                    break;
                }
                size_t idx = nodes_.size();
                for (size_t k = 0; k < nodes_.size(); ++k) {
                    if (nodes_[k].address == l->address) idx = k;
                }
                if (idx == nodes_.size() || !running(idx) || (found && *found != idx)) {
                    agreed = false;
                } else {
                    found = idx;
                }
            } catch (const Error&) {
                agreed = false;
            }
        }
        if (agreed && found) return *found;
        if (Clock::now() > deadline) throw std::runtime_error("no leader elected in time");
        std::this_thread::sleep_for(25ms);
    }
}

void LocalCluster::wait_voters(size_t n, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string last;
    for (;;) {
        try {
            Options o;
            o.leader_timeout = 2s;
            Client c(addresses(), o);
            size_t voters = 0;
            for (const NodeInfo& info : c.nodes()) {
                if (info.role == Role::voter) ++voters;
            }
            if (voters == n) return;
            last = std::to_string(voters) + " voters";
        } catch (const Error& e) {
            last = e.message();
        }
        if (Clock::now() > deadline) {
            print_logs();
            throw std::runtime_error("cluster does not reach " + std::to_string(n) +
                                     " voters: " + last);
        }
        std::this_thread::sleep_for(50ms);
    }
}

void LocalCluster::transfer_to(size_t i, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        const size_t l = leader_index(timeout);
        if (l == i) return;
        try {
            Options o;
            Connection c = Connection::dial(nodes_[l].address, o);
            c.transfer(nodes_.at(i).id);
        } catch (const Error&) {
            // An election is under way, or the node is catching up: ask again.
        }
        if (Clock::now() > deadline) {
            throw std::runtime_error("leadership does not move to node " +
                                     std::to_string(nodes_[i].id));
        }
        std::this_thread::sleep_for(100ms);
    }
}

std::string LocalCluster::log_tail(size_t i, int lines) const {
    std::ifstream in(nodes_.at(i).log);
    std::deque<std::string> tail;
    std::string line;
    while (std::getline(in, line)) {
        tail.push_back(line);
        if (static_cast<int>(tail.size()) > lines) tail.pop_front();
    }
    std::string out;
    for (const std::string& l : tail) out += "    " + l + "\n";
    return out;
}

void LocalCluster::print_logs(int lines) const {
    for (size_t i = 0; i < nodes_.size(); ++i) {
        std::fprintf(stderr, "--- node %llu log (last %d lines)\n%s",
                     static_cast<unsigned long long>(nodes_[i].id), lines,
                     log_tail(i, lines).c_str());
    }
}

}  // namespace eskit::cluster::test
