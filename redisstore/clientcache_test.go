package redisstore

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/redistest"
	"github.com/sessionid/session/internal/testenv"
	"github.com/sessionid/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cachingClient returns a client of the test Redis with go-redis's
// client-side cache on, with no bound on how long it serves an entry
// (MaxStaleness zero, the default), configured further by tune.
func cachingClient(t *testing.T, tune func(*redis.Options)) *redis.Client {
	t.Helper()
	testClient(t) // skips without SESSION_TEST_REDIS_URL
	opt, err := redis.ParseURL(os.Getenv(testenv.Redis.Env))
	require.NoError(t, err)
	if opt.DB != 0 {
		t.Skipf("go-redis caches only in database 0; %s names database %d", testenv.Redis.Env, opt.DB)
	}
	opt.ContextTimeoutEnabled = true
	opt.Protocol = 3
	opt.ClientSideCacheConfig = &redis.ClientSideCacheConfig{}
	if tune != nil {
		tune(opt)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Ping(context.Background()).Err())
	return c
}

// stuckInvalidations makes a caching client read an invalidation only when
// it next uses its one connection, as if the connection were half-open: a
// drain interval of an hour leaves the invalidation unread on the idle
// connection, and nothing else ever drops the entry.
func stuckInvalidations(opt *redis.Options) {
	opt.PoolSize = 1
	opt.ClientSideCacheConfig.DrainInterval = time.Hour
}

// TestClientSideCacheRevocation: an instance whose client caches replies on
// its side still sees at once that another instance ended a session, though
// its client never read the invalidation.
func TestClientSideCacheRevocation(t *testing.T) {
	cached, plain := cachingClient(t, stuckInvalidations), testClient(t)
	prefix := testPrefix(t, plain)
	s, err := New(cached, WithKeyPrefix(prefix))
	require.NoError(t, err)
	other, err := New(plain, WithKeyPrefix(prefix))
	require.NoError(t, err)
	ctx, k, user := context.Background(), newKey(t), "alice-"+newKey(t)

	for _, end := range []struct {
		name string
		end  func() error
	}{
		{"Delete", func() error { return other.Delete(ctx, k) }},
		{"DeleteUser", func() error { _, err := other.DeleteUser(ctx, user); return err }},
	} {
		t.Run(end.name, func(t *testing.T) {
			require.NoError(t, s.Create(ctx, k, liveRecord(user, "a", "1")))
			_, err := s.Load(ctx, k)
			require.NoError(t, err)
			require.NotEmpty(t, cached.HGetAll(ctx, s.sessionKey(k)).Val())

			require.NoError(t, end.end(), "another instance ends the session")
			require.NotEmpty(t, cached.HGetAll(ctx, s.sessionKey(k)).Val(),
				"the client's cache still answers HGETALL with the ended session (else this test proves nothing)")
			_, err = s.Load(ctx, k)
			require.ErrorIs(t, err, session.ErrNotFound, "Load does not read through the client's cache")
			recs, err := s.UserSessions(ctx, user)
			require.NoError(t, err)
			require.Empty(t, recs, "nor does UserSessions")
		})
	}
}

// TestClientSideCacheStore runs the conformance tests on a client that
// caches, on one node and in cluster mode, and counts a load: one round
// trip, a script.
func TestClientSideCacheStore(t *testing.T) {
	c := cachingClient(t, nil)
	for mode, name := range []string{"one node", "cluster mode on one node"} {
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) session.Store {
				s := newTestStore(t, c, WithClusterMode(mode == 1))
				require.True(t, s.cached)
				return s
			})
		})
	}
	t.Run("round trips", func(t *testing.T) {
		cnt := &redistest.Counter{}
		c := cachingClient(t, nil)
		c.AddHook(cnt)
		s := newTestStore(t, c)
		warmUp(t, s)
		ctx, k, user := context.Background(), newKey(t), "alice-"+newKey(t)
		require.NoError(t, s.Create(ctx, k, liveRecord(user)))
		cnt.Take()
		_, err := s.Load(ctx, k)
		require.NoError(t, err)
		sent := cnt.Take()
		assert.Equal(t, 1, sent.Trips)
		assert.Equal(t, "evalsha", sent.String())
		_, err = s.UserSessions(ctx, user)
		require.NoError(t, err)
		sent = cnt.Take()
		assert.Equal(t, 2, sent.Trips)
		assert.Equal(t, "evalsha×2", sent.String())
	})
}

// TestMayCache: New reads through a script for every client that may cache
// replies or whose options it cannot see, and by HGETALL for the others.
func TestMayCache(t *testing.T) {
	newClient := func(opt *redis.Options) *redis.Client {
		opt.Addr = "127.0.0.1:1" // never dialled
		c := redis.NewClient(opt)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	plain := newClient(&redis.Options{})
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	t.Cleanup(func() { _ = cluster.Close() })
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	t.Cleanup(func() { _ = ring.Close() })
	failover := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}})
	t.Cleanup(func() { _ = failover.Close() })
	ap, err := plain.AutoPipeline()
	require.NoError(t, err)
	t.Cleanup(func() { _ = ap.Close() })
	type wrapper struct{ *redis.Client }

	for _, tc := range []struct {
		name   string
		client redis.UniversalClient
		cached bool
	}{
		{"Client", plain, false},
		{"Client with ClientSideCacheConfig", newClient(&redis.Options{Protocol: 3, ClientSideCacheConfig: &redis.ClientSideCacheConfig{}}), true},
		{"Client with a bounded ClientSideCacheConfig", newClient(&redis.Options{Protocol: 3, ClientSideCacheConfig: &redis.ClientSideCacheConfig{MaxStaleness: time.Second}}), true},
		{"Client with ClientSideCache", newClient(&redis.Options{Protocol: 3, ClientSideCache: redis.NewLocalCache(redis.CacheConfig{})}), true},
		{"failover Client", failover, false},
		{"ClusterClient", cluster, false},
		{"Ring", ring, false},
		{"AutoPipeliner", ap, true},
		{"a wrapper", wrapper{plain}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.client)
			require.NoError(t, err)
			require.Equal(t, tc.cached, s.cached)
		})
	}

	// Should go-redis give cluster or ring clients a cache, mayCache must
	// look at it.
	for _, opts := range []any{redis.ClusterOptions{}, redis.RingOptions{}} {
		typ := reflect.TypeOf(opts)
		for i := range typ.NumField() {
			assert.NotContains(t, strings.ToLower(typ.Field(i).Name), "cache",
				"%s.%s: see mayCache", typ.Name(), typ.Field(i).Name)
		}
	}
}
