//! The client scenario of issue 12 in Rust: rusqlite 0.28 from Debian's crates and the eskit
//! crate (bindings/rust), under `cargo test`. Same steps and values as
//! tests/clients/lang/python/scenario.py (see its header).
use std::process::Command;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};

// snippet: rust-core
fn open_store(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    eskit::load(&conn)?;
    conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
    Ok(conn)
}

/// es_append; on `conflict` re-read the stream's version and try again.
/// Returns (version, attempt).
fn append_with_retry(conn: &Connection, stream: &str, mut expected: i64, events: &str)
                     -> rusqlite::Result<(i64, u32)> {
    let mut attempt = 1;
    loop {
        match conn.query_row("SELECT es_append(?, ?, ?)", (stream, expected, events), |r| r.get(0)) {
            Ok(version) => return Ok((version, attempt)),
            Err(e) if eskit::code(&e) == Some("conflict") && attempt < 5 => {
                // Someone else appended first: look at the stream again (and re-decide).
                expected = conn.query_row("SELECT coalesce(max(version), 0) FROM es_stream(?)",
                                          [stream], |r| r.get(0))?;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Applies the events after the checkpoint to order_items, exactly once.
fn project(conn: &mut Connection) -> rusqlite::Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let pos: i64 = tx.query_row("SELECT es_checkpoint('order_items')", [], |r| r.get(0))?;
    let page: Vec<(i64, String, String, String)> = tx
        .prepare("SELECT seq, stream_id, type, data FROM es_all(?) LIMIT 500")?
        .query_map([pos], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (_, stream, kind, data) in &page {
        if kind == "ItemAdded" {
            tx.execute("INSERT INTO order_items(order_id, items) \
                        VALUES (?, json_extract(?, '$.qty')) \
                        ON CONFLICT(order_id) DO UPDATE SET items = items + excluded.items",
                       (stream, data))?;
        }
    }
    if let Some((last, ..)) = page.last() { // compare-and-set: `conflict` if another moved it
        tx.query_row("SELECT es_checkpoint('order_items', ?, ?)", (pos, last), |_| Ok(()))?;
    }
    tx.commit()?; // dropping an uncommitted Transaction rolls it back
    Ok(page.len())
}

/// Blocks until an event after `after` is committed, by any process; returns the head.
fn wait_for_events(conn: &Connection, after: i64, timeout: Duration) -> rusqlite::Result<Option<i64>> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let head: i64 = conn.query_row("SELECT es_wait(?, 1000)", [after], |r| r.get(0))?;
        if head > after {
            return Ok(Some(head));
        }
    }
    Ok(None)
}
// end snippet

fn one(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn items(conn: &Connection) -> Vec<(String, i64)> {
    conn.prepare("SELECT order_id, items FROM order_items ORDER BY order_id").unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap()
        .collect::<rusqlite::Result<_>>().unwrap()
}

#[test]
fn extension_and_codes() {
    let path = eskit::extension_path().expect("ESKIT_EXTENSION");
    assert!(path.is_file(), "{}", path.display());
    let conn = Connection::open_in_memory().unwrap();
    eskit::load(&conn).unwrap();
    let v: String = conn.query_row("SELECT es_version()", [], |r| r.get(0)).unwrap();
    assert!(!v.is_empty());
    let e = conn.query_row("SELECT es_append('', 0, '[]')", [], |r| r.get::<_, i64>(0)).unwrap_err();
    assert_eq!(eskit::code(&e), Some("invalid_argument"), "{}", e);
    let e = conn.query_row("SELECT nope()", [], |r| r.get::<_, i64>(0)).unwrap_err();
    assert_eq!(eskit::code(&e), None);
}

#[test]
fn scenario() {
    let dir = std::env::temp_dir().join(format!("eskit-rust-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.db");
    let _ = std::fs::remove_file(&path);
    let mut conn = open_store(&path).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    conn.execute("CREATE TABLE order_items(order_id TEXT PRIMARY KEY, items INTEGER NOT NULL)", [])
        .unwrap();

    // 1-2: append, a rival, the retry.
    let first = r#"[{"type":"OrderPlaced","data":{"total":2500}},
                    {"type":"ItemAdded","data":{"sku":"A-1","qty":2}}]"#;
    assert_eq!(append_with_retry(&conn, "order-1", 0, first).unwrap().0, 2);
    let rival = open_store(&path).unwrap();
    let v: i64 = rival.query_row("SELECT es_append('order-1', 2, ?)",
        [r#"{"type":"ItemAdded","data":{"sku":"B-7","qty":1}}"#], |r| r.get(0)).unwrap();
    assert_eq!(v, 3);
    drop(rival);
    let e = conn.query_row("SELECT es_append('order-1', 2, ?)",
        [r#"{"type":"OrderPaid","data":{}}"#], |r| r.get::<_, i64>(0)).unwrap_err();
    assert_eq!(eskit::code(&e), Some("conflict"), "{}", e);
    let paid = r#"[{"type":"OrderPaid","data":{"amount":2500}}]"#;
    assert_eq!(append_with_retry(&conn, "order-1", 2, paid).unwrap(), (4, 2));

    // 3: read the stream.
    let rows: Vec<(i64, String, Option<i64>)> = conn
        .prepare("SELECT version, type, json_extract(data, '$.qty') FROM es_stream('order-1')").unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap()
        .collect::<rusqlite::Result<_>>().unwrap();
    assert_eq!(rows, vec![(1, "OrderPlaced".to_string(), None), (2, "ItemAdded".to_string(), Some(2)),
                          (3, "ItemAdded".to_string(), Some(1)), (4, "OrderPaid".to_string(), None)]);

    // 4: the projection, exactly once.
    assert_eq!(project(&mut conn).unwrap(), 4);
    assert_eq!(project(&mut conn).unwrap(), 0);
    assert_eq!(items(&conn), vec![("order-1".to_string(), 3)]);
    assert_eq!(one(&conn, "SELECT es_checkpoint('order_items')"), 4);
    {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).unwrap();
        tx.execute("UPDATE order_items SET items = 99", []).unwrap();
        let e = tx.query_row("SELECT es_checkpoint('order_items', 0, 4)", [], |r| r.get::<_, i64>(0))
            .unwrap_err();
        assert_eq!(eskit::code(&e), Some("conflict"), "{}", e);
    } // dropped: rolled back
    assert_eq!(items(&conn), vec![("order-1".to_string(), 3)]);

    // 5: a second process appends while we wait.
    let head = one(&conn, "SELECT es_head()");
    assert_eq!(head, 4);
    let writer = Command::new(env!("CARGO_BIN_EXE_writer"))
        .arg(&path)
        .arg(r#"[{"type":"OrderPlaced","data":{"total":900}},
                 {"type":"ItemAdded","data":{"sku":"C-3","qty":5}}]"#)
        .stdout(std::process::Stdio::piped())
        .spawn().unwrap();
    assert_eq!(wait_for_events(&conn, head, Duration::from_secs(10)).unwrap(), Some(6));
    let out = writer.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
    assert_eq!(project(&mut conn).unwrap(), 2);
    assert_eq!(items(&conn), vec![("order-1".to_string(), 3), ("order-2".to_string(), 5)]);
    assert_eq!(one(&conn, "SELECT es_checkpoint('order_items')"), 6);
    drop(conn);
    std::fs::remove_dir_all(&dir).unwrap();
}
