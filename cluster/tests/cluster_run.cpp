/*
** cluster-run: starts a local cluster of eskit-node processes on loopback and runs a command
** with ESKIT_CLUSTER=addr1,addr2,addr3 in its environment; the nodes stop when it ends.
** Without a command it prints the addresses and keeps the cluster up until SIGINT/SIGTERM.
**
**   cluster-run [--nodes N] [--latency-ms N] [--node PATH] [--dir DIR] [-- command args...]
**
** Exit status: the command's (77 if it cannot be started), or 1 if the cluster cannot start.
*/
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "harness.hpp"

namespace ec = eskit::cluster;

int main(int argc, char** argv) {
    ec::test::ClusterOptions o;
    int i = 1;
    for (; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "cluster-run: %s needs a value\n", a.c_str());
            return 2;
        }
        if (a == "--nodes")
            o.nodes = std::atoi(argv[++i]);
        else if (a == "--latency-ms")
            o.latency_ms = static_cast<unsigned>(std::atoi(argv[++i]));
        else if (a == "--node")
            o.binary = argv[++i];
        else if (a == "--dir")
            o.base_dir = argv[++i];
        else {
            std::fprintf(stderr,
                         "usage: cluster-run [--nodes N] [--latency-ms N] [--node PATH] "
                         "[--dir DIR] [-- command args...]\n");
            return 2;
        }
    }
    if (o.binary.empty() && !std::getenv("ESKIT_NODE")) {
        // Next to this program in the build tree.
        std::string self = argv[0];
        const size_t slash = self.rfind('/');
        o.binary = (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) +
                   "/../eskit-node";
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    try {
        ec::test::LocalCluster lc(o);
        lc.start_all();
        std::string joined;
        for (const std::string& a : lc.addresses()) joined += (joined.empty() ? "" : ",") + a;
        ::setenv("ESKIT_CLUSTER", joined.c_str(), 1);
        std::printf("cluster-run: %d nodes up at %s (data and logs in %s)\n", o.nodes,
                    joined.c_str(), lc.base_dir().c_str());
        std::fflush(stdout);
        if (i >= argc) {
            ::sigprocmask(SIG_BLOCK, &stop, nullptr);
            int sig = 0;
            sigwait(&stop, &sig);
            for (size_t k = 0; k < lc.size(); ++k) lc.stop(k);
            return 0;
        }
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::execvp(argv[i], argv + i);
            std::fprintf(stderr, "cluster-run: cannot run %s: %s\n", argv[i], std::strerror(errno));
            ::_exit(77);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        lc.reap();
        for (const std::string& c : lc.crashed())
            std::fprintf(stderr, "cluster-run: %s\n", c.c_str());
        if (!lc.crashed().empty()) {
            lc.print_logs();
            return 1;
        }
        for (size_t k = 0; k < lc.size(); ++k) lc.stop(k);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "cluster-run: %s\n", e.what());
        return 1;
    }
}
