package frameworktest_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// browser is a client with a cookie jar of its own, talking to one app
// served on a loopback httptest server.
type browser struct {
	t      *testing.T
	url    *url.URL
	client *http.Client
}

// serve starts an httptest server for a new manager's app and returns a
// browser for it. At the end of t, the server's error log must be empty: a
// panic that no recovery answered shows there.
func serve(t *testing.T, app func(m *session.Manager) http.Handler) *browser {
	t.Helper()
	m, err := session.New()
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, m.Close()) })
	srv, errs := testenv.StartServer(t, app(m))
	t.Cleanup(func() { assert.Empty(t, errs.String(), "the server's error log") })
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	return &browser{t: t, url: u, client: testenv.NewBrowser()}
}

// do sends method path with body through the browser's jar and returns the
// response with its body read. Every response must carry "Vary: Cookie":
// the session middleware ran.
func (b *browser) do(method, path, body string) (*http.Response, string) {
	b.t.Helper()
	return b.send(b.client, method, path, body, nil)
}

// doWithID sends method path with the session cookie set to id, bypassing
// the jar, as someone holding an old ID would.
func (b *browser) doWithID(method, path, id string) (*http.Response, string) {
	b.t.Helper()
	cookie := &http.Cookie{Name: session.DefaultCookieName, Value: id}
	return b.send(http.DefaultClient, method, path, "", cookie)
}

func (b *browser) send(c *http.Client, method, path, body string, cookie *http.Cookie) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.url.String()+path, strings.NewReader(body))
	require.NoError(b.t, err)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := c.Do(req)
	require.NoError(b.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err, "%s %s: reading the body", method, path)
	assert.Contains(b.t, resp.Header.Values("Vary"), "Cookie", "%s %s: the session middleware ran", method, path)
	return resp, string(got)
}

// sessionID returns the session cookie's value in the jar, "" if it holds
// none.
func (b *browser) sessionID() string {
	for _, c := range b.client.Jar.Cookies(b.url) {
		if c.Name == session.DefaultCookieName {
			return c.Value
		}
	}
	return ""
}

// sessionCookie returns the session cookie resp sets, nil if none.
func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == session.DefaultCookieName {
			return c
		}
	}
	return nil
}
