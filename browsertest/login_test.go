package browsertest

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/sessionid/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loginCookie is the cookie name examples/login uses: the library's default.
const loginCookie = session.DefaultCookieName

func TestLoginRenewsListsAndLogsOut(t *testing.T) {
	ctx := newBrowser(t)
	base := startExample(t, "login")

	// The login form's CSRF token starts an anonymous session.
	navigate(t, ctx, base+"/")
	anon := cookieNamed(cookies(t, ctx, base), loginCookie)
	require.NotNil(t, anon, "the login page stores its token in a session")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="user"]`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "alice-demo-password"),
	))
	click(t, ctx, `form[action="/login"] button`, base, "/")
	assert.Equal(t, "alice", text(t, ctx, "#user"))

	loggedIn := cookieNamed(cookies(t, ctx, base), loginCookie)
	require.NotNil(t, loggedIn)
	assert.NotEqual(t, anon.Value, loggedIn.Value, "login gives the session a new ID")
	assert.True(t, loggedIn.HTTPOnly)
	assert.Equal(t, network.CookieSameSiteLax, loggedIn.SameSite)
	assert.Equal(t, http.StatusSeeOther, statusWithCookie(t, base+"/sessions", loginCookie, anon.Value),
		"the pre-login ID does not lead to the logged-in session")

	navigate(t, ctx, base+"/sessions")
	assert.Equal(t, "Sessions of alice", text(t, ctx, "h1"))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("tr.session")].map(row => row.innerText)`))
	require.NoError(t, err)
	userAgent, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.userAgent`))
	require.NoError(t, err)
	require.Len(t, rows, 1, "alice has one session: this browser's")
	assert.Contains(t, rows[0], "this device")
	assert.Contains(t, rows[0], "127.0.0.1")
	assert.Contains(t, rows[0], userAgent)

	// Log out. The answer replaces the cookie with a new anonymous
	// session's, holding the "logged out" message, and redirects to the
	// home page; look at the cookie store while that redirected request is
	// held, before the home page's answer can set anything.
	navigate(t, ctx, base+"/")
	beforeHome := cookieNamed(cookiesBeforeRequest(t, ctx, `form[action="/logout"] button`, base, "/"), loginCookie)
	require.NotNil(t, beforeHome, "the message's anonymous session")
	assert.NotEqual(t, loggedIn.Value, beforeHome.Value, "logging out replaces the logged-in cookie")

	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`))))
	assert.Contains(t, text(t, ctx, "body"), "Not logged in.")
	assert.Equal(t, "You are logged out.", text(t, ctx, "#flash"))
	for _, ck := range cookies(t, ctx, base) {
		assert.NotEqual(t, loggedIn.Value, ck.Value, "the logged-out ID is gone from the browser")
	}
	assert.Equal(t, http.StatusSeeOther, statusWithCookie(t, base+"/sessions", loginCookie, loggedIn.Value),
		"the logged-out ID is dead on the server too")
}

// logIn fills in and submits the login form, ticking "remember me" if asked.
func logIn(t *testing.T, ctx context.Context, base, user, password string, remember bool) {
	t.Helper()
	navigate(t, ctx, base+"/")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="user"]`), user),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
	))
	if remember {
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`input[name="remember"]`))))
	}
	click(t, ctx, `form[action="/login"] button`, base, "/")
	require.Equal(t, user, text(t, ctx, "#user"))
}

// TestRememberMeCookieOutlivesTheBrowser: ticking "remember me" leaves a
// persistent cookie in the browser's store, expiring in 30 days; without
// it, the cookie ends with the browser.
func TestRememberMeCookieOutlivesTheBrowser(t *testing.T) {
	ctx := newBrowser(t)
	base := startExample(t, "login")

	for _, remember := range []bool{false, true} {
		tab := newIncognito(t, ctx)
		start := time.Now()
		logIn(t, tab, base, "alice", "alice-demo-password", remember)
		ck := cookieNamed(cookies(t, tab, base), loginCookie)
		require.NotNil(t, ck)
		assert.Equal(t, !remember, ck.Session, "remember me %v: a browser-session cookie", remember)
		home := text(t, tab, "body")
		if !remember {
			assert.NotContains(t, home, "remembered on this device")
			continue
		}
		assert.Contains(t, home, "remembered on this device")
		sec, frac := math.Modf(ck.Expires)
		expires := time.Unix(int64(sec), int64(frac*1e9))
		assert.WithinRange(t, expires, start.Add(30*24*time.Hour), start.Add(30*24*time.Hour+time.Hour))
	}
}

// TestHomePageLearnsOfSignOutElsewhere: alice's home page, left open on the
// laptop, shows the live stream; when her phone signs out the other
// devices, the laptop's page says so within seconds, without a reload.
func TestHomePageLearnsOfSignOutElsewhere(t *testing.T) {
	ctx := newBrowser(t)
	base := startExample(t, "login")
	laptop, phone := newIncognito(t, ctx), newIncognito(t, ctx)

	logIn(t, laptop, base, "alice", "alice-demo-password", false)
	_, err := chromedp.Run(laptop, chromedp.Poll[bool](
		`document.getElementById("live").textContent.startsWith("Live")`, chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err, "the live stream starts")

	logIn(t, phone, base, "alice", "alice-demo-password", false)
	navigate(t, phone, base+"/sessions")
	click(t, phone, `form[action="/sessions/others"] button`, base, "/sessions")
	assert.Equal(t, "Signed out 1 other device(s).", text(t, phone, "#flash"))

	_, err = chromedp.Run(laptop, chromedp.Poll[bool](
		`document.getElementById("live").textContent.includes("signed out")`, chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err, "the laptop's page learns of the sign-out")
	assert.Equal(t, "This session was signed out. Reload the page to log in again.", text(t, laptop, "#live"))
	navigate(t, laptop, base+"/")
	assert.Contains(t, text(t, laptop, "body"), "Not logged in.")
}
