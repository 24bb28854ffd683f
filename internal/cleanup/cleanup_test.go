package cleanup

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStopCancelsAndWaitsForARun(t *testing.T) {
	l := New(time.Millisecond)
	started := make(chan struct{})
	var runs atomic.Int32
	var returned atomic.Bool
	go l.Run(func(ctx context.Context) {
		if runs.Add(1) == 1 {
			close(started)
		}
		<-ctx.Done()
		time.Sleep(10 * time.Millisecond) // Stop has to wait for this
		returned.Store(true)
	})
	<-started
	l.Stop()
	require.True(t, returned.Load(), "Stop waits for the run under way, after cancelling its context")
	select {
	case <-l.Done():
	default:
		t.Fatal("Done is not closed after Stop")
	}
	require.Equal(t, int32(1), runs.Load(), "no run starts after Stop")
	l.Stop() // a second Stop returns at once
}

func TestIntervalZeroNeverRuns(t *testing.T) {
	l := New(0)
	select {
	case <-l.Done():
	default:
		t.Fatal("a loop that is off is stopped at once")
	}
	l.Run(func(context.Context) { t.Error("a loop that is off never runs") })
	l.Stop()
	l.Stop()
}

func TestBatchesStopsAtAShortBatch(t *testing.T) {
	sizes := []int{3, 3, 1, 3}
	calls := 0
	n, err := Batches(context.Background(), 3, func(context.Context) (int, error) {
		calls++
		return sizes[calls-1], nil
	})
	require.NoError(t, err)
	require.Equal(t, 7, n)
	require.Equal(t, 3, calls, "no batch after the short one")
}

func TestBatchesStopsAtAnError(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	n, err := Batches(context.Background(), 3, func(context.Context) (int, error) {
		calls++
		if calls == 2 {
			return 0, boom
		}
		return 3, nil
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, 3, n, "the rows deleted before the error count")
	require.Equal(t, 2, calls)
}
