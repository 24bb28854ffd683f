package mysqlstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// mysqlServer is the server of the tests: MariaDB 10.11 in CI, or MySQL 8.
var mysqlServer = testenv.MySQL

// testConfig returns the configuration of the test server, or skips tb.
func testConfig(tb testing.TB) *mysql.Config {
	tb.Helper()
	cfg, err := mysql.ParseDSN(mysqlServer.URL(tb, "MySQL store"))
	require.NoError(tb, err, "parsing %s", mysqlServer.Env)
	return cfg
}

// testTable returns a table name of the test's own, whose tables are
// dropped at cleanup, so that runs never collide.
func testTable(tb testing.TB) string {
	tb.Helper()
	name := testenv.RandomName("mysqlstore_test_")
	cfg := testConfig(tb)
	tb.Cleanup(func() { dropTables(tb, cfg, name) })
	return name
}

// dropTables drops the tables of the store of table name.
func dropTables(tb testing.TB, cfg *mysql.Config, name string) {
	tb.Helper()
	s, err := New(cfg, WithTable(name), WithCleanupInterval(0))
	require.NoError(tb, err)
	defer s.Close()
	_, err = s.db.Exec("DROP TABLE IF EXISTS " + s.tables.values + ", " + s.tables.sessions)
	require.NoError(tb, err)
}

// newTestStore returns a migrated store on tables of its own, without
// background cleanup unless opts turn it on, closed at cleanup.
func newTestStore(tb testing.TB, opts ...Option) *Store {
	tb.Helper()
	opts = append([]Option{WithTable(testTable(tb)), WithCleanupInterval(0)}, opts...)
	s, err := New(testConfig(tb), opts...)
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	require.NoError(tb, s.Migrate(context.Background()))
	return s
}

// newKey returns a fresh random key shaped like the manager's.
func newKey(tb testing.TB) string {
	var b [32]byte
	_, err := rand.Read(b[:])
	require.NoError(tb, err)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// rowCount returns the number of rows of a table of s ("sessions" or
// "values").
func rowCount(tb testing.TB, s *Store, table string) int {
	tb.Helper()
	name := map[string]string{"sessions": s.tables.sessions, "values": s.tables.values}[table]
	require.NotEmpty(tb, name, "unknown table %q", table)
	var n int
	require.NoError(tb, s.db.QueryRow("SELECT COUNT(*) FROM "+name).Scan(&n))
	return n
}

// testConfigOrZero returns a configuration for tests that never connect.
func testConfigOrZero() *mysql.Config { return mysql.NewConfig() }

// counter counts what a store's connections send: connections opened, and
// round trips on the wire, a round trip being a read that follows a write.
// It is safe for concurrent use.
type counter struct {
	dials, roundTrips atomic.Int64
}

// dial is a mysql.Config.DialFunc whose connections c counts.
func (c *counter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.dials.Add(1)
	return &countingConn{Conn: conn, c: c}, nil
}

// reset zeroes the counts.
func (c *counter) reset() {
	c.dials.Store(0)
	c.roundTrips.Store(0)
}

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

// SyscallConn gives the driver the socket, on which it checks, without
// reading through Read, that a connection it takes from the pool is still
// open (CheckConnLiveness): that check stays as it is without the counter.
func (cc *countingConn) SyscallConn() (syscall.RawConn, error) {
	return cc.Conn.(syscall.Conn).SyscallConn()
}

// newCountingStore returns a migrated store on tables of its own, with one
// connection whose traffic c counts, without background cleanup, closed at
// cleanup.
func newCountingStore(tb testing.TB, c *counter) *Store {
	tb.Helper()
	cfg := testConfig(tb)
	cfg.DialFunc = c.dial
	s, err := New(cfg, WithTable(testTable(tb)), WithCleanupInterval(0))
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	s.DB().SetMaxOpenConns(1)
	s.DB().SetMaxIdleConns(1)
	require.NoError(tb, s.Migrate(context.Background()))
	return s
}
