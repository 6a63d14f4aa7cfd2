/*
** Prepared statements inside ext/: one RAII handle with checked steps.
**
**   Stmt s = c.use(kStreamVersion);      // cached per connection; reset and cleared on exit
**   s.bind(1, stream);
**   if (s.step_row()) version = s.int64(0);
**
**   Stmt d = c.prepare(format("DELETE FROM %s.es_events WHERE stream_id = ?1", qs));  // owned
**   d.bind(1, stream).step_done();
**
** step_row() is true on a row and false at the end; step_done() expects the end. Both throw
** Error (SQLite's code and message) on failure, so no step result can be ignored. Text and
** blobs are bound without a copy: the bound data must outlive the handle (it is reset before
** its destructor returns).
*/
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sqlite.h"

namespace eskit::ext {

class Conn;

// A statement text kept prepared by every connection. Declare it next to the code that binds
// it: `const Query kFoo{"SELECT ..."};` at namespace scope. Its address is its identity.
class Query {
  public:
    explicit Query(const char* sql);
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;
    const char* sql() const { return sql_; }
    int slot() const { return slot_; }  // index in every connection's statement cache
    static int count();                 // Query objects in the program

  private:
    const char* sql_;
    int slot_;
};

class Stmt {
  public:
    Stmt() = default;
    // slot: the cache slot the statement goes back to, or -1 to finalize it with the handle.
    Stmt(Conn& c, sqlite3_stmt* s, int slot) : c_(&c), s_(s), slot_(slot) {}
    ~Stmt() { release(); }
    Stmt(Stmt&& o) noexcept : c_(o.c_), s_(o.s_), slot_(o.slot_) { o.s_ = nullptr; }
    Stmt& operator=(Stmt&& o) noexcept;
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    Stmt& bind(int i, int64_t v);
    Stmt& bind(int i, std::string_view text);  // TEXT, not copied
    Stmt& bind(int i, const char* text) { return bind(i, std::string_view(text)); }
    Stmt& bind(int i, const std::string& text) { return bind(i, std::string_view(text)); }
    Stmt& bind_blob(int i, std::string_view bytes);  // BLOB, not copied
    Stmt& bind_null(int i);
    Stmt& bind_value(int i, sqlite3_value* v);
    // The value's own type, text bound as text; NULL pointer binds NULL.
    Stmt& bind_optional(int i, const std::string* text);

    bool step_row();   // true: a row is available; false: done
    void step_done();  // the statement must finish without returning a row
    int64_t changes() const;
    void reset() { sqlite3_reset(s_); }  // to step again with new bindings

    bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
    int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
    std::string_view text(int col) const;  // "" for NULL; valid until the next step
    std::string str(int col) const { return std::string(text(col)); }
    sqlite3_value* value(int col) const { return sqlite3_column_value(s_, col); }
    sqlite3_stmt* get() const { return s_; }

  private:
    void release() noexcept;
    void check_bind(int rc);

    Conn* c_ = nullptr;
    sqlite3_stmt* s_ = nullptr;
    int slot_ = -1;
};

}  // namespace eskit::ext
