package mysqlstore

import (
	"context"
	"database/sql"
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
// for a slow server.
func (s *Store) cleanupEvery() {
	s.cleanup.Run(func(ctx context.Context) {
		if _, err := s.Cleanup(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "mysqlstore: deleting expired sessions", "table", s.tables.name, "error", err)
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

// cleanupBatch deletes up to one batch of expired records: it locks them,
// skipping rows in use, then deletes them by id. Five round trips, in the
// background: the transaction's two statements, its start (isolation level
// and START TRANSACTION) and its commit.
func (s *Store) cleanupBatch(ctx context.Context) (int, error) {
	n, err := s.deleteDead(ctx)
	if err != nil {
		return 0, fmt.Errorf("mysqlstore: deleting expired sessions: %w", err)
	}
	return n, nil
}

func (s *Store) deleteDead(ctx context.Context) (int, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, s.q.selectDead, int64(s.cfg.cleanupBatch))
	if err != nil {
		return 0, err
	}
	var ids []any
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, tx.Commit()
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM `+s.tables.sessions+` WHERE id IN (`+placeholders(len(ids))+`)`, ids...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	return int(n), tx.Commit()
}
