package mysqlstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/sessionid/session/storetest"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	s := newTestStore(t)
	// Keys are random, so the subtests share one store and its tables.
	storetest.Run(t, func(*testing.T) session.Store { return s })
}

// TestFirstLoadsConcurrently runs the first Loads of a store at once: each
// may prepare the query, one statement is kept, and every Load reads the
// record.
func TestFirstLoadsConcurrently(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	key := newKey(t)
	require.NoError(t, s.Create(ctx, key, testRecord("alice", time.Hour)))
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range cap(errs) {
		wg.Go(func() {
			_, err := s.Load(ctx, key)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestLoadBeforeMigrate checks that a Load that cannot prepare its query,
// here because the tables do not exist yet, fails, and that a later Load
// prepares it.
func TestLoadBeforeMigrate(t *testing.T) {
	s, err := New(testConfig(t), WithTable(testTable(t)), WithCleanupInterval(0))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	ctx := context.Background()
	_, err = s.Load(ctx, newKey(t))
	require.Error(t, err)
	require.NotErrorIs(t, err, session.ErrNotFound)
	require.NoError(t, s.Migrate(ctx))
	_, err = s.Load(ctx, newKey(t))
	require.ErrorIs(t, err, session.ErrNotFound)
}
