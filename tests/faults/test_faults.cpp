/*
** I/O fault injection (reliability issue): a VFS shim that makes the Nth xWrite / xSync /
** xTruncate / xLock / xShmMap / xShmLock (and the VFS's xOpen / xDelete) of one eskit call fail,
** swept over N = 1, 2, 3, ... until the call completes without reaching the fault, so that
** every write, sync and lock point of the call is exercised, in WAL and rollback-journal mode.
**
** Operations: (a) es_append of a batch with an idempotency key to an existing stream,
** (b) es_archive in place and es_tombstone, (c) es_archive(s, 'cold') and es_restore(s, 'cold')
** moving the stream into and out of an ATTACHed database.
**
** After each faulted call (variant "reopen"): the call reported an error with a real message,
** the connection is back in autocommit, it closes; a fresh connection without faults finds
** integrity_check ok, every stream in exactly one consistent state (contiguous versions where
** es_streams says the events are, an orphan copy in the archive only if identical, es_head equal
** to the high-water mark: max(seq) or es_meta's seq_floor), nothing partial of the faulted call, the other streams
** untouched; then the same call retried succeeds (or gives the README's documented answer for
** the state it finds) and leaves the expected final state.
** Variant "same connection": the fault clears at once and the very next call, on the same
** connection, must succeed and leave the final state (checked there and after reopening).
*/
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "eskit.h"

namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------------
// The fault-injecting VFS.

enum class Point { Open, Delete, Write, Sync, Truncate, Lock, ShmMap, ShmLock };

struct Kind {
    const char* name;
    Point point;
    int rc;  // what the faulted call returns
    bool wal_only;
};

const Kind kKinds[] = {
    {"write/EIO", Point::Write, SQLITE_IOERR_WRITE, false},
    {"write/ENOSPC", Point::Write, SQLITE_FULL, false},
    {"fsync/EIO", Point::Sync, SQLITE_IOERR_FSYNC, false},
    {"truncate/EIO", Point::Truncate, SQLITE_IOERR_TRUNCATE, false},
    {"lock/BUSY", Point::Lock, SQLITE_BUSY, false},
    {"lock/EIO", Point::Lock, SQLITE_IOERR_LOCK, false},
    {"open/CANTOPEN", Point::Open, SQLITE_CANTOPEN, false},
    {"delete/EIO", Point::Delete, SQLITE_IOERR_DELETE, false},
    {"shmmap/EIO", Point::ShmMap, SQLITE_IOERR_SHMMAP, true},
    {"shmlock/BUSY", Point::ShmLock, SQLITE_BUSY, true},
    {"shmlock/EIO", Point::ShmLock, SQLITE_IOERR_SHMLOCK, true},
};

struct FaultState {
    bool armed = false;
    Point point = Point::Write;
    int rc = SQLITE_OK;
    int nth = 0;      // fail the nth call of `point` while armed (one shot)
    int calls = 0;    // calls of `point` seen while armed
    bool fired = false;
    std::string where;  // file the fault hit
};
FaultState g_fault;

void arm(const Kind& k, int nth) {
    g_fault = FaultState{};
    g_fault.armed = true;
    g_fault.point = k.point;
    g_fault.rc = k.rc;
    g_fault.nth = nth;
}
void disarm() { g_fault.armed = false; }

// True when this call of `p` is the one to fail.
bool trip(Point p, const char* file) {
    if (!g_fault.armed || g_fault.point != p) return false;
    ++g_fault.calls;
    if (!g_fault.fired && g_fault.calls == g_fault.nth) {
        g_fault.fired = true;
        g_fault.where = file ? fs::path(file).filename().string() : "(temp file)";
        return true;
    }
    return false;
}

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs;
sqlite3_io_methods g_methods;
constexpr const char* kVfsName = "eskit-faults";

struct FFile {
    sqlite3_file base;
    sqlite3_file* real;
    const char* name;  // valid until xClose (SQLite's guarantee for xOpen's zName)
};

sqlite3_file* R(sqlite3_file* f) { return reinterpret_cast<FFile*>(f)->real; }
const char* N(sqlite3_file* f) { return reinterpret_cast<FFile*>(f)->name; }

int fClose(sqlite3_file* f) {
    sqlite3_file* r = R(f);
    return r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
}
int fRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
    return R(f)->pMethods->xRead(R(f), buf, n, off);
}
int fWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
    if (trip(Point::Write, N(f))) return g_fault.rc;
    return R(f)->pMethods->xWrite(R(f), buf, n, off);
}
int fTruncate(sqlite3_file* f, sqlite3_int64 size) {
    if (trip(Point::Truncate, N(f))) return g_fault.rc;
    return R(f)->pMethods->xTruncate(R(f), size);
}
int fSync(sqlite3_file* f, int flags) {
    if (trip(Point::Sync, N(f))) return g_fault.rc;
    // Counted and faulted, not forwarded: the test never loses power, and thousands of real
    // fsyncs would make the sweep take minutes on a disk.
    (void)flags;
    return SQLITE_OK;
}
int fFileSize(sqlite3_file* f, sqlite3_int64* size) {
    return R(f)->pMethods->xFileSize(R(f), size);
}
int fLock(sqlite3_file* f, int level) {
    if (trip(Point::Lock, N(f))) return g_fault.rc;
    return R(f)->pMethods->xLock(R(f), level);
}
int fUnlock(sqlite3_file* f, int level) { return R(f)->pMethods->xUnlock(R(f), level); }
int fCheckReservedLock(sqlite3_file* f, int* out) {
    return R(f)->pMethods->xCheckReservedLock(R(f), out);
}
int fFileControl(sqlite3_file* f, int op, void* arg) {
    return R(f)->pMethods->xFileControl(R(f), op, arg);
}
int fSectorSize(sqlite3_file* f) { return R(f)->pMethods->xSectorSize(R(f)); }
int fDeviceCharacteristics(sqlite3_file* f) {
    return R(f)->pMethods->xDeviceCharacteristics(R(f));
}
int fShmMap(sqlite3_file* f, int pg, int pgsz, int extend, void volatile** pp) {
    if (trip(Point::ShmMap, N(f))) return g_fault.rc;
    return R(f)->pMethods->xShmMap(R(f), pg, pgsz, extend, pp);
}
int fShmLock(sqlite3_file* f, int offset, int n, int flags) {
    // Only acquisitions fail; SQLite does not expect an unlock to fail.
    if ((flags & SQLITE_SHM_LOCK) && trip(Point::ShmLock, N(f))) return g_fault.rc;
    return R(f)->pMethods->xShmLock(R(f), offset, n, flags);
}
void fShmBarrier(sqlite3_file* f) { R(f)->pMethods->xShmBarrier(R(f)); }
int fShmUnmap(sqlite3_file* f, int del) { return R(f)->pMethods->xShmUnmap(R(f), del); }
int fFetch(sqlite3_file* f, sqlite3_int64 off, int n, void** pp) {
    return R(f)->pMethods->xFetch(R(f), off, n, pp);
}
int fUnfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
    return R(f)->pMethods->xUnfetch(R(f), off, p);
}

int vOpen(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out) {
    auto* ff = reinterpret_cast<FFile*>(f);
    ff->base.pMethods = nullptr;
    ff->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + sizeof(FFile));
    ff->real->pMethods = nullptr;
    ff->name = name;
    if (trip(Point::Open, name)) return g_fault.rc;
    const int rc = g_real->xOpen(g_real, name, ff->real, flags, out);
    if (ff->real->pMethods) ff->base.pMethods = &g_methods;
    return rc;
}
int vDelete(sqlite3_vfs*, const char* name, int sync_dir) {
    if (trip(Point::Delete, name)) return g_fault.rc;
    (void)sync_dir;  // no directory fsync either (see fSync)
    return g_real->xDelete(g_real, name, 0);
}
int vAccess(sqlite3_vfs*, const char* name, int flags, int* out) {
    return g_real->xAccess(g_real, name, flags, out);
}
int vFullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
    return g_real->xFullPathname(g_real, name, n, out);
}
void* vDlOpen(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void vDlError(sqlite3_vfs*, int n, char* msg) { g_real->xDlError(g_real, n, msg); }
void (*vDlSym(sqlite3_vfs*, void* h, const char* sym))(void) {
    return g_real->xDlSym(g_real, h, sym);
}
void vDlClose(sqlite3_vfs*, void* h) { g_real->xDlClose(g_real, h); }
int vRandomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int vSleep(sqlite3_vfs*, int us) { return g_real->xSleep(g_real, us); }
int vCurrentTime(sqlite3_vfs*, double* t) { return g_real->xCurrentTime(g_real, t); }
int vGetLastError(sqlite3_vfs*, int n, char* msg) {
    return g_real->xGetLastError ? g_real->xGetLastError(g_real, n, msg) : 0;
}
int vCurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* t) {
    return g_real->xCurrentTimeInt64(g_real, t);
}

void install_vfs() {
    if (g_real) return;
    g_real = sqlite3_vfs_find(nullptr);
    REQUIRE(g_real != nullptr);
    REQUIRE(g_real->iVersion >= 2);
    g_vfs = sqlite3_vfs{};
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(sizeof(FFile)) + g_real->szOsFile;
    g_vfs.mxPathname = g_real->mxPathname;
    g_vfs.zName = kVfsName;
    g_vfs.xOpen = vOpen;
    g_vfs.xDelete = vDelete;
    g_vfs.xAccess = vAccess;
    g_vfs.xFullPathname = vFullPathname;
    g_vfs.xDlOpen = vDlOpen;
    g_vfs.xDlError = vDlError;
    g_vfs.xDlSym = vDlSym;
    g_vfs.xDlClose = vDlClose;
    g_vfs.xRandomness = vRandomness;
    g_vfs.xSleep = vSleep;
    g_vfs.xCurrentTime = vCurrentTime;
    g_vfs.xGetLastError = vGetLastError;
    g_vfs.xCurrentTimeInt64 = vCurrentTimeInt64;
    g_methods = sqlite3_io_methods{};
    g_methods.iVersion = 3;  // the unix VFS's files are version 3 (shm + mmap)
    g_methods.xClose = fClose;
    g_methods.xRead = fRead;
    g_methods.xWrite = fWrite;
    g_methods.xTruncate = fTruncate;
    g_methods.xSync = fSync;
    g_methods.xFileSize = fFileSize;
    g_methods.xLock = fLock;
    g_methods.xUnlock = fUnlock;
    g_methods.xCheckReservedLock = fCheckReservedLock;
    g_methods.xFileControl = fFileControl;
    g_methods.xSectorSize = fSectorSize;
    g_methods.xDeviceCharacteristics = fDeviceCharacteristics;
    g_methods.xShmMap = fShmMap;
    g_methods.xShmLock = fShmLock;
    g_methods.xShmBarrier = fShmBarrier;
    g_methods.xShmUnmap = fShmUnmap;
    g_methods.xFetch = fFetch;
    g_methods.xUnfetch = fUnfetch;
    REQUIRE(sqlite3_vfs_register(&g_vfs, 0) == SQLITE_OK);  // not the default
    REQUIRE(sqlite3_vfs_find(nullptr) == g_real);
}

// ---------------------------------------------------------------------------------------------
// Small SQL helpers (fault-free paths REQUIRE success).

struct Db {
    sqlite3* db = nullptr;
    Db() = default;
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;
    ~Db() { close(); }
    void close() {
        if (db) sqlite3_close_v2(db);
        db = nullptr;
    }
};

void exec(sqlite3* db, const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    INFO(sql);
    INFO((err ? err : ""));
    sqlite3_free(err);
    REQUIRE(rc == SQLITE_OK);
}

// All rows of a query, columns joined by '|', rows by '\n'.
std::string rows(sqlite3* db, const std::string& sql, const std::string& arg = {}) {
    sqlite3_stmt* s = nullptr;
    INFO(sql);
    INFO(sqlite3_errmsg(db));
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    if (!arg.empty()) sqlite3_bind_text(s, 1, arg.c_str(), -1, SQLITE_TRANSIENT);
    std::string out;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(s); ++i) {
            if (i) out += '|';
            const unsigned char* t = sqlite3_column_text(s, i);
            out += t ? reinterpret_cast<const char*>(t) : "NULL";
        }
        out += '\n';
    }
    const std::string msg = sqlite3_errmsg(db);
    sqlite3_finalize(s);
    INFO(msg);
    REQUIRE(rc == SQLITE_DONE);
    return out;
}

int64_t num(sqlite3* db, const std::string& sql, const std::string& arg = {}) {
    const std::string r = rows(db, sql, arg);
    return r.empty() ? 0 : std::stoll(r);
}

// ---------------------------------------------------------------------------------------------
// Scenario.

enum class Mode { Wal, Rollback };
const char* mode_name(Mode m) { return m == Mode::Wal ? "WAL" : "rollback"; }

enum class Op { Append, ArchiveInPlace, Tombstone, ArchiveCold, RestoreCold };
const Op kOps[] = {Op::Append, Op::ArchiveInPlace, Op::Tombstone, Op::ArchiveCold,
                   Op::RestoreCold};
const char* op_name(Op o) {
    switch (o) {
        case Op::Append: return "(a) es_append batch+key";
        case Op::ArchiveInPlace: return "(b) es_archive in place";
        case Op::Tombstone: return "(b) es_tombstone";
        case Op::ArchiveCold: return "(c) es_archive(s,'cold')";
        case Op::RestoreCold: return "(c) es_restore(s,'cold')";
    }
    return "?";
}

const std::string kStream = "order-1";
constexpr int64_t kBaseVersion = 3;  // events of order-1 before the call
constexpr int64_t kBatch = 4;        // events appended by (a)

std::string big(char c, int n) { return std::string(static_cast<size_t>(n), c); }

std::string batch_json() {
    // Several pages' worth, so that a batch spans more than one page write.
    std::string j = "[";
    for (int i = 1; i <= kBatch; ++i) {
        if (i > 1) j += ",";
        j += "{\"type\":\"ItemAdded\",\"id\":\"b-" + std::to_string(i) +
             "\",\"data\":{\"i\":" + std::to_string(i) + ",\"pad\":\"" + big('p', 1500) +
             "\"},\"metadata\":{\"n\":" + std::to_string(i) + "}}";
    }
    return j + "]";
}

std::string op_sql(Op o) {
    switch (o) {
        case Op::Append:
            return "SELECT es_append('order-1', 3, '" + batch_json() +
                   "', '{\"idempotency_key\":\"batch-1\",\"timestamp\":1700000000000000}')";
        case Op::ArchiveInPlace: return "SELECT es_archive('order-1')";
        case Op::Tombstone: return "SELECT es_tombstone('order-1', 'gdpr')";
        case Op::ArchiveCold: return "SELECT es_archive('order-1', 'cold')";
        case Op::RestoreCold: return "SELECT es_restore('order-1', 'cold')";
    }
    return {};
}

struct Paths {
    fs::path dir, tmpl_main, tmpl_cold, main, cold;
};

Paths g_paths;

void remove_db(const fs::path& p) {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        std::error_code ec;
        fs::remove(p.string() + suffix, ec);
    }
    // super-journals of multi-database commits (main.db-mjXXXXXXXX)
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(p.parent_path(), ec)) {
        const std::string n = e.path().filename().string();
        if (n.rfind(p.filename().string() + "-mj", 0) == 0) fs::remove(e.path(), ec);
    }
}

void open_db(Db& d, const fs::path& main, const fs::path& cold, const char* vfs) {
    const int rc = sqlite3_open_v2(main.c_str(), &d.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                   vfs);
    INFO((d.db ? sqlite3_errmsg(d.db) : "out of memory"));
    REQUIRE(rc == SQLITE_OK);
    REQUIRE(eskit_register(d.db) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(d.db, "ATTACH ?1 AS cold", -1, &s, nullptr) == SQLITE_OK);
    sqlite3_bind_text(s, 1, cold.c_str(), -1, SQLITE_TRANSIENT);
    const int arc = sqlite3_step(s);
    sqlite3_finalize(s);
    INFO(sqlite3_errmsg(d.db));
    REQUIRE(arc == SQLITE_DONE);
}

// Builds the starting databases for (op, mode): order-1 with 3 events and a snapshot, order-2
// with 2 events, cold.db with a table of its own (no eskit tables yet); for RestoreCold order-1
// has already been moved to cold.
void make_template(Op op, Mode mode) {
    remove_db(g_paths.tmpl_main);
    remove_db(g_paths.tmpl_cold);
    Db d;
    open_db(d, g_paths.tmpl_main, g_paths.tmpl_cold, nullptr);
    const char* jm = mode == Mode::Wal ? "WAL" : "DELETE";
    exec(d.db, std::string("PRAGMA main.journal_mode=") + jm);
    exec(d.db, "CREATE TABLE cold.notes(x); INSERT INTO cold.notes VALUES ('kept')");
    exec(d.db, std::string("PRAGMA cold.journal_mode=") + jm);
    exec(d.db, "SELECT es_init()");
    exec(d.db, "SELECT es_append('order-1', 0, '[{\"type\":\"OrderPlaced\",\"id\":\"o1-1\","
               "\"data\":{\"t\":1}},{\"type\":\"ItemAdded\",\"id\":\"o1-2\",\"data\":{\"t\":2}},"
               "{\"type\":\"Paid\",\"id\":\"o1-3\",\"data\":{\"t\":3},\"metadata\":{\"m\":1}}]',"
               "'{\"timestamp\":1600000000000000}')");
    exec(d.db, "SELECT es_append('order-2', 0, '[{\"type\":\"OrderPlaced\",\"id\":\"o2-1\","
               "\"data\":{}},{\"type\":\"Paid\",\"id\":\"o2-2\",\"data\":{}}]',"
               "'{\"timestamp\":1600000000000001}')");
    exec(d.db, "SELECT es_snapshot_save('order-1', 3, '{\"paid\":true}')");
    if (op == Op::RestoreCold) exec(d.db, "SELECT es_archive('order-1', 'cold')");
    REQUIRE(rows(d.db, "PRAGMA main.journal_mode") == std::string(mode == Mode::Wal ? "wal\n"
                                                                                 : "delete\n"));
    d.close();
    REQUIRE(!fs::exists(g_paths.tmpl_main.string() + "-wal"));
}

void fresh_run_files() {
    remove_db(g_paths.main);
    remove_db(g_paths.cold);
    fs::copy_file(g_paths.tmpl_main, g_paths.main, fs::copy_options::overwrite_existing);
    fs::copy_file(g_paths.tmpl_cold, g_paths.cold, fs::copy_options::overwrite_existing);
}

// ---------------------------------------------------------------------------------------------
// State as seen by a fault-free connection.

const char* kEventDigest =
    "SELECT seq, stream_id, category, version, type, quote(data), quote(metadata), codec, "
    "schema_version, event_id, quote(idempotency_key), created_at FROM %s.es_events "
    "WHERE stream_id = ?1 ORDER BY seq";
const char* kSnapDigest =
    "SELECT stream_id, version, schema_version, codec, quote(state), created_at FROM "
    "%s.es_snapshots WHERE stream_id = ?1";

std::string fmt(const char* f, const char* schema) {
    char buf[512];
    std::snprintf(buf, sizeof buf, f, schema);
    return buf;
}

bool cold_has_tables(sqlite3* db) {
    return num(db, "SELECT count(*) FROM cold.sqlite_schema WHERE name = 'es_events'") > 0;
}

struct View {
    std::string status;       // es_status
    std::string stream_row;   // main.es_streams: version|state|archived_to|reason
    std::string main_events;  // digest of the stream's events in main
    std::string cold_events;  // ... in cold ("" when cold has no eskit tables)
    std::string cold_row;     // cold.es_streams row: version|state
    std::string main_snap, cold_snap;
    std::string others;       // every other stream's events and rows, main and cold
    int64_t head = 0;
};

View view(sqlite3* db) {
    View v;
    v.status = rows(db, "SELECT es_status(?1)", kStream);
    v.stream_row = rows(db, "SELECT version, state, archived_to, tombstone_reason FROM "
                            "main.es_streams WHERE stream_id = ?1", kStream);
    v.main_events = rows(db, fmt(kEventDigest, "main"), kStream);
    v.main_snap = rows(db, fmt(kSnapDigest, "main"), kStream);
    v.head = num(db, "SELECT es_head()");
    v.others = rows(db, "SELECT seq, stream_id, version, type, quote(data), event_id FROM "
                        "main.es_events WHERE stream_id <> ?1 ORDER BY seq", kStream) +
               rows(db, "SELECT stream_id, version, state FROM main.es_streams "
                        "WHERE stream_id <> ?1 ORDER BY stream_id", kStream) +
               rows(db, "SELECT * FROM cold.notes");
    if (cold_has_tables(db)) {
        v.cold_events = rows(db, fmt(kEventDigest, "cold"), kStream);
        v.cold_snap = rows(db, fmt(kSnapDigest, "cold"), kStream);
        v.cold_row = rows(db, "SELECT version, state FROM cold.es_streams WHERE stream_id = ?1",
                          kStream);
        v.others += rows(db, "SELECT seq, stream_id FROM cold.es_events WHERE stream_id <> ?1",
                         kStream);
    }
    return v;
}

// Store-wide invariants that hold in every state, for every stream.
void check_invariants(sqlite3* db) {
    CHECK(rows(db, "PRAGMA main.integrity_check") == "ok\n");
    CHECK(rows(db, "PRAGMA cold.integrity_check") == "ok\n");
    // es_head is the high-water mark: the newest stored seq, or the seq_floor that every
    // delete of events records first, whichever is higher. It covers every stored seq, also
    // the events moved to cold (which got their seq in main).
    const int64_t head = num(db, "SELECT es_head()");
    CHECK(head == num(db, "SELECT max(coalesce((SELECT max(seq) FROM main.es_events), 0), "
                          "coalesce((SELECT value FROM main.es_meta WHERE key = 'seq_floor'), "
                          "0))"));
    CHECK(head >= num(db, "SELECT coalesce(max(seq), 0) FROM main.es_events"));
    // A version 2 store: no AUTOINCREMENT bookkeeping, no guard table.
    CHECK(num(db, "SELECT count(*) FROM main.sqlite_schema WHERE name IN "
                  "('sqlite_sequence', 'es_guard')") == 0);
    const bool cold = cold_has_tables(db);
    if (cold) {
        CHECK(head >= num(db, "SELECT coalesce(max(seq), 0) FROM cold.es_events"));
    }
    // Per stream: versions contiguous 1..version exactly where es_streams says they are.
    const std::string bad_main = rows(db,
        "SELECT s.stream_id, s.state, s.archived_to, s.version, count(e.seq), min(e.version), "
        "max(e.version) FROM main.es_streams s LEFT JOIN main.es_events e USING (stream_id) "
        "GROUP BY s.stream_id HAVING CASE "
        "WHEN s.state = 'tombstoned' OR s.archived_to IS NOT NULL THEN count(e.seq) <> 0 "
        "ELSE count(e.seq) <> s.version OR min(e.version) IS NOT 1 "
        "OR max(e.version) IS NOT s.version END");
    CHECK_MESSAGE(bad_main.empty(), "streams inconsistent in main: " << bad_main);
    CHECK(num(db, "SELECT count(*) FROM main.es_events e WHERE NOT EXISTS (SELECT 1 FROM "
                  "main.es_streams s WHERE s.stream_id = e.stream_id)") == 0);
    if (!cold) {
        CHECK(num(db, "SELECT count(*) FROM main.es_streams WHERE archived_to IS NOT NULL") == 0);
        return;
    }
    const std::string bad_cold = rows(db,
        "SELECT s.stream_id, s.version, count(e.seq), min(e.version), max(e.version) "
        "FROM main.es_streams s LEFT JOIN cold.es_events e USING (stream_id) "
        "WHERE s.archived_to = 'cold' GROUP BY s.stream_id HAVING count(e.seq) <> s.version "
        "OR min(e.version) IS NOT 1 OR max(e.version) IS NOT s.version");
    CHECK_MESSAGE(bad_cold.empty(), "streams archived to cold are incomplete there: " << bad_cold);
    CHECK(num(db, "SELECT count(*) FROM main.es_streams s WHERE archived_to = 'cold' AND NOT "
                  "EXISTS (SELECT 1 FROM cold.es_streams c WHERE c.stream_id = s.stream_id)") ==
          0);
    // Anything else in cold is an orphan of an interrupted move: identical to main, row by row.
    const std::string orphan_diff = rows(db,
        "SELECT a.seq, a.stream_id FROM cold.es_events a JOIN main.es_streams s USING "
        "(stream_id) WHERE s.archived_to IS NOT 'cold' AND NOT EXISTS (SELECT 1 FROM "
        "main.es_events m WHERE m.seq = a.seq AND m.stream_id = a.stream_id AND m.category = "
        "a.category AND m.version = a.version AND m.type = a.type AND m.data IS a.data AND "
        "m.metadata IS a.metadata AND m.codec = a.codec AND m.schema_version = "
        "a.schema_version AND m.event_id = a.event_id AND m.idempotency_key IS "
        "a.idempotency_key AND m.created_at = a.created_at)");
    CHECK_MESSAGE(orphan_diff.empty(), "orphan rows in cold differ from main: " << orphan_diff);
    const std::string orphan_count = rows(db,
        "SELECT c.stream_id FROM cold.es_streams c JOIN main.es_streams s USING (stream_id) "
        "WHERE s.archived_to IS NOT 'cold' AND (SELECT count(*) FROM cold.es_events a WHERE "
        "a.stream_id = c.stream_id) NOT IN (0, (SELECT count(*) FROM main.es_events m WHERE "
        "m.stream_id = c.stream_id))");
    CHECK_MESSAGE(orphan_count.empty(), "orphan copy in cold is partial: " << orphan_count);
}

// The states a stream may be in before and after the call, from fault-free runs.
struct Expect {
    View before;  // the template
    View after;   // after a fault-free call
    int64_t result = 0;
};

bool same_events(const View& a, const View& b) {
    return a.main_events == b.main_events && a.cold_events == b.cold_events &&
           a.main_snap == b.main_snap && a.cold_snap == b.cold_snap && a.others == b.others &&
           a.head == b.head && a.status == b.status;
}

// Is `v` entirely the "before" or entirely the "after" state of the call? Returns 0 / 1, or
// -1 for anything else. Orphans (an identical copy left in cold) are allowed where the README
// allows them; updated_at and the like are not compared.
int which_state(Op op, const View& v, const Expect& e) {
    auto state = [](const View& x) { return x.stream_row; };
    auto orphan_ok = [&](const View& x, const View& full) {
        // cold holds nothing of the stream, or an identical copy of it
        return (x.cold_events.empty() && x.cold_row.empty() && x.cold_snap.empty()) ||
               (x.cold_events == full.main_events && x.cold_snap == full.main_snap);
    };
    switch (op) {
        case Op::Append:
        case Op::ArchiveInPlace:
        case Op::Tombstone:
            if (same_events(v, e.before) && state(v) == state(e.before)) return 0;
            if (same_events(v, e.after) && state(v) == state(e.after)) return 1;
            return -1;
        case Op::ArchiveCold: {
            // before: active in main, maybe an orphan in cold; after: moved to cold.
            if (v.main_events == e.before.main_events && v.main_snap == e.before.main_snap &&
                state(v) == state(e.before) && v.status == e.before.status &&
                v.others == e.before.others && v.head == e.before.head && orphan_ok(v, e.before))
                return 0;
            if (same_events(v, e.after) && state(v) == state(e.after)) return 1;
            return -1;
        }
        case Op::RestoreCold: {
            if (same_events(v, e.before) && state(v) == state(e.before)) return 0;
            if (v.main_events == e.after.main_events && v.main_snap == e.after.main_snap &&
                state(v) == state(e.after) && v.status == e.after.status &&
                v.others == e.after.others && v.head == e.after.head && orphan_ok(v, e.after))
                return 1;
            return -1;
        }
    }
    return -1;
}

// The final state after a retry: the fault-free "after", with an orphan allowed for restore.
bool is_final(Op op, const View& v, const Expect& e) { return which_state(op, v, e) == 1; }

struct Call {
    int rc = SQLITE_OK;
    int ext = SQLITE_OK;
    std::string msg;
    int64_t value = 0;
    bool autocommit = true;
};

Call call(sqlite3* db, const std::string& sql, const Kind* k, int nth) {
    sqlite3_stmt* s = nullptr;
    Call c;
    const int prc = sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
    if (prc != SQLITE_OK) {
        c.rc = prc;
        c.msg = sqlite3_errmsg(db);
        return c;
    }
    if (k) arm(*k, nth);
    c.rc = sqlite3_step(s);
    disarm();
    c.ext = sqlite3_extended_errcode(db);
    c.msg = sqlite3_errmsg(db);
    if (c.rc == SQLITE_ROW) c.value = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    c.autocommit = sqlite3_get_autocommit(db) != 0;
    return c;
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// The answer of a retry. `was` is the state found before it (0 before, 1 after, -1: unknown,
// the same-connection variant accepts either). The README's table: retrying a completed
// tombstone is `tombstoned`, a completed archive move a no-op (0), a completed in-place archive
// a no-op (0); a restore from cold whose second step was lost finishes with 0 (it removes the
// identical leftover copy), one that completed is `invalid_argument` (active x es_restore(s, X));
// a completed append with the same key is a replay returning the version.
bool retry_ok(Op op, const Call& r, const Expect& e, int was) {
    const bool fresh = r.rc == SQLITE_ROW && r.value == e.result;
    bool done = false;
    switch (op) {
        case Op::Append: done = r.rc == SQLITE_ROW && r.value == e.result; break;
        case Op::ArchiveInPlace: done = r.rc == SQLITE_ROW && r.value == 0; break;
        case Op::Tombstone: done = r.rc == SQLITE_CONSTRAINT && starts_with(r.msg, "tombstoned:"); break;
        case Op::ArchiveCold: done = r.rc == SQLITE_ROW && r.value == 0; break;
        case Op::RestoreCold:
            done = (r.rc == SQLITE_ROW && r.value == 0) ||
                   (r.rc == SQLITE_ERROR && starts_with(r.msg, "invalid_argument:"));
            break;
    }
    if (was == 0) return fresh;
    if (was == 1) return done;
    return fresh || done;
}

// ---------------------------------------------------------------------------------------------
// Figures.

struct Figures {
    int runs = 0;              // faulted calls (fault armed and reached)
    int injected = 0;          // faults that fired
    int errors = 0;            // ... reported as an error by the call
    int absorbed = 0;          // ... handled inside SQLite, the call succeeded
    int reopen_checks = 0;     // reopen + invariant checks passed through
    int same_conn_checks = 0;  // next call on the same connection checked
    int applied_despite_error = 0;   // error reported, yet the call's effect is durable
    int partial_moves = 0;           // a move stopped between its two steps (orphan left)
    int restore_retry_invalid = 0;   // retry of a completed restore answered invalid_argument
    std::map<std::string, int> points;  // op/mode/kind -> fault points reached
    std::set<std::string> messages;
    std::map<std::string, int> absorbed_by;  // kind + file -> count
    std::map<std::string, int> durable_by;   // op/mode/kind -> error reported, effect durable
};
Figures g_fig;

Expect expectations(Op op) {
    Expect e;
    fresh_run_files();
    Db d;
    open_db(d, g_paths.main, g_paths.cold, kVfsName);
    e.before = view(d.db);
    const Call c = call(d.db, op_sql(op), nullptr, 0);
    INFO(c.msg);
    REQUIRE(c.rc == SQLITE_ROW);
    e.result = c.value;
    e.after = view(d.db);
    check_invariants(d.db);
    d.close();
    return e;
}

// One (op, mode, kind) sweep: N = 1, 2, ... until the call completes without reaching the fault.
void sweep(Op op, Mode mode, const Kind& k, const Expect& e, bool same_connection) {
    const std::string sql = op_sql(op);
    const std::string label = std::string(op_name(op)) + " / " + mode_name(mode) + " / " +
                              k.name + (same_connection ? " / same-conn" : " / reopen");
    for (int n = 1;; ++n) {
        INFO(label << " / fault at call #" << n);
        REQUIRE(n < 2000);
        fresh_run_files();
        Db d;
        open_db(d, g_paths.main, g_paths.cold, kVfsName);
        // A warm connection: schema read, shm mapped, eskit statements prepared.
        rows(d.db, "SELECT es_status('order-1'), es_head()");
        const Call c = call(d.db, sql, &k, n);
        if (!g_fault.fired) {
            // Every point of the call has been exercised; the call ran clean.
            CHECK(c.rc == SQLITE_ROW);
            CHECK(c.value == e.result);
            if (!same_connection) g_fig.points[label] = n - 1;
            d.close();
            Db r;
            open_db(r, g_paths.main, g_paths.cold, nullptr);
            check_invariants(r.db);
            CHECK(is_final(op, view(r.db), e));
            return;
        }
        ++g_fig.runs;
        ++g_fig.injected;
        INFO("call returned rc=" << c.rc << " (extended " << c.ext << "): " << c.msg
                                  << "; fault hit " << g_fault.where);
        if (c.rc == SQLITE_ROW) {
            // SQLite handled the fault itself (e.g. retried a lock); must then be complete.
            ++g_fig.absorbed;
            ++g_fig.absorbed_by[std::string(k.name) + " on " + g_fault.where];
            // Retried locks and a failed delete of an already committed journal may be
            // handled inside SQLite; a failed write, sync, truncate or open must be reported.
            CHECK_MESSAGE((k.point == Point::Lock || k.point == Point::ShmLock ||
                           k.point == Point::ShmMap || k.point == Point::Delete),
                          "an injected " << std::string(k.name) << " fault was not reported");
            CHECK(c.value == e.result);
        } else {
            ++g_fig.errors;
            CHECK(c.rc != SQLITE_DONE);
            CHECK(!c.msg.empty());
            CHECK(c.msg != "not an error");
            CHECK(c.ext != SQLITE_OK);
            g_fig.messages.insert(std::to_string(c.ext & 0xff) + " " + c.msg);
        }
        CHECK_MESSAGE(c.autocommit, "connection left inside a transaction after the fault");

        if (same_connection) {
            // The fault cleared at once: the very next call on this connection must work.
            const Call r = call(d.db, sql, nullptr, 0);
            INFO("retry on the same connection: rc=" << r.rc << " value=" << r.value << ": "
                                                     << r.msg);
            if (c.rc == SQLITE_ROW) {
                CHECK(retry_ok(op, r, e, 1));
            } else {
                CHECK(retry_ok(op, r, e, -1));
            }
            CHECK(r.autocommit);
            {
                const View v = view(d.db);
                CHECK_MESSAGE(is_final(op, v, e), "same connection does not see the final state");
            }
            d.close();
            Db r2;
            open_db(r2, g_paths.main, g_paths.cold, nullptr);
            check_invariants(r2.db);
            CHECK_MESSAGE(is_final(op, view(r2.db), e), "final state not durable after reopen");
            ++g_fig.same_conn_checks;
            continue;
        }

        REQUIRE(sqlite3_close(d.db) == SQLITE_OK);  // nothing left unfinalized
        d.db = nullptr;
        Db r;
        open_db(r, g_paths.main, g_paths.cold, nullptr);
        check_invariants(r.db);
        const View v = view(r.db);
        const int was = which_state(op, v, e);
        CHECK_MESSAGE(was >= 0, "partial state after the fault: status=" << v.status
                                    << " row=" << v.stream_row << " main events:\n"
                                    << v.main_events << "cold events:\n" << v.cold_events
                                    << "head=" << v.head);
        if (was == 1 && c.rc != SQLITE_ROW) {
            ++g_fig.applied_despite_error;
            ++g_fig.durable_by[std::string(op_name(op)) + " / " + mode_name(mode) + " / " +
                               k.name];
        }
        if ((op == Op::ArchiveCold && was == 0 && !v.cold_events.empty()) ||
            (op == Op::RestoreCold && was == 1 && !v.cold_events.empty())) {
            ++g_fig.partial_moves;
        }
        if (c.rc == SQLITE_ROW) CHECK(was == 1);
        ++g_fig.reopen_checks;
        // Retry without the fault.
        const Call r2 = call(r.db, sql, nullptr, 0);
        INFO("retry after reopen: rc=" << r2.rc << " value=" << r2.value << ": " << r2.msg);
        CHECK(retry_ok(op, r2, e, was));
        if (op == Op::RestoreCold && was == 1 && r2.rc != SQLITE_ROW) ++g_fig.restore_retry_invalid;
        check_invariants(r.db);
        CHECK_MESSAGE(is_final(op, view(r.db), e), "retry did not reach the final state");
    }
}

struct TempDir {
    fs::path path;
    TempDir() {
        // tmpfs when there is one: the sweep syncs thousands of times and the faults are
        // injected above the file system anyway.
        std::error_code ec;
        const char* forced = std::getenv("ESKIT_FAULTS_DIR");
        const fs::path base = forced ? fs::path(forced) : fs::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK) == 0
                                  ? fs::path("/dev/shm")
                                  : fs::temp_directory_path();
        std::string tmpl = (base / "eskit-faults-XXXXXX").string();
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

}  // namespace

TEST_CASE("I/O faults at every write, sync and lock point leave nothing partial") {
    install_vfs();
    TempDir tmp;
    g_paths.dir = tmp.path;
    g_paths.tmpl_main = tmp.path / "tmpl-main.db";
    g_paths.tmpl_cold = tmp.path / "tmpl-cold.db";
    g_paths.main = tmp.path / "main.db";
    g_paths.cold = tmp.path / "cold.db";

    const auto t0 = std::chrono::steady_clock::now();
    int sweeps = 0;
    for (Mode mode : {Mode::Wal, Mode::Rollback}) {
        for (Op op : kOps) {
            make_template(op, mode);
            const Expect e = expectations(op);
            CAPTURE(op_name(op));
            CAPTURE(mode_name(mode));
            for (const Kind& k : kKinds) {
                if (k.wal_only && mode != Mode::Wal) continue;
                sweep(op, mode, k, e, false);
                sweep(op, mode, k, e, true);
                ++sweeps;
            }
        }
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::printf("faults: fault points reached per operation / mode / kind:\n");
    for (const auto& [label, n] : g_fig.points) std::printf("  %-60s %4d\n", label.c_str(), n);
    std::printf("faults: faults absorbed by SQLite (call succeeded, final state verified):\n");
    for (const auto& [what, n] : g_fig.absorbed_by) std::printf("  %-60s %4d\n", what.c_str(), n);
    std::printf("faults: error reported but the call's effect found durable after reopen:\n");
    for (const auto& [what, n] : g_fig.durable_by) std::printf("  %-60s %4d\n", what.c_str(), n);
    std::printf("faults: error messages seen (primary code, message):\n");
    for (const auto& m : g_fig.messages) std::printf("  %s\n", m.c_str());
    std::printf("faults: %zu ops x 2 modes, %d sweeps x 2 variants, %d faults injected "
                "(%d reported as errors, %d absorbed by SQLite), %d reopen recoveries checked, "
                "%d same-connection retries checked, %d durable despite the error, "
                "%d moves stopped between steps (identical orphan), %d restore retries answered "
                "invalid_argument, %.1f s\n",
                std::size(kOps), sweeps, g_fig.injected, g_fig.errors, g_fig.absorbed,
                g_fig.reopen_checks, g_fig.same_conn_checks, g_fig.applied_despite_error,
                g_fig.partial_moves, g_fig.restore_retry_invalid, secs);
    std::fflush(stdout);
    CHECK(g_fig.injected > 0);
    CHECK(g_fig.reopen_checks + g_fig.same_conn_checks == g_fig.injected);
}
