package pgstore

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/testapp"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// rowVersions identifies the current version of every row of s, so that a
// test can tell whether anything was written.
func rowVersions(t *testing.T, s *Store) string {
	var v string
	err := s.pool.QueryRow(context.Background(), `
SELECT coalesce((SELECT string_agg(xmin::text || ctid::text, ',' ORDER BY id) FROM `+s.tables.sessions+`), '')
	|| '/' || coalesce((SELECT string_agg(xmin::text || ctid::text, ',' ORDER BY session_id, name) FROM `+s.tables.values+`), '')`).Scan(&v)
	require.NoError(t, err)
	return v
}

// TestHandlerRoundTrips runs requests through a Manager: a read-only request
// costs one round trip and writes nothing; a write costs a load and an
// update.
func TestHandlerRoundTrips(t *testing.T) {
	var c counter
	s := newTestStore(t, countingPool(t, &c))
	m, err := session.New(session.WithStore(s))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	srv := httptest.NewServer(m.Handler(testapp.Values()))
	t.Cleanup(srv.Close)
	browser := testenv.NewBrowser()
	get := func(path string) string {
		t.Helper()
		return testenv.Fetch(t, browser, http.MethodGet, srv.URL+path)
	}

	// Prepare every statement below on the pool's one connection.
	get("/set?k=a&v=1")
	get("/set?k=a&v=2")
	require.Equal(t, "2", get("/get?k=a"))

	before := rowVersions(t, s)
	c.reset()
	require.Equal(t, "2", get("/get?k=a"))
	require.Equal(t, [3]int64{1, 0, 1}, c.counts(), "a read-only request: one query (queries, batches, round trips)")
	require.Equal(t, before, rowVersions(t, s), "a read-only request writes no row")

	c.reset()
	get("/set?k=a&v=3")
	require.Equal(t, [3]int64{1, 1, 2}, c.counts(), "a write: one load, one update (queries, batches, round trips)")
	require.Equal(t, "3", get("/get?k=a"))
}
