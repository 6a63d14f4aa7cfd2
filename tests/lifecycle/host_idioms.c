/*
** Host idioms that must never crash the process (issue 9, "What must hold" 6), as a C host
** would write them. Built with AddressSanitizer (tests/lifecycle/meson.build): a double
** finalize, a use after free or a heap overflow aborts the run.
**
**   host_idioms core            eskit registered in-process (eskit_core, also built with ASan)
**   host_idioms module PATH     eskit.so loaded with sqlite3_load_extension (the sqlite3 shell,
**                               Python and most hosts)
**
** Scenarios (each on fresh connections, in-memory and file databases):
**   finalize_all_then_close   use every part of eskit, finalize every statement that
**                             sqlite3_next_stmt() returns, then sqlite3_close() (legacy: must be
**                             SQLITE_OK) or sqlite3_close_v2()
**   finalize_all_keep_using   after finalizing everything, keep using the connection (eskit
**                             prepares again), 30 rounds, results checked each round
**   address_reuse             eskit's statements finalized, then user statements prepared until
**                             they occupy the freed addresses; eskit calls must not use or
**                             finalize them, the user statements still work afterwards; also a
**                             user statement prepared with the very text (tag included) of one
**                             of eskit's
**   reset_all_during_cursor   while an es_all / es_stream cursor is open (plain, category,
**                             type, type IN, event_id IN, stream_id, after_seq, version range,
**                             DESC, LIMIT), every other statement of the connection is reset
**                             after each row: no row repeated or skipped, same rows as without
**   finalize_others_during_cursor  every statement but the cursor finalized after each row: the
**                             cursor goes on correctly or fails with an error, never UB
**   shadowing_tables          user tables named es_all, es_stream (and both) in main: eskit
**                             works and a legacy sqlite3_close() returns SQLITE_OK
**   close_v2_with_open_cursor sqlite3_close_v2 while a cursor is open, then step and finalize it
*/
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eskit.h"

static int failures = 0;
static int checks = 0;
static const char* g_mode = "core";
static const char* g_module = NULL;
static char g_dir[512];

#define CHECK(cond, ...)                                         \
    do {                                                         \
        ++checks;                                                \
        if (!(cond)) {                                           \
            ++failures;                                          \
            fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                        \
            fprintf(stderr, "\n");                               \
        }                                                        \
    } while (0)

static sqlite3* open_db(const char* name) {
    sqlite3* db = NULL;
    char path[600];
    if (strcmp(name, ":memory:") == 0) {
        snprintf(path, sizeof path, ":memory:");
    } else {
        snprintf(path, sizeof path, "%s/%s", g_dir, name);
    }
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    sqlite3_busy_timeout(db, 5000);
    if (strcmp(g_mode, "core") == 0) {
        if (eskit_register(db) != SQLITE_OK) {
            fprintf(stderr, "eskit_register failed\n");
            exit(2);
        }
    } else {
        char* err = NULL;
        sqlite3_enable_load_extension(db, 1);
        if (sqlite3_load_extension(db, g_module, NULL, &err) != SQLITE_OK) {
            fprintf(stderr, "load %s: %s\n", g_module, err ? err : "?");
            exit(2);
        }
        sqlite3_enable_load_extension(db, 0);
    }
    return db;
}

/* Runs sql; returns the first column of the first row as int64 (or -1), errors counted. */
static int64_t q1(sqlite3* db, const char* sql) {
    sqlite3_stmt* s = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        CHECK(0, "prepare %s: %s", sql, sqlite3_errmsg(db));
        return -1;
    }
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        v = sqlite3_column_int64(s, 0);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        }
    }
    CHECK(rc == SQLITE_DONE, "%s: rc %d %s", sql, rc, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return v;
}

static void exec(sqlite3* db, const char* sql) {
    char* err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    CHECK(rc == SQLITE_OK, "%s: %s", sql, err ? err : "?");
    sqlite3_free(err);
}

static int finalize_all(sqlite3* db) {
    int n = 0;
    sqlite3_stmt* s;
    while ((s = sqlite3_next_stmt(db, NULL)) != NULL) {
        sqlite3_finalize(s);
        ++n;
    }
    return n;
}

static int count_eskit_statements(sqlite3* db) {
    int n = 0;
    for (sqlite3_stmt* s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s)) {
        const char* sql = sqlite3_sql(s);
        if (sql && strncmp(sql, "/*eskit", 7) == 0) ++n;
    }
    return n;
}

/* Appends n events to stream s in batches of 10, types T0..T2, caller-given ids "<s>-<i>". */
static void fill(sqlite3* db, const char* s, int n, int first) {
    for (int i = 0; i < n; i += 10) {
        char* json = sqlite3_mprintf("[");
        for (int k = i; k < n && k < i + 10; ++k) {
            char* next =
                sqlite3_mprintf("%s%s{\"type\":\"T%d\",\"data\":{\"k\":%d},\"id\":\"%s-%d\"}", json,
                                k == i ? "" : ",", (first + k) % 3, first + k, s, first + k);
            sqlite3_free(json);
            json = next;
        }
        char* sql = sqlite3_mprintf("SELECT es_append(%Q, -1, '%q]')", s, json);
        q1(db, sql);
        sqlite3_free(sql);
        sqlite3_free(json);
    }
}

/* Uses reads, writes, lifecycle and wait: eskit caches statements for all of them. */
static void exercise(sqlite3* db, int round) {
    char sql[512];
    snprintf(
        sql, sizeof sql,
        "SELECT es_append('ex-%d', 0, '[{\"type\":\"A\",\"data\":1},{\"type\":\"B\",\"data\":2}]')",
        round);
    CHECK(q1(db, sql) == 2, "append round %d", round);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM es_stream('ex-%d')", round);
    CHECK(q1(db, sql) == 2, "es_stream round %d", round);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM es_all WHERE stream_id = 'ex-%d' AND type = 'B'", round);
    CHECK(q1(db, sql) == 1, "es_all filtered round %d", round);
    CHECK(q1(db, "SELECT count(*) >= 2 FROM es_all WHERE category = 'ex'") == 1, "category");
    snprintf(sql, sizeof sql, "SELECT es_archive('ex-%d')", round);
    q1(db, sql);
    snprintf(sql, sizeof sql, "SELECT es_status('ex-%d') = 'archived'", round);
    CHECK(q1(db, sql) == 1, "archived round %d", round);
    snprintf(sql, sizeof sql, "SELECT es_restore('ex-%d')", round);
    q1(db, sql);
    snprintf(sql, sizeof sql, "SELECT es_snapshot_save('ex-%d', 2, '{}')", round);
    CHECK(q1(db, sql) == 2, "snapshot round %d", round);
    CHECK(q1(db, "SELECT es_checkpoint('c', 1)") == 1, "checkpoint");
    CHECK(q1(db, "SELECT es_head() > 0") == 1, "head");
    CHECK(q1(db, "SELECT es_wait(0, 0) > 0") == 1, "wait");
    snprintf(sql, sizeof sql, "SELECT es_tombstone('ex-%d', 'done')", round);
    CHECK(q1(db, sql) == 2, "tombstone round %d", round);
    snprintf(sql, sizeof sql, "SELECT es_delete('ex-%d')", round);
    CHECK(q1(db, sql) == 0, "delete round %d", round);
    CHECK(q1(db, "SELECT json_extract(es_maintain(), '$.pending')") == 0, "maintain");
}

static void finalize_all_then_close(void) {
    const char* names[] = {":memory:", "fac.db"};
    for (int legacy = 0; legacy < 2; ++legacy) {
        for (int i = 0; i < 2; ++i) {
            sqlite3* db = open_db(names[i]);
            q1(db, "SELECT es_init()");
            exercise(db, 1);
            fill(db, "f-1", 30, 0);
            CHECK(q1(db, "SELECT count(*) FROM es_all WHERE type IN ('T0', 'T2')") == 20, "IN");
            CHECK(count_eskit_statements(db) > 0, "eskit keeps statements");
            finalize_all(db);
            int rc = legacy ? sqlite3_close(db) : sqlite3_close_v2(db);
            CHECK(rc == SQLITE_OK, "%s on %s after finalizing everything: %d",
                  legacy ? "sqlite3_close" : "sqlite3_close_v2", names[i], rc);
        }
    }
}

static void finalize_all_keep_using(void) {
    sqlite3* db = open_db("keep.db");
    exec(db, "PRAGMA journal_mode=WAL");
    char sql[600];
    snprintf(sql, sizeof sql, "ATTACH '%s/keep_arch.db' AS arch", g_dir);
    exec(db, sql);
    for (int round = 0; round < 30; ++round) {
        exercise(db, round);
        snprintf(sql, sizeof sql, "SELECT es_append('mv-%d', 0, '{\"type\":\"M\",\"data\":%d}')",
                 round, round);
        CHECK(q1(db, sql) == 1, "append mv round %d", round);
        snprintf(sql, sizeof sql, "SELECT es_archive('mv-%d', 'arch')", round);
        CHECK(q1(db, sql) == 1, "archive to arch round %d", round);
        finalize_all(db);
        snprintf(sql, sizeof sql, "SELECT es_restore('mv-%d', 'arch')", round);
        CHECK(q1(db, sql) == 1, "restore from arch round %d", round);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM es_stream('mv-%d')", round);
        CHECK(q1(db, sql) == 1, "read mv round %d", round);
        finalize_all(db);
    }
    CHECK(sqlite3_close(db) == SQLITE_OK, "close after keep-using");
}

static void address_reuse(void) {
    sqlite3* db = open_db(":memory:");
    exercise(db, 0);
    fill(db, "r-1", 20, 0);
    /* eskit's statements and their texts */
    enum { kMax = 512 };
    void* addrs[kMax];
    char* texts[kMax];
    int n = 0;
    for (sqlite3_stmt* s = sqlite3_next_stmt(db, NULL); s && n < kMax;
         s = sqlite3_next_stmt(db, s)) {
        const char* sql = sqlite3_sql(s);
        if (sql && strncmp(sql, "/*eskit", 7) == 0) {
            addrs[n] = s;
            texts[n] = sqlite3_mprintf("%s", sql);
            ++n;
        }
    }
    CHECK(n > 5, "eskit statements to reuse: %d", n);
    finalize_all(db);
    /* the hostile one: eskit's own text, tag included, prepared by the host */
    sqlite3_stmt* copy = NULL;
    int copy_at_old = 0;
    if (n > 0 && sqlite3_prepare_v2(db, texts[n - 1], -1, &copy, NULL) == SQLITE_OK) {
        for (int k = 0; k < n; ++k) copy_at_old += (void*)copy == addrs[k];
    }
    /* user statements until they sit at eskit's old addresses: eskit's own texts with the tag
    ** changed ("/*eskit" -> "/*hostx", same sizes, so the allocator hands back the same
    ** chunks), newest first, then plain ones */
    enum { kUser = 600 };
    sqlite3_stmt* mine[kUser];
    int reused = 0, m = 0;
    for (int k = n - 1; k >= 0 && m < kUser; --k) {
        char* text = sqlite3_mprintf("%s", texts[k]);
        memcpy(text, "/*hostx", 7);
        if (sqlite3_prepare_v2(db, text, -1, &mine[m], NULL) == SQLITE_OK) {
            for (int j = 0; j < n; ++j) reused += (void*)mine[m] == addrs[j];
            ++m;
        }
        sqlite3_free(text);
    }
    int first_plain = m;
    for (; m < kUser; ++m) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT %d, 'user statement'", m);
        if (sqlite3_prepare_v2(db, sql, -1, &mine[m], NULL) != SQLITE_OK) break;
        for (int k = 0; k < n; ++k) reused += (void*)mine[m] == addrs[k];
    }
    printf(
        "address_reuse: %d eskit statements, %d user statements at their addresses, tag copy at an "
        "old address: %d\n",
        n, reused, copy_at_old);
    CHECK(reused > 0 || getenv("ESKIT_ALLOW_NO_REUSE"),
          "no user statement landed at a freed address of "
          "eskit's: the scenario did not test reuse (ASan quarantine on?)");
    for (int round = 0; round < 5; ++round) exercise(db, 100 + round);
    CHECK(q1(db, "SELECT count(*) FROM es_stream('r-1')") == 20, "reads after reuse");
    for (int k = 0; k < m; ++k) {
        const char* sql = sqlite3_sql(mine[k]);
        CHECK(sql && (k < first_plain ? strncmp(sql, "/*hostx", 7) == 0
                                      : strncmp(sql, "SELECT ", 7) == 0),
              "user statement %d keeps its text", k);
        int rc = sqlite3_step(mine[k]);
        CHECK(
            rc == SQLITE_ROW || rc == SQLITE_DONE || rc == SQLITE_CONSTRAINT || rc == SQLITE_ERROR,
            "user statement %d runs (%d)", k, rc);
        if (k >= first_plain)
            CHECK(rc == SQLITE_ROW && sqlite3_column_int(mine[k], 0) == k,
                  "user statement %d still works", k);
        sqlite3_finalize(mine[k]);
    }
    if (copy) {
        sqlite3_reset(copy);
        sqlite3_finalize(copy); /* the host's own: eskit must not have finalized it */
    }
    for (int k = 0; k < n; ++k) sqlite3_free(texts[k]);
    CHECK(sqlite3_close(db) == SQLITE_OK, "close after address reuse");
}

/* A hostile host re-prepares every statement it finalized with the very same text, eskit's
** tag included, so that some land at the address where eskit's statement with that text
** lived. eskit must not take them for its own (and finalize them, or use them while the host
** does): the host's copies keep working and the host's final finalize is the only one. */
static void tag_copies(void) {
    sqlite3* db = open_db(":memory:");
    exercise(db, 0);
    enum { kMax = 512 };
    void* addrs[kMax];
    char* texts[kMax];
    int n = 0;
    for (sqlite3_stmt* s = sqlite3_next_stmt(db, NULL); s && n < kMax;
         s = sqlite3_next_stmt(db, s)) {
        const char* sql = sqlite3_sql(s);
        if (sql && strncmp(sql, "/*eskit", 7) == 0) {
            addrs[n] = s;
            texts[n] = sqlite3_mprintf("%s", sql);
            ++n;
        }
    }
    finalize_all(db);
    sqlite3_stmt* copies[kMax];
    int same_place = 0;
    for (int k = n - 1; k >= 0; --k) {
        copies[k] = NULL;
        if (sqlite3_prepare_v2(db, texts[k], -1, &copies[k], NULL) != SQLITE_OK) copies[k] = NULL;
        same_place += copies[k] && (void*)copies[k] == addrs[k];
    }
    /* the allocator hands the freed chunks back in an order of its own: a copy elsewhere is
    ** prepared again, for up to 100 rounds, until many sit where their original was */
    for (int round = 0; round < 100 && same_place < n; ++round) {
        for (int k = n - 1; k >= 0; --k) {
            if (!copies[k] || (void*)copies[k] == addrs[k]) continue;
            sqlite3_finalize(copies[k]);
            if (sqlite3_prepare_v2(db, texts[k], -1, &copies[k], NULL) != SQLITE_OK)
                copies[k] = NULL;
            same_place += copies[k] && (void*)copies[k] == addrs[k];
        }
    }
    printf("tag_copies: %d of %d copies sit where eskit's statement of the same text was\n",
           same_place, n);
    CHECK(same_place > 0 || getenv("ESKIT_ALLOW_NO_REUSE"),
          "no copy landed where its original was: "
          "the scenario did not test copies (ASan quarantine on?)");
    for (int round = 0; round < 5; ++round) exercise(db, 200 + round);
    for (int k = 0; k < n; ++k) {
        if (!copies[k]) continue;
        CHECK(sqlite3_sql(copies[k]) && strcmp(sqlite3_sql(copies[k]), texts[k]) == 0,
              "the host's copy %d is intact", k);
    }
    /* close_v2 with the host's statements still open (a zombie connection until they are
    ** finalized): eskit finalizes its cache now; the host's copies must not be among them */
    CHECK(sqlite3_close_v2(db) == SQLITE_OK, "close_v2 with the host's copies open");
    for (int k = 0; k < n; ++k) {
        if (copies[k]) sqlite3_finalize(copies[k]);
        sqlite3_free(texts[k]);
    }
}

/* Collects the rows of sql (seq, version) while calling between(db, cursor) after every row. */
typedef void (*between_fn)(sqlite3*, sqlite3_stmt*);

static int collect(sqlite3* db, const char* sql, between_fn between, int64_t* out, int max,
                   int* err) {
    sqlite3_stmt* s = NULL;
    *err = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        CHECK(0, "prepare %s: %s", sql, sqlite3_errmsg(db));
        return 0;
    }
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n < max) out[n] = sqlite3_column_int64(s, 0) * 1000000 + sqlite3_column_int64(s, 1);
        if (++n >= max) { /* a cursor that restarts after every reset would never end */
            rc = SQLITE_DONE;
            break;
        }
        if (between) between(db, s);
    }
    if (rc != SQLITE_DONE) *err = rc;
    sqlite3_finalize(s);
    return n;
}

/* Index of the first row where two collected row lists differ, or -1 when equal. */
static int first_difference(const int64_t* a, int na, const int64_t* b, int nb, int max) {
    int n = na < nb ? na : nb;
    if (n > max) n = max;
    for (int i = 0; i < n; ++i) {
        if (a[i] != b[i]) return i;
    }
    return na == nb ? -1 : n;
}

static void reset_others(sqlite3* db, sqlite3_stmt* cursor) {
    for (sqlite3_stmt* s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s)) {
        if (s != cursor) sqlite3_reset(s);
    }
}

static void finalize_others(sqlite3* db, sqlite3_stmt* cursor) {
    sqlite3_stmt* s = sqlite3_next_stmt(db, NULL);
    while (s) {
        sqlite3_stmt* next = sqlite3_next_stmt(db, s);
        if (s != cursor) sqlite3_finalize(s);
        s = next;
    }
}

static const char* kCursorQueries[] = {
    "SELECT seq, version FROM es_all",
    "SELECT seq, version FROM es_all(100)",
    "SELECT seq, version FROM es_all WHERE category = 'b'",
    "SELECT seq, version FROM es_all WHERE type = 'T1'",
    "SELECT seq, version FROM es_all WHERE type IN ('T0', 'T2')",
    "SELECT seq, version FROM es_all WHERE category IN ('a', 'c') AND type = 'T1'",
    "SELECT seq, version FROM es_all WHERE stream_id = 'a-1'",
    "SELECT seq, version FROM es_all WHERE stream_id IN ('a-1', 'c-1')",
    "SELECT seq, version FROM es_all WHERE event_id IN ('a-1-3', 'b-1-100', 'c-1-250', 'a-1-299', "
    "'b-1-7')",
    "SELECT seq, version FROM es_all WHERE seq BETWEEN 200 AND 600",
    "SELECT seq, version FROM es_all LIMIT 333",
    "SELECT seq, version FROM es_stream('a-1')",
    "SELECT seq, version FROM es_stream('b-1', 50)",
    "SELECT seq, version FROM es_stream('c-1') WHERE type = 'T2'",
    "SELECT seq, version FROM es_stream('c-1') WHERE type IN ('T0', 'T1')",
    "SELECT seq, version FROM es_stream('a-1') WHERE version BETWEEN 10 AND 200",
    "SELECT seq, version FROM es_stream('b-1') ORDER BY version DESC",
    "SELECT seq, version FROM es_stream('a-1') ORDER BY version DESC LIMIT 77",
};

static void reset_all_during_cursor(void) {
    sqlite3* db = open_db("cursor.db");
    exec(db, "PRAGMA journal_mode=WAL");
    /* 900 events in three categories: postings blocks plus an unindexed tail */
    for (int part = 0; part < 3; ++part) {
        fill(db, "a-1", 100, part * 100);
        fill(db, "b-1", 100, part * 100);
        fill(db, "c-1", 100, part * 100);
    }
    q1(db, "SELECT es_maintain()");
    fill(db, "a-1", 30, 300); /* a tail after the last fold */
    enum { kMax = 2000 };
    static int64_t want[kMax], got[kMax];
    for (size_t i = 0; i < sizeof kCursorQueries / sizeof kCursorQueries[0]; ++i) {
        int err1 = 0, err2 = 0;
        int nw = collect(db, kCursorQueries[i], NULL, want, kMax, &err1);
        int ng = collect(db, kCursorQueries[i], reset_others, got, kMax, &err2);
        CHECK(err1 == 0 && err2 == 0, "%s: errors %d / %d (%s)", kCursorQueries[i], err1, err2,
              sqlite3_errmsg(db));
        CHECK(nw > 0, "%s: rows", kCursorQueries[i]);
        int at = first_difference(want, nw, got, ng, kMax);
        CHECK(at < 0,
              "%s: %d rows with a reset-all loop after each row, %d without; first difference "
              "at row %d: got (seq %lld, version %lld), want (seq %lld, version %lld)",
              kCursorQueries[i], ng, nw, at,
              at >= 0 && at < ng ? (long long)(got[at] / 1000000) : -1LL,
              at >= 0 && at < ng ? (long long)(got[at] % 1000000) : -1LL,
              at >= 0 && at < nw ? (long long)(want[at] / 1000000) : -1LL,
              at >= 0 && at < nw ? (long long)(want[at] % 1000000) : -1LL);
    }
    CHECK(sqlite3_close(db) == SQLITE_OK, "close");
}

static void finalize_others_during_cursor(void) {
    sqlite3* db = open_db("cursor2.db");
    exec(db, "PRAGMA journal_mode=WAL");
    fill(db, "a-1", 300, 0);
    fill(db, "b-1", 300, 0);
    fill(db, "c-1", 300, 0);
    enum { kMax = 2000 };
    static int64_t want[kMax], got[kMax];
    for (size_t i = 0; i < sizeof kCursorQueries / sizeof kCursorQueries[0]; ++i) {
        int err1 = 0, err2 = 0;
        printf("finalize_others: %s\n", kCursorQueries[i]);
        int nw = collect(db, kCursorQueries[i], NULL, want, kMax, &err1);
        int ng = collect(db, kCursorQueries[i], finalize_others, got, kMax, &err2);
        if (err2 == 0) {
            CHECK(ng == nw &&
                      memcmp(want, got, sizeof(int64_t) * (size_t)(nw < kMax ? nw : kMax)) == 0,
                  "%s: %d rows when every other statement is finalized after each row, %d without",
                  kCursorQueries[i], ng, nw);
        } else {
            /* failing is allowed, with an error message (not UB) and rows so far correct */
            CHECK(ng <= nw &&
                      memcmp(want, got, sizeof(int64_t) * (size_t)(ng < kMax ? ng : kMax)) == 0,
                  "%s: rows before the error differ", kCursorQueries[i]);
            printf("finalize_others: %s stopped with %d (%s) after %d rows\n", kCursorQueries[i],
                   err2, sqlite3_errmsg(db), ng);
        }
        finalize_all(db);
    }
    CHECK(sqlite3_close(db) == SQLITE_OK, "close");
}

static void shadowing_tables(void) {
    const char* tables[][2] = {{"es_all", NULL}, {"es_stream", NULL}, {"es_all", "es_stream"}};
    for (int legacy = 0; legacy < 2; ++legacy) {
        for (int i = 0; i < 3; ++i) {
            char name[64];
            snprintf(name, sizeof name, "shadow%d%d.db", legacy, i);
            sqlite3* db = open_db(name);
            for (int k = 0; k < 2 && tables[i][k]; ++k) {
                char sql[128];
                snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS main.%s(x)", tables[i][k]);
                exec(db, sql);
            }
            CHECK(q1(db, "SELECT es_init()") == 3, "es_init with %s shadowed", tables[i][0]);
            CHECK(q1(db, "SELECT es_append('s-1', -1, '[{\"type\":\"A\",\"data\":1}]')") >= 1,
                  "append");
            CHECK(q1(db, "SELECT es_status('s-1') = 'active'") == 1, "status");
            CHECK(q1(db, "SELECT es_archive('s-1'), es_restore('s-1')") == 0, "lifecycle");
            if (i == 0)
                CHECK(q1(db, "SELECT count(*) >= 1 FROM es_stream('s-1')") == 1, "es_stream");
            if (i == 1) CHECK(q1(db, "SELECT count(*) >= 1 FROM es_all") == 1, "es_all");
            CHECK(q1(db, "SELECT count(*) FROM main.es_events") >= 1, "rows");
            int rc = legacy ? sqlite3_close(db) : sqlite3_close_v2(db);
            CHECK(rc == SQLITE_OK, "%s with a user table %s%s%s: %d",
                  legacy ? "sqlite3_close" : "sqlite3_close_v2", tables[i][0],
                  tables[i][1] ? " and " : "", tables[i][1] ? tables[i][1] : "", rc);
        }
    }
}

static void close_v2_with_open_cursor(void) {
    sqlite3* db = open_db(":memory:");
    fill(db, "a-1", 50, 0);
    sqlite3_stmt* s = NULL;
    CHECK(sqlite3_prepare_v2(db, "SELECT seq FROM es_all", -1, &s, NULL) == SQLITE_OK, "prepare");
    CHECK(sqlite3_step(s) == SQLITE_ROW, "first row");
    CHECK(sqlite3_close_v2(db) == SQLITE_OK, "close_v2 with an open cursor");
    int n = 1, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) ++n;
    CHECK(rc == SQLITE_DONE && n == 50, "cursor after close_v2: rc %d, %d rows", rc, n);
    sqlite3_finalize(s); /* the connection goes now */
}

static const struct {
    const char* name;
    void (*fn)(void);
} kScenarios[] = {
    {"finalize_all_then_close", finalize_all_then_close},
    {"finalize_all_keep_using", finalize_all_keep_using},
    {"address_reuse", address_reuse},
    {"tag_copies", tag_copies},
    {"reset_all_during_cursor", reset_all_during_cursor},
    {"finalize_others_during_cursor", finalize_others_during_cursor},
    {"shadowing_tables", shadowing_tables},
    {"close_v2_with_open_cursor", close_v2_with_open_cursor},
};

/* host_idioms core|module [PATH] [SCENARIO...]: every scenario when none is named. Each
** scenario runs in its own process in the test suite, so that an ASan abort in one does not
** hide the others. */
int main(int argc, char** argv) {
    int arg = 1;
    if (argc > arg) g_mode = argv[arg++];
    if (strcmp(g_mode, "module") == 0) {
        g_module = argc > arg ? argv[arg++] : getenv("ES_EXT");
        if (!g_module) {
            fprintf(stderr, "usage: host_idioms module PATH [SCENARIO...]\n");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char* tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/eskit-host-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 2;
    }
    int ran = 0;
    for (size_t i = 0; i < sizeof kScenarios / sizeof kScenarios[0]; ++i) {
        int wanted = arg >= argc;
        for (int k = arg; k < argc; ++k) wanted |= strcmp(argv[k], kScenarios[i].name) == 0;
        if (!wanted) continue;
        printf("-- %s (%s)\n", kScenarios[i].name, g_mode);
        kScenarios[i].fn();
        ++ran;
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    sqlite3_shutdown();
    printf("host_idioms (%s): %d scenarios, %d checks, %d failed\n", g_mode, ran, checks, failures);
    return failures || ran == 0 ? 1 : 0;
}
