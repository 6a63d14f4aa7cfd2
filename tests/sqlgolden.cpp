/*
** sqlgolden: the SQL golden-file runner (tests/sql/NNN_topic.sql + NNN_topic.out).
**
**   sqlgolden <path-to-eskit.so> <file.sql> <file.out>
**
** Opens a fresh database (":memory:", or a file in a temporary directory that is removed
** afterwards when the comment lines that open the .sql include "-- db: file"), loads the
** extension, runs the .sql statement by statement and compares everything it printed with the
** .out file:
**
**   a|b|c                         one line per result row; NULL spelled NULL, BLOBs as x'hex',
**                                 everything else as sqlite3_column_text() renders it
**   error[SQLITE_CONSTRAINT]: ... a failing statement: symbolic name of the primary result
**                                 code, then sqlite3_errmsg(); the run goes on with the next
**                                 statement
**   -- echo: ...                  a line of the .sql that starts with exactly "-- echo:" and
**                                 sits between statements is copied verbatim (section labels)
**   SCAN es_all VIRTUAL TABLE ... EXPLAIN QUERY PLAN prints only the detail column
**
** Other comments print nothing. Exit status: 0 when the output matches, 1 with a unified diff
** (expected vs actual) on stderr when it does not, 2 when the run itself cannot happen (bad
** arguments, unreadable file, extension that does not load).
**
** ES_GOLDEN_UPDATE=1 writes the actual output to the .out file and exits 0. That is how a
** golden is drafted; a reviewer then reads every line of it against SPEC.md.
**
** The runner links the same system libsqlite3 the extension is loaded into, so no sqlite3
** shell (whose version and load_extension support vary) is involved.
*/
#include <sqlite3.h>

#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct CloseDb {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct FinalizeStmt {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, CloseDb>;
using Stmt = std::unique_ptr<sqlite3_stmt, FinalizeStmt>;

// Symbolic name of a primary result code, as written in the .out files.
const char* code_name(int rc) {
    switch (rc & 0xff) {
        case SQLITE_OK: return "SQLITE_OK";
        case SQLITE_ERROR: return "SQLITE_ERROR";
        case SQLITE_INTERNAL: return "SQLITE_INTERNAL";
        case SQLITE_PERM: return "SQLITE_PERM";
        case SQLITE_ABORT: return "SQLITE_ABORT";
        case SQLITE_BUSY: return "SQLITE_BUSY";
        case SQLITE_LOCKED: return "SQLITE_LOCKED";
        case SQLITE_NOMEM: return "SQLITE_NOMEM";
        case SQLITE_READONLY: return "SQLITE_READONLY";
        case SQLITE_INTERRUPT: return "SQLITE_INTERRUPT";
        case SQLITE_IOERR: return "SQLITE_IOERR";
        case SQLITE_CORRUPT: return "SQLITE_CORRUPT";
        case SQLITE_NOTFOUND: return "SQLITE_NOTFOUND";
        case SQLITE_FULL: return "SQLITE_FULL";
        case SQLITE_CANTOPEN: return "SQLITE_CANTOPEN";
        case SQLITE_PROTOCOL: return "SQLITE_PROTOCOL";
        case SQLITE_EMPTY: return "SQLITE_EMPTY";
        case SQLITE_SCHEMA: return "SQLITE_SCHEMA";
        case SQLITE_TOOBIG: return "SQLITE_TOOBIG";
        case SQLITE_CONSTRAINT: return "SQLITE_CONSTRAINT";
        case SQLITE_MISMATCH: return "SQLITE_MISMATCH";
        case SQLITE_MISUSE: return "SQLITE_MISUSE";
        case SQLITE_NOLFS: return "SQLITE_NOLFS";
        case SQLITE_AUTH: return "SQLITE_AUTH";
        case SQLITE_FORMAT: return "SQLITE_FORMAT";
        case SQLITE_RANGE: return "SQLITE_RANGE";
        case SQLITE_NOTADB: return "SQLITE_NOTADB";
        case SQLITE_NOTICE: return "SQLITE_NOTICE";
        case SQLITE_WARNING: return "SQLITE_WARNING";
        case SQLITE_ROW: return "SQLITE_ROW";
        case SQLITE_DONE: return "SQLITE_DONE";
        default: return "SQLITE_UNKNOWN";
    }
}

bool read_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return !in.bad();
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    return !out.fail();
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) {
            lines.push_back(text.substr(pos) + "\\ (no newline at end of file)");
            break;
        }
        lines.push_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return lines;
}

// A mkdtemp directory, removed with everything in it when the object goes.
class TempDir {
  public:
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/sqlgolden.XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (::mkdtemp(buf.data()) == nullptr) {
            throw std::runtime_error("mkdtemp(" + tmpl + ") failed: " + std::strerror(errno));
        }
        path_ = buf.data();
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// Walks the text between statements: whitespace, empty statements, "--" line comments and
// block comments. Lines starting with "-- echo:" are copied to out. Returns the position of
// the next statement (text.size() when only comments remain).
size_t skip_between(const std::string& text, size_t pos, std::string& out) {
    while (pos < text.size()) {
        const char ch = text[pos];
        // ';' too: SQLite would compile the statement after an empty one in the same call.
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f' || ch == '\v' ||
            ch == ';') {
            ++pos;
        } else if (text.compare(pos, 2, "--") == 0) {
            size_t end = text.find('\n', pos);
            if (end == std::string::npos) end = text.size();
            const bool line_start = pos == 0 || text[pos - 1] == '\n';
            if (line_start && text.compare(pos, 8, "-- echo:") == 0) {
                std::string line = text.substr(pos, end - pos);
                if (!line.empty() && line.back() == '\r') line.pop_back();
                out += line;
                out += '\n';
            }
            pos = end;
        } else if (text.compare(pos, 2, "/*") == 0) {
            const size_t end = text.find("*/", pos + 2);
            pos = end == std::string::npos ? text.size() : end + 2;
        } else {
            break;
        }
    }
    return pos;
}

// End of the statement that starts at pos, for resuming after a prepare error (SQLite's tail
// then points at the offending token, not past the statement).
size_t statement_end(const std::string& text, size_t pos) {
    for (size_t semi = text.find(';', pos); semi != std::string::npos;
         semi = text.find(';', semi + 1)) {
        if (sqlite3_complete(text.substr(pos, semi + 1 - pos).c_str())) return semi + 1;
    }
    return text.size();
}

// True when the leading comment block of the .sql holds the line "-- db: file".
bool wants_file_db(const std::string& sql) {
    std::istringstream in(sql);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line == "-- db: file") return true;
        const size_t first = line.find_first_not_of(" \t");
        if (first != std::string::npos && line.compare(first, 2, "--") != 0) return false;
    }
    return false;
}

void append_value(sqlite3_stmt* s, int col, std::string& out) {
    static constexpr char kHex[] = "0123456789abcdef";
    switch (sqlite3_column_type(s, col)) {
        case SQLITE_NULL: out += "NULL"; break;
        case SQLITE_BLOB: {
            const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(s, col));
            const int n = sqlite3_column_bytes(s, col);
            out += "x'";
            for (int i = 0; i < n; ++i) {
                out += kHex[p[i] >> 4];
                out += kHex[p[i] & 15];
            }
            out += '\'';
            break;
        }
        default: {
            const auto* p = sqlite3_column_text(s, col);
            const int n = sqlite3_column_bytes(s, col);
            if (p) out.append(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
            break;
        }
    }
}

void append_error(sqlite3* db, int rc, std::string& out) {
    out += "error[";
    out += code_name(rc);
    out += "]: ";
    out += sqlite3_errmsg(db);
    out += '\n';
}

// Runs every statement of sql on db and returns what the .out file should hold.
std::string run_script(sqlite3* db, const std::string& sql) {
    std::string out;
    size_t pos = 0;
    for (;;) {
        pos = skip_between(sql, pos, out);
        if (pos >= sql.size()) break;
        const char* start = sql.c_str() + pos;
        const char* tail = nullptr;
        sqlite3_stmt* raw = nullptr;
        const int prc =
            sqlite3_prepare_v2(db, start, static_cast<int>(sql.size() - pos), &raw, &tail);
        Stmt stmt(raw);
        if (prc != SQLITE_OK) {
            append_error(db, prc, out);
            pos = statement_end(sql, pos);
            continue;
        }
        const size_t next = tail ? static_cast<size_t>(tail - sql.c_str()) : sql.size();
        pos = next > pos ? next : statement_end(sql, pos);
        if (!stmt) continue;  // only a comment was left
        // EXPLAIN QUERY PLAN rows print only their detail column: the id/parent numbering
        // changes between SQLite versions, the detail carries our INDEX idxNum:idxStr.
        const int ncol = sqlite3_column_count(stmt.get());
        const int first_col = sqlite3_stmt_isexplain(stmt.get()) == 2 ? ncol - 1 : 0;
        int rc;
        while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
            for (int i = first_col; i < ncol; ++i) {
                if (i > first_col) out += '|';
                append_value(stmt.get(), i, out);
            }
            out += '\n';
        }
        if (rc != SQLITE_DONE) append_error(db, rc, out);
    }
    return out;
}

// Line diff (longest common subsequence) printed in unified format with 3 lines of context.
void print_diff(const std::string& expected_name, const std::string& expected,
                const std::string& actual) {
    const std::vector<std::string> a = split_lines(expected);
    const std::vector<std::string> b = split_lines(actual);
    const size_t n = a.size(), m = b.size();

    enum class Op { Same, Del, Add };
    std::vector<std::pair<Op, size_t>> ops;  // index into a (Same/Del) or b (Add)
    if (n * m <= 16'000'000) {
        std::vector<std::vector<uint32_t>> lcs(n + 1, std::vector<uint32_t>(m + 1, 0));
        for (size_t i = n; i-- > 0;) {
            for (size_t j = m; j-- > 0;) {
                lcs[i][j] =
                    a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
            }
        }
        size_t i = 0, j = 0;
        while (i < n || j < m) {
            if (i < n && j < m && a[i] == b[j]) {
                ops.emplace_back(Op::Same, i);
                ++i;
                ++j;
            } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
                ops.emplace_back(Op::Del, i++);
            } else {
                ops.emplace_back(Op::Add, j++);
            }
        }
    } else {  // too big for the table: everything differs
        for (size_t i = 0; i < n; ++i) ops.emplace_back(Op::Del, i);
        for (size_t j = 0; j < m; ++j) ops.emplace_back(Op::Add, j);
    }

    std::cerr << "--- " << expected_name << " (expected)\n+++ actual output\n";
    constexpr size_t kContext = 3;
    size_t k = 0;
    size_t printed = 0;  // ops before this index belong to an earlier hunk
    while (k < ops.size()) {
        if (ops[k].first == Op::Same) {
            ++k;
            continue;
        }
        // A hunk: from kContext lines before this change to kContext lines after the last
        // change that lies within 2*kContext of the previous one.
        const size_t begin = std::max(printed, k >= kContext ? k - kContext : 0);
        size_t end = k;
        size_t same_run = 0;
        for (size_t x = k; x < ops.size(); ++x) {
            if (ops[x].first == Op::Same) {
                if (++same_run > 2 * kContext) break;
            } else {
                same_run = 0;
                end = x + 1;
            }
        }
        end = std::min(ops.size(), end + kContext);
        // Line numbers where the hunk starts in each file.
        size_t a_line = 0, b_line = 0;
        for (size_t x = 0; x < begin; ++x) {
            if (ops[x].first != Op::Add) ++a_line;
            if (ops[x].first != Op::Del) ++b_line;
        }
        size_t a_count = 0, b_count = 0;
        for (size_t x = begin; x < end; ++x) {
            if (ops[x].first != Op::Add) ++a_count;
            if (ops[x].first != Op::Del) ++b_count;
        }
        std::cerr << "@@ -" << (a_count ? a_line + 1 : a_line) << ',' << a_count << " +"
                  << (b_count ? b_line + 1 : b_line) << ',' << b_count << " @@\n";
        for (size_t x = begin; x < end; ++x) {
            switch (ops[x].first) {
                case Op::Same: std::cerr << ' ' << a[ops[x].second] << '\n'; break;
                case Op::Del: std::cerr << '-' << a[ops[x].second] << '\n'; break;
                case Op::Add: std::cerr << '+' << b[ops[x].second] << '\n'; break;
            }
        }
        k = printed = end;
    }
}

int run(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: sqlgolden <path-to-eskit.so> <file.sql> <file.out>\n";
        return 2;
    }
    const std::string ext_path = argv[1], sql_path = argv[2], out_path = argv[3];
    const char* update_env = std::getenv("ES_GOLDEN_UPDATE");
    const bool update = update_env && std::string_view(update_env) == "1";

    std::string sql;
    if (!read_file(sql_path, sql)) {
        std::cerr << "sqlgolden: cannot read " << sql_path << '\n';
        return 2;
    }
    std::string expected;
    if (!update && !read_file(out_path, expected)) {
        std::cerr << "sqlgolden: cannot read " << out_path << " (ES_GOLDEN_UPDATE=1 creates it)\n";
        return 2;
    }

    std::unique_ptr<TempDir> dir;
    std::string db_path = ":memory:";
    if (wants_file_db(sql)) {
        dir = std::make_unique<TempDir>();
        db_path = dir->path() + "/golden.db";
    }

    std::string actual;
    {
        sqlite3* raw = nullptr;
        const int orc = sqlite3_open_v2(db_path.c_str(), &raw,
                                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
        Db db(raw);
        if (orc != SQLITE_OK) {
            std::cerr << "sqlgolden: cannot open " << db_path << ": "
                      << (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(orc)) << '\n';
            return 2;
        }
        if (sqlite3_db_config(db.get(), SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, nullptr) !=
            SQLITE_OK) {
            std::cerr << "sqlgolden: cannot enable extension loading: " << sqlite3_errmsg(db.get())
                      << '\n';
            return 2;
        }
        char* err = nullptr;
        if (sqlite3_load_extension(db.get(), ext_path.c_str(), nullptr, &err) != SQLITE_OK) {
            std::cerr << "sqlgolden: cannot load extension " << ext_path << ": "
                      << (err ? err : sqlite3_errmsg(db.get())) << '\n';
            sqlite3_free(err);
            return 2;
        }
        actual = run_script(db.get(), sql);
    }  // the database is closed before its directory goes

    if (update) {
        if (!write_file(out_path, actual)) {
            std::cerr << "sqlgolden: cannot write " << out_path << '\n';
            return 2;
        }
        std::cerr << "sqlgolden: wrote " << out_path << " - read every line before committing\n";
        return 0;
    }
    if (actual == expected) return 0;
    print_diff(out_path, expected, actual);
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "sqlgolden: " << e.what() << '\n';
    } catch (...) {
        std::cerr << "sqlgolden: unknown exception\n";
    }
    return 2;
}
