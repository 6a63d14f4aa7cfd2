#include "stmt.h"

#include <atomic>
#include <new>

#include "conn.h"
#include "error.h"

namespace eskit::ext {

namespace {

std::atomic<int>& next_slot() {
    static std::atomic<int> n{0};
    return n;
}

}  // namespace

Query::Query(const char* sql) : sql_(sql), slot_(next_slot()++) {}
int Query::count() { return next_slot().load(); }

Stmt& Stmt::operator=(Stmt&& o) noexcept {
    if (this != &o) {
        release();
        c_ = o.c_;
        s_ = o.s_;
        slot_ = o.slot_;
        o.s_ = nullptr;
    }
    return *this;
}

void Stmt::release() noexcept {
    if (!s_) return;
    if (slot_ < 0) {
        sqlite3_finalize(s_);
    } else {
        c_->give_back(slot_, s_);
    }
    s_ = nullptr;
}

void Stmt::check_bind(int rc) {
    if (rc == SQLITE_OK) return;
    if (rc == SQLITE_NOMEM) throw std::bad_alloc();
    if (rc == SQLITE_TOOBIG) {
        raise(Code::TooBig, "a value is larger than SQLITE_LIMIT_LENGTH allows (%d bytes)",
              sqlite3_limit(sqlite3_db_handle(s_), SQLITE_LIMIT_LENGTH, -1));
    }
    throw Error{
        Code::Sqlite, rc, std::string("internal: cannot bind a value: ") + sqlite3_errstr(rc), {}};
}

Stmt& Stmt::bind(int i, int64_t v) {
    check_bind(sqlite3_bind_int64(s_, i, v));
    return *this;
}

Stmt& Stmt::bind(int i, std::string_view text) {
    check_bind(sqlite3_bind_text(s_, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC));
    return *this;
}

Stmt& Stmt::bind_blob(int i, std::string_view bytes) {
    // A NULL pointer would bind SQL NULL: an empty blob is a zero-length blob.
    check_bind(bytes.empty() ? sqlite3_bind_zeroblob(s_, i, 0)
                             : sqlite3_bind_blob(s_, i, bytes.data(),
                                                 static_cast<int>(bytes.size()), SQLITE_STATIC));
    return *this;
}

Stmt& Stmt::bind_null(int i) {
    check_bind(sqlite3_bind_null(s_, i));
    return *this;
}

Stmt& Stmt::bind_value(int i, sqlite3_value* v) {
    check_bind(sqlite3_bind_value(s_, i, v));
    return *this;
}

Stmt& Stmt::bind_optional(int i, const std::string* text) {
    return text ? bind(i, std::string_view(*text)) : bind_null(i);
}

bool Stmt::step_row() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw step_error(s_);
}

void Stmt::step_done() {
    if (step_row()) {
        throw Error{Code::Sqlite,
                    SQLITE_ERROR,
                    std::string("internal: statement returned a row: ") + sqlite3_sql(s_),
                    {}};
    }
}

int64_t Stmt::changes() const { return sqlite3_changes64(sqlite3_db_handle(s_)); }

std::string_view Stmt::text(int col) const {
    const auto* t = static_cast<const char*>(sqlite3_column_blob(s_, col));
    if (!t) {
        if (sqlite3_errcode(sqlite3_db_handle(s_)) == SQLITE_NOMEM) throw std::bad_alloc();
        return {};
    }
    return {t, static_cast<size_t>(sqlite3_column_bytes(s_, col))};
}

}  // namespace eskit::ext
