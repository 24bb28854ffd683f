package pgstore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
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
	srv, serverErrors := testenv.StartServer(t, m.Handler(testapp.Values())) // a handler's panic is logged in serverErrors

	// do sends one request with its own deadline and returns the status and
	// body, or fails the test for anything but a 200 or a 500 in time.
	do := func(c *http.Client, path string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), reqDeadline)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Errorf("%s: %v (a hang, or a panic that dropped the connection)", path, err)
			return 0, ""
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Errorf("%s: reading the body: %v", path, err)
		}
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("%s: status %d, want 200 or 500", path, resp.StatusCode)
		}
		return resp.StatusCode, string(body)
	}

	users := make([]*http.Client, clients)
	for i := range users {
		users[i] = testenv.NewBrowser()
		status, _ := do(users[i], fmt.Sprintf("/set?k=before&v=data-%d", i))
		require.Equal(t, http.StatusOK, status)
	}

	var ok, failed, terminated atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		defer close(stop)
		for range 10 {
			var n int64
			err := admin.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`, app).Scan(&n)
			if err != nil {
				t.Error(err)
				return
			}
			terminated.Add(n)
			time.Sleep(20 * time.Millisecond) // let the pool reconnect and the burst go on
		}
	}()
	for i, c := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range requests {
				path := fmt.Sprintf("/set?k=n%d&v=%d", j%3, j)
				if j%2 == 1 {
					path = "/get?k=before"
				}
				status, body := do(c, path)
				switch {
				case status == http.StatusOK && j%2 == 1 && body != fmt.Sprint("data-", i):
					t.Errorf("client %d read %q, want data-%d", i, body, i)
				case status == http.StatusOK:
					ok.Add(1)
				case status == http.StatusInternalServerError:
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	<-stop
	t.Logf("%d connections terminated; %d requests succeeded, %d got a 500", terminated.Load(), ok.Load(), failed.Load())
	require.Positive(t, terminated.Load(), "the burst ran while connections were terminated")
	require.Empty(t, serverErrors.String(), "no handler panicked")

	// Each connection that was terminated while idle fails the one request
	// that next uses it, and is then replaced: at most maxConns failures in
	// all, then every session works, with its data.
	failures := 0
	for i, c := range users {
		for {
			status, body := do(c, "/get?k=before")
			if status == http.StatusOK {
				require.Equal(t, fmt.Sprint("data-", i), body, "data written before the burst is intact")
				break
			}
			failures++
			require.LessOrEqual(t, failures, maxConns, "the pool recovers from terminated connections")
		}
	}
	for i, c := range users {
		status, body := do(c, "/get?k=before")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, fmt.Sprint("data-", i), body)
	}
}
