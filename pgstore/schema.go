package pgstore

import (
	"context"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// identifier is what WithTable accepts for each part of a name: no quoting,
// escaping or case rules can then be got wrong.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxIdentifier is PostgreSQL's longest identifier (NAMEDATALEN-1 bytes).
// Longer ones are silently truncated, which could make two derived names
// one, so they are refused.
const maxIdentifier = 63

// Suffixes of the names derived from the sessions table's.
const (
	valuesSuffix  = "_values"
	userSuffix    = "_user_idx"
	expiresSuffix = "_expires_idx"
)

// tables holds the quoted names of the store's tables and indexes. Only
// these, never unchecked text, are put into SQL.
type tables struct {
	name         string // as given to WithTable, for errors and logs
	schema       string // unquoted, "" if name is unqualified: createSchema quotes it
	sessions     string // quoted, schema-qualified if name is
	values       string // quoted, schema-qualified if name is
	userIndex    string // quoted, unqualified: an index lives in its table's schema
	expiresIndex string
}

// parseTable checks a WithTable name and derives the quoted names from it.
func parseTable(name string) (tables, error) {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return tables{}, fmt.Errorf("pgstore: table name %q has more than one dot", name)
	}
	base := parts[len(parts)-1]
	for _, p := range parts {
		if !identifier.MatchString(p) {
			return tables{}, fmt.Errorf("pgstore: table name %q: %q is not a plain identifier (letters, digits, underscores)", name, p)
		}
	}
	longest := len(base) + max(len(valuesSuffix), len(userSuffix), len(expiresSuffix))
	if len(parts[0]) > maxIdentifier || longest > maxIdentifier {
		return tables{}, fmt.Errorf("pgstore: table name %q is too long: derived names must fit in %d bytes", name, maxIdentifier)
	}
	var schema string
	if len(parts) == 2 {
		schema = parts[0]
	}
	qualify := func(n string) string {
		if schema != "" {
			return pgx.Identifier{schema, n}.Sanitize()
		}
		return pgx.Identifier{n}.Sanitize()
	}
	return tables{
		name:         name,
		schema:       schema,
		sessions:     qualify(base),
		values:       qualify(base + valuesSuffix),
		userIndex:    pgx.Identifier{base + userSuffix}.Sanitize(),
		expiresIndex: pgx.Identifier{base + expiresSuffix}.Sanitize(),
	}, nil
}

// schema returns the statements that create the store's tables and
// indexes, each a no-op when its object exists. The package documentation
// shows them for the default table; a test keeps the two the same.
//
// Keys, value names and values are bytea: they are arbitrary bytes, and
// bytea compares them without a collation. The user agent is bytea too: a
// client may send any bytes in it, and text would refuse invalid UTF-8.
// Sessions have a surrogate id so that a renewal changes one column and
// leaves the values rows, which hang on the id, untouched.
func schema(t tables) []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + t.sessions + ` (
	id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key               bytea NOT NULL UNIQUE,
	user_name         text,
	created_at        timestamptz,
	last_seen         timestamptz,
	issued_at         timestamptz,
	idle_deadline     timestamptz NOT NULL,
	absolute_deadline timestamptz NOT NULL,
	expires_at        timestamptz GENERATED ALWAYS AS (LEAST(idle_deadline, absolute_deadline)) STORED,
	client_ip         text,
	user_agent        bytea,
	remember          boolean NOT NULL DEFAULT false,
	tombstone         boolean NOT NULL DEFAULT false,
	successor         bytea,
	next_key          bytea,
	grace_until       timestamptz
)`,
		`CREATE TABLE IF NOT EXISTS ` + t.values + ` (
	session_id bigint NOT NULL REFERENCES ` + t.sessions + ` (id) ON DELETE CASCADE,
	name       bytea NOT NULL,
	value      bytea NOT NULL,
	PRIMARY KEY (session_id, name)
)`,
		`CREATE INDEX IF NOT EXISTS ` + t.userIndex + ` ON ` + t.sessions + ` (user_name) WHERE user_name IS NOT NULL`,
		`CREATE INDEX IF NOT EXISTS ` + t.expiresIndex + ` ON ` + t.sessions + ` (expires_at)`,
	}
}

// addedColumn is a column of the sessions table that a table created by an
// earlier release lacks, with the statement that adds it.
type addedColumn struct{ name, stmt string }

// addedColumns returns the columns the sessions table gained after its first
// release, oldest first. schema creates new tables with them; the package
// documentation shows the statements, and a test keeps the two the same.
func addedColumns(t tables) []addedColumn {
	return []addedColumn{
		{"remember", `ALTER TABLE ` + t.sessions + ` ADD COLUMN IF NOT EXISTS remember boolean NOT NULL DEFAULT false`},
	}
}

// hasColumn reports whether table $1 (quoted, as in tables) has column $2.
// Migrate asks before it adds a column: ALTER TABLE locks the table ACCESS
// EXCLUSIVE even when IF NOT EXISTS makes it a no-op, and while it waits for
// a long transaction that reads the table (pg_dump's, say), every session
// read would wait behind it.
const hasColumn = `SELECT EXISTS (
	SELECT FROM pg_attribute WHERE attrelid = $1::text::regclass AND attname = $2::text AND NOT attisdropped
)`

// hasSchema reports whether schema $1 (unquoted) exists. Migrate asks
// before it creates one: CREATE SCHEMA needs the CREATE privilege on the
// database even when IF NOT EXISTS makes it a no-op, and an application's
// role often lacks it where someone else created the schema.
const hasSchema = `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1::text)`

// createSchema returns the statement that creates the schema of a qualified
// table name, a no-op when it exists. The package documentation shows it; a
// test keeps the two the same.
func createSchema(t tables) string {
	return `CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{t.schema}.Sanitize()
}

// Migrate creates the store's tables and indexes if they do not exist yet,
// and the schema of a qualified table name if it is missing, and adds to a
// table created by an earlier release the columns it lacks. It is safe to
// run at every start, from every instance at once: an advisory lock on the
// table's name makes concurrent runs take turns, since concurrent CREATE
// ... IF NOT EXISTS can otherwise fail, and one on the schema's name does
// the same for the stores of two tables of one new schema. Where the schema
// exists, Migrate needs no privilege on the database.
func (s *Store) Migrate(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock(s.tables.sessions)); err != nil {
			return err
		}
		if err := s.addSchema(ctx, tx); err != nil {
			return err
		}
		for _, stmt := range schema(s.tables) {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return s.addColumns(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("pgstore: migrating table %s: %w", s.tables.name, err)
	}
	return nil
}

// addSchema creates the schema of a qualified table name if it is missing.
func (s *Store) addSchema(ctx context.Context, tx pgx.Tx) error {
	if s.tables.schema == "" {
		return nil
	}
	var has bool
	if err := tx.QueryRow(ctx, hasSchema, s.tables.schema).Scan(&has); err != nil || has {
		return err
	}
	stmt := createSchema(s.tables)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock(stmt)); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, stmt)
	return err
}

// addColumns adds the columns of addedColumns that the sessions table lacks.
func (s *Store) addColumns(ctx context.Context, tx pgx.Tx) error {
	for _, c := range addedColumns(s.tables) {
		var has bool
		if err := tx.QueryRow(ctx, hasColumn, s.tables.sessions, c.name).Scan(&has); err != nil {
			return err
		}
		if has {
			continue
		}
		if _, err := tx.Exec(ctx, c.stmt); err != nil {
			return err
		}
	}
	return nil
}

// migrationLock is the advisory lock key of one object of a migration: a
// sessions table, by its quoted name, or the statement that creates a
// schema.
func migrationLock(object string) int64 {
	h := fnv.New64a()
	h.Write([]byte("pgstore migration " + object))
	return int64(h.Sum64())
}
