/*
** Public C API of the eskit extension.
**
** A host that links the static core library (eskit_core, built with SQLITE_CORE) registers the
** SQL surface on a connection without dlopen():
**
**     eskit_register(db);                                          // one connection
**     sqlite3_auto_extension((void (*)(void))sqlite3_eskit_init);  // every new connection
**
** and can then read structured results of the last call on a connection instead of parsing
** message text:
**
**     if (sqlite3_step(stmt) != SQLITE_ROW) {
**         eskit_error e;
**         if (eskit_last_error(db, &e) == SQLITE_OK && e.code == ESKIT_CONFLICT)
**             retry_at(e.actual);
**     }
**
** SQL hosts get the same information from es_last_error() and es_last_append() (JSON text).
** Strings handed out point into the connection's eskit state: valid until the next eskit call
** on that connection. None of these functions is thread-safe against calls on the same
** connection from another thread (SQLite's own rules for a connection apply).
*/
#pragma once

#include <stddef.h>
#include <stdint.h>

struct sqlite3;
struct sqlite3_api_routines;

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ES_API __attribute__((visibility("default")))
#else
#define ES_API
#endif

/* Loader entry point (".load ./eskit" / load_extension('./eskit')). */
ES_API int sqlite3_eskit_init(struct sqlite3* db, char** pzErrMsg,
                              const struct sqlite3_api_routines* pApi);

/* In-process registration for hosts that link eskit_core. Returns an SQLite result code. */
ES_API int eskit_register(struct sqlite3* db);

/* The stable error codes of SPEC section 2 (ext/codes.h holds the same table for C++). */
enum eskit_code {
    ESKIT_OK = 0,
    ESKIT_CONFLICT = 1,
    ESKIT_DUPLICATE_EVENT = 2,
    ESKIT_ARCHIVED = 3,
    ESKIT_TOMBSTONED = 4,
    ESKIT_NOT_FOUND = 5,
    ESKIT_INVALID_ARGUMENT = 6,
    ESKIT_TOO_BIG = 7, /* invalid_argument with SQLITE_TOOBIG */
    ESKIT_SQLITE = 8   /* an error of SQLite itself (I/O, full disk, busy), passed through */
};

/* The last failed eskit call on a connection. */
typedef struct eskit_error {
    int code;              /* enum eskit_code; ESKIT_OK when the last eskit call succeeded */
    int sqlite_rc;         /* the (extended) result code the call returned */
    const char* message;   /* the complete message, code prefix included ("" when none) */
    const char* stream_id; /* the stream concerned, or NULL */
    int has_expected;      /* expected/actual are set (conflicts) */
    int64_t expected;      /* the expected version (-1 any, -2 exists) or checkpoint */
    int64_t actual;        /* the stream's version, or the stored checkpoint */
} eskit_error;

/* Fills *out for db's last eskit call. SQLITE_OK, or SQLITE_MISUSE when eskit is not
** registered on db (from this copy of the library). */
ES_API int eskit_last_error(struct sqlite3* db, eskit_error* out);

/* The last successful es_append on a connection: what it recorded, so a host need not read it
** back. For a replay (idempotency key or existing ids), nothing was written: replay is 1,
** last_version is the version the earlier append reached, and count/first_seq describe the
** existing events when they are known (ids), else 0. */
typedef struct eskit_append {
    int64_t first_seq;     /* seq of the first event written (consecutive after it) */
    int64_t count;         /* events written */
    int64_t first_version; /* version of the first event */
    int64_t last_version;  /* the stream's version after the call */
    int64_t created_at;    /* the timestamp every event of the call got (µs) */
    int replay;            /* 1: nothing written, an earlier append answered */
} eskit_append;

ES_API int eskit_last_append(struct sqlite3* db, eskit_append* out);
/* The event id of event i (0-based) of the last append, or NULL when i is out of range. */
ES_API const char* eskit_last_append_event_id(struct sqlite3* db, int64_t i);

/* Host options, set by the program that owns the connection (not reachable from SQL). */
#define ESKIT_OPTION_WRITES_NEED_TRANSACTION 1 /* writers refuse autocommit (dqlite hosts) */
/* SQLITE_OK, SQLITE_MISUSE (eskit not registered on db), SQLITE_RANGE (unknown option). */
ES_API int eskit_set_option(struct sqlite3* db, int option, int value);

/*
** A batch of events handed to es_append() as a pointer instead of JSON text, from C and C++
** hosts (the C++ facade uses it): bind it with
**     sqlite3_bind_pointer(stmt, 3, &batch, ESKIT_BATCH_TYPE, NULL);
** and call SELECT es_append(?1, ?2, ?3 [, ?4]). Every rule of the JSON form applies (the same
** validation, replays, versions); data of codec "json" must be JSON text, any other codec's
** data is the raw bytes (no base64). metadata is a JSON object text or NULL. Lengths are in
** bytes; a NULL pointer with length 0 means "absent" for codec, metadata and id.
*/
#define ESKIT_BATCH_TYPE "eskit-batch"

typedef struct eskit_event_in {
    const char* type;
    size_t type_len;
    const void* data;
    size_t data_len;
    const char* codec; /* NULL: "json" */
    size_t codec_len;
    const char* metadata; /* JSON object text or NULL */
    size_t metadata_len;
    const char* id; /* NULL: generated (UUIDv7) */
    size_t id_len;
    int64_t schema_version; /* 0: 1 */
} eskit_event_in;

typedef struct eskit_batch {
    const eskit_event_in* events;
    size_t count;
} eskit_batch;

#ifdef __cplusplus
}
#endif
