package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/stretchr/testify/require"
)

// TestNoBusyUnderLoad runs many goroutines that create, update, read, renew
// and delete sessions at once, through two stores on one file, as two
// processes would be: the goroutines of one store take turns on its writer
// connection, and the two stores' writers meet on the file lock, which
// BEGIN IMMEDIATE and the busy timeout turn into waiting. No call may fail
// with anything but the contract's sentinels, SQLITE_BUSY above all. SQLite's
// busy handler is not fair between processes: under the race detector on a
// loaded machine one store's writer can wait longer than the default 5 s
// for the other's, so the stores here wait up to a minute; within one
// process, writes queue in Go and never meet the file lock.
func TestNoBusyUnderLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	var stores [2]*Store
	for i := range stores {
		s, err := Open(path, WithCleanupInterval(time.Millisecond), WithCleanupBatch(10), WithBusyTimeout(time.Minute))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		stores[i] = s
	}
	const workers, rounds = 64, 8
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			s := stores[w%len(stores)]
			if err := churn(ctx, s, fmt.Sprint("w", w), rounds); err != nil {
				errs <- fmt.Errorf("worker %d: %w", w, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// churn runs rounds of a session's life at keys prefixed by name.
func churn(ctx context.Context, s *Store, name string, rounds int) error {
	for r := range rounds {
		k := fmt.Sprint(name, "-", r)
		if err := s.Create(ctx, k, liveRecord("user-"+name, map[string][]byte{"a": []byte("1")})); err != nil {
			return fmt.Errorf("create: %w", err)
		}
		for i := range 3 {
			if err := s.Update(ctx, k, session.Delta{Set: map[string][]byte{fmt.Sprint("k", i): []byte("v")}, LastSeen: time.Now()}); err != nil {
				return fmt.Errorf("update: %w", err)
			}
			if _, err := s.Load(ctx, k); err != nil {
				return fmt.Errorf("load: %w", err)
			}
		}
		if _, err := s.UserSessions(ctx, "user-"+name); err != nil {
			return fmt.Errorf("user sessions: %w", err)
		}
		next := k + "-renewed"
		tomb := &session.Tombstone{Next: next, GraceUntil: time.Now().Add(time.Second), Expires: time.Now().Add(time.Minute)}
		if err := s.Renew(ctx, k, next, session.Delta{IssuedAt: time.Now()}, tomb); err != nil {
			return fmt.Errorf("renew: %w", err)
		}
		if err := s.Delete(ctx, k); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if _, err := s.Load(ctx, next); !errors.Is(err, session.ErrNotFound) {
			return fmt.Errorf("load after delete: want not found, got %v", err)
		}
	}
	return nil
}
