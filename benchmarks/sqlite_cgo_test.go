//go:build cgo

package benchmarks

import (
	"database/sql"
	"testing"

	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver scs's sqlite3store is documented with (cgo)
)

func init() { openSCSSQLite = newSCSSQLite }

// newSCSSQLite opens a new database at path with go-sqlite3, as scs's
// sqlite3store README does, in WAL mode with synchronous=NORMAL, creates
// the table the README asks for, and returns the store.
func newSCSSQLite(b *testing.B, path string) scs.Store {
	b.Helper()
	db, err := sql.Open("sqlite3", path+sqliteSCSDSNParams)
	if err != nil {
		b.Fatal(err)
	}
	prepareSCSSQLite(b, db)
	return sqlite3store.NewWithCleanupInterval(db, scsCleanupOff)
}
