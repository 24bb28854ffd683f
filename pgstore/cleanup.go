package pgstore

import (
	"context"
	"fmt"
	"time"
)

// startCleanup starts the background cleanup, or marks it done at once when
// it is turned off.
func (s *Store) startCleanup() {
	if s.cfg.cleanupInterval == 0 {
		s.stop = func() {}
		close(s.done)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go s.cleanupEvery(ctx, s.cfg.cleanupInterval)
}

// cleanupEvery runs Cleanup every interval until ctx, which Close cancels,
// is done. Close also cancels a cleanup under way, so it never waits for a
// slow database.
func (s *Store) cleanupEvery(ctx context.Context, interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Cleanup(ctx); err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "pgstore: deleting expired sessions", "table", s.tables.name, "error", err)
			}
		}
	}
}

// Cleanup deletes every expired record (and its values) and returns how
// many records it deleted. It works in batches of WithCleanupBatch rows,
// each its own short transaction that skips rows a request holds, so it
// never makes a request wait; a skipped row goes at the next cleanup. Its
// cost is proportional to what expired: expires_at is indexed.
func (s *Store) Cleanup(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.cleanupBatch(ctx)
		total += n
		if err != nil || n < s.cfg.cleanupBatch {
			return total, err
		}
	}
}

// cleanupBatch deletes up to one batch of expired records.
func (s *Store) cleanupBatch(ctx context.Context) (int, error) {
	tag, err := s.pool.Exec(ctx, s.q.deleteDead, s.cfg.cleanupBatch)
	if err != nil {
		return 0, fmt.Errorf("pgstore: deleting expired sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
