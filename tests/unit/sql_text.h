// Shared by the unit tests: a statement's result as text, for compact CHECKs.
#pragma once

#include <sqlite3.h>

#include <string>

namespace eskit_test {

// Result of one statement: every row as its columns joined by '|' (NULL spelled out), rows
// joined by '\n'; or "error: <message>" when prepare or step fails.
inline std::string run(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
        return std::string("error: ") + sqlite3_errmsg(db);
    }
    std::string out;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (!out.empty()) out += '\n';
        for (int i = 0; i < sqlite3_column_count(s); ++i) {
            if (i) out += '|';
            const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
            out += t ? std::string(t, static_cast<size_t>(sqlite3_column_bytes(s, i))) : "NULL";
        }
    }
    if (rc != SQLITE_DONE) out = std::string("error: ") + sqlite3_errmsg(db);
    sqlite3_finalize(s);
    return out;
}

}  // namespace eskit_test
