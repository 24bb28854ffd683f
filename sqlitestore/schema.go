package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// schema returns the statements that create the store's tables and indexes
// for the sessions table t (a checked identifier), each a no-op when its
// object exists. The package documentation shows them for the default table;
// a test keeps the two the same.
//
// Keys, value names, values and the user agent are BLOBs: arbitrary bytes,
// compared bytewise. Times are INTEGER microseconds since the Unix epoch,
// NULL for a zero time. Sessions have an integer id so that a renewal
// changes one column and leaves the value rows, which hang on the id,
// untouched. STRICT tables refuse a value of the wrong type.
func schema(t string) []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS "` + t + `" (
	id                INTEGER PRIMARY KEY,
	key               BLOB NOT NULL UNIQUE,
	user_name         TEXT,
	created_at        INTEGER,
	last_seen         INTEGER,
	issued_at         INTEGER,
	idle_deadline     INTEGER NOT NULL,
	absolute_deadline INTEGER NOT NULL,
	expires_at        INTEGER GENERATED ALWAYS AS (min(idle_deadline, absolute_deadline)) STORED,
	client_ip         TEXT,
	user_agent        BLOB,
	remember          INTEGER NOT NULL DEFAULT 0,
	tombstone         INTEGER NOT NULL DEFAULT 0,
	successor         BLOB,
	next_key          BLOB,
	grace_until       INTEGER
) STRICT`,
		`CREATE TABLE IF NOT EXISTS "` + t + `_values" (
	session_id INTEGER NOT NULL REFERENCES "` + t + `" (id) ON DELETE CASCADE,
	name       BLOB NOT NULL,
	value      BLOB NOT NULL,
	PRIMARY KEY (session_id, name)
) STRICT, WITHOUT ROWID`,
		`CREATE INDEX IF NOT EXISTS "` + t + `_user_idx" ON "` + t + `" (user_name) WHERE user_name IS NOT NULL`,
		`CREATE INDEX IF NOT EXISTS "` + t + `_expires_idx" ON "` + t + `" (expires_at)`,
	}
}

// migrate creates the store's tables and indexes if they do not exist, in
// one transaction on the writer.
func (s *Store) migrate(ctx context.Context) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, stmt := range schema(s.table) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: creating table %s: %w", s.table, err)
	}
	return nil
}

// queries are the statements of one store, for its tables, prepared once
// when it opens: load and userSessions on the readers, the others on the
// writer, where they run inside write transactions (tx.StmtContext).
// modernc.org/sqlite compiles SQL passed as text to QueryContext or
// ExecContext anew on every call, and compiling a statement costs about as
// much as running it; a prepared statement is compiled once on each
// connection and reused.
//
// Every query that reads or changes a record checks expiry against a time
// given as a parameter (the store's clock, in microseconds), never SQLite's
// own.
type queries struct {
	load, userSessions       *sql.Stmt
	deleteExpiredAt, create  *sql.Stmt
	insertValue, deleteValue *sql.Stmt
	clearValues, update      *sql.Stmt
	findForRenew, keyTaken   *sql.Stmt
	renew, insertTomb        *sql.Stmt
	findByKey, deleteByID    *sql.Stmt
	countUser, deleteUser    *sql.Stmt
	deleteDead               *sql.Stmt

	all []*sql.Stmt // every statement above, for close
}

// recordColumns are the columns scanned by recordBuilder, from a session row s
// and one of its value rows v (NULL when it has none: the driver reads an
// empty BLOB as nil, so a NULL name cannot tell).
const recordColumns = `s.user_name, s.created_at, s.last_seen, s.issued_at, s.idle_deadline, s.absolute_deadline,
	s.client_ip, s.user_agent, s.remember, s.tombstone, s.successor, s.next_key, s.grace_until,
	v.session_id IS NOT NULL, v.name, v.value`

// live is the condition for a session row that Update and Renew may change;
// ?2 is now.
const live = `NOT tombstone AND expires_at > ?2`

// deltaFields sets a session row's fields from a delta: ?3 whether the user
// changes, ?4 the user (NULL for none), ?5 last seen, ?6 idle deadline, ?7
// issued at, ?8 remember (NULL leaves each as it was).
const deltaFields = `
	user_name     = CASE WHEN ?3 THEN ?4 ELSE user_name END,
	last_seen     = coalesce(?5, last_seen),
	idle_deadline = coalesce(?6, idle_deadline),
	issued_at     = coalesce(?7, issued_at),
	remember      = coalesce(?8, remember)`

// prepareQueries prepares the statements of the store whose sessions table is
// t (a checked identifier), whose tables exist.
func prepareQueries(ctx context.Context, reader, writer *sql.DB, t string) (*queries, error) {
	r := strings.NewReplacer("{sessions}", `"`+t+`"`, "{values}", `"`+t+`_values"`)
	var all []*sql.Stmt
	var errs []error
	prepare := func(db *sql.DB, query string) *sql.Stmt {
		stmt, err := db.PrepareContext(ctx, r.Replace(query))
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		all = append(all, stmt)
		return stmt
	}
	read := func(query string) *sql.Stmt { return prepare(reader, query) }
	write := func(query string) *sql.Stmt { return prepare(writer, query) }
	q := &queries{
		// One statement, so one snapshot: a record and its values are
		// never seen half-written. A session with n values is n rows.
		load: read(`SELECT ` + recordColumns + ` FROM {sessions} s LEFT JOIN {values} v ON v.session_id = s.id
WHERE s.key = ?1 AND s.expires_at > ?2`),
		userSessions: read(`SELECT s.key, ` + recordColumns + ` FROM {sessions} s LEFT JOIN {values} v ON v.session_id = s.id
WHERE s.user_name = ?1 AND NOT s.tombstone AND s.expires_at > ?2 ORDER BY s.id`),

		// Create and Renew may take a key whose record has expired.
		deleteExpiredAt: write(`DELETE FROM {sessions} WHERE key = ?1 AND expires_at <= ?2`),
		create: write(`INSERT INTO {sessions} (key, user_name, created_at, last_seen, issued_at, idle_deadline,
	absolute_deadline, client_ip, user_agent, remember, tombstone, successor, next_key, grace_until)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
ON CONFLICT (key) DO NOTHING RETURNING id`),

		insertValue: write(`INSERT INTO {values} (session_id, name, value) VALUES (?1, ?2, ?3)
ON CONFLICT (session_id, name) DO UPDATE SET value = excluded.value`),
		deleteValue: write(`DELETE FROM {values} WHERE session_id = ?1 AND name = ?2`),
		clearValues: write(`DELETE FROM {values} WHERE session_id = ?1`),
		update: write(`UPDATE {sessions} SET ` + deltaFields + `
WHERE key = ?1 AND ` + live + ` RETURNING id`),

		findForRenew: write(`SELECT id, ` + live + ` FROM {sessions} WHERE key = ?1`),
		keyTaken:     write(`SELECT EXISTS (SELECT 1 FROM {sessions} WHERE key = ?1)`),
		// renew moves the row to the new key ?9 in place, so its id and
		// values stay; ?1 is its id here.
		renew: write(`UPDATE {sessions} SET key = ?9, ` + deltaFields + `
WHERE id = ?1 AND ` + live),
		insertTomb: write(`INSERT INTO {sessions} (key, idle_deadline, absolute_deadline, tombstone, successor,
	next_key, grace_until) VALUES (?1, ?2, ?2, 1, ?3, ?4, ?5)`),

		findByKey:  write(`SELECT id, tombstone, next_key FROM {sessions} WHERE key = ?1`),
		deleteByID: write(`DELETE FROM {sessions} WHERE id = ?1`),
		countUser:  write(`SELECT count(*) FROM {sessions} WHERE user_name = ?1 AND NOT tombstone AND expires_at > ?2`),
		deleteUser: write(`DELETE FROM {sessions} WHERE user_name = ?1`),

		// deleteDead deletes up to ?2 expired rows, oldest first, through
		// the expires_at index; their values go by the foreign key.
		deleteDead: write(`DELETE FROM {sessions} WHERE id IN (
	SELECT id FROM {sessions} WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2
)`),
	}
	q.all = all
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(err, q.close())
	}
	return q, nil
}

// close closes the statements, which must not be in use.
func (q *queries) close() error {
	var errs []error
	for _, stmt := range q.all {
		errs = append(errs, stmt.Close())
	}
	return errors.Join(errs...)
}
