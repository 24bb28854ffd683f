package session

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/stretchr/testify/require"
)

// Signing keys and IDs for cookie tests.
var (
	cookieKeyOld   = bytes.Repeat([]byte{'o'}, 32)
	cookieKeyNew   = bytes.Repeat([]byte{'n'}, 32)
	cookieKeyOther = bytes.Repeat([]byte{'x'}, 32)
	cookieID1      = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1"
	cookieID2      = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB2"
)

// cookieCodecWith returns the cookie codec of the default configuration
// changed by mutate.
func cookieCodecWith(mutate func(*config)) *cookieCodec {
	c := defaultConfig()
	if mutate != nil {
		mutate(&c)
	}
	return newCookieCodec(&c)
}

// cookieSigned returns a codec signing with keys[0] and verifying with all.
func cookieSigned(keys ...[]byte) *cookieCodec {
	return cookieCodecWith(func(c *config) { c.signingKeys = keys })
}

// cookieRequest returns a request carrying the given Cookie header lines.
func cookieRequest(lines ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, l := range lines {
		r.Header.Add("Cookie", l)
	}
	return r
}

// cookieEncode signs id with cc or fails the test.
func cookieEncode(t testing.TB, cc *cookieCodec, id string) string {
	t.Helper()
	v, err := cc.encode(id)
	require.NoError(t, err)
	return v
}

// cookieFlip changes the character at i of a base64url value to another
// base64url character.
func cookieFlip(v string, i int) string {
	b := []byte(v)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestCookieReadUnsigned(t *testing.T) {
	junk := "session=" + strings.Repeat("!", 43)
	tests := []struct {
		name       string
		lines      []string
		wantID     string
		wantReason RejectReason
	}{
		{"no cookie header", nil, "", 0},
		{"empty cookie header", []string{""}, "", 0},
		{"valid ID", []string{"session=" + cookieID1}, cookieID1, 0},
		{"valid ID among others", []string{"a=1; session=" + cookieID1 + "; b=2"}, cookieID1, 0},
		{"no spaces after semicolons", []string{"a=1;session=" + cookieID1 + ";b=2"}, cookieID1, 0},
		{"shortest allowed ID", []string{"session=" + strings.Repeat("a", 22)}, strings.Repeat("a", 22), 0},
		{"longest allowed ID", []string{"session=" + strings.Repeat("a", 256)}, strings.Repeat("a", 256), 0},
		{"quoted value", []string{`session="` + cookieID1 + `"`}, cookieID1, 0},
		{"other cookie names only", []string{"sid=" + cookieID1 + "; Session=" + cookieID2 + "; session2=" + cookieID2 + "; xsession=" + cookieID2}, "", 0},
		{"name without value", []string{"session"}, "", 0},
		{"empty value", []string{"session="}, "", RejectMalformedCookie},
		{"lone quote", []string{`session="`}, "", RejectMalformedCookie},
		{"half-quoted value", []string{`session="` + cookieID1}, "", RejectMalformedCookie},
		{"bad characters", []string{"session=" + strings.Repeat("a", 30) + "$%"}, "", RejectMalformedCookie},
		{"standard base64", []string{"session=" + strings.Repeat("a", 30) + "+/=="}, "", RejectMalformedCookie},
		{"too short", []string{"session=" + strings.Repeat("a", 21)}, "", RejectMalformedCookie},
		{"too long", []string{"session=" + strings.Repeat("a", 257)}, "", RejectMalformedCookie},
		{"NUL", []string{"session=" + cookieID1[:20] + "\x00" + cookieID1[21:]}, "", RejectMalformedCookie},
		{"percent-encoded", []string{"session=" + cookieID1[:20] + "%41"}, "", RejectMalformedCookie},
		{"inner space", []string{"session=" + cookieID1[:20] + " " + cookieID1[21:]}, "", RejectMalformedCookie},
		{"a signed-looking value", []string{"session=" + base64.URLEncoding.EncodeToString([]byte("1|x|y"))}, "", RejectMalformedCookie},
		{"first usable of several wins", []string{"session=" + cookieID1 + "; session=" + cookieID2}, cookieID1, 0},
		{"junk before a usable one", []string{junk + "; session=" + cookieID2}, cookieID2, 0},
		{"junk after a usable one", []string{"session=" + cookieID1 + "; " + junk}, cookieID1, 0},
		{"usable one on a second header line", []string{junk, "session=" + cookieID2}, cookieID2, 0},
		{"several lines, first usable wins", []string{"a=b", "session=" + cookieID1, "session=" + cookieID2}, cookieID1, 0},
		{"usable copy after junk copies", []string{strings.Repeat(junk+"; ", 10*maxCookieCandidates) + "session=" + cookieID1}, cookieID1, 0},
		{"usable copy after junk on other header lines", append(attackRepeat(junk, 10*maxCookieCandidates), "session="+cookieID1), cookieID1, 0},
		{"junk copies only", []string{strings.Repeat(junk+"; ", 10*maxCookieCandidates)}, "", RejectMalformedCookie},
		{"other names do not count toward the bound", []string{strings.Repeat("other=x; ", 50) + "session=" + cookieID1}, cookieID1, 0},
	}
	cc := cookieCodecWith(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, reason := cc.read(cookieRequest(tt.lines...))
			id := firstID(ids)
			require.Equal(t, tt.wantReason, reason, "reason %v", reason)
			require.Equal(t, tt.wantID, id)
		})
	}
}

// cookieCountingCodec is a securecookie.Codec that counts Decode calls.
type cookieCountingCodec struct{ decodes *int }

func (c cookieCountingCodec) Encode(string, any) (string, error) { return "", nil }
func (c cookieCountingCodec) Decode(string, string, any) error {
	*c.decodes++
	return securecookie.ErrMacInvalid
}

func TestCookieReadBoundsWork(t *testing.T) {
	decodes := 0
	cc := cookieCodecWith(nil)
	cc.signers = []securecookie.Codec{cookieCountingCodec{decodes: &decodes}}
	line := strings.Repeat("session=junk; ", 1000)
	ids, reason := cc.read(cookieRequest(line, line))
	id := firstID(ids)
	require.Empty(t, id)
	require.Equal(t, RejectBadSignature, reason)
	require.Equal(t, maxSignatureChecks, decodes, "only maxSignatureChecks copies may be verified")
}

// cookieWellFormed returns the i-th of a series of distinct well-formed IDs.
func cookieWellFormed(i int) string { return fmt.Sprintf("%043d", i) }

// TestCookieReadCandidates checks every ID read returns, and copies: only
// distinct well-formed IDs count toward maxCookieCandidates, and copies
// tells the middleware whether several cookies of our name came.
func TestCookieReadCandidates(t *testing.T) {
	const n = "session="
	junk := n + "!!junk!!; "
	distinct := func(from, to int) (line string, ids []string) {
		for i := from; i < to; i++ {
			line += n + cookieWellFormed(i) + "; "
			ids = append(ids, cookieWellFormed(i))
		}
		return line, ids
	}
	many, manyIDs := distinct(0, 3*maxCookieCandidates)
	under, underIDs := distinct(0, maxCookieCandidates-1)
	tests := []struct {
		name       string
		lines      []string
		wantIDs    []string
		wantCopies int
	}{
		{"none", []string{"a=b"}, nil, 0},
		{"one", []string{n + cookieID1}, []string{cookieID1}, 1},
		{"one junk", []string{junk}, nil, 1},
		{"junk, then the ID", []string{strings.Repeat(junk, 50) + n + cookieID1}, []string{cookieID1}, 51},
		{"repeats count once", []string{strings.Repeat(n+cookieID2+"; ", 50) + n + cookieID1}, []string{cookieID2, cookieID1}, 51},
		{"quoted and bare are one ID", []string{`session="` + cookieID1 + `"; ` + n + cookieID1}, []string{cookieID1}, 2},
		{"distinct IDs stop at the bound", []string{many}, manyIDs[:maxCookieCandidates], maxCookieCandidates},
		{"repeated and junk under the bound, then the last", []string{strings.Repeat(under, 5) + strings.Repeat(junk, 5) + n + cookieID1 + "; " + n + cookieID2},
			append(underIDs, cookieID1), 5*(maxCookieCandidates-1) + 6},
		{"over header lines", []string{junk, n + cookieID1, junk + n + cookieID1, n + cookieID2}, []string{cookieID1, cookieID2}, 5},
	}
	cc := cookieCodecWith(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := cc.read(cookieRequest(tt.lines...))
			require.Equal(t, tt.wantIDs, append([]string(nil), got.ids[:got.n]...))
			require.Equal(t, tt.wantCopies, got.copies)
		})
	}
}

func TestCookieReadSigned(t *testing.T) {
	current := cookieSigned(cookieKeyNew)
	rotated := cookieSigned(cookieKeyNew, cookieKeyOld)
	old := cookieSigned(cookieKeyOld)
	other := cookieSigned(cookieKeyOther)
	otherName := cookieCodecWith(func(c *config) { c.cookieName = "other"; c.signingKeys = [][]byte{cookieKeyNew} })

	signedNew := cookieEncode(t, current, cookieID1)
	signedOld := cookieEncode(t, old, cookieID1)
	signedOther := cookieEncode(t, other, cookieID1)
	signedForOtherName := cookieEncode(t, otherName, cookieID1)
	signedShort := cookieEncode(t, current, "short")
	signedBadChars := cookieEncode(t, current, strings.Repeat("a", 30)+";x")

	tests := []struct {
		name       string
		cc         *cookieCodec
		lines      []string
		wantID     string
		wantReason RejectReason
	}{
		{"valid signed value", current, []string{"session=" + signedNew}, cookieID1, 0},
		{"quoted signed value", current, []string{`session="` + signedNew + `"`}, cookieID1, 0},
		{"signed value among others", current, []string{"a=b; session=" + signedNew + "; c=d"}, cookieID1, 0},
		{"no cookie", current, nil, "", 0},
		{"signed by another key", current, []string{"session=" + signedOther}, "", RejectBadSignature},
		{"signed for another cookie name", current, []string{"session=" + signedForOtherName}, "", RejectBadSignature},
		{"old key still verifies as second key", rotated, []string{"session=" + signedOld}, cookieID1, 0},
		{"new key verifies as first key", rotated, []string{"session=" + signedNew}, cookieID1, 0},
		{"retired key no longer verifies", current, []string{"session=" + signedOld}, "", RejectBadSignature},
		{"new key unknown to an old server", old, []string{"session=" + signedNew}, "", RejectBadSignature},
		{"unsigned ID", current, []string{"session=" + cookieID1}, "", RejectMalformedCookie},
		{"forged date|value|mac", current, []string{"session=" + base64.URLEncoding.EncodeToString([]byte("1|"+base64.URLEncoding.EncodeToString([]byte(cookieID1))+"|"+strings.Repeat("m", 32)))}, "", RejectBadSignature},
		{"garbage", current, []string{"session=!!!!"}, "", RejectMalformedCookie},
		{"over securecookie's length limit", current, []string{"session=" + strings.Repeat("A", 5000)}, "", RejectMalformedCookie},
		{"validly signed short ID", current, []string{"session=" + signedShort}, "", RejectMalformedCookie},
		{"validly signed ID with bad characters", current, []string{"session=" + signedBadChars}, "", RejectMalformedCookie},
		{"forged copy before a valid one", current, []string{"session=" + signedOther + "; session=" + signedNew}, cookieID1, 0},
		{"garbage then forged: the last reason is reported", current, []string{"session=!!!!; session=" + signedOther}, "", RejectBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, reason := tt.cc.read(cookieRequest(tt.lines...))
			id := firstID(ids)
			require.Equal(t, tt.wantReason, reason, "reason %v", reason)
			require.Equal(t, tt.wantID, id)
		})
	}
}

// TestCookieReadSignedEmptyValueIsMalformed: an empty value carries no
// signature at all. It is malformed, as it is for an unsigned codec, and must
// not be reported to the Rejected hook as a forged signature.
func TestCookieReadSignedEmptyValueIsMalformed(t *testing.T) {
	cc := cookieSigned(cookieKeyNew)
	for _, line := range []string{"session=", `session=""`} {
		t.Run(line, func(t *testing.T) {
			ids, reason := cc.read(cookieRequest(line))
			id := firstID(ids)
			require.Empty(t, id)
			require.Equal(t, RejectMalformedCookie, reason, "reason %v", reason)
		})
	}
}

func TestCookieReadSignedTampered(t *testing.T) {
	cc := cookieSigned(cookieKeyNew)
	signed := cookieEncode(t, cc, cookieID1)
	// Every position of the value, changed to another base64url character,
	// must be caught by the MAC (the last may only change padding bits).
	end := strings.TrimRight(signed, "=")
	for i := 0; i < len(end)-1; i++ {
		tampered := cookieFlip(signed, i)
		ids, reason := cc.read(cookieRequest("session=" + tampered))
		id := firstID(ids)
		require.Empty(t, id, "position %d", i)
		require.Equal(t, RejectBadSignature, reason, "position %d", i)
	}
}

func TestCookieEncodeUnsignedIsTheID(t *testing.T) {
	cc := cookieCodecWith(nil)
	v, err := cc.encode(cookieID1)
	require.NoError(t, err)
	require.Equal(t, cookieID1, v)

	signed := cookieSigned(cookieKeyNew)
	sv, err := signed.encode(cookieID1)
	require.NoError(t, err)
	require.NotContains(t, sv, cookieID1, "a signed value wraps the ID")
	ids, reason := signed.read(cookieRequest("session=" + sv))
	id := firstID(ids)
	require.Zero(t, reason)
	require.Equal(t, cookieID1, id)
}

func TestCookieSet(t *testing.T) {
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	tests := []struct {
		name         string
		mutate       func(*config)
		https        bool
		wantSecure   bool
		wantExpires  bool
		wantPath     string
		wantDomain   string
		wantSameSite http.SameSite
	}{
		{"defaults over http", nil, false, false, false, "/", "", http.SameSiteLaxMode},
		{"defaults over https", nil, true, true, false, "/", "", http.SameSiteLaxMode},
		{"WithSecure(true) over http", func(c *config) { c.secure = secureAlways }, false, true, false, "/", "", http.SameSiteLaxMode},
		{"WithSecure(false) over https", func(c *config) { c.secure = secureNever }, true, false, false, "/", "", http.SameSiteLaxMode},
		{"__Host- name forces Secure", func(c *config) { c.cookieName = "__Host-sid" }, false, true, false, "/", "", http.SameSiteLaxMode},
		{"__Secure- name forces Secure", func(c *config) { c.cookieName = "__Secure-sid" }, false, true, false, "/", "", http.SameSiteLaxMode},
		{"path, domain and SameSite", func(c *config) {
			c.cookiePath, c.cookieDomain, c.sameSite = "/app", "example.com", http.SameSiteStrictMode
		}, false, false, false, "/app", "example.com", http.SameSiteStrictMode},
		{"with an expiry", nil, false, false, true, "/", "", http.SameSiteLaxMode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := cookieCodecWith(tt.mutate)
			w := httptest.NewRecorder()
			at := time.Time{} // the manager passes no expiry for a browser-session cookie
			if tt.wantExpires {
				at = expires
			}
			require.NoError(t, cc.set(w, tt.https, cookieID1, at))

			cookies := w.Result().Cookies()
			require.Len(t, cookies, 1)
			c := cookies[0]
			require.Equal(t, cc.name, c.Name)
			require.Equal(t, cookieID1, c.Value)
			require.True(t, c.HttpOnly, "the cookie is always HttpOnly")
			require.Equal(t, tt.wantSecure, c.Secure)
			require.Equal(t, tt.wantPath, c.Path)
			require.Equal(t, tt.wantDomain, c.Domain)
			require.Equal(t, tt.wantSameSite, c.SameSite)
			if tt.wantExpires {
				require.True(t, expires.Equal(c.Expires), "Expires %v", c.Expires)
			} else {
				require.True(t, c.Expires.IsZero(), "a browser-session cookie has no Expires")
				require.Zero(t, c.MaxAge)
			}
			require.Contains(t, w.Header().Values("Cache-Control"), `no-cache="Set-Cookie"`)

			// What was set reads back.
			r := cookieRequest(c.Name + "=" + c.Value)
			ids, reason := cc.read(r)
			id := firstID(ids)
			require.Zero(t, reason)
			require.Equal(t, cookieID1, id)
		})
	}
}

func TestCookieSetSignedReadsBack(t *testing.T) {
	cc := cookieSigned(cookieKeyNew, cookieKeyOld)
	w := httptest.NewRecorder()
	require.NoError(t, cc.set(w, true, cookieID2, time.Time{}))
	cookies := w.Result().Cookies()
	require.Len(t, cookies, 1)
	require.NotEqual(t, cookieID2, cookies[0].Value)

	ids, reason := cc.read(cookieRequest("session=" + cookies[0].Value))
	id := firstID(ids)
	require.Zero(t, reason)
	require.Equal(t, cookieID2, id)
	ids, reason = cookieSigned(cookieKeyNew).read(cookieRequest("session=" + cookies[0].Value))
	id = firstID(ids)
	require.Zero(t, reason, "signed with the first key")
	require.Equal(t, cookieID2, id)
}

func TestCookieExpire(t *testing.T) {
	tests := []struct {
		name       string
		mutate     func(*config)
		https      bool
		wantSecure bool
	}{
		{"over http", nil, false, false},
		{"over https", nil, true, true},
		{"__Host- name", func(c *config) { c.cookieName = "__Host-sid" }, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := cookieCodecWith(tt.mutate)
			w := httptest.NewRecorder()
			cc.expire(w, tt.https)
			cookies := w.Result().Cookies()
			require.Len(t, cookies, 1)
			c := cookies[0]
			require.Equal(t, cc.name, c.Name)
			require.Empty(t, c.Value)
			require.Equal(t, -1, c.MaxAge, "Max-Age=0 on the wire removes the cookie")
			require.Contains(t, w.Header().Get("Set-Cookie"), "Max-Age=0")
			require.True(t, c.HttpOnly)
			require.Equal(t, tt.wantSecure, c.Secure)
			require.Equal(t, "/", c.Path, "the removal must match the cookie's path")
			require.Contains(t, w.Header().Values("Cache-Control"), `no-cache="Set-Cookie"`)
		})
	}
}

// cookieReadModel is what read must return for the Cookie lines, worked
// out the plain way: every cookie of cc's name decoded on its own, in order,
// until maxCookieCandidates distinct IDs are found or, when cc verifies
// signatures, maxSignatureChecks cookies were verified; the reason of the
// last refusal when no ID was found; and how many cookies of the name came.
func cookieReadModel(cc *cookieCodec, lines []string) (ids []string, reason RejectReason, total int) {
	checks := 0
	for _, line := range lines {
		for _, part := range strings.Split(line, ";") {
			name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || name != cc.name {
				continue
			}
			total++
			if len(ids) == maxCookieCandidates || (cc.signers != nil && checks == maxSignatureChecks) {
				continue
			}
			checks++
			id, why := cc.decode(value)
			if why != 0 {
				reason = why
			} else if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) > 0 {
		reason = 0
	}
	return ids, reason, total
}

func FuzzCookieRead(f *testing.F) {
	unsigned := cookieCodecWith(nil)
	signed := cookieSigned(cookieKeyNew, cookieKeyOld)
	good := cookieEncode(f, signed, cookieID1)
	goodOld := cookieEncode(f, cookieSigned(cookieKeyOld), cookieID2)
	seeds := [][2]string{
		{"session=" + cookieID1, ""},
		{`session="` + cookieID1 + `"`, "a=b"},
		{"session=" + good, ""},
		{"session=" + goodOld + "; session=" + cookieID1, ""},
		{"session=!!!; session=junk; session=" + cookieID2, "session=" + cookieID1},
		{"a=1; b=2", "session="},
		{`session="`, `session=""`},
		{"session=" + cookieFlip(good, 10), ""},
		{strings.Repeat("session=x;", 10), "session=" + good},
		{strings.Repeat("session=x;", 40), "session=" + good},
		{strings.Repeat("session="+cookieID2+";", 10), "session=" + cookieID1},
		{"session=" + cookieWellFormed(1) + ";session=" + cookieWellFormed(2) + ";session=" + cookieWellFormed(3), "session=" + cookieWellFormed(4) + ";session=" + cookieID1},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		lines := []string{line1, line2}
		r := cookieRequest(lines...)
		header := line1 + "\n" + line2

		for _, cc := range []*cookieCodec{unsigned, signed} {
			got, reason := cc.read(r)
			ids := append([]string(nil), got.ids[:got.n]...)
			for i, id := range ids {
				require.True(t, wellFormedID(id), "accepted %q", id)
				require.NotContains(t, ids[:i], id, "IDs are returned once")
				if cc == signed {
					require.Contains(t, []string{cookieID1, cookieID2}, id, "only IDs the test signed can verify")
				} else {
					require.True(t, strings.Contains(header, "session="+id) || strings.Contains(header, `session="`+id+`"`),
						"accepted ID %q is not a cookie value in the header", id)
				}
			}
			require.LessOrEqual(t, got.n, maxCookieCandidates)
			if reason != 0 {
				require.Empty(t, ids, "a refusal is reported only when no ID is usable")
				if cc == unsigned {
					require.Equal(t, RejectMalformedCookie, reason, "an unsigned cookie has no signature to reject")
				} else {
					require.Contains(t, []RejectReason{RejectMalformedCookie, RejectBadSignature}, reason)
				}
			}

			wantIDs, wantReason, total := cookieReadModel(cc, lines)
			require.Equal(t, wantIDs, ids, "the first distinct usable IDs, in order")
			require.Equal(t, wantReason, reason)
			// The middleware keeps the cookie when several of our name came.
			require.LessOrEqual(t, got.copies, total)
			require.Equal(t, min(total, 2), min(got.copies, 2), "copies must tell none, one and several apart")
		}
	})
}

// TestCookieLineMatchesNetHTTP checks the hand-written Set-Cookie against
// what net/http writes for the same cookie: both must parse the same.
func TestCookieLineMatchesNetHTTP(t *testing.T) {
	expires := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	cases := []struct {
		name    string
		cfg     func(*config)
		expires time.Time
		remove  bool
		https   bool
	}{
		{name: "defaults", cfg: func(*config) {}},
		{name: "over TLS", cfg: func(*config) {}, https: true},
		{name: "everything", cfg: func(c *config) {
			c.cookieName, c.cookiePath, c.cookieDomain = "JSESSIONID", "/app", ".example.com"
			c.sameSite, c.secure, c.persistent, c.partitioned = http.SameSiteStrictMode, secureAlways, true, true
		}, expires: expires},
		{name: "__Host-, SameSite=None", cfg: func(c *config) {
			c.cookieName, c.sameSite = "__Host-id", http.SameSiteNoneMode
		}},
		{name: "removal", cfg: func(c *config) { c.secure = secureNever }, remove: true, https: true},
		{name: "Partitioned", cfg: func(c *config) { c.partitioned, c.secure = true, secureAlways }},
		{name: "Partitioned removal", cfg: func(c *config) {
			c.cookieName, c.partitioned, c.sameSite = "__Host-id", true, http.SameSiteNoneMode
		}, remove: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultConfig()
			tc.cfg(&cfg)
			cc := newCookieCodec(&cfg)
			value := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
			if tc.remove {
				value = ""
			}
			got, err := http.ParseSetCookie(cc.line(value, tc.expires, tc.remove, tc.https))
			require.NoError(t, err)
			want := &http.Cookie{Name: cfg.cookieName, Value: value, Path: cfg.cookiePath, Domain: cfg.cookieDomain,
				Expires: tc.expires, HttpOnly: true, SameSite: cfg.sameSite,
				Secure:      cc.forceSecure || cfg.secure == secureAlways || (cfg.secure == secureAuto && tc.https),
				Partitioned: cfg.partitioned}
			if tc.remove {
				want.MaxAge = -1
			}
			wantParsed, err := http.ParseSetCookie(want.String())
			require.NoError(t, err)
			got.Raw, wantParsed.Raw = "", ""
			got.RawExpires, wantParsed.RawExpires = "", ""
			require.Equal(t, wantParsed, got)
			require.Equal(t, cfg.partitioned, got.Partitioned, "net/http reads Partitioned from our line")
			allocs := testing.AllocsPerRun(10, func() { _ = cc.line(value, tc.expires, tc.remove, tc.https) })
			require.Equal(t, 1.0, allocs, "the line is built in one allocation")
		})
	}
}

// TestCookieSendSharesNoHeaderValues checks the single allocation behind a
// Set-Cookie and its cache directive: headers added to either afterwards,
// or already there before, leave the other intact.
func TestCookieSendSharesNoHeaderValues(t *testing.T) {
	cc := newCookieCodec(&config{cookieName: DefaultCookieName, cookiePath: "/", sameSite: http.SameSiteLaxMode})

	w := httptest.NewRecorder()
	cc.send(w, "a=1")
	w.Header().Add("Set-Cookie", "b=2")
	w.Header().Add("Cache-Control", "private")
	require.Equal(t, []string{"a=1", "b=2"}, w.Header().Values("Set-Cookie"))
	require.Equal(t, []string{`no-cache="Set-Cookie"`, "private"}, w.Header().Values("Cache-Control"))

	w = httptest.NewRecorder()
	w.Header().Set("Cache-Control", "max-age=0")
	cc.send(w, "a=1")
	cc.send(w, "a=2")
	require.Equal(t, []string{"a=1", "a=2"}, w.Header().Values("Set-Cookie"))
	require.Equal(t, []string{"max-age=0", `no-cache="Set-Cookie"`, `no-cache="Set-Cookie"`}, w.Header().Values("Cache-Control"))
}

// firstID returns the first usable ID of ids, or "".
func firstID(ids cookieIDs) string {
	if ids.n == 0 {
		return ""
	}
	return ids.ids[0]
}
