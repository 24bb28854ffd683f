package mysqlstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/testapp"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// randomBytes returns n random bytes.
func randomBytes(tb testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(tb, err)
	return b
}

// bigRecord returns a live record of user with n random values of size
// bytes each, named v00, v01, ...
func bigRecord(tb testing.TB, user string, n, size int) *session.Record {
	now := time.Now().Truncate(time.Microsecond)
	values := make(map[string][]byte, n)
	for i := range n {
		values[fmt.Sprintf("v%02d", i)] = randomBytes(tb, size)
	}
	return &session.Record{
		Values: session.ValuesOf(values), User: user, CreatedAt: now, LastSeen: now, IssuedAt: now,
		IdleDeadline: now.Add(30 * time.Minute), AbsoluteDeadline: now.Add(12 * time.Hour),
		UserAgent: "mysqlstore-test",
	}
}

// TestCostPerOperation checks the round trips of each store call on a
// session of 20 values of 1 KiB: one each, as the package documentation
// says, except where a failed statement leaves a transaction to roll back,
// and for the first Load on a connection, which prepares its statement.
// Each call runs twice, both times measured, on the pool's one connection,
// which is open before and has run that first Load: no call may open a
// connection.
func TestCostPerOperation(t *testing.T) {
	var c counter
	s := newCountingStore(t, &c)
	ctx := context.Background()
	const values, size = 20, 1024
	key := newKey(t)
	require.NoError(t, s.Create(ctx, key, bigRecord(t, "alice", values, size)))
	now := func() time.Time { return time.Now().Truncate(time.Microsecond) }
	touch := func() session.Delta {
		return session.Delta{LastSeen: now(), IdleDeadline: now().Add(30 * time.Minute)}
	}
	renewal := func() session.Delta {
		return session.Delta{IssuedAt: now(), LastSeen: now(), IdleDeadline: now().Add(30 * time.Minute)}
	}
	tombstone := func(next string) *session.Tombstone {
		return &session.Tombstone{Successor: []byte("sealed"), Next: next, GraceUntil: now().Add(5 * time.Second),
			Expires: now().Add(30 * time.Minute)}
	}
	var doomed, other string
	var chain []string

	ops := []struct {
		name       string
		prepare    func(*testing.T) // not measured
		run        func(*testing.T) error
		check      func(*testing.T) // not measured
		roundTrips int64
	}{
		{name: "Load", run: func(t *testing.T) error {
			rec, err := s.Load(ctx, key)
			require.NoError(t, err)
			require.Equal(t, values, rec.Values.Len())
			return nil
		}, roundTrips: 1},
		{name: "Load missing", run: func(t *testing.T) error {
			_, err := s.Load(ctx, newKey(t))
			require.ErrorIs(t, err, session.ErrNotFound)
			return nil
		}, roundTrips: 1},
		{name: "Create", run: func(t *testing.T) error { return s.Create(ctx, newKey(t), bigRecord(t, "", values, size)) },
			roundTrips: 1},
		{name: "Create without values", run: func(t *testing.T) error { return s.Create(ctx, newKey(t), bigRecord(t, "", 0, 0)) },
			roundTrips: 1},
		// The INSERT fails, and the server leaves the batch's transaction
		// open: a ROLLBACK follows.
		{name: "Create at a taken key", run: func(t *testing.T) error {
			err := s.Create(ctx, key, bigRecord(t, "", values, size))
			require.ErrorIs(t, err, session.ErrExists)
			return nil
		}, roundTrips: 2},
		{name: "Update 1 of 20 values", run: func(t *testing.T) error {
			d := touch()
			d.Set = map[string][]byte{"v07": randomBytes(t, size)}
			return s.Update(ctx, key, d)
		}, roundTrips: 1},
		{name: "Update setting 3, deleting 1",
			prepare: func(t *testing.T) {
				require.NoError(t, s.Update(ctx, key, session.Delta{Set: map[string][]byte{"x": {1}}}))
			},
			run: func(t *testing.T) error {
				d := touch()
				d.Set = map[string][]byte{"v01": randomBytes(t, size), "v02": randomBytes(t, size), "v03": randomBytes(t, size)}
				d.Delete = []string{"x"}
				return s.Update(ctx, key, d)
			}, roundTrips: 1},
		{name: "Update clearing",
			prepare: func(t *testing.T) {
				other = newKey(t)
				require.NoError(t, s.Create(ctx, other, bigRecord(t, "", values, size)))
			},
			run: func(t *testing.T) error {
				d := touch()
				d.Clear = true
				d.Set = map[string][]byte{"a": {1}}
				return s.Update(ctx, other, d)
			}, roundTrips: 1},
		{name: "Touch", run: func(t *testing.T) error { return s.Update(ctx, key, touch()) }, roundTrips: 1},
		{name: "Update logging in", run: func(t *testing.T) error {
			user := "alice"
			d := touch()
			d.User = &user
			return s.Update(ctx, key, d)
		}, roundTrips: 1},
		{name: "Update missing", run: func(t *testing.T) error {
			err := s.Update(ctx, newKey(t), session.Delta{Set: map[string][]byte{"a": {1}}})
			require.ErrorIs(t, err, session.ErrNotFound)
			return nil
		}, roundTrips: 1},
		{name: "Touch missing", run: func(t *testing.T) error {
			require.ErrorIs(t, s.Update(ctx, newKey(t), touch()), session.ErrNotFound)
			return nil
		}, roundTrips: 1},
		{name: "Renew with tombstone", run: func(t *testing.T) error {
			next := newKey(t)
			err := s.Renew(ctx, key, next, renewal(), tombstone(next))
			key = next
			return err
		}, roundTrips: 1},
		{name: "Renew with tombstone and values",
			prepare: func(t *testing.T) {
				require.NoError(t, s.Update(ctx, key, session.Delta{Set: map[string][]byte{"x": {1}}}))
			},
			run: func(t *testing.T) error {
				next := newKey(t)
				d := renewal()
				d.Set = map[string][]byte{"v05": randomBytes(t, size)}
				d.Delete = []string{"x"}
				err := s.Renew(ctx, key, next, d, tombstone(next))
				key = next
				return err
			}, roundTrips: 1},
		{name: "Renew without tombstone", run: func(t *testing.T) error {
			next := newKey(t)
			err := s.Renew(ctx, key, next, renewal(), nil)
			key = next
			return err
		}, roundTrips: 1},
		{name: "Renew missing", run: func(t *testing.T) error {
			next := newKey(t)
			require.ErrorIs(t, s.Renew(ctx, newKey(t), next, renewal(), tombstone(next)), session.ErrNotFound)
			return nil
		}, roundTrips: 1},
		// The move fails on the unique key, and the server leaves the
		// batch's transaction open: a ROLLBACK follows.
		{name: "Renew to a taken key",
			prepare: func(t *testing.T) {
				other = newKey(t)
				require.NoError(t, s.Create(ctx, other, bigRecord(t, "", 0, 0)))
			},
			run: func(t *testing.T) error {
				require.ErrorIs(t, s.Renew(ctx, key, other, renewal(), tombstone(other)), session.ErrExists)
				return nil
			}, roundTrips: 2},
		{name: "UserSessions", run: func(t *testing.T) error {
			recs, err := s.UserSessions(ctx, "alice")
			require.NoError(t, err)
			require.Len(t, recs, 1)
			require.Equal(t, values, recs[0].Record.Values.Len())
			return err
		}, roundTrips: 1},
		{name: "UserSessions of nobody", run: func(t *testing.T) error {
			recs, err := s.UserSessions(ctx, "nobody")
			require.Empty(t, recs)
			return err
		}, roundTrips: 1},
		{name: "Delete",
			prepare: func(t *testing.T) {
				doomed = newKey(t)
				require.NoError(t, s.Create(ctx, doomed, bigRecord(t, "", values, size)))
			},
			run:        func(t *testing.T) error { return s.Delete(ctx, doomed) },
			roundTrips: 1},
		{name: "Delete along renewals",
			prepare: func(t *testing.T) {
				chain = []string{newKey(t)}
				require.NoError(t, s.Create(ctx, chain[0], bigRecord(t, "", values, size)))
				for i := range 3 {
					next := newKey(t)
					require.NoError(t, s.Renew(ctx, chain[i], next, renewal(), tombstone(next)))
					chain = append(chain, next)
				}
			},
			run: func(t *testing.T) error { return s.Delete(ctx, chain[0]) },
			check: func(t *testing.T) {
				for _, k := range chain {
					_, err := s.Load(ctx, k)
					require.ErrorIs(t, err, session.ErrNotFound, "the record and its three tombstones are gone")
				}
			},
			roundTrips: 1},
		{name: "Delete missing", run: func(t *testing.T) error { return s.Delete(ctx, newKey(t)) }, roundTrips: 1},
		{name: "DeleteUser of 2 sessions",
			prepare: func(t *testing.T) {
				for range 2 {
					require.NoError(t, s.Create(ctx, newKey(t), bigRecord(t, "bob", values, size)))
				}
			},
			run: func(t *testing.T) error {
				n, err := s.DeleteUser(ctx, "bob")
				require.Equal(t, 2, n)
				return err
			}, roundTrips: 1},
	}
	require.NoError(t, s.DB().PingContext(ctx), "the pool's one connection is open")
	c.reset()
	_, err := s.Load(ctx, key)
	require.NoError(t, err)
	require.Zero(t, c.dials.Load(), "connections opened")
	require.Equal(t, int64(2), c.roundTrips.Load(), "the connection's first Load: the prepare and the query")
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			for range 2 {
				if op.prepare != nil {
					op.prepare(t)
				}
				c.reset()
				require.NoError(t, op.run(t))
				require.Zero(t, c.dials.Load(), "connections opened")
				require.Equal(t, op.roundTrips, c.roundTrips.Load(), "round trips")
				if op.check != nil {
					op.check(t)
				}
			}
			t.Logf("%-32s %d round trip(s)", op.name, op.roundTrips)
		})
	}
}

// TestCleanupCost checks the round trips of a cleanup batch, in the
// background: its transaction's start (isolation level and START
// TRANSACTION), the locking SELECT, the DELETE and the COMMIT; without
// expired rows, no DELETE.
func TestCleanupCost(t *testing.T) {
	var c counter
	s := newCountingStore(t, &c)
	ctx := context.Background()
	require.NoError(t, s.Create(ctx, newKey(t), testRecord("alice", time.Hour)))
	for _, tc := range []struct {
		name       string
		expired    int
		roundTrips int64
	}{
		{"3 expired", 3, 5},
		{"none expired", 0, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			createExpired(t, s, tc.expired)
			c.reset()
			n, err := s.Cleanup(ctx)
			require.NoError(t, err)
			require.Equal(t, tc.expired, n)
			require.Zero(t, c.dials.Load(), "connections opened")
			require.Equal(t, tc.roundTrips, c.roundTrips.Load(), "round trips")
		})
	}
}

// TestConnectionCost checks that a connection of the store costs one round
// trip more than the server's handshake: the SET of its sql_mode.
func TestConnectionCost(t *testing.T) {
	ctx := context.Background()
	open := func(cfg *mysql.Config) int64 {
		t.Helper()
		var c counter
		cfg.DialFunc = c.dial
		connector, err := mysql.NewConnector(cfg)
		require.NoError(t, err)
		conn, err := connector.Connect(ctx)
		require.NoError(t, err)
		require.NoError(t, conn.Close())
		require.Equal(t, int64(1), c.dials.Load())
		return c.roundTrips.Load()
	}
	plain := storeConfig(testConfig(t))
	plain.Params = nil // no SET at all: the driver sends every parameter in one
	handshake := open(plain)
	require.Positive(t, handshake)
	require.Equal(t, handshake+1, open(storeConfig(testConfig(t))), "the handshake and one SET")
	t.Logf("handshake %d round trip(s), and 1 for the SET", handshake)
}

// TestHandlerRoundTrips runs requests through a Manager, on a connection
// that has prepared the Load: a new session costs its Create, a read-only
// request a Load and nothing more, a write a Load and an Update, and a
// read-only request once the touch interval has passed a Load and a touch.
func TestHandlerRoundTrips(t *testing.T) {
	var c counter
	s := newCountingStore(t, &c)
	// The manager's clock runs ahead of the real one by offset; the store
	// decides expiry with the server's clock, so the two start together.
	var offset atomic.Int64
	m, err := session.New(session.WithStore(s),
		session.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	srv := httptest.NewServer(m.Handler(testapp.Values()))
	t.Cleanup(srv.Close)
	browser := testenv.NewBrowser()
	get := func(path string) string {
		t.Helper()
		return testenv.Fetch(t, browser, http.MethodGet, srv.URL+path)
	}
	_, err = s.Load(context.Background(), newKey(t))
	require.ErrorIs(t, err, session.ErrNotFound, "the pool's one connection is open and has prepared the Load")

	for _, step := range []struct {
		name, path, want string
		advance          time.Duration
		roundTrips       int64
	}{
		{name: "a new session", path: "/set?k=a&v=1", want: "ok", roundTrips: 1},
		{name: "a read-only request", path: "/get?k=a", want: "1", roundTrips: 1},
		{name: "a write", path: "/set?k=a&v=2", want: "ok", roundTrips: 2},
		{name: "a read-only request", path: "/get?k=a", want: "2", roundTrips: 1},
		{name: "a read-only request due for a touch", path: "/get?k=a", want: "2", advance: 10 * time.Minute, roundTrips: 2},
		{name: "a read-only request after the touch", path: "/get?k=a", want: "2", roundTrips: 1},
	} {
		offset.Add(int64(step.advance))
		c.reset()
		require.Equal(t, step.want, get(step.path), step.name)
		require.Zero(t, c.dials.Load(), "%s: connections opened", step.name)
		require.Equal(t, step.roundTrips, c.roundTrips.Load(), "%s: round trips", step.name)
	}
}
