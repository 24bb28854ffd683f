package faulttest

import (
	"context"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// TestPostgresConnectionLoss terminates the pool's PostgreSQL backends,
// from a connection of its own, again and again during a burst of requests:
// every request gets a 200 or the error handler's 500 within its deadline
// and a margin, none panics, and afterwards every session is back with its
// data, no acknowledged write is lost, and new sessions work. No goroutine
// is left behind.
func TestPostgresConnectionLoss(t *testing.T) {
	const (
		clients     = 16
		maxConns    = 4
		rounds      = 5 // of terminations
		reqDeadline = 500 * time.Millisecond
		maxAnswer   = 3 * time.Second // the deadline, and a margin for a noisy machine
	)
	verifyNoLeaks(t)
	url := postgresURL(t)
	admin := adminConn(t, url)
	appName := testenv.RandomName("faulttest_connloss_")
	pool := newPool(t, url, appName, maxConns)
	store := newPGStore(t, admin, pool)
	m := newManager(t, session.WithStore(store))
	app, serverLog := testenv.StartServer(t, withDeadline(reqDeadline, m.Handler(appHandler())))

	b := newBurst(t, app.URL, clients, maxAnswer)
	b.start(5000, time.Minute)
	var terminated int64
	for range rounds {
		next := b.ok.Load() + 4*clients
		b.waitFor(func() bool { return b.ok.Load() >= next }, "the burst to run")
		var n int64
		require.NoError(t, admin.QueryRow(context.Background(),
			`SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
			appName).Scan(&n))
		terminated += n
	}
	b.finish()
	t.Logf("%d backends terminated in %d rounds", terminated, rounds)
	require.Positive(t, terminated, "the pool's backends were terminated during the burst")
	require.Empty(t, serverLog.String(), "no handler panicked")

	b.requireIntact()
	b.requireNewSessionsWork()
	require.Empty(t, serverLog.String(), "no handler panicked")
}
