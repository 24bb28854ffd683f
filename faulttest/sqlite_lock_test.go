package faulttest

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// TestSQLiteLockHeld has another connection to the store's file, as
// another process sharing it would, hold SQLite's write lock (BEGIN
// IMMEDIATE) during a burst of requests, for longer than their deadline:
// every request gets a 200 or the error handler's 500 within its deadline
// and a margin, none panics, and once the lock is released every session is
// back with its data, no acknowledged write is lost, and new sessions work.
// No goroutine is left behind.
func TestSQLiteLockHeld(t *testing.T) {
	const (
		clients     = 16
		reqDeadline = 500 * time.Millisecond
		maxAnswer   = 3 * time.Second // the deadline, and a margin for a noisy machine
	)
	verifyNoLeaks(t)
	path := filepath.Join(t.TempDir(), "sessions.db")
	store := openSQLiteStore(t, path)
	m := newManager(t, session.WithStore(store))
	app, serverLog := testenv.StartServer(t, withDeadline(reqDeadline, m.Handler(appHandler())))
	// The other connection waits for the store's writer to finish its
	// transaction before it takes the lock.
	other, err := sql.Open("sqlite", path+"?"+url.Values{"_pragma": {"busy_timeout(10000)"}}.Encode())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, other.Close()) })
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, conn.Close()) })

	b := newBurst(t, app.URL, clients, maxAnswer)
	b.start(5000, time.Minute)
	b.waitFor(func() bool { return b.ok.Load() >= 10*clients }, "the burst to run")
	_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	if err == nil {
		failed := b.failed.Load()
		b.waitFor(func() bool { return b.failed.Load() >= failed+2*clients }, "writes to fail while the lock is held")
		_, err = conn.ExecContext(ctx, "ROLLBACK")
	}
	okAtRelease := b.ok.Load()
	b.waitFor(func() bool { return b.ok.Load() >= okAtRelease+10*clients }, "the burst to run again")
	b.finish()
	require.NoError(t, err, "holding the lock")
	require.Empty(t, serverLog.String(), "no handler panicked")

	b.requireIntact()
	b.requireNewSessionsWork()
	require.Empty(t, serverLog.String(), "no handler panicked")
}
