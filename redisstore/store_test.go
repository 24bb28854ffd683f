package redisstore

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
	"github.com/sessionid/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	c := testClient(t)
	for name, cluster := range map[string]bool{"one node": false, "cluster mode on one node": true} {
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) session.Store {
				return newTestStore(t, c, WithClusterMode(cluster))
			})
		})
	}
}

func TestNewValidates(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { _ = c.Close() })
	tests := []struct {
		name   string
		client redis.UniversalClient
		opts   []Option
		want   []string
	}{
		{"no client", nil, nil, []string{"no Redis client"}},
		{"braces in prefix", c, []Option{WithKeyPrefix("{app}:")}, []string{"must not contain"}},
		{"nil clock", c, []Option{WithClock(nil)}, []string{"WithClock(nil)"}},
		{"every problem at once", nil, []Option{WithKeyPrefix("a}"), WithClock(nil)}, []string{"no Redis client", "must not contain", "WithClock(nil)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.client, tc.opts...)
			require.Error(t, err)
			require.Nil(t, s)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
	t.Run("modes", func(t *testing.T) {
		s, err := New(c)
		require.NoError(t, err)
		require.False(t, s.cluster, "a *redis.Client is one node")
		require.Equal(t, DefaultKeyPrefix, s.prefix)
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
		t.Cleanup(func() { _ = cc.Close() })
		s, err = New(cc)
		require.NoError(t, err)
		require.True(t, s.cluster, "a *redis.ClusterClient is a cluster")
		s, err = New(c, WithClusterMode(true))
		require.NoError(t, err)
		require.True(t, s.cluster)
	})
}

// TestKeyLayout checks what doc.go promises about the keys in Redis.
func TestKeyLayout(t *testing.T) {
	c := testClient(t)
	s := newTestStore(t, c)
	ctx, k := context.Background(), newKey(t)
	rec := liveRecord("alice", "mc", "a value named like a metadata field")
	rec.Remember = true
	require.NoError(t, s.Create(ctx, k, rec))

	h, err := c.HGetAll(ctx, s.prefix+"s:{"+k+"}").Result()
	require.NoError(t, err)
	assert.Equal(t, "a value named like a metadata field", h["vmc"])
	assert.Equal(t, strconv.FormatInt(rec.CreatedAt.UnixMicro(), 10), h["mc"])
	assert.Equal(t, "alice", h["mu"])
	assert.Equal(t, "2001:db8::1", h["mp"])
	assert.Equal(t, "redisstore-test", h["mg"])
	assert.Equal(t, "1", h["mr"])
	assert.NotContains(t, h, "mt", "a live record is no tombstone")

	expireAt, err := c.PExpireTime(ctx, s.prefix+"s:{"+k+"}").Result()
	require.NoError(t, err)
	assert.Equal(t, (rec.IdleDeadline.UnixMicro()+999)/1000, expireAt.Milliseconds(),
		"Redis drops the hash at the idle deadline, never before it")

	score, err := c.ZScore(ctx, s.prefix+"u:{alice}", k).Result()
	require.NoError(t, err)
	assert.Equal(t, float64(indexScore(rec)), score, "indexed under its user by absolute deadline")

	// A touch moves the expiry and writes no value.
	later := rec.IdleDeadline.Add(time.Minute)
	require.NoError(t, s.Update(ctx, k, session.Delta{LastSeen: time.Now(), IdleDeadline: later}))
	expireAt, err = c.PExpireTime(ctx, s.prefix+"s:{"+k+"}").Result()
	require.NoError(t, err)
	assert.Equal(t, (later.UnixMicro()+999)/1000, expireAt.Milliseconds())

	n := newKey(t)
	require.NoError(t, s.Renew(ctx, k, n, session.Delta{}, &session.Tombstone{Next: n, Successor: []byte{1}, Expires: time.Now().Add(time.Minute)}))
	h, err = c.HGetAll(ctx, s.prefix+"s:{"+k+"}").Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"mt", "ms", "md", "ma"}, slices.Collect(maps.Keys(h)), "a tombstone holds only itself")
	assert.Equal(t, n, h["mt"])
}

// TestClockDecidesExpiry shows that a record past its deadline by the
// store's clock is gone, before Redis drops it.
func TestClockDecidesExpiry(t *testing.T) {
	c := testClient(t)
	now := time.Now()
	clock := func() time.Time { return now }
	s := newTestStore(t, c, WithClock(clock))
	ctx, k := context.Background(), newKey(t)
	rec := liveRecord("")
	rec.IdleDeadline = now.Add(time.Minute)
	require.NoError(t, s.Create(ctx, k, rec))
	_, err := s.Load(ctx, k)
	require.NoError(t, err)

	now = now.Add(time.Minute)
	_, err = s.Load(ctx, k)
	require.ErrorIs(t, err, session.ErrNotFound, "dead at its deadline by the store's clock")
	require.ErrorIs(t, s.Update(ctx, k, session.Delta{Set: map[string][]byte{"a": nil}}), session.ErrNotFound,
		"the scripts go by the store's clock too")
	require.NoError(t, s.Create(ctx, k, liveRecord("")), "and the key is free again")
}

// TestScriptCacheFlushed: after the server forgot the scripts (a restart, a
// failover to a replica that never ran them), every call still works,
// pipelined ones included, and none runs twice. SCRIPT FLUSH forgets every
// client's scripts, so the test has a server of its own: on a shared one it
// would add round trips to the calls of others, such as TestRoundTrips in
// another run of the tests.
func TestScriptCacheFlushed(t *testing.T) {
	c := privateClient(t)
	ctx := context.Background()
	for mode, name := range []string{"one node", "cluster mode"} {
		t.Run(name, func(t *testing.T) {
			s := newTestStore(t, c, WithClusterMode(mode == 1))
			user := "alice-" + newKey(t)
			for range 3 {
				require.NoError(t, s.Create(ctx, newKey(t), liveRecord(user)))
			}
			require.NoError(t, c.ScriptFlush(ctx).Err())
			n, err := s.DeleteUser(ctx, user)
			require.NoError(t, err)
			require.Equal(t, 3, n, "each session ended once")

			require.NoError(t, c.ScriptFlush(ctx).Err())
			require.NoError(t, s.Create(ctx, newKey(t), liveRecord(user)), "a pipeline in cluster mode")
			recs, err := s.UserSessions(ctx, user)
			require.NoError(t, err)
			require.Len(t, recs, 1)
		})
	}
}

// TestCreateFresh: a session with no user is created by a transaction that
// renames it into place only if its key is free. A taken key (a record, a
// tombstone) fails with ErrExists and keeps what it held; a record already
// past its deadline is not kept; and no temporary key survives any of it.
func TestCreateFresh(t *testing.T) {
	c := testClient(t)
	s := newTestStore(t, c)
	ctx := context.Background()

	key := newKey(t)
	require.NoError(t, s.Create(ctx, key, liveRecord("", "a", "1")))
	require.ErrorIs(t, s.Create(ctx, key, liveRecord("", "a", "2")), session.ErrExists)
	rec, err := s.Load(ctx, key)
	require.NoError(t, err)
	v, _ := rec.Values.Get("a")
	require.Equal(t, "1", string(v), "the taken key keeps its record")

	next := newKey(t)
	require.NoError(t, s.Renew(ctx, key, next, session.Delta{}, &session.Tombstone{Next: next, Expires: time.Now().Add(time.Minute)}))
	require.ErrorIs(t, s.Create(ctx, key, liveRecord("")), session.ErrExists, "a tombstone is taken too")

	past := newKey(t)
	old := liveRecord("")
	old.IdleDeadline = time.Now().Add(-time.Second)
	require.NoError(t, s.Create(ctx, past, old))
	_, err = s.Load(ctx, past)
	require.ErrorIs(t, err, session.ErrNotFound)
	n, err := c.Exists(ctx, s.sessionKey(past)).Result()
	require.NoError(t, err)
	require.Zero(t, n, "nothing written for a record past its deadline")

	// Live by the store's clock, a minute behind, but past by Redis's: the
	// record is dropped as soon as it is written, as by Redis's expiry.
	behind := newTestStore(t, c, WithKeyPrefix(s.prefix), WithClock(func() time.Time { return time.Now().Add(-time.Minute) }))
	skewed := newKey(t)
	rec = liveRecord("")
	rec.IdleDeadline = time.Now().Add(-time.Second)
	require.NoError(t, behind.Create(ctx, skewed, rec))
	n, err = c.Exists(ctx, s.sessionKey(skewed)).Result()
	require.NoError(t, err)
	require.Zero(t, n, "nothing kept past Redis's clock either")

	var left []string
	iter := c.Scan(ctx, 0, s.prefix+"*:new", 1000).Iterator()
	for iter.Next(ctx) {
		left = append(left, iter.Val())
	}
	require.NoError(t, iter.Err())
	require.Empty(t, left, "no temporary key survives")
}
