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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const cookieName = "JSESSIONID"

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	m, err := newManager()
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

func getProducts(t *testing.T, c *http.Client, srv *httptest.Server) string {
	t.Helper()
	resp, body := do(t, c, http.MethodGet, srv.URL+"/", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return body
}

var (
	flashField = regexp.MustCompile(`<p role="status" id="flash">([^<]*)</p>`)
	countField = regexp.MustCompile(`View cart \(<span id="count">(\d+)</span>\)`)
)

// messageOn returns the one-time message on page, "" if none.
func messageOn(page string) string {
	if m := flashField.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
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

	resp, _ := do(t, c, http.MethodPost, srv.URL+"/checkout", url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	ck := sessionCookie(resp)
	require.NotNil(t, ck, "checkout must replace the cookie")
	assert.NotEqual(t, oldID, ck.Value, "the message after checkout travels in a new session")
	assert.Equal(t, "Thank you: your order of 2 item(s) is placed.", messageOn(getProducts(t, c, srv)))
	assert.Empty(t, messageOn(getProducts(t, c, srv)), "the message is shown once")
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

func TestProductPageShowsCartCount(t *testing.T) {
	srv := newServer(t)
	c := newClient(t)
	count := func() string {
		m := countField.FindStringSubmatch(getProducts(t, c, srv))
		require.NotNil(t, m, "the product page shows the cart's size")
		return m[1]
	}
	assert.Equal(t, "0", count())
	add(t, c, srv, "apple")
	add(t, c, srv, "apple")
	add(t, c, srv, "bread")
	assert.Equal(t, "3", count())
}

func TestAddShowsMessageOnce(t *testing.T) {
	srv := newServer(t)
	c := newClient(t)
	resp := add(t, c, srv, "cheese")
	assert.Equal(t, "/cart", resp.Header.Get("Location"))
	cart := getCart(t, c, srv)
	assert.Equal(t, "Added cheese to your cart.", messageOn(cart))
	assert.Contains(t, cart, "<li>cheese</li>")
	assert.Empty(t, messageOn(getCart(t, c, srv)), "the message is shown once")
	assert.Empty(t, messageOn(getProducts(t, c, srv)))
}

// TestPagesWithSessionAreNotStored: every response of a request with a
// session says no-store, the checkout's included, so that no cache and no
// back button shows a cart again; pages for visitors without one are left
// to the usual caching.
func TestPagesWithSessionAreNotStored(t *testing.T) {
	srv := newServer(t)
	c := newClient(t)
	resp, _ := do(t, c, http.MethodGet, srv.URL+"/", nil)
	assert.Empty(t, resp.Header.Get("Cache-Control"), "no session: nothing to keep out of caches")

	resp = add(t, c, srv, "apple")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "the add that creates the session")
	for _, path := range []string{"/", "/cart"} {
		resp, _ = do(t, c, http.MethodGet, srv.URL+path, nil)
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), path)
	}
	resp, _ = do(t, c, http.MethodPost, srv.URL+"/checkout", url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "the checkout")
}
