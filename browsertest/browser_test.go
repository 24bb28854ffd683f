package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// testTimeout bounds each test: the browser's start, every page and the
// browser's shutdown.
const testTimeout = 60 * time.Second

// chromiumPath returns the Chromium binary to drive, "" if there is none.
func chromiumPath() string {
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// requireChromium returns Chromium's path. Without one it skips t, except
// in CI (CI=true), whose script installs Chromium: there a missing browser
// is a broken CI, not a reason to skip.
func requireChromium(t *testing.T) string {
	t.Helper()
	p := chromiumPath()
	if p == "" {
		const msg = "no Chromium found: install Debian's chromium package to run the browser tests"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// newBrowser starts a headless Chromium with a fresh profile and returns the
// context of its first tab, bounded by testTimeout. The browser is closed
// when t ends; its output is logged if t failed. extra adds command-line
// options.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	execPath := requireChromium(t)
	profile := t.TempDir() // removed after the browser has stopped (cleanups run last-in first-out)
	output := &testenv.SyncBuffer{}
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(output),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
	}, extra...)

	root, stop := context.WithTimeout(context.Background(), testTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(root, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close the browser gracefully, so that no child process is left
		// writing into the profile; then free the allocator.
		if err := chromedp.Cancel(ctx); err != nil {
			t.Logf("closing Chromium: %v", err)
		}
		cancelTab()
		cancelAlloc()
		stop()
		if t.Failed() {
			t.Logf("Chromium's output:\n%s", output.String())
		}
	})
	require.NoError(t, chromedp.Do(ctx), "starting Chromium at %s", execPath)
	return ctx
}

// newIncognito opens a tab in a new browser context of ctx's browser: a
// profile of its own, sharing no cookies with ctx, as an incognito window.
func newIncognito(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(tab), "opening a tab in a new browser context")
	return tab
}

// navigate loads u in ctx's tab and requires a 200 answer.
func navigate(t *testing.T, ctx context.Context, u string) {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
	require.NoError(t, err, "loading %s", u)
	require.EqualValues(t, 200, resp.Status, "loading %s", u)
}

// click clicks the element css selects, waits for the page that loads
// because of it, and requires that it ends at path with a 200 answer.
func click(t *testing.T, ctx context.Context, css, base, path string) {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(css)))
	require.NoError(t, err, "clicking %s", css)
	require.Equal(t, base+path, resp.URL, "clicking %s", css)
	require.EqualValues(t, 200, resp.Status, "clicking %s", css)
}

// text returns the visible text of the first element css selects.
func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	require.NoError(t, err, "reading %s", css)
	return s
}

// cookies returns the cookies the browser's cookie store holds for u.
func cookies(t *testing.T, ctx context.Context, u string) []*network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	require.NoError(t, err, "reading the cookie store")
	return res.Cookies
}

// cookieNamed returns the cookie called name, nil if there is none.
func cookieNamed(cks []*network.Cookie, name string) *network.Cookie {
	for _, ck := range cks {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// pageCookies returns document.cookie: what the page's scripts can read.
func pageCookies(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	require.NoError(t, err, "reading document.cookie")
	return s
}

// cookiesBeforeRequest clicks the element css selects and returns the
// browser's cookies for base at the moment the navigation that follows is
// about to request base+path: the request is held until they are read. It
// shows what a response that redirects to base+path left in the store,
// before the redirected request's own response can set anything.
func cookiesBeforeRequest(t *testing.T, ctx context.Context, css, base, path string) []*network.Cookie {
	t.Helper()
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	_, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: base + path, RequestStage: fetch.RequestStageRequest},
	}})
	require.NoError(t, err, "enabling request interception")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(css))), "clicking %s", css)

	var cks []*network.Cookie
	for ev, err := range paused {
		require.NoError(t, err, "waiting for the request to %s", base+path)
		cks = cookies(t, ctx, base)
		_, err = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		require.NoError(t, err, "letting the request to %s go", base+path)
		break
	}
	_, err = chromedp.Call(ctx, fetch.Disable, cdp.Empty{})
	require.NoError(t, err, "disabling request interception")
	return cks
}
