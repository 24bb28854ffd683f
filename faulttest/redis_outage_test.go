package faulttest

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/redistest"
	"github.com/sessionid/session/internal/testenv"
	"github.com/sessionid/session/redisstore"
	"github.com/stretchr/testify/require"
)

// TestRedisOutageUnderLoad kills (kill -9) a persistent Redis in the middle
// of a burst of requests: every request gets a 200 or the error handler's
// 500 within its deadline and a margin, none panics, and after a restart on
// the same port and directory every session is back with its data, no
// acknowledged write is lost, and new sessions work. No goroutine is left
// behind.
func TestRedisOutageUnderLoad(t *testing.T) {
	const (
		clients     = 16
		reqDeadline = 500 * time.Millisecond
		maxAnswer   = 3 * time.Second // the deadline, and a margin for a noisy machine
	)
	verifyNoLeaks(t)
	// appendfsync always: Redis answers a write only once it is on disk.
	srv := redistest.NewServer(t, t.TempDir(), "--appendonly", "yes", "--appendfsync", "always")
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	store, err := redisstore.New(c)
	require.NoError(t, err)
	m := newManager(t, session.WithStore(store))
	app, serverLog := testenv.StartServer(t, withDeadline(reqDeadline, m.Handler(appHandler())))

	b := newBurst(t, app.URL, clients, maxAnswer)
	b.start(5000, time.Minute)
	b.waitFor(func() bool { return b.ok.Load() >= 10*clients }, "the burst to run")
	srv.Kill()
	okAtKill := b.ok.Load()
	b.waitFor(func() bool { return b.failed.Load() >= 2*clients }, "requests to fail during the outage")
	b.finish()
	t.Logf("%d requests succeeded before the kill", okAtKill)
	require.Empty(t, serverLog.String(), "no handler panicked")

	srv.Start()
	b.requireIntact()
	b.requireNewSessionsWork()
	require.Empty(t, serverLog.String(), "no handler panicked")
}
