// The client scenario of issue 12 in Go: database/sql with github.com/mattn/go-sqlite3
// (Debian's package) and the eskit package's driver, under `go test`. Same steps and values
// as tests/clients/lang/python/scenario.py (see its header).
package app

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"eskit.local/eskit"
)

// snippet: go-core
// openStore: eskit loaded by the driver's connect hook, 10 s busy timeout, WAL, and
// BEGIN IMMEDIATE for transactions (so a projection takes the write lock up front).
func openStore(path string) (*sql.DB, error) {
	return sql.Open(eskit.DriverName,
		"file:"+path+"?_busy_timeout=10000&_journal_mode=WAL&_txlock=immediate")
}

// appendWithRetry: es_append; on `conflict` re-read the stream's version and try again.
func appendWithRetry(db *sql.DB, stream string, expected int64, events any) (version int64, attempt int, err error) {
	batch, err := json.Marshal(events)
	if err != nil {
		return 0, 0, err
	}
	for attempt = 1; ; attempt++ {
		err = db.QueryRow("SELECT es_append(?, ?, ?)", stream, expected, string(batch)).Scan(&version)
		if eskit.Code(err) != "conflict" || attempt == 5 {
			return version, attempt, err
		}
		// Someone else appended first: look at the stream again (and re-decide).
		if err = db.QueryRow("SELECT coalesce(max(version), 0) FROM es_stream(?)", stream).Scan(&expected); err != nil {
			return 0, attempt, err
		}
	}
}

// project applies the events after the checkpoint to order_items, exactly once.
func project(db *sql.DB) (n int, err error) {
	tx, err := db.Begin()
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() // no-op after Commit
	var pos, last int64
	if err = tx.QueryRow("SELECT es_checkpoint('order_items')").Scan(&pos); err != nil {
		return 0, err
	}
	rows, err := tx.Query("SELECT seq, stream_id, type, data FROM es_all(?) LIMIT 500", pos)
	if err != nil {
		return 0, err
	}
	type event struct{ stream, typ, data string }
	var page []event
	for rows.Next() {
		var e event
		if err = rows.Scan(&last, &e.stream, &e.typ, &e.data); err != nil {
			return 0, err
		}
		page = append(page, e)
	}
	if err = rows.Err(); err != nil {
		return 0, err
	}
	for _, e := range page {
		if e.typ == "ItemAdded" {
			var d struct{ Qty int64 }
			if err = json.Unmarshal([]byte(e.data), &d); err != nil {
				return 0, err
			}
			if _, err = tx.Exec("INSERT INTO order_items(order_id, items) VALUES (?, ?) "+
				"ON CONFLICT(order_id) DO UPDATE SET items = items + excluded.items", e.stream, d.Qty); err != nil {
				return 0, err
			}
		}
	}
	if len(page) > 0 { // compare-and-set: fails with `conflict` if another projector moved it
		if _, err = tx.Exec("SELECT es_checkpoint('order_items', ?, ?)", pos, last); err != nil {
			return 0, err
		}
	}
	return len(page), tx.Commit()
}

// waitForEvents blocks until an event after `after` is committed, by any process.
func waitForEvents(db *sql.DB, after int64, timeout time.Duration) (int64, error) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		var head int64
		if err := db.QueryRow("SELECT es_wait(?, 1000)", after).Scan(&head); err != nil {
			return 0, err
		}
		if head > after {
			return head, nil
		}
	}
	return 0, fmt.Errorf("no event after %d", after)
}
// end snippet

type ev struct {
	Type string         `json:"type"`
	Data map[string]any `json:"data"`
}

// TestMain doubles as the second process of step 5: the test binary re-run with
// ESKIT_WRITER_DB set appends to order-2 and exits.
func TestMain(m *testing.M) {
	if path := os.Getenv("ESKIT_WRITER_DB"); path != "" {
		time.Sleep(200 * time.Millisecond) // let the parent start waiting first
		db, err := openStore(path)
		if err == nil {
			var v int64
			err = db.QueryRow("SELECT es_append('order-2', 0, ?)", os.Getenv("ESKIT_WRITER_EVENTS")).Scan(&v)
			fmt.Println(v)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func one(t *testing.T, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var v int64
	if err := db.QueryRow(query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

func items(t *testing.T, db *sql.DB) map[string]int64 {
	t.Helper()
	rows, err := db.Query("SELECT order_id, items FROM order_items")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	return out
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDriver(t *testing.T) {
	p, err := eskit.ExtensionPath()
	if err != nil || !strings.HasSuffix(p, "eskit.so") {
		t.Fatalf("ExtensionPath() = %q, %v", p, err)
	}
	db, err := sql.Open(eskit.DriverName, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow("SELECT es_version()").Scan(&v); err != nil || v == "" {
		t.Fatalf("es_version() = %q, %v", v, err)
	}
	if eskit.Code(fmt.Errorf("conflict: x")) != "conflict" || eskit.Code(fmt.Errorf("no such table: x")) != "" {
		t.Fatal("eskit.Code")
	}
}

func TestScenario(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	if _, err := db.Exec("CREATE TABLE order_items(order_id TEXT PRIMARY KEY, items INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}

	// 1-2: append, a rival, the retry.
	v, _, err := appendWithRetry(db, "order-1", 0, []ev{{"OrderPlaced", map[string]any{"total": 2500}},
		{"ItemAdded", map[string]any{"sku": "A-1", "qty": 2}}})
	if err != nil || v != 2 {
		t.Fatalf("first append: %d, %v", v, err)
	}
	rival, err := openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if v := one(t, rival, "SELECT es_append('order-1', 2, ?)", mustJSON(ev{"ItemAdded", map[string]any{"sku": "B-7", "qty": 1}})); v != 3 {
		t.Fatalf("rival append: %d", v)
	}
	rival.Close()
	err = db.QueryRow("SELECT es_append('order-1', 2, ?)", mustJSON(ev{"OrderPaid", map[string]any{}})).Scan(&v)
	if eskit.Code(err) != "conflict" {
		t.Fatalf("stale append: %v, want conflict", err)
	}
	v, attempt, err := appendWithRetry(db, "order-1", 2, []ev{{"OrderPaid", map[string]any{"amount": 2500}}})
	if err != nil || v != 4 || attempt != 2 {
		t.Fatalf("appendWithRetry = %d, attempt %d, %v; want 4, 2", v, attempt, err)
	}

	// 3: read the stream.
	rows, err := db.Query("SELECT version, type, coalesce(json_extract(data, '$.qty'), 0) FROM es_stream('order-1')")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var version, qty int64
		var typ string
		if err := rows.Scan(&version, &typ, &qty); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %d", version, typ, qty))
	}
	rows.Close()
	want := []string{"1 OrderPlaced 0", "2 ItemAdded 2", "3 ItemAdded 1", "4 OrderPaid 0"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("es_stream: %q, want %q", got, want)
	}

	// 4: the projection, exactly once.
	for i, wantN := range []int{4, 0} {
		if n, err := project(db); err != nil || n != wantN {
			t.Fatalf("project #%d = %d, %v; want %d", i+1, n, err, wantN)
		}
	}
	if got := items(t, db); !reflect.DeepEqual(got, map[string]int64{"order-1": 3}) {
		t.Fatalf("order_items = %v", got)
	}
	if cp := one(t, db, "SELECT es_checkpoint('order_items')"); cp != 4 {
		t.Fatalf("checkpoint = %d", cp)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE order_items SET items = 99"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("SELECT es_checkpoint('order_items', 0, 4)"); eskit.Code(err) != "conflict" {
		t.Fatalf("stale compare-and-set: %v, want conflict", err)
	}
	tx.Rollback()
	if got := items(t, db); !reflect.DeepEqual(got, map[string]int64{"order-1": 3}) {
		t.Fatalf("order_items after the rollback = %v", got)
	}

	// 5: a second process appends while we wait.
	head := one(t, db, "SELECT es_head()")
	if head != 4 {
		t.Fatalf("head = %d", head)
	}
	writer := exec.Command(os.Args[0])
	writer.Env = append(os.Environ(), "ESKIT_WRITER_DB="+path, "ESKIT_WRITER_EVENTS="+mustJSON([]ev{
		{"OrderPlaced", map[string]any{"total": 900}}, {"ItemAdded", map[string]any{"sku": "C-3", "qty": 5}}}))
	var out strings.Builder
	writer.Stdout = &out
	writer.Stderr = os.Stderr
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	seen, err := waitForEvents(db, head, 10*time.Second)
	if err != nil || seen != 6 {
		t.Fatalf("waitForEvents = %d, %v; want 6", seen, err)
	}
	if err := writer.Wait(); err != nil || strings.TrimSpace(out.String()) != "2" {
		t.Fatalf("writer: %q, %v", out.String(), err)
	}
	if n, err := project(db); err != nil || n != 2 {
		t.Fatalf("project after the writer = %d, %v", n, err)
	}
	if got := items(t, db); !reflect.DeepEqual(got, map[string]int64{"order-1": 3, "order-2": 5}) {
		t.Fatalf("order_items = %v", got)
	}
	if cp := one(t, db, "SELECT es_checkpoint('order_items')"); cp != 6 {
		t.Fatalf("checkpoint = %d", cp)
	}
}
