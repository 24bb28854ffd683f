package sqlitestore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/sessionid/session/storetest"
	"github.com/stretchr/testify/require"
)

// newTestStore opens a store on a new file in a temporary directory and
// closes it when the test ends.
func newTestStore(t testing.TB, opts ...Option) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "sessions.db"), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store { return newTestStore(t) })
}

func TestSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := Open(path)
	require.NoError(t, err)
	rec := liveRecord("alice", map[string][]byte{"cart": []byte("apple"), "n": {0, 1, 2}})
	require.NoError(t, s.Create(ctx, "k1", rec))
	require.NoError(t, s.Close())

	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	got, err := s.Load(ctx, "k1")
	require.NoError(t, err)
	require.Equal(t, "alice", got.User)
	v, _ := got.Values.Get("cart")
	require.Equal(t, "apple", string(v))
	v, _ = got.Values.Get("n")
	require.Equal(t, []byte{0, 1, 2}, v)
	require.True(t, got.CreatedAt.Equal(rec.CreatedAt))
	require.True(t, got.IdleDeadline.Equal(rec.IdleDeadline))
}

func TestOpenValidates(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		opts []Option
	}{
		{"empty path", "", nil},
		{"memory", ":memory:", nil},
		{"URI", "file:x.db", nil},
		{"query", filepath.Join(dir, "x.db?mode=ro"), nil},
		{"bad table", filepath.Join(dir, "x.db"), []Option{WithTable(`s"; DROP TABLE x; --`)}},
		{"dotted table", filepath.Join(dir, "x.db"), []Option{WithTable("main.sessions")}},
		{"negative interval", filepath.Join(dir, "x.db"), []Option{WithCleanupInterval(-time.Second)}},
		{"zero batch", filepath.Join(dir, "x.db"), []Option{WithCleanupBatch(0)}},
		{"zero busy timeout", filepath.Join(dir, "x.db"), []Option{WithBusyTimeout(0)}},
		{"no readers", filepath.Join(dir, "x.db"), []Option{WithReaders(0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.path, tc.opts...)
			require.Error(t, err)
			require.Nil(t, s)
		})
	}
}

func TestPragmas(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	var mode string
	var busy, fk, sync int
	require.NoError(t, s.writer.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
	require.NoError(t, s.writer.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy))
	require.NoError(t, s.writer.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk))
	require.NoError(t, s.writer.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync))
	require.Equal(t, "wal", mode)
	require.Equal(t, 5000, busy)
	require.Equal(t, 1, fk)
	require.Equal(t, 1, sync, "NORMAL")
	require.NoError(t, s.reader.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy))
	require.Equal(t, 5000, busy)
	_, err := s.reader.ExecContext(ctx, `DELETE FROM sessions`)
	require.Error(t, err, "readers are query-only")
}

func TestWithTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	a, err := Open(path, WithTable("app_a"))
	require.NoError(t, err)
	defer a.Close()
	b, err := Open(path, WithTable("app_b"))
	require.NoError(t, err)
	defer b.Close()
	ctx := context.Background()
	require.NoError(t, a.Create(ctx, "k", liveRecord("alice", nil)))
	_, err = b.Load(ctx, "k")
	require.ErrorIs(t, err, session.ErrNotFound, "two tables in one file are two stores")
	require.NoError(t, b.Create(ctx, "k", liveRecord("bob", nil)))
	got, err := a.Load(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "alice", got.User)
}

// TestSchemaDocumented keeps the SQL in doc.go the same as what Open runs.
func TestSchemaDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	var want strings.Builder
	for _, stmt := range schema(DefaultTable) {
		for _, line := range strings.Split(stmt+";", "\n") {
			want.WriteString("//\t" + line + "\n")
		}
	}
	require.Contains(t, string(doc), want.String())
}
