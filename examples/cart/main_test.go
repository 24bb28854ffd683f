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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const cookieName = "JSESSIONID"

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	m, err := session.New(session.WithCookieName(cookieName))
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	srv := httptest.NewServer(newApp(m))
	t.Cleanup(srv.Close)
	return srv
}

// newClient returns a client with its own cookie jar that does not follow
// redirects, so that tests see each response's Set-Cookie.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// clientWithID returns a fresh client that presents id as its session
// cookie, as an attacker replaying a copied cookie would.
func clientWithID(t *testing.T, srv *httptest.Server, id string) *http.Client {
	t.Helper()
	c := newClient(t)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: id}})
	return c
}

func sessionID(t *testing.T, c *http.Client, srv *httptest.Server) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == cookieName {
			return ck.Value
		}
	}
	return ""
}

func do(t *testing.T, c *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func add(t *testing.T, c *http.Client, srv *httptest.Server, item string) *http.Response {
	t.Helper()
	resp, _ := do(t, c, http.MethodPost, srv.URL+"/cart", url.Values{"item": {item}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	return resp
}

func getCart(t *testing.T, c *http.Client, srv *httptest.Server) string {
	t.Helper()
	resp, body := do(t, c, http.MethodGet, srv.URL+"/cart", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return body
}

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, ck := range resp.Cookies() {
		if ck.Name == cookieName {
			return ck
		}
	}
	return nil
}

func TestBrowsingSetsNoCookie(t *testing.T) {
	srv := newServer(t)
	c := newClient(t)
	resp, body := do(t, c, http.MethodGet, srv.URL+"/", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `value="apple"`)
	assert.Nil(t, sessionCookie(resp), "a visitor who stores nothing gets no cookie")
	assert.Contains(t, getCart(t, c, srv), "Your cart is empty")
}

func TestCartHoldsItemsPerClient(t *testing.T) {
	srv := newServer(t)
	c := newClient(t)

	resp := add(t, c, srv, "apple")
	ck := sessionCookie(resp)
	require.NotNil(t, ck, "the first add creates the session")
	assert.True(t, ck.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)
	assert.False(t, ck.Secure, "plain HTTP: a Secure cookie would never come back")
	add(t, c, srv, "bread")

	cart := getCart(t, c, srv)
	assert.Contains(t, cart, "<li>apple</li>")
	assert.Contains(t, cart, "<li>bread</li>")

	other := newClient(t)
	assert.Contains(t, getCart(t, other, srv), "Your cart is empty")
}

func TestUnknownItemIsRefused(t *testing.T) {
	srv := newServer(t)
	c := newClient(t)
	resp, _ := do(t, c, http.MethodPost, srv.URL+"/cart", url.Values{"item": {"<script>"}})
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Empty(t, sessionID(t, c, srv))
}

func TestCheckoutOfEmptyCartIsRefused(t *testing.T) {
	srv := newServer(t)
	resp, _ := do(t, newClient(t), http.MethodPost, srv.URL+"/checkout", url.Values{})
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestCheckoutEndsSession(t *testing.T) {
	srv := newServer(t)
	c := newClient(t)
	add(t, c, srv, "apple")
	add(t, c, srv, "cheese")
	oldID := sessionID(t, c, srv)
	require.NotEmpty(t, oldID)

	resp, body := do(t, c, http.MethodPost, srv.URL+"/checkout", url.Values{})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "order of 2 item(s)")
	ck := sessionCookie(resp)
	require.NotNil(t, ck, "checkout must remove the cookie")
	assert.Negative(t, ck.MaxAge, "Max-Age=0 removes the cookie")
	assert.Empty(t, sessionID(t, c, srv), "the jar dropped the cookie")
	assert.Contains(t, getCart(t, c, srv), "Your cart is empty")

	// A copy of the old cookie is worth nothing: the cart is gone...
	assert.Contains(t, getCart(t, clientWithID(t, srv, oldID), srv), "Your cart is empty")

	// ...an add with it starts a new session under a new ID...
	resp = add(t, clientWithID(t, srv, oldID), srv, "bread")
	ck = sessionCookie(resp)
	require.NotNil(t, ck)
	assert.NotEqual(t, oldID, ck.Value)

	// ...and the old ID still names no cart.
	cart := getCart(t, clientWithID(t, srv, oldID), srv)
	assert.Contains(t, cart, "Your cart is empty")
	assert.NotContains(t, cart, "bread")
}
