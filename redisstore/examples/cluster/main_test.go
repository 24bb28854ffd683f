package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/redistest"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// startInstances starts two instances sharing the Redis named by
// SESSION_TEST_REDIS_URL under a key prefix of their own.
func startInstances(t *testing.T) (*httptest.Server, *httptest.Server) {
	t.Helper()
	redisURL := testenv.Redis.URL(t, "Redis store")
	prefix := redistest.Prefix(t, redistest.Connect(t, redisURL), "cluster-example-test:")
	var srvs []*httptest.Server
	for _, name := range []string{"1", "2"} {
		app, closeApp, err := newInstance(name, redisURL, prefix)
		require.NoError(t, err)
		t.Cleanup(closeApp)
		srv := httptest.NewServer(app)
		t.Cleanup(srv.Close)
		srvs = append(srvs, srv)
	}
	return srvs[0], srvs[1]
}

// browser is one client with one cookie jar for both instances: cookies do
// not depend on the port, as behind one load balancer.
type browser struct {
	t  *testing.T
	hc *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, hc: &http.Client{Jar: jar}}
}

// withID returns a browser that presents id, as a replayed cookie would.
func withID(t *testing.T, srv *httptest.Server, id string) *browser {
	b := newBrowser(t)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	b.hc.Jar.SetCookies(u, []*http.Cookie{{Name: session.DefaultCookieName, Value: id}})
	return b
}

func (b *browser) do(srv *httptest.Server, method, path string, form url.Values) string {
	b.t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.hc.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	require.Equal(b.t, http.StatusOK, resp.StatusCode, "%s", body)
	return strings.TrimSpace(string(body))
}

func (b *browser) id(srv *httptest.Server) string {
	u, err := url.Parse(srv.URL)
	require.NoError(b.t, err)
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == session.DefaultCookieName {
			return c.Value
		}
	}
	return ""
}

func TestSessionMovesBetweenInstances(t *testing.T) {
	one, two := startInstances(t)
	b := newBrowser(t)

	require.Equal(t, "instance=1 user= count=1", b.do(one, http.MethodPost, "/incr", nil))
	require.Equal(t, "instance=2 user= count=2", b.do(two, http.MethodPost, "/incr", nil), "created on 1, read and written on 2")
	anonymous := b.id(one)
	require.NotEmpty(t, anonymous)

	require.Equal(t, "instance=2 user=alice count=2", b.do(two, http.MethodPost, "/login", url.Values{"user": {"alice"}}))
	loggedIn := b.id(two)
	require.NotEqual(t, anonymous, loggedIn, "Login on 2 renewed the ID")
	require.Equal(t, "instance=1 user=alice count=2", b.do(one, http.MethodGet, "/", nil), "1 sees the renewed session")
	require.Equal(t, "instance=1 user= count=0", withID(t, one, anonymous).do(one, http.MethodGet, "/", nil),
		"the ID from before the login leads nowhere, on either instance")

	require.Equal(t, "instance=1 user= count=0", b.do(one, http.MethodPost, "/logout", nil))
	require.Equal(t, "instance=2 user= count=0", b.do(two, http.MethodGet, "/", nil), "logged out on 1, gone on 2")
	require.Equal(t, "instance=2 user= count=0", withID(t, two, loggedIn).do(two, http.MethodGet, "/", nil),
		"a copy of the logged-out cookie is worth nothing")
}
