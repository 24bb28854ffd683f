package pgstore

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/testapp"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// TestConnectionLoss terminates the store's database connections during a
// burst of requests through a Manager: each request either succeeds or gets
// the error handler's 500, within its deadline, and afterwards every session
// works again with the data written before.
func TestConnectionLoss(t *testing.T) {
	const (
		clients     = 8
		requests    = 40 // per client
		maxConns    = 4
		reqDeadline = 10 * time.Second
	)
	app := testenv.RandomName("pgstore_connloss_")
	pool := testPool(t, func(cfg *pgxpool.Config) {
		cfg.MaxConns = maxConns
		cfg.ConnConfig.RuntimeParams["application_name"] = app
	})
	admin := testPool(t)
	s := newTestStore(t, pool)
	m, err := session.New(session.WithStore(s), session.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	testenv.ConnectionLoss(t, m.Handler(testapp.Values()), clients, requests, maxConns, reqDeadline, func() int64 {
		var n int64
		err := admin.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`, app).Scan(&n)
		if err != nil {
			t.Error(err)
		}
		return n
	})
}
