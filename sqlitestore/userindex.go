package sqlitestore

import (
	"context"
	"database/sql"

	"github.com/sessionid/session"
)

// UserSessions returns the live records of user, with their values, never
// tombstones. The user is an indexed column: one statement, on a reader,
// whatever the number of sessions in the table.
func (s *Store) UserSessions(ctx context.Context, user string) ([]session.KeyedRecord, error) {
	rows, err := s.q.userSessions.QueryContext(ctx, user, s.micros())
	if err != nil {
		return nil, wrap("listing sessions of user", err)
	}
	defer rows.Close()
	var out []session.KeyedRecord
	var b *recordBuilder
	var key, prev []byte
	flush := func() error {
		if b == nil {
			return nil
		}
		rec, err := b.record()
		if err != nil {
			return err
		}
		out = append(out, session.KeyedRecord{Key: string(prev), Record: rec})
		return nil
	}
	for rows.Next() {
		// Rows come ordered by session: a new key starts a new record.
		row := &recordBuilder{}
		var v valueRow
		if err := rows.Scan(append([]any{&key}, row.targets(&v)...)...); err != nil {
			return nil, wrap("listing sessions of user", err)
		}
		if b == nil || string(key) != string(prev) {
			if err := flush(); err != nil {
				return nil, err
			}
			b, prev = row, append([]byte(nil), key...)
		}
		b.add(v)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("listing sessions of user", err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteUser removes every record of user and returns how many were live.
// One write transaction: two statements.
func (s *Store) DeleteUser(ctx context.Context, user string) (int, error) {
	var n int
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := tx.StmtContext(ctx, s.q.countUser).QueryRowContext(ctx, user, s.micros()).Scan(&n); err != nil {
			return err
		}
		_, err := tx.StmtContext(ctx, s.q.deleteUser).ExecContext(ctx, user)
		return err
	})
	if err != nil {
		return 0, wrap("deleting sessions of user", err)
	}
	return n, nil
}
