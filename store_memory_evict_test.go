package session

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// memFill creates n sessions named prefix0, prefix1… at now, each with an
// idle timeout of idle, the way the manager creates them.
func memFill(t *testing.T, s *MemoryStore, prefix string, n int, now time.Time, idle time.Duration) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprint(prefix, i)
		require.NoError(t, s.Create(context.Background(), keys[i], memRec(now, idle, "")))
	}
	return keys
}

// memAdvanceTo moves clock forward to t.
func memAdvanceTo(clock *testClock, t time.Time) { clock.Advance(t.Sub(clock.Now())) }

// memHeld reports which of keys the store still holds.
func memHeld(t *testing.T, s *MemoryStore, keys []string) (held, gone []string) {
	t.Helper()
	for _, k := range keys {
		_, err := s.Load(context.Background(), k)
		if err == nil {
			held = append(held, k)
			continue
		}
		require.ErrorIs(t, err, ErrNotFound)
		gone = append(gone, k)
	}
	return held, gone
}

// TestMemoryStoreFloodSparesReaders: a session that only reads moves its
// idle deadline once per touch interval, so sessions created after its
// last touch expire later than it does. A flood of new sessions into a full
// store must still evict the sessions idle the longest first: a Load is
// activity, as much as a write.
func TestMemoryStoreFloodSparesReaders(t *testing.T) {
	ctx := context.Background()
	const idle = 30 * time.Minute
	tests := []struct {
		name        string
		readers     int           // sessions touched at the start, then only read
		idlers      int           // sessions created a minute later, then idle
		readAt      time.Duration // when the readers last read, from the start
		absolute    time.Duration // the readers' absolute deadline, from the start; 0 for 12 hours
		flood       int           // one-shot sessions created at 2m50s
		wantReaders bool          // whether every reader survives the flood
	}{
		{"a reader outlives sessions idle since before its last read", 1, 99, 2 * time.Minute, 0, 50, true},
		{"many readers, all spared", 200, 300, 2*time.Minute + 30*time.Second, 0, 300, true},
		{"a read before the idle sessions' activity counts for nothing", 1, 99, 30 * time.Second, 0, 50, false},
		{"a read never postpones the absolute deadline", 1, 99, 2 * time.Minute, 20 * time.Minute, 50, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			s := memNewStore(t, clock, WithMaxSessions(tt.readers+tt.idlers))
			start := clock.Now()
			readers := make([]string, tt.readers)
			for i := range readers {
				readers[i] = fmt.Sprint("reader", i)
				rec := memRec(start, idle, "")
				if tt.absolute != 0 {
					rec.AbsoluteDeadline = start.Add(tt.absolute)
				}
				require.NoError(t, s.Create(ctx, readers[i], rec))
			}
			clock.Advance(time.Minute)
			idlers := memFill(t, s, "idle", tt.idlers, clock.Now(), idle)
			clock.Advance(tt.readAt - time.Minute)
			for _, k := range readers {
				_, err := s.Load(ctx, k)
				require.NoError(t, err)
			}
			memAdvanceTo(clock, start.Add(2*time.Minute+50*time.Second))

			flood := memFill(t, s, "flood", tt.flood, clock.Now(), idle)
			require.Equal(t, tt.readers+tt.idlers, s.Len())
			heldReaders, goneReaders := memHeld(t, s, readers)
			heldIdlers, _ := memHeld(t, s, idlers)
			heldFlood, _ := memHeld(t, s, flood)
			require.Len(t, heldFlood, tt.flood, "the sessions just created are not the ones evicted")
			if tt.wantReaders {
				require.Empty(t, goneReaders, "readers evicted while sessions idle for longer remain")
				require.Len(t, heldIdlers, tt.idlers-tt.flood)
			} else {
				require.Empty(t, heldReaders, "the reader goes first")
				require.Len(t, heldIdlers, tt.idlers-tt.flood+tt.readers)
			}
		})
	}
}

// TestMemoryStoreSweepAfterFloodSparedReader: sparing a reader from
// eviction never keeps it live past its own deadline: from then on Load
// reports it expired and Update refuses it, and the sweeper removes it once
// the moment its read moved it to has passed.
func TestMemoryStoreSweepAfterFloodSparedReader(t *testing.T) {
	ctx := context.Background()
	const idle = 30 * time.Minute
	clock := newTestClock()
	s := memNewStore(t, clock, WithMaxSessions(10))
	start := clock.Now()
	require.NoError(t, s.Create(ctx, "reader", memRec(start, idle, "")))
	clock.Advance(time.Minute)
	memFill(t, s, "idle", 9, clock.Now(), idle)
	clock.Advance(time.Minute)
	read := clock.Now()
	_, err := s.Load(ctx, "reader")
	require.NoError(t, err)
	memFill(t, s, "flood", 5, clock.Now(), idle)
	_, err = s.Load(ctx, "reader")
	require.NoError(t, err, "spared by the flood")

	memAdvanceTo(clock, start.Add(idle))
	got, err := s.Load(ctx, "reader")
	require.NoError(t, err)
	require.False(t, got.ExpiresAt().After(clock.Now()), "expired at its idle deadline, whatever it was spared for")
	require.ErrorIs(t, s.Update(ctx, "reader", Delta{Set: map[string][]byte{"a": []byte("1")}}), ErrNotFound)

	s.Sweep()
	_, err = s.Load(ctx, "reader")
	require.NoError(t, err, "held until the moment its read moved it to")
	memAdvanceTo(clock, read.Add(idle))
	s.Sweep()
	_, err = s.Load(ctx, "reader")
	require.ErrorIs(t, err, ErrNotFound, "removed once that moment has come")
}

// TestMemoryStoreReadOfExpiredRecordIsNotActivity: reading a record that
// expired does not spare it from eviction.
func TestMemoryStoreReadOfExpiredRecordIsNotActivity(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock, WithMaxSessions(2))
	start := clock.Now()
	require.NoError(t, s.Create(ctx, "expired", memRec(start, time.Minute, "")))
	require.NoError(t, s.Create(ctx, "live", memRec(start, time.Hour, "")))
	clock.Advance(2 * time.Minute)
	_, err := s.Load(ctx, "expired")
	require.NoError(t, err)

	require.NoError(t, s.Create(ctx, "new", memRec(clock.Now(), time.Hour, "")))
	held, gone := memHeld(t, s, []string{"expired", "live", "new"})
	require.Equal(t, []string{"expired"}, gone)
	require.Equal(t, []string{"live", "new"}, held)
}

// memCheckLocked checks the bookkeeping of sh: every entry has its slot in
// the heap, whose key is its record's expiry, or a later one for an entry
// eviction moved back for a read.
func memCheckLocked(t *testing.T, sh *memShard) {
	t.Helper()
	for i, slot := range sh.expiry {
		e := slot.e
		require.Equal(t, i, e.index)
		require.Same(t, e, sh.get(maphashOf(t, sh, e), e.key), "a heap slot of a removed entry")
		require.GreaterOrEqual(t, slot.expires, expiresAt(e.rec), "%s: a slot never comes before its record's expiry", e.key)
	}
	require.Len(t, sh.allEntriesLocked(), len(sh.expiry))
}

// maphashOf returns the hash under which sh files e.
func maphashOf(t *testing.T, sh *memShard, e *memEntry) uint64 {
	t.Helper()
	for h, first := range sh.entries {
		for x := first; x != nil; x = x.next {
			if x == e {
				return h
			}
		}
	}
	t.Fatalf("%s is in the heap but not in the shard", e.key)
	return 0
}

// TestMemoryStoreSparedBookkeeping drives a small full store with random
// operations and a moving clock, checking after each that every shard's
// heap agrees with its entries.
func TestMemoryStoreSparedBookkeeping(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	clock := newTestClock()
	s := memNewStore(t, clock, WithMaxSessions(64))
	key := func() string { return fmt.Sprint("k", rng.IntN(256)) }
	spared := 0
	for step := range 5000 {
		now := clock.Now()
		switch op := rng.IntN(20); {
		case op < 6:
			_ = s.Create(ctx, key(), memRec(now, time.Duration(5+rng.IntN(30))*time.Minute, ""))
		case op < 12:
			_, _ = s.Load(ctx, key())
		case op < 15:
			_ = s.Update(ctx, key(), Delta{LastSeen: now, IdleDeadline: now.Add(time.Duration(rng.IntN(30)) * time.Minute)})
		case op < 16:
			tomb := &Tombstone{GraceUntil: now.Add(time.Minute), Expires: now.Add(time.Minute)}
			_ = s.Renew(ctx, key(), key(), Delta{LastSeen: now, IdleDeadline: now.Add(10 * time.Minute)}, tomb)
		case op < 17:
			require.NoError(t, s.Delete(ctx, key()))
		case op < 18 && step%4 == 0:
			s.Sweep()
		default:
			clock.Advance(time.Duration(rng.IntN(30)) * time.Second)
		}
		require.LessOrEqual(t, s.Len(), 64, "step %d", step)
		total := 0
		for i := range s.shards {
			sh := &s.shards[i]
			sh.mu.RLock()
			memCheckLocked(t, sh)
			total += len(sh.expiry)
			for _, slot := range sh.expiry {
				if slot.expires > expiresAt(slot.e.rec) {
					spared++
				}
			}
			sh.mu.RUnlock()
		}
		require.Equal(t, s.Len(), total, "step %d", step)
	}
	require.NotZero(t, spared, "the operations never spared a record")
	s.Sweep()
	now := nanos(clock.Now())
	for i := range s.shards {
		for _, slot := range s.shards[i].expiry {
			require.Greater(t, slot.expires, now, "%s: Sweep leaves no record whose moment has come", slot.e.key)
		}
	}
}

// BenchmarkMemoryStoreCreateWhenFull: the insert of a new session into a
// store at its WithMaxSessions bound, which evicts one; with "read", every
// other session held was read since its last write, so that evictions pass
// over them.
func BenchmarkMemoryStoreCreateWhenFull(b *testing.B) {
	for _, bench := range []struct {
		name      string
		readEvery int
	}{{"unread", 0}, {"read", 2}} {
		b.Run(bench.name, func(b *testing.B) {
			const held = 1 << 16
			ctx := context.Background()
			clock := newTestClock()
			s := memNewStore(b, clock, WithMaxSessions(held))
			values := ValuesOf(map[string][]byte{"n": []byte("12345")})
			for i := range held {
				key := storeKey(fmt.Sprintf("benchmark-held-id-%09d", i))
				rec := memRec(clock.Now(), time.Hour, "")
				rec.Values = values
				if err := s.Create(ctx, key, rec); err != nil {
					b.Fatal(err)
				}
				if bench.readEvery > 0 && i%bench.readEvery == 0 {
					clock.Advance(time.Millisecond)
					if _, err := s.Load(ctx, key); err != nil {
						b.Fatal(err)
					}
				}
			}
			rec := memRec(clock.Now(), time.Hour, "")
			rec.Values = values
			keys := make([]string, b.N)
			for i := range keys {
				keys[i] = storeKey(fmt.Sprintf("benchmark-session-id-%09d", i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := s.Create(ctx, keys[i], rec); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if s.Len() != held {
				b.Fatalf("%d sessions stored, want %d", s.Len(), held)
			}
		})
	}
}

// TestMemoryStoreCreateExistingWhenFull: a full store must still refuse to
// create a record at a key that holds a live one. Making room must not evict
// the very record whose key is being created.
func TestMemoryStoreCreateExistingWhenFull(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock, WithMaxSessions(2))
	require.NoError(t, s.Create(ctx, "victim", memRec(clock.Now(), 10*time.Minute, "alice", "a", "mine")))
	require.NoError(t, s.Create(ctx, "other", memRec(clock.Now(), time.Hour, "")))

	err := s.Create(ctx, "victim", memRec(clock.Now(), time.Hour, "mallory", "a", "theirs"))
	require.ErrorIs(t, err, ErrExists, "Create on a live key must fail even when the store is full")

	got, err := s.Load(ctx, "victim")
	require.NoError(t, err)
	require.Equal(t, "alice", got.User)
	require.Equal(t, map[string]string{"a": "mine"}, memValues(got))
}

func TestMemoryStoreMaxSessionsEvictsClosestToExpiry(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock, WithMaxSessions(3))
	start := clock.Now()
	require.NoError(t, s.Create(ctx, "active", memRec(start, 10*time.Minute, "")))
	require.NoError(t, s.Create(ctx, "idle1", memRec(start, 10*time.Minute, "")))
	require.NoError(t, s.Create(ctx, "idle2", memRec(start.Add(time.Second), 10*time.Minute, "")))
	require.Equal(t, 3, s.Len())

	// "active" is touched, pushing its idle deadline; the others stay idle.
	clock.Advance(5 * time.Minute)
	require.NoError(t, s.Update(ctx, "active", Delta{LastSeen: clock.Now(), IdleDeadline: clock.Now().Add(10 * time.Minute)}))

	steps := []struct {
		name    string
		create  string
		evicted string
	}{
		{"first create when full evicts the idlest", "new1", "idle1"},
		{"second create evicts the next idlest", "new2", "idle2"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			require.NoError(t, s.Create(ctx, st.create, memRec(clock.Now(), 10*time.Minute, "")))
			require.Equal(t, 3, s.Len())
			_, err := s.Load(ctx, st.evicted)
			require.ErrorIs(t, err, ErrNotFound)
			_, err = s.Load(ctx, "active")
			require.NoError(t, err, "the recently touched session survives")
			_, err = s.Load(ctx, st.create)
			require.NoError(t, err)
		})
	}
}

func TestMemoryStoreMaxSessionsCountsTombstones(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock, WithMaxSessions(3))
	now := clock.Now()
	require.NoError(t, s.Create(ctx, "a", memRec(now, time.Hour, "")))
	require.NoError(t, s.Create(ctx, "b", memRec(now, 2*time.Hour, "")))
	tombExpires := now.Add(time.Minute)
	require.NoError(t, s.Renew(ctx, "b", "b2", Delta{}, &Tombstone{GraceUntil: tombExpires, Expires: tombExpires}))
	require.Equal(t, 3, s.Len(), "a, b2 and the tombstone at b")

	require.NoError(t, s.Create(ctx, "c", memRec(now, time.Hour, "")))
	require.Equal(t, 3, s.Len())
	_, err := s.Load(ctx, "b")
	require.ErrorIs(t, err, ErrNotFound, "the tombstone was closest to expiry")
	for _, k := range []string{"a", "b2", "c"} {
		_, err := s.Load(ctx, k)
		require.NoError(t, err, k)
	}
}

// TestMemoryStoreRenewWhenFullKeepsSession: renewing a session of a full
// store (which needs room for its tombstone) must not evict the session
// being renewed, even when it is the one closest to expiry.
func TestMemoryStoreRenewWhenFullKeepsSession(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock, WithMaxSessions(2))
	now := clock.Now()
	require.NoError(t, s.Create(ctx, "renewing", memRec(now, 5*time.Minute, "alice", "cart", "full")))
	require.NoError(t, s.Create(ctx, "other", memRec(now, time.Hour, "bob")))

	tombExpires := now.Add(5 * time.Second)
	d := Delta{LastSeen: now, IdleDeadline: now.Add(30 * time.Minute), IssuedAt: now}
	err := s.Renew(ctx, "renewing", "renewed", d, &Tombstone{GraceUntil: tombExpires, Expires: tombExpires})
	require.NoError(t, err, "the session being renewed must not be evicted to make room for its own tombstone")

	got, err := s.Load(ctx, "renewed")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"cart": "full"}, memValues(got))
	require.LessOrEqual(t, s.Len(), 2)
}

// TestMemoryStoreMaxSessionsSparesRecordJustWritten: when a write makes
// the store too full, the record it wrote is never the one evicted, even if
// it is the one closest to expiry.
func TestMemoryStoreMaxSessionsSparesRecordJustWritten(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		write     func(t *testing.T, s *MemoryStore, now time.Time)
		wantGone  []string
		wantAlive []string
	}{
		{
			name: "create of a short-lived record",
			write: func(t *testing.T, s *MemoryStore, now time.Time) {
				require.NoError(t, s.Create(ctx, "short", memRec(now, time.Second, "")))
			},
			wantGone:  []string{"a"},
			wantAlive: []string{"short", "b"},
		},
		{
			name: "renew to a short deadline drops the tombstone first",
			write: func(t *testing.T, s *MemoryStore, now time.Time) {
				tombExpires := now.Add(time.Minute)
				d := Delta{IdleDeadline: now.Add(10 * time.Second)}
				require.NoError(t, s.Renew(ctx, "a", "a2", d, &Tombstone{GraceUntil: tombExpires, Expires: tombExpires}))
			},
			wantGone:  []string{"a"},
			wantAlive: []string{"a2", "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			s := memNewStore(t, clock, WithMaxSessions(2))
			now := clock.Now()
			require.NoError(t, s.Create(ctx, "a", memRec(now, time.Hour, "")))
			require.NoError(t, s.Create(ctx, "b", memRec(now, 2*time.Hour, "")))

			tt.write(t, s, now)
			require.Equal(t, 2, s.Len())
			for _, k := range tt.wantGone {
				_, err := s.Load(ctx, k)
				require.ErrorIs(t, err, ErrNotFound, k)
			}
			for _, k := range tt.wantAlive {
				_, err := s.Load(ctx, k)
				require.NoError(t, err, k)
			}
		})
	}
}

// BenchmarkMemoryStoreCreate: the manager's insert of a new session into a
// store that grows by one session per operation, as in a stream of new
// visitors; the keys are made before the timer starts.
func BenchmarkMemoryStoreCreate(b *testing.B) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(b, clock)
	now := clock.Now()
	rec := memRec(now, time.Hour, "", "n", "12345")
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = storeKey(fmt.Sprintf("benchmark-session-id-%09d", i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.Create(ctx, keys[i], rec); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if s.Len() != b.N {
		b.Fatalf("%d sessions stored, want %d", s.Len(), b.N)
	}
}

// TestExpiryHeapKeepsOrderAndIndexes drives the heap with random pushes,
// removals and expiry changes, checking after each step that every parent
// expires no later than its children and that every entry knows its slot.
func TestExpiryHeapKeepsOrderAndIndexes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h expiryHeap
	var live []*memEntry
	for step := range 3000 {
		switch op := rng.IntN(10); {
		case op < 5 || len(live) == 0:
			e := &memEntry{rec: heapRec(rng.Int64N(1000))}
			h.push(e)
			live = append(live, e)
		case op < 8:
			i := rng.IntN(len(live))
			h.remove(live[i].index)
			live = append(live[:i], live[i+1:]...)
		default:
			e := live[rng.IntN(len(live))]
			e.rec = heapRec(rng.Int64N(1000))
			h[e.index].expires = expiresAt(e.rec)
			h.fix(e.index)
		}
		require.Len(t, h, len(live), "step %d", step)
		for i, slot := range h {
			if slot.e.index != i || slot.expires != expiresAt(slot.e.rec) {
				t.Fatalf("step %d: slot %d holds index %d, expiry %d for a record expiring at %d", step, i, slot.e.index, slot.expires, expiresAt(slot.e.rec))
			}
			if i > 0 && h[(i-1)/2].expires > slot.expires {
				t.Fatalf("step %d: slot %d expires before its parent", step, i)
			}
		}
	}
	// Popping the root in turn yields the expiries in order.
	prev := int64(-1)
	for len(h) > 0 {
		require.LessOrEqual(t, prev, h[0].expires)
		prev = h[0].expires
		h.remove(0)
	}
}

// heapRec returns a record that expires at the Unix nanosecond n.
func heapRec(n int64) *Record {
	return &Record{IdleDeadline: time.Unix(0, n), AbsoluteDeadline: time.Unix(0, 1<<62)}
}
