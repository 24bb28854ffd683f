package pgstore

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionid/session/internal/pgtest"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// farFuture is a deadline no test reaches.
var farFuture = time.Now().Add(24 * time.Hour).Truncate(time.Microsecond)

// testURL returns the database the tests run against, or skips tb.
func testURL(tb testing.TB) string {
	tb.Helper()
	return testenv.Postgres.URL(tb, "PostgreSQL store")
}

// testPool returns a pool on the test database, closed at cleanup. Each
// configure function may change its configuration first.
func testPool(tb testing.TB, configure ...func(*pgxpool.Config)) *pgxpool.Pool {
	tb.Helper()
	return pgtest.Pool(tb, testURL(tb), configure...)
}

// testSchema creates a schema with a random name, dropped with everything
// in it at cleanup, so that runs never collide.
func testSchema(tb testing.TB, pool *pgxpool.Pool) string {
	tb.Helper()
	return pgtest.Schema(tb, pool, "pgstore_test_")
}

// freshSchema returns the name of a schema of the test's own that does not
// exist yet, in mixed case so that only a quoted name finds it, and drops
// the schema, with everything in it, at cleanup if the test created it.
// pool must be open at cleanup, as a pool made before the call is.
func freshSchema(tb testing.TB, pool *pgxpool.Pool) string {
	name := testenv.RandomName("PgStore_Test_")
	tb.Cleanup(func() {
		_, err := pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
		require.NoError(tb, err)
	})
	return name
}

// newTestStore returns a migrated store on a fresh schema of pool, without
// background cleanup unless opts turn it on, closed at cleanup.
func newTestStore(tb testing.TB, pool *pgxpool.Pool, opts ...Option) *Store {
	tb.Helper()
	schema := testSchema(tb, pool)
	opts = append([]Option{WithTable(schema + ".sessions"), WithCleanupInterval(0)}, opts...)
	s, err := New(pool, opts...)
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	require.NoError(tb, s.Migrate(context.Background()))
	return s
}

// counter counts what a pool sends: queries and batches through pgx's
// tracers, and round trips on the wire, a round trip being a read that
// follows a write. It is safe for concurrent use.
type counter struct {
	queries, batches, roundTrips atomic.Int64
}

// countingPool returns a pool of one connection whose traffic c counts.
// Pings of idle connections are turned off: they are the pool's round trips,
// not the store's.
func countingPool(tb testing.TB, c *counter) *pgxpool.Pool {
	return testPool(tb, func(cfg *pgxpool.Config) {
		cfg.MaxConns = 1
		cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
		cfg.ConnConfig.Tracer = c
		dial := cfg.ConnConfig.DialFunc
		cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: conn, c: c}, nil
		}
	})
}

// reset zeroes the counts.
func (c *counter) reset() {
	c.queries.Store(0)
	c.batches.Store(0)
	c.roundTrips.Store(0)
}

// counts returns queries, batches and round trips since the last reset.
func (c *counter) counts() [3]int64 {
	return [3]int64{c.queries.Load(), c.batches.Load(), c.roundTrips.Load()}
}

func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.queries.Add(1)
	return ctx
}

func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *counter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.batches.Add(1)
	return ctx
}

func (c *counter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *counter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

var (
	_ pgx.QueryTracer = (*counter)(nil)
	_ pgx.BatchTracer = (*counter)(nil)
)

// countingConn counts the round trips of one connection.
type countingConn struct {
	net.Conn
	c     *counter
	wrote atomic.Bool
}

func (cc *countingConn) Write(p []byte) (int, error) {
	cc.wrote.Store(true)
	return cc.Conn.Write(p)
}

func (cc *countingConn) Read(p []byte) (int, error) {
	if cc.wrote.CompareAndSwap(true, false) {
		cc.c.roundTrips.Add(1)
	}
	return cc.Conn.Read(p)
}

// rowCount returns the number of rows of a table of s ("sessions" or
// "values").
func rowCount(tb testing.TB, s *Store, table string) int {
	tb.Helper()
	name := map[string]string{"sessions": s.tables.sessions, "values": s.tables.values}[table]
	require.NotEmpty(tb, name, "unknown table %q", table)
	var n int
	require.NoError(tb, s.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+name).Scan(&n))
	return n
}
