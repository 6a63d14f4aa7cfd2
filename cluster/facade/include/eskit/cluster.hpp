// eskit::connect_cluster: a Database whose connections run on a dqlite cluster of eskit-node
// hosts (issue 13) instead of a local file. Store<E>, Transaction, CheckpointStore, snapshots
// and subscriptions run unchanged over it:
//
//     eskit::Database db = eskit::connect_cluster({"127.0.0.1:9001", "127.0.0.1:9002",
//                                                  "127.0.0.1:9003"});
//     eskit::Store<OrderEvent> store(db);
//     store.append("order-17", eskit::NoStream{}, {OrderPlaced{25}});  // replicated, exactly once
//
// Why a library of its own (eskit_cluster_facade, linking libeskit and libeskit_cluster) and
// not a member of Database: libeskit stays free of the network client and builds the same with
// or without libdqlite-dev, and a program that asks for a cluster without this library fails
// to link instead of failing at run time. The header includes neither dqlite nor SQLite.
//
// What differs from a file (see cluster_backend.cpp):
//   - every statement runs on the leader (reads too: dqlite serves no reads on followers);
//   - an append without an idempotency key gets a generated one, and a commit whose answer was
//     lost (leader killed, connection dropped) is settled through it: retried until a definite
//     answer, so an acknowledged append is stored exactly once;
//   - a Transaction whose commit could not be confirmed is settled the same way through its
//     first append: commit() returns if it did commit and throws eskit::StorageError (nothing
//     written, run it again) if not; one without appends throws StorageError (outcome unknown);
//   - Notifier's Watch mode polls es_head() (es_wait refuses on a replicated host); archiving
//     into an attached database or another store, and Database::handle(), are not available.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <eskit/database.hpp>

namespace eskit {

struct ClusterOptions {
    std::string database = "eskit";  // the dqlite database name (OPEN)
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds request_timeout{5000};  // one request's answer
    std::chrono::milliseconds leader_timeout{10000};  // finding a leader (an election)
    // How long an append keeps retrying for a definite answer across leader changes before it
    // fails with StorageError (outcome unknown; append again with the same key to settle).
    std::chrono::milliseconds append_deadline{60000};
    int readers = 2;  // read connections to the leader (0: reads share the write connection)
};

// Connects to the cluster through any of its nodes ("host:port"); throws eskit::StorageError
// when no leader answers within options.leader_timeout.
Database connect_cluster(std::vector<std::string> addresses, const ClusterOptions& options = {});

}  // namespace eskit
