//! The second process of the scenario's step 5: appends a batch to order-2 in the store given
//! as the first argument, prints the version reached.
fn main() -> rusqlite::Result<()> {
    let mut args = std::env::args().skip(1);
    let (path, events) = (args.next().expect("store path"), args.next().expect("events"));
    std::thread::sleep(std::time::Duration::from_millis(200)); // let the parent wait first
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    eskit::load(&conn)?;
    let v: i64 = conn.query_row("SELECT es_append('order-2', 0, ?)", [events], |r| r.get(0))?;
    println!("{}", v);
    Ok(())
}
