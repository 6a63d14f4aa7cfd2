// The eskit append/read scenario from Go, through go-dqlite's database/sql driver (Debian's
// golang-github-canonical-go-dqlite-dev, built offline in GOPATH mode), against the cluster
// whose node addresses are in ESKIT_CLUSTER (comma separated). cluster/go/run_go_test.sh
// starts a 3-node cluster and runs `go test` with it.
//
// The rules for eskit on dqlite, as the Go user meets them:
//   - writers run inside a transaction (db.BeginTx): the host refuses them in autocommit;
//   - a writer's result comes from QueryRow (the QUERY path); its error there is garbled by
//     dqlite (code 1, the column text), and `SELECT es_last_error()` on the same connection
//     (the same *sql.Tx, or a *sql.Conn) gives the real code and message;
//   - appends carry an idempotency key, so retrying after a lost answer is safe.
package eskitcluster

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonical/go-dqlite/client"
	"github.com/canonical/go-dqlite/driver"
)

var registerOnce sync.Once

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	addrs := os.Getenv("ESKIT_CLUSTER")
	if addrs == "" {
		t.Skip("ESKIT_CLUSTER is not set (run cluster/go/run_go_test.sh)")
	}
	var infos []client.NodeInfo
	for i, a := range strings.Split(addrs, ",") {
		infos = append(infos, client.NodeInfo{ID: uint64(i + 1), Address: a})
	}
	registerOnce.Do(func() {
		store := client.NewInmemNodeStore()
		if err := store.Set(context.Background(), infos); err != nil {
			panic(err)
		}
		drv, err := driver.New(store, driver.WithConnectionTimeout(5*time.Second))
		if err != nil {
			panic(err)
		}
		sql.Register("dqlite-eskit", drv)
	})
	db, err := sql.Open("dqlite-eskit", "eskit")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

type lastError struct {
	Code       string `json:"code"`
	SqliteCode int    `json:"sqlite_code"`
	Message    string `json:"message"`
}

// realError reads es_last_error() on the same connection as the failed statement.
func realError(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...interface{}) *sql.Row
}) lastError {
	t.Helper()
	var js sql.NullString
	if err := q.QueryRowContext(context.Background(), "SELECT es_last_error()").Scan(&js); err != nil {
		t.Fatalf("es_last_error(): %v", err)
	}
	if !js.Valid {
		t.Fatal("es_last_error() is NULL after a failed call")
	}
	var le lastError
	if err := json.Unmarshal([]byte(js.String), &le); err != nil {
		t.Fatalf("es_last_error() is not JSON: %v (%s)", err, js.String)
	}
	return le
}

// appendTx runs es_append in its own transaction and returns the version.
func appendTx(ctx context.Context, db *sql.DB, stream string, expected int64, events, key string) (int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var v int64
	opts := fmt.Sprintf(`{"idempotency_key":%q}`, key)
	if err := tx.QueryRowContext(ctx, "SELECT es_append(?, ?, ?, ?)", stream, expected, events, opts).Scan(&v); err != nil {
		return 0, err
	}
	return v, tx.Commit()
}

func TestAppendAndRead(t *testing.T) {
	db := openDB(t)
	defer db.Close()
	ctx := context.Background()
	const events = `[{"type":"OrderPlaced","data":{"total":25.5},"id":"go-e-1"},` +
		`{"type":"ItemAdded","data":{"sku":"A-1"},"id":"go-e-2"}]`

	v, err := appendTx(ctx, db, "go-order-1", 0, events, "go-key-1")
	if err != nil || v != 2 {
		t.Fatalf("first append: version %d, %v", v, err)
	}
	// The same key again (a retry after a lost answer): the version it reached, nothing new.
	v, err = appendTx(ctx, db, "go-order-1", 0, `{"type":"X","data":{}}`, "go-key-1")
	if err != nil || v != 2 {
		t.Fatalf("replay: version %d, %v", v, err)
	}
	v, err = appendTx(ctx, db, "go-order-1", 2, `{"type":"Shipped","data":{}}`, "go-key-2")
	if err != nil || v != 3 {
		t.Fatalf("third append: version %d, %v", v, err)
	}

	rows, err := db.QueryContext(ctx, "SELECT version, type, data, event_id FROM es_stream(?)", "go-order-1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var version int64
		var typ, data string
		var id sql.NullString
		if err := rows.Scan(&version, &typ, &data, &id); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d|%s|%s|%v", version, typ, data, id.Valid && strings.HasPrefix(id.String, "go-e-")))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	want := []string{`1|OrderPlaced|{"total":25.5}|true`, `2|ItemAdded|{"sku":"A-1"}|true`, `3|Shipped|{}|false`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stream:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestConflictAndRealError(t *testing.T) {
	db := openDB(t)
	defer db.Close()
	ctx := context.Background()
	if _, err := appendTx(ctx, db, "go-order-2", 0, `{"type":"A","data":{}}`, "go-key-3"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var v int64
	err = tx.QueryRowContext(ctx, "SELECT es_append(?, ?, ?)", "go-order-2", 0, `{"type":"B","data":{}}`).Scan(&v)
	var de driver.Error
	if !errors.As(err, &de) {
		t.Fatalf("stale append: want a driver.Error, got %v", err)
	}
	// What dqlite says on the QUERY path: code 1 and the result column's text.
	if de.Code != 1 || de.Message != "es_append(?, ?, ?)" {
		t.Fatalf("garbled error: got %d %q", de.Code, de.Message)
	}
	le := realError(t, tx)
	if le.Code != "conflict" || le.SqliteCode != 19 ||
		le.Message != "conflict: stream 'go-order-2' is at version 1, expected 0" {
		t.Fatalf("es_last_error(): %+v", le)
	}
	// The transaction goes on after the failed call.
	if err := tx.QueryRowContext(ctx, "SELECT es_append(?, ?, ?)", "go-order-2", 1, `{"type":"B","data":{}}`).Scan(&v); err != nil || v != 2 {
		t.Fatalf("append after the conflict: %d, %v", v, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestWritesNeedATransaction(t *testing.T) {
	db := openDB(t)
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx) // one connection, so es_last_error() sees the failed call
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var v int64
	err = conn.QueryRowContext(ctx, "SELECT es_append('go-order-3', 0, '{\"type\":\"A\",\"data\":{}}')").Scan(&v)
	if err == nil {
		t.Fatal("an append in autocommit was accepted")
	}
	le := realError(t, conn)
	want := "invalid_argument: es_append(): must run between BEGIN and COMMIT on this host; " +
		"outside a transaction its writes would not be replicated"
	if le.Code != "invalid_argument" || le.Message != want {
		t.Fatalf("es_last_error(): %+v", le)
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM es_events WHERE stream_id = 'go-order-3'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("events of the refused append: %d, %v", n, err)
	}
}

func TestManyAppendsAndGlobalLog(t *testing.T) {
	db := openDB(t)
	defer db.Close()
	ctx := context.Background()
	var head0 int64
	if err := db.QueryRowContext(ctx, "SELECT es_head()").Scan(&head0); err != nil {
		t.Fatal(err)
	}
	versions := map[string]int64{}
	for i := 0; i < 60; i++ {
		s := fmt.Sprintf("go-cart-%d", i%5)
		v, err := appendTx(ctx, db, s, versions[s], fmt.Sprintf(`{"type":"Added","data":{"i":%d}}`, i), fmt.Sprintf("go-cart-key-%d", i))
		if err != nil || v != versions[s]+1 {
			t.Fatalf("append %d to %s: %d, %v", i, s, v, err)
		}
		versions[s] = v
	}
	rows, err := db.QueryContext(ctx, "SELECT seq, stream_id, version, json_extract(data, '$.i') FROM es_all(?) WHERE category = 'go'", head0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	last := head0
	seen := map[string]int64{}
	n := 0
	for rows.Next() {
		var seq, version, i int64
		var s string
		if err := rows.Scan(&seq, &s, &version, &i); err != nil {
			t.Fatal(err)
		}
		if seq <= last || version != seen[s]+1 || fmt.Sprintf("go-cart-%d", i%5) != s {
			t.Fatalf("row %d: seq %d after %d, %s v%d (i=%d)", n, seq, last, s, version, i)
		}
		last, seen[s] = seq, version
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 60 {
		t.Fatalf("%d events in the global log, want 60", n)
	}
	var head int64
	if err := db.QueryRowContext(ctx, "SELECT es_head()").Scan(&head); err != nil || head != last {
		t.Fatalf("es_head() %d, last seq %d (%v)", head, last, err)
	}
}
