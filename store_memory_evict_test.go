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
// eviction never keeps it past its own deadline: the sweeper removes it as
// soon as it expires, before the sessions that outlive it.
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
	_, err := s.Load(ctx, "reader")
	require.NoError(t, err)
	memFill(t, s, "flood", 5, clock.Now(), idle)
	_, err = s.Load(ctx, "reader")
	require.NoError(t, err, "spared by the flood")

	memAdvanceTo(clock, start.Add(idle))
	require.Equal(t, 1, s.Sweep(), "the reader expired at its idle deadline, whatever it was spared for")
	got, err := s.Load(ctx, "reader")
	require.ErrorIs(t, err, ErrNotFound)
	require.Nil(t, got)
	require.Equal(t, 9, s.Len())
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
// the heap, whose key is its record's expiry, or a later one exactly when
// the entry is in the late list.
func memCheckLocked(t *testing.T, sh *memShard) {
	t.Helper()
	for i, slot := range sh.expiry {
		e := slot.e
		require.Equal(t, i, e.index)
		require.Same(t, e, sh.get(maphashOf(t, sh, e), e.key), "a heap slot of a removed entry")
		if e.late == 0 {
			require.Equal(t, e.rec.expires(), slot.expires, "%s: slot of an entry not in the late list", e.key)
		} else {
			require.Same(t, e, sh.late[e.late-1])
			require.Greater(t, slot.expires, e.rec.expires(), "%s: slot of a late entry", e.key)
		}
	}
	require.Len(t, sh.allEntriesLocked(), len(sh.expiry))
	for i, e := range sh.late {
		require.Equal(t, i+1, e.late)
	}
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
// heap and late list agree with its entries.
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
			tomb := &Tombstone{GraceUntil: now.Add(time.Minute)}
			_ = s.Renew(ctx, key(), key(), Delta{LastSeen: now, IdleDeadline: now.Add(10 * time.Minute)}, tomb, now.Add(time.Minute))
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
			spared += len(sh.late)
			sh.mu.RUnlock()
		}
		require.Equal(t, s.Len(), total, "step %d", step)
	}
	require.NotZero(t, spared, "the operations never spared a record")
	s.Sweep()
	now := clock.Now()
	for _, e := range s.allEntries() {
		require.Greater(t, e.rec.expires(), nanos(now), "%s: Sweep leaves no expired record", e.key)
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
			values := applyValues(nil, &Delta{Set: map[string][]byte{"n": []byte("12345")}})
			for i := range held {
				key := storeKey(fmt.Sprintf("benchmark-held-id-%09d", i))
				if err := s.createCompact(ctx, key, memRec(clock.Now(), time.Hour, ""), values); err != nil {
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
			keys := make([]string, b.N)
			for i := range keys {
				keys[i] = storeKey(fmt.Sprintf("benchmark-session-id-%09d", i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := s.createCompact(ctx, keys[i], rec, values); err != nil {
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
