package sqlitestore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/sessionid/session"
)

// Renew atomically moves the live record at oldKey to newKey, applying d,
// and leaves at oldKey a tombstone holding tomb (expiring at tomb.Expires),
// or nothing when tomb is nil. It fails with session.ErrNotFound if oldKey
// holds no live record, and with session.ErrExists if newKey holds a live
// record or a tombstone; either way nothing changes. The record keeps its
// row and values: only its key changes. One write transaction: four
// statements, one per value changed, and one for the tombstone.
func (s *Store) Renew(ctx context.Context, oldKey, newKey string, d session.Delta, tomb *session.Tombstone) error {
	now := s.micros()
	err := s.write(ctx, func(tx *sql.Tx) error {
		var id int64
		var live bool
		err := tx.StmtContext(ctx, s.q.findForRenew).QueryRowContext(ctx, []byte(oldKey), now).Scan(&id, &live)
		if errors.Is(err, sql.ErrNoRows) || err == nil && !live {
			return session.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, s.q.deleteExpiredAt).ExecContext(ctx, []byte(newKey), now); err != nil {
			return err
		}
		var taken bool
		if err := tx.StmtContext(ctx, s.q.keyTaken).QueryRowContext(ctx, []byte(newKey)).Scan(&taken); err != nil {
			return err
		}
		if taken {
			return session.ErrExists
		}
		if _, err := tx.StmtContext(ctx, s.q.renew).ExecContext(ctx, append(deltaArgs(id, now, &d), []byte(newKey))...); err != nil {
			return err
		}
		if err := s.writeValues(ctx, tx, id, &d); err != nil {
			return err
		}
		if tomb == nil {
			return nil
		}
		_, err = tx.StmtContext(ctx, s.q.insertTomb).ExecContext(ctx, []byte(oldKey), tomb.Expires.UnixMicro(), tomb.Successor,
			[]byte(tomb.Next), micros(tomb.GraceUntil))
		return err
	})
	return wrap("renewing", err)
}
