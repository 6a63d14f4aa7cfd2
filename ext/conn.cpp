#include "conn.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <random>

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
constexpr const char* kSentinels[] = {"SELECT 1 FROM main.es_all",
                                      "SELECT 1 FROM main.es_stream"};

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

Stmt Conn::use_slot(size_t slot, const char* sql) {
    if (cache_.size() <= slot) cache_.resize(slot + 1);
    Slot& e = cache_[slot];
    if (e.in_use || !can_cache()) return Stmt(*this, prepare_raw(sql, 0), -1);
    if (!e.stmt) {
        const std::string tag = tag_ + std::to_string(++counter_) + "*/";
        e.stmt = prepare_raw(tag + sql, SQLITE_PREPARE_PERSISTENT);
        live_[e.stmt] = Live{tag, round_};
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

sqlite3_stmt* Conn::take_free(uint64_t shape) {
    auto it = pool_.find(shape);
    if (it == pool_.end() || it->second.empty()) return nullptr;
    sqlite3_stmt* s = it->second.back();
    it->second.pop_back();
    return s;
}

sqlite3_stmt* Conn::prepare_read(const std::string& sql) {
    can_cache();  // a cursor's statement is pooled at release only while a table is connected
    const std::string tag = tag_ + std::to_string(++counter_) + "*/";
    sqlite3_stmt* s = prepare_raw(tag + sql, SQLITE_PREPARE_PERSISTENT);
    live_[s] = Live{tag, round_};
    return s;
}

void Conn::release_read(uint64_t shape, sqlite3_stmt* s) noexcept {
    if (!s) return;
    validate_statements();  // the host may have finalized s while its cursor was open
    if (!owns(s)) return;
    sqlite3_reset(s);
    if (vtabs == 0) {  // closing, or no eskit table connected: do not keep the connection busy
        live_.erase(s);
        sqlite3_finalize(s);
        return;
    }
    sqlite3_clear_bindings(s);
    try {
        pool_[shape].push_back(s);
    } catch (...) {
        live_.erase(s);
        sqlite3_finalize(s);
    }
}

void Conn::forget(sqlite3_stmt* s) noexcept {
    live_.erase(s);
    for (Slot& e : cache_) {
        if (e.stmt == s) e = Slot{};
    }
    for (auto& [shape, free] : pool_) {
        free.erase(std::remove(free.begin(), free.end(), s), free.end());
    }
}

void Conn::validate_statements() noexcept {
    if (live_.empty()) return;
    ++round_;
    size_t found = 0;
    for (sqlite3_stmt* p = sqlite3_next_stmt(db, nullptr); p; p = sqlite3_next_stmt(db, p)) {
        auto it = live_.find(p);
        if (it == live_.end()) continue;
        // Same address, other statement: the host finalized ours and prepared a new one there.
        const char* sql = sqlite3_sql(p);
        if (!sql || std::strncmp(sql, it->second.tag.data(), it->second.tag.size()) != 0) continue;
        it->second.seen = round_;
        ++found;
    }
    if (found == live_.size()) return;
    std::vector<sqlite3_stmt*> gone;
    for (const auto& [s, live] : live_) {
        if (live.seen != round_) gone.push_back(s);
    }
    for (sqlite3_stmt* s : gone) forget(s);
}

void Conn::finalize_all() noexcept {
    validate_statements();
    for (const auto& [s, live] : live_) sqlite3_finalize(s);
    live_.clear();
    cache_.clear();
    pool_.clear();
}

void Conn::begin_call() { has_error_ = false; }

void Conn::record_error(const Error& e) {
    has_error_ = true;
    last_error_ = e;
}

}  // namespace eskit::ext
