#include "conn.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>
#include <random>
#include <utility>

namespace eskit::ext {

namespace {

// The C API finds a connection's state by its sqlite3 pointer.
std::mutex& registry_mutex() {
    static std::mutex m;
    return m;
}
std::unordered_map<sqlite3*, Conn*>& registry() {
    static std::unordered_map<sqlite3*, Conn*> r;
    return r;
}

uint64_t random_nonce() {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

// Eponymous tables whose connection (xConnect) keeps the cache finalizable at close.
constexpr const char* kSentinels[] = {"SELECT 1 FROM main.es_all", "SELECT 1 FROM main.es_stream"};

}  // namespace

Conn::Conn(sqlite3* d) : db(d) {
    json.set_db(d);
    tag_ = format("/*eskit %016llx ", static_cast<unsigned long long>(random_nonce()));
    std::lock_guard<std::mutex> lock(registry_mutex());
    registry()[d] = this;
}

Conn::~Conn() {
    {
        std::lock_guard<std::mutex> lock(registry_mutex());
        auto it = registry().find(db);
        if (it != registry().end() && it->second == this) registry().erase(it);
    }
    finalize_all();
    if (inotify_fd >= 0) close(inotify_fd);
    sqlite3_finalize(side_head);
    if (side_db) sqlite3_close_v2(side_db);
}

Conn* conn_of_db(sqlite3* db) {
    std::lock_guard<std::mutex> lock(registry_mutex());
    auto it = registry().find(db);
    return it == registry().end() ? nullptr : it->second;
}

void conn_release(void* p) {
    auto* c = static_cast<Conn*>(p);
    if (--c->refs == 0) delete c;
}

sqlite3_stmt* Conn::prepare_raw(const std::string& sql, unsigned flags) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &s, nullptr) !=
        SQLITE_OK) {
        // Nothing is bound yet: too big can only be the text.
        if ((sqlite3_errcode(db) & 0xff) == SQLITE_TOOBIG) throw sql_too_long(db);
        raise_db(db);
    }
    return s;
}

void Conn::ensure_sentinel() {
    if (sentinel_tried_) return;
    sentinel_tried_ = true;
    for (const char* sql : kSentinels) {
        if (vtabs > 0) return;
        // Preparing a reference connects the eponymous table (xConnect bumps vtabs) unless a
        // table of the user's has that name.
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK) sqlite3_finalize(s);
    }
}

bool Conn::can_cache() {
    if (vtabs == 0) ensure_sentinel();
    return vtabs > 0;
}

Stmt Conn::use(const Query& q) { return use_slot(static_cast<size_t>(q.slot()), q.sql()); }

Stmt Conn::use(const std::string& sql) {
    // Slots of dynamic SQL come after every Query's (Query slots are fixed at startup).
    auto [it, added] = text_slots_.try_emplace(sql, 0);
    if (added) it->second = Query::count() + static_cast<int>(text_slots_.size()) - 1;
    return use_slot(static_cast<size_t>(it->second), it->first.c_str());
}

// The anchor's liveness, shared by the Conn and the anchor's binding: SQLite calls dropped()
// when it finalizes the anchor or the binding is replaced or cleared.
struct Conn::Anchor {
    bool alive = true;
    int refs = 2;
    static void release(Anchor* a) noexcept {
        if (--a->refs == 0) delete a;
    }
    static void dropped(void* p) {
        auto* a = static_cast<Anchor*>(p);
        a->alive = false;
        release(a);
    }
};

// A statement we keep: tagged, and older than the anchor from the moment it exists.
sqlite3_stmt* Conn::prepare_kept(const char* sql, uint64_t& id) {
    id = ++counter_;
    std::string tag = tag_ + std::to_string(id) + "*/";
    sqlite3_stmt* s = prepare_raw(tag + sql, SQLITE_PREPARE_PERSISTENT);
    try {
        renew_anchor();
        live_[s] = Live{std::move(tag), id, round_};
    } catch (...) {
        sqlite3_finalize(s);
        throw;
    }
    return s;
}

void Conn::renew_anchor() {
    sqlite3_stmt* a = prepare_raw(tag_ + "anchor*/SELECT ?1", SQLITE_PREPARE_PERSISTENT);
    auto* life = new (std::nothrow) Anchor;
    if (!life) {
        sqlite3_finalize(a);
        throw std::bad_alloc();
    }
    // On failure SQLite calls the destructor itself: the anchor is then born dead.
    sqlite3_bind_pointer(a, 1, life, "eskit_anchor", Anchor::dropped);
    if (!life->alive) {
        Anchor::release(life);
        sqlite3_finalize(a);
        throw std::bad_alloc();
    }
    if (sqlite3_next_stmt(db, nullptr) != a) list_is_newest_first_ = false;
    drop_anchor();
    anchor_ = a;
    anchor_life_ = life;
}

void Conn::drop_anchor() noexcept {
    if (!anchor_life_) return;
    if (anchor_life_->alive) sqlite3_finalize(anchor_);
    Anchor::release(anchor_life_);
    anchor_life_ = nullptr;
    anchor_ = nullptr;
}

Stmt Conn::use_slot(size_t slot, const char* sql) {
    if (cache_.size() <= slot) cache_.resize(slot + 1);
    Slot& e = cache_[slot];
    if (e.in_use || !can_cache()) return Stmt(*this, prepare_raw(sql, 0), -1);
    if (!e.stmt) {
        uint64_t id = 0;
        e.stmt = prepare_kept(sql, id);
    }
    e.in_use = true;
    return Stmt(*this, e.stmt, static_cast<int>(slot));
}

void Conn::give_back(int slot, sqlite3_stmt* s) noexcept {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    Slot& e = cache_[static_cast<size_t>(slot)];
    if (e.stmt == s) e.in_use = false;
}

Stmt Conn::prepare(const std::string& sql) { return Stmt(*this, prepare_raw(sql, 0), -1); }

ReadStmt Conn::take_free(uint64_t shape) {
    auto it = pool_.find(shape);
    if (it == pool_.end() || it->second.empty()) return {};
    const ReadStmt s = it->second.back();
    it->second.pop_back();
    return s;
}

ReadStmt Conn::prepare_read(const std::string& sql) {
    can_cache();  // a cursor's statement is pooled at release only while a table is connected
    ReadStmt s;
    s.stmt = prepare_kept(sql.c_str(), s.id);
    return s;
}

void Conn::release_read(uint64_t shape, ReadStmt& held, bool alive) noexcept {
    const ReadStmt s = held;
    held = {};
    if (!s) return;
    if (!alive) validate_statements();  // the host may have finalized it since it last ran
    if (!owns(s)) {
        // Forgotten (the anchor went), yet known to exist and to be the one we prepared.
        if (alive) sqlite3_finalize(s.stmt);
        return;
    }
    sqlite3_reset(s.stmt);
    sqlite3_clear_bindings(s.stmt);  // drops the cursor's run flag (cursor_stmt.h)
    if (vtabs == 0) {  // closing, or no eskit table connected: do not keep the connection busy
        live_.erase(s.stmt);
        sqlite3_finalize(s.stmt);
        if (live_.empty()) drop_anchor();
        return;
    }
    try {
        pool_[shape].push_back(s);
    } catch (...) {
        live_.erase(s.stmt);
        sqlite3_finalize(s.stmt);
    }
}

void Conn::forget(sqlite3_stmt* s) noexcept {
    for (Slot& e : cache_) {
        if (e.stmt == s) e = Slot{};
    }
    for (auto& [shape, free] : pool_) {
        free.erase(std::remove_if(free.begin(), free.end(),
                                  [s](const ReadStmt& r) { return r.stmt == s; }),
                   free.end());
    }
}

// Without a living anchor no statement can be proven ours: none is finalized by us again.
void Conn::forget_all() noexcept {
    live_.clear();
    for (Slot& e : cache_) e = Slot{};
    pool_.clear();
    drop_anchor();
}

void Conn::validate_statements() noexcept {
    if (live_.empty()) return;
    if (!anchor_life_ || !anchor_life_->alive) {
        forget_all();
        return;
    }
    ++round_;
    size_t found = 0;
    bool older = !list_is_newest_first_;
    for (sqlite3_stmt* p = sqlite3_next_stmt(db, nullptr); p; p = sqlite3_next_stmt(db, p)) {
        if (p == anchor_) {
            older = true;
            continue;
        }
        if (!older) continue;  // prepared by the host after our last prepare
        auto it = live_.find(p);
        if (it == live_.end()) continue;
        // Same address, other statement: the host finalized ours and prepared a new one there.
        const char* sql = sqlite3_sql(p);
        if (!sql || std::strncmp(sql, it->second.tag.data(), it->second.tag.size()) != 0) continue;
        it->second.seen = round_;
        ++found;
    }
    if (found == live_.size()) return;
    for (auto it = live_.begin(); it != live_.end();) {
        if (it->second.seen == round_) {
            ++it;
            continue;
        }
        sqlite3_stmt* s = it->first;
        it = live_.erase(it);
        forget(s);
    }
}

void Conn::finalize_all() noexcept {
    validate_statements();
    for (const auto& [s, live] : live_) sqlite3_finalize(s);
    live_.clear();
    cache_.clear();
    pool_.clear();
    drop_anchor();
}

void Conn::begin_call() { has_error_ = false; }

void Conn::record_error(const Error& e) {
    has_error_ = true;
    last_error_ = e;
}

}  // namespace eskit::ext
