package redisstore

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/redistest"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOutage kills the store's Redis: calls fail within their context's
// deadline instead of hanging, requests get the error handler's 500, and
// once Redis is back the same client and store work again.
func TestOutage(t *testing.T) {
	srv := redistest.NewServer(t, t.TempDir())
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	s, err := New(c)
	require.NoError(t, err)
	m, err := session.New(session.WithStore(s), session.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	app := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("visited", true)
		_, _ = io.WriteString(w, "ok")
	})))
	t.Cleanup(app.Close)
	browser := testenv.NewBrowser()
	get := func() (int, string) {
		resp, err := browser.Get(app.URL)
		require.NoError(t, err, "the server answers, even without its store")
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}

	ctx := context.Background()
	k, user := newKey(t), "alice"
	require.NoError(t, s.Create(ctx, k, liveRecord(user, "a", "1")))
	code, _ := get()
	require.Equal(t, http.StatusOK, code)

	srv.Kill()
	for _, tc := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Load", func(ctx context.Context) error { _, err := s.Load(ctx, k); return err }},
		{"Create", func(ctx context.Context) error { return s.Create(ctx, newKey(t), liveRecord("")) }},
		{"Update", func(ctx context.Context) error { return s.Update(ctx, k, session.Delta{LastSeen: time.Now()}) }},
		{"Renew", func(ctx context.Context) error {
			return s.Renew(ctx, k, newKey(t), session.Delta{}, nil)
		}},
		{"Delete", func(ctx context.Context) error { return s.Delete(ctx, k) }},
		{"UserSessions", func(ctx context.Context) error { _, err := s.UserSessions(ctx, user); return err }},
		{"DeleteUser", func(ctx context.Context) error { _, err := s.DeleteUser(ctx, user); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := tc.call(ctx)
			elapsed := time.Since(start)
			require.Error(t, err)
			require.NotErrorIs(t, err, session.ErrNotFound, "an outage is not a missing session")
			assert.Less(t, elapsed, 5*time.Second, "fails within about its deadline: %v", err)
			t.Logf("failed after %v: %v", elapsed.Round(time.Millisecond), err)
		})
	}
	start := time.Now()
	code, body := get()
	t.Logf("request during the outage answered after %v", time.Since(start).Round(time.Millisecond))
	require.Equal(t, http.StatusInternalServerError, code, "the error handler answers: %s", body)
	require.Equal(t, "Internal Server Error\n", body)

	srv.Start() // the same port, an empty Redis
	start = time.Now()
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		return s.Create(ctx, newKey(t), liveRecord("")) == nil
	}, 10*time.Second, 20*time.Millisecond, "the client reconnects")
	t.Logf("the store worked again %v after the restart", time.Since(start).Round(time.Millisecond))
	code, body = get()
	require.Equal(t, http.StatusOK, code, "%s", body)
	require.Equal(t, "ok", body, "the old cookie names no session any more: a new one is created")
	_, err = s.Load(ctx, k)
	require.ErrorIs(t, err, session.ErrNotFound, "that Redis kept nothing")
}
