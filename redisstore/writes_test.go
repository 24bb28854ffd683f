package redisstore

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// monitor watches, with MONITOR, the commands the server runs inside
// scripts on the keys under one prefix. MONITOR shows every client's
// commands, and the server may be shared: with other packages' tests, such
// as faulttest's, which run at the same time, or with anything else.
type monitor struct {
	t      *testing.T
	conn   net.Conn
	r      *bufio.Reader
	c      *redis.Client
	prefix string
}

// newMonitor watches the commands on keys under the prefix of s; c is a
// client of the same server.
func newMonitor(t *testing.T, c *redis.Client, s *Store) *monitor {
	t.Helper()
	opt, err := redis.ParseURL(os.Getenv(testenv.Redis.Env))
	require.NoError(t, err)
	conn, err := net.DialTimeout("tcp", opt.Addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	m := &monitor{t: t, conn: conn, r: bufio.NewReader(conn), c: c, prefix: s.prefix}
	if opt.Password != "" {
		auth := []string{"AUTH", opt.Password}
		if opt.Username != "" {
			auth = []string{"AUTH", opt.Username, opt.Password}
		}
		m.send(auth...)
	}
	m.send("MONITOR")
	return m
}

// send sends a command in RESP and expects +OK.
func (m *monitor) send(args ...string) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_, err := m.conn.Write([]byte(b.String()))
	require.NoError(m.t, err)
	line, err := m.r.ReadString('\n')
	require.NoError(m.t, err)
	require.Equal(m.t, "+OK\r\n", line)
}

// scriptWrites runs f and returns the commands scripts ran meanwhile on
// the monitor's keys, one line each, such as
// `"HSET" "prefix:s:{k}" "ml" "1700000000000000"`.
func (m *monitor) scriptWrites(f func()) []string {
	f()
	marker := "end-of-" + newKey(m.t)
	require.NoError(m.t, m.c.Echo(context.Background(), marker).Err())
	require.NoError(m.t, m.conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	var lines []string
	for {
		line, err := m.r.ReadString('\n')
		require.NoError(m.t, err)
		if strings.Contains(line, marker) {
			return lines
		}
		if _, cmd, ok := strings.Cut(line, " lua] "); ok && m.mine(cmd) {
			lines = append(lines, strings.TrimSpace(cmd))
		}
	}
}

// mine reports whether cmd, a command as MONITOR shows it, is about a key
// under the monitor's prefix: every command the store's scripts run names
// its key first.
func (m *monitor) mine(cmd string) bool {
	_, args, _ := strings.Cut(cmd, " ")
	return strings.HasPrefix(args, `"`+m.prefix)
}

// writes keeps the commands that change data.
func writes(lines []string) []string {
	var out []string
	for _, l := range lines {
		switch name, _, _ := strings.Cut(l, " "); name {
		case `"HMGET"`, `"EXISTS"`, `"HGET"`, `"HKEYS"`, `"ZRANGE"`, `"ZSCORE"`:
		default:
			out = append(out, l)
		}
	}
	return out
}

// TestWritesOnlyWhatChanged watches the server: a touch writes two time
// fields, an update only the values it changes, and either counts up the
// version in the same HSET.
func TestWritesOnlyWhatChanged(t *testing.T) {
	c := testClient(t)
	s := newTestStore(t, c)
	ctx, k := context.Background(), newKey(t)
	rec := liveRecord("alice", "keep", "1", "change", "2")
	require.NoError(t, s.Create(ctx, k, rec))
	m := newMonitor(t, c, s)
	writeAllAlong(t, newTestStore(t, c))
	hash := fmt.Sprintf("%q", s.sessionKey(k))
	now := time.Now()
	seen, idle := micros(now), micros(now.Add(time.Hour))
	nextVersion := func() string {
		v, err := c.HGet(ctx, s.sessionKey(k), fieldVersion).Uint64()
		require.NoError(t, err)
		return fmt.Sprint(v + 1)
	}

	next := nextVersion()
	got := writes(m.scriptWrites(func() {
		require.NoError(t, s.Update(ctx, k, session.Delta{LastSeen: now, IdleDeadline: now.Add(time.Hour)}))
	}))
	assert.Equal(t, []string{
		`"HSET" ` + hash + ` "mn" "` + next + `" "ml" "` + seen + `" "md" "` + idle + `"`,
		`"PEXPIREAT" ` + hash + ` "` + ms(now.Add(time.Hour)) + `"`,
	}, got, "a touch rewrites no value")

	next = nextVersion()
	got = writes(m.scriptWrites(func() {
		require.NoError(t, s.Update(ctx, k, session.Delta{Set: map[string][]byte{"change": []byte("two")}, LastSeen: now, IdleDeadline: now.Add(time.Hour)}))
	}))
	assert.Equal(t, []string{
		`"HSET" ` + hash + ` "mn" "` + next + `" "vchange" "two" "ml" "` + seen + `" "md" "` + idle + `"`,
		`"PEXPIREAT" ` + hash + ` "` + ms(now.Add(time.Hour)) + `"`,
	}, got, "only the changed value is written, with the times, in one HSET")

	next = nextVersion()
	no := false
	got = writes(m.scriptWrites(func() {
		require.NoError(t, s.Update(ctx, k, session.Delta{Set: map[string][]byte{"keep": []byte("1")}, Remember: &no}))
	}))
	assert.Equal(t, []string{`"HSET" ` + hash + ` "mn" "` + next + `" "vkeep" "1" "mr" "0"`}, got,
		"a remember flag goes in the same HSET; the idle deadline did not move, and neither does the key's expiry")
	expiry, err := c.PExpireTime(ctx, s.sessionKey(k)).Result()
	require.NoError(t, err)
	assert.Equal(t, ms(now.Add(time.Hour)), fmt.Sprint(expiry.Milliseconds()), "the key still expires at the last touch's deadline")
}

// writeAllAlong makes s, a store under another prefix of the same server,
// update a session until the test ends, as another test or an application
// sharing the server would.
func writeAllAlong(t *testing.T, s *Store) {
	ctx, k := context.Background(), newKey(t)
	require.NoError(t, s.Create(ctx, k, liveRecord("bob", "a", "1")))
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			now := time.Now()
			d := session.Delta{Set: map[string][]byte{"a": []byte(fmt.Sprint(i))}, LastSeen: now, IdleDeadline: now.Add(time.Hour)}
			if err := s.Update(ctx, k, d); err != nil {
				t.Errorf("the other store: %v", err)
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// ms is how the scripts write a deadline for PEXPIREAT.
func ms(t time.Time) string { return fmt.Sprint((t.UnixMicro() + 999) / 1000) }
