/*
** Unit tests of cluster/ that need no running node: the wire encoding of parameters and the
** decoding of rows (byte by byte, against the layout of dqlite's protocol description), the
** JSON helpers, and the host options of eskit_core (eskit_set_option, es_last_error) on a
** plain SQLite connection.
*/
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cstring>
#include <string>
#include <vector>

#include "eskit.h"
#include "eskit/cluster/client.hpp"
#include "json.hpp"
#include "wire.hpp"

namespace ec = eskit::cluster;
using Bytes = std::vector<std::uint8_t>;

namespace {

void put64(Bytes& b, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void put_text(Bytes& b, const std::string& s) {
    b.insert(b.end(), s.begin(), s.end());
    b.push_back(0);
    while (b.size() % 8) b.push_back(0);
}

}  // namespace

TEST_CASE("parameters: header of count and types, then word-aligned values") {
    const ec::Blob blob = {0x00, 0x01, 0xff};
    const std::vector<ec::Value> params = {ec::Value(std::int64_t{-2}), ec::Value(1.5),
                                           ec::Value("abcdefgh"), ec::Value(blob),
                                           ec::Value(nullptr)};
    const Bytes got = ec::wire::encode_params_for_test(params);

    Bytes body;
    // Header: count 5, types 1 2 3 4 5, padded to one word.
    for (std::uint8_t b : {5, 1, 2, 3, 4, 5, 0, 0}) body.push_back(b);
    put64(body, static_cast<std::uint64_t>(std::int64_t{-2}));
    double d = 1.5;
    std::uint64_t bits;
    std::memcpy(&bits, &d, 8);
    put64(body, bits);
    put_text(body, "abcdefgh");  // 8 bytes + NUL: two words
    put64(body, 3);
    for (std::uint8_t b : {0x00, 0x01, 0xff, 0, 0, 0, 0, 0}) body.push_back(b);
    put64(body, 0);  // NULL: a zero word

    Bytes want = {static_cast<std::uint8_t>(body.size() / 8), 0, 0, 0, ec::wire::kExecSql, 0, 0, 0};
    want.insert(want.end(), body.begin(), body.end());
    CHECK(got == want);
}

TEST_CASE("parameters: more than 7 grow the header by words; no parameters is one zero word") {
    std::vector<ec::Value> params(9, ec::Value(std::int64_t{7}));
    const Bytes got = ec::wire::encode_params_for_test(params);
    // 1 count byte + 9 type bytes = 10 -> two header words, then 9 value words.
    REQUIRE(got.size() == 8 + 16 + 9 * 8);
    CHECK(got[0] == 11);
    CHECK(got[8] == 9);
    for (int i = 0; i < 9; ++i) CHECK(got[9 + i] == ec::wire::kInteger);
    for (int i = 18; i < 24; ++i) CHECK(got[i] == 0);

    const Bytes none = ec::wire::encode_params_for_test({});
    CHECK(none == Bytes{1, 0, 0, 0, ec::wire::kExecSql, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});

    std::vector<ec::Value> too_many(256, ec::Value(1));
    CHECK_THROWS_AS(ec::wire::encode_params_for_test(too_many), std::invalid_argument);
    const std::vector<ec::Value> nul = {ec::Value(std::string("a\0b", 3))};
    CHECK_THROWS_AS(ec::wire::encode_params_for_test(nul), std::invalid_argument);
}

TEST_CASE("rows: 4-bit types, low nibble first; a PART marker says more batches follow") {
    Bytes b;
    put64(b, 3);  // columns
    put_text(b, "id");
    put_text(b, "name");
    put_text(b, "data");
    // Row 1: integer, text, blob -> nibbles 1,3 | 4 -> bytes 0x31 0x04.
    for (std::uint8_t x : {0x31, 0x04, 0, 0, 0, 0, 0, 0}) b.push_back(x);
    put64(b, 42);
    put_text(b, "é");
    put64(b, 2);
    for (std::uint8_t x : {0xde, 0xad, 0, 0, 0, 0, 0, 0}) b.push_back(x);
    // Row 2: null, float, boolean -> 5,2 | 11 -> 0x25 0x0b.
    for (std::uint8_t x : {0x25, 0x0b, 0, 0, 0, 0, 0, 0}) b.push_back(x);
    put64(b, 0);
    double d = -0.25;
    std::uint64_t bits;
    std::memcpy(&bits, &d, 8);
    put64(b, bits);
    put64(b, 1);
    put64(b, 0xeeeeeeeeeeeeeeeeull);

    ec::Result r;
    ec::wire::Decoder dec(b.data(), b.size());
    CHECK(ec::wire::decode_rows(dec, r) == true);
    CHECK(dec.at_end());
    CHECK(r.columns == std::vector<std::string>{"id", "name", "data"});
    REQUIRE(r.rows.size() == 2);
    CHECK(r.rows[0] == ec::Row{ec::Value(42), ec::Value("é"), ec::Value(ec::Blob{0xde, 0xad})});
    CHECK(r.rows[1] == ec::Row{ec::Value(nullptr), ec::Value(-0.25), ec::Value(1)});

    Bytes done;
    put64(done, 1);
    put_text(done, "x");
    put64(done, 0xffffffffffffffffull);
    ec::wire::Decoder dec2(done.data(), done.size());
    CHECK(ec::wire::decode_rows(dec2, r) == false);
    CHECK(r.rows.size() == 2);  // rows are appended across batches

    Bytes cut(b.begin(), b.begin() + 40);
    ec::wire::Decoder dec3(cut.data(), cut.size());
    ec::Result r3;
    CHECK_THROWS_AS(ec::wire::decode_rows(dec3, r3), ec::Error);
}

TEST_CASE("rows: 17 columns need two header words") {
    Bytes b;
    put64(b, 17);
    for (int i = 0; i < 17; ++i) put_text(b, "c" + std::to_string(i));
    Bytes header(16, 0);
    for (int i = 0; i < 17; ++i) header[i / 2] |= static_cast<std::uint8_t>(1 << (4 * (i % 2)));
    b.insert(b.end(), header.begin(), header.end());
    for (int i = 0; i < 17; ++i) put64(b, static_cast<std::uint64_t>(i * 10));
    put64(b, 0xffffffffffffffffull);
    ec::Result r;
    ec::wire::Decoder dec(b.data(), b.size());
    CHECK(ec::wire::decode_rows(dec, r) == false);
    REQUIRE(r.rows.size() == 1);
    for (int i = 0; i < 17; ++i) CHECK(r.rows[0][i].as_int() == i * 10);
}

TEST_CASE("json helpers read es_last_error objects and quote keys") {
    const std::string j =
        R"({"code":"conflict","sqlite_code":19,"nested":{"a":[1,"}"]},"message":"conflict: stream 'o-1' \"q\" \u00e9\n"})";
    CHECK(ec::json::string_field(j, "code") == "conflict");
    CHECK(ec::json::int_field(j, "sqlite_code") == 19);
    CHECK(ec::json::string_field(j, "message") == "conflict: stream 'o-1' \"q\" é\n");
    CHECK(!ec::json::string_field(j, "missing"));
    CHECK(!ec::json::int_field(j, "code"));
    std::string q;
    ec::json::quote(q, "a\"b\\c\x01");
    CHECK(q == R"("a\"b\\c\u0001")");
    ec::AppendRequest req;
    req.idempotency_key = "k\"1";
    req.timestamp = 17;
    req.metadata = R"({"trace":"t"})";
    CHECK(ec::append_options_json(req) ==
          R"({"idempotency_key":"k\"1","timestamp":17,"metadata":{"trace":"t"}})");
    const std::string k = ec::make_idempotency_key();
    CHECK(k.size() == 35);
    CHECK(k.rfind("ek-", 0) == 0);
    CHECK(k != ec::make_idempotency_key());
}

TEST_CASE("errors: which are retried") {
    using K = ec::Error::Kind;
    CHECK(ec::Error(K::connection, 0, "x").retriable());
    CHECK(ec::Error(K::timeout, 0, "x").retriable());
    CHECK(ec::Error(K::no_leader, 0, "x").retriable());
    CHECK(ec::Error(K::server, 10 | 40 << 8, "not leader").retriable());
    CHECK(ec::Error(K::server, 10 | 41 << 8, "leadership lost").leadership());
    CHECK(ec::Error(K::server, 5, "database is locked").retriable());
    CHECK_FALSE(ec::Error(K::server, 19, "conflict: x").retriable());
    CHECK_FALSE(ec::Error(K::server, 1, "no such table: t").retriable());
    CHECK_FALSE(ec::Error(K::protocol, 0, "x").retriable());
    CHECK(
        ec::Error(K::server, 19, "conflict: stream 'a' is at version 2, expected 1").eskit_code() ==
        "conflict");
    CHECK(ec::Error(K::server, 1, "conflicting").eskit_code().empty());
}

// --- host options of eskit_core on a plain connection ---------------------------------------

namespace {

struct Db {
    sqlite3* db = nullptr;
    Db() { REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK); }
    ~Db() { sqlite3_close(db); }  // the legacy close must succeed (dqlite uses it)
};

// First column of the first row as text ("NULL" for NULL), or "error <code>: <message>".
std::string one(sqlite3* db, const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) {
        return "error " + std::to_string(sqlite3_extended_errcode(db)) + ": " + sqlite3_errmsg(db);
    }
    std::string out;
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(s, 0);
        out = t ? reinterpret_cast<const char*>(t) : "NULL";
    } else if (rc != SQLITE_DONE) {
        out = "error " + std::to_string(sqlite3_extended_errcode(db)) + ": " + sqlite3_errmsg(db);
    }
    sqlite3_finalize(s);
    return out;
}

const std::string kRefusal =
    "(): must run between BEGIN and COMMIT on this host; outside a transaction its writes "
    "would not be replicated";

}  // namespace

TEST_CASE("eskit_set_option: return codes") {
    Db d;
    CHECK(eskit_set_option(d.db, ESKIT_OPTION_WRITES_NEED_TRANSACTION, 1) == SQLITE_MISUSE);
    REQUIRE(eskit_register(d.db) == SQLITE_OK);
    CHECK(eskit_set_option(d.db, 2, 1) == SQLITE_RANGE);
    CHECK(eskit_set_option(d.db, ESKIT_OPTION_WRITES_NEED_TRANSACTION, 1) == SQLITE_OK);
    CHECK(eskit_set_option(d.db, ESKIT_OPTION_WRITES_NEED_TRANSACTION, 0) == SQLITE_OK);
}

TEST_CASE("writes need a transaction: every writer refused in autocommit, allowed inside") {
    Db d;
    REQUIRE(eskit_register(d.db) == SQLITE_OK);
    REQUIRE(eskit_set_option(d.db, ESKIT_OPTION_WRITES_NEED_TRANSACTION, 1) == SQLITE_OK);
    const std::pair<const char*, const char*> writers[] = {
        {"es_init", "SELECT es_init()"},
        {"es_append", R"(SELECT es_append('order-1', 0, '{"type":"A","data":{}}'))"},
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
        CHECK(one(d.db, sql) == "error 1: invalid_argument: " + std::string(fn) + kRefusal);
    }
    CHECK(one(d.db, "SELECT count(*) FROM sqlite_schema") == "0");  // nothing was created
    // The same with the tables in place (a call may skip its write when there are none).
    CHECK(one(d.db, "BEGIN") == "");
    CHECK(one(d.db, "SELECT es_init()") == "3");
    CHECK(one(d.db, "COMMIT") == "");
    // es_init() on an up-to-date store writes nothing: it answers, as under PRAGMA query_only.
    CHECK(one(d.db, "SELECT es_init()") == "3");
    for (const auto& [fn, sql] : writers) {
        CAPTURE(sql);
        if (std::string_view(fn) == "es_init") continue;
        CHECK(one(d.db, sql) == "error 1: invalid_argument: " + std::string(fn) + kRefusal);
    }
    // Nothing to remove: it writes nothing, so it answers (as on a read-only connection).
    CHECK(one(d.db, "SELECT es_snapshot_invalidate(NULL)") == "0");
    CHECK(one(d.db,
              "SELECT (SELECT count(*) FROM es_events) + (SELECT count(*) FROM "
              "es_checkpoints) + (SELECT count(*) FROM es_snapshots)") == "0");
    // Readers are not affected.
    CHECK(one(d.db, "SELECT es_head()") == "0");
    CHECK(one(d.db, "SELECT es_checkpoint('c')") == "0");
    // es_wait would open a connection of its own to the replicated database: refused.
    CHECK(one(d.db, "SELECT es_wait(0, 10)") ==
          "error 1: invalid_argument: es_wait(): not "
          "available on a replicated host: poll es_head() "
          "instead");
    // Inside a transaction every writer runs.
    CHECK(one(d.db, "BEGIN") == "");
    CHECK(one(d.db, R"(SELECT es_append('order-1', 0, '{"type":"A","data":{}}'))") == "1");
    CHECK(one(d.db, "SELECT es_checkpoint('c', 0, 5)") == "5");
    CHECK(one(d.db, "SELECT es_snapshot_save('order-1', 1, '{}')") == "1");
    CHECK(one(d.db, "COMMIT") == "");
    CHECK(one(d.db, "SELECT count(*) FROM es_events") == "1");
    // Off again: autocommit writes work as on a plain host.
    REQUIRE(eskit_set_option(d.db, ESKIT_OPTION_WRITES_NEED_TRANSACTION, 0) == SQLITE_OK);
    CHECK(one(d.db, R"(SELECT es_append('order-1', 1, '{"type":"B","data":{}}'))") == "2");
}

TEST_CASE("es_last_error: the last eskit call's error, NULL once an eskit call succeeds") {
    Db d;
    REQUIRE(eskit_register(d.db) == SQLITE_OK);
    CHECK(one(d.db, "SELECT es_last_error()") == "NULL");
    CHECK(one(d.db, R"(SELECT es_append('order-1', 0, '{"type":"A","data":{}}'))") == "1");
    CHECK(one(d.db, R"(SELECT es_append('order-1', 0, '{"type":"A","data":{}}'))") ==
          "error 19: conflict: stream 'order-1' is at version 1, expected 0");
    const std::string conflict =
        R"({"code":"conflict","sqlite_code":19,"message":"conflict: stream 'order-1' is at )"
        R"(version 1, expected 0","stream_id":"order-1","expected":0,"actual":1})";
    CHECK(one(d.db, "SELECT es_last_error()") == conflict);
    CHECK(one(d.db, "SELECT es_last_error()") == conflict);  // reading it is not an eskit call
    // Not an eskit error: the last eskit call's error stays.
    CHECK(one(d.db, "SELECT * FROM no_such_table").rfind("error 1: no such table", 0) == 0);
    CHECK(one(d.db, "SELECT es_last_error()") == conflict);
    CHECK(one(d.db, R"(SELECT es_append('order-1', 1, '{"type":"A","data":{}}'))") == "2");
    CHECK(one(d.db, "SELECT es_last_error()") == "NULL");  // that call succeeded
    CHECK(
        one(d.db, "SELECT es_append('order-1', 'x', '[]')") ==
        "error 1: invalid_argument: es_append(): expected_version must be an integer or NULL, got "
        "text 'x'");
    CHECK(one(d.db, "SELECT json_extract(es_last_error(), '$.code')") == "invalid_argument");
}
