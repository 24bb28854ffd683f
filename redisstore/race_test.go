package redisstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// raceRounds is how many sessions each race test ends while renewals and
// updates hammer it.
const raceRounds = 20

// maxRenewals keeps each session's chain of renewals within what Delete
// follows (maxChain).
const maxRenewals = maxChain - 2

// raceEnd ends a session (by its first key and its user) while renewals and
// updates race with it.
type raceEnd func(ctx context.Context, s *Store, first, user string) error

func endByDelete(ctx context.Context, s *Store, first, _ string) error { return s.Delete(ctx, first) }

func endByDeleteUser(ctx context.Context, s *Store, _, user string) error {
	_, err := s.DeleteUser(ctx, user)
	return err
}

// testNoResurrection races renewals and updates of one session with its
// end, and checks that once the end has returned and the racers are done,
// no key the session ever had holds a live record, and its user lists none.
func testNoResurrection(t *testing.T, s *Store, end raceEnd) {
	for round := range raceRounds {
		user := fmt.Sprint("racer-", round, "-", newKey(t))
		keys := raceOnce(t, s, user, end)
		for _, k := range keys {
			rec, err := s.Load(context.Background(), k)
			if err == nil {
				require.NotNil(t, rec.Tombstone, "round %d: a live record came back at a key of the ended session", round)
				continue
			}
			require.ErrorIs(t, err, session.ErrNotFound)
		}
		recs, err := s.UserSessions(context.Background(), user)
		require.NoError(t, err)
		require.Empty(t, recs, "round %d: the user still has sessions", round)
	}
}

// raceOnce runs one round and returns every key the session may have had.
func raceOnce(t *testing.T, s *Store, user string, end raceEnd) []string {
	ctx := context.Background()
	first := newKey(t)
	require.NoError(t, s.Create(ctx, first, liveRecord(user, "n", "0")))
	var (
		mu       sync.Mutex
		keys     = []string{first}
		current  atomic.Value
		renewals atomic.Int32
		ended    atomic.Bool
		wg       sync.WaitGroup
		started  = make(chan struct{})
		once     sync.Once
	)
	current.Store(first)
	renew := func() {
		for !ended.Load() && renewals.Load() < maxRenewals {
			old, next := current.Load().(string), newKey(t)
			mu.Lock()
			keys = append(keys, next)
			mu.Unlock()
			d := session.Delta{Set: map[string][]byte{"renewed": []byte(next)}, IssuedAt: time.Now()}
			err := s.Renew(ctx, old, next, d, &session.Tombstone{Next: next, Successor: []byte(next), Expires: time.Now().Add(time.Minute)})
			switch {
			case err == nil:
				renewals.Add(1)
				current.CompareAndSwap(old, next)
				once.Do(func() { close(started) })
			case errors.Is(err, session.ErrNotFound), errors.Is(err, errBusy):
			default:
				t.Errorf("renew: %v", err)
				return
			}
		}
	}
	update := func(i int) {
		for j := 0; !ended.Load() && j < 50; j++ {
			err := s.Update(ctx, current.Load().(string), session.Delta{
				Set: map[string][]byte{fmt.Sprint("u", i): []byte(fmt.Sprint(j))}, LastSeen: time.Now(), IdleDeadline: time.Now().Add(time.Hour),
			})
			if err != nil && !errors.Is(err, session.ErrNotFound) {
				t.Errorf("update: %v", err)
				return
			}
		}
	}
	for i := range 4 {
		wg.Add(2)
		go func() { defer wg.Done(); renew() }()
		go func() { defer wg.Done(); update(i) }()
	}
	// End the session once it has been renewed at least once, while the
	// racers still run.
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Error("no renewal succeeded")
	}
	assert.NoError(t, end(ctx, s, first, user))
	ended.Store(true)
	wg.Wait()
	return keys
}

func TestNoResurrection(t *testing.T) {
	c := testClient(t)
	for mode, name := range []string{"one node", "cluster mode on one node"} {
		t.Run(name, func(t *testing.T) {
			s := newTestStore(t, c, WithClusterMode(mode == 1))
			t.Run("Delete", func(t *testing.T) { testNoResurrection(t, s, endByDelete) })
			t.Run("DeleteUser", func(t *testing.T) { testNoResurrection(t, s, endByDeleteUser) })
			t.Run("updates survive renewals", func(t *testing.T) { testNoLostUpdate(t, s) })
		})
	}
}

// testNoLostUpdate races updates of different values with renewals: every
// update that succeeded must be in the session wherever it ends up, as when
// the Manager follows a renewal (cluster mode retries the renewal when an
// update slips in between its read and its commit).
func testNoLostUpdate(t *testing.T, s *Store) {
	ctx := context.Background()
	for round := range raceRounds / 4 {
		first := newKey(t)
		require.NoError(t, s.Create(ctx, first, liveRecord("")))
		var current atomic.Value
		current.Store(first)
		var wg sync.WaitGroup
		const writers = 8
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := session.Delta{Set: map[string][]byte{fmt.Sprint("w", i): []byte("x")}, LastSeen: time.Now()}
				// Each try reads the key anew: after ErrNotFound the
				// renewal that moved the session is committed, and the
				// renewer publishes the new key right after it returns.
				for try := 0; ; try++ {
					err := s.Update(ctx, current.Load().(string), d)
					if err == nil {
						return
					}
					if !errors.Is(err, session.ErrNotFound) || try == 10000 {
						t.Errorf("update %d: %v", i, err)
						return
					}
				}
			}()
		}
		for range maxRenewals {
			old, next := current.Load().(string), newKey(t)
			err := s.Renew(ctx, old, next, session.Delta{IssuedAt: time.Now()}, &session.Tombstone{Next: next, Expires: time.Now().Add(time.Minute)})
			if errors.Is(err, errBusy) {
				continue
			}
			require.NoError(t, err)
			current.Store(next)
		}
		wg.Wait()
		rec, err := s.Load(ctx, current.Load().(string))
		require.NoError(t, err)
		values := maps.Collect(rec.Values.All())
		for i := range writers {
			require.Contains(t, values, fmt.Sprint("w", i), "round %d: an update that succeeded was lost", round)
		}
	}
}
