package mysqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// identifier is what WithTable accepts for each part of a name: no quoting,
// escaping or case rules can then be got wrong.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxIdentifier is the longest name MySQL and MariaDB accept for a database
// or a table.
const maxIdentifier = 64

// valuesSuffix names the values table after the sessions table.
const valuesSuffix = "_values"

// tables holds the quoted names of the store's tables. Only these, never
// unchecked text, are put into SQL.
type tables struct {
	name     string // as given to WithTable, for errors and logs
	database string // unquoted, "" if name is unqualified
	sessions string // quoted, database-qualified if name is
	values   string // quoted, database-qualified if name is
}

// parseTable checks a WithTable name and derives the quoted names from it.
func parseTable(name string) (tables, error) {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return tables{}, fmt.Errorf("mysqlstore: table name %q has more than one dot", name)
	}
	for _, p := range parts {
		if !identifier.MatchString(p) {
			return tables{}, fmt.Errorf("mysqlstore: table name %q: %q is not a plain identifier (letters, digits, underscores)", name, p)
		}
	}
	base := parts[len(parts)-1]
	if len(parts[0]) > maxIdentifier || len(base)+len(valuesSuffix) > maxIdentifier {
		return tables{}, fmt.Errorf("mysqlstore: table name %q is too long: derived names must fit in %d bytes", name, maxIdentifier)
	}
	t := tables{name: name}
	qualify := func(n string) string { return quote(n) }
	if len(parts) == 2 {
		t.database = parts[0]
		qualify = func(n string) string { return quote(t.database) + "." + quote(n) }
	}
	t.sessions, t.values = qualify(base), qualify(base+valuesSuffix)
	return t, nil
}

// quote quotes an identifier that identifier matched.
func quote(name string) string { return "`" + name + "`" }

// schema returns the statements that create the store's tables, each a
// no-op when its table exists. The package documentation shows them for the
// default table; a test keeps the two the same.
//
// Keys, value names and values are binary strings: they are arbitrary
// bytes, compared without a collation. So are the user (valid UTF-8, but
// compared byte for byte whatever the server's default collation) and the
// user agent, which a client may fill with invalid UTF-8. Sessions have a
// surrogate id so that a renewal changes one column and leaves the values
// rows, which hang on the id, untouched. Times are DATETIME(6) in UTC:
// TIMESTAMP would end in 2038.
func schema(t tables) []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + t.sessions + ` (
	id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	session_key       VARBINARY(255) NOT NULL,
	user_name         VARBINARY(1024),
	created_at        DATETIME(6),
	last_seen         DATETIME(6),
	issued_at         DATETIME(6),
	idle_deadline     DATETIME(6) NOT NULL,
	absolute_deadline DATETIME(6) NOT NULL,
	expires_at        DATETIME(6) AS (LEAST(idle_deadline, absolute_deadline)) STORED,
	client_ip         VARBINARY(64),
	user_agent        BLOB,
	remember          BOOLEAN NOT NULL DEFAULT FALSE,
	tombstone         BOOLEAN NOT NULL DEFAULT FALSE,
	successor         BLOB,
	next_key          VARBINARY(255),
	grace_until       DATETIME(6),
	UNIQUE KEY session_key_idx (session_key),
	KEY user_idx (user_name),
	KEY expires_idx (expires_at)
) ENGINE=InnoDB`,
		`CREATE TABLE IF NOT EXISTS ` + t.values + ` (
	session_id BIGINT UNSIGNED NOT NULL,
	name       VARBINARY(1024) NOT NULL,
	value      LONGBLOB NOT NULL,
	PRIMARY KEY (session_id, name),
	FOREIGN KEY (session_id) REFERENCES ` + t.sessions + ` (id) ON DELETE CASCADE
) ENGINE=InnoDB`,
	}
}

// hasDatabase reports whether database ? exists. Migrate asks before it
// creates one: CREATE DATABASE needs a privilege an application's account
// seldom has, even when IF NOT EXISTS makes it a no-op.
const hasDatabase = `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`

// createDatabase returns the statement that creates the database of a
// qualified table name, a no-op when it exists.
func createDatabase(t tables) string {
	return `CREATE DATABASE IF NOT EXISTS ` + quote(t.database)
}

// Migrate creates the store's tables if they do not exist yet, and the
// database of a qualified table name if it is missing. It is safe to run at
// every start, from every instance at once: a named lock (GET_LOCK) on the
// table's name makes concurrent runs take turns. Where the database exists,
// Migrate needs only the CREATE and REFERENCES privileges on it.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.migrate(ctx); err != nil {
		return fmt.Errorf("mysqlstore: migrating table %s: %w", s.tables.name, err)
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) (err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	lock := migrationLock(s.tables.sessions)
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, 60)`, lock).Scan(&got); err != nil {
		return err
	}
	if got.Int64 != 1 {
		return errors.New("timed out waiting for another migration")
	}
	defer func() {
		_, unlockErr := conn.ExecContext(context.WithoutCancel(ctx), `DO RELEASE_LOCK(?)`, lock)
		err = errors.Join(err, unlockErr)
	}()
	if err := s.addDatabase(ctx, conn); err != nil {
		return err
	}
	for _, stmt := range schema(s.tables) {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// addDatabase creates the database of a qualified table name if it is
// missing.
func (s *Store) addDatabase(ctx context.Context, conn *sql.Conn) error {
	if s.tables.database == "" {
		return nil
	}
	var n int
	if err := conn.QueryRowContext(ctx, hasDatabase, s.tables.database).Scan(&n); err != nil || n > 0 {
		return err
	}
	_, err := conn.ExecContext(ctx, createDatabase(s.tables))
	return err
}

// migrationLock is the name of the lock a migration of the sessions table
// holds: a hash of its quoted name, as lock names are at most 64 characters.
func migrationLock(sessions string) string {
	sum := sha256.Sum256([]byte(sessions))
	return "mysqlstore migration " + hex.EncodeToString(sum[:16])
}
