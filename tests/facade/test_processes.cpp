// A subscription consumer in another process, killed (SIGKILL) and restarted again and again
// while a writer process appends: while it catches up on a backlog and while it is live. At the
// end every event of the log was applied exactly once (transactional delivery: the read model's
// rows and the checkpoint commit together) or at least once with no gap (at-least-once), checked
// against the log by seq. Both processes are tests/facade/helper.cpp; the run is bounded in time
// (about 3 s of writing, a dozen kills).
#include <signal.h>

#include <random>

#include "support.hpp"

using namespace ft;

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

// Waits at most `limit` for the process; kills it when it is still running then.
int wait_bounded(pid_t pid, milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
        int status = 0;
        const pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (Clock::now() > deadline) {
            kill(pid, SIGKILL);
            wait_exit(pid);
            return -1;
        }
        std::this_thread::sleep_for(milliseconds(10));
    }
}

}  // namespace

TEST_CASE("Subscription across processes: a consumer killed and restarted while a writer appends") {
    for (const char* delivery : {"transactional", "at-least-once"}) {
        SUBCASE(delivery) {
            TempDir tmp;
            const std::string path = tmp.file("shared.db");
            {
                auto db = eskit::Database::open(
                    path);  // the schema, before two processes race to make it
                db.execute("CREATE TABLE applied(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
            }
            constexpr int kEvents = 2000;
            const pid_t writer = spawn_helper({"append", path, std::to_string(kEvents), "1000"});
            std::this_thread::sleep_for(milliseconds(300));  // a backlog to catch up on

            std::mt19937 rng(12345);
            std::uniform_int_distribution<int> life(20, 250);
            int kills = 0;
            int writer_rc = -2;
            while (kills < 30) {
                const pid_t consumer = spawn_helper({"consume", path, "proj", delivery});
                std::this_thread::sleep_for(milliseconds(life(rng)));
                kill(consumer, SIGKILL);
                CHECK(wait_exit(consumer) == 128 + SIGKILL);
                ++kills;
                int status = 0;
                if (waitpid(writer, &status, WNOHANG) == writer) {
                    writer_rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                    if (kills >= 8) break;
                }
            }
            if (writer_rc == -2) writer_rc = wait_bounded(writer, milliseconds(60000));
            CHECK(writer_rc == 0);
            CHECK(kills >= 8);

            // The last consumer runs until it has handled the whole log.
            int64_t head = 0;
            {
                auto db = eskit::Database::open(path);
                head = db.head();
            }
            CHECK(head == kEvents);
            const pid_t last =
                spawn_helper({"consume", path, "proj", delivery, std::to_string(head)});
            CHECK(wait_bounded(last, milliseconds(60000)) == 0);

            auto db = eskit::Database::open(path);
            CHECK(eskit::CheckpointStore(db).get("proj") == head);
            // Every event of the log was applied: no seq of es_events without its row, none extra.
            CHECK(scalar(db,
                         "SELECT count(*) FROM es_events e WHERE NOT EXISTS "
                         "(SELECT 1 FROM applied a WHERE a.seq = e.seq)") == 0);
            CHECK(scalar(db,
                         "SELECT count(*) FROM applied a WHERE NOT EXISTS "
                         "(SELECT 1 FROM es_events e WHERE e.seq = a.seq)") == 0);
            CHECK(scalar(db, "SELECT count(*) FROM applied") == head);
            const int64_t repeated = scalar(db, "SELECT count(*) FROM applied WHERE n > 1");
            MESSAGE(std::string(delivery)
                    << ": " << kills << " kills, " << repeated << " events applied more than once");
            if (std::string(delivery) == "transactional") {
                CHECK(repeated == 0);  // exactly once
            }
            CHECK(scalar(db, "SELECT count(*) FROM applied WHERE n < 1") == 0);
        }
    }
}
