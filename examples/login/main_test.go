package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cookieName is the library's default cookie name.
const cookieName = session.DefaultCookieName

var (
	csrfField    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	handleField  = regexp.MustCompile(`name="handle" value="([^"]+)"`)
	flashField   = regexp.MustCompile(`<p role="status" id="flash">([^<]*)</p>`)
	homeExpires  = regexp.MustCompile(`This session ends <time datetime="([^"]+)"`)
	tableExpires = regexp.MustCompile(`<td class="expires"><time datetime="([^"]+)"`)
)

// messageOn returns the one-time message on page, "" if none.
func messageOn(page string) string {
	if m := flashField.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

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
	m, err := newManager()
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

// csrf visits the home page and returns its forms' token.
func (c *client) csrf() string {
	c.t.Helper()
	m := csrfField.FindStringSubmatch(c.home())
	require.NotNil(c.t, m, "home page has no form token")
	return m[1]
}

// post submits form to path as the page's form would, with the session's
// token.
func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.csrf())
	return c.do(http.MethodPost, path, form)
}

func (c *client) login(user, password string) {
	c.t.Helper()
	resp, _ := c.post("/login", url.Values{"user": {user}, "password": {password}})
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
	resp, _ := c.post("/sessions/revoke", url.Values{"handle": {handle}})
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
	assert.NotEqual(t, token, c.csrf(), "login replaces the form token")
	resp, _ = c.do(http.MethodPost, "/logout", url.Values{"csrf": {token}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "the pre-login token must not work after login")
	assert.Equal(t, "alice", c.loggedInAs())
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

	resp, _ := c.post("/logout", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	ck := sessionCookie(resp)
	require.NotNil(t, ck, "logout must replace the cookie")
	assert.NotEqual(t, id, ck.Value, "the message travels in a new, anonymous session")
	home := c.home()
	assert.Contains(t, home, "Not logged in.")
	assert.Equal(t, "You are logged out.", messageOn(home))
	assert.Empty(t, messageOn(c.home()), "the message is shown once")
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
	assert.Equal(t, 1, strings.Count(page, "this device"), page)
	assert.Contains(t, page, "alice-laptop")
	assert.Contains(t, page, "alice-phone")
	assert.Contains(t, page, "127.0.0.1")
	assert.NotContains(t, page, "bob-laptop")
	require.Len(t, handles, 1, "only the other session can be revoked from the page")

	resp := laptop.revoke(handles[0])
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/sessions", resp.Header.Get("Location"))
	page, handles = laptop.sessionsPage()
	assert.Equal(t, "That session is signed out.", messageOn(page))
	assert.Equal(t, 1, strings.Count(page, `<tr class="session">`), page)
	assert.NotContains(t, page, "alice-phone")
	assert.Empty(t, handles)
	page, _ = laptop.sessionsPage()
	assert.Empty(t, messageOn(page), "the message is shown once")

	assert.Empty(t, phone.loggedInAs(), "the revoked session is logged out")
	assert.Equal(t, "alice", laptop.loggedInAs())
}

func TestRevokeOwnSessionLogsOut(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, "browser")
	c.login("alice", demoUsers["alice"])
	other := newClient(t, srv, "other")
	other.login("alice", demoUsers["alice"])
	_, handles := other.sessionsPage()
	require.Len(t, handles, 1) // c's session, as other sees it

	id := c.id()
	resp := c.revoke(handles[0])
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	ck := sessionCookie(resp)
	require.NotNil(t, ck)
	assert.NotEqual(t, id, ck.Value)
	assert.Equal(t, "You are logged out.", messageOn(c.home()))
	assert.Empty(t, c.loggedInAs())
	assert.Empty(t, withID(t, srv, id).loggedInAs())
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

	laptopID := laptop.id()
	resp, _ := laptop.post("/logout-everywhere", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	ck := sessionCookie(resp)
	require.NotNil(t, ck, "the requesting browser's cookie is replaced too")
	assert.NotEqual(t, laptopID, ck.Value)
	assert.Equal(t, "You are logged out on every device.", messageOn(laptop.home()))

	assert.Empty(t, laptop.loggedInAs())
	assert.Empty(t, withID(t, srv, laptopID).loggedInAs())
	assert.Empty(t, phone.loggedInAs())
	assert.Empty(t, withID(t, srv, phoneID).loggedInAs())
	assert.Equal(t, "bob", bob.loggedInAs(), "other users keep their sessions")
	page, _ := bob.sessionsPage()
	assert.Equal(t, 1, strings.Count(page, `<tr class="session">`))
}

func TestLoginPageShowsDemoUsers(t *testing.T) {
	home := newClient(t, newServer(t), "browser").home()
	for user, password := range demoUsers {
		assert.Contains(t, home, "<code>"+user+"</code> / <code>"+password+"</code>")
	}
}

// TestFormsNeedTheSessionsToken: every form is refused without its
// session's token, also with another session's.
func TestFormsNeedTheSessionsToken(t *testing.T) {
	for _, path := range []string{"/login", "/logout", "/logout-everywhere", "/sessions/revoke", "/sessions/others"} {
		t.Run(path, func(t *testing.T) {
			srv := newServer(t)
			laptop, phone := newClient(t, srv, "alice-laptop"), newClient(t, srv, "alice-phone")
			laptop.login("alice", demoUsers["alice"])
			phone.login("alice", demoUsers["alice"])
			_, handles := laptop.sessionsPage()
			form := url.Values{"user": {"bob"}, "password": {demoUsers["bob"]}, "handle": handles}
			for _, token := range []string{"", "forged", phone.csrf()} {
				form.Set("csrf", token)
				resp, _ := laptop.do(http.MethodPost, path, form)
				assert.Equal(t, http.StatusForbidden, resp.StatusCode, "token %q", token)
			}
			assert.Equal(t, "alice", laptop.loggedInAs())
			assert.Equal(t, "alice", phone.loggedInAs())
		})
	}
}

// TestRememberMe: a remembered login gets a cookie that outlives the
// browser and the 30-day idle timeout, shown on both pages; a normal one a
// browser-session cookie and the default 30 minutes.
func TestRememberMe(t *testing.T) {
	tests := []struct {
		name     string
		remember bool
		lasts    time.Duration
	}{
		{name: "remembered", remember: true, lasts: rememberIdle},
		{name: "not remembered", remember: false, lasts: session.DefaultIdleTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, newServer(t), "browser")
			form := url.Values{"user": {"alice"}, "password": {demoUsers["alice"]}}
			if tt.remember {
				form.Set("remember", "on")
			}
			start := time.Now()
			resp, _ := c.post("/login", form)
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			ck := sessionCookie(resp)
			require.NotNil(t, ck)
			if tt.remember {
				assert.WithinRange(t, ck.Expires, start.Add(tt.lasts), start.Add(tt.lasts+time.Hour), "a persistent cookie")
			} else {
				assert.True(t, ck.Expires.IsZero(), "a browser-session cookie")
				assert.Zero(t, ck.MaxAge)
			}

			home := c.home()
			assert.Equal(t, tt.remember, strings.Contains(home, "remembered on this device"))
			page, _ := c.sessionsPage()
			for _, shown := range [][]string{homeExpires.FindStringSubmatch(home), tableExpires.FindStringSubmatch(page)} {
				require.NotNil(t, shown, "the session's end is shown")
				end, err := time.Parse(time.RFC3339, shown[1])
				require.NoError(t, err)
				assert.WithinRange(t, end, start.Add(tt.lasts), start.Add(tt.lasts+time.Hour))
			}
		})
	}
}

func TestSignOutOtherDevices(t *testing.T) {
	srv := newServer(t)
	laptop, phone, tablet := newClient(t, srv, "alice-laptop"), newClient(t, srv, "alice-phone"), newClient(t, srv, "alice-tablet")
	bob := newClient(t, srv, "bob")
	for _, c := range []*client{laptop, phone, tablet} {
		c.login("alice", demoUsers["alice"])
	}
	bob.login("bob", demoUsers["bob"])
	page, _ := laptop.sessionsPage()
	assert.Contains(t, page, "Sign out other devices")

	resp, _ := laptop.post("/sessions/others", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/sessions", resp.Header.Get("Location"))
	page, handles := laptop.sessionsPage()
	assert.Equal(t, "Signed out 2 other device(s).", messageOn(page))
	assert.Equal(t, 1, strings.Count(page, `<tr class="session">`), page)
	assert.Contains(t, page, "this device")
	assert.Empty(t, handles)
	assert.NotContains(t, page, "Sign out other devices", "no other device is left")

	assert.Equal(t, "alice", laptop.loggedInAs())
	assert.Empty(t, phone.loggedInAs())
	assert.Empty(t, tablet.loggedInAs())
	assert.Equal(t, "bob", bob.loggedInAs(), "other users keep their sessions")
}

// nextEvent returns the name of the stream's next server-sent event, "" at
// the stream's end. It fails t if the stream breaks, as it does when the
// request's deadline passes first.
func nextEvent(t *testing.T, stream *bufio.Scanner) string {
	t.Helper()
	for stream.Scan() {
		if name, ok := strings.CutPrefix(stream.Text(), "event: "); ok {
			return name
		}
	}
	require.NoError(t, stream.Err(), "the stream must end, not be cut off")
	return ""
}

// TestEventStreamEndsWithSession: the stream of a page left open on the
// phone goes on while its session lives and ends, with an "end" event,
// within a few seconds of the session ending elsewhere.
func TestEventStreamEndsWithSession(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, phone, laptop *client)
	}{
		{name: "revoked from the laptop", end: func(t *testing.T, _, laptop *client) {
			_, handles := laptop.sessionsPage()
			require.Len(t, handles, 1)
			require.Equal(t, http.StatusSeeOther, laptop.revoke(handles[0]).StatusCode)
		}},
		{name: "signed out by the laptop", end: func(t *testing.T, _, laptop *client) {
			resp, _ := laptop.post("/sessions/others", nil)
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		}},
		{name: "logged out in another tab", end: func(t *testing.T, phone, _ *client) {
			resp, _ := phone.post("/logout", nil)
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			phone, laptop := newClient(t, srv, "alice-phone"), newClient(t, srv, "alice-laptop")
			phone.login("alice", demoUsers["alice"])
			laptop.login("alice", demoUsers["alice"])

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
			require.NoError(t, err)
			resp, err := phone.hc.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
			stream := bufio.NewScanner(resp.Body)
			require.Equal(t, "alive", nextEvent(t, stream))
			require.Equal(t, "alive", nextEvent(t, stream), "the stream goes on while the session lives")

			tt.end(t, phone, laptop)
			var events []string
			for name := nextEvent(t, stream); name != ""; name = nextEvent(t, stream) {
				events = append(events, name)
			}
			require.NotEmpty(t, events)
			assert.Equal(t, "end", events[len(events)-1])
		})
	}
}

func TestEventStreamNeedsLogin(t *testing.T) {
	resp, _ := newClient(t, newServer(t), "browser").do(http.MethodGet, "/events", nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}
