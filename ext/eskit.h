/*
** Public C entry points of the eskit extension.
**
** A host that links the static core library (eskit_core) registers the SQL surface on a
** connection without dlopen():
**
**     eskit_register(db);                                  // one connection
**     sqlite3_auto_extension((void (*)(void))sqlite3_eskit_init);  // every new connection
*/
#pragma once

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
ES_API int sqlite3_eskit_init(sqlite3* db, char** pzErrMsg, const sqlite3_api_routines* pApi);

/* In-process registration for hosts that link eskit_core. Returns an SQLite result code. */
ES_API int eskit_register(sqlite3* db);

/* Host options (eskit_core only), set per connection after registration, e.g. from an init
** function given to sqlite3_auto_extension that calls sqlite3_eskit_init first.
** ESKIT_OPTION_WRITES_NEED_TRANSACTION: with value 1 every eskit function that writes refuses
** to run in autocommit (invalid_argument), as a dqlite host needs. Returns SQLITE_OK,
** SQLITE_MISUSE when eskit is not registered on db, SQLITE_RANGE for an unknown option. */
#define ESKIT_OPTION_WRITES_NEED_TRANSACTION 1
ES_API int eskit_set_option(sqlite3* db, int option, int value);

#ifdef __cplusplus
}
#endif
