package session

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// staleCacheStore is a store with a cache of its own, like redisstore's
// local cache, that holds an old copy of a session: one whose idle deadline
// another instance has since pushed forward.
type staleCacheStore struct {
	Store
	mu       sync.Mutex
	copies   map[string]*Record
	uncached int // loads made under WithoutCache
}

func (c *staleCacheStore) Load(ctx context.Context, key string) (*Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !CacheAllowed(ctx) {
		c.uncached++
		return c.Store.Load(ctx, key)
	}
	if rec := c.copies[key]; rec != nil {
		return rec, nil
	}
	return c.Store.Load(ctx, key)
}

// TestExpiryReadsPastACache: a session a store's cache shows as expired is
// read again under WithoutCache before the manager ends it; the fresh
// record, touched meanwhile, keeps the session alive.
func TestExpiryReadsPastACache(t *testing.T) {
	clock := newTestClock()
	mem := NewMemoryStore(WithMemoryClock(clock.Now), WithSweepInterval(0))
	store := &staleCacheStore{Store: mem, copies: map[string]*Record{}}
	events := &eventLog{}
	m, err := New(WithStore(store), WithClock(clock.Now), WithHooks(events.hooks()), WithIdleTimeout(10*time.Minute),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(); _ = mem.Close() })
	h := &harness{t: t, m: m, mem: mem, clock: clock, events: events, handler: m.Handler(testApp(t))}

	cookie := h.newSession()
	key := storeKey(cookie)
	old, err := mem.Load(context.Background(), key)
	require.NoError(t, err)
	store.copies[key] = old // the cache's copy, from before the touch

	// Another instance uses the session: its idle deadline moves on.
	clock.Advance(9 * time.Minute)
	now := clock.Now()
	require.NoError(t, mem.Update(context.Background(), key, Delta{LastSeen: now, IdleDeadline: now.Add(10 * time.Minute)}))

	// Past the copy's deadline, within the fresh one's.
	clock.Advance(5 * time.Minute)
	require.False(t, clock.Now().Before(m.expiresAt(old)), "the cached copy is expired")
	assert.Equal(t, "v", h.body("/get?k=k", cookie), "the session lives on")
	assert.Equal(t, 1, store.uncached, "read once more, past the cache")
	assert.NotContains(t, events.kinds(), "expired")
	_, err = mem.Load(context.Background(), key)
	require.NoError(t, err, "the session is still stored")

	// Truly expired: read past the cache too, then ended.
	clock.Advance(time.Hour)
	assert.Empty(t, h.body("/get?k=k", cookie))
	assert.Equal(t, 2, store.uncached)
	assert.Contains(t, events.kinds(), "expired")
	_, err = mem.Load(context.Background(), key)
	require.ErrorIs(t, err, ErrNotFound, "the expired session is deleted")
}

func TestWithoutCache(t *testing.T) {
	ctx := context.Background()
	assert.True(t, CacheAllowed(ctx))
	assert.False(t, CacheAllowed(WithoutCache(ctx)))
	type other struct{}
	assert.False(t, CacheAllowed(context.WithValue(WithoutCache(ctx), other{}, 1)), "kept through derived contexts")
}
