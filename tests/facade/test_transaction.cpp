// eskit::Transaction: commit, rollback in the destructor, nested transactions as savepoints,
// store calls joining the thread's transaction, other threads' writes waiting for it, and the
// misuse it refuses (committing an outer one while an inner one is open, committing twice).
#include <atomic>

#include "support.hpp"

using namespace ft;

TEST_CASE("Transaction") {
    for (const Kind kind : kKinds) {
        SUBCASE(name_of(kind)) {
            Env env(kind);
            eskit::Database& db = env.db;
            eskit::Store<OrderEvent> store(db);
            db.execute("CREATE TABLE model(k TEXT PRIMARY KEY, v INTEGER)");

            SUBCASE("commit: the application's rows and the appends are kept together") {
                {
                    eskit::Transaction tx = db.begin();
                    CHECK(tx.active());
                    store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 3}});
                    db.execute("INSERT INTO model VALUES ('order-1', 3)");
                    tx.commit();
                    CHECK_FALSE(tx.active());
                }
                CHECK(store.load("order-1").collect().size() == 1);
                CHECK(scalar(db, "SELECT v FROM model WHERE k = 'order-1'") == 3);
                if (env.file()) {  // another connection sees the commit
                    auto other = eskit::Database::open(env.path);
                    CHECK(scalar(other, "SELECT count(*) FROM es_events") == 1);
                    CHECK(scalar(other, "SELECT count(*) FROM model") == 1);
                }
            }
            SUBCASE("the destructor rolls back what was not committed, appends included") {
                store.append("order-0", eskit::NoStream{}, {Placed{"o-0", 1}});
                {
                    eskit::Transaction tx = db.begin();
                    auto rec = store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 3}});
                    CHECK(rec.at(0).seq == 2);
                    db.execute("INSERT INTO model VALUES ('order-1', 3)");
                    // Inside, the thread reads its own writes.
                    CHECK(store.load("order-1").collect().size() == 1);
                    CHECK(store.latest_sequence() == 2);
                }
                CHECK(store.status("order-1") == eskit::StreamStatus::None);
                CHECK(scalar(db, "SELECT count(*) FROM model") == 0);
                CHECK(store.latest_sequence() == 1);
                // The rolled-back position is free again: the next append takes seq 2.
                CHECK(store.append("order-2", eskit::NoStream{}, {Placed{"o-2", 1}}).at(0).seq ==
                      2);
            }
            SUBCASE("rollback() ends it early; a second rollback or the destructor does nothing") {
                eskit::Transaction tx = db.begin();
                db.execute("INSERT INTO model VALUES ('a', 1)");
                tx.rollback();
                CHECK_FALSE(tx.active());
                tx.rollback();
                CHECK(scalar(db, "SELECT count(*) FROM model") == 0);
                // The writer is free again: a write from this thread outside any transaction.
                db.execute("INSERT INTO model VALUES ('b', 1)");
                CHECK(scalar(db, "SELECT count(*) FROM model") == 1);
            }
            SUBCASE("nested: an inner transaction is a savepoint of the outer one") {
                {
                    eskit::Transaction outer = db.begin();
                    db.execute("INSERT INTO model VALUES ('a', 1)");
                    store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
                    {
                        eskit::Transaction inner = db.begin();  // rolled back
                        db.execute("INSERT INTO model VALUES ('b', 2)");
                        store.append("order-1", eskit::Exact{1}, {Paid{10}});
                    }
                    CHECK(store.load("order-1").collect().size() == 1);
                    {
                        eskit::Transaction inner = db.begin();  // released into the outer one
                        db.execute("INSERT INTO model VALUES ('c', 3)");
                        store.append("order-1", eskit::Exact{1}, {Paid{20}});
                        {
                            eskit::Transaction innermost = db.begin();
                            db.execute("INSERT INTO model VALUES ('d', 4)");
                            innermost.commit();
                        }
                        inner.commit();
                    }
                    outer.commit();
                }
                std::vector<std::string> keys;
                db.query("SELECT k FROM model ORDER BY k", {},
                         [&](const eskit::Row& r) { keys.emplace_back(r.text(0)); });
                CHECK(keys == std::vector<std::string>{"a", "c", "d"});
                auto events = store.load("order-1").collect();
                REQUIRE(events.size() == 2);
                CHECK(std::get<Paid>(events[1].data).cents == 20);
                CHECK(events[1].version == 2);
                CHECK(events[1].seq == 2);
            }
            SUBCASE("an inner savepoint rolled back does not end the outer transaction") {
                eskit::Transaction outer = db.begin();
                {
                    eskit::Transaction inner = db.begin();
                    inner.rollback();
                }
                CHECK(outer.active());
                db.execute("INSERT INTO model VALUES ('a', 1)");
                outer.commit();
                CHECK(scalar(db, "SELECT count(*) FROM model") == 1);
            }
            SUBCASE("committing an outer transaction while an inner one is open is refused") {
                eskit::Transaction outer = db.begin();
                db.execute("INSERT INTO model VALUES ('a', 1)");
                eskit::Transaction inner = db.begin();
                db.execute("INSERT INTO model VALUES ('b', 2)");
                auto e = thrown<eskit::InvalidArgument>([&] { outer.commit(); });
                CHECK(e.code() == eskit::Code::InvalidArgument);
                CHECK(e.sqlite_code() == 21);  // SQLITE_MISUSE
                CHECK(std::string(e.what()) ==
                      "eskit: Transaction::commit() of an outer transaction while an inner one is "
                      "open");
                CHECK(outer.active());  // nothing happened: both still open
                CHECK(inner.active());
                inner.commit();
                outer.commit();
                CHECK(scalar(db, "SELECT count(*) FROM model") == 2);
            }
            SUBCASE("a COMMIT that fails leaves the transaction open; its destructor rolls back") {
                // A deferred foreign key is checked at COMMIT.
                db.execute("PRAGMA foreign_keys = ON");
                db.execute("CREATE TABLE parent(id INTEGER PRIMARY KEY)");
                db.execute(
                    "CREATE TABLE child(pid INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY "
                    "DEFERRED)");
                eskit::Notifier notifier(db);
                {
                    eskit::Transaction tx = db.begin();
                    store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
                    db.execute("INSERT INTO child VALUES (42)");
                    auto e = thrown<eskit::StorageError>([&] { tx.commit(); });
                    CHECK(e.sqlite_code() == 787);  // SQLITE_CONSTRAINT_FOREIGNKEY
                    CHECK(std::string(e.what()) == "FOREIGN KEY constraint failed");
                    CHECK(tx.active());
                }
                CHECK(store.status("order-1") == eskit::StreamStatus::None);
                CHECK(scalar(db, "SELECT count(*) FROM child") == 0);
                CHECK(notifier.head() == 0);  // never told
                // The writer is free again.
                CHECK(store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}}).at(0).seq ==
                      1);
            }
            SUBCASE("commit after the end is refused") {
                eskit::Transaction tx = db.begin();
                tx.commit();
                auto e = thrown<eskit::InvalidArgument>([&] { tx.commit(); });
                CHECK(std::string(e.what()) == "eskit: the transaction has ended");
            }
            SUBCASE("a moved transaction commits through its new owner") {
                eskit::Transaction a = db.begin();
                db.execute("INSERT INTO model VALUES ('a', 1)");
                eskit::Transaction b = std::move(a);
                CHECK_FALSE(a.active());
                CHECK(b.active());
                b.commit();
                CHECK(scalar(db, "SELECT count(*) FROM model") == 1);
            }
            SUBCASE("another thread's writes wait until the transaction ends") {
                std::atomic<bool> appended{false};
                int64_t other_seq = 0;
                eskit::Transaction tx = db.begin();
                auto mine = store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
                std::thread other([&] {
                    other_seq =
                        store.append("order-2", eskit::NoStream{}, {Placed{"o-2", 2}}).at(0).seq;
                    db.execute("INSERT INTO model VALUES ('other', 1)");
                    appended = true;
                });
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
                CHECK_FALSE(appended.load());
                tx.commit();
                other.join();
                CHECK(appended.load());
                CHECK(other_seq == mine.at(0).seq + 1);
                CHECK(scalar(db, "SELECT count(*) FROM model") == 1);
            }
            SUBCASE("another thread's transaction waits for this one") {
                std::atomic<bool> began{false};
                eskit::Transaction tx = db.begin();
                std::thread other([&] {
                    eskit::Transaction theirs =
                        db.begin();  // a transaction of its own, not a savepoint
                    began = true;
                    db.execute("INSERT INTO model VALUES ('theirs', 1)");
                    theirs.commit();
                });
                std::this_thread::sleep_for(std::chrono::milliseconds(150));
                CHECK_FALSE(began.load());
                db.execute("INSERT INTO model VALUES ('mine', 1)");
                tx.rollback();  // theirs is unaffected by my rollback
                other.join();
                CHECK(scalar(db, "SELECT count(*) FROM model") == 1);
                CHECK(text(db, "SELECT k FROM model") == "theirs");
            }
        }
    }
}

TEST_CASE("Transaction: readers of a file database do not wait for a writer's transaction") {
    Env env(Kind::File);
    eskit::Store<OrderEvent> store(env.db);
    store.append("order-1", eskit::NoStream{}, {Placed{"o-1", 1}});
    eskit::Transaction tx = env.db.begin();
    store.append("order-1", eskit::Exact{1}, {Paid{1}});
    size_t seen = 0;
    std::thread reader([&] { seen = store.load("order-1").collect().size(); });
    reader.join();     // returns while the transaction is open (a pooled read connection)
    CHECK(seen == 1);  // and sees only what is committed
    tx.commit();
    CHECK(store.load("order-1").collect().size() == 2);
}
