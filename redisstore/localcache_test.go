package redisstore

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/redistest"
	"github.com/sessionid/session/internal/testenv"
	"github.com/sessionid/session/storetest"
	"github.com/stretchr/testify/require"
)

// cachedInstance is one application instance of a cache test: a client of
// its own, counted, and a store with a local cache on the shared prefix.
type cachedInstance struct {
	store *Store
	sent  *redistest.Counter
}

func newCachedInstance(t *testing.T, prefix string, maxStaleness time.Duration, opts ...Option) cachedInstance {
	t.Helper()
	c := testClient(t)
	sent := new(redistest.Counter)
	c.AddHook(sent)
	s, err := New(c, append([]Option{WithKeyPrefix(prefix), WithLocalCache(maxStaleness)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return cachedInstance{store: s, sent: sent}
}

// waitFor polls cond for up to ten seconds and fails the test if it never
// held.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	require.True(t, testenv.WaitFor(10*time.Second, cond), "timed out waiting for %s", what)
}

// tripsOfLoad loads key and returns the record, the round trips the load
// made, and the error.
func (in cachedInstance) tripsOfLoad(key string) (*session.Record, int, error) {
	in.sent.Take()
	rec, err := in.store.Load(context.Background(), key)
	return rec, in.sent.Take().Trips, err
}

// waitCached loads key until a load is answered from the cache.
func (in cachedInstance) waitCached(t *testing.T, key string) *session.Record {
	t.Helper()
	var rec *session.Record
	waitFor(t, "a load answered from the local cache", func() bool {
		r, trips, err := in.tripsOfLoad(key)
		require.NoError(t, err)
		rec = r
		return trips == 0
	})
	return rec
}

func TestLocalCacheHitMakesNoRoundTrip(t *testing.T) {
	prefix := testPrefix(t, testClient(t))
	in := newCachedInstance(t, prefix, time.Minute)
	ctx := context.Background()
	key := newKey(t)
	require.NoError(t, in.store.Create(ctx, key, liveRecord("", "a", "1")))
	rec := in.waitCached(t, key)
	require.Equal(t, map[string][]byte{"a": []byte("1")}, maps.Collect(rec.Values.All()))
	for range 100 {
		got, trips, err := in.tripsOfLoad(key)
		require.NoError(t, err)
		require.Zero(t, trips, "a cached read makes no round trip")
		require.Same(t, rec, got)
	}
	_, trips, err := in.tripsOfLoad(newKey(t))
	require.ErrorIs(t, err, session.ErrNotFound)
	require.Equal(t, 1, trips, "an unknown key is never cached")
	_, trips, _ = in.tripsOfLoad(newKey(t))
	require.Equal(t, 1, trips, "nor is its absence")
}

// TestLocalCacheSeesOtherInstances: a session another instance changes,
// ends, or renews is never served from this instance's cache for long: the
// bound here is a minute, so only an invalidation from Redis can end it in
// time.
func TestLocalCacheSeesOtherInstances(t *testing.T) {
	prefix := testPrefix(t, testClient(t))
	a := newCachedInstance(t, prefix, time.Minute)
	b := newCachedInstance(t, prefix, time.Minute)
	ctx := context.Background()

	eventually := func(what string, ok func(*session.Record, error) bool, key string) {
		t.Helper()
		waitFor(t, what, func() bool {
			rec, err := b.store.Load(ctx, key)
			return ok(rec, err)
		})
	}
	t.Run("update", func(t *testing.T) {
		key := newKey(t)
		require.NoError(t, a.store.Create(ctx, key, liveRecord("", "n", "1")))
		b.waitCached(t, key)
		require.NoError(t, a.store.Update(ctx, key, session.Delta{Set: map[string][]byte{"n": []byte("2")}}))
		eventually("the other instance's update", func(rec *session.Record, err error) bool {
			v, _ := rec.Values.Get("n")
			return err == nil && string(v) == "2"
		}, key)
	})
	t.Run("delete", func(t *testing.T) {
		key := newKey(t)
		require.NoError(t, a.store.Create(ctx, key, liveRecord("")))
		b.waitCached(t, key)
		require.NoError(t, a.store.Delete(ctx, key))
		eventually("the other instance's logout", func(_ *session.Record, err error) bool {
			return errors.Is(err, session.ErrNotFound)
		}, key)
	})
	t.Run("DeleteUser", func(t *testing.T) {
		user := "carol-" + newKey(t)
		keys := []string{newKey(t), newKey(t)}
		for _, k := range keys {
			require.NoError(t, a.store.Create(ctx, k, liveRecord(user)))
			b.waitCached(t, k)
		}
		n, err := a.store.DeleteUser(ctx, user)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		for _, k := range keys {
			eventually("the other instance's sign-out everywhere", func(_ *session.Record, err error) bool {
				return errors.Is(err, session.ErrNotFound)
			}, k)
		}
	})
	t.Run("renew", func(t *testing.T) {
		old, next := newKey(t), newKey(t)
		require.NoError(t, a.store.Create(ctx, old, liveRecord("dave")))
		b.waitCached(t, old)
		require.NoError(t, a.store.Renew(ctx, old, next, session.Delta{}, &session.Tombstone{Next: next, Expires: time.Now().Add(time.Minute)}))
		eventually("the other instance's renewal", func(rec *session.Record, err error) bool {
			return err == nil && rec.Tombstone != nil
		}, old)
	})
}

// deafen replaces the store's trackers by ones told of no key the store
// writes: the cache stays in use, but hears of no write.
func deafen(t *testing.T, s *Store) {
	t.Helper()
	s.trackers.close()
	ts, err := startTrackers(s.client, s.local, "no-such-prefix:", 20*time.Millisecond)
	require.NoError(t, err)
	s.trackers = ts
}

// TestLocalCacheOwnWrites: after the store's own write returns, its next
// read never sees the old record, even with no invalidation from Redis.
func TestLocalCacheOwnWrites(t *testing.T) {
	in := newCachedInstance(t, testPrefix(t, testClient(t)), time.Minute)
	deafen(t, in.store)
	s, ctx := in.store, context.Background()
	value := func(key string) string {
		rec, err := s.Load(ctx, key)
		require.NoError(t, err)
		v, _ := rec.Values.Get("n")
		return string(v)
	}

	key := newKey(t)
	require.NoError(t, s.Create(ctx, key, liveRecord("erin", "n", "0")))
	in.waitCached(t, key)
	for i := 1; i <= 3; i++ {
		require.NoError(t, s.Update(ctx, key, session.Delta{Set: map[string][]byte{"n": []byte(strconv.Itoa(i))}}))
		require.Equal(t, strconv.Itoa(i), value(key), "the update's own instance reads it at once")
		in.waitCached(t, key)
	}

	next := newKey(t)
	require.NoError(t, s.Renew(ctx, key, next, session.Delta{}, &session.Tombstone{Next: next, Expires: time.Now().Add(10 * time.Minute)}))
	rec, err := s.Load(ctx, key)
	require.NoError(t, err)
	require.NotNil(t, rec.Tombstone, "the renewed key reads as a tombstone at once")
	in.waitCached(t, key)
	in.waitCached(t, next)

	require.NoError(t, s.Delete(ctx, next))
	_, err = s.Load(ctx, next)
	require.ErrorIs(t, err, session.ErrNotFound)
}

// TestLocalCacheOwnDeleteFollowsRenewals: Delete by an old key ends the
// renewed session inside a script, which the store cannot name; it waits
// for Redis's word on what the script wrote before it returns, so that the
// next read on the same instance already misses.
func TestLocalCacheOwnDeleteFollowsRenewals(t *testing.T) {
	in := newCachedInstance(t, testPrefix(t, testClient(t)), time.Minute)
	s, ctx := in.store, context.Background()
	for range 20 {
		old, next := newKey(t), newKey(t)
		require.NoError(t, s.Create(ctx, old, liveRecord("gina")))
		require.NoError(t, s.Renew(ctx, old, next, session.Delta{}, &session.Tombstone{Next: next, Expires: time.Now().Add(10 * time.Minute)}))
		in.waitCached(t, next)
		require.NoError(t, s.Delete(ctx, old))
		_, err := s.Load(ctx, next)
		require.ErrorIs(t, err, session.ErrNotFound, "the renewed session read after its deletion")
	}
	user := "hank-" + newKey(t)
	for range 20 {
		key := newKey(t)
		require.NoError(t, s.Create(ctx, key, liveRecord(user)))
		in.waitCached(t, key)
		_, err := s.DeleteUser(ctx, user)
		require.NoError(t, err)
		_, err = s.Load(ctx, key)
		require.ErrorIs(t, err, session.ErrNotFound, "a session read after DeleteUser ended it")
	}
}

// TestLocalCacheStalenessBound: with no invalidation arriving, a record
// ended elsewhere is served from the cache until its entry is as old as the
// bound, and never after.
func TestLocalCacheStalenessBound(t *testing.T) {
	const bound = 300 * time.Millisecond
	prefix := testPrefix(t, testClient(t))
	a := newCachedInstance(t, prefix, bound)
	b := newCachedInstance(t, prefix, bound)
	deafen(t, b.store)
	ctx := context.Background()
	key := newKey(t)
	require.NoError(t, a.store.Create(ctx, key, liveRecord("")))

	// The entry's age counts from when its read was sent, which is before
	// that read returned.
	var read time.Time
	waitFor(t, "a cached read", func() bool {
		_, trips, err := b.tripsOfLoad(key)
		require.NoError(t, err)
		if trips != 0 {
			read = time.Now() // the read the next entry may come from
		}
		return trips == 0
	})
	require.NoError(t, a.store.Delete(ctx, key))
	served := 0
	for {
		at := time.Now()
		_, err := b.store.Load(ctx, key)
		if errors.Is(err, session.ErrNotFound) {
			break
		}
		require.NoError(t, err)
		require.Less(t, at.Sub(read), bound, "a stale record served after the bound")
		served++
	}
	require.Positive(t, served, "the deafened cache served the ended session for a while: the test saw the bound at work")
}

// TestLocalCacheTrackingLost: when the tracking connection is killed, the
// cache is dropped and reads go to Redis until tracking is back; a session
// ended meanwhile is not served from the cache.
func TestLocalCacheTrackingLost(t *testing.T) {
	c := testClient(t)
	prefix := testPrefix(t, c)
	a := newCachedInstance(t, prefix, time.Minute)
	b := newCachedInstance(t, prefix, time.Minute)
	ctx := context.Background()
	key := newKey(t)
	require.NoError(t, a.store.Create(ctx, key, liveRecord("")))
	b.waitCached(t, key)

	tr := b.store.trackers.byAddr[c.Options().Addr]
	require.NotNil(t, tr)
	id := tr.id.Load()
	require.NoError(t, c.Do(ctx, "CLIENT", "KILL", "ID", id).Err())
	waitFor(t, "the cache dropped", func() bool {
		return b.store.local.unhealthy.Load() != 0 || tr.id.Load() != id
	})
	// Whether or not tracking is back yet, nothing from before survives.
	_, trips, _ := b.tripsOfLoad(key)
	require.Equal(t, 1, trips, "the cache was dropped with its channel")
	require.NoError(t, a.store.Delete(ctx, key))
	_, err := b.store.Load(ctx, key)
	require.ErrorIs(t, err, session.ErrNotFound)

	key = newKey(t)
	require.NoError(t, a.store.Create(ctx, key, liveRecord("")))
	b.waitCached(t, key) // tracking came back
	require.NotEqual(t, id, tr.id.Load(), "a new connection")
}

// TestLocalCacheWithoutCache: a load under session.WithoutCache goes to
// Redis, as the Manager's second look before ending a session as expired
// needs; and a cached record past its deadline by the store's clock is not
// served, as a read from Redis would not find it.
func TestLocalCacheWithoutCache(t *testing.T) {
	clock := testenv.NewClock()
	clock.Advance(time.Since(clock.Now()))
	in := newCachedInstance(t, testPrefix(t, testClient(t)), time.Minute, WithClock(clock.Now))
	ctx := context.Background()
	key := newKey(t)
	rec := liveRecord("")
	rec.IdleDeadline = clock.Now().Add(10 * time.Minute)
	require.NoError(t, in.store.Create(ctx, key, rec))
	in.waitCached(t, key)

	in.sent.Take()
	_, err := in.store.Load(session.WithoutCache(ctx), key)
	require.NoError(t, err)
	require.Equal(t, 1, in.sent.Take().Trips, "WithoutCache reads Redis")
	_, trips, err := in.tripsOfLoad(key)
	require.NoError(t, err)
	require.Zero(t, trips, "and leaves the cache in use")

	clock.Advance(10 * time.Minute)
	_, trips, err = in.tripsOfLoad(key)
	require.ErrorIs(t, err, session.ErrNotFound)
	require.Equal(t, 1, trips, "past its deadline: not from the cache")
}

func TestLocalCacheClose(t *testing.T) {
	in := newCachedInstance(t, testPrefix(t, testClient(t)), time.Minute)
	ctx := context.Background()
	key := newKey(t)
	require.NoError(t, in.store.Create(ctx, key, liveRecord("")))
	in.waitCached(t, key)
	require.NoError(t, in.store.Close())
	require.NoError(t, in.store.Close(), "a second Close does nothing")
	_, trips, err := in.tripsOfLoad(key)
	require.NoError(t, err)
	require.Equal(t, 1, trips, "with no channel after Close, nothing is served from the cache")
}

func TestLocalCacheUserIndexNeverCached(t *testing.T) {
	in := newCachedInstance(t, testPrefix(t, testClient(t)), time.Minute)
	ctx := context.Background()
	user := "frank-" + newKey(t)
	key := newKey(t)
	require.NoError(t, in.store.Create(ctx, key, liveRecord(user)))
	in.waitCached(t, key)
	for range 3 {
		in.sent.Take()
		recs, err := in.store.UserSessions(ctx, user)
		require.NoError(t, err)
		require.Len(t, recs, 1)
		require.Positive(t, in.sent.Take().Trips, "UserSessions always reads Redis")
	}
}

func TestLocalCacheConformance(t *testing.T) {
	c := testClient(t)
	storetest.Run(t, func(t *testing.T) session.Store {
		return newTestStore(t, c, WithLocalCache(time.Minute))
	})
}

func TestLocalCacheRaces(t *testing.T) {
	c := newLocalCache(time.Minute, 1000)
	const key = "k"
	rec := &session.Record{}

	ticket := c.begin(key)
	c.invalidate(key)
	c.put(ticket, key, rec)
	require.Nil(t, c.get(key), "a read that raced with an invalidation is not kept")

	ticket = c.begin(key)
	c.dropAll()
	c.put(ticket, key, rec)
	require.Nil(t, c.get(key), "nor one that raced with a drop")

	ticket = c.begin(key)
	c.down()
	c.put(ticket, key, rec)
	c.up()
	require.Nil(t, c.get(key), "nor one read while a channel was down")

	c.put(c.begin(key), key, rec)
	require.Same(t, rec, c.get(key))
	c.down()
	require.Nil(t, c.get(key), "a channel down drops the cache")
	c.up()
	require.Nil(t, c.get(key))
}

func TestLocalCacheSize(t *testing.T) {
	c := newLocalCache(time.Minute, 10*cacheShards)
	for i := range 100 * cacheShards {
		k := strconv.Itoa(i)
		c.put(c.begin(k), k, &session.Record{})
	}
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].entries)
	}
	require.LessOrEqual(t, n, 10*cacheShards)
	require.Positive(t, n)
}

func TestLocalCacheNeedsATrackableClient(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { _ = c.Close() })
	_, err := New(c, WithLocalCache(0))
	require.ErrorContains(t, err, "positive staleness bound")
	_, err = New(c, WithLocalCacheSize(0))
	require.ErrorContains(t, err, "positive size")
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	t.Cleanup(func() { _ = ring.Close() })
	_, err = New(ring, WithLocalCache(time.Second))
	require.ErrorIs(t, err, errNoCache)
}
