package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// Execer runs a statement: a *pgxpool.Pool or a *pgx.Conn.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Schema creates a schema named prefix followed by random hex, and drops it
// with everything in it when tb ends, so that tests sharing one database,
// in one run or in runs at the same time, never collide. db must be open
// when tb ends: a pool made before the call is, as cleanups run last-in
// first-out.
func Schema(tb testing.TB, db Execer, prefix string) string {
	tb.Helper()
	name := testenv.RandomName(prefix)
	_, err := db.Exec(context.Background(), "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize())
	require.NoError(tb, err)
	tb.Cleanup(func() {
		_, err := db.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE")
		require.NoError(tb, err)
	})
	return name
}
