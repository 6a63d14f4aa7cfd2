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

#ifdef __cplusplus
}
#endif
