package sqlitestore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCleanupInBatches(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, WithCleanupInterval(0), WithCleanupBatch(3))
	for i := range 10 {
		rec := liveRecord("", map[string][]byte{"a": []byte("1")})
		rec.IdleDeadline = time.Now().Add(-time.Second)
		require.NoError(t, s.Create(ctx, fmt.Sprint("dead", i), rec))
	}
	require.NoError(t, s.Create(ctx, "live", liveRecord("", map[string][]byte{"a": []byte("1")})))
	n, err := s.Cleanup(ctx)
	require.NoError(t, err)
	require.Equal(t, 10, n)
	var sessions, values int
	require.NoError(t, s.reader.QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&sessions))
	require.NoError(t, s.reader.QueryRowContext(ctx, `SELECT count(*) FROM sessions_values`).Scan(&values))
	require.Equal(t, 1, sessions, "the live session stays")
	require.Equal(t, 1, values, "the dead sessions' values went with them")
}

func TestBackgroundCleanupStopsAtClose(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, WithCleanupInterval(time.Millisecond))
	rec := liveRecord("", nil)
	rec.IdleDeadline = time.Now().Add(-time.Second)
	require.NoError(t, s.Create(ctx, "dead", rec))
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, s.reader.QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&n))
		return n == 0
	}, 5*time.Second, time.Millisecond)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	select {
	case <-s.done:
	default:
		t.Fatal("the cleanup goroutine is still running after Close")
	}
}
