/*
** The databases of a connection that hold eskit tables: main, and attached archives.
**
** A Schema is a database as SQLite names it ("main", or an ATTACH alias in SQLite's own
** spelling). Every store has an identity, a UUID kept in its es_meta ('store_id') and written
** into its guard triggers; moves between databases record and check identities, never aliases
** alone (a database attached under the recorded alias may be another store).
**
** Tables are created by es_init() or the first write; older eskit schemas are upgraded forward
** in the caller's write transaction (migrate()). A store being read is never changed.
*/
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sqlite.h"

namespace eskit::ext {

class Conn;

inline constexpr int kSchemaVersion = 3;

class Schema {
  public:
    static const Schema& main_db();
    // The schema argument of a move: an attached database other than main and temp, in
    // SQLite's spelling (schema names match case-insensitively). Throws invalid_argument.
    static Schema attached(Conn& c, sqlite3_value* name, const char* fn);
    // An attached database by its current name (from sqlite3_db_name).
    static Schema named(std::string name) { return Schema(std::move(name)); }

    const std::string& name() const { return name_; }
    const std::string& quoted() const { return quoted_; }  // "name", for SQL text
    bool is_main() const { return name_ == "main"; }
    bool operator==(const Schema& o) const;

  private:
    explicit Schema(std::string name);
    std::string name_;
    std::string quoted_;
};

// 0 when the database holds no eskit tables, else the schema version recorded in es_meta.
int schema_version(Conn& c, const Schema& s);
// Creates or upgrades the eskit tables of s; returns the schema version. Must run inside a
// write transaction on s. Refuses a schema newer than this build knows.
int migrate(Conn& c, const Schema& s);
// The store identity of s ("" when s holds no eskit tables or predates identities).
std::string store_id(Conn& c, const Schema& s);

// False for databases that end with the connection (":memory:", temp files, memdb).
bool outlives_connection(Conn& c, const Schema& s);
// The connection cannot write s: a read-only file or mode=ro, or PRAGMA query_only.
bool is_readonly(Conn& c, const Schema& s);

// The attached database (not main or temp) whose store identity is id. Several candidates
// (the archive and a byte copy of it, or the same file attached twice) are told apart by the
// alias the archive had when it was recorded; if that does not decide, nothing is returned,
// as when none is attached.
std::optional<Schema> find_store(Conn& c, std::string_view id, std::string_view alias);

// A fresh random identity (UUID version 4 text).
std::string new_identity();

}  // namespace eskit::ext
