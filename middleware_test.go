package session

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCookieAttributes(t *testing.T) {
	cases := []struct {
		name       string
		opts       []Option
		request    func(*http.Request)
		secure     bool
		sameSite   http.SameSite
		path       string
		domain     string
		persistent bool
	}{
		{name: "defaults over plain HTTP", secure: false, sameSite: http.SameSiteLaxMode, path: "/"},
		{name: "defaults over TLS", request: func(r *http.Request) { r.TLS = &tls.ConnectionState{} },
			secure: true, sameSite: http.SameSiteLaxMode, path: "/"},
		{name: "trusted proxy says https", opts: []Option{WithTrustedProxies("10.0.0.1")},
			request: func(r *http.Request) { r.RemoteAddr = "10.0.0.1:1"; r.Header.Set("X-Forwarded-Proto", "https") },
			secure:  true, sameSite: http.SameSiteLaxMode, path: "/"},
		{name: "untrusted peer says https",
			request: func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https") },
			secure:  false, sameSite: http.SameSiteLaxMode, path: "/"},
		{name: "__Host- forces Secure", opts: []Option{WithCookieName("__Host-id")},
			secure: true, sameSite: http.SameSiteLaxMode, path: "/"},
		{name: "WithSecure(true)", opts: []Option{WithSecure(true)}, secure: true, sameSite: http.SameSiteLaxMode, path: "/"},
		{name: "strict, path, domain", opts: []Option{WithSameSite(http.SameSiteStrictMode), WithCookiePath("/app"), WithCookieDomain("example.com")},
			sameSite: http.SameSiteStrictMode, path: "/app", domain: "example.com"},
		{name: "persistent", opts: []Option{WithPersistentCookie(true)}, sameSite: http.SameSiteLaxMode, path: "/", persistent: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts...)
			mutate := []func(*http.Request){}
			if tc.request != nil {
				mutate = append(mutate, tc.request)
			}
			w := h.do("/set?k=k&v=v", "", mutate...)
			c := setCookie(w, h.m.cookie.name)
			require.NotNil(t, c)
			assert.True(t, c.HttpOnly, "HttpOnly always")
			assert.Equal(t, tc.secure, c.Secure)
			assert.Equal(t, tc.sameSite, c.SameSite)
			assert.Equal(t, tc.path, c.Path)
			assert.Equal(t, tc.domain, c.Domain)
			if tc.persistent {
				assert.Equal(t, h.clock.Now().Add(DefaultIdleTimeout+DefaultIdleTimeout/10).UTC(), c.Expires.UTC(),
					"the idle deadline: the idle timeout plus the default touch interval")
			} else {
				assert.True(t, c.Expires.IsZero(), "a browser-session cookie by default")
				assert.Zero(t, c.MaxAge)
			}
		})
	}
}

// TestPartitionedOnEverySetCookie: with WithPartitioned, every Set-Cookie
// the manager writes carries Partitioned, the removing one included, and
// net/http's parser reads it.
func TestPartitionedOnEverySetCookie(t *testing.T) {
	cases := []struct {
		name        string
		opts        []Option
		partitioned bool
	}{
		{"default", nil, false},
		{"WithSecure(true)", []Option{WithPartitioned(true), WithSecure(true)}, true},
		{"__Host- name", []Option{WithPartitioned(true), WithCookieName("__Host-id"), WithSameSite(http.SameSiteNoneMode)}, true},
		{"__Secure- name", []Option{WithPartitioned(true), WithCookieName("__Secure-id")}, true},
		{"turned off again", []Option{WithPartitioned(true), WithPartitioned(false)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, append(tc.opts, WithRenewGrace(time.Second))...)
			name := h.m.cookie.name
			created := h.do("/set?k=k&v=v", "")
			renewed := h.do("/renew", setCookie(created, name).Value)
			resent := h.do("/get?k=k", setCookie(created, name).Value) // the old ID within its grace
			removed := h.do("/invalidate", setCookie(renewed, name).Value)
			for what, w := range map[string]*httptest.ResponseRecorder{
				"created": created, "renewed": renewed, "resent": resent, "removed": removed,
			} {
				c := setCookie(w, name)
				require.NotNil(t, c, what)
				assert.Equal(t, tc.partitioned, c.Partitioned, "%s: %s", what, w.Header().Get("Set-Cookie"))
			}
			assert.Equal(t, -1, setCookie(removed, name).MaxAge, "the removal")
		})
	}
}

func TestPersistentCookieFollowsIdleDeadline(t *testing.T) {
	h := newHarness(t, WithPersistentCookie(true), WithTouchInterval(time.Minute))
	cookie := h.newSession()
	h.clock.Advance(2 * time.Minute)
	c := setCookie(h.do("/get?k=k", cookie), DefaultCookieName)
	require.NotNil(t, c, "a touch moves the deadline, so the cookie's expiry moves too")
	assert.Equal(t, h.clock.Now().Add(DefaultIdleTimeout+time.Minute).UTC(), c.Expires.UTC(),
		"the idle deadline: the idle timeout plus the touch interval")
	assert.Equal(t, cookie, c.Value)
}

func TestVaryAndCacheControl(t *testing.T) {
	h := newHarness(t)
	w := h.do("/noop", "")
	assert.Equal(t, []string{"Cookie"}, w.Header().Values("Vary"), "every response varies by cookie")
	assert.Empty(t, w.Header().Values("Cache-Control"), "no Set-Cookie, no cache directive")

	w = h.do("/set?k=k&v=v", "")
	assert.Equal(t, []string{"Cookie"}, w.Header().Values("Vary"))
	assert.Contains(t, w.Header().Values("Cache-Control"), `no-cache="Set-Cookie"`)

	cookie := setCookie(w, DefaultCookieName).Value
	w = h.do("/invalidate", cookie)
	assert.Contains(t, w.Header().Values("Cache-Control"), `no-cache="Set-Cookie"`, "also on the expiring cookie")
}

// TestNoStore: with WithNoStore, every response of a request that came with
// a live session or created one, logout included, is "Cache-Control:
// no-store" and nothing else, whatever the handler set; other responses are
// left alone.
func TestNoStore(t *testing.T) {
	const handlers = "public, max-age=3600"
	cases := []struct {
		name   string
		off    bool
		cookie string // none, live or dead
		path   string
		want   []string
	}{
		{"off by default", true, "live", "/get?k=k", []string{handlers}},
		{"off by default, new session", true, "none", "/set?k=k&v=v", []string{handlers, `no-cache="Set-Cookie"`}},
		{"no session", false, "none", "/noop", []string{handlers}},
		{"no session, nothing written", false, "none", "/get?k=k", []string{handlers}},
		{"dead cookie removed: no session", false, "dead", "/get?k=k", []string{handlers, `no-cache="Set-Cookie"`}},
		{"creates a session", false, "none", "/set?k=k&v=v", []string{"no-store"}},
		{"creates one at login", false, "none", "/login?user=alice", []string{"no-store"}},
		{"live session read", false, "live", "/get?k=k", []string{"no-store"}},
		{"live session written", false, "live", "/set?k=k&v=w", []string{"no-store"}},
		{"renewed", false, "live", "/renew", []string{"no-store"}},
		{"logout", false, "live", "/invalidate", []string{"no-store"}},
		{"streamed", false, "live", "/stream", []string{"no-store"}},
		{"dead cookie, new session", false, "dead", "/set?k=k&v=v", []string{"no-store"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var opts []Option
			if !tc.off {
				opts = append(opts, WithNoStore(true))
			}
			h := newHarness(t, opts...)
			app := testApp(t)
			h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", handlers)
				if r.URL.Path == "/stream" {
					fmt.Fprint(w, "part 1")
					http.NewResponseController(w).Flush()
					w.Header().Set("Cache-Control", handlers) // too late: the response started
					fmt.Fprint(w, "part 2")
					return
				}
				app.ServeHTTP(w, r)
			}))
			cookie := ""
			switch tc.cookie {
			case "live":
				cookie = h.newSession()
			case "dead":
				cookie = h.newSession()
				h.do("/invalidate", cookie)
			}
			w := h.do(tc.path, cookie)
			require.Equal(t, http.StatusOK, w.Code)
			assert.Equal(t, tc.want, w.Result().Header.Values("Cache-Control"), "as the response started")
		})
	}
	t.Run("error response of a failed save", func(t *testing.T) {
		h := newHarness(t, WithNoStore(true))
		cookie := h.newSession()
		h.store.mu.Lock()
		h.store.failWrite = errStoreDown
		h.store.mu.Unlock()
		w := h.do("/set?k=k&v=w", cookie)
		assert.Equal(t, http.StatusInternalServerError, w.Code)
		assert.Equal(t, []string{"no-store"}, w.Result().Header.Values("Cache-Control"))
	})
}

// TestVaryKeepsOtherValues: "Vary: Cookie" joins a Vary set before the
// middleware, and a Vary the handler adds joins it, in this response only.
func TestVaryKeepsOtherValues(t *testing.T) {
	h := newHarness(t)
	inner := h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
	}))
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/origin" {
			w.Header().Set("Vary", "Origin")
		}
		inner.ServeHTTP(w, r)
	})
	w := httptest.NewRecorder()
	outer.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/origin", nil))
	assert.Equal(t, []string{"Origin", "Cookie", "Accept-Encoding"}, w.Header().Values("Vary"))

	first := httptest.NewRecorder()
	outer.ServeHTTP(first, httptest.NewRequest(http.MethodGet, "/", nil))
	second := httptest.NewRecorder()
	outer.ServeHTTP(second, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, []string{"Cookie", "Accept-Encoding"}, first.Header().Values("Vary"))
	assert.Equal(t, []string{"Cookie", "Accept-Encoding"}, second.Header().Values("Vary"))

	// No two responses share the value's memory: writing over one
	// response's Vary in place leaves the next one's alone.
	w = h.do("/noop", "")
	w.Header()["Vary"][0] = "changed"
	assert.Equal(t, []string{"Cookie"}, h.do("/noop", "").Header().Values("Vary"))
}

func TestIDTravelsOnlyInCookie(t *testing.T) {
	h := newHarness(t)
	w := h.do("/set?k=k&v=v", "")
	id := setCookie(w, DefaultCookieName).Value
	for name, values := range w.Header() {
		if name == "Set-Cookie" {
			continue
		}
		assert.NotContains(t, strings.Join(values, " "), id, name)
	}
	assert.NotContains(t, w.Body.String(), id)
	viaURL := h.do("/get?k=k&session="+id, "")
	assert.Empty(t, viaURL.Body.String(), "an ID in the URL is not adopted")
	viaHeader := h.do("/get?k=k", "", func(r *http.Request) { r.Header.Set("X-Session", id) })
	assert.Empty(t, viaHeader.Body.String(), "an ID in another header is not adopted")
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	long := bytes.Repeat([]byte("k"), 32)
	cases := map[string][]Option{
		"__Host- with domain":               {WithCookieName("__Host-s"), WithCookieDomain("example.com")},
		"__Host- with path":                 {WithCookieName("__Host-s"), WithCookiePath("/app")},
		"__Host- not secure":                {WithCookieName("__Host-s"), WithSecure(false)},
		"__Secure- not secure":              {WithCookieName("__Secure-s"), WithSecure(false)},
		"name with space":                   {WithCookieName("my session")},
		"name with semicolon":               {WithCookieName("a;b")},
		"empty name":                        {WithCookieName("")},
		"domain with slash":                 {WithCookieDomain("example.com/evil")},
		"domain with semicolon":             {WithCookieDomain("example.com;x=1")},
		"path without slash":                {WithCookiePath("app")},
		"path with semicolon":               {WithCookiePath("/a;b")},
		"SameSite None, not secure":         {WithSameSite(http.SameSiteNoneMode)},
		"zero idle timeout":                 {WithIdleTimeout(0)},
		"negative absolute timeout":         {WithAbsoluteTimeout(-time.Second)},
		"idle longer than absolute":         {WithIdleTimeout(2 * time.Hour), WithAbsoluteTimeout(time.Hour)},
		"touch not below idle":              {WithIdleTimeout(time.Minute), WithTouchInterval(time.Minute)},
		"short signing key":                 {WithSigningKeys(long, []byte("short"))},
		"no signing key":                    {WithSigningKeys()},
		"IPv4 bits out of range":            {WithIPBinding(33, 64)},
		"IPv6 bits zero":                    {WithIPBinding(24, 0)},
		"bad proxy":                         {WithTrustedProxies("10.0.0.0/33")},
		"bad proxy text":                    {WithTrustedProxies("proxy.local")},
		"unknown proxy header":              {WithProxyHeader("X-Real-IP")},
		"negative grace":                    {WithRenewGrace(-time.Second)},
		"negative per-user limit":           {WithMaxSessionsPerUser(-1)},
		"nil generator":                     {WithIDGenerator(nil)},
		"Partitioned, Secure only over TLS": {WithPartitioned(true)},
		"Partitioned, not secure":           {WithPartitioned(true), WithSecure(false)},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := New(opts...)
			assert.Error(t, err)
			assert.Nil(t, m)
		})
	}
	m, err := New(WithCookieName("__Host-s"), WithSameSite(http.SameSiteNoneMode), WithPartitioned(true), WithSigningKeys(long),
		WithTrustedProxies("10.0.0.0/8", "::1"), WithIPBinding(24, 64))
	require.NoError(t, err, "a valid configuration")
	require.NoError(t, m.Close())
}

func TestSignedCookies(t *testing.T) {
	oldKey := bytes.Repeat([]byte("o"), 32)
	newKey := bytes.Repeat([]byte("n"), 32)
	h := newHarness(t, WithSigningKeys(oldKey))
	w := h.do("/set?k=k&v=v", "")
	signed := setCookie(w, DefaultCookieName).Value
	assert.False(t, wellFormedID(signed) && len(signed) == 43, "the cookie carries more than the bare ID")
	assert.Equal(t, "v", h.body("/get?k=k", signed))

	t.Run("tampered cookie is rejected without a store lookup", func(t *testing.T) {
		loads, _, _, _, _ := h.store.counts()
		tampered := signed[:len(signed)-2] + flip(signed[len(signed)-2:])
		assert.Empty(t, h.body("/get?k=k", tampered))
		after, _, _, _, _ := h.store.counts()
		assert.Equal(t, loads, after)
		rej := h.events.rejections()
		assert.Contains(t, []RejectReason{RejectBadSignature, RejectMalformedCookie}, rej[len(rej)-1])
	})
	t.Run("bare ID without signature is rejected", func(t *testing.T) {
		var id string
		for _, e := range h.mem.allEntries() {
			id = e.key // any well-formed string; the point is that it is unsigned
		}
		loads, _, _, _, _ := h.store.counts()
		assert.Empty(t, h.body("/get?k=k", id))
		after, _, _, _, _ := h.store.counts()
		assert.Equal(t, loads, after)
	})
	t.Run("cookie signed by another key is a bad signature", func(t *testing.T) {
		other := newHarness(t, WithSigningKeys(newKey))
		assert.Empty(t, other.body("/get?k=k", signed))
		assert.Equal(t, []RejectReason{RejectBadSignature}, other.events.rejections())
	})
	t.Run("rotation: the old key still verifies", func(t *testing.T) {
		rotated, err := New(WithStore(h.store), WithClock(h.clock.Now), WithSigningKeys(newKey, oldKey))
		require.NoError(t, err)
		handler := rotated.Handler(testApp(t))
		r := httptest.NewRequest(http.MethodGet, "/get?k=k", nil)
		r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: signed})
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		assert.Equal(t, "v", w.Body.String())
	})
}

func flip(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

func TestCommitHappensBeforeFirstByte(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		s.Set("before", "1")
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "first chunk ")
		http.NewResponseController(w).Flush()
		s.Set("after", "2") // too late for the cookie, not for the store
		fmt.Fprint(w, "second chunk")
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "first chunk second chunk", string(body))
	var id string
	for _, c := range resp.Cookies() {
		id = c.Value
	}
	require.NotEmpty(t, id, "the cookie went out with the headers")
	assert.Equal(t, "1", h.body("/get?k=before", id))
	assert.Equal(t, "2", h.body("/get?k=after", id), "a change after the response started still reaches the store")
}

func TestLateNewSessionIsLoggedNotSaved(t *testing.T) {
	var logs bytes.Buffer
	h := newHarness(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "body")
		FromContext(r.Context()).Set("k", "v")
	}))
	w := h.do("/", "")
	assert.Nil(t, setCookie(w, DefaultCookieName))
	assert.Zero(t, h.mem.Len(), "a session nobody can reach is not stored")
	assert.Contains(t, logs.String(), "level=WARN")
}

func TestResponseControllerAndStreaming(t *testing.T) {
	h := newHarness(t)
	flushed := make(chan struct{})
	srv := httptest.NewServer(h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Set("k", "v")
		rc := http.NewResponseController(w)
		require.NoError(t, rc.SetWriteDeadline(time.Now().Add(time.Minute)), "deadlines reach the real writer through Unwrap")
		require.NoError(t, rc.SetReadDeadline(time.Now().Add(time.Minute)))
		fmt.Fprint(w, "part 1\n")
		require.NoError(t, rc.Flush())
		<-flushed // the client has read part 1 before the handler ends: nothing is buffered
		fmt.Fprint(w, "part 2\n")
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.NotEmpty(t, resp.Cookies())
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "part 1\n", line)
	close(flushed)
}

func TestHijackSavesChangesButIssuesNoID(t *testing.T) {
	h := newHarness(t, WithRotation(time.Hour), WithIdleTimeout(2*time.Hour))
	cookie := h.newSession()
	h.clock.Advance(2 * time.Hour / 3)
	h.do("/noop", cookie) // touch
	h.clock.Advance(time.Hour / 2)
	srv := httptest.NewServer(h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		if !s.IsNew() {
			s.Set("k", "hijacked")
		} else {
			s.Set("k", "new")
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		require.NoError(t, err)
		defer conn.Close()
		fmt.Fprint(buf, "HTTP/1.1 101 Switching Protocols\r\nConnection: close\r\n\r\n")
		buf.Flush()
	})))
	defer srv.Close()
	for _, c := range []*http.Cookie{{Name: DefaultCookieName, Value: cookie}, nil} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		if c != nil {
			req.AddCookie(c)
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	assert.Equal(t, 1, h.mem.Len(), "no new session whose ID cannot be sent, no rotation tombstone")
	assert.Equal(t, "hijacked", h.body("/get?k=k", cookie),
		"changes were saved before the hand-over, and the due rotation did not retire the ID the client still holds")
}

func TestInformationalHeadersDoNotCommit(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		FromContext(r.Context()).Set("k", "v")
		w.WriteHeader(http.StatusCreated)
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.NotEmpty(t, resp.Cookies(), "the session set after 103 still gets its cookie")
}

func TestTwoManagersOnOneHandler(t *testing.T) {
	a, err := New(WithCookieName("a"))
	require.NoError(t, err)
	defer a.Close()
	b, err := New(WithCookieName("b"))
	require.NoError(t, err)
	defer b.Close()
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Same(t, b.FromContext(r.Context()), FromContext(r.Context()), "FromContext gives the innermost")
		sa, sb := a.FromContext(r.Context()), b.FromContext(r.Context())
		require.NotSame(t, sa, sb)
		na, _ := Value[int](sa, "n")
		nb, _ := Value[int](sb, "n")
		sa.Set("n", na+1)
		sb.Set("n", nb+10)
		fmt.Fprintf(w, "%d %d", na+1, nb+10)
	})
	srv := httptest.NewServer(a.Handler(b.Handler(app)))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	var body string
	for i := 0; i < 3; i++ {
		resp, err := client.Get(srv.URL)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
	}
	assert.Equal(t, "3 30", body)
	assert.Nil(t, FromContext(context.Background()))
	assert.Nil(t, a.FromContext(context.Background()))
}

func TestLogsAndHooksNeverContainRawIDs(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHarness(t, WithLogger(logger), WithIPBinding(32, 128), WithRenewGrace(time.Second))
	var ids []string
	remember := func(w *httptest.ResponseRecorder) {
		if c := setCookie(w, DefaultCookieName); c != nil && c.Value != "" {
			ids = append(ids, c.Value)
		}
	}
	first := h.newSession(from("192.0.2.1:1"))
	ids = append(ids, first)
	remember(h.do("/login?user=alice", first, from("192.0.2.1:1")))
	h.do("/get?k=k", ids[1], from("192.0.2.2:1")) // IP mismatch
	h.do("/get?k=k", first, from("192.0.2.1:1"))  // grace follow
	h.clock.Advance(2 * time.Second)
	h.do("/get?k=k", first, from("192.0.2.1:1"))                   // stale
	h.do("/get?k=k", strings.Repeat("Z", 43), from("192.0.2.1:1")) // unknown
	h.do("/get?k=k", "bad!", from("192.0.2.1:1"))                  // malformed
	remember(h.do("/renew", ids[1], from("192.0.2.1:1")))
	h.do("/invalidate", ids[2], from("192.0.2.1:1"))
	h.clock.Advance(time.Hour)
	h.do("/get?k=k", ids[1], from("192.0.2.1:1"))
	h.do("/set?k=bad&v=x", "", from("192.0.2.1:1"))

	require.GreaterOrEqual(t, len(ids), 3)
	kinds := h.events.kinds()
	for _, want := range []string{"created", "renewed", "invalidated", "rejected"} {
		assert.Contains(t, kinds, want)
	}
	events := fmt.Sprintf("%+v", h.events.list)
	require.NotEmpty(t, logs.String())
	for _, id := range ids {
		assert.NotContains(t, logs.String(), id)
		assert.NotContains(t, events, id)
		assert.NotContains(t, logs.String(), storeKey(id), "nor the store key")
	}
}

func TestHooksReportRejectReasons(t *testing.T) {
	h := newHarness(t)
	h.do("/get", strings.Repeat("Z", 43))
	h.do("/get", "%%%")
	assert.Equal(t, []RejectReason{RejectUnknownID, RejectMalformedCookie}, h.events.rejections())
	for _, r := range []RejectReason{RejectUnknownID, RejectExpired, RejectIPMismatch, RejectBadSignature, RejectMalformedCookie, RejectStaleID} {
		assert.NotEqual(t, RejectReason(0).String(), r.String())
	}
}

// TestFailedHijackKeepsNewSession: where the connection cannot be hijacked
// (HTTP/2, or a writer without Hijack), the handler's fallback response is
// an ordinary one, and it carries the new session's cookie.
func TestFailedHijackKeepsNewSession(t *testing.T) {
	h := newHarness(t)
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Set("k", "v")
		if _, _, err := http.NewResponseController(w).Hijack(); err == nil {
			t.Error("a ResponseRecorder cannot be hijacked")
		}
		fmt.Fprint(w, "fallback")
	}))
	w := h.do("/", "")
	assert.Equal(t, "fallback", w.Body.String())
	c := setCookie(w, DefaultCookieName)
	require.NotNil(t, c, "the fallback response carries the new session's cookie")
	h.handler = h.m.Handler(testApp(t))
	assert.Equal(t, "v", h.body("/get?k=k", c.Value))
}

// TestVaryCookieSurvivesHandlerSet: a handler that replaces Vary with
// Header().Set still sends "Vary: Cookie", once.
func TestVaryCookieSurvivesHandlerSet(t *testing.T) {
	for name, vary := range map[string][]string{
		"replaced":             {"Accept-Encoding"},
		"replaced by a list":   {"Accept-Encoding, Origin"},
		"already names cookie": {"accept-encoding, cookie"},
		"removed":              nil,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if vary == nil {
					w.Header().Del("Vary")
				} else {
					w.Header()["Vary"] = vary
				}
				fmt.Fprint(w, "ok")
			}))
			got := h.do("/", "").Header().Values("Vary")
			n := 0
			for _, v := range got {
				for _, token := range strings.Split(v, ",") {
					if strings.EqualFold(strings.TrimSpace(token), "Cookie") {
						n++
					}
				}
			}
			assert.Equal(t, 1, n, "Vary %q names Cookie once", got)
			for _, v := range vary {
				assert.Contains(t, got, v, "the handler's Vary is kept")
			}
		})
	}
}
