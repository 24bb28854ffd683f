package sqlitestore

import (
	"context"
	"database/sql"

	"github.com/sessionid/session/internal/cleanup"
)

// startCleanup starts the background cleanup, or marks it done at once when
// it is turned off.
func (s *Store) startCleanup() {
	s.cleanup = cleanup.New(s.cfg.cleanupInterval)
	s.done = s.cleanup.Done()
	if s.cfg.cleanupInterval > 0 {
		go s.cleanupEvery()
	}
}

// cleanupEvery, the cleanup goroutine, runs Cleanup every interval until
// Close stops it. Close also interrupts a cleanup under way.
func (s *Store) cleanupEvery() {
	s.cleanup.Run(func(ctx context.Context) {
		if _, err := s.Cleanup(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "sqlitestore: deleting expired sessions", "table", s.table, "error", err)
		}
	})
}

// Cleanup deletes every expired record (and its values) and returns how
// many records it deleted. It works in batches of WithCleanupBatch records,
// each its own short write transaction, so requests' writes take their
// turn between batches. Its cost is proportional to what expired:
// expires_at is indexed.
func (s *Store) Cleanup(ctx context.Context) (int, error) {
	return cleanup.Batches(ctx, s.cfg.cleanupBatch, s.cleanupBatch)
}

// cleanupBatch deletes up to one batch of expired records.
func (s *Store) cleanupBatch(ctx context.Context) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.q.deleteDead).ExecContext(ctx, s.micros(), s.cfg.cleanupBatch)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), wrap("deleting expired sessions", err)
}
