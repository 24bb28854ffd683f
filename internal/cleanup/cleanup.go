// Package cleanup holds the background cleanup the SQL stores share: a loop
// that runs a function every interval until it is stopped, and the batching
// of one cleanup.
package cleanup

import (
	"context"
	"sync"
	"time"
)

// Loop runs a function every interval, in a goroutine its owner starts,
// until Stop. The owner starts the goroutine so that it runs under a
// function of the owner's, which names it in a stack trace.
type Loop struct {
	interval time.Duration
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// New returns a Loop that runs every interval once Run is called in a
// goroutine. With an interval of 0 the loop is off: it is stopped at once,
// and Run, which need not be called, returns at once.
func New(interval time.Duration) *Loop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Loop{interval: interval, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	if interval == 0 {
		close(l.done)
	}
	return l
}

// Run calls run every interval until Stop, with a context that Stop
// cancels, so that Stop also interrupts a run under way; no run starts
// after Stop. It is the body of the loop's goroutine, to be called once;
// every Loop with a positive interval needs it, or Stop waits for ever.
func (l *Loop) Run(run func(context.Context)) {
	if l.interval == 0 {
		return
	}
	defer close(l.done)
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
			if l.ctx.Err() != nil { // both were ready: Stop wins
				return
			}
			run(l.ctx)
		}
	}
}

// Stop cancels the loop, a run under way included, and waits for Run to
// return. It is safe to call more than once.
func (l *Loop) Stop() {
	l.stopOnce.Do(l.cancel)
	<-l.done
}

// Done returns a channel closed when Run has returned, or at once for a
// loop that is off.
func (l *Loop) Done() <-chan struct{} { return l.done }

// Batches runs batch until one deletes fewer than size records or fails,
// and returns how many records the batches deleted in all, with the error
// of the last batch.
func Batches(ctx context.Context, size int, batch func(context.Context) (int, error)) (int, error) {
	total := 0
	for {
		n, err := batch(ctx)
		total += n
		if err != nil || n < size {
			return total, err
		}
	}
}
