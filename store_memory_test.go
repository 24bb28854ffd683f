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
		Values:           values,
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
	out := make(map[string]string, len(rec.Values))
	for k, v := range rec.Values {
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

func TestMemoryStoreLoadMissing(t *testing.T) {
	ctx := context.Background()
	s := memNewStore(t, newTestClock())
	for _, key := range []string{"", "nope", "k1"} {
		t.Run(fmt.Sprintf("key=%q", key), func(t *testing.T) {
			rec, err := s.Load(ctx, key)
			require.ErrorIs(t, err, ErrNotFound)
			require.Nil(t, rec)
		})
	}
}

func TestMemoryStoreCreateThenLoad(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	tests := []struct {
		name string
		rec  *Record
	}{
		{"anonymous without values", memRec(clock.Now(), time.Hour, "")},
		{"anonymous with values", memRec(clock.Now(), time.Hour, "", "a", "1", "b", "2")},
		{"with user", memRec(clock.Now(), time.Hour, "alice", "cart", "3 items")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := memNewStore(t, clock)
			require.NoError(t, s.Create(ctx, "key", tt.rec))
			require.Equal(t, 1, s.Len())

			got, err := s.Load(ctx, "key")
			require.NoError(t, err)
			require.Equal(t, tt.rec.User, got.User)
			require.Equal(t, memValues(tt.rec), memValues(got))
			require.True(t, tt.rec.IdleDeadline.Equal(got.IdleDeadline))
			require.True(t, tt.rec.AbsoluteDeadline.Equal(got.AbsoluteDeadline))
			require.Equal(t, tt.rec.UserAgent, got.UserAgent)
			require.Nil(t, got.Tombstone)

			_, err = s.Load(ctx, "other")
			require.ErrorIs(t, err, ErrNotFound)
		})
	}
}

func TestMemoryStoreCreateExisting(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	require.NoError(t, s.Create(ctx, "key", memRec(clock.Now(), time.Hour, "alice", "a", "first")))

	err := s.Create(ctx, "key", memRec(clock.Now(), time.Hour, "bob", "a", "second"))
	require.ErrorIs(t, err, ErrExists)

	got, err := s.Load(ctx, "key")
	require.NoError(t, err)
	require.Equal(t, "alice", got.User, "a failed Create must not replace the record")
	require.Equal(t, map[string]string{"a": "first"}, memValues(got))
	require.Equal(t, 1, s.Len())
	require.Empty(t, memUserKeys(t, s, "bob"))
}

func TestMemoryStoreCreateOverExpiredRecord(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	require.NoError(t, s.Create(ctx, "key", memRec(clock.Now(), time.Minute, "alice", "a", "old")))
	clock.Advance(2 * time.Minute)

	require.NoError(t, s.Create(ctx, "key", memRec(clock.Now(), time.Hour, "bob", "a", "new")),
		"an expired record is not live and must not block Create")
	got, err := s.Load(ctx, "key")
	require.NoError(t, err)
	require.Equal(t, "bob", got.User)
	require.Equal(t, 1, s.Len())
	require.Equal(t, 0, memIndexSize(s, "alice"), "the expired record must leave the user index")
	require.Equal(t, []string{"key"}, memUserKeys(t, s, "bob"))
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

func TestMemoryStoreUpdate(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	now := clock.Now()
	later := now.Add(5 * time.Minute)
	tests := []struct {
		name       string
		delta      Delta
		wantValues map[string]string
		wantUser   string
		check      func(t *testing.T, got *Record)
	}{
		{
			name:       "set changes only the named keys",
			delta:      Delta{Set: map[string][]byte{"b": []byte("B"), "new": []byte("N")}},
			wantValues: map[string]string{"a": "1", "b": "B", "c": "3", "new": "N"},
			wantUser:   "alice",
		},
		{
			name:       "delete removes only the named keys",
			delta:      Delta{Delete: []string{"a", "missing"}},
			wantValues: map[string]string{"b": "2", "c": "3"},
			wantUser:   "alice",
		},
		{
			name:       "clear removes every value",
			delta:      Delta{Clear: true},
			wantValues: map[string]string{},
			wantUser:   "alice",
		},
		{
			name:       "clear then set",
			delta:      Delta{Clear: true, Set: map[string][]byte{"x": []byte("X")}},
			wantValues: map[string]string{"x": "X"},
			wantUser:   "alice",
		},
		{
			name:       "delete then set of the same key keeps the set",
			delta:      Delta{Delete: []string{"a"}, Set: map[string][]byte{"a": []byte("again")}},
			wantValues: map[string]string{"a": "again", "b": "2", "c": "3"},
			wantUser:   "alice",
		},
		{
			name:       "user change",
			delta:      Delta{User: memStrPtr("bob")},
			wantValues: map[string]string{"a": "1", "b": "2", "c": "3"},
			wantUser:   "bob",
		},
		{
			name:       "user cleared",
			delta:      Delta{User: memStrPtr("")},
			wantValues: map[string]string{"a": "1", "b": "2", "c": "3"},
			wantUser:   "",
		},
		{
			name:       "touch moves LastSeen, IdleDeadline and IssuedAt only",
			delta:      Delta{LastSeen: later, IdleDeadline: later.Add(time.Hour), IssuedAt: later},
			wantValues: map[string]string{"a": "1", "b": "2", "c": "3"},
			wantUser:   "alice",
			check: func(t *testing.T, got *Record) {
				require.True(t, got.LastSeen.Equal(later))
				require.True(t, got.IdleDeadline.Equal(later.Add(time.Hour)))
				require.True(t, got.IssuedAt.Equal(later))
				require.True(t, got.CreatedAt.Equal(now), "CreatedAt is never changed by a delta")
				require.True(t, got.AbsoluteDeadline.Equal(now.Add(12*time.Hour)))
			},
		},
		{
			name:       "zero delta changes nothing",
			delta:      Delta{},
			wantValues: map[string]string{"a": "1", "b": "2", "c": "3"},
			wantUser:   "alice",
			check: func(t *testing.T, got *Record) {
				require.True(t, got.LastSeen.Equal(now))
				require.True(t, got.IdleDeadline.Equal(now.Add(time.Hour)))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := memNewStore(t, clock)
			require.NoError(t, s.Create(ctx, "key", memRec(now, time.Hour, "alice", "a", "1", "b", "2", "c", "3")))

			require.NoError(t, s.Update(ctx, "key", tt.delta))

			got, err := s.Load(ctx, "key")
			require.NoError(t, err)
			require.Equal(t, tt.wantValues, memValues(got))
			require.Equal(t, tt.wantUser, got.User)
			require.Equal(t, 1, s.Len())
			if tt.check != nil {
				tt.check(t, got)
			}
			// The user index follows the record's user.
			for _, u := range []string{"alice", "bob"} {
				if u == tt.wantUser {
					require.Equal(t, []string{"key"}, memUserKeys(t, s, u))
					require.Equal(t, 1, memIndexSize(s, u))
				} else {
					require.Empty(t, memUserKeys(t, s, u))
					require.Equal(t, 0, memIndexSize(s, u), "the old user must leave the index")
				}
			}
		})
	}
}

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

func TestMemoryStoreUpdateMissingNeverResurrects(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, s *MemoryStore, clock *testClock)
	}{
		{"never created", func(t *testing.T, s *MemoryStore, clock *testClock) {}},
		{"deleted", func(t *testing.T, s *MemoryStore, clock *testClock) {
			require.NoError(t, s.Create(ctx, "key", memRec(clock.Now(), time.Hour, "alice", "a", "1")))
			require.NoError(t, s.Delete(ctx, "key"))
		}},
		{"expired", func(t *testing.T, s *MemoryStore, clock *testClock) {
			require.NoError(t, s.Create(ctx, "key", memRec(clock.Now(), time.Minute, "alice", "a", "1")))
			clock.Advance(time.Minute)
		}},
		{"deleted by DeleteUser", func(t *testing.T, s *MemoryStore, clock *testClock) {
			require.NoError(t, s.Create(ctx, "key", memRec(clock.Now(), time.Hour, "alice", "a", "1")))
			n, err := s.DeleteUser(ctx, "alice")
			require.NoError(t, err)
			require.Equal(t, 1, n)
		}},
		{"renewed away without tombstone", func(t *testing.T, s *MemoryStore, clock *testClock) {
			require.NoError(t, s.Create(ctx, "key", memRec(clock.Now(), time.Hour, "alice", "a", "1")))
			require.NoError(t, s.Renew(ctx, "key", "elsewhere", Delta{}, nil, time.Time{}))
			require.NoError(t, s.Delete(ctx, "elsewhere"))
		}},
		{"renewed away leaving a tombstone", func(t *testing.T, s *MemoryStore, clock *testClock) {
			require.NoError(t, s.Create(ctx, "key", memRec(clock.Now(), time.Hour, "alice", "a", "1")))
			tomb := &Tombstone{GraceUntil: clock.Now().Add(time.Minute)}
			require.NoError(t, s.Renew(ctx, "key", "elsewhere", Delta{}, tomb, clock.Now().Add(time.Minute)))
			require.NoError(t, s.Delete(ctx, "elsewhere"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			s := memNewStore(t, clock)
			tt.setup(t, s, clock)
			before, err := s.Load(ctx, "key")
			if err == nil {
				require.True(t, before.Tombstone != nil || !before.ExpiresAt().After(clock.Now()),
					"only a tombstone or an expired record may remain")
			}
			lenBefore := s.Len()

			err = s.Update(ctx, "key", Delta{
				Set:          map[string][]byte{"a": []byte("resurrected")},
				User:         memStrPtr("alice"),
				IdleDeadline: clock.Now().Add(time.Hour),
				LastSeen:     clock.Now(),
			})
			require.ErrorIs(t, err, ErrNotFound)

			after, err := s.Load(ctx, "key")
			if before == nil {
				require.ErrorIs(t, err, ErrNotFound, "Update must never create a record")
			} else {
				require.NoError(t, err)
				require.Equal(t, before, after, "a tombstone or an expired record must not be changed by Update")
				require.NotEqual(t, "resurrected", string(after.Values["a"]))
			}
			require.LessOrEqual(t, s.Len(), lenBefore)
			require.Empty(t, memUserKeys(t, s, "alice"))
		})
	}
}

func TestMemoryStoreDeleteIdempotent(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	require.NoError(t, s.Create(ctx, "key", memRec(clock.Now(), time.Hour, "alice")))
	require.NoError(t, s.Create(ctx, "keep", memRec(clock.Now(), time.Hour, "alice")))

	for i := range 3 {
		t.Run(fmt.Sprintf("delete #%d", i+1), func(t *testing.T) {
			require.NoError(t, s.Delete(ctx, "key"))
			_, err := s.Load(ctx, "key")
			require.ErrorIs(t, err, ErrNotFound)
			require.Equal(t, 1, s.Len(), "other records are untouched")
			require.Equal(t, []string{"keep"}, memUserKeys(t, s, "alice"))
		})
	}
	t.Run("never existed", func(t *testing.T) {
		require.NoError(t, s.Delete(ctx, "never"))
		require.Equal(t, 1, s.Len())
	})
}

// memRenewChain creates a session of alice at keys[0] and renews it along
// keys, leaving at each old key a tombstone whose Next is the new key.
func memRenewChain(t *testing.T, s *MemoryStore, now time.Time, keys ...string) {
	t.Helper()
	require.NoError(t, s.Create(context.Background(), keys[0], memRec(now, time.Hour, "alice", "k", "v")))
	for i := 1; i < len(keys); i++ {
		tomb := &Tombstone{Next: keys[i], GraceUntil: now.Add(time.Minute)}
		require.NoError(t, s.Renew(context.Background(), keys[i-1], keys[i], Delta{}, tomb, now.Add(time.Minute)))
	}
}

func TestMemoryStoreDeleteFollowsRenewals(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		setup     func(t *testing.T, s *MemoryStore, now time.Time)
		delete    string
		wantGone  []string
		wantAlive []string
	}{
		{
			name: "a live record is deleted alone",
			setup: func(t *testing.T, s *MemoryStore, now time.Time) {
				require.NoError(t, s.Create(ctx, "a", memRec(now, time.Hour, "alice")))
				require.NoError(t, s.Create(ctx, "b", memRec(now, time.Hour, "alice")))
			},
			delete:    "a",
			wantGone:  []string{"a"},
			wantAlive: []string{"b"},
		},
		{
			name:     "a tombstone leads to the renewed session",
			setup:    func(t *testing.T, s *MemoryStore, now time.Time) { memRenewChain(t, s, now, "a", "b") },
			delete:   "a",
			wantGone: []string{"a", "b"},
		},
		{
			name:     "a chain of renewals is followed to its end",
			setup:    func(t *testing.T, s *MemoryStore, now time.Time) { memRenewChain(t, s, now, "a", "b", "c", "d") },
			delete:   "a",
			wantGone: []string{"a", "b", "c", "d"},
		},
		{
			name:      "deleting mid-chain leaves the earlier tombstones",
			setup:     func(t *testing.T, s *MemoryStore, now time.Time) { memRenewChain(t, s, now, "a", "b", "c") },
			delete:    "b",
			wantGone:  []string{"b", "c"},
			wantAlive: []string{"a"},
		},
		{
			name: "a tombstone without Next is deleted alone",
			setup: func(t *testing.T, s *MemoryStore, now time.Time) {
				require.NoError(t, s.Create(ctx, "a", memRec(now, time.Hour, "alice")))
				tomb := &Tombstone{GraceUntil: now.Add(time.Minute)}
				require.NoError(t, s.Renew(ctx, "a", "b", Delta{}, tomb, now.Add(time.Minute)))
			},
			delete:    "a",
			wantGone:  []string{"a"},
			wantAlive: []string{"b"},
		},
		{
			name: "a tombstone pointing at itself ends the walk",
			setup: func(t *testing.T, s *MemoryStore, now time.Time) {
				require.NoError(t, s.Create(ctx, "a", memRec(now, time.Hour, "alice")))
				tomb := &Tombstone{Next: "a", GraceUntil: now.Add(time.Minute)}
				require.NoError(t, s.Renew(ctx, "a", "b", Delta{}, tomb, now.Add(time.Minute)))
			},
			delete:    "a",
			wantGone:  []string{"a"},
			wantAlive: []string{"b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			s := memNewStore(t, clock)
			tt.setup(t, s, clock.Now())
			require.NoError(t, s.Delete(ctx, tt.delete))
			for _, k := range tt.wantGone {
				_, err := s.Load(ctx, k)
				require.ErrorIs(t, err, ErrNotFound, k)
			}
			for _, k := range tt.wantAlive {
				_, err := s.Load(ctx, k)
				require.NoError(t, err, k)
			}
			require.Equal(t, len(tt.wantAlive), s.Len())
			require.NoError(t, s.Delete(ctx, tt.delete), "still idempotent")
			require.Equal(t, len(tt.wantAlive), s.Len())
		})
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

func TestMemoryStoreRenew(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		tomb bool
	}{
		{"without tombstone", false},
		{"with tombstone", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			s := memNewStore(t, clock)
			now := clock.Now()
			require.NoError(t, s.Create(ctx, "old", memRec(now, time.Hour, "alice", "a", "1", "b", "2")))

			issued := now.Add(time.Second)
			d := Delta{Set: map[string][]byte{"b": []byte("B")}, IssuedAt: issued, IdleDeadline: now.Add(2 * time.Hour)}
			var tomb *Tombstone
			tombExpires := now.Add(30 * time.Second)
			if tt.tomb {
				tomb = &Tombstone{Successor: []byte("sealed"), GraceUntil: tombExpires}
			}
			require.NoError(t, s.Renew(ctx, "old", "new", d, tomb, tombExpires))

			got, err := s.Load(ctx, "new")
			require.NoError(t, err)
			require.Equal(t, map[string]string{"a": "1", "b": "B"}, memValues(got), "the delta is applied on the way")
			require.Equal(t, "alice", got.User)
			require.True(t, got.IssuedAt.Equal(issued))
			require.True(t, got.IdleDeadline.Equal(now.Add(2*time.Hour)))
			require.True(t, got.CreatedAt.Equal(now))
			require.Nil(t, got.Tombstone)
			require.Equal(t, []string{"new"}, memUserKeys(t, s, "alice"), "the user index moves to the new key")
			require.Equal(t, 1, memIndexSize(s, "alice"))

			atOld, err := s.Load(ctx, "old")
			if !tt.tomb {
				require.ErrorIs(t, err, ErrNotFound, "nothing may be left at the old key")
				require.Equal(t, 1, s.Len())
				return
			}
			require.NoError(t, err)
			require.NotNil(t, atOld.Tombstone)
			require.Equal(t, []byte("sealed"), atOld.Tombstone.Successor)
			require.Empty(t, atOld.Values)
			require.Empty(t, atOld.User)
			require.True(t, atOld.IdleDeadline.Equal(tombExpires))
			require.True(t, atOld.AbsoluteDeadline.Equal(tombExpires))
			require.Equal(t, 2, s.Len())

			require.ErrorIs(t, s.Update(ctx, "old", Delta{Set: map[string][]byte{"x": []byte("x")}}), ErrNotFound)
			require.ErrorIs(t, s.Renew(ctx, "old", "newer", Delta{}, nil, time.Time{}), ErrNotFound)
			_, err = s.Load(ctx, "newer")
			require.ErrorIs(t, err, ErrNotFound)
			require.ErrorIs(t, s.Create(ctx, "old", memRec(now, time.Hour, "")), ErrExists,
				"a live tombstone still occupies its key")

			n, err := s.DeleteUser(ctx, "alice")
			require.NoError(t, err)
			require.Equal(t, 1, n, "the tombstone is not a session of the user")

			clock.Advance(30 * time.Second)
			_, err = s.Load(ctx, "old")
			require.ErrorIs(t, err, ErrNotFound, "the tombstone expires at tombExpires")
		})
	}
}

func TestMemoryStoreRenewFailures(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		setup   func(t *testing.T, s *MemoryStore, clock *testClock)
		oldKey  string
		newKey  string
		wantErr error
	}{
		{
			name:    "missing old key",
			setup:   func(t *testing.T, s *MemoryStore, clock *testClock) {},
			oldKey:  "old",
			newKey:  "new",
			wantErr: ErrNotFound,
		},
		{
			name: "expired old key",
			setup: func(t *testing.T, s *MemoryStore, clock *testClock) {
				require.NoError(t, s.Create(ctx, "old", memRec(clock.Now(), time.Minute, "alice", "a", "1")))
				clock.Advance(2 * time.Minute)
			},
			oldKey:  "old",
			newKey:  "new",
			wantErr: ErrNotFound,
		},
		{
			name: "new key holds a live record",
			setup: func(t *testing.T, s *MemoryStore, clock *testClock) {
				require.NoError(t, s.Create(ctx, "old", memRec(clock.Now(), time.Hour, "alice", "a", "1")))
				require.NoError(t, s.Create(ctx, "new", memRec(clock.Now(), time.Hour, "bob", "a", "2")))
			},
			oldKey:  "old",
			newKey:  "new",
			wantErr: ErrExists,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			s := memNewStore(t, clock)
			tt.setup(t, s, clock)
			oldBefore, _ := s.Load(ctx, tt.oldKey)
			newBefore, _ := s.Load(ctx, tt.newKey)

			tomb := &Tombstone{GraceUntil: clock.Now().Add(time.Minute)}
			err := s.Renew(ctx, tt.oldKey, tt.newKey, Delta{Set: map[string][]byte{"a": []byte("changed")}}, tomb, clock.Now().Add(time.Minute))
			require.ErrorIs(t, err, tt.wantErr)

			// A failed Renew changes nothing.
			oldAfter, _ := s.Load(ctx, tt.oldKey)
			newAfter, _ := s.Load(ctx, tt.newKey)
			require.Equal(t, oldBefore, oldAfter)
			require.Equal(t, newBefore, newAfter)
		})
	}
}

// TestMemoryStoreRenewOverExpiredNewKey: an expired record at the new key
// is not live, so Renew may take its place.
func TestMemoryStoreRenewOverExpiredNewKey(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	require.NoError(t, s.Create(ctx, "new", memRec(clock.Now(), time.Minute, "bob")))
	clock.Advance(2 * time.Minute)
	require.NoError(t, s.Create(ctx, "old", memRec(clock.Now(), time.Hour, "alice", "a", "1")))

	require.NoError(t, s.Renew(ctx, "old", "new", Delta{}, nil, time.Time{}))
	got, err := s.Load(ctx, "new")
	require.NoError(t, err)
	require.Equal(t, "alice", got.User)
	require.Equal(t, 1, s.Len())
	require.Equal(t, 0, memIndexSize(s, "bob"))
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
	require.NoError(t, s.Renew(ctx, "a", "b", Delta{}, &Tombstone{GraceUntil: tombExpires}, tombExpires))
	require.NoError(t, s.Create(ctx, "c", memRec(now, time.Hour, "carol", "k", "v")))
	require.Equal(t, 3, s.Len())

	err := s.Renew(ctx, "c", "a", Delta{}, nil, time.Time{})
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
			errs[i] = s.Renew(ctx, "old", fmt.Sprintf("new%d", i), Delta{}, nil, time.Time{})
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
			require.ErrorIs(t, s.Renew(ctx, "key", "new", Delta{}, nil, time.Time{}), ErrNotFound, "Renew must not revive it")
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
	require.NoError(t, s.Renew(ctx, "old", "new", Delta{}, tomb, now.Add(time.Minute)))
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
	require.NoError(t, s.Renew(ctx, "b", "b2", Delta{}, &Tombstone{GraceUntil: tombExpires}, tombExpires))
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
	err := s.Renew(ctx, "renewing", "renewed", d, &Tombstone{GraceUntil: tombExpires}, tombExpires)
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
				require.NoError(t, s.Renew(ctx, "a", "a2", d, &Tombstone{GraceUntil: tombExpires}, tombExpires))
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

func TestMemoryStoreUserIndex(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	now := clock.Now()
	require.NoError(t, s.Create(ctx, "a1", memRec(now, time.Hour, "alice", "n", "1")))
	require.NoError(t, s.Create(ctx, "a2", memRec(now, time.Hour, "alice", "n", "2")))
	require.NoError(t, s.Create(ctx, "a3", memRec(now, 10*time.Minute, "alice", "n", "3")))
	require.NoError(t, s.Create(ctx, "a4", memRec(now, time.Hour, "alice", "n", "4")))
	require.NoError(t, s.Create(ctx, "b1", memRec(now, time.Hour, "bob")))
	require.NoError(t, s.Create(ctx, "anon", memRec(now, time.Hour, "")))

	t.Run("lists every live session of the user", func(t *testing.T) {
		require.ElementsMatch(t, []string{"a1", "a2", "a3", "a4"}, memUserKeys(t, s, "alice"))
		require.ElementsMatch(t, []string{"b1"}, memUserKeys(t, s, "bob"))
		require.Empty(t, memUserKeys(t, s, "nobody"))
		krs, err := s.UserSessions(ctx, "alice")
		require.NoError(t, err)
		for _, kr := range krs {
			got, err := s.Load(ctx, kr.Key)
			require.NoError(t, err)
			require.Equal(t, got, kr.Record)
		}
	})
	t.Run("anonymous sessions are not indexed", func(t *testing.T) {
		require.Empty(t, memUserKeys(t, s, ""))
		require.Equal(t, 0, memIndexSize(s, ""))
	})
	t.Run("deleted session leaves the index", func(t *testing.T) {
		require.NoError(t, s.Delete(ctx, "a1"))
		require.ElementsMatch(t, []string{"a2", "a3", "a4"}, memUserKeys(t, s, "alice"))
		require.Equal(t, 3, memIndexSize(s, "alice"))
	})
	t.Run("expired session is not listed", func(t *testing.T) {
		clock.Advance(10 * time.Minute)
		require.ElementsMatch(t, []string{"a2", "a4"}, memUserKeys(t, s, "alice"))
	})
	t.Run("user change moves the session between users", func(t *testing.T) {
		require.NoError(t, s.Update(ctx, "a4", Delta{User: memStrPtr("bob")}))
		require.ElementsMatch(t, []string{"a2"}, memUserKeys(t, s, "alice"))
		require.ElementsMatch(t, []string{"b1", "a4"}, memUserKeys(t, s, "bob"))
	})
	t.Run("DeleteUser removes all and counts the live ones", func(t *testing.T) {
		n, err := s.DeleteUser(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, 1, n, "a2 is live; a3 had expired")
		require.Empty(t, memUserKeys(t, s, "alice"))
		require.Equal(t, 0, memIndexSize(s, "alice"), "expired records also leave the index")
		_, err = s.Load(ctx, "a2")
		require.ErrorIs(t, err, ErrNotFound)
		require.ElementsMatch(t, []string{"b1", "a4"}, memUserKeys(t, s, "bob"), "other users are untouched")
		_, err = s.Load(ctx, "anon")
		require.NoError(t, err)
		require.Equal(t, 3, s.Len())
	})
	t.Run("DeleteUser again and of unknown users finds nothing", func(t *testing.T) {
		for _, u := range []string{"alice", "nobody", ""} {
			n, err := s.DeleteUser(ctx, u)
			require.NoError(t, err)
			require.Equal(t, 0, n, u)
		}
		_, err := s.Load(ctx, "anon")
		require.NoError(t, err, "DeleteUser(\"\") must not delete anonymous sessions")
		require.Equal(t, 3, s.Len())
	})
	t.Run("sweep drops expired records from the index", func(t *testing.T) {
		clock.Advance(time.Hour)
		require.Equal(t, 3, s.Sweep())
		require.Equal(t, 0, memIndexSize(s, "bob"))
		s.usersMu.Lock()
		defer s.usersMu.Unlock()
		require.Empty(t, s.users, "no user index entry may outlive its records")
	})
}

func TestMemoryStoreHonoursCancelledContext(t *testing.T) {
	clock := newTestClock()
	s := memNewStore(t, clock)
	bg := context.Background()
	require.NoError(t, s.Create(bg, "key", memRec(clock.Now(), time.Hour, "alice", "a", "1")))

	cancelled, cancel := context.WithCancel(bg)
	cancel()
	expired, cancel2 := context.WithDeadline(bg, time.Unix(0, 0))
	defer cancel2()

	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Load", func(ctx context.Context) error { _, err := s.Load(ctx, "key"); return err }},
		{"Create", func(ctx context.Context) error {
			return s.Create(ctx, "fresh", memRec(clock.Now(), time.Hour, "alice"))
		}},
		{"Update", func(ctx context.Context) error {
			return s.Update(ctx, "key", Delta{Set: map[string][]byte{"a": []byte("changed")}})
		}},
		{"Delete", func(ctx context.Context) error { return s.Delete(ctx, "key") }},
		{"Renew", func(ctx context.Context) error { return s.Renew(ctx, "key", "renewed", Delta{}, nil, time.Time{}) }},
		{"UserSessions", func(ctx context.Context) error { _, err := s.UserSessions(ctx, "alice"); return err }},
		{"DeleteUser", func(ctx context.Context) error { _, err := s.DeleteUser(ctx, "alice"); return err }},
	}
	contexts := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"deadline exceeded", expired, context.DeadlineExceeded},
	}
	for _, c := range contexts {
		for _, call := range calls {
			t.Run(c.name+"/"+call.name, func(t *testing.T) {
				require.ErrorIs(t, call.call(c.ctx), c.want)
			})
		}
	}

	// None of the calls above changed anything.
	got, err := s.Load(bg, "key")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "1"}, memValues(got))
	require.Equal(t, 1, s.Len())
	_, err = s.Load(bg, "fresh")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.Load(bg, "renewed")
	require.ErrorIs(t, err, ErrNotFound)
}

func TestMemoryStoreConcurrentUpdatesAllKept(t *testing.T) {
	ctx := context.Background()
	const workers, perWorker = 16, 25
	t.Run("different values of one record", func(t *testing.T) {
		clock := newTestClock()
		s := memNewStore(t, clock)
		require.NoError(t, s.Create(ctx, "key", memRec(clock.Now(), time.Hour, "")))
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWorker {
					k := fmt.Sprintf("w%d-%d", w, i)
					assert.NoError(t, s.Update(ctx, "key", Delta{Set: map[string][]byte{k: []byte(k)}}))
				}
			}()
		}
		wg.Wait()
		got, err := s.Load(ctx, "key")
		require.NoError(t, err)
		require.Len(t, got.Values, workers*perWorker, "every concurrent change must be kept")
		for k, v := range got.Values {
			require.Equal(t, k, string(v))
		}
	})
	t.Run("different records", func(t *testing.T) {
		clock := newTestClock()
		s := memNewStore(t, clock)
		for w := range workers {
			require.NoError(t, s.Create(ctx, fmt.Sprintf("key%d", w), memRec(clock.Now(), time.Hour, "")))
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := fmt.Sprintf("key%d", w)
				for i := range perWorker {
					assert.NoError(t, s.Update(ctx, key, Delta{Set: map[string][]byte{fmt.Sprint(i): []byte(key)}}))
					_, err := s.Load(ctx, key)
					assert.NoError(t, err)
				}
			}()
		}
		wg.Wait()
		for w := range workers {
			got, err := s.Load(ctx, fmt.Sprintf("key%d", w))
			require.NoError(t, err)
			require.Len(t, got.Values, perWorker)
		}
	})
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
				_ = s.Renew(ctx, key, fmt.Sprintf("r%d-%d", w, i), Delta{}, tomb, clock.Now().Add(time.Minute))
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
			require.Equal(t, e.rec.expires(), sh.expiry[e.index].expires, "heap expiry of %s", e.key)
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
			require.NoError(t, s.Renew(ctx, "key", "key2", Delta{Set: map[string][]byte{"b": []byte("renewed")}}, tomb, now.Add(time.Minute)))

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

// BenchmarkMemoryStoreCreate: the manager's insert of a new session into a
// store that grows by one session per operation, as in a stream of new
// visitors; the keys are made before the timer starts.
func BenchmarkMemoryStoreCreate(b *testing.B) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(b, clock)
	now := clock.Now()
	rec := memRec(now, time.Hour, "")
	values := applyValues(nil, &Delta{Set: map[string][]byte{"n": []byte("12345")}})
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
	if s.Len() != b.N {
		b.Fatalf("%d sessions stored, want %d", s.Len(), b.N)
	}
}
