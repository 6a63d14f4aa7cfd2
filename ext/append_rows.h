/*
** The rows of one es_append, handed to SQLite as one set so that a batch is one INSERT:
**
**   INSERT INTO main.es_events(...) SELECT ... FROM es_append_rows(?1)   -- ?1: a pointer
**
** Inserted one statement per event, every event would pay the statement's start (cursors
** opened, the guard trigger's frame allocated) again; as one statement a batch pays it once.
** es_append_rows is an internal table-valued function (not API) whose only argument is a
** pointer of type "eskit-append-rows" (sqlite3_bind_pointer), which SQL cannot forge: from
** SQL it yields nothing.
*/
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "json.h"

struct sqlite3;

namespace eskit::ext {

class Conn;

inline constexpr const char* kAppendRowsType = "eskit-append-rows";

// Everything the rows of one call are made of; valid while the INSERT runs.
struct AppendRows {
    std::string_view stream;
    const std::vector<EventIn>* events = nullptr;
    const std::vector<std::string>* ids = nullptr;       // one per event
    const std::vector<std::string>* metadata = nullptr;  // one per event
    const std::vector<bool>* has_metadata = nullptr;     // NULL metadata when false
    const std::string* idempotency_key = nullptr;        // nullptr: NULL
    int64_t first_seq = 0;
    int64_t first_version = 0;
    int64_t created_at = 0;
};

int register_append_rows(sqlite3* db, Conn* c);

}  // namespace eskit::ext
