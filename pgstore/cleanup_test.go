package pgstore

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
		rec := bigRecord(t, "", 2, 16)
		rec.IdleDeadline = time.Now().Add(-time.Minute)
		keys[i] = newKey(t)
		require.NoError(t, s.Create(context.Background(), keys[i], rec))
	}
	return keys
}

func TestCleanupDeletesInBatches(t *testing.T) {
	s := newTestStore(t, testPool(t), WithCleanupBatch(10))
	ctx := context.Background()
	createExpired(t, s, 25)
	live := newKey(t)
	require.NoError(t, s.Create(ctx, live, bigRecord(t, "alice", 2, 16)))
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

	n, err = s.Cleanup(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestCleanupSkipsLockedRows(t *testing.T) {
	s := newTestStore(t, testPool(t))
	ctx := context.Background()
	keys := createExpired(t, s, 2)
	tx, err := s.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, "SELECT FROM "+s.tables.sessions+" WHERE key = $1 FOR UPDATE", []byte(keys[0]))
	require.NoError(t, err)

	n, err := s.Cleanup(ctx)
	require.NoError(t, err, "a cleanup does not wait for a row in use")
	require.Equal(t, 1, n)
	require.NoError(t, tx.Rollback(ctx))
	n, err = s.Cleanup(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the skipped row goes at the next cleanup")
}

// cleanupRunning reports whether a cleanup goroutine of this package runs.
func cleanupRunning() bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "pgstore.(*Store).cleanupEvery")
}

func TestCleanupInBackgroundStopsAtClose(t *testing.T) {
	require.False(t, cleanupRunning(), "no other test leaves a cleanup running")
	s := newTestStore(t, testPool(t), WithCleanupInterval(10*time.Millisecond))
	require.True(t, cleanupRunning())
	createExpired(t, s, 3)
	require.True(t, testenv.WaitFor(10*time.Second, func() bool { return rowCount(t, s, "sessions") == 0 }),
		"the background cleanup deletes expired records")

	require.NoError(t, s.Close())
	require.True(t, testenv.WaitFor(5*time.Second, func() bool { return !cleanupRunning() }), "Close stops the goroutine")
	require.NoError(t, s.Close(), "Close is idempotent")
	_, err := s.Load(context.Background(), newKey(t))
	require.ErrorIs(t, err, session.ErrNotFound, "the store still answers after Close")
}

func TestCleanupOffStartsNothing(t *testing.T) {
	s := newTestStore(t, testPool(t), WithCleanupInterval(0))
	require.False(t, cleanupRunning())
	require.NoError(t, s.Close())
}

func TestCleanupErrorsAreLogged(t *testing.T) {
	pool := testPool(t)
	var logs testenv.SyncBuffer
	s, err := New(pool, WithTable(testenv.RandomName("pgstore_test_")+".missing"),
		WithCleanupInterval(10*time.Millisecond), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.True(t, testenv.WaitFor(10*time.Second, func() bool { return strings.Contains(logs.String(), "deleting expired sessions") }),
		"a failing cleanup is logged, and the goroutine goes on")
}
