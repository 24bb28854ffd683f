package session

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tokenHeader is the header the token-transport tests use; tokenHeaderOpt
// names it in lower case, which New canonicalizes.
const tokenHeader = "X-Session-Token"

var tokenHeaderOpt = WithTokenHeader("x-session-token")

// doToken sends one request carrying token in the token header ("" for
// none).
func (h *harness) doToken(path, token string, mutate ...func(*http.Request)) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		r.Header.Set(tokenHeader, token)
	}
	for _, f := range mutate {
		f(r)
	}
	w := httptest.NewRecorder()
	h.handler.ServeHTTP(w, r)
	return w
}

// sentToken returns the token header of a response, and whether there was
// one; it fails the test if there were several.
func sentToken(t *testing.T, w *httptest.ResponseRecorder) (string, bool) {
	t.Helper()
	values, ok := w.Result().Header[tokenHeader]
	if !ok {
		return "", false
	}
	require.Len(t, values, 1, "one token header at most")
	return values[0], true
}

// newTokenSession creates a session holding k=v and returns its token.
func (h *harness) newTokenSession(mutate ...func(*http.Request)) string {
	h.t.Helper()
	w := h.doToken("/set?k=k&v=v", "", mutate...)
	require.Equal(h.t, http.StatusOK, w.Code)
	token, ok := sentToken(h.t, w)
	require.True(h.t, ok, "a session that was written must send its token")
	require.NotEmpty(h.t, token)
	return token
}

// withCookies adds Cookie header lines to a request.
func withCookies(lines ...string) func(*http.Request) {
	return func(r *http.Request) {
		for _, l := range lines {
			r.Header.Add("Cookie", l)
		}
	}
}

// TestTokenHeaderNeverUsesCookies: with WithTokenHeader no cookie is written,
// and a cookie carrying a valid ID is ignored.
func TestTokenHeaderNeverUsesCookies(t *testing.T) {
	h := newHarness(t, tokenHeaderOpt)
	w := h.doToken("/set?k=k&v=v", "")
	token, ok := sentToken(t, w)
	require.True(t, ok)
	assert.True(t, wellFormedID(token), "the unsigned token is the ID")
	assert.Empty(t, w.Result().Cookies(), "no cookie")
	assert.Equal(t, []string{`no-cache="` + tokenHeader + `"`}, w.Header().Values("Cache-Control"),
		"shared caches must not replay the token to another client")
	assert.Equal(t, "v", h.body("/get?k=k", "", func(r *http.Request) { r.Header.Set(tokenHeader, token) }))

	for name, cookie := range map[string]string{
		"the default cookie name": DefaultCookieName + "=" + token,
		"the header's name":       tokenHeader + "=" + token,
	} {
		t.Run("a valid ID in a cookie of "+name, func(t *testing.T) {
			loads, _, _, _, _ := h.store.counts()
			w := h.doToken("/get?k=k", "", withCookies(cookie))
			assert.Empty(t, w.Body.String(), "the cookie is not read")
			after, _, _, _, _ := h.store.counts()
			assert.Equal(t, loads, after, "nothing was looked up")
			_, sent := sentToken(t, w)
			assert.False(t, sent)
			assert.Empty(t, w.Result().Cookies())

			w = h.doToken("/set?k=k&v=w", "", withCookies(cookie))
			fresh, _ := sentToken(t, w)
			assert.NotEqual(t, token, fresh, "a write starts a new session")
			assert.Empty(t, w.Result().Cookies())
		})
	}
	assert.Equal(t, "v", h.body("/get?k=k", "", func(r *http.Request) { r.Header.Set(tokenHeader, token) }),
		"the session is untouched")
	w = h.doToken("/invalidate", token)
	assert.Empty(t, w.Result().Cookies(), "not even a removing cookie")
	assert.Empty(t, w.Header().Values("Set-Cookie"))
}

// TestTokenHeaderLoginRenews: Login sends the new ID in the header, and the
// old one is refused.
func TestTokenHeaderLoginRenews(t *testing.T) {
	h := newHarness(t, tokenHeaderOpt)
	old := h.newTokenSession()
	w := h.doToken("/login?user=alice", old)
	renewed, ok := sentToken(t, w)
	require.True(t, ok, "the response carries the new ID")
	require.NotEmpty(t, renewed)
	assert.NotEqual(t, old, renewed)
	assert.Equal(t, "alice", h.doToken("/user", renewed).Body.String())
	assert.Equal(t, "v", h.doToken("/get?k=k", renewed).Body.String(), "the data moved with the session")

	w = h.doToken("/user", old)
	assert.Empty(t, w.Body.String(), "the pre-login ID is dead")
	rej := h.events.rejections()
	assert.Equal(t, RejectStaleID, rej[len(rej)-1])
	_, sent := sentToken(t, w)
	assert.False(t, sent, "a stale ID is left alone, as its cookie would be")
}

// TestTokenHeaderRenewGraceResends: within WithRenewGrace, a request with the
// old ID reaches the renewed session and is sent the new ID again.
func TestTokenHeaderRenewGraceResends(t *testing.T) {
	h := newHarness(t, tokenHeaderOpt, WithRenewGrace(time.Second))
	old := h.newTokenSession()
	renewed, ok := sentToken(t, h.doToken("/renew", old))
	require.True(t, ok)
	w := h.doToken("/get?k=k", old)
	assert.Equal(t, "v", w.Body.String())
	again, ok := sentToken(t, w)
	assert.True(t, ok)
	assert.Equal(t, renewed, again)
	h.clock.Advance(2 * time.Second)
	assert.Empty(t, h.doToken("/get?k=k", old).Body.String(), "stale after the grace")
}

// TestTokenHeaderEndedSessionSendsEmptyValue: where the cookie transport
// would remove the cookie, the header transport sends an empty value; where
// it would leave the cookie alone, it sends nothing.
func TestTokenHeaderEndedSessionSendsEmptyValue(t *testing.T) {
	h := newHarness(t, tokenHeaderOpt, WithIPBinding(32, 128), WithRenewGrace(time.Second))
	const client = "192.0.2.1:1"
	expired := h.newTokenSession(from(client))
	h.clock.Advance(DefaultIdleTimeout + DefaultIdleTimeout/10)
	stale := h.newTokenSession(from(client))
	h.doToken("/renew", stale, from(client))
	h.clock.Advance(2 * time.Second)
	cases := []struct {
		name, token string
		path        string
		from        string
		emptied     bool
	}{
		{"Invalidate", h.newTokenSession(from(client)), "/invalidate", client, true},
		{"unknown ID", strings.Repeat("Q", 43), "/get?k=k", client, true},
		{"malformed", "!!", "/get?k=k", client, true},
		{"expired", expired, "/get?k=k", client, true},
		{"stale ID: a newer response may carry the new ID", stale, "/get?k=k", client, false},
		{"IP mismatch: the request may not be the owner's", h.newTokenSession(from(client)), "/get?k=k", "192.0.2.9:1", false},
		{"no token", "", "/get?k=k", client, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := h.doToken(tc.path, tc.token, from(tc.from))
			value, sent := sentToken(t, w)
			assert.Equal(t, tc.emptied, sent, "header sent")
			assert.Empty(t, value)
			if sent {
				assert.Contains(t, w.Header().Values("Cache-Control"), `no-cache="`+tokenHeader+`"`)
			}
			w = h.doToken("/set?k=k&v=v", tc.token, from(tc.from))
			fresh, _ := sentToken(t, w)
			assert.True(t, wellFormedID(fresh), "a write sends a new ID instead")
			assert.NotEqual(t, tc.token, fresh)
		})
	}
}

// TestTokenHeaderReadsOneValue: exactly one value of the header is read;
// several, or a malformed one, are refused without a store lookup.
func TestTokenHeaderReadsOneValue(t *testing.T) {
	h := newHarness(t, tokenHeaderOpt)
	token := h.newTokenSession()
	cases := []struct {
		name    string
		values  []string
		body    string
		reason  RejectReason
		emptied bool
	}{
		{"one value", []string{token}, "v", 0, false},
		{"empty value: none", []string{""}, "", 0, false},
		{"two values", []string{token, token}, "", RejectMalformedCookie, true},
		{"empty and valid", []string{"", token}, "", RejectMalformedCookie, true},
		{"a list in one value", []string{token + ", " + token}, "", RejectMalformedCookie, true},
		{"quoted", []string{`"` + token + `"`}, "", RejectMalformedCookie, true},
		{"surrounding space", []string{" " + token}, "", RejectMalformedCookie, true},
		{"cookie syntax", []string{DefaultCookieName + "=" + token}, "", RejectMalformedCookie, true},
		{"a Bearer scheme", []string{"Bearer " + token}, "", RejectMalformedCookie, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			loads, _, _, _, _ := h.store.counts()
			rejected := len(h.events.rejections())
			w := h.doToken("/get?k=k", "", func(r *http.Request) { r.Header[tokenHeader] = tc.values })
			assert.Equal(t, tc.body, w.Body.String())
			after, _, _, _, _ := h.store.counts()
			if tc.reason != 0 {
				assert.Equal(t, loads, after, "refused without a lookup")
				assert.Equal(t, []RejectReason{tc.reason}, h.events.rejections()[rejected:])
			} else {
				assert.Len(t, h.events.rejections(), rejected, "no rejection")
			}
			_, sent := sentToken(t, w)
			assert.Equal(t, tc.emptied, sent)
		})
	}
}

// TestTokenHeaderStrictMode: an ID the server did not issue is never
// adopted; a write gets a server-issued one.
func TestTokenHeaderStrictMode(t *testing.T) {
	h := newHarness(t, tokenHeaderOpt)
	chosen := strings.Repeat("C", 43)
	w := h.doToken("/set?k=k&v=mine", chosen)
	issued, ok := sentToken(t, w)
	require.True(t, ok)
	assert.NotEqual(t, chosen, issued)
	assert.Contains(t, h.events.rejections(), RejectUnknownID)
	assert.Equal(t, "mine", h.doToken("/get?k=k", issued).Body.String())
	assert.Empty(t, h.doToken("/get?k=k", chosen).Body.String(), "the chosen ID never becomes a session")
	assert.Equal(t, 1, h.mem.Len())
}

// TestTokenHeaderSigned: with WithSigningKeys the header carries the signed
// form, bound to the header's name; forgeries are refused without a lookup.
func TestTokenHeaderSigned(t *testing.T) {
	key := bytes.Repeat([]byte("k"), 32)
	h := newHarness(t, tokenHeaderOpt, WithSigningKeys(key))
	signed := h.newTokenSession()
	assert.False(t, wellFormedID(signed) && len(signed) == 43, "the header carries more than the bare ID")
	ids, reason := h.m.cookie.read(httptest.NewRequest(http.MethodGet, "/", nil))
	require.Zero(t, reason)
	require.Zero(t, ids.n)
	id, reason := h.m.cookie.verify(signed)
	require.Zero(t, reason)
	assert.Equal(t, "v", h.doToken("/get?k=k", signed).Body.String())

	cookieSigner, err := New(WithSigningKeys(key))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cookieSigner.Close() })
	signedForCookie, err := cookieSigner.cookie.encode(id)
	require.NoError(t, err)

	cases := []struct {
		name, token string
		reason      RejectReason
	}{
		{"the bare ID", id, RejectMalformedCookie},
		{"tampered", cookieFlip(signed, 5), RejectBadSignature},
		{"signed for a cookie with the same key", signedForCookie, RejectBadSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			loads, _, _, _, _ := h.store.counts()
			assert.Empty(t, h.doToken("/get?k=k", tc.token).Body.String())
			after, _, _, _, _ := h.store.counts()
			assert.Equal(t, loads, after, "refused without a lookup")
			rej := h.events.rejections()
			assert.Equal(t, tc.reason, rej[len(rej)-1])
		})
	}

	renewed, ok := sentToken(t, h.doToken("/login?user=alice", signed))
	require.True(t, ok)
	newID, reason := h.m.cookie.verify(renewed)
	require.Zero(t, reason, "the renewed ID goes out signed too")
	assert.NotEqual(t, id, newID)
	assert.Equal(t, "alice", h.doToken("/user", renewed).Body.String())
}

// TestTokenHeaderVary: every response varies by the token header, not by
// Cookie, also when the handler replaced Vary.
func TestTokenHeaderVary(t *testing.T) {
	h := newHarness(t, tokenHeaderOpt)
	assert.Equal(t, []string{tokenHeader}, h.doToken("/noop", "").Header().Values("Vary"))
	token := h.newTokenSession()
	assert.Equal(t, []string{tokenHeader}, h.doToken("/get?k=k", token).Header().Values("Vary"))

	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Encoding")
		fmt.Fprint(w, "ok")
	}))
	assert.Equal(t, []string{"Accept-Encoding", tokenHeader}, h.doToken("/", token).Header().Values("Vary"))

	h.store.mu.Lock()
	h.store.failWrite = errStoreDown
	h.store.mu.Unlock()
	h.handler = h.m.Handler(testApp(t))
	w := h.doToken("/set?k=k&v=w", token)
	require.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Equal(t, []string{tokenHeader}, w.Header().Values("Vary"), "the error response too")
}

// TestTokenHeaderOverTheWire drives a real server with a client that keeps
// the token the way an API client would: login, use, logout, whose empty
// header reaches the client.
func TestTokenHeaderOverTheWire(t *testing.T) {
	h := newHarness(t, tokenHeaderOpt, WithNoStore(true))
	srv := httptest.NewServer(h.handler)
	defer srv.Close()
	var token string
	get := func(path string) (string, *http.Response) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("x-session-token", token) // any case on the wire
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		if values, ok := resp.Header[tokenHeader]; ok {
			require.Len(t, values, 1)
			token = values[0]
		}
		assert.Empty(t, resp.Cookies())
		return string(body), resp
	}
	get("/set?k=cart&v=book")
	first := token
	require.NotEmpty(t, first)
	get("/login?user=alice")
	require.NotEqual(t, first, token)
	body, resp := get("/user")
	assert.Equal(t, "alice", body)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Equal(t, tokenHeader, resp.Header.Get("Vary"))
	_, resp = get("/invalidate")
	_, sent := resp.Header[tokenHeader]
	assert.True(t, sent, "the empty value crosses the wire")
	assert.Empty(t, token, "the client drops its token")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "the page after logout is not cached either")
	body, _ = get("/get?k=cart")
	assert.Empty(t, body)
}

// TestTokenHeaderConfiguration: New validates the header's name and refuses
// the cookie options beside it.
func TestTokenHeaderConfiguration(t *testing.T) {
	refused := []struct {
		name string
		opts []Option
		want string // in the error
	}{
		{"empty name", []Option{WithTokenHeader("")}, "not a valid"},
		{"space", []Option{WithTokenHeader("X Token")}, "not a valid"},
		{"colon", []Option{WithTokenHeader("X-Token:")}, "not a valid"},
		{"newline", []Option{WithTokenHeader("X-Token\r\nSet-Cookie")}, "not a valid"},
		{"Cookie", []Option{WithTokenHeader("cookie")}, "reserved"},
		{"Set-Cookie", []Option{WithTokenHeader("Set-Cookie")}, "reserved"},
		{"Authorization", []Option{WithTokenHeader("Authorization")}, "reserved"},
		{"Proxy-Authorization", []Option{WithTokenHeader("Proxy-Authorization")}, "reserved"},
		{"hop-by-hop", []Option{WithTokenHeader("Connection")}, "reserved"},
		{"Trailer", []Option{WithTokenHeader("trailer")}, "reserved"},
		{"framing", []Option{WithTokenHeader("Content-Length")}, "reserved"},
		{"caching", []Option{WithTokenHeader("Cache-Control")}, "reserved"},
		{"Vary", []Option{WithTokenHeader("Vary")}, "reserved"},
		{"forwarding", []Option{WithTokenHeader("X-Forwarded-For")}, "reserved"},
		{"Forwarded", []Option{WithTokenHeader("forwarded")}, "reserved"},
		{"cookie name", []Option{tokenHeaderOpt, WithCookieName("sid")}, "WithCookieName"},
		{"cookie path", []Option{tokenHeaderOpt, WithCookiePath("/app")}, "WithCookiePath"},
		{"cookie domain", []Option{tokenHeaderOpt, WithCookieDomain("example.com")}, "WithCookieDomain"},
		{"SameSite", []Option{tokenHeaderOpt, WithSameSite(http.SameSiteStrictMode)}, "WithSameSite"},
		{"Secure", []Option{tokenHeaderOpt, WithSecure(true)}, "WithSecure"},
		{"persistent", []Option{tokenHeaderOpt, WithPersistentCookie(true)}, "WithPersistentCookie"},
		{"Partitioned", []Option{tokenHeaderOpt, WithPartitioned(true)}, "WithPartitioned"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.opts...)
			require.Error(t, err)
			assert.Nil(t, m)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	for name, opts := range map[string][]Option{
		"plain":                  {WithTokenHeader("X-Session-Token")},
		"odd but valid token":    {WithTokenHeader("x_auth.token~1")},
		"with everything else":   {tokenHeaderOpt, WithSigningKeys(bytes.Repeat([]byte("k"), 32)), WithIPBinding(24, 64), WithRotation(time.Hour), WithRenewGrace(time.Second), WithNoStore(true)},
		"default cookie options": {tokenHeaderOpt, WithCookieName(DefaultCookieName), WithSameSite(http.SameSiteLaxMode), WithPartitioned(false)},
	} {
		t.Run("accepted: "+name, func(t *testing.T) {
			m, err := New(opts...)
			require.NoError(t, err)
			require.NoError(t, m.Close())
		})
	}
}

// tokenHeaderRequest returns a request carrying the token header's values and
// a Cookie of the default name that must never count.
func tokenHeaderRequest(values []string) *http.Request {
	r := cookieRequest("session=" + cookieID1 + "; " + tokenHeader + "=" + cookieID2)
	if values != nil {
		r.Header[tokenHeader] = values
	}
	return r
}

func FuzzTokenHeaderRead(f *testing.F) {
	header := func(c *config) { c.tokenHeader, c.tokenHeaderSet = tokenHeader, true }
	unsigned := cookieCodecWith(header)
	signed := cookieCodecWith(func(c *config) { header(c); c.signingKeys = [][]byte{cookieKeyNew, cookieKeyOld} })
	good := cookieEncode(f, signed, cookieID1)
	goodOld := cookieEncode(f, cookieCodecWith(func(c *config) { header(c); c.signingKeys = [][]byte{cookieKeyOld} }), cookieID2)
	seeds := []struct {
		v1, v2 string
		n      uint8
	}{
		{cookieID1, "", 1}, {good, "", 1}, {goodOld, "", 1}, {"", "", 1}, {"", "", 0},
		{cookieID1, cookieID1, 2}, {good, good, 2}, {`"` + cookieID1 + `"`, "", 1},
		{cookieFlip(good, 10), "", 1}, {"session=" + cookieID1, "", 1}, {cookieID1 + "," + cookieID2, "", 1},
		{strings.Repeat("A", 5000), "", 1}, {" " + cookieID1, "", 1},
	}
	for _, s := range seeds {
		f.Add(s.v1, s.v2, s.n)
	}
	f.Fuzz(func(t *testing.T, v1, v2 string, n uint8) {
		values := []string{v1, v2}[:n%3]
		if len(values) == 0 {
			values = nil
		}
		r := tokenHeaderRequest(values)
		for _, cc := range []*cookieCodec{unsigned, signed} {
			got, reason := cc.read(r)
			require.LessOrEqual(t, got.n, 1, "one ID at most")
			switch {
			case len(values) == 0 || len(values) == 1 && values[0] == "":
				require.Zero(t, got.n, "no token: the cookies never count")
				require.Zero(t, reason)
				require.Zero(t, got.copies)
				continue
			case len(values) > 1:
				require.Zero(t, got.n)
				require.Equal(t, RejectMalformedCookie, reason, "several values are malformed")
				require.Equal(t, 1, got.copies)
				continue
			}
			require.Equal(t, 1, got.copies)
			if got.n == 0 {
				require.Contains(t, []RejectReason{RejectMalformedCookie, RejectBadSignature}, reason)
				if cc == unsigned {
					require.Equal(t, RejectMalformedCookie, reason, "an unsigned token has no signature to reject")
				}
				continue
			}
			require.Zero(t, reason)
			id := got.ids[0]
			require.True(t, wellFormedID(id), "accepted %q", id)
			if cc == unsigned {
				require.Equal(t, v1, id, "the unsigned token is the value, exactly")
			} else {
				require.Contains(t, []string{cookieID1, cookieID2}, id, "only IDs the test signed can verify")
			}
		}
	})
}
