package pgstore

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"

	"github.com/sessionid/session"
	"github.com/stretchr/testify/require"
)

// valueHandler serves GET /get?k=name, which answers the session's value,
// and GET /set?k=name&v=value, which sets it.
func valueHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		v, _ := session.Value[string](session.FromContext(r.Context()), r.URL.Query().Get("k"))
		_, _ = io.WriteString(w, v)
	})
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set(r.URL.Query().Get("k"), r.URL.Query().Get("v"))
		_, _ = io.WriteString(w, "ok")
	})
	return mux
}

// newJarClient returns a client that keeps cookies, as a browser does.
func newJarClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar}
}

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
	srv := httptest.NewServer(m.Handler(valueHandler()))
	t.Cleanup(srv.Close)
	client := newJarClient(t)
	get := func(path string) string {
		t.Helper()
		resp, err := client.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
		return string(body)
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
