#include "cursor_stmt.h"

#include <new>

namespace eskit::ext {

namespace {

constexpr const char* kFlagType = "eskit_run_flag";

void unref(RunWatch::Flag* f) noexcept {
    if (--f->refs == 0) delete f;
}

void unbound(void* p) { unref(static_cast<RunWatch::Flag*>(p)); }

void run_ended(void* p) {
    auto* f = static_cast<RunWatch::Flag*>(p);
    f->running = false;
    unref(f);
}

void runningFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
    auto* f = static_cast<RunWatch::Flag*>(sqlite3_value_pointer(argv[0], kFlagType));
    if (f && sqlite3_get_auxdata(ctx, 0) != f) {
        ++f->refs;
        sqlite3_set_auxdata(ctx, 0, f, run_ended);
        // Out of memory SQLite drops the data at once: the flag stays down, and the cursor
        // runs the statement again from its own position whenever it looks (slow, correct).
        if (sqlite3_get_auxdata(ctx, 0) == f) f->running = true;
    }
    sqlite3_result_int(ctx, 1);
}

}  // namespace

RunWatch::RunWatch() : f_(new Flag) {}

RunWatch::~RunWatch() {
    if (f_) unref(f_);
}

RunWatch& RunWatch::operator=(RunWatch&& o) noexcept {
    if (this != &o) {
        if (f_) unref(f_);
        f_ = o.f_;
        o.f_ = nullptr;
    }
    return *this;
}

int RunWatch::bind(sqlite3_stmt* s, int i) {
    ++f_->refs;  // the binding's; SQLite calls unbound() also when binding fails
    return sqlite3_bind_pointer(s, i, f_, kFlagType, unbound);
}

int register_running(sqlite3* db) {
    // DETERMINISTIC makes the call a constant term, evaluated once per run before the loops.
    return sqlite3_create_function_v2(db, "eskit_running", 1,
                                      SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY,
                                      nullptr, runningFunc, nullptr, nullptr, nullptr);
}

}  // namespace eskit::ext
