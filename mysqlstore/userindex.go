package mysqlstore

import (
	"context"
	"fmt"

	"github.com/sessionid/session"
)

// UserSessions returns the live records of user, with their values, never
// tombstones. The user is an indexed column: one query, whatever the number
// of sessions in the table.
func (s *Store) UserSessions(ctx context.Context, user string) ([]session.KeyedRecord, error) {
	rows, err := s.db.QueryContext(ctx, s.q.userSessions, bytesOf(user))
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: listing sessions of user: %w", err)
	}
	recs, err := scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: listing sessions of user: %w", err)
	}
	return recs, nil
}

// DeleteUser removes every record of user and returns how many were live.
// A session that a renewal moved to a new key while DeleteUser ran is
// removed too: it keeps its user, by which DeleteUser finds it. That
// renewal's tombstone may stay at the old key, leading nowhere, until it
// expires. One round trip: one transaction of two statements.
func (s *Store) DeleteUser(ctx context.Context, user string) (int, error) {
	b := s.q.deleteUser(user)
	affected, err := s.run(ctx, b)
	if err != nil {
		return 0, fmt.Errorf("mysqlstore: deleting sessions of user: %w", err)
	}
	return int(affected[b.result]), nil
}
