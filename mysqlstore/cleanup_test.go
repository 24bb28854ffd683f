package mysqlstore

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// createExpired creates n records whose idle deadline has passed, each with
// two values, and returns their keys.
func createExpired(t *testing.T, s *Store, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = newKey(t)
		require.NoError(t, s.Create(context.Background(), keys[i], testRecord("", -time.Minute)))
	}
	return keys
}

// testRecord returns a record of user with two values, whose idle deadline
// is idle from now.
func testRecord(user string, idle time.Duration) *session.Record {
	now := time.Now()
	return &session.Record{User: user, CreatedAt: now, LastSeen: now, IssuedAt: now,
		IdleDeadline: now.Add(idle), AbsoluteDeadline: now.Add(time.Hour),
		Values: session.ValuesOf(map[string][]byte{"a": []byte("1"), "b": []byte("2")})}
}

func TestCleanupDeletesInBatches(t *testing.T) {
	s := newTestStore(t, WithCleanupBatch(10))
	ctx := context.Background()
	createExpired(t, s, 25)
	live := newKey(t)
	require.NoError(t, s.Create(ctx, live, testRecord("alice", time.Hour)))
	require.Equal(t, 26, rowCount(t, s, "sessions"))
	require.Equal(t, 52, rowCount(t, s, "values"))

	n, err := s.cleanupBatch(ctx)
	require.NoError(t, err)
	require.Equal(t, 10, n, "one batch deletes the configured number of rows")
	require.Equal(t, 16, rowCount(t, s, "sessions"))
	require.Equal(t, 32, rowCount(t, s, "values"), "values go with their session")

	n, err = s.Cleanup(ctx)
	require.NoError(t, err)
	require.Equal(t, 15, n, "a cleanup runs batches until none is full")
	require.Equal(t, 1, rowCount(t, s, "sessions"))
	require.Equal(t, 2, rowCount(t, s, "values"))
	rec, err := s.Load(ctx, live)
	require.NoError(t, err, "live records stay")
	require.Equal(t, 2, rec.Values.Len())
}

func TestCleanupSkipsLockedRows(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	keys := createExpired(t, s, 2)
	tx, err := s.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, "SELECT id FROM "+s.tables.sessions+" WHERE session_key = ? FOR UPDATE", []byte(keys[0]))
	require.NoError(t, err)

	n, err := s.Cleanup(ctx)
	require.NoError(t, err, "a cleanup does not wait for a row in use")
	require.Equal(t, 1, n)
	require.NoError(t, tx.Rollback())
	n, err = s.Cleanup(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the skipped row goes at the next cleanup")
}

// cleanupRunning reports whether a cleanup goroutine of this package runs.
func cleanupRunning() bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "mysqlstore.(*Store).cleanupEvery")
}

func TestCleanupInBackgroundStopsAtClose(t *testing.T) {
	require.False(t, cleanupRunning(), "no other test leaves a cleanup running")
	s := newTestStore(t, WithCleanupInterval(10*time.Millisecond))
	require.True(t, cleanupRunning())
	createExpired(t, s, 3)
	require.True(t, testenv.WaitFor(10*time.Second, func() bool { return rowCount(t, s, "sessions") == 0 }),
		"the background cleanup deletes expired records")
	require.NoError(t, s.Close())
	require.True(t, testenv.WaitFor(5*time.Second, func() bool { return !cleanupRunning() }), "Close stops the goroutine")
	require.NoError(t, s.Close(), "Close is idempotent")
}

func TestCleanupErrorsAreLogged(t *testing.T) {
	var logs testenv.SyncBuffer
	s, err := New(testConfig(t), WithTable(testenv.RandomName("mysqlstore_missing_")),
		WithCleanupInterval(10*time.Millisecond), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.True(t, testenv.WaitFor(10*time.Second, func() bool { return strings.Contains(logs.String(), "deleting expired sessions") }),
		"a failing cleanup is logged, and the goroutine goes on")
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	for name, opts := range map[string][]Option{
		"quoted table":     {WithTable("a`b")},
		"three parts":      {WithTable("a.b.c")},
		"too long":         {WithTable(strings.Repeat("t", 60))},
		"negative cleanup": {WithCleanupInterval(-time.Second)},
		"zero batch":       {WithCleanupBatch(0)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(testConfigOrZero(), opts...)
			require.Error(t, err)
		})
	}
	_, err := New(nil)
	require.Error(t, err)
}
