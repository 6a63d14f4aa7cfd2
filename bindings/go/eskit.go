// Package eskit opens SQLite databases with the eskit event store loaded, through
// database/sql and github.com/mattn/go-sqlite3.
//
// Importing the package registers the driver DriverName, whose connect hook loads eskit.so
// into every new connection:
//
//	db, err := sql.Open(eskit.DriverName, "file:events.db?_busy_timeout=10000&_txlock=immediate")
//	var version int64
//	err = db.QueryRow("SELECT es_append('order-1', 0, ?)", events).Scan(&version)
//
// The extension is found at $ESKIT_EXTENSION, else where `meson install` puts it
// (/usr/local/lib/<triplet>/eskit/eskit.so, then /usr/lib/<triplet>/eskit/eskit.so). Register
// adds a driver name for an explicit path.
package eskit

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/mattn/go-sqlite3"
)

// DriverName is the database/sql driver registered by this package.
const DriverName = "sqlite3_eskit"

// EntryPoint is the extension's loader entry point.
const EntryPoint = "sqlite3_eskit_init"

func init() {
	Register(DriverName, "")
}

// Register registers a go-sqlite3 driver under name whose connections load eskit from path
// ("" = ExtensionPath() at each connect). Like sql.Register, it panics on a duplicate name.
func Register(name, path string) {
	sql.Register(name, &sqlite3.SQLiteDriver{
		ConnectHook: func(conn *sqlite3.SQLiteConn) error {
			p := path
			if p == "" {
				var err error
				if p, err = ExtensionPath(); err != nil {
					return err
				}
			}
			return conn.LoadExtension(p, EntryPoint)
		},
	})
}

// ExtensionPath returns $ESKIT_EXTENSION, or the first installed eskit.so of the standard
// locations.
func ExtensionPath() (string, error) {
	if p := os.Getenv("ESKIT_EXTENSION"); p != "" {
		return p, nil
	}
	triplet := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH] + "-linux-gnu"
	tried := []string{}
	for _, prefix := range []string{"/usr/local", "/usr"} {
		p := filepath.Join(prefix, "lib", triplet, "eskit", "eskit.so")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("eskit: no eskit.so: set ESKIT_EXTENSION (tried %s)", strings.Join(tried, ", "))
}

// Codes are the stable error codes that start eskit's error messages.
var Codes = []string{"conflict", "duplicate_event", "archived", "tombstoned", "not_found",
	"invalid_argument"}

// Code returns the eskit error code that starts err's message ("conflict", ...), or "".
func Code(err error) string {
	if err == nil {
		return ""
	}
	head, _, _ := strings.Cut(err.Error(), ":")
	for _, c := range Codes {
		if head == c {
			return c
		}
	}
	return ""
}
