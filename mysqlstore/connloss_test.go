package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/testapp"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// localAddrs records the local addresses of the connections a dial made,
// which the server lists as each connection's HOST. It is safe for
// concurrent use.
type localAddrs struct {
	mu    sync.Mutex
	addrs map[string]bool
}

// dial is a mysql.Config.DialFunc that records each connection's address.
func (l *localAddrs) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.addrs == nil {
		l.addrs = map[string]bool{}
	}
	l.addrs[conn.LocalAddr().String()] = true
	return conn, nil
}

func (l *localAddrs) has(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addrs[addr]
}

// killConnections kills, with KILL CONNECTION, every server connection
// whose client address ours holds, and returns how many it killed.
func killConnections(t *testing.T, admin *sql.DB, ours *localAddrs) int64 {
	rows, err := admin.Query(`SELECT ID, HOST FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()`)
	require.NoError(t, err)
	var ids []int64
	for rows.Next() {
		var id int64
		var host string
		require.NoError(t, rows.Scan(&id, &host))
		if ours.has(host) {
			ids = append(ids, id)
		}
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	var n int64
	for _, id := range ids {
		if _, err := admin.Exec(fmt.Sprintf("KILL CONNECTION %d", id)); err == nil {
			n++
		}
	}
	return n
}

// TestConnectionLoss kills the store's server connections during a burst
// of requests through a Manager: each request either succeeds or gets the
// error handler's 500, within its deadline, and afterwards every session
// works again with the data written before.
func TestConnectionLoss(t *testing.T) {
	const (
		clients     = 8
		requests    = 40 // per client
		maxConns    = 4
		reqDeadline = 10 * time.Second
	)
	require.NoError(t, mysql.SetLogger(log.New(io.Discard, "", 0))) // the driver logs each connection killed
	cfg := testConfig(t)
	if cfg.Net != "tcp" {
		t.Skipf("the test finds the store's connections by their TCP address; %s uses %s", mysqlServer.Env, cfg.Net)
	}
	ours := &localAddrs{}
	cfg.DialFunc = ours.dial
	table := testTable(t)
	s, err := New(cfg, WithTable(table), WithCleanupInterval(0))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(context.Background()))
	s.DB().SetMaxOpenConns(maxConns)
	admin, err := New(testConfig(t), WithCleanupInterval(0))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, admin.Close()) })

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

	var ok, failed, killed atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		defer close(stop)
		for range 10 {
			killed.Add(killConnections(t, admin.DB(), ours))
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
	t.Logf("%d connections killed; %d requests succeeded, %d got a 500", killed.Load(), ok.Load(), failed.Load())
	require.Positive(t, killed.Load(), "the burst ran while connections were killed")
	require.Empty(t, serverErrors.String(), "no handler panicked")

	// A connection killed while idle fails the one request that next uses
	// it, and is then replaced: at most maxConns failures in all, then
	// every session works, with its data.
	failures := 0
	for i, c := range users {
		for {
			status, body := do(c, "/get?k=before")
			if status == http.StatusOK {
				require.Equal(t, fmt.Sprint("data-", i), body, "data written before the burst is intact")
				break
			}
			failures++
			require.LessOrEqual(t, failures, maxConns, "the pool recovers from killed connections")
		}
	}
	for i, c := range users {
		status, body := do(c, "/get?k=before")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, fmt.Sprint("data-", i), body)
	}
	var leftovers int
	require.NoError(t, s.DB().QueryRow("SELECT COUNT(*) FROM "+s.tables.sessions+" WHERE "+live).Scan(&leftovers))
	require.Equal(t, clients, leftovers, "one live session per client, no half-written one")
}
