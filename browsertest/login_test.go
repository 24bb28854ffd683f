package browsertest

import (
	"net/http"
	"testing"

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
	assert.Contains(t, rows[0], "this session")
	assert.Contains(t, rows[0], "127.0.0.1")
	assert.Contains(t, rows[0], userAgent)

	// Log out. The answer redirects to the home page, which starts a new
	// anonymous session for its login form; so look at the cookie store
	// while that redirected request is held.
	navigate(t, ctx, base+"/")
	beforeHome := cookiesBeforeRequest(t, ctx, `form[action="/logout"] button`, base, "/")
	assert.Nil(t, cookieNamed(beforeHome, loginCookie), "logging out removes the session cookie")

	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`))))
	assert.Contains(t, text(t, ctx, "body"), "Not logged in.")
	for _, ck := range cookies(t, ctx, base) {
		assert.NotEqual(t, loggedIn.Value, ck.Value, "the logged-out ID is gone from the browser")
	}
	assert.Equal(t, http.StatusSeeOther, statusWithCookie(t, base+"/sessions", loginCookie, loggedIn.Value),
		"the logged-out ID is dead on the server too")
}
