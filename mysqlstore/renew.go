package mysqlstore

import (
	"context"
	"fmt"

	"github.com/sessionid/session"
)

// Renew atomically moves the live record at oldKey to newKey, applying d,
// and leaves at oldKey a tombstone holding tomb (expiring at tomb.Expires),
// or nothing when tomb is nil. It fails with session.ErrNotFound if oldKey
// holds no live record, and with session.ErrExists if newKey holds a live
// record or a tombstone; either way no live record changes. The record keeps
// its row and values: only its key changes. One round trip: one
// transaction.
func (s *Store) Renew(ctx context.Context, oldKey, newKey string, d session.Delta, tomb *session.Tombstone) error {
	b := s.q.renew(oldKey, newKey, &d, tomb)
	affected, err := s.run(ctx, b)
	switch {
	case isDuplicate(err):
		// newKey holds a record, and oldKey a live one: the move failed
		// and the transaction was rolled back.
		return session.ErrExists
	case err != nil:
		return fmt.Errorf("mysqlstore: renewing: %w", err)
	case affected[b.result] == 0:
		return session.ErrNotFound
	}
	return nil
}

// renew is the Renew batch: an expired record at newKey goes; the live row
// at oldKey moves to newKey, failing on a duplicate key; the delta's values
// change; the tombstone is inserted at oldKey if the row moved.
func (q *queries) renew(oldKey, newKey string, d *session.Delta, tomb *session.Tombstone) *batch {
	b := &batch{}
	b.begin()
	b.add(`DELETE FROM `+q.t.sessions+` WHERE session_key = ? AND expires_at <= UTC_TIMESTAMP(6)`, bytesOf(newKey))
	q.moveRow(b, oldKey, newKey, d)
	result := b.result
	q.changeValues(b, d)
	if tomb != nil {
		expires := dbTime(tomb.Expires)
		b.add(`INSERT INTO `+q.t.sessions+` (session_key, idle_deadline, absolute_deadline, tombstone, successor,
	next_key, grace_until)
SELECT ?, ?, ?, TRUE, ?, ?, ? FROM DUAL WHERE @sid IS NOT NULL`,
			bytesOf(oldKey), expires, expires, tomb.Successor, bytesOf(tomb.Next), nullTime(tomb.GraceUntil))
	}
	b.commit()
	b.result = result
	return b
}
