package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"sync"
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
// whose client address ours holds, and returns how many it killed. It runs
// outside the test's goroutine, so it reports errors without stopping.
func killConnections(t *testing.T, admin *sql.DB, ours *localAddrs) int64 {
	rows, err := admin.Query(`SELECT ID, HOST FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()`)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		var host string
		if err := rows.Scan(&id, &host); err != nil {
			t.Error(err)
			return 0
		}
		if ours.has(host) {
			ids = append(ids, id)
		}
	}
	if err := rows.Err(); err != nil {
		t.Error(err)
		return 0
	}
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
	testenv.ConnectionLoss(t, m.Handler(testapp.Values()), clients, requests, maxConns, reqDeadline, func() int64 {
		return killConnections(t, admin.DB(), ours)
	})
	var leftovers int
	require.NoError(t, s.DB().QueryRow("SELECT COUNT(*) FROM "+s.tables.sessions+" WHERE "+live).Scan(&leftovers))
	require.Equal(t, clients, leftovers, "one live session per client, no half-written one")
}
