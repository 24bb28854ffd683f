package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sessionid/session"
)

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

// Renew atomically moves the live record at oldKey to newKey, applying d,
// and leaves at oldKey a tombstone holding tomb (expiring at tomb.Expires),
// or nothing when tomb is nil. It fails with session.ErrNotFound if oldKey
// holds no live record, and with session.ErrExists if newKey holds a live
// record or a tombstone; either way no live record changes. The record keeps
// its row and values: only its key changes. One round trip: a batch of
// three statements in one transaction.
func (s *Store) Renew(ctx context.Context, oldKey, newKey string, d session.Delta, tomb *session.Tombstone) error {
	var oldLive bool
	b := &pgx.Batch{}
	// The lock holds the old row from here to the commit, so what the first
	// statement saw of it is what the third one moves.
	b.Queue(s.q.lockForRenew, []byte(oldKey)).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(&oldLive); !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return nil
	})
	b.Queue(s.q.deleteExpiredAt, []byte(newKey))
	var moved int64
	b.Queue(s.q.renew, renewArgs(oldKey, newKey, &d, tomb)...).QueryRow(scanInto(&moved))
	err := s.pool.SendBatch(ctx, b).Close()
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == uniqueViolation:
		// A record was created at newKey after the check: the whole batch
		// was rolled back.
		return session.ErrExists
	case err != nil:
		return fmt.Errorf("pgstore: renewing: %w", err)
	case !oldLive:
		return session.ErrNotFound
	case moved == 0:
		return session.ErrExists
	}
	return nil
}

// renewArgs are the parameters of the renew query: the delta's, then the
// new key and the tombstone.
func renewArgs(oldKey, newKey string, d *session.Delta, tomb *session.Tombstone) []any {
	args := append(deltaArgs(oldKey, d), valueArgs(d)...)
	var successor, next []byte
	var grace, expires time.Time
	if tomb != nil {
		successor, next, grace, expires = tomb.Successor, bytesOf(tomb.Next), tomb.GraceUntil, tomb.Expires
	}
	return append(args, []byte(newKey), tomb != nil, nullTime(expires), successor, next, nullTime(grace))
}
