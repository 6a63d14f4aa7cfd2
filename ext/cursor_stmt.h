/*
** Statements a cursor keeps running between its callbacks (the inner reads of es_stream and
** es_all, the block scan of es_index_seqs), and how the cursor learns that the host reset or
** finalized one without touching a statement that may have been freed.
**
**   RunWatch run;                 // one per statement the cursor keeps
**   run.bind(stmt, 5);            // the statement has "WHERE eskit_running(?5) AND ..."
**   sqlite3_step(stmt);           // the run raises the flag
**   if (!run.running()) ...       // reset, finalized or finished since
**
** SQLite evaluates eskit_running(?N) once per run (a constant term, before the loops) and keeps
** the auxiliary data it attaches until the run ends: sqlite3_reset(), sqlite3_finalize() (which
** first resets a running statement) and the end of the statement all delete it, and its
** destructor lowers the flag. So while the flag is up the statement exists and still holds its
** row, and checking costs one load; when it is down the cursor validates its statements
** (conn.h) and runs the statement again from its last position, or prepares it anew.
**
** The flag is counted by the cursor, the binding and the auxiliary data; whichever goes last
** frees it, so a statement the host finalizes after the cursor is gone writes to no freed
** memory. Bound as a pointer, the flag reads as NULL to anyone else: a host's copy of the text
** can neither raise nor see it.
*/
#pragma once

#include "sqlite.h"

namespace eskit::ext {

class RunWatch {
  public:
    struct Flag {
        int refs = 1;
        bool running = false;
    };

    RunWatch();  // throws std::bad_alloc
    ~RunWatch();
    RunWatch(RunWatch&& o) noexcept : f_(o.f_) { o.f_ = nullptr; }
    RunWatch& operator=(RunWatch&& o) noexcept;
    RunWatch(const RunWatch&) = delete;
    RunWatch& operator=(const RunWatch&) = delete;

    // True from the first step of a run of the statement bound last until that run ends.
    bool running() const { return f_->running; }
    // Binds the flag to parameter i of s; SQLite's result code.
    int bind(sqlite3_stmt* s, int i);

  private:
    Flag* f_;
};

// eskit_running(flag): 1; raises the flag for the rest of the statement's run.
int register_running(sqlite3* db);

}  // namespace eskit::ext
