// Package storetest checks that a session.Store keeps the rules of the Store
// contract. Every store of this module passes it, and authors of other
// stores can run it from their own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) session.Store { return newStoreForTest(t) })
//	}
//
// newStore is called once per subtest and must return an empty store, or one
// whose keys cannot collide with other subtests' (each subtest uses fresh
// random keys). Stores decide expiry with the real clock: records that must
// be expired are given deadlines in the past, so no subtest waits.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Run runs every rule of the Store contract as a named subtest of t, and
// the UserIndex rules when the store implements UserIndex.
func Run(t *testing.T, newStore func(t *testing.T) session.Store) {
	tests := []struct {
		name string
		run  func(*testing.T, session.Store)
	}{
		{"LoadMissing", testLoadMissing},
		{"CreateAndLoad", testCreateAndLoad},
		{"CreateExisting", testCreateExisting},
		{"UpdateSomeKeys", testUpdateSomeKeys},
		{"UpdateClearAndUser", testUpdateClearAndUser},
		{"UpdateRemember", testUpdateRemember},
		{"Touch", testTouch},
		{"Delete", testDelete},
		{"Expiry", testExpiry},
		{"NoResurrection", testNoResurrection},
		{"Renew", testRenew},
		{"RenewFailures", testRenewFailures},
		{"DeleteFollowsRenewals", testDeleteFollowsRenewals},
		{"ConcurrentUpdatesOfDifferentKeys", testConcurrentUpdates},
		{"ConcurrentUpdatesAndDelete", testConcurrentUpdatesAndDelete},
		{"RenewRacingDelete", testRenewRacingDelete},
		{"BinarySafe", testBinarySafe},
		{"LargeValue", testLargeValue},
		{"ContextCancelled", testContextCancelled},
		{"UserIndex", testUserIndex},
		{"UserIndexForgetsEndedSessions", testUserIndexForgets},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

// key returns a fresh random key shaped like the manager's (base64url of 32
// bytes), so that subtests sharing one backend never collide.
func key(t *testing.T) string {
	var b [32]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// now is the current time at the microsecond, the finest precision stores
// must keep.
func now() time.Time { return time.Now().Truncate(time.Microsecond) }

// record returns a live record with the given user and key/value pairs.
func record(user string, kv ...string) *session.Record {
	n := now()
	rec := &session.Record{
		User:             user,
		CreatedAt:        n,
		LastSeen:         n,
		IssuedAt:         n,
		IdleDeadline:     n.Add(30 * time.Minute),
		AbsoluteDeadline: n.Add(12 * time.Hour),
		ClientIP:         netip.MustParseAddr("192.0.2.7"),
		UserAgent:        "storetest/1.0",
	}
	values := map[string][]byte{}
	for i := 0; i+1 < len(kv); i += 2 {
		values[kv[i]] = []byte(kv[i+1])
	}
	rec.Values = session.ValuesOf(values)
	return rec
}

func mustCreate(t *testing.T, s session.Store, k string, rec *session.Record) {
	t.Helper()
	require.NoError(t, s.Create(context.Background(), k, rec))
}

func mustLoad(t *testing.T, s session.Store, k string) *session.Record {
	t.Helper()
	rec, err := s.Load(context.Background(), k)
	require.NoError(t, err)
	require.NotNil(t, rec)
	return rec
}

func requireGone(t *testing.T, s session.Store, k string, msg string) {
	t.Helper()
	rec, err := s.Load(context.Background(), k)
	require.ErrorIs(t, err, session.ErrNotFound, msg)
	require.Nil(t, rec, "a not-found load returns no record")
}

// requireExpiredOrGone checks what Load returns for a record that expired:
// ErrNotFound, or the record with its past ExpiresAt (a store may return an
// expired record it still holds, for the manager to report and delete), but
// never the record as live.
func requireExpiredOrGone(t *testing.T, s session.Store, k string, msg string) {
	t.Helper()
	rec, err := s.Load(context.Background(), k)
	if errors.Is(err, session.ErrNotFound) {
		require.Nil(t, rec, "a not-found load returns no record")
		return
	}
	require.NoError(t, err, msg)
	require.NotNil(t, rec, msg)
	require.False(t, rec.ExpiresAt().After(now()), "%s: an expired record is never returned as live (ExpiresAt %v)", msg, rec.ExpiresAt())
}

// values returns a record's values as strings, for comparisons.
func values(rec *session.Record) map[string]string {
	out := map[string]string{}
	for k, v := range rec.Values.All() {
		out[k] = string(v)
	}
	return out
}

// get returns the value of k in rec, nil if none.
func get(rec *session.Record, k string) []byte {
	v, _ := rec.Values.Get(k)
	return v
}

// requireSameRecord compares every field a store must keep.
func requireSameRecord(t *testing.T, want, got *session.Record) {
	t.Helper()
	require.Equal(t, want.Values.Len(), got.Values.Len(), "values: %v", values(got))
	for k, v := range want.Values.All() {
		require.True(t, bytes.Equal(v, get(got, k)), "value of %q", k)
	}
	require.Equal(t, want.User, got.User)
	for name, pair := range map[string][2]time.Time{
		"CreatedAt":        {want.CreatedAt, got.CreatedAt},
		"LastSeen":         {want.LastSeen, got.LastSeen},
		"IssuedAt":         {want.IssuedAt, got.IssuedAt},
		"IdleDeadline":     {want.IdleDeadline, got.IdleDeadline},
		"AbsoluteDeadline": {want.AbsoluteDeadline, got.AbsoluteDeadline},
	} {
		require.True(t, pair[0].Equal(pair[1]), "%s: want %v, got %v", name, pair[0], pair[1])
	}
	require.Equal(t, want.ClientIP, got.ClientIP)
	require.Equal(t, want.UserAgent, got.UserAgent)
	require.Equal(t, want.Remember, got.Remember, "Remember")
	require.Nil(t, got.Tombstone)
}

func testLoadMissing(t *testing.T, s session.Store) {
	requireGone(t, s, key(t), "a key never written")
}

func testCreateAndLoad(t *testing.T, s session.Store) {
	for name, addr := range map[string]netip.Addr{
		"IPv4": netip.MustParseAddr("192.0.2.7"), "IPv6": netip.MustParseAddr("2001:db8::7"), "none": {},
	} {
		t.Run(name, func(t *testing.T) {
			k := key(t)
			rec := record("alice", "a", "1", "b", "2")
			rec.ClientIP = addr
			mustCreate(t, s, k, rec)
			requireSameRecord(t, rec, mustLoad(t, s, k))
		})
	}
	t.Run("no values", func(t *testing.T) {
		k := key(t)
		rec := record("")
		mustCreate(t, s, k, rec)
		got := mustLoad(t, s, k)
		requireSameRecord(t, rec, got)
	})
	for name, remember := range map[string]bool{"remembered": true, "not remembered": false} {
		t.Run(name, func(t *testing.T) {
			k := key(t)
			rec := record("alice", "a", "1")
			rec.Remember = remember
			mustCreate(t, s, k, rec)
			requireSameRecord(t, rec, mustLoad(t, s, k))
		})
	}
}

func testCreateExisting(t *testing.T, s session.Store) {
	k := key(t)
	mustCreate(t, s, k, record("alice", "a", "mine"))
	err := s.Create(context.Background(), k, record("mallory", "a", "theirs"))
	require.ErrorIs(t, err, session.ErrExists, "a collision never merges two sessions")
	got := mustLoad(t, s, k)
	require.Equal(t, "alice", got.User)
	require.Equal(t, map[string]string{"a": "mine"}, values(got))
}

func testUpdateSomeKeys(t *testing.T, s session.Store) {
	ctx, k := context.Background(), key(t)
	mustCreate(t, s, k, record("", "keep", "1", "change", "2", "drop", "3"))
	err := s.Update(ctx, k, session.Delta{
		Set:    map[string][]byte{"change": []byte("two"), "add": []byte("4")},
		Delete: []string{"drop", "never-there"},
	})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"keep": "1", "change": "two", "add": "4"}, values(mustLoad(t, s, k)))
}

func testUpdateClearAndUser(t *testing.T, s session.Store) {
	ctx, k := context.Background(), key(t)
	mustCreate(t, s, k, record("", "a", "1", "b", "2"))
	bob := "bob"
	require.NoError(t, s.Update(ctx, k, session.Delta{Clear: true, Set: map[string][]byte{"c": []byte("3")}, User: &bob}))
	got := mustLoad(t, s, k)
	require.Equal(t, map[string]string{"c": "3"}, values(got), "Clear removes every value before Set")
	require.Equal(t, "bob", got.User)
	require.NoError(t, s.Update(ctx, k, session.Delta{Set: map[string][]byte{"d": []byte("4")}}))
	require.Equal(t, "bob", mustLoad(t, s, k).User, "a nil User leaves the user alone")
}

func testUpdateRemember(t *testing.T, s session.Store) {
	ctx, k := context.Background(), key(t)
	yes, no := true, false
	mustCreate(t, s, k, record("alice", "a", "1"))
	require.NoError(t, s.Update(ctx, k, session.Delta{Remember: &yes}))
	got := mustLoad(t, s, k)
	require.True(t, got.Remember, "a Remember of true is set")
	require.Equal(t, map[string]string{"a": "1"}, values(got), "changing Remember leaves values alone")
	require.Equal(t, "alice", got.User)

	require.NoError(t, s.Update(ctx, k, session.Delta{Set: map[string][]byte{"b": []byte("2")}, LastSeen: now()}))
	require.True(t, mustLoad(t, s, k).Remember, "a nil Remember leaves it alone")

	require.NoError(t, s.Update(ctx, k, session.Delta{Remember: &no, Set: map[string][]byte{"a": []byte("one")}}))
	got = mustLoad(t, s, k)
	require.False(t, got.Remember, "a Remember of false is set")
	require.Equal(t, map[string]string{"a": "one", "b": "2"}, values(got), "with the rest of its delta")

	require.NoError(t, s.Update(ctx, k, session.Delta{Delete: []string{"b"}}))
	require.False(t, mustLoad(t, s, k).Remember, "a nil Remember leaves false alone too")
}

func testTouch(t *testing.T, s session.Store) {
	ctx, k := context.Background(), key(t)
	rec := record("alice", "a", "1")
	mustCreate(t, s, k, rec)
	later := rec.LastSeen.Add(time.Minute)
	require.NoError(t, s.Update(ctx, k, session.Delta{LastSeen: later, IdleDeadline: later.Add(30 * time.Minute)}))
	got := mustLoad(t, s, k)
	require.True(t, got.LastSeen.Equal(later))
	require.True(t, got.IdleDeadline.Equal(later.Add(30*time.Minute)))
	require.Equal(t, map[string]string{"a": "1"}, values(got), "a touch leaves values alone")
	require.Equal(t, "alice", got.User)
	require.True(t, got.CreatedAt.Equal(rec.CreatedAt))
}

func testDelete(t *testing.T, s session.Store) {
	ctx, k := context.Background(), key(t)
	mustCreate(t, s, k, record("", "a", "1"))
	require.NoError(t, s.Delete(ctx, k))
	requireGone(t, s, k, "deleted")
	require.NoError(t, s.Delete(ctx, k), "Delete is idempotent")
	require.NoError(t, s.Delete(ctx, key(t)), "deleting a key never written is fine")
}

func testExpiry(t *testing.T, s session.Store) {
	ctx := context.Background()
	t.Run("idle deadline passed", func(t *testing.T) {
		k := key(t)
		rec := record("", "a", "1")
		rec.IdleDeadline = now().Add(-time.Second)
		require.NoError(t, s.Create(ctx, k, rec))
		requireExpiredOrGone(t, s, k, "a record past its idle deadline")
	})
	t.Run("absolute deadline passed", func(t *testing.T) {
		k := key(t)
		rec := record("", "a", "1")
		rec.AbsoluteDeadline = now().Add(-time.Second)
		require.NoError(t, s.Create(ctx, k, rec))
		requireExpiredOrGone(t, s, k, "a record past its absolute deadline")
	})
	t.Run("deadline moved into the past", func(t *testing.T) {
		k := key(t)
		mustCreate(t, s, k, record("", "a", "1"))
		require.NoError(t, s.Update(ctx, k, session.Delta{IdleDeadline: now().Add(-time.Second)}))
		requireExpiredOrGone(t, s, k, "an update can end a record")
		require.ErrorIs(t, s.Update(ctx, k, session.Delta{Set: map[string][]byte{"a": []byte("2")}}), session.ErrNotFound,
			"an expired record cannot be updated")
		newKey := key(t)
		require.ErrorIs(t, s.Renew(ctx, k, newKey, session.Delta{IdleDeadline: now().Add(time.Hour)}, nil),
			session.ErrNotFound, "an expired record cannot be renewed")
		requireGone(t, s, newKey, "a refused renewal creates nothing")
		requireExpiredOrGone(t, s, k, "a refused update or renewal does not revive a record")
	})
	t.Run("expired key can be created again", func(t *testing.T) {
		k := key(t)
		rec := record("", "a", "old")
		rec.IdleDeadline = now().Add(-time.Second)
		require.NoError(t, s.Create(ctx, k, rec))
		mustCreate(t, s, k, record("", "a", "new"))
		require.Equal(t, map[string]string{"a": "new"}, values(mustLoad(t, s, k)))
	})
}

func testNoResurrection(t *testing.T, s session.Store) {
	ctx := context.Background()
	t.Run("update of a deleted record", func(t *testing.T) {
		k := key(t)
		mustCreate(t, s, k, record("alice", "a", "1"))
		require.NoError(t, s.Delete(ctx, k))
		err := s.Update(ctx, k, session.Delta{Set: map[string][]byte{"a": []byte("2")}, LastSeen: now(), IdleDeadline: now().Add(time.Hour)})
		require.ErrorIs(t, err, session.ErrNotFound)
		requireGone(t, s, k, "an update must never create")
	})
	t.Run("update of a key never written", func(t *testing.T) {
		k := key(t)
		bob := "bob"
		require.ErrorIs(t, s.Update(ctx, k, session.Delta{User: &bob, IdleDeadline: now().Add(time.Hour)}), session.ErrNotFound)
		requireGone(t, s, k, "an update must never create")
	})
}

// tombstone returns a tombstone leading to next, with a grace period of
// grace, that expires at expires.
func tombstone(next string, grace time.Duration, expires time.Time) *session.Tombstone {
	return &session.Tombstone{Successor: []byte{0, 1, 2, 0xff, '|'}, GraceUntil: now().Add(grace), Next: next, Expires: expires}
}

func testRenew(t *testing.T, s session.Store) {
	ctx := context.Background()
	t.Run("with tombstone", func(t *testing.T) {
		oldKey, newKey := key(t), key(t)
		rec := record("alice", "a", "1", "b", "2")
		mustCreate(t, s, oldKey, rec)
		issued := now().Add(time.Second)
		d := session.Delta{Set: map[string][]byte{"b": []byte("two")}, Delete: []string{"a"}, IssuedAt: issued,
			LastSeen: issued, IdleDeadline: issued.Add(30 * time.Minute)}
		tomb := tombstone(newKey, 5*time.Second, now().Add(time.Minute))
		require.NoError(t, s.Renew(ctx, oldKey, newKey, d, tomb))

		got := mustLoad(t, s, newKey)
		require.Equal(t, map[string]string{"b": "two"}, values(got), "the delta is applied on the way")
		require.Equal(t, "alice", got.User)
		require.True(t, got.IssuedAt.Equal(issued))
		require.True(t, got.CreatedAt.Equal(rec.CreatedAt), "renewal keeps the creation time")
		require.Nil(t, got.Tombstone)

		old := mustLoad(t, s, oldKey)
		require.NotNil(t, old.Tombstone, "the old key holds a tombstone")
		require.Equal(t, tomb.Successor, old.Tombstone.Successor)
		require.Equal(t, newKey, old.Tombstone.Next)
		require.True(t, old.Tombstone.GraceUntil.Equal(tomb.GraceUntil))
		require.True(t, old.ExpiresAt().Equal(tomb.Expires), "a tombstone record expires with its Expires")
		require.Zero(t, old.Values.Len(), "a tombstone holds no values")
		require.Empty(t, old.User)

		require.ErrorIs(t, s.Update(ctx, oldKey, session.Delta{Set: map[string][]byte{"x": []byte("y")}}), session.ErrNotFound,
			"a tombstone cannot be updated")
		require.ErrorIs(t, s.Renew(ctx, oldKey, key(t), session.Delta{}, nil), session.ErrNotFound,
			"a tombstone cannot be renewed")
		require.Nil(t, get(mustLoad(t, s, oldKey), "x"))
	})
	t.Run("without tombstone", func(t *testing.T) {
		oldKey, newKey := key(t), key(t)
		mustCreate(t, s, oldKey, record("", "a", "1"))
		require.NoError(t, s.Renew(ctx, oldKey, newKey, session.Delta{}, nil))
		requireGone(t, s, oldKey, "nothing is left at the old key")
		require.Equal(t, map[string]string{"a": "1"}, values(mustLoad(t, s, newKey)))
	})
	t.Run("tombstone past its expiry", func(t *testing.T) {
		oldKey, newKey := key(t), key(t)
		mustCreate(t, s, oldKey, record("", "a", "1"))
		require.NoError(t, s.Renew(ctx, oldKey, newKey, session.Delta{}, tombstone(newKey, 0, now().Add(-time.Second))))
		requireGone(t, s, oldKey, "an expired tombstone is gone")
		mustLoad(t, s, newKey)
	})
	t.Run("remember", func(t *testing.T) {
		yes, no := true, false
		for _, tc := range []struct {
			name      string
			was, want bool
			delta     *bool
		}{
			{"kept true", true, true, nil},
			{"kept false", false, false, nil},
			{"set", false, true, &yes},
			{"cleared", true, false, &no},
		} {
			t.Run(tc.name, func(t *testing.T) {
				oldKey, newKey := key(t), key(t)
				rec := record("alice", "a", "1")
				rec.Remember = tc.was
				mustCreate(t, s, oldKey, rec)
				d := session.Delta{Remember: tc.delta, IssuedAt: now()}
				require.NoError(t, s.Renew(ctx, oldKey, newKey, d, tombstone(newKey, time.Second, now().Add(time.Minute))))
				got := mustLoad(t, s, newKey)
				require.Equal(t, tc.want, got.Remember, "Renew keeps Remember, or applies the delta's")
				require.Equal(t, map[string]string{"a": "1"}, values(got))
			})
		}
	})
}

func testRenewFailures(t *testing.T, s session.Store) {
	ctx := context.Background()
	t.Run("missing old key", func(t *testing.T) {
		oldKey, newKey := key(t), key(t)
		err := s.Renew(ctx, oldKey, newKey, session.Delta{}, tombstone(newKey, time.Second, now().Add(time.Minute)))
		require.ErrorIs(t, err, session.ErrNotFound)
		requireGone(t, s, newKey, "a failed renewal creates nothing")
		requireGone(t, s, oldKey, "nor a tombstone")
	})
	t.Run("deleted old key", func(t *testing.T) {
		oldKey, newKey := key(t), key(t)
		mustCreate(t, s, oldKey, record("alice", "a", "1"))
		require.NoError(t, s.Delete(ctx, oldKey))
		err := s.Renew(ctx, oldKey, newKey, session.Delta{}, nil)
		require.ErrorIs(t, err, session.ErrNotFound, "a renewal must not bring a deleted session back")
		requireGone(t, s, newKey, "a failed renewal creates nothing")
	})
	t.Run("new key taken", func(t *testing.T) {
		oldKey, newKey := key(t), key(t)
		mustCreate(t, s, oldKey, record("alice", "a", "mine"))
		mustCreate(t, s, newKey, record("bob", "a", "theirs"))
		err := s.Renew(ctx, oldKey, newKey, session.Delta{}, tombstone(newKey, time.Second, now().Add(time.Minute)))
		require.ErrorIs(t, err, session.ErrExists)
		require.Equal(t, "alice", mustLoad(t, s, oldKey).User, "the old record is untouched")
		require.Equal(t, "bob", mustLoad(t, s, newKey).User, "the other record is untouched")
	})
	t.Run("new key holds a tombstone", func(t *testing.T) {
		a, b, c := key(t), key(t), key(t)
		mustCreate(t, s, a, record("", "a", "1"))
		require.NoError(t, s.Renew(ctx, a, b, session.Delta{}, tombstone(b, time.Second, now().Add(time.Minute))))
		mustCreate(t, s, c, record("carol"))
		require.ErrorIs(t, s.Renew(ctx, c, a, session.Delta{}, nil), session.ErrExists,
			"a key is never reused while a tombstone holds it")
		require.Equal(t, "carol", mustLoad(t, s, c).User)
	})
}

func testDeleteFollowsRenewals(t *testing.T, s session.Store) {
	ctx := context.Background()
	a, b, c := key(t), key(t), key(t)
	mustCreate(t, s, a, record("alice", "a", "1"))
	require.NoError(t, s.Renew(ctx, a, b, session.Delta{}, tombstone(b, 0, now().Add(time.Minute))))
	require.NoError(t, s.Renew(ctx, b, c, session.Delta{}, tombstone(c, 0, now().Add(time.Minute))))
	require.NoError(t, s.Delete(ctx, a), "deleting by an old key")
	requireGone(t, s, c, "the session a renewal moved is ended too")
	requireGone(t, s, b, "and the tombstones on the way")
	requireGone(t, s, a, "and the key deleted")
}

func testConcurrentUpdates(t *testing.T, s session.Store) {
	ctx, k := context.Background(), key(t)
	mustCreate(t, s, k, record(""))
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- s.Update(ctx, k, session.Delta{Set: map[string][]byte{fmt.Sprint("k", i): []byte(fmt.Sprint(i))}, LastSeen: now()})
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got := values(mustLoad(t, s, k))
	require.Len(t, got, n, "every concurrent update of a different key is kept")
	for i := 0; i < n; i++ {
		require.Equal(t, fmt.Sprint(i), got[fmt.Sprint("k", i)])
	}
}

func testConcurrentUpdatesAndDelete(t *testing.T, s session.Store) {
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		k := key(t)
		mustCreate(t, s, k, record("alice", "a", "1"))
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				for j := 0; j < 5; j++ {
					err := s.Update(ctx, k, session.Delta{Set: map[string][]byte{fmt.Sprint(i): []byte("x")}, LastSeen: now(), IdleDeadline: now().Add(time.Hour)})
					if err != nil && !errors.Is(err, session.ErrNotFound) {
						t.Errorf("update: %v", err)
					}
				}
			}(i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, s.Delete(ctx, k))
		}()
		wg.Wait()
		requireGone(t, s, k, "no update racing a delete brings the record back")
	}
}

func testRenewRacingDelete(t *testing.T, s session.Store) {
	ctx := context.Background()
	for round := 0; round < 20; round++ {
		oldKey, newKey := key(t), key(t)
		mustCreate(t, s, oldKey, record("alice", "a", "1"))
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			err := s.Renew(ctx, oldKey, newKey, session.Delta{}, tombstone(newKey, time.Second, now().Add(time.Minute)))
			if err != nil && !errors.Is(err, session.ErrNotFound) {
				t.Errorf("renew: %v", err)
			}
		}()
		go func() {
			defer wg.Done()
			assert.NoError(t, s.Delete(ctx, oldKey))
		}()
		wg.Wait()
		// Whichever ran first, the session must be gone: a renewal after the
		// delete finds nothing to move, and a delete after the renewal
		// follows the tombstone to the new key.
		requireGone(t, s, newKey, "a renewal racing a delete leaves no session behind")
		requireGone(t, s, oldKey, "nor anything at the old key")
	}
}

func testBinarySafe(t *testing.T, s session.Store) {
	ctx, k := context.Background(), key(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	rec := record("user with spaces, üñïçødé and {braces}:colons")
	rec.UserAgent = "agent\twith \"quotes\", ; and é"
	rec.Values = session.ValuesOf(map[string][]byte{
		"\x00nul\x00key":     all,
		"{hash}:tag":         []byte("{x}"),
		"üñïçødé":            []byte("ok"),
		"empty":              {},
		"percent %s %d %%":   []byte("%v"),
		"quote\"and'\\slash": []byte("\\\""),
	})
	mustCreate(t, s, k, rec)
	requireSameRecord(t, rec, mustLoad(t, s, k))
	require.NoError(t, s.Update(ctx, k, session.Delta{Set: map[string][]byte{"\xff\xfe": all[:3]}, Delete: []string{"\x00nul\x00key"}}))
	got := mustLoad(t, s, k)
	require.Equal(t, all[:3], get(got, "\xff\xfe"))
	_, kept := got.Values.Get("\x00nul\x00key")
	require.False(t, kept)
	require.Equal(t, rec.Values.Len(), got.Values.Len())
}

func testLargeValue(t *testing.T, s session.Store) {
	ctx, k := context.Background(), key(t)
	big := make([]byte, 1<<20)
	_, err := rand.Read(big)
	require.NoError(t, err)
	mustCreate(t, s, k, record("", "small", "1"))
	require.NoError(t, s.Update(ctx, k, session.Delta{Set: map[string][]byte{"big": big}}))
	got := mustLoad(t, s, k)
	require.True(t, bytes.Equal(big, get(got, "big")), "a 1 MiB value round-trips")
	require.Equal(t, "1", string(get(got, "small")))
}

func testContextCancelled(t *testing.T, s session.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	live, fresh := key(t), key(t)
	mustCreate(t, s, live, record("alice", "a", "1"))
	_, err := s.Load(ctx, live)
	require.Error(t, err, "Load")
	require.Error(t, s.Create(ctx, fresh, record("")), "Create")
	require.Error(t, s.Update(ctx, live, session.Delta{Set: map[string][]byte{"a": []byte("2")}}), "Update")
	require.Error(t, s.Renew(ctx, live, fresh, session.Delta{}, nil), "Renew")
	require.Error(t, s.Delete(ctx, live), "Delete")
	requireGone(t, s, fresh, "a cancelled Create or Renew writes nothing")
	got := mustLoad(t, s, live)
	require.Equal(t, map[string]string{"a": "1"}, values(got), "a cancelled Update or Delete changes nothing")
	if ui, ok := s.(session.UserIndex); ok {
		_, err := ui.UserSessions(ctx, "alice")
		require.Error(t, err, "UserSessions")
		_, err = ui.DeleteUser(ctx, "alice")
		require.Error(t, err, "DeleteUser")
		mustLoad(t, s, live)
	}
}

// userKeys lists the keys UserSessions returns for user, sorted.
func userKeys(t *testing.T, ui session.UserIndex, user string) []string {
	t.Helper()
	recs, err := ui.UserSessions(context.Background(), user)
	require.NoError(t, err)
	var keys []string
	for _, kr := range recs {
		require.Nil(t, kr.Record.Tombstone, "tombstones are never listed")
		require.Equal(t, user, kr.Record.User)
		keys = append(keys, kr.Key)
	}
	sort.Strings(keys)
	return keys
}

func sorted(keys ...string) []string {
	sort.Strings(keys)
	return keys
}

func testUserIndex(t *testing.T, s session.Store) {
	ui, ok := s.(session.UserIndex)
	if !ok {
		t.Skip("the store does not implement session.UserIndex")
	}
	ctx := context.Background()
	user, other := "alice-"+key(t), "bob-"+key(t)
	a1, a2, b1, anon := key(t), key(t), key(t), key(t)
	remembered := record(user, "n", "1")
	remembered.Remember = true
	mustCreate(t, s, a1, remembered)
	mustCreate(t, s, a2, record(user, "n", "2"))
	mustCreate(t, s, b1, record(other))
	mustCreate(t, s, anon, record(""))
	require.Equal(t, sorted(a1, a2), userKeys(t, ui, user))
	recs, err := ui.UserSessions(ctx, user)
	require.NoError(t, err)
	for _, kr := range recs {
		require.Contains(t, []string{"1", "2"}, string(get(kr.Record, "n")), "listed records are whole")
		require.Equal(t, kr.Key == a1, kr.Record.Remember, "listed records keep Remember")
	}

	// Login: a user set by Update joins the index; a changed user moves.
	require.NoError(t, s.Update(ctx, anon, session.Delta{User: &user}))
	require.Equal(t, sorted(a1, a2, anon), userKeys(t, ui, user))
	require.NoError(t, s.Update(ctx, anon, session.Delta{User: &other}))
	require.Equal(t, sorted(a1, a2), userKeys(t, ui, user))
	require.Equal(t, sorted(b1, anon), userKeys(t, ui, other))

	// Renewal moves the index entry to the new key.
	a3 := key(t)
	require.NoError(t, s.Renew(ctx, a2, a3, session.Delta{}, tombstone(a3, time.Second, now().Add(time.Minute))))
	require.Equal(t, sorted(a1, a3), userKeys(t, ui, user))

	n, err := ui.DeleteUser(ctx, user)
	require.NoError(t, err)
	require.Equal(t, 2, n, "DeleteUser counts the live sessions it ended")
	requireGone(t, s, a1, "deleted with its user")
	requireGone(t, s, a3, "deleted with its user")
	require.Empty(t, userKeys(t, ui, user))
	require.Equal(t, sorted(b1, anon), userKeys(t, ui, other), "other users keep their sessions")
	n, err = ui.DeleteUser(ctx, user)
	require.NoError(t, err)
	require.Zero(t, n)
	empty, err := ui.UserSessions(ctx, "nobody-"+key(t))
	require.NoError(t, err)
	require.Empty(t, empty)
}

func testUserIndexForgets(t *testing.T, s session.Store) {
	ui, ok := s.(session.UserIndex)
	if !ok {
		t.Skip("the store does not implement session.UserIndex")
	}
	ctx := context.Background()
	user := "carol-" + key(t)
	live, deleted, expiring := key(t), key(t), key(t)
	mustCreate(t, s, live, record(user))
	mustCreate(t, s, deleted, record(user))
	mustCreate(t, s, expiring, record(user))
	require.NoError(t, s.Delete(ctx, deleted))
	require.NoError(t, s.Update(ctx, expiring, session.Delta{IdleDeadline: now().Add(-time.Second)}))
	require.Equal(t, []string{live}, userKeys(t, ui, user), "deleted and expired sessions leave the index")
	n, err := ui.DeleteUser(ctx, user)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only live sessions are counted")
}
