package redisstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
	"github.com/sessionid/session/storetest"
	"github.com/stretchr/testify/require"
)

// TestCluster runs the store on a real three-node Redis Cluster of its own,
// where a session's key, its renewed key and its user's index are in
// different slots, mostly on different nodes.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node Redis Cluster")
	}
	start := time.Now()
	addrs := startCluster(t)
	t.Logf("three-node cluster up in %v", time.Since(start).Round(time.Millisecond))
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	require.Eventually(t, func() bool {
		shards, err := c.ClusterShards(ctx).Result()
		return err == nil && len(shards) == 3
	}, 10*time.Second, 50*time.Millisecond, "the client never saw three shards")

	t.Run("keys in different slots and nodes", func(t *testing.T) {
		s := newTestStore(t, c)
		require.True(t, s.cluster, "a ClusterClient means cluster mode")
		old, next := keysOnTwoNodes(t, c, s)
		user := "alice-" + newKey(t)
		require.NotEqual(t, slot(t, c, s.sessionKey(old)), slot(t, c, s.userKey(user)))
		require.NoError(t, s.Create(ctx, old, liveRecord(user, "a", "1")))
		require.NoError(t, s.Renew(ctx, old, next, session.Delta{Set: map[string][]byte{"b": []byte("2")}},
			&session.Tombstone{Next: next, Expires: time.Now().Add(time.Minute)}))
		rec, err := s.Load(ctx, next)
		require.NoError(t, err)
		require.Equal(t, map[string][]byte{"a": []byte("1"), "b": []byte("2")}, maps.Collect(rec.Values.All()))
		recs, err := s.UserSessions(ctx, user)
		require.NoError(t, err)
		require.Len(t, recs, 1)
		require.Equal(t, next, recs[0].Key)
		require.NoError(t, s.Delete(ctx, old), "deleting by the old key follows the renewal to the other node")
		_, err = s.Load(ctx, next)
		require.ErrorIs(t, err, session.ErrNotFound)
	})

	t.Run("conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) session.Store { return newTestStore(t, c) })
	})

	t.Run("DeleteUser across nodes", func(t *testing.T) {
		s := newTestStore(t, c)
		user := "bob-" + newKey(t)
		// Sessions on every node: at least twelve, and more until each of
		// the three nodes holds some (random keys may take a few more).
		nodes, created := map[string]bool{}, 0
		for created < 12 || len(nodes) < 3 {
			require.Less(t, created, 200, "random keys never reached every node")
			k := newKey(t)
			nodes[node(t, c, s.sessionKey(k))] = true
			require.NoError(t, s.Create(ctx, k, liveRecord(user)))
			created++
		}
		n, err := s.DeleteUser(ctx, user)
		require.NoError(t, err)
		require.Equal(t, created, n)
		recs, err := s.UserSessions(ctx, user)
		require.NoError(t, err)
		require.Empty(t, recs)
	})

	t.Run("local cache", func(t *testing.T) {
		prefix := testPrefix(t, c)
		newStore := func() *Store { return newTestStore(t, c, WithKeyPrefix(prefix), WithLocalCache(time.Minute)) }
		a, b := newStore(), newStore()
		waitFor(t, "a tracker on each of the three primaries", func() bool {
			b.trackers.mu.Lock()
			defer b.trackers.mu.Unlock()
			return len(b.trackers.byAddr) == 3 && b.local.unhealthy.Load() == 0
		})
		// Sessions on every node, cached by b, ended by a: b hears of each
		// from the node that holds it.
		nodes := map[string]bool{}
		var keys []string
		for len(keys) < 12 || len(nodes) < 3 {
			require.Less(t, len(keys), 200, "random keys never reached every node")
			k := newKey(t)
			nodes[node(t, c, b.sessionKey(k))] = true
			require.NoError(t, a.Create(ctx, k, liveRecord("")))
			keys = append(keys, k)
		}
		for _, k := range keys {
			waitFor(t, "a cached read", func() bool {
				hits := b.local.hits.Load()
				_, err := b.Load(ctx, k)
				require.NoError(t, err)
				return b.local.hits.Load() > hits
			})
		}
		for _, k := range keys {
			require.NoError(t, a.Delete(ctx, k))
		}
		for _, k := range keys {
			waitFor(t, "the other instance's deletion", func() bool {
				_, err := b.Load(ctx, k)
				return errors.Is(err, session.ErrNotFound)
			})
		}
		t.Run("conformance", func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) session.Store { return newTestStore(t, c, WithLocalCache(time.Minute)) })
		})
	})

	t.Run("no resurrection", func(t *testing.T) {
		s := newTestStore(t, c)
		t.Run("Delete", func(t *testing.T) { testNoResurrection(t, s, endByDelete) })
		t.Run("DeleteUser", func(t *testing.T) { testNoResurrection(t, s, endByDeleteUser) })
		t.Run("updates survive renewals", func(t *testing.T) { testNoLostUpdate(t, s) })
	})
}

// keysOnTwoNodes returns two session keys whose hashes live on different
// nodes (and so in different slots).
func keysOnTwoNodes(t *testing.T, c *redis.ClusterClient, s *Store) (string, string) {
	t.Helper()
	a := newKey(t)
	for range 100 {
		b := newKey(t)
		if node(t, c, s.sessionKey(a)) != node(t, c, s.sessionKey(b)) {
			require.NotEqual(t, slot(t, c, s.sessionKey(a)), slot(t, c, s.sessionKey(b)))
			return a, b
		}
	}
	t.Fatal("no two keys on different nodes")
	return "", ""
}

// slot returns key's slot, as the cluster computes it.
func slot(t *testing.T, c *redis.ClusterClient, key string) int64 {
	t.Helper()
	n, err := c.ClusterKeySlot(context.Background(), key).Result()
	require.NoError(t, err)
	return n
}

// node returns the address of the primary that holds key.
func node(t *testing.T, c *redis.ClusterClient, key string) string {
	t.Helper()
	n, err := c.MasterForKey(context.Background(), key)
	require.NoError(t, err)
	return fmt.Sprint(n.Options().Addr)
}
