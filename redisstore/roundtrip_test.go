package redisstore

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/redistest"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// warmUp runs every script once, so that the server has them all and later
// calls are one EVALSHA each (a first call on a node is EVALSHA, then EVAL).
func warmUp(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	k, n, user := newKey(t), newKey(t), "warm-"+newKey(t)
	require.NoError(t, s.Create(ctx, k, liveRecord(user)))
	require.NoError(t, s.Update(ctx, k, session.Delta{User: &user}))
	require.NoError(t, s.Renew(ctx, k, n, session.Delta{}, &session.Tombstone{Next: n, Expires: time.Now().Add(time.Minute)}))
	require.NoError(t, s.Delete(ctx, k))
	_, err := s.UserSessions(ctx, user)
	require.NoError(t, err)
	_, err = s.DeleteUser(ctx, user)
	require.NoError(t, err)
	_, err = s.DeleteUser(ctx, "nobody")
	require.NoError(t, err)
}

// TestRoundTrips counts what each store call sends to Redis.
func TestRoundTrips(t *testing.T) {
	ctx := context.Background()
	tomb := func(next string) *session.Tombstone {
		return &session.Tombstone{Next: next, Successor: []byte{1}, Expires: time.Now().Add(time.Minute)}
	}
	renewed := func(t *testing.T, s *Store, k string) {
		n := newKey(t)
		require.NoError(t, s.Renew(ctx, k, n, session.Delta{}, tomb(n)))
	}
	type op struct {
		name  string
		setup func(t *testing.T, s *Store, k string)             // not counted
		run   func(t *testing.T, s *Store, k, user string) error // k is user's session
		trips [2]int                                             // on one node, in cluster mode
	}
	ops := []op{
		{"Load", nil, func(t *testing.T, s *Store, k, user string) error { _, err := s.Load(ctx, k); return err }, [2]int{1, 1}},
		{"Create anonymous", nil, func(t *testing.T, s *Store, _, user string) error { return s.Create(ctx, newKey(t), liveRecord("")) }, [2]int{1, 1}},
		// In cluster mode the user index is on another node: a pipeline.
		{"Create with user", nil, func(t *testing.T, s *Store, _, user string) error { return s.Create(ctx, newKey(t), liveRecord("bob")) }, [2]int{1, 1}},
		{"Update", nil, func(t *testing.T, s *Store, k, user string) error {
			return s.Update(ctx, k, session.Delta{Set: map[string][]byte{"a": []byte("2")}, LastSeen: time.Now(), IdleDeadline: time.Now().Add(time.Hour)})
		}, [2]int{1, 1}},
		{"touch", nil, func(t *testing.T, s *Store, k, user string) error {
			return s.Update(ctx, k, session.Delta{LastSeen: time.Now(), IdleDeadline: time.Now().Add(time.Hour)})
		}, [2]int{1, 1}},
		{"Update with user", nil, func(t *testing.T, s *Store, k, user string) error {
			bob := "bob"
			return s.Update(ctx, k, session.Delta{User: &bob})
		}, [2]int{1, 2}},
		{"Renew", nil, func(t *testing.T, s *Store, k, user string) error {
			n := newKey(t)
			return s.Renew(ctx, k, n, session.Delta{}, tomb(n))
		}, [2]int{1, 3}},
		{"Delete", nil, func(t *testing.T, s *Store, k, user string) error { return s.Delete(ctx, k) }, [2]int{1, 1}},
		{"Delete after a renewal", renewed, func(t *testing.T, s *Store, k, user string) error { return s.Delete(ctx, k) }, [2]int{1, 2}},
		{"UserSessions", nil, func(t *testing.T, s *Store, _, user string) error { _, err := s.UserSessions(ctx, user); return err }, [2]int{2, 2}},
		{"DeleteUser", nil, func(t *testing.T, s *Store, _, user string) error { _, err := s.DeleteUser(ctx, user); return err }, [2]int{1, 3}},
	}
	for mode, name := range []string{"one node", "cluster mode"} {
		t.Run(name, func(t *testing.T) {
			c := testClient(t)
			cnt := &redistest.Counter{}
			c.AddHook(cnt)
			s := newTestStore(t, c, WithClusterMode(mode == 1))
			warmUp(t, s)
			for _, o := range ops {
				t.Run(o.name, func(t *testing.T) {
					k, user := newKey(t), "alice-"+newKey(t)
					require.NoError(t, s.Create(ctx, k, liveRecord(user, "a", "1")))
					if o.setup != nil {
						o.setup(t, s, k)
					}
					cnt.Take()
					require.NoError(t, o.run(t, s, k, user))
					sent := cnt.Take()
					assert.Equal(t, o.trips[mode], sent.Trips, "round trips; commands sent: %s", sent)
					t.Logf("%d round trip(s): %s", sent.Trips, sent)
				})
			}
		})
	}
}

// TestManagerRoundTrips goes through the Manager's middleware: a read-only
// request costs one HGETALL and writes nothing; a request that writes costs
// the load and one update script.
func TestManagerRoundTrips(t *testing.T) {
	c := testClient(t)
	cnt := &redistest.Counter{}
	c.AddHook(cnt)
	s := newTestStore(t, c)
	warmUp(t, s)
	m, err := session.New(session.WithStore(s))
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		n, _ := session.Value[int](session.FromContext(r.Context()), "n")
		_, _ = io.WriteString(w, strconv.Itoa(n))
	})
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		sess := session.FromContext(r.Context())
		n, _ := session.Value[int](sess, "n")
		sess.Set("n", n+1)
		_, _ = io.WriteString(w, strconv.Itoa(n+1))
	})
	srv := httptest.NewServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	browser := testenv.NewBrowser()
	do := func(method string) string {
		t.Helper()
		return testenv.Fetch(t, browser, method, srv.URL)
	}

	cnt.Take()
	require.Equal(t, "1", do(http.MethodPost))
	sent := cnt.Take()
	assert.Equal(t, 1, sent.Trips, "a new session is one transaction: %s", sent)
	assert.Equal(t, "multi hset pexpireat renamenx del exec", sent.String(), "plain commands, no script")

	for range 3 {
		require.Equal(t, "1", do(http.MethodGet))
		sent = cnt.Take()
		assert.Equal(t, 1, sent.Trips, "a read-only request: %s", sent)
		assert.Equal(t, "hgetall", sent.String(), "loads and writes nothing")
	}

	require.Equal(t, "2", do(http.MethodPost))
	sent = cnt.Take()
	assert.Equal(t, 2, sent.Trips, "a write: %s", sent)
	assert.Equal(t, "hgetall evalsha", sent.String(), "a load and one update")
}
