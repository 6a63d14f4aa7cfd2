// eskit::CheckpointStore: get (0 for an unknown consumer), set (also backwards, for rebuilds),
// compare-and-set and its conflict with the two positions in the exception's fields, and a CAS
// inside a Transaction rolled back with it.
#include <sqlite3.h>

#include "support.hpp"

using namespace ft;

TEST_CASE("CheckpointStore") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::CheckpointStore cp(env.db);

            SUBCASE("get and set") {
                CHECK(cp.get("proj") == 0);
                cp.set("proj", 42);
                CHECK(cp.get("proj") == 42);
                cp.set("proj", 7);  // backwards: a rebuild
                CHECK(cp.get("proj") == 7);
                CHECK(cp.get("other") == 0);
                CHECK(scalar(env.db, "SELECT seq FROM es_checkpoints WHERE consumer = 'proj'") ==
                      7);
            }
            SUBCASE("compare-and-set") {
                cp.compare_and_set("proj", 0, 10);  // unknown counts as 0
                CHECK(cp.get("proj") == 10);
                cp.compare_and_set("proj", 10, 20);
                CHECK(cp.get("proj") == 20);
            }
            SUBCASE("a CAS conflict carries the expected and the stored position") {
                cp.set("proj", 5);
                auto e =
                    thrown<eskit::ConcurrencyConflict>([&] { cp.compare_and_set("proj", 3, 9); });
                CHECK(e.code() == eskit::Code::Conflict);
                CHECK(e.sqlite_code() == SQLITE_CONSTRAINT);
                CHECK(e.expected() == 3);
                CHECK(e.actual() == 5);
                CHECK(e.stream().empty());
                CHECK(std::string(e.what()) == "conflict: checkpoint 'proj' is at 5, expected 3");
                CHECK(cp.get("proj") == 5);
            }
            SUBCASE("inside a Transaction: rolled back with it") {
                cp.set("proj", 5);
                {
                    eskit::Transaction tx = env.db.begin();
                    cp.compare_and_set("proj", 5, 6);
                    CHECK(cp.get("proj") == 6);  // the thread reads its own transaction
                }
                CHECK(cp.get("proj") == 5);
            }
            SUBCASE("a negative position is refused") {
                auto e = thrown<eskit::InvalidArgument>([&] { cp.set("proj", -1); });
                CHECK(e.code() == eskit::Code::InvalidArgument);
            }
        }
    }
}
