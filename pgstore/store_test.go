package pgstore

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/testenv"
	"github.com/sessionid/session/storetest"
	"github.com/stretchr/testify/require"
)

// TestConformance runs the Store contract's suite in each of pgx's query
// execution modes: the default caches prepared statements, and the others
// are what a connection pooler such as PgBouncer may need.
func TestConformance(t *testing.T) {
	testURL(t)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe,
		pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			pool := testPool(t, func(cfg *pgxpool.Config) { cfg.ConnConfig.DefaultQueryExecMode = mode })
			storetest.Run(t, func(t *testing.T) session.Store { return newTestStore(t, pool) })
		})
	}
}

func TestParseTable(t *testing.T) {
	tests := []struct {
		name, table          string
		schema               string
		sessions, values     string
		userIndex, expiresIx string
		wantErr              bool
	}{
		{name: "default", table: "sessions", sessions: `"sessions"`, values: `"sessions_values"`,
			userIndex: `"sessions_user_idx"`, expiresIx: `"sessions_expires_idx"`},
		{name: "schema-qualified", table: "app.Web_Sessions2", schema: "app", sessions: `"app"."Web_Sessions2"`,
			values: `"app"."Web_Sessions2_values"`, userIndex: `"Web_Sessions2_user_idx"`, expiresIx: `"Web_Sessions2_expires_idx"`},
		{name: "underscore first", table: "_s", sessions: `"_s"`, values: `"_s_values"`,
			userIndex: `"_s_user_idx"`, expiresIx: `"_s_expires_idx"`},
		{name: "longest", table: "s23456789012345678901234567890123456789012345678901",
			sessions:  `"s23456789012345678901234567890123456789012345678901"`,
			values:    `"s23456789012345678901234567890123456789012345678901_values"`,
			userIndex: `"s23456789012345678901234567890123456789012345678901_user_idx"`,
			expiresIx: `"s23456789012345678901234567890123456789012345678901_expires_idx"`},
		{name: "too long", table: "s234567890123456789012345678901234567890123456789012", wantErr: true},
		{name: "schema too long", table: "s234567890123456789012345678901234567890123456789012345678901234.s", wantErr: true},
		{name: "empty", table: "", wantErr: true},
		{name: "empty schema", table: ".sessions", wantErr: true},
		{name: "empty table", table: "app.", wantErr: true},
		{name: "three parts", table: "db.app.sessions", wantErr: true},
		{name: "digit first", table: "1sessions", wantErr: true},
		{name: "quote", table: `sessions"; DROP TABLE users; --`, wantErr: true},
		{name: "space", table: "my sessions", wantErr: true},
		{name: "hyphen", table: "my-sessions", wantErr: true},
		{name: "NUL", table: "sessions\x00", wantErr: true},
		{name: "non-ASCII", table: "séssions", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTable(tc.table)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tables{name: tc.table, schema: tc.schema, sessions: tc.sessions, values: tc.values,
				userIndex: tc.userIndex, expiresIndex: tc.expiresIx}, got)
		})
	}
}

func TestNewValidates(t *testing.T) {
	pool := &pgxpool.Pool{} // never used: New fails first
	tests := []struct {
		name string
		opts []Option
	}{
		{"bad table", []Option{WithTable("a;b")}},
		{"negative interval", []Option{WithCleanupInterval(-1)}},
		{"zero batch", []Option{WithCleanupBatch(0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(pool, tc.opts...)
			require.Error(t, err)
			require.Nil(t, s)
		})
	}
	t.Run("nil pool", func(t *testing.T) {
		_, err := New(nil)
		require.ErrorContains(t, err, "pool")
	})
	t.Run("every problem reported", func(t *testing.T) {
		_, err := New(nil, WithTable("a;b"), WithCleanupBatch(-1))
		require.ErrorContains(t, err, "a;b")
		require.ErrorContains(t, err, "batch")
		require.ErrorContains(t, err, "pool")
	})
}

func TestMigrateIsIdempotent(t *testing.T) {
	pool := testPool(t)
	s := newTestStore(t, pool)
	ctx := context.Background()
	require.NoError(t, s.Migrate(ctx), "a second run changes nothing")
	require.NoError(t, s.Create(ctx, "k", &session.Record{Values: session.ValuesOf(map[string][]byte{"a": []byte("1")}),
		IdleDeadline: farFuture, AbsoluteDeadline: farFuture}))
	require.NoError(t, s.Migrate(ctx), "nor a run on a table in use")
	rec, err := s.Load(ctx, "k")
	require.NoError(t, err)
	a, _ := rec.Values.Get("a")
	require.Equal(t, []byte("1"), a)
}

// TestMigrateAddsColumns: a table created by an earlier release, with
// sessions in it, gains the columns added since, and its sessions read as
// their defaults say.
func TestMigrateAddsColumns(t *testing.T) {
	pool := testPool(t)
	s, err := New(pool, WithTable(testSchema(t, pool)+".sessions"), WithCleanupInterval(0))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	ctx := context.Background()
	for i, stmt := range schema(s.tables) {
		if i == 0 {
			old := strings.Replace(stmt, "\n\tremember          boolean NOT NULL DEFAULT false,", "", 1)
			require.NotEqual(t, stmt, old)
			stmt = old
		}
		_, err := pool.Exec(ctx, stmt)
		require.NoError(t, err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO `+s.tables.sessions+` (key, user_name, idle_deadline, absolute_deadline)
VALUES ('old', 'alice', $1, $1)`, farFuture)
	require.NoError(t, err)

	require.NoError(t, s.Migrate(ctx))
	rec, err := s.Load(ctx, "old")
	require.NoError(t, err)
	require.False(t, rec.Remember, "a session stored before is not remembered")
	require.Equal(t, "alice", rec.User)
	yes := true
	require.NoError(t, s.Update(ctx, "old", session.Delta{Remember: &yes}))
	require.NoError(t, s.Migrate(ctx), "a second run changes nothing")
	rec, err = s.Load(ctx, "old")
	require.NoError(t, err)
	require.True(t, rec.Remember)
}

// TestMigrateWaitsForNoReader: Migrate on an up-to-date table takes no lock
// that a long transaction reading it (a pg_dump, a report) would hold up,
// and so holds up no session read behind it.
func TestMigrateWaitsForNoReader(t *testing.T) {
	pool := testPool(t)
	s := newTestStore(t, pool)
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	_, err = tx.Exec(ctx, `SELECT count(*) FROM `+s.tables.sessions)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	require.NoError(t, s.Migrate(ctx))
}

// TestMigrateCreatesTheSchema: the schema of a qualified table name is
// created where it is missing, under its name as given (quoted, as the
// tables' names are), and a second run changes nothing.
func TestMigrateCreatesTheSchema(t *testing.T) {
	pool := testPool(t)
	name := freshSchema(t, pool)
	s, err := New(pool, WithTable(name+".sessions"), WithCleanupInterval(0))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	ctx := context.Background()
	require.NoError(t, s.Migrate(ctx))
	require.NoError(t, s.Migrate(ctx), "a second run changes nothing")

	var has bool
	require.NoError(t, pool.QueryRow(ctx, hasSchema, name).Scan(&has))
	require.True(t, has, "schema %s", name)
	require.NoError(t, s.Create(ctx, "k", &session.Record{IdleDeadline: farFuture, AbsoluteDeadline: farFuture}))
	_, err = s.Load(ctx, "k")
	require.NoError(t, err)
}

// TestMigrateNeedsNoDatabasePrivilegeWhereTheSchemaExists: CREATE SCHEMA
// needs the CREATE privilege on the database even when IF NOT EXISTS makes
// it a no-op, so Migrate runs it only for a missing schema: a role that
// owns its schema but may not create schemas, as an application's often
// is, migrates.
func TestMigrateNeedsNoDatabasePrivilegeWhereTheSchemaExists(t *testing.T) {
	admin := testPool(t)
	ctx := context.Background()
	role := pgx.Identifier{testenv.RandomName("pgstore_test_role_")}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE ROLE "+role); err != nil {
		t.Skipf("this test needs a user that may create roles: %v", err)
	}
	t.Cleanup(func() {
		_, err := admin.Exec(context.Background(), "DROP ROLE "+role)
		require.NoError(t, err)
	})
	name := freshSchema(t, admin)
	_, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()+" AUTHORIZATION "+role)
	require.NoError(t, err)
	app := testPool(t, func(cfg *pgxpool.Config) {
		cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, "SET ROLE "+role)
			return err
		}
	})
	var mayCreate bool
	if err := app.QueryRow(ctx, "SELECT has_database_privilege(current_database(), 'CREATE')").Scan(&mayCreate); err != nil {
		t.Skipf("this test needs a user that may take the role it creates: %v", err)
	}
	if mayCreate {
		t.Skip("every role may create schemas in the test database: nothing to prove")
	}

	s, err := New(app, WithTable(name+".sessions"), WithCleanupInterval(0))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(ctx))
	require.NoError(t, s.Migrate(ctx), "a second run changes nothing")
}

// TestMigrateConcurrently: instances starting together all migrate, whether
// they share a table or each have a table of its own in one new schema.
func TestMigrateConcurrently(t *testing.T) {
	pool := testPool(t)
	shared := testSchema(t, pool) + ".sessions"
	fresh := freshSchema(t, pool)
	tests := []struct {
		name   string
		tables []string
	}{
		{"one table", []string{shared, shared, shared, shared}},
		{"tables of one new schema", []string{fresh + ".a", fresh + ".b", fresh + ".c", fresh + ".d"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := make(chan error, len(tc.tables))
			for _, table := range tc.tables {
				go func() {
					s, err := New(pool, WithTable(table), WithCleanupInterval(0))
					if err == nil {
						err = s.Migrate(context.Background())
					}
					errs <- err
				}()
			}
			for range tc.tables {
				require.NoError(t, <-errs)
			}
		})
	}
}

// TestDocumentedSchema keeps the SQL in the package documentation the same
// as what Migrate runs.
func TestDocumentedSchema(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	var doc strings.Builder
	for _, line := range strings.Split(string(src), "\n") {
		doc.WriteString(strings.TrimPrefix(line, "//") + "\n")
	}
	documented := strings.Join(strings.Fields(doc.String()), " ")
	tables, err := parseTable(DefaultTable)
	require.NoError(t, err)
	for _, stmt := range schema(tables) {
		require.Contains(t, documented, strings.Join(strings.Fields(stmt), " ")+";")
	}
	for _, c := range addedColumns(tables) {
		require.Contains(t, documented, strings.Join(strings.Fields(c.stmt), " ")+";")
		require.Contains(t, schema(tables)[0], "\n\t"+c.name+" ", "a new table has column %s from the start", c.name)
	}
	qualified, err := parseTable("myapp.sessions")
	require.NoError(t, err)
	require.Contains(t, documented, createSchema(qualified)+";")
}
