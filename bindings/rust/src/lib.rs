//! eskit for Rust: loads the eskit event store, a SQLite extension, into a
//! [`rusqlite::Connection`].
//!
//! ```no_run
//! let conn = rusqlite::Connection::open("events.db")?;
//! eskit::load(&conn)?;
//! let v: i64 = conn.query_row("SELECT es_append('order-1', 0, ?)",
//!                             [r#"{"type":"OrderPlaced","data":{}}"#], |r| r.get(0))?;
//! # Ok::<(), rusqlite::Error>(())
//! ```
//!
//! The extension is found at `$ESKIT_EXTENSION`, else where `meson install` puts it
//! (`/usr/local/lib/<triplet>/eskit/eskit.so`, then `/usr/lib/<triplet>/eskit/eskit.so`);
//! [`load_from`] takes an explicit path.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, LoadExtensionGuard};

/// The extension's loader entry point.
pub const ENTRY_POINT: &str = "sqlite3_eskit_init";

/// The stable error codes that start eskit's error messages.
pub const CODES: [&str; 6] =
    ["conflict", "duplicate_event", "archived", "tombstoned", "not_found", "invalid_argument"];

/// `$ESKIT_EXTENSION`, or the first installed `eskit.so` of the standard locations.
pub fn extension_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ESKIT_EXTENSION").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let triplet = format!("{}-linux-gnu", std::env::consts::ARCH);
    ["/usr/local", "/usr"]
        .iter()
        .map(|prefix| Path::new(prefix).join("lib").join(&triplet).join("eskit/eskit.so"))
        .find(|p| p.is_file())
}

/// Loads eskit from [`extension_path`] into `conn`.
pub fn load(conn: &Connection) -> rusqlite::Result<()> {
    match extension_path() {
        Some(p) => load_from(conn, p),
        None => Err(rusqlite::Error::InvalidPath(PathBuf::from(
            "eskit.so (set ESKIT_EXTENSION to its path)",
        ))),
    }
}

/// Loads eskit from `path` into `conn`; extension loading is enabled only for this call.
pub fn load_from<P: AsRef<Path>>(conn: &Connection, path: P) -> rusqlite::Result<()> {
    // SAFETY: loading runs the library's initialiser; eskit.so only registers SQL functions.
    unsafe {
        let _guard = LoadExtensionGuard::new(conn)?;
        conn.load_extension(path, Some(ENTRY_POINT))
    }
}

/// The eskit error code that starts the error's message (`"conflict"`, ...), if any.
pub fn code(err: &rusqlite::Error) -> Option<&'static str> {
    let message = match err {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.as_str(),
        _ => return None,
    };
    let head = message.split(':').next().unwrap_or("");
    CODES.iter().copied().find(|c| *c == head)
}
