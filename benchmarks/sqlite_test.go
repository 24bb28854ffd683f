package benchmarks

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/sessionid/session"
	"github.com/sessionid/session/sqlitestore"
)

// The SQLite workloads: this library's sqlitestore (pure Go,
// modernc.org/sqlite) against scs's sqlite3store (cgo,
// github.com/mattn/go-sqlite3), each on a fresh database file of its own.
// Both files are in WAL mode with synchronous=NORMAL: what sqlitestore
// always sets, and what scs's database is opened with here (SQLite's
// defaults, a rollback journal and synchronous=FULL, would cost scs an
// fsync per write that sqlitestore does not pay).

// sqliteLibraryNames lists the libraries of the SQLite workloads in table
// order.
var sqliteLibraryNames = []string{"session", "scs"}

// BenchmarkSQLiteRead: an existing session in SQLite; the handler reads
// one int.
func BenchmarkSQLiteRead(b *testing.B) {
	benchSQL(b, sqliteLibraryNames, newSQLiteLibrary, readHandler, 0)
}

// BenchmarkSQLiteWrite: an existing session in SQLite; the handler
// increments the int.
func BenchmarkSQLiteWrite(b *testing.B) {
	benchSQL(b, sqliteLibraryNames, newSQLiteLibrary, writeHandler, 1)
}

// newSQLiteLibrary returns the named library on a new database file in
// b.TempDir(). There is no server, so no round trips to count.
func newSQLiteLibrary(b *testing.B, name string) (*library, *tripCounter) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "sessions.db")
	switch name {
	case "session":
		store, err := sqlitestore.Open(path, sqlitestore.WithCleanupInterval(0))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if err := store.Close(); err != nil {
				b.Error(err)
			}
		})
		return newSession(b, session.WithStore(store)), nil
	case "scs":
		if openSCSSQLite == nil {
			b.Skip("skipping scs's sqlite3store: github.com/mattn/go-sqlite3 needs cgo (CGO_ENABLED=1 and a C compiler)")
		}
		return newSCS(b, openSCSSQLite(b, path)), nil
	}
	b.Fatalf("unknown library %q", name)
	return nil, nil
}

// openSCSSQLite returns scs's sqlite3store on a new database at path, or is
// nil in a build without cgo (sqlite_cgo_test.go sets it).
var openSCSSQLite func(b *testing.B, path string) scs.Store

// sqliteSCSDSNParams are the parameters of scs's database: WAL and
// synchronous=NORMAL, as sqlitestore's, and go-sqlite3's default busy
// timeout (5 s, sqlitestore's default too) spelled out.
const sqliteSCSDSNParams = "?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=5000"

// sqliteSCSSchema is the table scs's sqlite3store README asks for.
var sqliteSCSSchema = []string{
	`CREATE TABLE sessions (
	token TEXT PRIMARY KEY,
	data BLOB NOT NULL,
	expiry REAL NOT NULL
)`,
	`CREATE INDEX sessions_expiry_idx ON sessions(expiry)`,
}

// prepareSCSSQLite creates scs's table in db, checks that db is in the
// journal and synchronous modes of sqlitestore (WAL, NORMAL), and closes
// db when b ends.
func prepareSCSSQLite(b *testing.B, db *sql.DB) {
	b.Helper()
	b.Cleanup(func() {
		if err := db.Close(); err != nil {
			b.Error(err)
		}
	})
	for _, stmt := range sqliteSCSSchema {
		if _, err := db.Exec(stmt); err != nil {
			b.Fatalf("scs's table: %v", err)
		}
	}
	var mode string
	var sync int
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil {
		b.Fatal(err)
	}
	if mode != "wal" || sync != 1 {
		b.Fatalf("scs's database: journal_mode=%s, synchronous=%d; want wal, 1 (NORMAL) as sqlitestore's", mode, sync)
	}
}
