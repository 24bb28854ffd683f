package pgstore_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/sessionid/session/internal/testenv"
)

// exampleSchema is the schema of the examples' tables ("myapp.sessions"):
// Migrate creates it, and TestMain drops it.
const exampleSchema = "myapp"

// exampleLock is the key of the advisory lock that every run of this
// package's tests on one database holds, shared, while it may use the
// examples' schema.
const exampleLock int64 = 0x7067_7374_6f72_6578 // "pgstorex"

// TestMain runs the examples against the database of
// SESSION_TEST_POSTGRES_URL, which they find, as an application does, in
// DATABASE_URL. An example cannot skip: where the variable is unset, the
// examples are left out of the run, and a line says so.
func TestMain(m *testing.M) {
	flag.Parse()
	url := os.Getenv(testenv.Postgres.Env)
	if url == "" {
		testenv.Postgres.SkipExamples("pgstore", "PostgreSQL")
		os.Exit(m.Run())
	}
	os.Setenv("DATABASE_URL", url)
	os.Exit(runDroppingExampleSchema(m, url))
}

// runDroppingExampleSchema runs the tests, then drops the examples' schema
// unless another run on the database, of a test binary of this package
// started at the same time, still uses it: each run holds exampleLock
// shared while its tests run, and drops the schema only if it can then hold
// the lock alone.
func runDroppingExampleSchema(m *testing.M, url string) int {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgstore: connecting to the test database:", err)
		return 1
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock_shared($1)", exampleLock); err != nil {
		fmt.Fprintln(os.Stderr, "pgstore: locking the examples' schema:", err)
		return 1
	}
	code := m.Run()
	if err := dropExampleSchema(ctx, conn); err != nil {
		fmt.Fprintf(os.Stderr, "pgstore: dropping the examples' schema %s: %v\n", exampleSchema, err)
		return 1
	}
	return code
}

// dropExampleSchema drops the examples' schema if conn, which holds
// exampleLock shared, can hold it alone.
func dropExampleSchema(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock_shared($1)", exampleLock); err != nil {
		return err
	}
	var alone bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", exampleLock).Scan(&alone); err != nil || !alone {
		return err
	}
	_, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{exampleSchema}.Sanitize()+" CASCADE")
	return err
}
