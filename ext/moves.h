/*
** Moving a stream between databases: es_archive(s, X), es_restore(s, X), and the clean-ups a
** move leaves for later (lifecycle.cpp uses them for tombstones and deletes).
**
** SQLite commits a transaction that writes several databases atomically only in rollback-journal
** mode; with a WAL database involved each one commits on its own, so a crash in between could
** leave a stream in neither place. Every move therefore runs as separate transactions, each
** writing ONE database, in an order that never leaves the events absent, and main records the
** move before anything is copied:
**
**   archive(s, X)   A. main: the intent (state 'archiving', X's identity, a new move id, and
**                      what leaves: count, last version, last event id, seq range)
**                   B. X:    the copy, tagged with the move id and main's identity
**                   C. main: only if the intent still stands and X's copy matches what leaves:
**                      delete the events, keep their ids reserved, state 'archived' in X
**   restore(s, X)   A. main: only if X is the recorded archive (identity) and its copy matches
**                      what left: copy back (same seq values; an adopted stream gets new ones),
**                      state active, and a clean-up record for X's copy
**                   B. X:    erase the copy of that move      C. main: drop the clean-up record
**
** Whoever meets an unfinished archive (another es_archive(s, X), after a crash or concurrently)
** finishes the same move; the steps are idempotent and each re-checks the state under its lock,
** so concurrent calls serialise: one of them deletes, the others find the work done. A copy in X
** is only ever erased when a clean-up record names its move (es_cleanups), never because its
** rows "look like" a copy. Streams moved by a version 2 store are recorded by alias only; the
** archive attached under that alias and holding a complete copy is accepted for them.
*/
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "schema.h"
#include "sqlite.h"

namespace eskit::ext {

class Conn;

// Deletes the stream's events, snapshot and id listings from s, first recording its head
// (seq values are never reused); the bookkeeping permit of store (s's identity) must be held.
// Returns the events deleted.
int64_t erase_stream_rows(Conn& c, const Schema& s, const std::string& store,
                          std::string_view stream);
// The same without recording the head: only for undoing a copy that never counted.
int64_t remove_stream_rows(Conn& c, const Schema& s, const std::string& store,
                           std::string_view stream);

int64_t archive_to(Conn& c, std::string_view stream, const Schema& x, bool outside);
int64_t restore_from(Conn& c, std::string_view stream, const Schema& x, bool outside);

// Records in main (in the caller's write transaction) that the copy of stream made by move_id
// in the store with identity store must be erased.
void record_cleanup(Conn& c, const std::string& main_store, const std::string& store,
                    const std::string& alias, std::string_view stream, const std::string& move_id);
// What run_cleanups did: events erased, clean-ups left recorded (their store not attached, or
// read-only, or its erasure failed), and the errors of those that failed.
struct CleanupReport {
    int64_t erased = 0;
    int64_t pending = 0;
    std::vector<std::string> failures;
};
// Runs the recorded clean-ups (for one stream, or all when stream is empty) whose store is
// attached and writable, each in its own transactions. A clean-up that fails stays recorded
// (es_maintain retries it): the call that led to it has taken effect in main already, and its
// caller is told so rather than given an error for a change that happened. Needs autocommit.
CleanupReport run_cleanups(Conn& c, std::string_view stream, const char* fn);
// A stream moved by a version 2 store (recorded by alias only): erases its copy in the database
// attached under that alias, if that holds a copy of such a move. Returns the events erased.
int64_t erase_legacy_copy(Conn& c, std::string_view stream, const std::string& alias,
                          const char* fn);

}  // namespace eskit::ext
