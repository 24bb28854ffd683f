package session

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memNewStore returns a MemoryStore on clock with the background sweeper
// off (unless opts turn it on), closed when the test ends.
func memNewStore(t testing.TB, clock *testClock, opts ...MemoryOption) *MemoryStore {
	t.Helper()
	all := append([]MemoryOption{WithMemoryClock(clock.Now), WithSweepInterval(0)}, opts...)
	s := NewMemoryStore(all...)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// memRec returns a record created at now that lives for idle (idle
// deadline) and at most 12 hours (absolute deadline), with values kv given
// as key, value pairs.
func memRec(now time.Time, idle time.Duration, user string, kv ...string) *Record {
	values := make(map[string][]byte, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		values[kv[i]] = []byte(kv[i+1])
	}
	return &Record{
		Values:           ValuesOf(values),
		User:             user,
		CreatedAt:        now,
		LastSeen:         now,
		IssuedAt:         now,
		IdleDeadline:     now.Add(idle),
		AbsoluteDeadline: now.Add(12 * time.Hour),
		UserAgent:        "memtest",
	}
}

// memValues returns rec's values as strings, for comparisons.
func memValues(rec *Record) map[string]string {
	out := make(map[string]string, rec.Values.Len())
	for k, v := range rec.Values.All() {
		out[k] = string(v)
	}
	return out
}

// memUserKeys returns the keys UserSessions lists for user.
func memUserKeys(t *testing.T, s *MemoryStore, user string) []string {
	t.Helper()
	krs, err := s.UserSessions(context.Background(), user)
	require.NoError(t, err)
	keys := make([]string, 0, len(krs))
	for _, kr := range krs {
		require.NotNil(t, kr.Record)
		require.Nil(t, kr.Record.Tombstone, "UserSessions must never list a tombstone")
		require.Equal(t, user, kr.Record.User)
		keys = append(keys, kr.Key)
	}
	return keys
}

// memIndexSize returns how many keys the user index holds for user.
func memIndexSize(s *MemoryStore, user string) int {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	return len(s.users[user])
}

func memStrPtr(s string) *string { return &s }

func TestMemoryStoreUpdateMovesExpiry(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		newIdle   time.Duration // from creation
		advance   time.Duration
		wantAlive bool
	}{
		{"extended deadline keeps the record past the old one", 20 * time.Minute, 15 * time.Minute, true},
		{"shortened deadline lets it go before the old one", 2 * time.Minute, 5 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			s := memNewStore(t, clock)
			start := clock.Now()
			require.NoError(t, s.Create(ctx, "key", memRec(start, 10*time.Minute, "")))
			require.NoError(t, s.Update(ctx, "key", Delta{IdleDeadline: start.Add(tt.newIdle)}))
			clock.Advance(tt.advance)

			evicted := s.Sweep()
			_, err := s.Load(ctx, "key")
			if tt.wantAlive {
				require.Equal(t, 0, evicted)
				require.NoError(t, err)
				require.Equal(t, 1, s.Len())
			} else {
				require.Equal(t, 1, evicted)
				require.ErrorIs(t, err, ErrNotFound)
				require.Equal(t, 0, s.Len())
			}
		})
	}
}

// memRenewChain creates a session of alice at keys[0] and renews it along
// keys, leaving at each old key a tombstone whose Next is the new key.
func memRenewChain(t *testing.T, s *MemoryStore, now time.Time, keys ...string) {
	t.Helper()
	require.NoError(t, s.Create(context.Background(), keys[0], memRec(now, time.Hour, "alice", "k", "v")))
	for i := 1; i < len(keys); i++ {
		tomb := &Tombstone{Next: keys[i], GraceUntil: now.Add(time.Minute)}
		require.NoError(t, s.Renew(context.Background(), keys[i-1], keys[i], Delta{}, withExpiry(tomb, now.Add(time.Minute))))
	}
}

func TestMemoryStoreDeleteChainIsBounded(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	keys := make([]string, 3*maxChain)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%02d", i)
	}
	memRenewChain(t, s, clock.Now(), keys...)
	require.Equal(t, len(keys), s.Len())

	require.NoError(t, s.Delete(ctx, keys[0]))
	require.Equal(t, len(keys)-maxChain, s.Len(), "one Delete follows at most maxChain records")
	_, err := s.Load(ctx, keys[len(keys)-1])
	require.NoError(t, err)
}

// TestMemoryStoreRenewOntoTombstoneKeepsStoreConsistent: if Renew moves a
// session onto a key that holds a tombstone, it must either refuse with
// ErrExists or really replace the tombstone: the tombstone's expiry must not
// later evict the session that took its key, and Len must count records.
func TestMemoryStoreRenewOntoTombstoneKeepsStoreConsistent(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	now := clock.Now()
	require.NoError(t, s.Create(ctx, "a", memRec(now, time.Hour, "alice")))
	tombExpires := now.Add(time.Minute)
	require.NoError(t, s.Renew(ctx, "a", "b", Delta{}, &Tombstone{GraceUntil: tombExpires, Expires: tombExpires}))
	require.NoError(t, s.Create(ctx, "c", memRec(now, time.Hour, "carol", "k", "v")))
	require.Equal(t, 3, s.Len())

	err := s.Renew(ctx, "c", "a", Delta{}, nil)
	if err != nil {
		require.ErrorIs(t, err, ErrExists)
		return
	}
	assert.Equal(t, 2, s.Len(), "the tombstone was replaced, so two records remain")
	clock.Advance(2 * time.Minute) // past the tombstone, well before the session's end
	s.Sweep()
	got, err := s.Load(ctx, "a")
	require.NoError(t, err, "the renewed session must survive the expiry of the tombstone it replaced")
	require.Equal(t, "carol", got.User)
	require.Equal(t, 2, s.Len())
}

func TestMemoryStoreRenewIsAtomic(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	require.NoError(t, s.Create(ctx, "old", memRec(clock.Now(), time.Hour, "alice", "a", "1")))

	const n = 32
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Renew(ctx, "old", fmt.Sprintf("new%d", i), Delta{}, nil)
		}()
	}
	wg.Wait()

	winners := 0
	for i, err := range errs {
		if err == nil {
			winners++
			_, lerr := s.Load(ctx, fmt.Sprintf("new%d", i))
			require.NoError(t, lerr)
			continue
		}
		require.ErrorIs(t, err, ErrNotFound)
	}
	require.Equal(t, 1, winners, "exactly one concurrent Renew of one key may win")
	require.Equal(t, 1, s.Len())
	require.Len(t, memUserKeys(t, s, "alice"), 1)
}

// TestMemoryStoreExpiry: an expired record is kept, and returned by Load
// with its past deadlines, until the sweeper removes it, so that the manager
// can report it as expired; nothing else treats it as live.
func TestMemoryStoreExpiry(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		idle      time.Duration
		absolute  time.Duration
		advance   time.Duration
		wantAlive bool
	}{
		{"before both deadlines", time.Hour, 2 * time.Hour, 59 * time.Minute, true},
		{"one nanosecond before the idle deadline", time.Hour, 2 * time.Hour, time.Hour - 1, true},
		{"exactly at the idle deadline", time.Hour, 2 * time.Hour, time.Hour, false},
		{"past the idle deadline", time.Hour, 2 * time.Hour, 90 * time.Minute, false},
		{"past the absolute deadline before the idle one", 3 * time.Hour, time.Hour, 61 * time.Minute, false},
		{"exactly at the absolute deadline", 3 * time.Hour, time.Hour, time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			s := memNewStore(t, clock)
			now := clock.Now()
			rec := memRec(now, tt.idle, "alice", "a", "1")
			rec.AbsoluteDeadline = now.Add(tt.absolute)
			require.NoError(t, s.Create(ctx, "key", rec))
			clock.Advance(tt.advance)

			got, err := s.Load(ctx, "key")
			require.NoError(t, err, "Load returns a record the store holds, expired or not")
			require.Equal(t, rec, got)
			keys := memUserKeys(t, s, "alice")
			if tt.wantAlive {
				require.True(t, got.ExpiresAt().After(clock.Now()))
				require.Equal(t, []string{"key"}, keys)
				require.Equal(t, 0, s.Sweep())
				return
			}
			require.False(t, got.ExpiresAt().After(clock.Now()), "an expired record keeps its past deadlines")
			require.Empty(t, keys, "UserSessions must not list an expired record")
			require.ErrorIs(t, s.Update(ctx, "key", Delta{Set: map[string][]byte{"a": nil},
				LastSeen: clock.Now(), IdleDeadline: clock.Now().Add(time.Hour)}), ErrNotFound, "Update must not revive it")
			require.ErrorIs(t, s.Renew(ctx, "key", "new", Delta{}, nil), ErrNotFound, "Renew must not revive it")
			_, err = s.Load(ctx, "new")
			require.ErrorIs(t, err, ErrNotFound)
			again, err := s.Load(ctx, "key")
			require.NoError(t, err, "a refused Update or Renew leaves the record to the sweeper")
			require.Equal(t, rec, again)

			require.Equal(t, 1, s.Sweep())
			got, err = s.Load(ctx, "key")
			require.ErrorIs(t, err, ErrNotFound, "swept")
			require.Nil(t, got)
			require.Equal(t, 0, s.Len())
			require.Equal(t, 0, memIndexSize(s, "alice"))
		})
	}
}

// TestMemoryStoreExpiredTombstoneNotFound: the manager does not check a
// tombstone's expiry, so the store reports an expired one as not found.
func TestMemoryStoreExpiredTombstoneNotFound(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	now := clock.Now()
	require.NoError(t, s.Create(ctx, "old", memRec(now, time.Hour, "alice")))
	tomb := &Tombstone{Next: "new", GraceUntil: now.Add(time.Second)}
	require.NoError(t, s.Renew(ctx, "old", "new", Delta{}, withExpiry(tomb, now.Add(time.Minute))))
	clock.Advance(time.Minute)

	got, err := s.Load(ctx, "old")
	require.ErrorIs(t, err, ErrNotFound)
	require.Nil(t, got)
	require.Equal(t, 1, s.Sweep())
}

func TestMemoryStoreSweep(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		lifetimes   []time.Duration // one record per entry
		advance     time.Duration
		wantEvicted int
	}{
		{"empty store", nil, time.Hour, 0},
		{"nothing expired", []time.Duration{time.Hour, 2 * time.Hour}, 30 * time.Minute, 0},
		{"some expired", []time.Duration{time.Minute, 2 * time.Minute, time.Hour, 3 * time.Hour}, 5 * time.Minute, 2},
		{"deadline reached exactly counts as expired", []time.Duration{5 * time.Minute, 6 * time.Minute}, 5 * time.Minute, 1},
		{"all expired", []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute}, time.Hour, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			s := memNewStore(t, clock)
			now := clock.Now()
			for i, life := range tt.lifetimes {
				require.NoError(t, s.Create(ctx, fmt.Sprintf("k%d", i), memRec(now, life, "alice")))
			}
			clock.Advance(tt.advance)

			require.Equal(t, tt.wantEvicted, s.Sweep())
			require.Equal(t, len(tt.lifetimes)-tt.wantEvicted, s.Len())
			require.Equal(t, 0, s.Sweep(), "a second sweep finds nothing more")
			require.Equal(t, len(tt.lifetimes)-tt.wantEvicted, memIndexSize(s, "alice"),
				"evicted records leave the user index")
			for i, life := range tt.lifetimes {
				_, err := s.Load(ctx, fmt.Sprintf("k%d", i))
				if life > tt.advance {
					require.NoError(t, err, "record %d must survive", i)
				} else {
					require.ErrorIs(t, err, ErrNotFound)
				}
			}
		})
	}
}

// TestMemoryStoreSweepManyRecords covers sweeps that need more than one
// batch per shard.
func TestMemoryStoreSweepManyRecords(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	now := clock.Now()
	const expiring, staying = memShards*sweepBatch + 100, 50
	for i := range expiring {
		require.NoError(t, s.Create(ctx, fmt.Sprintf("e%d", i), memRec(now, time.Minute, "")))
	}
	for i := range staying {
		require.NoError(t, s.Create(ctx, fmt.Sprintf("s%d", i), memRec(now, time.Hour, "")))
	}
	require.Equal(t, expiring+staying, s.Len())
	clock.Advance(time.Minute)

	require.Equal(t, expiring, s.Sweep())
	require.Equal(t, staying, s.Len())
}

// TestMemoryStoreConcurrentMixedOperations runs every method at once on
// shared keys, for the race detector, and checks the count stays exact.
func TestMemoryStoreConcurrentMixedOperations(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock, WithMaxSessions(64))
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				key := fmt.Sprintf("k%d", (w*7+i)%20)
				user := fmt.Sprintf("u%d", i%3)
				_ = s.Create(ctx, key, memRec(clock.Now(), time.Duration(i+1)*time.Minute, user))
				_ = s.Update(ctx, key, Delta{Set: map[string][]byte{"w": {byte(w)}}, User: &user})
				_, _ = s.Load(ctx, key)
				_, _ = s.UserSessions(ctx, user)
				tomb := &Tombstone{GraceUntil: clock.Now().Add(time.Minute)}
				_ = s.Renew(ctx, key, fmt.Sprintf("r%d-%d", w, i), Delta{}, withExpiry(tomb, clock.Now().Add(time.Minute)))
				if i%10 == 0 {
					_, _ = s.DeleteUser(ctx, user)
					s.Sweep()
				}
				_ = s.Delete(ctx, key)
			}
		}()
	}
	wg.Wait()

	total := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		entries := sh.allEntriesLocked()
		require.Len(t, sh.expiry, len(entries), "shard %d heap and map disagree", i)
		for _, e := range entries {
			require.Same(t, e, sh.expiry[e.index].e, "heap index of %s", e.key)
			require.Equal(t, expiresAt(e.rec), sh.expiry[e.index].expires, "heap expiry of %s", e.key)
			require.Same(t, e, sh.get(s.hash(e.key), e.key), "entry of %s", e.key)
		}
		total += len(entries)
		sh.mu.RUnlock()
	}
	require.Equal(t, total, s.Len())
}

func TestMemoryStoreLoadedRecordsAreNeverMutated(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	now := clock.Now()
	deltas := []struct {
		name string
		d    Delta
	}{
		{"set existing and new keys", Delta{Set: map[string][]byte{"a": []byte("A"), "z": []byte("Z")}}},
		{"delete", Delta{Delete: []string{"a", "b"}}},
		{"clear", Delta{Clear: true}},
		{"user and deadlines", Delta{User: memStrPtr("bob"), LastSeen: now.Add(time.Minute), IdleDeadline: now.Add(2 * time.Hour), IssuedAt: now.Add(time.Minute)}},
	}
	for _, tt := range deltas {
		t.Run(tt.name, func(t *testing.T) {
			s := memNewStore(t, clock)
			require.NoError(t, s.Create(ctx, "key", memRec(now, time.Hour, "alice", "a", "1", "b", "2")))
			held, err := s.Load(ctx, "key")
			require.NoError(t, err)
			snapshot := *held
			values := memValues(held)

			require.NoError(t, s.Update(ctx, "key", tt.d))
			tomb := &Tombstone{GraceUntil: now.Add(time.Minute)}
			require.NoError(t, s.Renew(ctx, "key", "key2", Delta{Set: map[string][]byte{"b": []byte("renewed")}}, withExpiry(tomb, now.Add(time.Minute))))

			require.Equal(t, values, memValues(held), "a held record's values must not change")
			require.Equal(t, snapshot.User, held.User)
			require.True(t, snapshot.LastSeen.Equal(held.LastSeen))
			require.True(t, snapshot.IdleDeadline.Equal(held.IdleDeadline))
			require.True(t, snapshot.IssuedAt.Equal(held.IssuedAt))
			require.Nil(t, held.Tombstone)

			fresh, err := s.Load(ctx, "key2")
			require.NoError(t, err)
			require.NotSame(t, held, fresh)
		})
	}
}

// memGoroutines counts goroutines the way a require.Eventually condition
// sees them, since Eventually runs its condition on a goroutine of its own.
func memGoroutines(t *testing.T) int {
	n := 0
	require.Eventually(t, func() bool { n = runtime.NumGoroutine(); return true }, time.Second, time.Millisecond)
	return n
}

func TestMemoryStoreCloseStopsSweeper(t *testing.T) {
	before := memGoroutines(t)
	clock := newTestClock()
	s := NewMemoryStore(WithMemoryClock(clock.Now), WithSweepInterval(time.Millisecond))
	select {
	case <-s.done:
		t.Fatal("the sweeper must be running before Close")
	default:
	}

	require.NoError(t, s.Close())
	select {
	case <-s.done:
	default:
		t.Fatal("Close must wait for the sweeper to return")
	}
	require.NoError(t, s.Close(), "a second Close is fine")
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before },
		5*time.Second, time.Millisecond, "the sweeper goroutine leaked")

	// The store still answers after Close.
	ctx := context.Background()
	require.NoError(t, s.Create(ctx, "key", memRec(clock.Now(), time.Hour, "")))
	_, err := s.Load(ctx, "key")
	require.NoError(t, err)
}

func TestMemoryStoreCloseWithoutSweeper(t *testing.T) {
	s := NewMemoryStore(WithSweepInterval(0))
	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(t, s.Close())
		assert.NoError(t, s.Close())
	}()
	require.Eventually(t, func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}, 5*time.Second, time.Millisecond, "Close must not block when there is no sweeper")
}

func TestMemoryStoreBackgroundSweeperEvicts(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := NewMemoryStore(WithMemoryClock(clock.Now), WithSweepInterval(time.Millisecond))
	t.Cleanup(func() { _ = s.Close() })
	now := clock.Now()
	require.NoError(t, s.Create(ctx, "expiring", memRec(now, time.Minute, "alice")))
	require.NoError(t, s.Create(ctx, "staying", memRec(now, time.Hour, "alice")))
	clock.Advance(2 * time.Minute)

	require.Eventually(t, func() bool { return s.Len() == 1 }, 5*time.Second, time.Millisecond,
		"the background sweeper must evict the expired record")
	require.Equal(t, 1, memIndexSize(s, "alice"))
	_, err := s.Load(ctx, "staying")
	require.NoError(t, err)
}

func BenchmarkMemoryStoreLoad(b *testing.B) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(b, clock)
	const n = 1024
	keys := make([]string, n)
	for i := range keys {
		keys[i] = storeKey(fmt.Sprintf("benchmark-session-id-%06d", i))
		if err := s.Create(ctx, keys[i], memRec(clock.Now(), time.Hour, "", "k", "v")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Load(ctx, keys[i%n]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// TestMemoryStoreHeapPerSession bounds the heap a session of one 16-byte
// value takes in the store, shaped like the manager's (a 43-character key),
// beyond its value.
func TestMemoryStoreHeapPerSession(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a store")
	}
	const n, budget = 20_000, 400
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	value := []byte("0123456789abcdef")
	before := memHeapInUse()
	for i := range n {
		rec := memRec(clock.Now(), time.Hour, "")
		rec.Values = ValuesOf(map[string][]byte{"v": value})
		require.NoError(t, s.Create(ctx, storeKey(fmt.Sprint("heap-test-id-", i)), rec))
	}
	perSession := float64(memHeapInUse()-before)/n - float64(len(value))
	t.Logf("%.0f bytes of heap per session beyond its value", perSession)
	require.Less(t, perSession, float64(budget))
	require.Equal(t, n, s.Len())
}

func memHeapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestMemoryStoreKeepsNoCallerMemory: an Update copies the values of its
// Delta, so the caller may reuse its map and slices.
func TestMemoryStoreKeepsNoCallerMemory(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	require.NoError(t, s.Create(ctx, "key", memRec(clock.Now(), time.Hour, "alice", "a", "1")))
	set := map[string][]byte{"b": []byte("2")}
	require.NoError(t, s.Update(ctx, "key", Delta{Set: set}))
	set["b"][0] = 'Y'
	set["new"] = []byte("N")
	got, err := s.Load(ctx, "key")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "1", "b": "2"}, memValues(got))
}

// BenchmarkMemoryStoreLoadRecent loads one session again and again, as a
// page and the requests it makes do.
func BenchmarkMemoryStoreLoadRecent(b *testing.B) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(b, clock)
	key := storeKey("benchmark-session-id")
	if err := s.Create(ctx, key, memRec(clock.Now(), time.Hour, "", "k", "v")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

// withExpiry returns tomb with its Expires set to at.
func withExpiry(tomb *Tombstone, at time.Time) *Tombstone {
	out := *tomb
	out.Expires = at
	return &out
}
