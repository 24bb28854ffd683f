package browsertest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/sessionid/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cartCookie is the cookie name examples/cart configures.
const cartCookie = "JSESSIONID"

// addToCart loads the shop's product page and clicks item's "Add to cart",
// which lands on the cart.
func addToCart(t *testing.T, ctx context.Context, base, item string) {
	t.Helper()
	navigate(t, ctx, base+"/")
	click(t, ctx, fmt.Sprintf(`form:has(input[name="item"][value=%q]) button`, item), base, "/cart")
}

// cartText loads the cart page and returns its text.
func cartText(t *testing.T, ctx context.Context, base string) string {
	t.Helper()
	navigate(t, ctx, base+"/cart")
	return text(t, ctx, "body")
}

func TestCartCookieIsHttpOnlyAndLax(t *testing.T) {
	ctx := newBrowser(t)
	base := startExample(t, "cart")

	navigate(t, ctx, base+"/")
	assert.Nil(t, cookieNamed(cookies(t, ctx, base), cartCookie), "browsing stores nothing, so it sets no cookie")

	addToCart(t, ctx, base, "apple")
	assert.Contains(t, text(t, ctx, "ol"), "apple")

	ck := cookieNamed(cookies(t, ctx, base), cartCookie)
	require.NotNil(t, ck, "adding to the cart stores a session cookie")
	assert.True(t, ck.HTTPOnly, "HttpOnly in the cookie store")
	assert.Equal(t, network.CookieSameSiteLax, ck.SameSite)
	assert.False(t, ck.Secure, "plain HTTP: no Secure")
	assert.True(t, ck.Session, "a browser-session cookie: no Expires or Max-Age")
	assert.Equal(t, "/", ck.Path)

	// A cookie without HttpOnly is readable here, so the session cookie's
	// absence from document.cookie is HttpOnly at work.
	probe, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie = "probe=visible; path=/"; document.cookie`))
	require.NoError(t, err)
	assert.Contains(t, probe, "probe=visible")
	docCookie := pageCookies(t, ctx)
	assert.NotContains(t, docCookie, cartCookie, "scripts must not see the session cookie")
	assert.NotContains(t, docCookie, ck.Value)
}

func TestCheckoutReplacesCookie(t *testing.T) {
	ctx := newBrowser(t)
	base := startExample(t, "cart")

	addToCart(t, ctx, base, "apple")
	addToCart(t, ctx, base, "cheese")
	assert.Equal(t, "Added cheese to your cart.", text(t, ctx, "#flash"))
	cart := text(t, ctx, "ol")
	assert.Contains(t, cart, "apple")
	assert.Contains(t, cart, "cheese")
	before := cookieNamed(cookies(t, ctx, base), cartCookie)
	require.NotNil(t, before, "the cart's session cookie")

	click(t, ctx, `form[action="/checkout"] button`, base, "/")
	assert.Equal(t, "Thank you: your order of 2 item(s) is placed.", text(t, ctx, "#flash"))
	assert.Equal(t, "0", text(t, ctx, "#count"))
	after := cookieNamed(cookies(t, ctx, base), cartCookie)
	require.NotNil(t, after, "the message's new session")
	assert.NotEqual(t, before.Value, after.Value, "checkout replaces the cart's session cookie")
	assert.Contains(t, cartText(t, ctx, base), "Your cart is empty")
}

// TestBackAfterCheckoutShowsNoCart: the cart page was sent with
// Cache-Control: no-store (WithNoStore), so going back to it after
// checkout asks the server again, which shows an empty cart, instead of
// showing the copy the browser saw before.
func TestBackAfterCheckoutShowsNoCart(t *testing.T) {
	ctx := newBrowser(t)
	base := startExample(t, "cart")

	addToCart(t, ctx, base, "apple")
	assert.Contains(t, text(t, ctx, "ol"), "apple")
	click(t, ctx, `form[action="/checkout"] button`, base, "/")

	// NavigateBack waits for a load event, which a page restored from the
	// back/forward cache never fires: bound the wait, and let the page's
	// text tell.
	back, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(back, chromedp.NavigateBack()); err != nil {
		t.Logf("going back: %v (the page was not loaded again)", err)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, base+"/cart", location, "back to the cart page")
	body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	require.NoError(t, err)
	assert.Contains(t, body, "Your cart is empty", "the cart page was asked for again")
	assert.NotContains(t, body, "apple", "the old cart is not shown")
}

func TestSecondBrowserContextSeesNoCart(t *testing.T) {
	ctx := newBrowser(t)
	base := startExample(t, "cart")

	addToCart(t, ctx, base, "apple")
	first := cookieNamed(cookies(t, ctx, base), cartCookie)
	require.NotNil(t, first)

	// Control: another tab of the same browser context shares the cookie,
	// and so the cart; the isolation below comes from the browser context.
	sameTab, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	assert.Contains(t, cartText(t, sameTab, base), "apple", "a tab of the same profile sees the cart")

	other := newIncognito(t, ctx)
	assert.Nil(t, cookieNamed(cookies(t, other, base), cartCookie), "a new browser context starts with no cookie")
	assert.Contains(t, cartText(t, other, base), "Your cart is empty")

	addToCart(t, other, base, "bread")
	otherCart := text(t, other, "ol")
	assert.Contains(t, otherCart, "bread")
	assert.NotContains(t, otherCart, "apple", "the second context never sees the first one's cart")
	second := cookieNamed(cookies(t, other, base), cartCookie)
	require.NotNil(t, second)
	assert.NotEqual(t, first.Value, second.Value, "each context has its own session")

	firstCart := cartText(t, ctx, base)
	assert.Contains(t, firstCart, "apple")
	assert.NotContains(t, firstCart, "bread", "nor the first the second's")
	assert.Equal(t, first.Value, cookieNamed(cookies(t, ctx, base), cartCookie).Value)
}

// TestSecureCookieOverHTTPS serves a cart like examples/cart's over TLS
// and over plain HTTP: the examples listen on plain HTTP only, and Secure
// depends on the request having come over TLS.
func TestSecureCookieOverHTTPS(t *testing.T) {
	requireChromium(t)
	tlsSrv := httptest.NewTLSServer(newCartHandler(t))
	t.Cleanup(tlsSrv.Close)
	plainSrv := httptest.NewServer(newCartHandler(t))
	t.Cleanup(plainSrv.Close)

	// Trust exactly the test server's key, rather than ignoring every
	// certificate error.
	spki := sha256.Sum256(tlsSrv.Certificate().RawSubjectPublicKeyInfo)
	ctx := newBrowser(t, chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])))

	for _, tc := range []struct {
		name, base string
		secure     bool
	}{
		{"https", tlsSrv.URL, true},
		{"http", plainSrv.URL, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A browser context each: the cookie store ignores ports, and an
			// http page may not overwrite a Secure cookie of the same name.
			tab := newIncognito(t, ctx)
			addToCart(t, tab, tc.base, "apple")
			assert.Contains(t, text(t, tab, "ol"), "apple", "the cookie came back: the session works")
			ck := cookieNamed(cookies(t, tab, tc.base), cartCookie)
			require.NotNil(t, ck)
			assert.Equal(t, tc.secure, ck.Secure, "Secure exactly when the request came over TLS")
			assert.True(t, ck.HTTPOnly)
			assert.Equal(t, network.CookieSameSiteLax, ck.SameSite)
		})
	}
}

var cartPages = template.Must(template.New("").Parse(`
{{define "products"}}<!doctype html><title>Shop</title>
<ul>{{range .}}
<li>{{.}} <form method="post" action="/cart"><input type="hidden" name="item" value="{{.}}"><button>Add to cart</button></form></li>{{end}}
</ul>
{{end}}
{{define "cart"}}<!doctype html><title>Cart</title>
{{if .}}<ol>{{range .}}<li>{{.}}</li>{{end}}</ol>{{else}}<p>Your cart is empty.</p>{{end}}
{{end}}`))

// newCartHandler returns the add-to-cart part of examples/cart, with the
// same session configuration, for serving over TLS.
func newCartHandler(t *testing.T) http.Handler {
	t.Helper()
	m, err := session.New(session.WithCookieName(cartCookie), session.WithNoStore(true))
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	products := []string{"apple", "bread"}
	render := func(w http.ResponseWriter, name string, data any) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := cartPages.ExecuteTemplate(w, name, data); err != nil {
			t.Logf("rendering %s: %v", name, err)
		}
	}
	cartOf := func(r *http.Request) []string {
		cart, _ := session.Value[[]string](session.FromContext(r.Context()), "cart")
		return cart
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { render(w, "products", products) })
	mux.HandleFunc("GET /cart", func(w http.ResponseWriter, r *http.Request) { render(w, "cart", cartOf(r)) })
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		item := r.PostFormValue("item")
		if !slices.Contains(products, item) {
			http.Error(w, "no such product", http.StatusBadRequest)
			return
		}
		session.FromContext(r.Context()).Set("cart", append(slices.Clip(cartOf(r)), item))
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
	})
	return m.Handler(mux)
}
