package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/stretchr/testify/require"
)

// newKey returns a fresh key shaped like the manager's.
func newKey(tb testing.TB) string {
	var b [32]byte
	_, err := rand.Read(b[:])
	require.NoError(tb, err)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// randomBytes returns n random bytes.
func randomBytes(tb testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(tb, err)
	return b
}

// bigRecord returns a live record of user with n random values of size
// bytes each, named v00, v01, ...
func bigRecord(tb testing.TB, user string, n, size int) *session.Record {
	now := time.Now().Truncate(time.Microsecond)
	values := make(map[string][]byte, n)
	for i := range n {
		values[fmt.Sprintf("v%02d", i)] = randomBytes(tb, size)
	}
	return &session.Record{
		Values: session.ValuesOf(values), User: user, CreatedAt: now, LastSeen: now, IssuedAt: now,
		IdleDeadline: now.Add(30 * time.Minute), AbsoluteDeadline: now.Add(12 * time.Hour),
		UserAgent: "pgstore-test",
	}
}

// schemaOf returns the schema of a store made by newTestStore.
func schemaOf(s *Store) string {
	schema, _, _ := strings.Cut(s.tables.name, ".")
	return schema
}

// TestCostPerOperation checks the round trips of each store call, and which
// rows it writes, on a session of 20 values of 1 KiB. Each call runs once to
// prepare its statements on the connection, then once measured.
func TestCostPerOperation(t *testing.T) {
	var c counter
	s := newTestStore(t, countingPool(t, &c))
	probe := newWALProbe(t, testPool(t), schemaOf(s))
	ctx := context.Background()
	const values, size = 20, 1024
	key := newKey(t)
	require.NoError(t, s.Create(ctx, key, bigRecord(t, "alice", values, size)))
	now := func() time.Time { return time.Now().Truncate(time.Microsecond) }
	var doomed string

	ops := []struct {
		name    string
		prepare func() // not measured
		run     func() error
		calls   [3]int64 // queries, batches, round trips
		rows    map[string]int
	}{
		{name: "Load", run: func() error { _, err := s.Load(ctx, key); return err },
			calls: [3]int64{1, 0, 1}, rows: map[string]int{}},
		{name: "Load missing", run: func() error {
			_, err := s.Load(ctx, newKey(t))
			require.ErrorIs(t, err, session.ErrNotFound)
			return nil
		}, calls: [3]int64{1, 0, 1}, rows: map[string]int{}},
		{name: "Create", run: func() error { return s.Create(ctx, newKey(t), bigRecord(t, "", values, size)) },
			calls: [3]int64{0, 1, 1}, rows: map[string]int{"sessions": 1, "values": values}},
		{name: "Update 1 of 20 values", run: func() error {
			return s.Update(ctx, key, session.Delta{Set: map[string][]byte{"v07": randomBytes(t, size)},
				LastSeen: now(), IdleDeadline: now().Add(30 * time.Minute)})
		}, calls: [3]int64{0, 1, 1}, rows: map[string]int{"sessions": 1, "values": 1}},
		{name: "Update deleting 1 value",
			prepare: func() { require.NoError(t, s.Update(ctx, key, session.Delta{Set: map[string][]byte{"x": {1}}})) },
			run: func() error {
				return s.Update(ctx, key, session.Delta{Delete: []string{"x"}, LastSeen: now(), IdleDeadline: now().Add(30 * time.Minute)})
			}, calls: [3]int64{0, 1, 1}, rows: map[string]int{"sessions": 1, "values": 1}},
		{name: "Touch", run: func() error {
			return s.Update(ctx, key, session.Delta{LastSeen: now(), IdleDeadline: now().Add(30 * time.Minute)})
		}, calls: [3]int64{1, 0, 1}, rows: map[string]int{"sessions": 1}},
		{name: "Update missing", run: func() error {
			err := s.Update(ctx, newKey(t), session.Delta{Set: map[string][]byte{"a": {1}}})
			require.ErrorIs(t, err, session.ErrNotFound)
			return nil
		}, calls: [3]int64{0, 1, 1}, rows: map[string]int{}},
		{name: "Renew with tombstone", run: func() error {
			next := newKey(t)
			d := session.Delta{IssuedAt: now(), LastSeen: now(), IdleDeadline: now().Add(30 * time.Minute)}
			tomb := &session.Tombstone{Successor: []byte("sealed"), Next: next, GraceUntil: now().Add(5 * time.Second),
				Expires: now().Add(30 * time.Minute)}
			err := s.Renew(ctx, key, next, d, tomb)
			key = next
			return err
		}, calls: [3]int64{0, 1, 1}, rows: map[string]int{"sessions": 2}},
		{name: "UserSessions", run: func() error {
			recs, err := s.UserSessions(ctx, "alice")
			require.Len(t, recs, 1)
			require.Equal(t, values, recs[0].Record.Values.Len())
			return err
		}, calls: [3]int64{1, 0, 1}, rows: map[string]int{}},
		{name: "Delete",
			prepare: func() {
				doomed = newKey(t)
				require.NoError(t, s.Create(ctx, doomed, bigRecord(t, "", values, size)))
			},
			run:   func() error { return s.Delete(ctx, doomed) },
			calls: [3]int64{0, 1, 1}, rows: map[string]int{"sessions": 1, "values": values}},
		{name: "DeleteUser of 2 sessions",
			prepare: func() {
				for range 2 {
					require.NoError(t, s.Create(ctx, newKey(t), bigRecord(t, "bob", values, size)))
				}
			},
			run: func() error {
				n, err := s.DeleteUser(ctx, "bob")
				require.Equal(t, 2, n)
				return err
			}, calls: [3]int64{1, 0, 1}, rows: map[string]int{"sessions": 2, "values": 2 * values}},
	}
	t.Logf("%-26s %7s %7s %11s  %-24s %13s %9s", "operation", "queries", "batches", "round trips", "rows written", "index entries", "WAL bytes")
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			for _, measured := range []bool{false, true} {
				if op.prepare != nil {
					op.prepare()
				}
				c.reset()
				mark := probe.mark(t)
				require.NoError(t, op.run())
				if !measured {
					continue
				}
				w := probe.since(t, mark)
				require.Equal(t, op.calls, c.counts(), "queries, batches, round trips")
				require.Equal(t, op.rows, w.Rows, "rows written")
				t.Logf("%-26s %7d %7d %11d  %-24s %13d %9d", op.name, op.calls[0], op.calls[1], op.calls[2], rowsText(w.Rows), w.Index, w.Bytes)
			}
		})
	}
}

// rowsText formats rows written per table, in a fixed order.
func rowsText(rows map[string]int) string {
	var parts []string
	for _, table := range []string{"sessions", "values", "toast"} {
		if n := rows[table]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", table, n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
