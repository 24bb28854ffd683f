package faulttest

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

const (
	soakClients = 32
	// soakMaxSteps bounds each client's steps, whatever the duration.
	soakMaxSteps = 1_000_000
	// soakDefaultDuration is how long the soak runs per store unless
	// SESSION_SOAK_DURATION says otherwise.
	soakDefaultDuration = 30 * time.Second
	// maxReports bounds the failures reported one by one.
	maxReports = 20
)

// TestSoak runs 32 browsers, each with a cookie jar of its own and a user
// of its own, against each store over real HTTP on loopback. Each logs in,
// increments its own counter and reads it back after every write (no write
// is lost), renews its ID (and checks that the old one leads nowhere), reads
// its session (it is always its own user's, never another's), and now and
// then logs out and starts over. No request may fail and no answer may
// differ from what the browser expects.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak test does not run with -short")
	}
	d := soakDuration(t)
	t.Run("memory", func(t *testing.T) {
		verifyNoLeaks(t)
		soak(t, d)
	})
	t.Run("redis", func(t *testing.T) {
		verifyNoLeaks(t)
		soak(t, d, session.WithStore(newRedisStore(t)))
	})
	t.Run("postgres", func(t *testing.T) {
		verifyNoLeaks(t)
		url := postgresURL(t)
		soak(t, d, session.WithStore(newPGStore(t, adminConn(t, url), newPool(t, url, "", 8))))
	})
	t.Run("sqlite", func(t *testing.T) {
		verifyNoLeaks(t)
		soak(t, d, session.WithStore(newSQLiteStore(t)))
	})
	t.Run("mysql", func(t *testing.T) {
		verifyNoLeaks(t)
		soak(t, d, session.WithStore(newMySQLStore(t)))
	})
}

// soakDuration returns SESSION_SOAK_DURATION ("5s", "2m"), or the default.
func soakDuration(t *testing.T) time.Duration {
	s := os.Getenv("SESSION_SOAK_DURATION")
	if s == "" {
		return soakDefaultDuration
	}
	d, err := time.ParseDuration(s)
	require.NoError(t, err, "SESSION_SOAK_DURATION")
	require.Positive(t, d, "SESSION_SOAK_DURATION")
	return d
}

// soakStats counts what the browsers of one soak did. It is safe for
// concurrent use.
type soakStats struct {
	requests, failures                      atomic.Int64
	logins, writes, renewals, invalidations atomic.Int64
}

// soak runs the browsers for d against a manager with opts.
func soak(t *testing.T, d time.Duration, opts ...session.Option) {
	m := newManager(t, opts...)
	app, serverLog := testenv.StartServer(t, m.Handler(appHandler()))
	base, err := url.Parse(app.URL)
	require.NoError(t, err)
	tr := newTransport(t, 2*soakClients)
	var st soakStats
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for i := range soakClients {
		b := &soaker{
			t: t, base: base, st: &st,
			c:    newBrowser(tr),
			bare: &http.Client{Transport: tr, Timeout: guardTimeout},
			user: fmt.Sprintf("soak-user-%02d", i),
			rng:  rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano()))),
		}
		wg.Go(func() {
			for step := 0; step < soakMaxSteps && time.Now().Before(end); step++ {
				if !b.step() {
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%s: %d requests from %d clients in %v: %.0f requests/s (%d logins, %d writes, %d renewals, %d invalidations)",
		t.Name(), st.requests.Load(), soakClients, elapsed.Round(time.Millisecond),
		float64(st.requests.Load())/elapsed.Seconds(),
		st.logins.Load(), st.writes.Load(), st.renewals.Load(), st.invalidations.Load())
	require.Zero(t, st.failures.Load(), "error responses or mismatches")
	require.Empty(t, serverLog.String(), "no handler panicked")
}

// soaker is one browser of a soak. It is used by one goroutine.
type soaker struct {
	t    *testing.T
	base *url.URL
	c    *http.Client // with the browser's cookie jar
	bare *http.Client // without one, to replay an old cookie
	user string
	rng  *rand.Rand
	st   *soakStats

	loggedIn bool
	n        int // the counter the browser expects
}

// step does one thing a browser does, and reports false once something
// failed: the browser then stops, as its expectations no longer hold.
func (b *soaker) step() bool {
	if !b.loggedIn {
		return b.login()
	}
	switch r := b.rng.IntN(100); {
	case r < 45:
		return b.increment()
	case r < 80:
		return b.check()
	case r < 95:
		return b.renew()
	default:
		return b.logout()
	}
}

// login starts over: a new session, logged in as the browser's user.
func (b *soaker) login() bool {
	b.st.logins.Add(1)
	if !b.expect(b.c, http.MethodPost, "/login", "user="+url.QueryEscape(b.user), nil, "ok") {
		return false
	}
	b.loggedIn, b.n = true, 0
	return b.check()
}

// increment adds one to the browser's counter, then reads it back.
func (b *soaker) increment() bool {
	b.st.writes.Add(1)
	if !b.expect(b.c, http.MethodPost, "/incr", "", nil, strconv.Itoa(b.n+1)) {
		return false
	}
	b.n++
	return b.check()
}

// check reads the session: its user is the browser's, its counter the one
// the browser expects.
func (b *soaker) check() bool {
	return b.expect(b.c, http.MethodGet, "/whoami", "", nil, b.whoami())
}

func (b *soaker) whoami() string {
	if !b.loggedIn {
		return "|0"
	}
	return fmt.Sprintf("%s|%d", b.user, b.n)
}

// renew gives the session a new ID: the session keeps its data, and the old
// ID leads to no session at all.
func (b *soaker) renew() bool {
	b.st.renewals.Add(1)
	old := b.cookie()
	if !b.expect(b.c, http.MethodPost, "/renew", "", nil, "ok") || !b.check() {
		return false
	}
	if now := b.cookie(); old == nil || now == nil || now.Value == old.Value {
		return b.fail("renewal: cookie %v before, %v after: want a new ID", old, now)
	}
	return b.expect(b.bare, http.MethodGet, "/whoami", "", old, "|0")
}

// logout ends the session: neither the browser nor a replay of its old
// cookie finds it again.
func (b *soaker) logout() bool {
	b.st.invalidations.Add(1)
	old := b.cookie()
	if !b.expect(b.c, http.MethodPost, "/logout", "", nil, "ok") {
		return false
	}
	b.loggedIn, b.n = false, 0
	return b.check() && b.expect(b.bare, http.MethodGet, "/whoami", "", old, "|0")
}

// cookie returns the session cookie in the browser's jar, or nil.
func (b *soaker) cookie() *http.Cookie {
	for _, c := range b.c.Jar.Cookies(b.base) {
		if c.Name == "session" {
			return c
		}
	}
	return nil
}

// expect sends a request through c, with form as its body if not empty and
// with cookie if not nil, and reports whether the answer is a 200 with body
// want.
func (b *soaker) expect(c *http.Client, method, path, form string, cookie *http.Cookie, want string) bool {
	b.st.requests.Add(1)
	req, err := http.NewRequest(method, b.base.String()+path, strings.NewReader(form))
	if err != nil {
		return b.fail("%s %s: %v", method, path, err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	}
	resp, err := c.Do(req)
	if err != nil {
		return b.fail("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return b.fail("%s %s: reading the body: %v", method, path, err)
	case resp.StatusCode != http.StatusOK:
		return b.fail("%s %s: status %d, body %q", method, path, resp.StatusCode, body)
	case string(body) != want:
		return b.fail("%s %s: got %q, want %q (a lost write, or another client's session)", method, path, body, want)
	}
	return true
}

// fail counts a failure, reports the first few, and returns false.
func (b *soaker) fail(format string, args ...any) bool {
	if b.st.failures.Add(1) <= maxReports {
		b.t.Errorf("%s: "+format, append([]any{b.user}, args...)...)
	}
	return false
}
