package pgstore

import (
	"context"
	"fmt"

	"github.com/sessionid/session"
)

// UserSessions returns the live records of user, with their values, never
// tombstones. The user is an indexed column: one query, whatever the number
// of sessions in the table.
func (s *Store) UserSessions(ctx context.Context, user string) ([]session.KeyedRecord, error) {
	rows, err := s.pool.Query(ctx, s.q.userSessions, user)
	if err != nil {
		return nil, fmt.Errorf("pgstore: listing sessions of user: %w", err)
	}
	defer rows.Close()
	var out []session.KeyedRecord
	for rows.Next() {
		var key []byte
		var row recordRow
		if err := rows.Scan(append([]any{&key}, row.targets()...)...); err != nil {
			return nil, fmt.Errorf("pgstore: listing sessions of user: %w", err)
		}
		rec, err := row.record()
		if err != nil {
			return nil, err
		}
		out = append(out, session.KeyedRecord{Key: string(key), Record: rec})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: listing sessions of user: %w", err)
	}
	return out, nil
}

// DeleteUser removes every record of user and returns how many were live.
// A session that a renewal moved to a new key while DeleteUser ran is
// removed too: it keeps its row, which DeleteUser locks by id. That
// renewal's tombstone may stay at the old key, leading nowhere, until it
// expires. One query.
func (s *Store) DeleteUser(ctx context.Context, user string) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, s.q.deleteUser, user).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: deleting sessions of user: %w", err)
	}
	return n, nil
}
