// eskit benchmark: the same workloads on plain SQLite ("raw") and through eskit's SQL surface
// ("sql"), in one process invocation, reported as ratios against raw.
//
//   build/bench/eskit_bench [--quick] [--only W1,W3] [--repeat N] [--dir /tmp/x]
//
// Each (workload, system) runs in a forked child, so peak RSS is per measurement and one
// system's page cache or heap cannot flatter the other. Output: one line per measurement
//   RESULT workload=W1 system=sql events_per_s=41234 ratio_vs_raw=0.93 peak_rss_kb=9120 ...
// followed by a table. Each line is the median of --repeat rounds (default: 3 for W1-W4 and
// W8, 1 for the 10-second W5 and the latency workloads W6/W7). Systems are rows behind the System
// interface: adding one (the C++ facade) means one more subclass and one more entry in
// make_systems(), no workload changes.
//
// Besides raw and sql there is a diagnostic row, "schema": plain SQL statements writing the
// same rows into eskit's own tables, indexes and append-only triggers, with no rule checked
// and no extension code running. sql/schema is what eskit's code costs; schema/raw is what
// its storage model (SPEC section 1) costs.
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "eskit.h"
#include <eskit/eskit.hpp>
#include <optional>
#include <random>
#include <thread>
#include <atomic>
#include <sys/stat.h>
#include "migrations.h"  // es_current_sql: the eskit tables, for the "schema" system

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kPayload =
    R"({"orderId":"ord-000123","customer":"cust-42","items":[{"sku":"A-1","qty":2,"price":19.99},{"sku":"B-7","qty":1,"price":5.5}],"note":"leave at door"})";
constexpr const char* kType = "OrderPlaced";

struct Sizes {
    int w1_appends = 20000;
    int w2_calls = 2000;
    int w2_batch = 100;
    int w5_procs = 4;
    double w5_seconds = 10;
    int w6_events = 1000000;
    int w6_reads = 1000;
    int w7_wakeups = 200;
    int w8_events = 1000000;
    int w9_threads = 8;
    double w9_seconds = 10;
    int w10_streams = 100000;
    int64_t w10_events = 10000000;
    int w10_batch = 10;       // events per append call
    int w11_events = 200000;  // over w11_categories categories
    int w11_categories = 10;
    int w11_reads = 200;
};

[[noreturn]] void die(sqlite3* db, const char* what) {
    throw std::runtime_error(std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "?"));
}

void exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string m = err ? err : "?";
        sqlite3_free(err);
        throw std::runtime_error(std::string(sql) + ": " + m);
    }
}

struct Stmt {
    sqlite3_stmt* s = nullptr;
    Stmt(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
            die(db, sql);
    }
    ~Stmt() { sqlite3_finalize(s); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    operator sqlite3_stmt*() const { return s; }
};

// The "small C++ struct" every read workload decodes each payload into, for both systems.
struct Order {
    std::string_view order_id;
    std::string_view customer;
    int items = 0;
    double total = 0;
};

struct Decoder {
    simdjson::ondemand::parser parser;
    std::string buf;
    uint64_t checksum = 0;

    void decode(const char* text, size_t n) {
        buf.assign(text, n);
        buf.resize(n + simdjson::SIMDJSON_PADDING);
        simdjson::ondemand::document doc;
        if (parser.iterate(buf.data(), n, buf.size()).get(doc)) throw std::runtime_error("json");
        Order o;
        for (auto field : doc.get_object()) {
            std::string_view key = field.unescaped_key();
            if (key == "orderId") {
                o.order_id = field.value().get_string();
            } else if (key == "customer") {
                o.customer = field.value().get_string();
            } else if (key == "items") {
                for (auto item : field.value().get_array()) {
                    double price = item["price"].get_double();
                    int64_t qty = item["qty"].get_int64();
                    o.total += price * static_cast<double>(qty);
                    ++o.items;
                }
            }
        }
        checksum += o.order_id.size() + o.customer.size() + static_cast<uint64_t>(o.items);
    }
};

// ---------------------------------------------------------------------------------------------
// Systems

// W9S measures with synchronous=FULL (durable across power loss on return); every other
// workload with NORMAL. Set in the measuring child only.
const char* g_synchronous = "NORMAL";

bool is_w9(const std::string& w) { return w == "W9" || w == "W9S"; }

class System {
  public:
    virtual ~System() = default;
    virtual const char* name() const = 0;
    // Opens (creating) a database file and prepares statements.
    virtual void open(const std::string& path) = 0;
    virtual void close() = 0;
    virtual sqlite3* db() = 0;
    // Appends n copies of the payload; expected_version as in es_append. Returns false on
    // a version conflict.
    virtual bool append(const std::string& stream, int64_t expected, int n) = 0;
    // Calls fn(payload) for each event of the stream in version order.
    virtual void load(const std::string& stream,
                      const std::function<void(const char*, size_t)>& fn) = 0;
    // Calls fn(seq, payload) for up to limit events after seq; returns the count.
    virtual int read_page(int64_t after, int limit,
                          const std::function<void(int64_t, const char*, size_t)>& fn) = 0;
    virtual int64_t last_version(const std::string& stream) = 0;  // the stream's last event
    virtual int64_t tail_seq() = 0;                               // the log's last event
    // Workloads a system does not take part in are skipped for it.
    virtual bool supports(const std::string& workload) const {
        return !is_w9(workload) && workload != "W10" && workload != "W11";
    }
};

void open_db(sqlite3** db, const std::string& path) {
    if (sqlite3_open(path.c_str(), db) != SQLITE_OK) die(*db, "open");
    // Before the pragmas: W5's processes open the file together, and switching to WAL (or
    // another process's WAL recovery) can find it locked.
    sqlite3_busy_timeout(*db, 10000);
    exec(*db, "PRAGMA journal_mode=WAL;");
    exec(*db, (std::string("PRAGMA synchronous=") + g_synchronous).c_str());
}

// The read side is the same for every system: four prepared statements (a stream in version
// order, a page of the log, a stream's last version, the log's last seq) stepped the same way.
class StatementSystem : public System {
  public:
    void load(const std::string& stream,
              const std::function<void(const char*, size_t)>& fn) override {
        sqlite3_bind_text(*load_, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
        rows(*load_, [&](sqlite3_stmt* s) {
            fn(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)),
               static_cast<size_t>(sqlite3_column_bytes(s, 0)));
        });
    }
    int read_page(int64_t after, int limit,
                  const std::function<void(int64_t, const char*, size_t)>& fn) override {
        sqlite3_bind_int64(*page_, 1, after);
        sqlite3_bind_int(*page_, 2, limit);
        return rows(*page_, [&](sqlite3_stmt* s) {
            fn(sqlite3_column_int64(s, 0), reinterpret_cast<const char*>(sqlite3_column_text(s, 1)),
               static_cast<size_t>(sqlite3_column_bytes(s, 1)));
        });
    }
    int64_t last_version(const std::string& stream) override {
        sqlite3_bind_text(*last_, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
        int64_t v = 0;
        rows(*last_, [&](sqlite3_stmt* s) { v = sqlite3_column_int64(s, 0); });
        return v;
    }
    int64_t tail_seq() override {
        int64_t v = 0;
        rows(*tail_, [&](sqlite3_stmt* s) { v = sqlite3_column_int64(s, 0); });
        return v;
    }

  protected:
    // Steps s to the end, calling fn for each row; returns the row count.
    int rows(sqlite3_stmt* s, const std::function<void(sqlite3_stmt*)>& fn) {
        int n = 0, rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            fn(s);
            ++n;
        }
        if (rc != SQLITE_DONE) die(db_, sqlite3_sql(s));
        sqlite3_reset(s);
        return n;
    }
    // Steps a write statement to completion; on failure rolls the open transaction back, so
    // the caller can retry on the same connection (W5 keeps appending after an error).
    void step_done(sqlite3_stmt* s) {
        if (sqlite3_step(s) != SQLITE_DONE) {
            const std::string msg = std::string(sqlite3_sql(s)) + ": " + sqlite3_errmsg(db_);
            sqlite3_reset(s);
            if (!sqlite3_get_autocommit(db_))
                sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            throw std::runtime_error(msg);
        }
        sqlite3_reset(s);
    }
    void reset_reads() { load_.reset(), page_.reset(), last_.reset(), tail_.reset(); }

    sqlite3* db_ = nullptr;
    std::unique_ptr<Stmt> load_, page_, last_, tail_;
};

class RawSystem : public StatementSystem {
  public:
    const char* name() const override { return "raw"; }
    bool supports(const std::string&) const override { return true; }
    sqlite3* db() override { return db_; }
    void open(const std::string& path) override {
        open_db(&db_, path);
        exec(db_,
             "CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, stream TEXT NOT NULL, "
             "version INTEGER NOT NULL, type TEXT NOT NULL, data TEXT, metadata TEXT, "
             "event_id TEXT, created_at INTEGER, UNIQUE(stream, version))");
        begin_ = std::make_unique<Stmt>(db_, "BEGIN IMMEDIATE");
        commit_ = std::make_unique<Stmt>(db_, "COMMIT");
        rollback_ = std::make_unique<Stmt>(db_, "ROLLBACK");
        max_ = std::make_unique<Stmt>(db_, "SELECT max(version) FROM events WHERE stream = ?1");
        insert_ =
            std::make_unique<Stmt>(db_,
                                   "INSERT INTO events(stream, version, type, data, created_at) "
                                   "VALUES (?1, ?2, ?3, ?4, ?5)");
        load_ = std::make_unique<Stmt>(
            db_, "SELECT data FROM events WHERE stream = ?1 ORDER BY version");
        page_ = std::make_unique<Stmt>(
            db_, "SELECT seq, data FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2");
        last_ = std::make_unique<Stmt>(
            db_, "SELECT version FROM events WHERE stream = ?1 ORDER BY version DESC LIMIT 1");
        tail_ = std::make_unique<Stmt>(db_, "SELECT seq FROM events ORDER BY seq DESC LIMIT 1");
    }
    void close() override {
        begin_.reset(), commit_.reset(), rollback_.reset(), max_.reset(), insert_.reset();
        reset_reads();
        sqlite3_close(db_);
        db_ = nullptr;
    }
    bool append(const std::string& stream, int64_t expected, int n) override {
        step_done(*begin_);
        sqlite3_bind_text(*max_, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
        if (sqlite3_step(*max_) != SQLITE_ROW) die(db_, "max");
        const int64_t current = sqlite3_column_int64(*max_, 0);
        sqlite3_reset(*max_);
        if (expected >= 0 && current != expected) {
            step_done(*rollback_);
            return false;
        }
        const int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        sqlite3_bind_text(*insert_, 1, stream.data(), static_cast<int>(stream.size()),
                          SQLITE_STATIC);
        sqlite3_bind_text(*insert_, 3, kType, -1, SQLITE_STATIC);
        sqlite3_bind_text(*insert_, 4, kPayload, -1, SQLITE_STATIC);
        sqlite3_bind_int64(*insert_, 5, now);
        for (int i = 1; i <= n; ++i) {
            sqlite3_bind_int64(*insert_, 2, current + i);
            step_done(*insert_);
        }
        step_done(*commit_);
        return true;
    }

  private:
    std::unique_ptr<Stmt> begin_, commit_, rollback_, max_, insert_;
};

// eskit's tables written and read with plain SQL: the same rows (seq after the head, a 36-byte
// time-ordered event id) into eskit's own tables, indexes and guard triggers, none of eskit's
// checks. The triggers' guard function is a stub answering 1. Like eskit, it leaves es_streams
// (a view) and the index blocks alone; unlike eskit it never folds the index tail, so the row
// prices the storage model's per-append part.
class SchemaSystem : public StatementSystem {
  public:
    const char* name() const override { return "schema"; }
    sqlite3* db() override { return db_; }
    void open(const std::string& path) override {
        open_db(&db_, path);
        for (int n = 1; n <= 3; ++n) {
            if (sqlite3_create_function(
                    db_,
                    "es_events and es_streams are written only by eskit: load the eskit extension",
                    n, SQLITE_UTF8 | SQLITE_INNOCUOUS, nullptr,
                    [](sqlite3_context* ctx, int, sqlite3_value**) { sqlite3_result_int(ctx, 1); },
                    nullptr, nullptr) != SQLITE_OK) {
                die(db_, "guard function");
            }
        }
        sqlite3_stmt* probe = nullptr;
        const bool exists =
            sqlite3_prepare_v2(db_, "SELECT 1 FROM es_meta", -1, &probe, nullptr) == SQLITE_OK;
        sqlite3_finalize(probe);
        if (!exists) {
            std::string ddl = eskit::ext::es_current_sql;
            for (size_t at = ddl.find("@schema@"); at != std::string::npos;
                 at = ddl.find("@schema@"))
                ddl.replace(at, 8, "main");
            for (size_t at = ddl.find("@store@"); at != std::string::npos; at = ddl.find("@store@"))
                ddl.replace(at, 7, "bench-store");
            exec(db_, ddl.c_str());
            if (getenv("BENCH_NO_TRIGGER")) exec(db_, "DROP TRIGGER es_events_guard_insert");
        }
        begin_ = std::make_unique<Stmt>(db_, "BEGIN IMMEDIATE");
        commit_ = std::make_unique<Stmt>(db_, "COMMIT");
        rollback_ = std::make_unique<Stmt>(db_, "ROLLBACK");
        version_ =
            std::make_unique<Stmt>(db_, "SELECT max(version) FROM es_events WHERE stream_id = ?1");
        head_ = std::make_unique<Stmt>(db_, "SELECT ifnull(max(seq), 0) FROM es_events");
        insert_ = std::make_unique<Stmt>(
            db_,
            "INSERT INTO es_events(seq, stream_id, version, type, data, metadata, "
            "codec, schema_version, event_id, idempotency_key, created_at) "
            "VALUES (?1, ?2, ?4, ?5, ?6, NULL, 'json', 1, ?7, NULL, ?8)");
        load_ = std::make_unique<Stmt>(
            db_, "SELECT data FROM es_events WHERE stream_id = ?1 ORDER BY version");
        page_ = std::make_unique<Stmt>(
            db_, "SELECT seq, data FROM es_events WHERE seq > ?1 ORDER BY seq LIMIT ?2");
        last_ = std::make_unique<Stmt>(
            db_,
            "SELECT version FROM es_events WHERE stream_id = ?1 ORDER BY version DESC LIMIT 1");
        tail_ = std::make_unique<Stmt>(db_, "SELECT seq FROM es_events ORDER BY seq DESC LIMIT 1");
    }
    void close() override {
        for (auto* p : {&begin_, &commit_, &rollback_, &version_, &head_, &insert_}) p->reset();
        reset_reads();
        sqlite3_close(db_);
        db_ = nullptr;
    }
    bool append(const std::string& stream, int64_t expected, int n) override {
        step_done(*begin_);
        sqlite3_bind_text(*version_, 1, stream.data(), static_cast<int>(stream.size()),
                          SQLITE_STATIC);
        if (sqlite3_step(*version_) != SQLITE_ROW) die(db_, "version");
        const int64_t current = sqlite3_column_int64(*version_, 0);
        sqlite3_reset(*version_);
        if (expected >= 0 && current != expected) {
            step_done(*rollback_);
            return false;
        }
        if (sqlite3_step(*head_) != SQLITE_ROW) die(db_, "head");
        int64_t seq = sqlite3_column_int64(*head_, 0);
        sqlite3_reset(*head_);
        const auto now = std::chrono::system_clock::now().time_since_epoch();
        const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
        sqlite3_bind_text(*insert_, 2, stream.data(), static_cast<int>(stream.size()),
                          SQLITE_STATIC);
        sqlite3_bind_text(*insert_, 5, kType, -1, SQLITE_STATIC);
        sqlite3_bind_text(*insert_, 6, kPayload, -1, SQLITE_STATIC);
        sqlite3_bind_int64(*insert_, 8, us);
        char id[40];
        for (int i = 1; i <= n; ++i) {
            // Time-ordered like eskit's UUIDv7s; the pid keeps W5's concurrent writers apart.
            std::snprintf(id, sizeof id, "%08llx-%04x-7000-%04x-%012llx",
                          static_cast<unsigned long long>(us / 1000 >> 16) & 0xffffffffULL,
                          static_cast<unsigned>(us / 1000) & 0xffffU,
                          static_cast<unsigned>(getpid()) & 0xffffU,
                          static_cast<unsigned long long>(++ids_));
            sqlite3_bind_int64(*insert_, 1, ++seq);
            sqlite3_bind_int64(*insert_, 4, current + i);
            sqlite3_bind_text(*insert_, 7, id, 36, SQLITE_STATIC);
            step_done(*insert_);
        }
        step_done(*commit_);
        return true;
    }

  private:
    int64_t ids_ = 0;
    std::unique_ptr<Stmt> begin_, commit_, rollback_, version_, head_, insert_;
};

class SqlSystem : public StatementSystem {
  public:
    const char* name() const override { return "sql"; }
    bool supports(const std::string& w) const override { return !is_w9(w); }
    sqlite3* db() override { return db_; }
    void open(const std::string& path) override {
        open_db(&db_, path);
        if (eskit_register(db_) != SQLITE_OK) die(db_, "eskit_register");
        exec(db_, "SELECT es_init()");
        append_ = std::make_unique<Stmt>(db_, "SELECT es_append(?1, ?2, ?3)");
        load_ = std::make_unique<Stmt>(db_, "SELECT data FROM es_stream(?1)");
        page_ = std::make_unique<Stmt>(db_, "SELECT seq, data FROM es_all(?1) LIMIT ?2");
        last_ = std::make_unique<Stmt>(
            db_, "SELECT version FROM es_stream(?1) ORDER BY version DESC LIMIT 1");
        tail_ = std::make_unique<Stmt>(db_, "SELECT seq FROM es_all ORDER BY seq DESC LIMIT 1");
    }
    void close() override {
        append_.reset();
        reset_reads();
        if (sqlite3_close(db_) != SQLITE_OK) die(db_, "close");
        db_ = nullptr;
    }
    bool append(const std::string& stream, int64_t expected, int n) override {
        std::string& batch = batches_[n];
        if (batch.empty()) {
            batch = "[";
            for (int i = 0; i < n; ++i) {
                if (i) batch += ',';
                batch += R"({"type":"OrderPlaced","data":)";
                batch += kPayload;
                batch += '}';
            }
            batch += ']';
        }
        sqlite3_bind_text(*append_, 1, stream.data(), static_cast<int>(stream.size()),
                          SQLITE_STATIC);
        sqlite3_bind_int64(*append_, 2, expected);
        sqlite3_bind_text(*append_, 3, batch.data(), static_cast<int>(batch.size()), SQLITE_STATIC);
        const int rc = sqlite3_step(*append_);
        if (rc != SQLITE_ROW) {
            const bool conflict = std::strncmp(sqlite3_errmsg(db_), "conflict:", 9) == 0;
            sqlite3_reset(*append_);
            if (conflict) return false;
            die(db_, "es_append");
        }
        sqlite3_reset(*append_);
        return true;
    }

  private:
    std::map<int, std::string> batches_;
    std::unique_ptr<Stmt> append_;
};

// eskit's SQL surface with the documented read fast path (README "Reading fast"): appends as
// "sql", reads as plain SQL on es_events with the stream's state checked once per statement by
// es_readable(), and the log as a seq range of es_events.
class FastSystem : public SqlSystem {
  public:
    const char* name() const override { return "fast"; }
    bool supports(const std::string& w) const override {
        return !is_w9(w) && w != "W10" && w != "W11";
    }
    void open(const std::string& path) override {
        SqlSystem::open(path);
        reset_reads();
        load_ = std::make_unique<Stmt>(
            db_,
            "SELECT data FROM es_events WHERE stream_id = ?1 AND es_readable(?1) "
            "ORDER BY version");
        page_ = std::make_unique<Stmt>(
            db_, "SELECT seq, data FROM es_events WHERE seq > ?1 ORDER BY seq LIMIT ?2");
        last_ = std::make_unique<Stmt>(
            db_,
            "SELECT version FROM es_events WHERE stream_id = ?1 AND es_readable(?1) "
            "ORDER BY version DESC LIMIT 1");
        tail_ = std::make_unique<Stmt>(db_, "SELECT seq FROM es_events ORDER BY seq DESC LIMIT 1");
    }
};

// The C++ facade: Store<BenchOrder> appends through group commit, and loads decode every
// payload into a C++ struct through the JSON codec (the work the other systems' Decoder does).
struct BenchItem {
    std::string sku;
    int64_t qty = 0;
    double price = 0;
};
ESKIT_FIELDS(BenchItem, sku, qty, price);
struct BenchOrder {
    std::string order_id;
    std::string customer;
    std::vector<BenchItem> items;
    std::string note;
};
ESKIT_FIELDS(BenchOrder, (order_id, "orderId"), customer, items, note);
ESKIT_EVENT(BenchOrder, "OrderPlaced", 1);

class FacadeSystem : public System {
  public:
    const char* name() const override { return "facade"; }
    sqlite3* db() override { return db_->handle(); }
    void open(const std::string& path) override {
        eskit::DatabaseOptions o;
        o.synchronous = g_synchronous;
        db_.emplace(eskit::Database::open(path, o));
        store_.emplace(*db_);
        order_ = eskit::decode<BenchOrder>(eskit::json_codec(), kPayload);
    }
    void close() override {
        store_.reset();
        db_.reset();
    }
    bool append(const std::string& stream, int64_t expected, int n) override {
        std::vector<BenchOrder>& batch = batches_[n];
        if (batch.empty()) batch.assign(static_cast<size_t>(n), order_);
        try {
            store_->append(stream,
                           expected >= 0 ? eskit::Expected(eskit::Exact{expected}) : eskit::Any{},
                           batch);
        } catch (const eskit::ConcurrencyConflict&) {
            return false;
        }
        return true;
    }
    void load(const std::string& stream,
              const std::function<void(const char*, size_t)>& fn) override {
        for (const auto& e : store_->load(stream)) {
            checksum_ += e.data.order_id.size() + e.data.customer.size() + e.data.items.size();
            fn(nullptr, 0);
        }
    }
    int read_page(int64_t after, int limit,
                  const std::function<void(int64_t, const char*, size_t)>& fn) override {
        auto page = store_->read_from(after, limit);
        for (const auto& e : page) {
            checksum_ += e.data.order_id.size() + e.data.items.size();
            fn(e.seq, nullptr, 0);
        }
        return static_cast<int>(page.size());
    }
    int64_t last_version(const std::string& stream) override {
        eskit::LoadOptions o;
        o.backwards = true;
        o.limit = 1;
        for (const auto& e : store_->load(stream, o)) return e.version;
        return 0;
    }
    int64_t tail_seq() override { return store_->latest_sequence(); }
    bool supports(const std::string& workload) const override {
        return workload != "W7" && workload != "W10" && workload != "W11";
    }
    bool shares_between_threads() const { return true; }
    eskit::Store<BenchOrder>& store() { return *store_; }

  private:
    std::optional<eskit::Database> db_;
    std::optional<eskit::Store<BenchOrder>> store_;
    BenchOrder order_;
    std::map<int, std::vector<BenchOrder>> batches_;
    uint64_t checksum_ = 0;
};

std::vector<std::function<std::unique_ptr<System>()>> make_systems() {
    return {[] { return std::make_unique<RawSystem>(); },
            [] { return std::make_unique<SchemaSystem>(); },
            [] { return std::make_unique<SqlSystem>(); },
            [] { return std::make_unique<FastSystem>(); },
            [] { return std::make_unique<FacadeSystem>(); }};
}

// ---------------------------------------------------------------------------------------------
// Measurements

struct Result {
    double events_per_s = 0;              // throughput, or 0 for latency-only workloads
    std::map<std::string, double> extra;  // median_us, p99_us, waited_share, cpu_pct, ...
    long peak_rss_kb = 0;
};

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
    return v[i];
}

void remove_db(const std::string& path) {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) unlink((path + suffix).c_str());
}

std::string stream_name(int64_t n) { return "order-" + std::to_string(n); }

struct Bench {
    Sizes sizes;
    std::string dir;

    std::string file(const System& s, const char* what) const {
        return dir + "/" + s.name() + "-" + what + ".db";
    }

    // W2's data set, shared by W3 and W4 (built once per system, before they run).
    void build_w2(System& sys, const std::string& path, Result* r) const {
        remove_db(path);
        sys.open(path);
        const auto t0 = Clock::now();
        for (int i = 0; i < sizes.w2_calls; ++i) {
            if (!sys.append(stream_name(i), 0, sizes.w2_batch)) throw std::runtime_error("W2");
        }
        if (r) r->events_per_s = sizes.w2_calls * sizes.w2_batch / seconds_since(t0);
        sys.close();
    }

    void build_big(System& sys, const std::string& path, int events) const {
        if (access(path.c_str(), F_OK) == 0) return;  // reused across W6/W8 runs
        const std::string tmp = path + ".tmp";
        remove_db(tmp);
        sys.open(tmp);
        for (int done = 0; done < events; done += 1000) {
            if (!sys.append("big-1", done, std::min(1000, events - done)))
                throw std::runtime_error("big");
        }
        exec(sys.db(), "PRAGMA wal_checkpoint(TRUNCATE)");
        sys.close();
        remove_db(path);
        if (rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("rename");
        for (const char* suffix : {"-wal", "-shm"}) unlink((tmp + suffix).c_str());
    }

    Result run(const std::string& workload, System& sys) const {
        Result r;
        if (workload == "W1") {
            const std::string path = file(sys, "w1");
            remove_db(path);
            sys.open(path);
            const auto t0 = Clock::now();
            for (int j = 0; j < sizes.w1_appends; ++j) {
                if (!sys.append(stream_name(j / 10), j % 10, 1)) throw std::runtime_error("W1");
            }
            r.events_per_s = sizes.w1_appends / seconds_since(t0);
            sys.close();
        } else if (workload == "W2") {
            build_w2(sys, file(sys, "w2"), &r);
        } else if (workload == "W3") {
            sys.open(file(sys, "w2"));
            Decoder dec;
            int64_t n = 0;
            const auto t0 = Clock::now();
            for (int i = 0; i < sizes.w2_calls; ++i) {
                sys.load(stream_name((static_cast<int64_t>(i) * 7919) % sizes.w2_calls),
                         [&](const char* p, size_t len) {
                             if (p) dec.decode(p, len);  // facade: decoded already
                             ++n;
                         });
            }
            r.events_per_s = static_cast<double>(n) / seconds_since(t0);
            if (n != static_cast<int64_t>(sizes.w2_calls) * sizes.w2_batch)
                throw std::runtime_error("W3 count");
            sys.close();
        } else if (workload == "W4") {
            sys.open(file(sys, "w2"));
            Decoder dec;
            int64_t after = 0, n = 0;
            const auto t0 = Clock::now();
            for (;;) {
                const int got =
                    sys.read_page(after, 1000, [&](int64_t seq, const char* p, size_t len) {
                        if (p) dec.decode(p, len);
                        after = seq;
                    });
                n += got;
                if (got < 1000) break;
            }
            r.events_per_s = static_cast<double>(n) / seconds_since(t0);
            if (n != static_cast<int64_t>(sizes.w2_calls) * sizes.w2_batch)
                throw std::runtime_error("W4 count");
            sys.close();
        } else if (workload == "W5") {
            r = run_w5(sys);
        } else if (workload == "W6") {
            const std::string path = file(sys, "big");
            build_big(sys, path, sizes.w6_events);
            sys.open(path);
            std::vector<double> last, tail;
            for (int i = 0; i < sizes.w6_reads; ++i) {
                auto t0 = Clock::now();
                if (sys.last_version("big-1") != sizes.w6_events) throw std::runtime_error("W6");
                last.push_back(seconds_since(t0) * 1e6);
                t0 = Clock::now();
                if (sys.tail_seq() != sizes.w6_events) throw std::runtime_error("W6 tail");
                tail.push_back(seconds_since(t0) * 1e6);
            }
            r.extra["stream_last_median_us"] = percentile(last, 0.5);
            r.extra["stream_last_p99_us"] = percentile(last, 0.99);
            r.extra["log_tail_median_us"] = percentile(tail, 0.5);
            r.extra["log_tail_p99_us"] = percentile(tail, 0.99);
            r.events_per_s = sizes.w6_reads / (percentile(last, 0.5) * 1e-6 * sizes.w6_reads);
            sys.close();
        } else if (workload == "W7") {
            r = run_w7(sys);
        } else if (is_w9(workload)) {
            if (workload == "W9S") g_synchronous = "FULL";
            r = run_w9(sys);
        } else if (workload == "W10") {
            r = run_w10(sys);
        } else if (workload == "W11") {
            r = run_w11(sys);
        } else if (workload == "W8") {
            const std::string path = file(sys, "big");
            build_big(sys, path, sizes.w8_events);
            sys.open(path);
            struct rusage before;
            getrusage(RUSAGE_SELF, &before);
            int64_t n = 0;
            const auto t0 = Clock::now();
            sys.load("big-1", [&](const char*, size_t) { ++n; });
            r.events_per_s = static_cast<double>(n) / seconds_since(t0);
            if (n != sizes.w8_events) throw std::runtime_error("W8 count");
            r.extra["rss_before_kb"] = static_cast<double>(before.ru_maxrss);
            sys.close();
        } else {
            throw std::runtime_error("unknown workload " + workload);
        }
        return r;
    }

    // W9: threads appending single events to their own streams for a fixed time, each append
    // durable (synchronous=NORMAL in WAL: across a process crash; W9S: FULL, across power
    // loss, where each commit waits for fsync) when it returns. The facade shares one Store (group
    // commit); raw gives each thread a connection of its own (SQLite's one writer at a time).
    Result run_w9(System& proto) const {
        const std::string path = file(proto, "w9");
        remove_db(path);
        std::atomic<long> total{0};
        const auto end = Clock::now() + std::chrono::duration<double>(sizes.w9_seconds);
        auto worker = [&](System& sys, int t) {
            const std::string stream = "w9-" + std::to_string(t);
            int64_t version = 0;
            while (Clock::now() < end) {
                if (!sys.append(stream, version, 1)) throw std::runtime_error("W9 conflict");
                ++version;
                ++total;
            }
        };
        std::vector<std::thread> threads;
        if (std::string(proto.name()) == "facade") {
            proto.open(path);
            for (int t = 0; t < sizes.w9_threads; ++t)
                threads.emplace_back(worker, std::ref(proto), t);
            for (auto& th : threads) th.join();
            proto.close();
        } else {
            std::vector<std::unique_ptr<System>> own;
            for (int t = 0; t < sizes.w9_threads; ++t) {
                own.push_back(make_system(proto.name()));
                own.back()->open(path);
            }
            for (int t = 0; t < sizes.w9_threads; ++t)
                threads.emplace_back(worker, std::ref(*own[t]), t);
            for (auto& th : threads) th.join();
            for (auto& o : own) o->close();
        }
        Result r;
        r.events_per_s = static_cast<double>(total) / sizes.w9_seconds;
        return r;
    }

    // W10: a store grown to w10_events events over w10_streams streams, appended in random
    // interleave (w10_batch events per call); the append rate of every million events and the
    // bytes on disk per event at the end show how cost and size grow.
    Result run_w10(System& sys) const {
        const std::string path = file(sys, "w10");
        remove_db(path);
        sys.open(path);
        std::vector<int64_t> versions(static_cast<size_t>(sizes.w10_streams), 0);
        std::mt19937_64 rng(42);
        Result r;
        const int64_t per_million = 1000000;
        int64_t done = 0;
        auto t0 = Clock::now();
        const auto start = t0;
        while (done < sizes.w10_events) {
            const auto k = static_cast<size_t>(rng() % versions.size());
            if (!sys.append("w10-" + std::to_string(k), versions[k], sizes.w10_batch)) {
                throw std::runtime_error("W10 conflict");
            }
            versions[k] += sizes.w10_batch;
            done += sizes.w10_batch;
            if (done % per_million == 0) {
                const double secs = seconds_since(t0);
                r.extra["m" + std::to_string(done / per_million) + "_appends_per_s"] =
                    static_cast<double>(per_million / sizes.w10_batch) / secs;
                t0 = Clock::now();
            }
        }
        r.events_per_s = static_cast<double>(done) / seconds_since(start);
        exec(sys.db(), "PRAGMA wal_checkpoint(TRUNCATE)");
        sys.close();
        struct stat st {};
        if (stat(path.c_str(), &st) == 0) {
            r.extra["bytes_per_event"] =
                static_cast<double>(st.st_size) / static_cast<double>(done);
        }
        remove_db(path);
        return r;
    }

    // W11: the secondary lookups against plain SQL with a conventional index on the same data:
    // a page of 1,000 events of one category after a random position, and one event by id.
    // events_per_s is pages per second; the extras give both medians in microseconds.
    Result run_w11(System& sys) const {
        const std::string path = file(sys, "w11");
        remove_db(path);
        sys.open(path);
        const bool raw = std::string(sys.name()) == "raw";
        sqlite3* db = sys.db();
        if (raw) {
            exec(db,
                 "CREATE TABLE IF NOT EXISTS cat_events(seq INTEGER PRIMARY KEY, stream TEXT, "
                 "category TEXT, version INTEGER, type TEXT, data TEXT, event_id TEXT, "
                 "UNIQUE(stream, version)); CREATE INDEX IF NOT EXISTS cat_idx ON "
                 "cat_events(category); CREATE UNIQUE INDEX IF NOT EXISTS id_idx ON "
                 "cat_events(event_id)");
        }
        std::vector<std::string> ids;
        {
            exec(db, "BEGIN");
            Stmt ins(db, raw ? "INSERT INTO cat_events(seq, stream, category, version, type, data, "
                               "event_id) VALUES (?1, ?2, ?3, ?4, 'OrderPlaced', ?5, ?6)"
                             : "SELECT es_append(?2, ?4 - 1, json_object('type', 'OrderPlaced', "
                               "'data', json(?5), 'id', ?6))");
            const int streams = 2000;
            std::vector<int64_t> version(streams, 0);
            for (int i = 0; i < sizes.w11_events; ++i) {
                const int k = i % streams;
                const std::string cat = "cat" + std::to_string(k % sizes.w11_categories);
                const std::string stream = cat + "-" + std::to_string(k);
                const std::string id = "evt-" + std::to_string(i);
                sqlite3_bind_int64(ins, 1, i + 1);
                sqlite3_bind_text(ins, 2, stream.c_str(), -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(ins, 3, cat.c_str(), -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(ins, 4, ++version[k]);
                sqlite3_bind_text(ins, 5, kPayload, -1, SQLITE_STATIC);
                sqlite3_bind_text(ins, 6, id.c_str(), -1, SQLITE_TRANSIENT);
                if (sqlite3_step(ins) == SQLITE_ERROR) die(db, "W11 insert");
                sqlite3_reset(ins);
                if (i % 97 == 0) ids.push_back(id);
            }
            exec(db, "COMMIT");
        }
        std::vector<double> page_us, id_us;
        {
            Stmt page(db, raw ? "SELECT seq, data FROM cat_events WHERE category = ?1 AND seq > ?2 "
                                "ORDER BY seq LIMIT 1000"
                              : "SELECT seq, data FROM es_all(?2) WHERE category = ?1 LIMIT 1000");
            Stmt by_id(db, raw ? "SELECT seq, data FROM cat_events WHERE event_id = ?1"
                               : "SELECT seq, data FROM es_all WHERE event_id = ?1");
            std::mt19937_64 rng(7);
            for (int i = 0; i < sizes.w11_reads; ++i) {
                const std::string cat =
                    "cat" + std::to_string(rng() % static_cast<uint64_t>(sizes.w11_categories));
                sqlite3_bind_text(page, 1, cat.c_str(), -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(
                    page, 2,
                    static_cast<int64_t>(rng() % static_cast<uint64_t>(sizes.w11_events / 2)));
                auto t0 = Clock::now();
                int n = 0;
                while (sqlite3_step(page) == SQLITE_ROW) {
                    n += sqlite3_column_bytes(page, 1) > 0;
                }
                page_us.push_back(seconds_since(t0) * 1e6);
                sqlite3_reset(page);
                if (n != 1000) throw std::runtime_error("W11 page of " + std::to_string(n));
                const std::string& id = ids[rng() % ids.size()];
                sqlite3_bind_text(by_id, 1, id.c_str(), -1, SQLITE_TRANSIENT);
                t0 = Clock::now();
                n = 0;
                while (sqlite3_step(by_id) == SQLITE_ROW) ++n;
                id_us.push_back(seconds_since(t0) * 1e6);
                sqlite3_reset(by_id);
                if (n != 1) throw std::runtime_error("W11 id lookup");
            }
        }
        Result r;
        r.extra["category_page_median_us"] = percentile(page_us, 0.5);
        r.extra["event_id_median_us"] = percentile(id_us, 0.5);
        r.events_per_s = 1e6 / percentile(page_us, 0.5);
        sys.close();
        remove_db(path);
        return r;
    }

    // W5: processes appending single events to their own streams for a fixed time; counts the
    // calls that had to wait for the write lock (a busy handler that records being called).
    Result run_w5(System& proto) const {
        const std::string path = file(proto, "w5");
        remove_db(path);
        proto.open(path);
        proto.close();
        std::vector<int> pipes;
        std::vector<pid_t> kids;
        const auto start = Clock::now() + std::chrono::milliseconds(300);
        for (int p = 0; p < sizes.w5_procs; ++p) {
            int fd[2];
            if (pipe(fd) != 0) throw std::runtime_error("pipe");
            const pid_t pid = fork();
            if (pid == 0) {
                close(fd[0]);
                long counts[3] = {0, 0, 0};  // appends, waited, busy errors
                try {
                    auto sys = make_system(proto.name());
                    sys->open(path);
                    struct Busy {
                        bool waited = false;
                    } busy;
                    sqlite3_busy_handler(
                        sys->db(),
                        [](void* arg, int n) -> int {
                            static_cast<Busy*>(arg)->waited = true;
                            if (n > 20000) return 0;
                            usleep(n < 10 ? 50 : 500);
                            return 1;
                        },
                        &busy);
                    while (Clock::now() < start) usleep(1000);
                    const auto end = start + std::chrono::duration<double>(sizes.w5_seconds);
                    const std::string stream = "proc-" + std::to_string(p);
                    int64_t version = 0;
                    while (Clock::now() < end) {
                        busy.waited = false;
                        try {
                            if (!sys->append(stream, version, 1)) throw std::runtime_error("W5");
                        } catch (const std::exception&) {
                            ++counts[2];
                            continue;
                        }
                        ++version;
                        ++counts[0];
                        if (busy.waited) ++counts[1];
                    }
                    sys->close();
                } catch (...) {
                    counts[2] = -1;
                }
                (void)!write(fd[1], counts, sizeof counts);
                _exit(0);
            }
            close(fd[1]);
            pipes.push_back(fd[0]);
            kids.push_back(pid);
        }
        long total = 0, waited = 0, busy = 0;
        for (size_t i = 0; i < kids.size(); ++i) {
            long counts[3] = {0, 0, 0};
            (void)!read(pipes[i], counts, sizeof counts);
            close(pipes[i]);
            waitpid(kids[i], nullptr, 0);
            total += counts[0];
            waited += counts[1];
            busy += counts[2];
        }
        Result r;
        r.events_per_s = static_cast<double>(total) / sizes.w5_seconds;
        r.extra["waited_share"] =
            total ? static_cast<double>(waited) / static_cast<double>(total) : 0;
        r.extra["busy_errors"] = static_cast<double>(busy);
        return r;
    }

    // W7: es_wait wake-up latency across processes, and the waiter's CPU while idle. Raw
    // SQLite has no equivalent; its row polls PRAGMA data_version every millisecond, the
    // usual substitute.
    Result run_w7(System& proto) const {
        const std::string path = file(proto, "w7");
        remove_db(path);
        proto.open(path);
        proto.append("seed-1", 0, 1);
        proto.close();
        int to_parent[2];
        if (pipe(to_parent) != 0) throw std::runtime_error("pipe");
        const pid_t pid = fork();
        if (pid == 0) {  // waiter: reports the monotonic time at which it saw each new head
            close(to_parent[0]);
            sqlite3* db = nullptr;
            open_db(&db, path);
            const bool sql =
                std::string(proto.name()) == "sql" || std::string(proto.name()) == "fast";
            if (sql) eskit_register(db);
            Stmt wait(db, sql ? "SELECT es_wait(?1, 2000)" : "PRAGMA data_version");
            int64_t last = 1;
            int64_t dv = -1;
            for (int i = 0; i < sizes.w7_wakeups + 1; ++i) {
                int64_t seen = last;
                while (seen <= last) {
                    if (sql) {
                        sqlite3_bind_int64(wait, 1, last);
                        if (sqlite3_step(wait) != SQLITE_ROW) _exit(1);
                        seen = sqlite3_column_int64(wait, 0);
                        sqlite3_reset(wait);
                    } else {
                        if (sqlite3_step(wait) != SQLITE_ROW) _exit(1);
                        const int64_t v = sqlite3_column_int64(wait, 0);
                        sqlite3_reset(wait);
                        if (dv >= 0 && v != dv) seen = last + 1;
                        dv = v;
                        if (seen <= last) usleep(1000);
                    }
                }
                last = seen;
                const double t =
                    std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
                (void)!write(to_parent[1], &t, sizeof t);
            }
            _exit(0);
        }
        close(to_parent[1]);
        auto sys = make_system(proto.name());
        sys->open(path);
        std::vector<double> lat;
        usleep(200000);
        for (int i = 0; i < sizes.w7_wakeups; ++i) {
            usleep(5000 + static_cast<useconds_t>((i * 7919) % 10000));
            if (!sys->append("ping-1", i, 1)) throw std::runtime_error("W7");
            const double t1 =
                std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
            double t2 = 0;
            if (read(to_parent[0], &t2, sizeof t2) != sizeof t2)
                throw std::runtime_error("W7 pipe");
            lat.push_back(std::max(0.0, (t2 - t1) * 1e6));
        }
        // Idle CPU: the waiter now sits in es_wait (or its poll loop) with nothing to see.
        char stat_path[64];
        std::snprintf(stat_path, sizeof stat_path, "/proc/%d/stat", static_cast<int>(pid));
        auto cpu_ticks = [&]() -> double {
            FILE* f = std::fopen(stat_path, "r");
            if (!f) return 0;
            char buf[1024];
            const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
            std::fclose(f);
            buf[n] = 0;
            const char* p = std::strrchr(buf, ')');
            unsigned long ut = 0, st = 0;
            if (p)
                std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
            return static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
        };
        const double c0 = cpu_ticks();
        const auto t0 = Clock::now();
        usleep(static_cast<useconds_t>(sizes.w7_wakeups >= 200 ? 3000000 : 1000000));
        const double idle_cpu = (cpu_ticks() - c0) / seconds_since(t0);
        sys->append("ping-1", sizes.w7_wakeups, 1);  // release the waiter
        double t2;
        (void)!read(to_parent[0], &t2, sizeof t2);
        waitpid(pid, nullptr, 0);
        close(to_parent[0]);
        sys->close();
        Result r;
        r.extra["wake_median_us"] = percentile(lat, 0.5);
        r.extra["wake_p99_us"] = percentile(lat, 0.99);
        r.extra["idle_cpu_pct"] = idle_cpu * 100;
        r.events_per_s = 0;
        return r;
    }

    static std::unique_ptr<System> make_system(const std::string& name) {
        for (auto& make : make_systems()) {
            auto s = make();
            if (name == s->name()) return s;
        }
        throw std::runtime_error("no system " + name);
    }
};

// Runs one measurement in a child process and returns its result with the child's peak RSS.
Result measure(const Bench& bench, const std::string& workload, const std::string& system) {
    int fd[2];
    if (pipe(fd) != 0) throw std::runtime_error("pipe");
    const pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        std::string out;
        try {
            auto sys = Bench::make_system(system);
            Result r = bench.run(workload, *sys);
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            out = "ok " + std::to_string(r.events_per_s) + " " + std::to_string(ru.ru_maxrss);
            for (auto& [k, v] : r.extra) out += " " + k + "=" + std::to_string(v);
        } catch (const std::exception& e) {
            out = std::string("error ") + e.what();
        }
        (void)!write(fd[1], out.data(), out.size());
        _exit(0);
    }
    close(fd[1]);
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    close(fd[0]);
    waitpid(pid, nullptr, 0);
    if (text.rfind("ok ", 0) != 0) throw std::runtime_error(workload + "/" + system + ": " + text);
    Result r;
    std::vector<std::string> tokens;
    for (size_t p = 3; p < text.size();) {
        const size_t sp = text.find(' ', p);
        tokens.push_back(text.substr(p, sp == std::string::npos ? sp : sp - p));
        p = sp == std::string::npos ? text.size() : sp + 1;
    }
    if (tokens.size() < 2) throw std::runtime_error("bad child output: " + text);
    r.events_per_s = std::strtod(tokens[0].c_str(), nullptr);
    r.peak_rss_kb = std::strtol(tokens[1].c_str(), nullptr, 10);
    for (size_t i = 2; i < tokens.size(); ++i) {
        const size_t eq = tokens[i].find('=');
        if (eq != std::string::npos) {
            r.extra[tokens[i].substr(0, eq)] = std::strtod(tokens[i].c_str() + eq + 1, nullptr);
        }
    }
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    Bench bench;
    int repeat = 0;  // rounds per workload; 0: 3 for W1-W4 and W8, 1 for the rest
    std::vector<std::string> workloads = {"W1", "W2", "W3", "W4",  "W5", "W6",
                                          "W7", "W8", "W9", "W9S", "W11"};
    char tmpl[] = "/tmp/eskit-bench-XXXXXX";
    bench.dir = "";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--quick") {
            bench.sizes.w1_appends = 2000;
            bench.sizes.w2_calls = 200;
            bench.sizes.w5_seconds = 2;
            bench.sizes.w6_events = 100000;
            bench.sizes.w6_reads = 200;
            bench.sizes.w7_wakeups = 40;
            bench.sizes.w8_events = 100000;
            bench.sizes.w9_seconds = 2;
            bench.sizes.w10_events = 200000;
            bench.sizes.w10_streams = 10000;
            bench.sizes.w11_events = 20000;
            bench.sizes.w11_reads = 50;
        } else if (a == "--only" && i + 1 < argc) {
            workloads.clear();
            std::string list = argv[++i];
            for (size_t p = 0; p <= list.size();) {
                const size_t c = list.find(',', p);
                workloads.push_back(list.substr(p, c == std::string::npos ? c : c - p));
                p = c == std::string::npos ? list.size() + 1 : c + 1;
            }
        } else if (a == "--repeat" && i + 1 < argc) {
            repeat = std::max(1, std::atoi(argv[++i]));
        } else if (a == "--dir" && i + 1 < argc) {
            bench.dir = argv[++i];
        } else {
            std::fprintf(stderr, "usage: %s [--quick] [--only W1,W2] [--repeat N] [--dir DIR]\n",
                         argv[0]);
            return 2;
        }
    }
    if (repeat == 0 && bench.sizes.w1_appends < 20000) repeat = 1;  // --quick: one round
    bool own_dir = false;
    if (bench.dir.empty()) {
        if (!mkdtemp(tmpl)) return 1;
        bench.dir = tmpl;
        own_dir = true;
    }
    std::printf("eskit benchmark: sqlite %s, %s, dir %s\n", sqlite3_libversion(),
                bench.sizes.w1_appends < 20000 ? "quick sizes" : "full sizes", bench.dir.c_str());
    std::fflush(stdout);

    struct Row {
        std::string workload, system;
        Result r;
        double ratio;
    };
    std::vector<Row> rows;
    int failures = 0;
    auto systems = make_systems();
    // W3/W4 need W2's files even when W2 itself is not selected.
    const bool needs_w2 = std::find(workloads.begin(), workloads.end(), "W2") == workloads.end() &&
                          (std::find(workloads.begin(), workloads.end(), "W3") != workloads.end() ||
                           std::find(workloads.begin(), workloads.end(), "W4") != workloads.end());
    if (needs_w2) {  // (kept from an earlier run in the same --dir, if there is one)
        for (auto& make : systems) {
            auto s = make();
            if (access(bench.file(*s, "w2").c_str(), F_OK) != 0) measure(bench, "W2", s->name());
        }
    }
    for (const std::string& w : workloads) {
        // Rounds interleave the systems (raw, schema, sql, raw, ...) so that a slow spell of
        // the machine hits all of them; each system reports its median round.
        const int rounds = repeat > 0 ? repeat
                           : (w == "W5" || w == "W6" || w == "W7" || is_w9(w) || w == "W10") ? 1
                                                                                             : 3;
        std::map<std::string, std::vector<Result>> runs;
        std::map<std::string, bool> failed;
        for (int round = 0; round < rounds; ++round) {
            for (auto& make : systems) {
                auto sys = make();
                if (failed[sys->name()] || !sys->supports(w)) continue;
                try {
                    runs[sys->name()].push_back(measure(bench, w, sys->name()));
                } catch (const std::exception& e) {
                    std::printf("ERROR workload=%s system=%s %s\n", w.c_str(), sys->name(),
                                e.what());
                    failed[sys->name()] = true;
                    ++failures;
                }
            }
        }
        double raw = 0, schema = 0;
        for (auto& make : systems) {
            auto sys = make();
            std::vector<Result>& v = runs[sys->name()];
            if (failed[sys->name()] || v.empty()) continue;
            std::sort(v.begin(), v.end(), [](const Result& a, const Result& b) {
                return a.events_per_s < b.events_per_s;
            });
            Result r = v[v.size() / 2];
            for (const Result& x : v) r.peak_rss_kb = std::max(r.peak_rss_kb, x.peak_rss_kb);
            if (v.size() > 1) r.extra["runs"] = static_cast<double>(v.size());
            if (std::string(sys->name()) == "raw") raw = r.events_per_s;
            if (std::string(sys->name()) == "schema") schema = r.events_per_s;
            const std::string name = sys->name();
            if ((name == "sql" || name == "fast") && schema > 0) {
                r.extra["vs_schema"] = r.events_per_s / schema;
            }
            const double ratio = raw > 0 ? r.events_per_s / raw : 0;
            std::printf(
                "RESULT workload=%s system=%s events_per_s=%.0f ratio_vs_raw=%.2f "
                "peak_rss_kb=%ld",
                w.c_str(), sys->name(), r.events_per_s, ratio, r.peak_rss_kb);
            for (auto& [k, v2] : r.extra) std::printf(" %s=%.3f", k.c_str(), v2);
            std::printf("\n");
            std::fflush(stdout);
            rows.push_back(Row{w, sys->name(), r, ratio});
        }
    }
    std::printf("\n%-4s %-5s %14s %7s %12s  %s\n", "work", "sys", "events/s", "ratio",
                "peak RSS kB", "details");
    for (const Row& row : rows) {
        std::printf("%-4s %-5s %14.0f %7.2f %12ld ", row.workload.c_str(), row.system.c_str(),
                    row.r.events_per_s, row.ratio, row.r.peak_rss_kb);
        for (auto& [k, v] : row.r.extra) std::printf(" %s=%.1f", k.c_str(), v);
        std::printf("\n");
    }
    if (own_dir) {
        for (auto& make : systems) {
            auto s = make();
            for (const char* what : {"w1", "w2", "w5", "w7", "w9", "w10", "w11", "big"}) {
                remove_db(bench.file(*s, what));
            }
        }
        rmdir(bench.dir.c_str());
    }
    return failures ? 1 : 0;
}
