/*
** The SQLite API as seen from ext/: through the sqlite3_api table in the loadable module,
** directly in the SQLITE_CORE build. Every ext/ file but extension.cpp includes this header.
*/
#pragma once

#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
