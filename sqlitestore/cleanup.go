package sqlitestore

import (
	"context"
	"database/sql"
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
// is done. Close also interrupts a cleanup under way.
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
				s.log.ErrorContext(ctx, "sqlitestore: deleting expired sessions", "table", s.table, "error", err)
			}
		}
	}
}

// Cleanup deletes every expired record (and its values) and returns how
// many records it deleted. It works in batches of WithCleanupBatch records,
// each its own short write transaction, so requests' writes take their
// turn between batches. Its cost is proportional to what expired:
// expires_at is indexed.
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
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q.deleteDead, s.micros(), s.cfg.cleanupBatch)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), wrap("deleting expired sessions", err)
}
