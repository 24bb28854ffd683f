package mysqlstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
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
