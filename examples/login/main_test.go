package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sessionid/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cookieName is the library's default cookie name.
const cookieName = session.DefaultCookieName

var (
	csrfField   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	handleField = regexp.MustCompile(`name="handle" value="([^"]+)"`)
)

// client is one browser: a cookie jar and a User-Agent that names it on the
// active sessions page.
type client struct {
	t   *testing.T
	srv *httptest.Server
	hc  *http.Client
	ua  string
}

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	m, err := session.New()
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	srv := httptest.NewServer(newApp(m))
	t.Cleanup(srv.Close)
	return srv
}

// newClient returns a browser that does not follow redirects, so that tests
// see each response's Set-Cookie.
func newClient(t *testing.T, srv *httptest.Server, ua string) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &client{t: t, srv: srv, ua: ua, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// withID returns a fresh browser that presents id as its session cookie, as
// someone replaying a copied cookie would.
func withID(t *testing.T, srv *httptest.Server, id string) *client {
	t.Helper()
	c := newClient(t, srv, "replay")
	c.hc.Jar.SetCookies(c.url(), []*http.Cookie{{Name: cookieName, Value: id}})
	return c
}

func (c *client) url() *url.URL {
	u, err := url.Parse(c.srv.URL)
	require.NoError(c.t, err)
	return u
}

// id returns the session ID in the browser's jar, "" if none.
func (c *client) id() string {
	for _, ck := range c.hc.Jar.Cookies(c.url()) {
		if ck.Name == cookieName {
			return ck.Value
		}
	}
	return ""
}

func (c *client) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.srv.URL+path, body)
	require.NoError(c.t, err)
	req.Header.Set("User-Agent", c.ua)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp, string(b)
}

// home returns the home page.
func (c *client) home() string {
	c.t.Helper()
	resp, body := c.do(http.MethodGet, "/", nil)
	require.Equal(c.t, http.StatusOK, resp.StatusCode)
	return body
}

// loggedInAs returns the user the home page shows, "" if none.
func (c *client) loggedInAs() string {
	c.t.Helper()
	body := c.home()
	if strings.Contains(body, "Not logged in.") {
		return ""
	}
	m := regexp.MustCompile(`<b id="user">([^<]*)</b>`).FindStringSubmatch(body)
	require.NotNil(c.t, m, body)
	return m[1]
}

// csrf visits the home page and returns the login form's token.
func (c *client) csrf() string {
	c.t.Helper()
	m := csrfField.FindStringSubmatch(c.home())
	require.NotNil(c.t, m, "home page has no login token")
	return m[1]
}

func (c *client) login(user, password string) {
	c.t.Helper()
	resp, _ := c.do(http.MethodPost, "/login", url.Values{"csrf": {c.csrf()}, "user": {user}, "password": {password}})
	require.Equal(c.t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(c.t, user, c.loggedInAs())
}

// sessionsPage returns the active sessions page and the revoke handles on it.
func (c *client) sessionsPage() (string, []string) {
	c.t.Helper()
	resp, body := c.do(http.MethodGet, "/sessions", nil)
	require.Equal(c.t, http.StatusOK, resp.StatusCode)
	var handles []string
	for _, m := range handleField.FindAllStringSubmatch(body, -1) {
		handles = append(handles, m[1])
	}
	return body, handles
}

func (c *client) revoke(handle string) *http.Response {
	c.t.Helper()
	resp, _ := c.do(http.MethodPost, "/sessions/revoke", url.Values{"handle": {handle}})
	return resp
}

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, ck := range resp.Cookies() {
		if ck.Name == cookieName {
			return ck
		}
	}
	return nil
}

func TestLoginRenewsID(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, "browser")
	token := c.csrf()
	anonID := c.id()
	require.NotEmpty(t, anonID, "the login page starts an anonymous session")

	resp, _ := c.do(http.MethodPost, "/login", url.Values{"csrf": {token}, "user": {"alice"}, "password": {demoUsers["alice"]}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	ck := sessionCookie(resp)
	require.NotNil(t, ck, "login must send the new ID")
	assert.True(t, ck.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)
	assert.NotEqual(t, anonID, ck.Value)
	assert.Equal(t, ck.Value, c.id())
	assert.Equal(t, "alice", c.loggedInAs())

	assert.Empty(t, withID(t, srv, anonID).loggedInAs(), "the pre-login ID must not reach the logged-in session")
}

func TestLoginRefused(t *testing.T) {
	tests := []struct {
		name           string
		user, password string
		badToken       bool
		want           int
	}{
		{name: "wrong password", user: "alice", password: demoUsers["bob"], want: http.StatusUnauthorized},
		{name: "unknown user", user: "mallory", password: "", want: http.StatusUnauthorized},
		{name: "empty user", user: "", password: "", want: http.StatusUnauthorized},
		{name: "bad token", user: "alice", password: demoUsers["alice"], badToken: true, want: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			c := newClient(t, srv, "browser")
			token := c.csrf()
			if tt.badToken {
				token = "forged"
			}
			before := c.id()
			resp, _ := c.do(http.MethodPost, "/login", url.Values{"csrf": {token}, "user": {tt.user}, "password": {tt.password}})
			assert.Equal(t, tt.want, resp.StatusCode)
			assert.Equal(t, before, c.id(), "a failed login keeps the session as it was")
			assert.Empty(t, c.loggedInAs())
		})
	}
}

func TestLoginWithoutSessionIsRefused(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, "cross-site form")
	resp, _ := c.do(http.MethodPost, "/login", url.Values{"csrf": {""}, "user": {"alice"}, "password": {demoUsers["alice"]}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Empty(t, c.id())
}

func TestLogout(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, "browser")
	c.login("alice", demoUsers["alice"])
	id := c.id()

	resp, _ := c.do(http.MethodPost, "/logout", url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	ck := sessionCookie(resp)
	require.NotNil(t, ck, "logout must remove the cookie")
	assert.Negative(t, ck.MaxAge)
	assert.Empty(t, c.id())
	assert.Empty(t, c.loggedInAs())
	assert.Empty(t, withID(t, srv, id).loggedInAs(), "a copy of the cookie must not outlive logout")
}

func TestActiveSessionsAndRevoke(t *testing.T) {
	srv := newServer(t)
	laptop, phone := newClient(t, srv, "alice-laptop"), newClient(t, srv, "alice-phone")
	laptop.login("alice", demoUsers["alice"])
	phone.login("alice", demoUsers["alice"])
	newClient(t, srv, "bob-laptop").login("bob", demoUsers["bob"])

	page, handles := laptop.sessionsPage()
	assert.Equal(t, 2, strings.Count(page, `<tr class="session">`), page)
	assert.Equal(t, 1, strings.Count(page, "this session"), page)
	assert.Contains(t, page, "alice-laptop")
	assert.Contains(t, page, "alice-phone")
	assert.Contains(t, page, "127.0.0.1")
	assert.NotContains(t, page, "bob-laptop")
	require.Len(t, handles, 1, "only the other session can be revoked from the page")

	resp := laptop.revoke(handles[0])
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Empty(t, phone.loggedInAs(), "the revoked session is logged out")
	assert.Equal(t, "alice", laptop.loggedInAs())

	page, handles = laptop.sessionsPage()
	assert.Equal(t, 1, strings.Count(page, `<tr class="session">`), page)
	assert.NotContains(t, page, "alice-phone")
	assert.Empty(t, handles)
}

func TestRevokeOwnSessionLogsOut(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, "browser")
	c.login("alice", demoUsers["alice"])
	other := newClient(t, srv, "other")
	other.login("alice", demoUsers["alice"])
	_, handles := other.sessionsPage()
	require.Len(t, handles, 1) // c's session, as other sees it

	resp := c.revoke(handles[0])
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	ck := sessionCookie(resp)
	require.NotNil(t, ck)
	assert.Negative(t, ck.MaxAge)
	assert.Empty(t, c.loggedInAs())
	assert.Equal(t, "alice", other.loggedInAs())
}

func TestCannotRevokeAnotherUsersSession(t *testing.T) {
	srv := newServer(t)
	alice := newClient(t, srv, "alice")
	alice.login("alice", demoUsers["alice"])
	bob1, bob2 := newClient(t, srv, "bob-1"), newClient(t, srv, "bob-2")
	bob1.login("bob", demoUsers["bob"])
	bob2.login("bob", demoUsers["bob"])
	_, handles := bob1.sessionsPage()
	require.Len(t, handles, 1)
	bobs := handles[0]

	for _, handle := range []string{bobs, "", "garbage", "YWxpY2U.nosuchtag"} {
		resp := alice.revoke(handle)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "handle %q", handle)
	}
	assert.Equal(t, "bob", bob2.loggedInAs(), "alice must not end bob's session")

	resp := newClient(t, srv, "anonymous").revoke(bobs)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "bob", bob2.loggedInAs())
}

func TestLogoutEverywhere(t *testing.T) {
	srv := newServer(t)
	laptop, phone := newClient(t, srv, "alice-laptop"), newClient(t, srv, "alice-phone")
	bob := newClient(t, srv, "bob")
	laptop.login("alice", demoUsers["alice"])
	phone.login("alice", demoUsers["alice"])
	bob.login("bob", demoUsers["bob"])
	phoneID := phone.id()

	resp, _ := laptop.do(http.MethodPost, "/logout-everywhere", url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	ck := sessionCookie(resp)
	require.NotNil(t, ck, "the requesting browser's cookie is removed too")
	assert.Negative(t, ck.MaxAge)

	assert.Empty(t, laptop.loggedInAs())
	assert.Empty(t, phone.loggedInAs())
	assert.Empty(t, withID(t, srv, phoneID).loggedInAs())
	assert.Equal(t, "bob", bob.loggedInAs(), "other users keep their sessions")
	page, _ := bob.sessionsPage()
	assert.Equal(t, 1, strings.Count(page, `<tr class="session">`))
}
