package mysqlstore

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// TestSchemaDocumented keeps the schema in doc.go the same as Migrate's.
func TestSchemaDocumented(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	var doc strings.Builder
	for line := range strings.Lines(string(src)) {
		if rest, ok := strings.CutPrefix(line, "//\t"); ok {
			doc.WriteString(rest)
		}
	}
	tbl, err := parseTable(DefaultTable)
	require.NoError(t, err)
	for _, stmt := range schema(tbl) {
		require.Contains(t, doc.String(), stmt+";\n")
	}
}

func TestParseTable(t *testing.T) {
	tbl, err := parseTable("app.sessions")
	require.NoError(t, err)
	require.Equal(t, "`app`.`sessions`", tbl.sessions)
	require.Equal(t, "`app`.`sessions_values`", tbl.values)
	require.Equal(t, "app", tbl.database)
}

func TestMigrateCreatesDatabase(t *testing.T) {
	db := testenv.RandomName("mysqlstore_db_")
	s, err := New(testConfig(t), WithTable(db+".sessions"), WithCleanupInterval(0))
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := s.db.Exec("DROP DATABASE IF EXISTS " + quote(db))
		require.NoError(t, err)
		require.NoError(t, s.Close())
	})
	ctx := context.Background()
	require.NoError(t, s.Migrate(ctx))
	require.NoError(t, s.Migrate(ctx), "Migrate can run again")
	k := newKey(t)
	require.NoError(t, s.Create(ctx, k, testRecord("alice", time.Hour)))
	rec, err := s.Load(ctx, k)
	require.NoError(t, err)
	require.Equal(t, "alice", rec.User)
}
