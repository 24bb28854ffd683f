package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/stretchr/testify/require"
)

// countingDriverName is the driver name of countingDriver.
const countingDriverName = "sqlite-counting"

// compiled counts the statements database/sql prepared through
// countingDriver.
var compiled atomic.Int64

func init() {
	db, err := sql.Open("sqlite", "")
	if err != nil {
		panic(err)
	}
	sql.Register(countingDriverName, countingDriver{db.Driver()})
	_ = db.Close()
}

// countingDriver is the sqlite driver with every statement prepared through
// PrepareContext, which counts it: its connections offer neither
// QueryContext nor ExecContext, so database/sql prepares, runs and closes a
// statement for each query it is given as text, where modernc.org/sqlite
// would compile one itself.
type countingDriver struct{ driver.Driver }

func (d countingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	return countingConn{c.(sqliteConn)}, nil
}

type sqliteConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
}

type countingConn struct{ c sqliteConn }

func (c countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	compiled.Add(1)
	return c.c.PrepareContext(ctx, query)
}

func (c countingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.c.BeginTx(ctx, opts)
}

func (c countingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c countingConn) Close() error { return c.c.Close() }

// TestStatementsPreparedOnce runs every operation of the store, each
// statement at least once, then runs them all again: the second time no
// statement is prepared, since the store runs the ones it prepared when it
// opened. One reader, so that the reads always find their statements
// prepared on the connection they get.
func TestStatementsPreparedOnce(t *testing.T) {
	s := newTestStore(t, WithReaders(1), WithCleanupInterval(0), func(c *config) { c.driver = countingDriverName })
	ctx := context.Background()
	everything := func(t *testing.T, i int) {
		k, next := fmt.Sprint("k", i), fmt.Sprint("next", i)
		require.NoError(t, s.Create(ctx, k, liveRecord("alice", map[string][]byte{"a": []byte("1"), "b": []byte("2")})))
		_, err := s.Load(ctx, k)
		require.NoError(t, err)
		require.NoError(t, s.Update(ctx, k, session.Delta{Set: map[string][]byte{"c": []byte("3")}, Delete: []string{"a"}}))
		require.NoError(t, s.Update(ctx, k, session.Delta{Clear: true, LastSeen: time.Now()}))
		tomb := &session.Tombstone{Next: next, GraceUntil: time.Now().Add(time.Second), Expires: time.Now().Add(time.Minute)}
		require.NoError(t, s.Renew(ctx, k, next, session.Delta{IssuedAt: time.Now()}, tomb))
		recs, err := s.UserSessions(ctx, "alice")
		require.NoError(t, err)
		require.Len(t, recs, 1)
		require.NoError(t, s.Delete(ctx, k), "the tombstone, then the record it leads to")
		require.NoError(t, s.Create(ctx, k, liveRecord("alice", nil)))
		n, err := s.DeleteUser(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, 1, n)
		_, err = s.Cleanup(ctx)
		require.NoError(t, err)
	}
	everything(t, 0)
	before := compiled.Load()
	for i := 1; i <= 3; i++ {
		everything(t, i)
	}
	require.Equal(t, before, compiled.Load(), "statements prepared again after their first run")
}
