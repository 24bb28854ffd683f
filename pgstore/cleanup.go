package pgstore

import (
	"context"
	"fmt"

	"github.com/sessionid/session/internal/cleanup"
)

// startCleanup starts the background cleanup, or marks it done at once when
// it is turned off.
func (s *Store) startCleanup() {
	s.cleanup = cleanup.New(s.cfg.cleanupInterval)
	if s.cfg.cleanupInterval > 0 {
		go s.cleanupEvery()
	}
}

// cleanupEvery, the cleanup goroutine, runs Cleanup every interval until
// Close stops it. Close also cancels a cleanup under way, so it never waits
// for a slow database.
func (s *Store) cleanupEvery() {
	s.cleanup.Run(func(ctx context.Context) {
		if _, err := s.Cleanup(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "pgstore: deleting expired sessions", "table", s.tables.name, "error", err)
		}
	})
}

// Cleanup deletes every expired record (and its values) and returns how
// many records it deleted. It works in batches of WithCleanupBatch rows,
// each its own short transaction that skips rows a request holds, so it
// never makes a request wait; a skipped row goes at the next cleanup. Its
// cost is proportional to what expired: expires_at is indexed.
func (s *Store) Cleanup(ctx context.Context) (int, error) {
	return cleanup.Batches(ctx, s.cfg.cleanupBatch, s.cleanupBatch)
}

// cleanupBatch deletes up to one batch of expired records.
func (s *Store) cleanupBatch(ctx context.Context) (int, error) {
	tag, err := s.pool.Exec(ctx, s.q.deleteDead, s.cfg.cleanupBatch)
	if err != nil {
		return 0, fmt.Errorf("pgstore: deleting expired sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
