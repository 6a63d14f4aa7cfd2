/*
** I/O fault injection (reliability issue): a VFS shim that makes the Nth xWrite / xSync /
** xTruncate / xLock / xShmMap / xShmLock (and the VFS's xOpen / xDelete) of one eskit call fail,
** swept over N = 1, 2, 3, ... until the call completes without reaching the fault, so that
** every write, sync and lock point of the call is exercised, in WAL and rollback-journal mode.
**
** Operations: (a) es_append of a batch with an idempotency key to an existing stream,
** (b) es_archive in place and es_tombstone, (c) es_archive(s, 'cold') and es_restore(s, 'cold')
** moving the stream into and out of an ATTACHed database (every step of schema 3's moves:
** archive = A intent in main, B copy into cold, C delete in main; restore = A copy back and a
** clean-up record in main, B erase in cold, C drop the record), (d) es_tombstone and es_delete
** of a stream archived in cold (main at once, then the recorded clean-up of cold's copy).
**
** After each faulted call (variant "reopen": on a fresh connection; variant "same connection":
** on the faulted one, the fault cleared): the call reported an error with a real message, the
** connection is back in autocommit; integrity_check is ok; every stream is in exactly one
** consistent state (contiguous versions where main's record says the events are, a copy in
** cold only as main recorded it: the intent's move id or a clean-up's, never partial, identical
** to main's events where main still has them; the index answers as plain SQL; es_head equal to
** the high-water mark: max(seq) or es_meta's seq_floor); the stream is entirely before the call,
** entirely after it, or in one of the recorded states between its steps (Where), nothing
** partial, the other streams untouched. Then the same call retried gives the one answer the
** README's lifecycle table gives for that state (retry_answer: a move interrupted after its
** intent is finished by es_archive, a restore's interrupted clean-up by es_restore, a
** tombstone's or delete's by es_maintain()) and leaves the final state, checked again after
** reopening. Every state between steps must have been found at least once.
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
    int nth = 0;    // fail the nth call of `point` while armed (one shot)
    int calls = 0;  // calls of `point` seen while armed
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
int fDeviceCharacteristics(sqlite3_file* f) { return R(f)->pMethods->xDeviceCharacteristics(R(f)); }
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

enum class Op {
    Append,
    ArchiveInPlace,
    Tombstone,
    ArchiveCold,
    RestoreCold,
    TombstoneCold,
    DeleteCold
};
const Op kOps[] = {Op::Append,      Op::ArchiveInPlace, Op::Tombstone, Op::ArchiveCold,
                   Op::RestoreCold, Op::TombstoneCold,  Op::DeleteCold};
const char* op_name(Op o) {
    switch (o) {
        case Op::Append: return "(a) es_append batch+key";
        case Op::ArchiveInPlace: return "(b) es_archive in place";
        case Op::Tombstone: return "(b) es_tombstone";
        case Op::ArchiveCold: return "(c) es_archive(s,'cold')";
        case Op::RestoreCold: return "(c) es_restore(s,'cold')";
        case Op::TombstoneCold: return "(d) es_tombstone of archived";
        case Op::DeleteCold: return "(d) es_delete of archived";
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
        case Op::TombstoneCold: return "SELECT es_tombstone('order-1', 'gdpr')";
        case Op::DeleteCold: return "SELECT es_delete('order-1')";
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
    const int rc =
        sqlite3_open_v2(main.c_str(), &d.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs);
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
// with 2 events, cold.db with a table of its own (no eskit tables yet); for RestoreCold,
// TombstoneCold and DeleteCold order-1 has already been moved to cold.
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
    exec(d.db,
         "SELECT es_append('order-1', 0, '[{\"type\":\"OrderPlaced\",\"id\":\"o1-1\","
         "\"data\":{\"t\":1}},{\"type\":\"ItemAdded\",\"id\":\"o1-2\",\"data\":{\"t\":2}},"
         "{\"type\":\"Paid\",\"id\":\"o1-3\",\"data\":{\"t\":3},\"metadata\":{\"m\":1}}]',"
         "'{\"timestamp\":1600000000000000}')");
    exec(d.db,
         "SELECT es_append('order-2', 0, '[{\"type\":\"OrderPlaced\",\"id\":\"o2-1\","
         "\"data\":{}},{\"type\":\"Paid\",\"id\":\"o2-2\",\"data\":{}}]',"
         "'{\"timestamp\":1600000000000001}')");
    exec(d.db, "SELECT es_snapshot_save('order-1', 3, '{\"paid\":true}')");
    if (op == Op::RestoreCold || op == Op::TombstoneCold || op == Op::DeleteCold) {
        exec(d.db, "SELECT es_archive('order-1', 'cold')");
    }
    REQUIRE(rows(d.db, "PRAGMA main.journal_mode") ==
            std::string(mode == Mode::Wal ? "wal\n" : "delete\n"));
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
    "SELECT seq, stream_id, es_category(stream_id), version, type, quote(data), quote(metadata), "
    "codec, schema_version, event_id, quote(idempotency_key), created_at FROM %s.es_events "
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

// What a test can compare between runs: everything but timestamps of lifecycle changes, move
// ids (random per move) and cold's identity (random when the move creates cold's tables); they
// are shown by what they match instead: "=cold" for cold's identity, 1/0 for "the copy in cold
// is the one main's intent or clean-up record names".
struct View {
    std::string status;       // es_status
    std::string stream_row;   // main.es_streams: version|state|archived_to|reason
    std::string life;         // main.es_lifecycle: state|archive_store|alias|moved_*|prior|reason
    std::string main_events;  // digest of the stream's events in main
    std::string cold_events;  // ... in cold ("" when cold has no eskit tables)
    std::string cold_row;     // cold.es_streams row: version|state
    std::string cold_life;    // cold.es_lifecycle: state|origin|moved_count|same move as main's
    std::string cleanups;     // main.es_cleanups: store|stream|names cold's copy|alias
    std::string reserved;     // main.es_reserved_ids of the stream: count
    std::string main_snap, cold_snap;
    std::string others;  // every other stream's events and rows, main and cold
    int64_t head = 0;

    std::string all() const {
        return status + "#" + stream_row + "#" + life + "#" + main_events + "#" + cold_events +
               "#" + cold_row + "#" + cold_life + "#" + cleanups + "#" + reserved + "#" +
               main_snap + "#" + cold_snap + "#" + others + "#" + std::to_string(head);
    }
    std::string describe() const {
        return "status=" + status + " row=" + stream_row + " life=" + life +
               " cold_life=" + cold_life + " cleanups=" + cleanups + " reserved=" + reserved +
               "\nmain events:\n" + main_events + "cold events:\n" + cold_events +
               "head=" + std::to_string(head);
    }
};

View view(sqlite3* db) {
    View v;
    const bool cold = cold_has_tables(db);
    v.status = rows(db, "SELECT es_status(?1)", kStream);
    v.stream_row = rows(db,
                        "SELECT version, state, archived_to, tombstone_reason FROM "
                        "main.es_streams WHERE stream_id = ?1",
                        kStream);
    const std::string store = cold ? "CASE WHEN %s IS (SELECT value FROM cold.es_meta WHERE key "
                                     "= 'store_id') THEN '=cold' ELSE %s END"
                                   : "%s";
    char expr[256];
    std::snprintf(expr, sizeof expr, store.c_str(), "archive_store", "archive_store");
    v.life = rows(db,
                  std::string("SELECT state, ") + expr +
                      ", archive_alias, version, "
                      "moved_count, moved_last_id, moved_seq_lo, moved_seq_hi, prior_state, "
                      "tombstone_reason FROM main.es_lifecycle WHERE stream_id = ?1",
                  kStream);
    v.main_events = rows(db, fmt(kEventDigest, "main"), kStream);
    v.main_snap = rows(db, fmt(kSnapDigest, "main"), kStream);
    v.reserved =
        rows(db, "SELECT count(*) FROM main.es_reserved_ids WHERE stream_id = ?1", kStream);
    v.head = num(db, "SELECT es_head()");
    v.others = rows(db,
                    "SELECT seq, stream_id, version, type, quote(data), event_id FROM "
                    "main.es_events WHERE stream_id <> ?1 ORDER BY seq",
                    kStream) +
               rows(db,
                    "SELECT stream_id, version, state FROM main.es_streams "
                    "WHERE stream_id <> ?1 ORDER BY stream_id",
                    kStream) +
               rows(db, "SELECT * FROM cold.notes");
    if (cold) {
        v.cold_events = rows(db, fmt(kEventDigest, "cold"), kStream);
        v.cold_snap = rows(db, fmt(kSnapDigest, "cold"), kStream);
        v.cold_row =
            rows(db, "SELECT version, state FROM cold.es_streams WHERE stream_id = ?1", kStream);
        v.cold_life =
            rows(db,
                 "SELECT c.state, c.origin_store, c.moved_count, c.move_id IS (SELECT move_id FROM "
                 "main.es_lifecycle WHERE stream_id = ?1) FROM cold.es_lifecycle c "
                 "WHERE c.stream_id = ?1",
                 kStream);
        std::snprintf(expr, sizeof expr, store.c_str(), "k.store_id", "k.store_id");
        v.cleanups = rows(db, std::string("SELECT ") + expr +
                                  ", k.stream_id, k.move_id IS "
                                  "(SELECT move_id FROM cold.es_lifecycle WHERE stream_id = "
                                  "k.stream_id), k.alias FROM main.es_cleanups k ORDER BY 1, 2, 3");
        v.others +=
            rows(db, "SELECT seq, stream_id FROM cold.es_events WHERE stream_id <> ?1", kStream);
    } else {
        v.cleanups = rows(db, "SELECT store_id, stream_id, NULL, alias FROM main.es_cleanups");
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
    CHECK(head == num(db,
                      "SELECT max(coalesce((SELECT max(seq) FROM main.es_events), 0), "
                      "coalesce((SELECT value FROM main.es_meta WHERE key = 'seq_floor'), "
                      "0))"));
    CHECK(head >= num(db, "SELECT coalesce(max(seq), 0) FROM main.es_events"));
    // A version 3 store with an identity; no AUTOINCREMENT bookkeeping, no guard table.
    CHECK(num(db, "SELECT value FROM main.es_meta WHERE key = 'schema_version'") == 3);
    const std::string main_id = rows(db, "SELECT value FROM main.es_meta WHERE key = 'store_id'");
    CHECK(main_id.size() == 37);  // a UUID and the row's newline
    CHECK(num(db,
              "SELECT count(*) FROM main.sqlite_schema WHERE name IN "
              "('sqlite_sequence', 'es_guard')") == 0);
    // The index of categories and types answers what plain SQL answers, and trails the log.
    CHECK(num(db, "SELECT value FROM main.es_meta WHERE key = 'indexed_upto'") <= head);
    for (const char* q : {"category = 'order'", "type = 'Paid'", "type = 'ItemAdded'"}) {
        INFO(q);
        const std::string plain = std::string(q).replace(0, 8, "es_category(stream_id)");
        CHECK(rows(db, std::string("SELECT seq FROM es_all(0) WHERE ") + q) ==
              rows(db, std::string("SELECT seq FROM main.es_events WHERE ") +
                           (q[0] == 'c' ? plain : std::string(q)) + " ORDER BY seq"));
    }
    // Per stream: versions contiguous 1..version exactly where main's record says they are
    // (in main unless tombstoned or archived into another store; 'archiving' keeps them here).
    const std::string bad_main = rows(
        db,
        "SELECT s.stream_id, s.state, l.state, s.version, count(e.seq), min(e.version), "
        "max(e.version) FROM main.es_streams s LEFT JOIN main.es_lifecycle l USING (stream_id) "
        "LEFT JOIN main.es_events e USING (stream_id) GROUP BY s.stream_id HAVING CASE "
        "WHEN l.state = 'tombstoned' OR (l.state = 'archived' AND l.archive_store IS NOT NULL) "
        "THEN count(e.seq) <> 0 ELSE count(e.seq) <> s.version OR min(e.version) IS NOT 1 "
        "OR max(e.version) IS NOT s.version END");
    CHECK_MESSAGE(bad_main.empty(), "streams inconsistent in main: " << bad_main);
    const bool cold = cold_has_tables(db);
    if (!cold) {
        CHECK(num(db, "SELECT count(*) FROM main.es_lifecycle WHERE archive_store IS NOT NULL") ==
              0);
        CHECK(num(db, "SELECT count(*) FROM main.es_cleanups") == 0);
        return;
    }
    CHECK(num(db, "SELECT value FROM cold.es_meta WHERE key = 'schema_version'") == 3);
    const std::string cold_id = rows(db, "SELECT value FROM cold.es_meta WHERE key = 'store_id'");
    CHECK(cold_id.size() == 37);
    CHECK(cold_id != main_id);
    CHECK(head >= num(db, "SELECT coalesce(max(seq), 0) FROM cold.es_events"));
    // Moves name cold by its identity (the only other store here), and say what left.
    CHECK(num(db,
              "SELECT count(*) FROM main.es_lifecycle WHERE archive_store IS NOT NULL AND "
              "(archive_store IS NOT (SELECT value FROM cold.es_meta WHERE key = "
              "'store_id') OR archive_alias IS NOT 'cold' OR moved_count IS NOT version)") == 0);
    CHECK(num(db,
              "SELECT count(*) FROM main.es_cleanups WHERE store_id IS NOT (SELECT value "
              "FROM cold.es_meta WHERE key = 'store_id') OR alias IS NOT 'cold'") == 0);
    // Streams archived into cold are complete there, tagged with the recorded move, their ids
    // reserved in main.
    const std::string bad_cold = rows(
        db,
        "SELECT l.stream_id, l.version, count(e.seq), min(e.version), max(e.version) "
        "FROM main.es_lifecycle l LEFT JOIN cold.es_events e USING (stream_id) "
        "WHERE l.state = 'archived' AND l.archive_store IS NOT NULL GROUP BY l.stream_id "
        "HAVING count(e.seq) <> l.version OR min(e.version) IS NOT 1 OR max(e.version) IS NOT "
        "l.version OR NOT EXISTS (SELECT 1 FROM cold.es_lifecycle c WHERE c.stream_id = "
        "l.stream_id AND c.move_id = l.move_id AND c.origin_store = (SELECT value FROM "
        "main.es_meta WHERE key = 'store_id')) OR (SELECT count(*) FROM main.es_reserved_ids r "
        "WHERE r.stream_id = l.stream_id) <> l.moved_count");
    CHECK_MESSAGE(bad_cold.empty(), "streams archived to cold are incomplete there: " << bad_cold);
    // Any other copy in cold is one main recorded: the copy of a move in progress (the
    // intent's move id) or one to erase (a clean-up names its move id); never partial, and
    // identical to main's events where main still has them.
    const std::string unrecorded = rows(
        db,
        "SELECT c.stream_id, c.move_id FROM cold.es_lifecycle c WHERE NOT EXISTS (SELECT 1 FROM "
        "main.es_lifecycle l WHERE l.stream_id = c.stream_id AND l.move_id = c.move_id AND "
        "l.state IN ('archived', 'archiving') AND l.archive_store IS NOT NULL) AND NOT EXISTS "
        "(SELECT 1 FROM main.es_cleanups k WHERE k.stream_id = c.stream_id AND k.move_id = "
        "c.move_id)");
    CHECK_MESSAGE(unrecorded.empty(), "a copy in cold that main did not record: " << unrecorded);
    CHECK(num(db,
              "SELECT count(*) FROM cold.es_events e WHERE NOT EXISTS (SELECT 1 FROM "
              "cold.es_lifecycle c WHERE c.stream_id = e.stream_id)") == 0);
    const std::string partial = rows(
        db,
        "SELECT c.stream_id FROM cold.es_lifecycle c WHERE c.moved_count IS NOT (SELECT count(*) "
        "FROM cold.es_events e WHERE e.stream_id = c.stream_id)");
    CHECK_MESSAGE(partial.empty(), "a partial copy in cold: " << partial);
    const std::string diff = rows(
        db,
        "SELECT a.seq, a.stream_id FROM cold.es_events a WHERE EXISTS (SELECT 1 FROM "
        "main.es_events m WHERE m.stream_id = a.stream_id) AND NOT EXISTS (SELECT 1 FROM "
        "main.es_events m WHERE m.seq = a.seq AND m.stream_id = a.stream_id AND m.version = "
        "a.version AND m.type = a.type AND m.data IS a.data AND m.metadata IS a.metadata AND "
        "m.codec = a.codec AND m.schema_version = a.schema_version AND m.event_id = a.event_id "
        "AND m.idempotency_key IS a.idempotency_key AND m.created_at = a.created_at)");
    CHECK_MESSAGE(diff.empty(), "a copy in cold differs from main's events: " << diff);
}

// The states a stream may be in before and after the call, from fault-free runs.
struct Expect {
    View before;  // the template
    View after;   // after a fault-free call
    int64_t result = 0;
};

// Where a faulted call left the stream. Before / After: entirely as without the call / as after
// a fault-free one. The others lie between the steps of a multi-step call, as main recorded
// them (ext/moves.h):
//   Intent        es_archive(s, 'cold') after step A: main holds the events and the intent,
//                 cold nothing of the stream or the intent's complete copy (after step B)
//   CopyRecorded  es_restore after A, es_tombstone/es_delete after their main step: main is
//                 done, cold's copy is still there and a clean-up record names it
//   RecordOnly    the copy is erased (step B) but the clean-up record is not dropped yet
enum class Where { Before, After, Intent, CopyRecorded, RecordOnly, Unknown };

const char* where_name(Where w) {
    switch (w) {
        case Where::Before: return "before";
        case Where::After: return "after";
        case Where::Intent: return "intent recorded";
        case Where::CopyRecorded: return "main done, copy recorded for erasure";
        case Where::RecordOnly: return "main done, copy erased, record left";
        case Where::Unknown: return "unknown";
    }
    return "?";
}

// Main's half of the call is done (as after), its clean-up of cold is not.
Where cleanup_state(const View& v, const Expect& e) {
    if (v.status != e.after.status || v.stream_row != e.after.stream_row ||
        v.life != e.after.life || v.main_events != e.after.main_events ||
        v.main_snap != e.after.main_snap || v.reserved != e.after.reserved ||
        v.others != e.after.others || v.head != e.after.head) {
        return Where::Unknown;
    }
    // The record: cold's identity, the stream, whether its move id is the copy's, the alias.
    const std::string record = "=cold|order-1|";
    if (v.cold_events == e.before.cold_events && v.cold_snap == e.before.cold_snap &&
        v.cold_row == e.before.cold_row && !v.cold_events.empty()) {
        if (v.cleanups == record + "1|cold\n") return Where::CopyRecorded;
    } else if (v.cold_events.empty() && v.cold_snap.empty() && v.cold_life.empty() &&
               v.cold_row.empty()) {
        if (v.cleanups == record + "0|cold\n") return Where::RecordOnly;
    }
    return Where::Unknown;
}

Where which_state(Op op, const View& v, const Expect& e) {
    if (v.all() == e.before.all()) return Where::Before;
    if (v.all() == e.after.all()) return Where::After;
    switch (op) {
        case Op::Append:
        case Op::ArchiveInPlace:
        case Op::Tombstone: return Where::Unknown;
        case Op::ArchiveCold: {
            // Main as before but for the intent; cold: nothing, or the intent's whole copy.
            const bool main_as_before = v.main_events == e.before.main_events &&
                                        v.main_snap == e.before.main_snap &&
                                        v.others == e.before.others && v.head == e.before.head &&
                                        v.reserved == e.before.reserved && v.cleanups.empty();
            const bool intent = v.status == "archived\n" && v.stream_row == e.after.stream_row &&
                                v.life.rfind("archiving|", 0) == 0 &&
                                e.after.life.rfind("archived|", 0) == 0 &&
                                v.life.substr(10) == e.after.life.substr(9);
            const bool no_copy =
                v.cold_events.empty() && v.cold_snap.empty() && v.cold_life.empty();
            const bool its_copy = v.cold_events == e.after.cold_events &&
                                  v.cold_snap == e.after.cold_snap &&
                                  v.cold_row == e.after.cold_row &&
                                  v.cold_life == e.after.cold_life;  // same move as main's
            if (main_as_before && intent && (no_copy || its_copy)) return Where::Intent;
            return Where::Unknown;
        }
        case Op::RestoreCold:
        case Op::TombstoneCold:
        case Op::DeleteCold: return cleanup_state(v, e);
    }
    return Where::Unknown;
}

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

// The one answer a retry of the call must give in the state it finds (README's lifecycle
// table): from Before, the call's own result; a move interrupted after its intent finishes
// (es_archive returns the events it moves); a restore whose clean-up was interrupted finishes
// it and returns 0, as does a completed archive move or in-place archive retried; a
// completed restore retried is invalid_argument (active x es_restore(s, X)); a tombstone or
// delete whose main step is done answers tombstoned / not_found (es_maintain() then finishes
// the clean-up); a completed keyed append is a replay returning its version.
struct Answer {
    int rc;
    int64_t value;        // with SQLITE_ROW
    const char* message;  // else: the exact message
};

Answer retry_answer(Op op, Where was, const Expect& e) {
    if (was == Where::Before) return {SQLITE_ROW, e.result, nullptr};
    switch (op) {
        case Op::Append: return {SQLITE_ROW, e.result, nullptr};
        case Op::ArchiveInPlace: return {SQLITE_ROW, 0, nullptr};
        case Op::Tombstone:
        case Op::TombstoneCold:
            return {SQLITE_CONSTRAINT, 0,
                    "tombstoned: stream 'order-1' is tombstoned (reason: 'gdpr')"};
        case Op::DeleteCold: return {SQLITE_ERROR, 0, "not_found: stream 'order-1' does not exist"};
        case Op::ArchiveCold: return {SQLITE_ROW, was == Where::Intent ? e.result : 0, nullptr};
        case Op::RestoreCold:
            if (was == Where::After) {
                return {SQLITE_ERROR, 0,
                        "invalid_argument: es_restore(): stream 'order-1' is not "
                        "archived in database 'cold'"};
            }
            // CopyRecorded, RecordOnly: finish the clean-up (the copy's erasure note tells a
            // retry that only the record was left; tests/clients/test_archive.py,
            // test_retried_restore_after_its_erasure).
            return {SQLITE_ROW, 0, nullptr};
    }
    return {SQLITE_ROW, 0, nullptr};
}

void check_retry(Op op, const Call& r, Where was, const Expect& e) {
    const Answer a = retry_answer(op, was, e);
    INFO("retry in state '" << std::string(where_name(was)) << "': rc=" << r.rc
                            << " value=" << r.value << ": " << r.msg);
    CHECK(r.rc == a.rc);
    if (a.rc == SQLITE_ROW) {
        CHECK(r.value == a.value);
    } else {
        CHECK(r.msg == a.message);
    }
    CHECK(r.autocommit);
}

// Tombstone and delete leave an interrupted clean-up to es_maintain(): it must erase exactly
// what is left (the copy's events, or nothing when only the record is left) and find nothing
// pending afterwards. Other calls have nothing left for it.
void finish_with_maintain(sqlite3* db, Op op, Where was, const Expect& e) {
    const int64_t tail = num(db,
                             "SELECT count(*) FROM main.es_events WHERE seq > (SELECT "
                             "value FROM main.es_meta WHERE key = 'indexed_upto')");
    int64_t erased = 0;
    if ((op == Op::TombstoneCold || op == Op::DeleteCold) && was == Where::CopyRecorded) {
        erased = e.result;
    }
    const std::string want = "{\"indexed\":" + std::to_string(tail) +
                             ",\"erased\":" + std::to_string(erased) + ",\"pending\":0}\n";
    CHECK(rows(db, "SELECT es_maintain()") == want);
}

// ---------------------------------------------------------------------------------------------
// Figures.

struct Figures {
    int runs = 0;                        // faulted calls (fault armed and reached)
    int injected = 0;                    // faults that fired
    int errors = 0;                      // ... reported as an error by the call
    int absorbed = 0;                    // ... handled inside SQLite, the call succeeded
    int reopen_checks = 0;               // reopen + invariant checks passed through
    int same_conn_checks = 0;            // next call on the same connection checked
    int applied_despite_error = 0;       // error reported, yet the call's effect is durable
    std::map<std::string, int> points;   // op/mode/kind -> fault points reached
    std::map<std::string, int> between;  // op / state between steps -> times found
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
    const std::string label = std::string(op_name(op)) + " / " + mode_name(mode) + " / " + k.name +
                              (same_connection ? " / same-conn" : " / reopen");
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
            CHECK(which_state(op, view(r.db), e) == Where::After);
            return;
        }
        ++g_fig.runs;
        ++g_fig.injected;
        INFO("call returned rc=" << c.rc << " (extended " << c.ext << "): " << c.msg
                                 << "; fault hit " << g_fault.where);
        // Once main's part of a tombstone, delete or restore has committed, the erasure of the
        // archive's copy is a clean-up: when it cannot run now (the archive unreadable, locked,
        // or failing: a fault on cold's files) the call still succeeds with main's result and
        // leaves the copy recorded; es_maintain() erases it later and lists the failure
        // (README "es_tombstone, es_delete"). Tombstone and delete return the events removed in
        // main (0 here), restore the events moved back.
        const bool erases_cold =
            op == Op::TombstoneCold || op == Op::DeleteCold || op == Op::RestoreCold;
        bool deferred = false;  // decided below from the state the call left
        if (c.rc == SQLITE_ROW) {
            // SQLite handled the fault itself (e.g. retried a lock); must then be complete.
            ++g_fig.absorbed;
            const Where left = which_state(op, view(d.db), e);
            deferred = erases_cold && left != Where::After;
            ++g_fig.absorbed_by[std::string(k.name) + " on " + g_fault.where +
                                (deferred ? " (clean-up of cold's copy deferred)" : "")];
            // Retried locks and a failed delete of an already committed journal may be
            // handled inside SQLite; a failed write, sync, truncate or open must be reported.
            CHECK_MESSAGE((deferred || k.point == Point::Lock || k.point == Point::ShmLock ||
                           k.point == Point::ShmMap || k.point == Point::Delete),
                          "an injected " << std::string(k.name) << " fault was not reported");
            if (!deferred) CHECK(c.value == e.result);
            // Restore answers the events moved back whatever became of the copy; tombstone and
            // delete count cold's events only when their erasure ran (only the record is left).
            const bool counted = op == Op::RestoreCold || left == Where::RecordOnly;
            if (deferred) CHECK(c.value == (counted ? e.result : 0));
        } else {
            ++g_fig.errors;
            CHECK(c.rc != SQLITE_DONE);
            CHECK(!c.msg.empty());
            CHECK(c.msg != "not an error");
            CHECK(c.ext != SQLITE_OK);
            g_fig.messages.insert(std::to_string(c.ext & 0xff) + " " + c.msg);
        }
        CHECK_MESSAGE(c.autocommit, "connection left inside a transaction after the fault");

        // Where the call left the stream: read on the same connection (as its user would,
        // the fault cleared) or after reopening (recovery of the journal or WAL).
        Db reopened;
        sqlite3* db = d.db;
        if (!same_connection) {
            REQUIRE(sqlite3_close(d.db) == SQLITE_OK);  // nothing left unfinalized
            d.db = nullptr;
            open_db(reopened, g_paths.main, g_paths.cold, nullptr);
            db = reopened.db;
        }
        check_invariants(db);
        const View v = view(db);
        const Where was = which_state(op, v, e);
        CHECK_MESSAGE(was != Where::Unknown, "partial state after the fault: " << v.describe());
        if (was != Where::Before && was != Where::After) {
            ++g_fig.between[std::string(op_name(op)) + " / " + where_name(was)];
        }
        if (was == Where::After && c.rc != SQLITE_ROW) {
            ++g_fig.applied_despite_error;
            ++g_fig.durable_by[std::string(op_name(op)) + " / " + mode_name(mode) + " / " + k.name];
        }
        if (c.rc == SQLITE_ROW && !deferred) CHECK(was == Where::After);
        if (deferred) CHECK((was == Where::CopyRecorded || was == Where::RecordOnly));
        // The retry, without the fault, gives the one answer for that state and reaches the
        // final state (with es_maintain() for a tombstone's or delete's clean-up).
        const Call r = call(db, sql, nullptr, 0);
        check_retry(op, r, was, e);
        finish_with_maintain(db, op, was, e);
        check_invariants(db);
        {
            const View f = view(db);
            CHECK_MESSAGE(which_state(op, f, e) == Where::After,
                          "the retry did not reach the final state: " << f.describe());
        }
        if (same_connection) {
            d.close();
            Db r2;
            open_db(r2, g_paths.main, g_paths.cold, nullptr);
            check_invariants(r2.db);
            CHECK_MESSAGE(which_state(op, view(r2.db), e) == Where::After,
                          "final state not durable after reopen");
            ++g_fig.same_conn_checks;
        } else {
            ++g_fig.reopen_checks;
        }
    }
}

struct TempDir {
    fs::path path;
    TempDir() {
        // tmpfs when there is one: the sweep syncs thousands of times and the faults are
        // injected above the file system anyway.
        std::error_code ec;
        const char* forced = std::getenv("ESKIT_FAULTS_DIR");
        const fs::path base = forced ? fs::path(forced)
                              : fs::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK) == 0
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

double g_seconds = 0;
int g_sweeps = 0;

// Every sweep of one operation, in both journal modes.
void sweep_op(Op op) {
    install_vfs();
    TempDir tmp;
    g_paths.dir = tmp.path;
    g_paths.tmpl_main = tmp.path / "tmpl-main.db";
    g_paths.tmpl_cold = tmp.path / "tmpl-cold.db";
    g_paths.main = tmp.path / "main.db";
    g_paths.cold = tmp.path / "cold.db";
    const auto t0 = std::chrono::steady_clock::now();
    for (Mode mode : {Mode::Wal, Mode::Rollback}) {
        make_template(op, mode);
        const Expect e = expectations(op);
        const std::string op_label = op_name(op), mode_label = mode_name(mode);
        CAPTURE(op_label);
        CAPTURE(mode_label);
        for (const Kind& k : kKinds) {
            if (k.wal_only && mode != Mode::Wal) continue;
            sweep(op, mode, k, e, false);
            sweep(op, mode, k, e, true);
            ++g_sweeps;
        }
    }
    g_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

// One test case per operation, so that a failure names it; the last one prints the figures.
TEST_CASE("I/O faults: (a) es_append batch+key") { sweep_op(Op::Append); }
TEST_CASE("I/O faults: (b) es_archive in place") { sweep_op(Op::ArchiveInPlace); }
TEST_CASE("I/O faults: (b) es_tombstone") { sweep_op(Op::Tombstone); }
TEST_CASE("I/O faults: (c) es_archive(s,'cold'), every step of the move") {
    sweep_op(Op::ArchiveCold);
}
TEST_CASE("I/O faults: (c) es_restore(s,'cold'), every step of the move") {
    sweep_op(Op::RestoreCold);
}
TEST_CASE("I/O faults: (d) es_tombstone of a stream archived in cold, then es_maintain()") {
    sweep_op(Op::TombstoneCold);
}
TEST_CASE("I/O faults: (d) es_delete of a stream archived in cold, then es_maintain()") {
    sweep_op(Op::DeleteCold);
}

TEST_CASE("I/O faults: figures") {
    std::printf("faults: fault points reached per operation / mode / kind:\n");
    for (const auto& [label, n] : g_fig.points) std::printf("  %-60s %4d\n", label.c_str(), n);
    std::printf("faults: calls stopped between their steps (state found, times):\n");
    for (const auto& [what, n] : g_fig.between) std::printf("  %-70s %4d\n", what.c_str(), n);
    std::printf("faults: faults absorbed by SQLite (call succeeded, final state verified):\n");
    for (const auto& [what, n] : g_fig.absorbed_by) std::printf("  %-60s %4d\n", what.c_str(), n);
    std::printf("faults: error reported but the call's effect found durable after reopen:\n");
    for (const auto& [what, n] : g_fig.durable_by) std::printf("  %-60s %4d\n", what.c_str(), n);
    std::printf("faults: error messages seen (primary code, message):\n");
    for (const auto& m : g_fig.messages) std::printf("  %s\n", m.c_str());
    std::printf(
        "faults: %zu ops x 2 modes, %d sweeps x 2 variants, %d faults injected "
        "(%d reported as errors, %d absorbed by SQLite), %d reopen recoveries checked, "
        "%d same-connection retries checked, %d durable despite the error, %.1f s\n",
        std::size(kOps), g_sweeps, g_fig.injected, g_fig.errors, g_fig.absorbed,
        g_fig.reopen_checks, g_fig.same_conn_checks, g_fig.applied_despite_error, g_seconds);
    std::fflush(stdout);
    // 11 kinds in WAL mode, the 8 that are not WAL-only in rollback mode, for every operation.
    CHECK(g_sweeps == static_cast<int>(std::size(kOps)) * (11 + 8));
    CHECK(g_fig.injected > 0);
    CHECK(g_fig.reopen_checks + g_fig.same_conn_checks == g_fig.injected);
    // Every window between the steps of the moves and clean-ups was hit by some fault. (An
    // es_archive whose copy or last step fails gives its intent up before it returns, so a
    // fault no longer leaves "intent recorded": only a crash does, tests/lifecycle's
    // move_crash_points.)
    for (const char* w : {"(c) es_restore(s,'cold') / main done, copy recorded for erasure",
                          "(c) es_restore(s,'cold') / main done, copy erased, record left",
                          "(d) es_tombstone of archived / main done, copy recorded for erasure",
                          "(d) es_tombstone of archived / main done, copy erased, record left",
                          "(d) es_delete of archived / main done, copy recorded for erasure",
                          "(d) es_delete of archived / main done, copy erased, record left"}) {
        CHECK_MESSAGE(g_fig.between.count(w) == 1, "never stopped in: " << std::string(w));
    }
}
