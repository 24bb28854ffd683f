package session

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests in this file play the attacker: malformed and oversized cookies,
// guessing IDs, flooding the store, fixing an ID in a victim's browser, and
// using a stolen ID. Each asserts what the attacker gets (nothing) and what
// the defender sees (the Rejected hook, with the attacker's address).

// attackSigningKey signs cookies in the signed variants of the tests.
var attackSigningKey = bytes.Repeat([]byte("k"), 32)

// attackCookieLines sets the request's Cookie header lines exactly as given,
// bypassing http.Request.AddCookie, which would drop the invalid bytes an
// attacker sends.
func attackCookieLines(lines ...string) func(*http.Request) {
	return func(r *http.Request) {
		r.Header.Del("Cookie")
		for _, l := range lines {
			r.Header.Add("Cookie", l)
		}
	}
}

// attackRejected returns the Rejected events the harness has seen.
func attackRejected(h *harness) []Event {
	h.events.mu.Lock()
	defer h.events.mu.Unlock()
	var out []Event
	for i, kind := range h.events.events {
		if kind == "rejected" {
			out = append(out, h.events.list[i])
		}
	}
	return out
}

// attackLoads returns how many times the harness' store was asked to Load.
func attackLoads(h *harness) int {
	loads, _, _, _, _ := h.store.counts()
	return loads
}

// attackNoSessionCookie checks that a response hands out no session: it sets
// no session cookie, or only one that removes the presented cookie.
func attackNoSessionCookie(t *testing.T, cookies []*http.Cookie) {
	t.Helper()
	for _, c := range cookies {
		if c.Name == DefaultCookieName {
			assert.Empty(t, c.Value, "no session ID may be handed out")
			assert.Negative(t, c.MaxAge, "a session cookie set here may only remove the presented one")
		}
	}
}

// attackMalformedCase is one hostile Cookie header. wantLoads is how many
// store loads the request may cause: 0 for anything that is not a
// well-formed (and, when signing, correctly signed) ID.
type attackMalformedCase struct {
	name      string
	lines     []string
	wantLoads int
	reason    RejectReason // 0: the header carries no cookie of our name
}

// attackMalformedCases lists the hostile headers; unknownID is a well-formed
// cookie value the server never issued (signed when the manager signs).
func attackMalformedCases(unknownID string, signed bool) []attackMalformedCase {
	const n = DefaultCookieName + "="
	id := strings.Repeat("Ab0_-", 8) + "xyz" // 43 base64url characters
	malformed := RejectMalformedCookie
	cases := []attackMalformedCase{
		{"oversized 8 KiB value", []string{n + strings.Repeat("A", 8<<10)}, 0, malformed},
		{"100 copies of junk", []string{strings.Repeat(n+"junk!; ", 100)}, 0, malformed},
		{"100 header lines of junk", attackRepeat(n+"%%%", 100), 0, malformed},
		{"invalid base64 characters", []string{n + strings.Repeat("%", 43)}, 0, malformed},
		{"standard base64 with padding", []string{n + strings.Repeat("a", 40) + "+/=="}, 0, malformed},
		{"empty value", []string{n}, 0, malformed},
		{"quoted junk", []string{n + `"<script>"`}, 0, malformed},
		{"NUL byte", []string{n + id[:20] + "\x00" + id[21:]}, 0, malformed},
		{"control bytes", []string{n + id[:20] + "\x01\x7f" + id[22:]}, 0, malformed},
		{"high bytes", []string{n + id[:20] + "\xff\xfe" + id[22:]}, 0, malformed},
		{"100 KB of other cookies, junk of ours at the end", []string{strings.Repeat("pad=0123456789; ", 100<<10/16) + n + "!!"}, 0, malformed},
		{"100 KB single value", []string{n + strings.Repeat("A", 100<<10)}, 0, malformed},
		{"100 KB of other cookies only", []string{strings.Repeat("pad=0123456789; ", 100<<10/16)}, 0, 0},
		{"well-formed unknown ID", []string{n + unknownID}, 1, RejectUnknownID},
		{"100 copies of a well-formed unknown ID", []string{strings.Repeat(n+unknownID+"; ", 100)}, 1, RejectUnknownID},
	}
	if signed {
		// A bare, well-formed ID carries no signature: malformed for a
		// signing manager, and never looked up.
		cases = append(cases, attackMalformedCase{"bare ID without signature", []string{n + id}, 0, malformed})
	}
	return cases
}

func attackRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// attackCookieModes are the two kinds of cookie every hostile input is tried
// against: a bare ID, and an ID signed with WithSigningKeys.
var attackCookieModes = []struct {
	name   string
	opts   []Option
	signed bool
}{
	{"unsigned", nil, false},
	{"signed", []Option{WithSigningKeys(attackSigningKey)}, true},
}

// TestAttackMalformedCookies sends hostile Cookie headers through the
// middleware: each gets a fresh, empty session (and a fresh server-issued ID
// once it writes), never panics, and never makes the store Load garbage.
func TestAttackMalformedCookies(t *testing.T) {
	for _, mode := range attackCookieModes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, mode.opts...)
			victim := h.newSession() // data that must never leak to garbage
			unknown, err := h.m.cookie.encode(strings.Repeat("Q", 43))
			require.NoError(t, err)
			for _, tc := range attackMalformedCases(unknown, mode.signed) {
				t.Run(tc.name, func(t *testing.T) {
					before, rejBefore := attackLoads(h), len(attackRejected(h))
					var w *httptest.ResponseRecorder
					require.NotPanics(t, func() { w = h.do("/get?k=k", "", attackCookieLines(tc.lines...)) })
					assert.Equal(t, http.StatusOK, w.Code)
					assert.Empty(t, w.Body.String(), "no data from anywhere")
					attackNoSessionCookie(t, w.Result().Cookies())
					assert.Equal(t, tc.wantLoads, attackLoads(h)-before, "store loads")

					rej := attackRejected(h)[rejBefore:]
					if tc.reason == 0 {
						assert.Empty(t, rej)
					} else if assert.Len(t, rej, 1) {
						assert.Equal(t, tc.reason, rej[0].Reason)
					}

					w = h.do("/set?k=k&v=mine", "", attackCookieLines(tc.lines...))
					assert.Equal(t, http.StatusOK, w.Code)
					c := setCookie(w, DefaultCookieName)
					require.NotNil(t, c, "a write starts a fresh session")
					assert.NotEmpty(t, c.Value)
					assert.NotEqual(t, victim, c.Value)
					assert.NotContains(t, strings.Join(tc.lines, "\n"), c.Value, "the ID is server-issued, never the client's")
					assert.Equal(t, "mine", h.body("/get?k=k", c.Value))
				})
			}
			assert.Equal(t, "v", h.body("/get?k=k", victim), "the victim's session is untouched")
		})
	}
}

// TestAttackCookieTossing sends the victim's live cookie together with a
// cookie of the same name that an attacker set from a sibling subdomain
// (Domain=example.com; a longer Path makes browsers send it first). The
// tossed cookie must neither hide the victim's session nor make the
// response remove the victim's cookie: the removal, being host-only, would
// delete the victim's cookie and leave the attacker's. (A "__Host-" name
// stops browsers from accepting the tossed cookie at all.)
func TestAttackCookieTossing(t *testing.T) {
	const n = DefaultCookieName + "="
	forger, err := New(WithSigningKeys(bytes.Repeat([]byte("x"), 32)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = forger.Close() })
	forged, err := forger.cookie.encode(strings.Repeat("F", 43))
	require.NoError(t, err)
	cases := []struct {
		name   string
		opts   []Option
		header func(victim string) string
	}{
		{"malformed tossed cookie first", nil,
			func(v string) string { return n + "!!tossed!!; " + n + v }},
		{"well-formed unknown tossed cookie after the victim's", nil,
			func(v string) string { return n + v + "; " + n + strings.Repeat("Z", 43) }},
		{"well-formed unknown tossed cookie first", nil,
			func(v string) string { return n + strings.Repeat("Z", 43) + "; " + n + v }},
		{"signed: forged tossed cookie first", []Option{WithSigningKeys(attackSigningKey)},
			func(v string) string { return n + forged + "; " + n + v }},
		// Junk and repeats cost no store lookup, so they do not count toward
		// the bound on the IDs tried: however many come first, the owner's
		// cookie is still reached.
		{"many malformed tossed cookies first", nil,
			func(v string) string { return strings.Repeat(n+"!!tossed!!; ", 2*maxCookieCandidates+1) + n + v }},
		{"many distinct malformed tossed cookies first", nil,
			func(v string) string { return attackJunk(n, 2*maxCookieCandidates+1) + n + v }},
		{"many repeats of a well-formed unknown tossed cookie first", nil,
			func(v string) string {
				return strings.Repeat(n+strings.Repeat("Z", 43)+"; ", 2*maxCookieCandidates+1) + n + v
			}},
		{"unknown IDs, each repeated, just under the bound first", nil,
			func(v string) string {
				var b strings.Builder
				for i := range maxCookieCandidates - 1 {
					b.WriteString(strings.Repeat(n+strings.Repeat(string(rune('P'+i)), 43)+"; ", 3))
				}
				return b.String() + attackJunk(n, 5) + n + v
			}},
		{"signed: many repeats of a forged tossed cookie first", []Option{WithSigningKeys(attackSigningKey)},
			func(v string) string { return strings.Repeat(n+forged+"; ", 2*maxCookieCandidates+1) + n + v }},
		{"signed: many malformed tossed cookies first", []Option{WithSigningKeys(attackSigningKey)},
			func(v string) string { return attackJunk(n, 2*maxCookieCandidates+1) + n + v }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts...)
			victim := h.newSession()
			w := h.do("/get?k=k", "", attackCookieLines(tc.header(victim)))
			assert.Equal(t, "v", w.Body.String(), "the victim's live session is found behind the tossed cookie")
			for _, c := range w.Result().Cookies() {
				assert.False(t, c.Name == DefaultCookieName && c.MaxAge < 0,
					"the response must not remove the victim's cookie: %s", c.Raw)
			}
			assert.Equal(t, "v", h.body("/get?k=k", victim))
		})
	}
}

// attackJunk returns count distinct malformed cookies named by n ("name="),
// each followed by "; ".
func attackJunk(n string, count int) string {
	var b strings.Builder
	for i := range count {
		fmt.Fprintf(&b, "%s!junk%d!; ", n, i)
	}
	return b.String()
}

// TestAttackCookieLookupsBounded sends many distinct, well-formed IDs the
// server never issued, each of which could only be refused by a store
// lookup: only maxCookieCandidates of them are looked up, however many come,
// and the request gets a fresh session.
func TestAttackCookieLookupsBounded(t *testing.T) {
	const n = DefaultCookieName + "="
	for _, mode := range attackCookieModes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, mode.opts...)
			victim := h.newSession()
			var line strings.Builder
			for i := range 100 {
				v, err := h.m.cookie.encode(fmt.Sprintf("%043d", i))
				require.NoError(t, err)
				fmt.Fprintf(&line, "%s%s; ", n, v)
			}
			line.WriteString(n + victim)
			before := attackLoads(h)
			w := h.do("/get?k=k", "", attackCookieLines(line.String()))
			assert.Equal(t, maxCookieCandidates, attackLoads(h)-before, "store loads")
			assert.Empty(t, w.Body.String(), "the owner's cookie past the bound is not reached")
			for _, c := range w.Result().Cookies() {
				assert.False(t, c.Name == DefaultCookieName && c.MaxAge < 0,
					"a cookie of our name may be the owner's: it is not removed: %s", c.Raw)
			}
			assert.Len(t, attackRejected(h), maxCookieCandidates)
			assert.Equal(t, "v", h.body("/get?k=k", victim))
		})
	}
}

// attackRawGet sends a GET with the given Cookie header lines, byte for byte,
// over a new TCP connection and returns the response and its body. net/http
// may refuse the request itself (400); it must never drop the connection
// without an answer, which is what a handler panic does.
func attackRawGet(t *testing.T, addr, path string, lines []string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second))) // a bound, not a wait
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", path, addr)
	for _, l := range lines {
		req.WriteString("Cookie: " + l + "\r\n")
	}
	req.WriteString("\r\n")
	_, err = io.WriteString(conn, req.String())
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the server must answer")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp, string(body)
}

// TestAttackMalformedCookiesOverTCP sends the same hostile headers as raw
// bytes to a real server: net/http refuses some (NUL and other control
// bytes: 400) before the middleware sees them; every other one gets a fresh,
// empty session with no store load for garbage, and nothing panics.
func TestAttackMalformedCookiesOverTCP(t *testing.T) {
	for _, mode := range attackCookieModes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, mode.opts...)
			victim := h.newSession()
			srv, errLog := testenv.StartServer(t, h.handler)
			addr := srv.Listener.Addr().String()
			unknown, err := h.m.cookie.encode(strings.Repeat("Q", 43))
			require.NoError(t, err)
			for _, tc := range attackMalformedCases(unknown, mode.signed) {
				t.Run(tc.name, func(t *testing.T) {
					before := attackLoads(h)
					resp, body := attackRawGet(t, addr, "/get?k=k", tc.lines)
					loads := attackLoads(h) - before
					t.Logf("status %d, %d store loads", resp.StatusCode, loads)
					switch resp.StatusCode {
					case http.StatusOK:
						assert.Empty(t, body, "no data from anywhere")
						attackNoSessionCookie(t, resp.Cookies())
						assert.Equal(t, tc.wantLoads, loads, "store loads")
					case http.StatusBadRequest: // refused by net/http, before the middleware
						assert.Zero(t, loads)
					default:
						t.Fatalf("status %d: want 200 with a fresh session, or 400", resp.StatusCode)
					}
				})
			}
			resp, body := attackRawGet(t, addr, "/get?k=k", []string{DefaultCookieName + "=" + victim})
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "v", body, "the victim's session still works")
			assert.NotContains(t, errLog.String(), "panic")
		})
	}
}

// TestBruteForceIsVisibleAndFruitless guesses 1,000 IDs from one address:
// every guess is reported to the Rejected hook with the guesser's address,
// none yields a session or a store record, and the legitimate client next
// to it is neither affected nor reported. Signed cookies turn guesses into
// forgeries refused without a store lookup.
func TestBruteForceIsVisibleAndFruitless(t *testing.T) {
	const guesses = 1000
	attacker := netip.MustParseAddr("203.0.113.9")
	owner := netip.MustParseAddr("198.51.100.7")
	forger, err := New(WithSigningKeys(bytes.Repeat([]byte("x"), 32)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = forger.Close() })
	cases := []struct {
		name      string
		opts      []Option
		encode    func(id string) (string, error) // the attacker's cookie for a guessed ID
		reason    RejectReason
		wantLoads int
	}{
		{"unsigned: unknown IDs", nil, func(id string) (string, error) { return id, nil }, RejectUnknownID, guesses},
		{"signed: guesses signed with the attacker's key", []Option{WithSigningKeys(attackSigningKey)},
			forger.cookie.encode, RejectBadSignature, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts...)
			ownerFrom := from(netip.AddrPortFrom(owner, 1234).String())
			victims := make([]string, 20)
			for i := range victims {
				victims[i] = h.newSession(ownerFrom)
			}
			records, loadsBefore := h.mem.Len(), attackLoads(h)
			gen := RandomIDGenerator{}
			for i := 0; i < guesses; i++ {
				id, err := gen.NewID()
				require.NoError(t, err)
				cookie, err := tc.encode(id)
				require.NoError(t, err)
				w := h.do("/get?k=k", cookie, from(netip.AddrPortFrom(attacker, uint16(40000+i%1000)).String()))
				require.Equal(t, http.StatusOK, w.Code)
				require.Empty(t, w.Body.String(), "a guess never yields a session")
				attackNoSessionCookie(t, w.Result().Cookies())
				if i%100 == 0 { // the owner keeps using its session meanwhile
					require.Equal(t, "v", h.body("/get?k=k", victims[i/100%len(victims)], ownerFrom))
				}
			}
			assert.Equal(t, records, h.mem.Len(), "guesses create no store records")
			assert.Equal(t, tc.wantLoads, attackLoads(h)-loadsBefore-guesses/100, "store loads for the guesses")

			perClient := map[netip.Addr]int{}
			tags := map[string]bool{}
			for _, e := range attackRejected(h) {
				perClient[e.ClientIP]++
				assert.Equal(t, tc.reason, e.Reason)
				tags[e.Tag] = true
			}
			assert.Equal(t, map[netip.Addr]int{attacker: guesses}, perClient,
				"every guess is attributed to the guesser, none to the owner")
			if tc.reason == RejectUnknownID {
				assert.Len(t, tags, guesses, "each guessed ID has its own tag")
			}
		})
	}
}

// TestSessionFloodStaysBounded floods a memory store bounded by
// WithMaxSessions with new visitors that each write a value, while 100
// active sessions keep making requests. The store never holds more than its
// bound, the heap stops growing once the store is full, and the active
// sessions survive: the store evicts the sessions closest to expiry, which
// the flood's are.
//
// With -short the flood is 60,000 visitors instead of 200,000: still more
// than the bound, so eviction runs at steady state for 10,000 visitors.
func TestSessionFloodStaysBounded(t *testing.T) {
	const (
		maxSessions = 50_000
		active      = 100
		rounds      = 100
	)
	visitors := 200_000
	if testing.Short() {
		visitors = 60_000
	}
	workers := runtime.GOMAXPROCS(0)

	clock := newTestClock()
	mem := NewMemoryStore(WithMaxSessions(maxSessions), WithMemoryClock(clock.Now), WithSweepInterval(0))
	t.Cleanup(func() { _ = mem.Close() })
	var created atomic.Int64
	m, err := New(WithStore(mem), WithClock(clock.Now),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		WithHooks(Hooks{Created: func(context.Context, Event) { created.Add(1) }}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	handler := m.Handler(testApp(t))
	visit := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Set("k", "flood")
	}))
	serve := func(path, cookie string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: cookie})
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		return w
	}

	ids := make([]string, active)
	for i := range ids {
		w := serve("/inc", "")
		require.Equal(t, "1", w.Body.String())
		ids[i] = setCookie(w, DefaultCookieName).Value
	}
	heapBefore := testenv.LiveHeap()

	// Every flood request samples Len as it ends. Each in-flight Create may
	// hold one record above the bound until its own trim, so a sample taken
	// while others write may exceed the bound by at most the number of
	// writers; between rounds, with no write in flight, it may not exceed it.
	var maxSeen, failed atomic.Int64
	flood := func(n int) {
		// One request per worker, used again and again: the middleware
		// never modifies it, and building it is costlier than serving it.
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		for i := 0; i < n; i++ {
			w := &testenv.DiscardWriter{}
			visit.ServeHTTP(w, r)
			if w.Code != 0 && w.Code != http.StatusOK || len(w.Header()["Set-Cookie"]) != 1 {
				failed.Add(1)
			}
			for seen := int64(mem.Len()); ; {
				if old := maxSeen.Load(); seen <= old || maxSeen.CompareAndSwap(old, seen) {
					break
				}
			}
		}
	}
	var heapFull uint64 // the heap when the store first reached its bound
	for round := 0; round < rounds; round++ {
		clock.Advance(time.Second)
		var wg sync.WaitGroup
		n := visitors / rounds
		for w := 0; w < workers; w++ {
			share := n / workers
			if w < n%workers {
				share++
			}
			wg.Add(1)
			go func() { defer wg.Done(); flood(share) }()
		}
		wg.Wait()
		require.LessOrEqual(t, mem.Len(), maxSessions, "round %d: the bound holds between writes", round)

		clock.Advance(time.Second) // the active sessions' idle deadlines move past the flood's
		for i, id := range ids {
			require.Equal(t, itoa(round+2), serve("/inc", id).Body.String(), "round %d: active session %d", round, i)
		}
		if heapFull == 0 && mem.Len() == maxSessions {
			heapFull = testenv.LiveHeap()
		}
	}
	heapAfter := testenv.LiveHeap()

	assert.Zero(t, failed.Load(), "every flood request was served a new session")
	assert.Equal(t, int64(visitors+active), created.Load(), "every visitor got a session")
	assert.Equal(t, maxSessions, mem.Len())
	assert.LessOrEqual(t, maxSeen.Load(), int64(maxSessions+workers), "sampled during the flood")
	for i, id := range ids {
		assert.Equal(t, itoa(rounds+2), serve("/inc", id).Body.String(), "active session %d survived", i)
	}

	// A kept session (record, one value, key, heap slot and map entries)
	// was measured at 0.3 KiB, and at 0.8 KiB with an earlier record layout:
	// the full store is 15 to 40 MiB. Allowing 1 KiB per kept session
	// (~49 MiB) leaves room for allocator slack, yet fails an unbounded
	// store, which would keep all 200,000 visitors (about 60 MiB or more). Once
	// the store is full, every new visitor evicts one, so the heap must stay
	// flat whatever the number of visitors: 8 MiB of noise is allowed, which
	// a leak of 60 bytes per evicted visitor of the full flood would exceed.
	growth := int64(heapAfter) - int64(heapBefore)
	require.NotZero(t, heapFull, "the flood must fill the store")
	steady := int64(heapAfter) - int64(heapFull)
	t.Logf("%d visitors, %d workers: heap grew %.1f MiB for %d records (%.0f B each), %.1f MiB once full",
		visitors, workers, float64(growth)/(1<<20), mem.Len(), float64(growth)/float64(mem.Len()), float64(steady)/(1<<20))
	assert.Less(t, growth, int64(maxSessions<<10), "heap growth for a full store")
	assert.Less(t, steady, int64(8<<20), "heap growth at steady state")
}

// attackClient is a browser: a cookie-jar client of srv.
func attackClient(t *testing.T) (*http.Client, *cookiejar.Jar) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar}, jar
}

// attackGet fetches path with c and returns the body.
func attackGet(t *testing.T, c *http.Client, base, path string) string {
	t.Helper()
	resp, err := c.Get(base + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

// attackJarID returns the session cookie a jar holds for u.
func attackJarID(jar *cookiejar.Jar, u *url.URL) string {
	for _, c := range jar.Cookies(u) {
		if c.Name == DefaultCookieName {
			return c.Value
		}
	}
	return ""
}

// TestFixationEndToEnd plays session fixation over HTTP: the attacker gets
// an ID, plants it in the victim's browser, and the victim logs in. Login
// gives the victim a new ID, so the planted one is worthless: the attacker
// stays anonymous, never sees the victim's user or data, and never receives
// the victim's new ID, also when WithRenewGrace is set.
func TestFixationEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"no grace", nil},
		{"WithRenewGrace(30s)", []Option{WithRenewGrace(30 * time.Second)}},
		{"WithRenewGrace and WithRotation", []Option{WithRenewGrace(30 * time.Second), WithRotation(time.Minute)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts...)
			srv := httptest.NewServer(h.handler)
			t.Cleanup(srv.Close)
			u, err := url.Parse(srv.URL)
			require.NoError(t, err)
			attacker, attackerJar := attackClient(t)
			victim, victimJar := attackClient(t)

			assert.Empty(t, attackGet(t, attacker, srv.URL, "/set?k=bait&v=attacker"))
			planted := attackJarID(attackerJar, u)
			require.NotEmpty(t, planted)
			victimJar.SetCookies(u, []*http.Cookie{{Name: DefaultCookieName, Value: planted, Path: "/"}})
			require.Equal(t, "attacker", attackGet(t, victim, srv.URL, "/get?k=bait"), "the victim now uses the planted session")

			attackGet(t, victim, srv.URL, "/login?user=alice")
			loggedIn := attackJarID(victimJar, u)
			require.NotEqual(t, planted, loggedIn, "login issues a new ID")
			attackGet(t, victim, srv.URL, "/set?k=card&v=4111")

			for _, after := range []time.Duration{0, time.Second, time.Minute} {
				h.clock.Advance(after)
				rejBefore := len(attackRejected(h))
				assert.Empty(t, attackGet(t, attacker, srv.URL, "/user"), "after %v: the attacker is anonymous", after)
				assert.Empty(t, attackGet(t, attacker, srv.URL, "/get?k=card"), "after %v: and sees none of the victim's data", after)
				assert.Empty(t, attackGet(t, attacker, srv.URL, "/get?k=bait"), "after %v: not even its own bait", after)
				assert.NotEqual(t, loggedIn, attackJarID(attackerJar, u), "the victim's new ID never reaches the attacker")
				rej := attackRejected(h)[rejBefore:]
				assert.Len(t, rej, 3, "each of the attacker's requests is reported")
				for _, e := range rej {
					assert.Equal(t, RejectStaleID, e.Reason, "the planted ID is reported as stale")
				}
				assert.Equal(t, "alice", attackGet(t, victim, srv.URL, "/user"))
				loggedIn = attackJarID(victimJar, u) // WithRotation may have moved it
			}
			attackGet(t, attacker, srv.URL, "/set?k=card&v=evil")
			assert.Equal(t, "4111", attackGet(t, victim, srv.URL, "/get?k=card"), "the attacker's writes never reach the victim")
			assert.Equal(t, "alice", attackGet(t, victim, srv.URL, "/user"))
		})
	}
}

// TestHijackStaleIDAfterRenewal uses an ID after it was replaced (Renew,
// Login or rotation) and its grace period ended, as a thief replaying a
// stolen cookie would: the thief gets nothing, the Rejected hook reports
// RejectStaleID with the thief's address, and the owner keeps its session.
func TestHijackStaleIDAfterRenewal(t *testing.T) {
	const ownerAddr, thiefAddr = "198.51.100.7:1000", "203.0.113.66:2000"
	thief := netip.MustParseAddr("203.0.113.66")
	cases := []struct {
		name    string
		opts    []Option
		replace func(h *harness, old string) string // returns the owner's new ID
		wait    time.Duration                       // from the replacement to the thief's request
	}{
		{"Renew without grace, used at once", nil,
			func(h *harness, old string) string {
				return setCookie(h.do("/renew", old, from(ownerAddr)), DefaultCookieName).Value
			}, 0},
		{"Renew with 10s grace, used after 11s", []Option{WithRenewGrace(10 * time.Second)},
			func(h *harness, old string) string {
				return setCookie(h.do("/renew", old, from(ownerAddr)), DefaultCookieName).Value
			}, 11 * time.Second},
		{"Login with grace set, used at once", []Option{WithRenewGrace(10 * time.Second)},
			func(h *harness, old string) string {
				return setCookie(h.do("/login?user=alice", old, from(ownerAddr)), DefaultCookieName).Value
			}, 0},
		{"rotation, used after its grace", []Option{WithRotation(time.Hour), WithIdleTimeout(2 * time.Hour)},
			func(h *harness, old string) string {
				h.clock.Advance(time.Hour)
				return setCookie(h.do("/get?k=k", old, from(ownerAddr)), DefaultCookieName).Value
			}, DefaultRotationGrace + time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts...)
			old := h.newSession(from(ownerAddr))
			renewed := tc.replace(h, old)
			require.NotEqual(t, old, renewed)
			h.clock.Advance(tc.wait)

			rejBefore := len(attackRejected(h))
			w := h.do("/get?k=k", old, from(thiefAddr))
			assert.Empty(t, w.Body.String(), "the stale ID gives nothing")
			attackNoSessionCookie(t, w.Result().Cookies())
			rej := attackRejected(h)[rejBefore:]
			require.Len(t, rej, 1)
			assert.Equal(t, RejectStaleID, rej[0].Reason)
			assert.Equal(t, thief, rej[0].ClientIP)
			assert.NotEmpty(t, rej[0].Tag)

			assert.Equal(t, "v", h.body("/get?k=k", renewed, from(ownerAddr)), "the owner keeps its session")
		})
	}
}

// TestHijackIPMismatch uses a session from outside the network prefix it is
// bound to: the attacker gets an empty session, the Rejected hook reports
// RejectIPMismatch with the attacker's address, and the victim's session,
// cookie and data are untouched.
func TestHijackIPMismatch(t *testing.T) {
	cases := []struct {
		name             string
		opts             []Option
		victim, attacker func(*http.Request)
		attackerIP       string
	}{
		{"IPv4 exact", []Option{WithIPBinding(32, 128)},
			from("198.51.100.7:1000"), from("198.51.100.8:1000"), "198.51.100.8"},
		{"IPv4 /24", []Option{WithIPBinding(24, 64)},
			from("198.51.100.7:1000"), from("203.0.113.66:2000"), "203.0.113.66"},
		{"IPv6 /64", []Option{WithIPBinding(24, 64)},
			from("[2001:db8:1:2::7]:1000"), from("[2001:db8:ffff::66]:2000"), "2001:db8:ffff::66"},
		{"IPv4 victim, IPv6 attacker", []Option{WithIPBinding(24, 64)},
			from("198.51.100.7:1000"), from("[2001:db8::66]:2000"), "2001:db8::66"},
		{"through a trusted proxy", []Option{WithIPBinding(32, 128), WithTrustedProxies("10.0.0.0/8")},
			attackVia("192.0.2.10"), attackVia("192.0.2.66"), "192.0.2.66"},
		// The thief's unclosed quote would swallow the element the proxy
		// appends, if Forwarded were read from the left.
		{"through a trusted proxy writing Forwarded", []Option{WithIPBinding(32, 128), WithTrustedProxies("10.0.0.0/8"), WithProxyHeader("Forwarded")},
			attackForwardedVia("", "192.0.2.10"), attackForwardedVia(`for="192.0.2.10";x="`, "192.0.2.66"), "192.0.2.66"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts...)
			stolen := h.newSession(tc.victim)

			w := h.do("/get?k=k", stolen, tc.attacker)
			assert.Empty(t, w.Body.String(), "the attacker gets nothing")
			assert.Nil(t, setCookie(w, DefaultCookieName), "nor is the owner's cookie removed through it")
			rej := attackRejected(h)
			require.Len(t, rej, 1)
			assert.Equal(t, RejectIPMismatch, rej[0].Reason)
			assert.Equal(t, netip.MustParseAddr(tc.attackerIP), rej[0].ClientIP)
			assert.NotEmpty(t, rej[0].Tag)

			w = h.do("/set?k=k&v=evil", stolen, tc.attacker)
			c := setCookie(w, DefaultCookieName)
			require.NotNil(t, c, "a write from the attacker starts a session of its own")
			assert.NotEqual(t, stolen, c.Value)

			assert.Equal(t, "v", h.body("/get?k=k", stolen, tc.victim), "the victim's session keeps working")
			assert.Equal(t, "v", h.body("/get?k=k", stolen, tc.victim))
			assert.Len(t, attackRejected(h), 2, "the victim's own requests are never rejected")
		})
	}
}

// attackVia makes a request come from client through the trusted proxy
// 10.1.2.3, with a spoofed entry the client wrote itself in front.
func attackVia(client string) func(*http.Request) {
	return func(r *http.Request) {
		r.RemoteAddr = "10.1.2.3:5555"
		r.Header.Set("X-Forwarded-For", "198.51.100.1, "+client)
	}
}

// attackForwardedVia makes a request come from client through the trusted
// proxy 10.1.2.3, which appends its Forwarded element to what the client
// sent (sent, possibly empty).
func attackForwardedVia(sent, client string) func(*http.Request) {
	return func(r *http.Request) {
		r.RemoteAddr = "10.1.2.3:5555"
		v := "for=" + client
		if sent != "" {
			v = sent + ", " + v
		}
		r.Header.Set("Forwarded", v)
	}
}

// TestHijackEndedByPasswordChange: a thief holds a copy of the victim's
// laptop cookie; the victim changes the password on the phone and ends the
// other sessions, in either of the two ways the API offers. The stolen copy
// and the laptop are logged out, the phone stays logged in under a new ID,
// and the phone's old ID is dead too.
func TestHijackEndedByPasswordChange(t *testing.T) {
	cases := []struct {
		name      string
		endOthers func(t *testing.T, m *Manager, s *Session, r *http.Request)
		keepsData bool
	}{
		{"Revoke the other handles, then Renew", func(t *testing.T, m *Manager, s *Session, r *http.Request) {
			infos, err := m.UserSessions(r.Context(), s.User())
			require.NoError(t, err)
			for _, info := range infos {
				if info.Handle != s.Handle() {
					require.NoError(t, m.Revoke(r.Context(), info.Handle))
				}
			}
			require.NoError(t, s.Renew())
		}, true},
		{"Invalidate, InvalidateUser, then Login", func(t *testing.T, m *Manager, s *Session, r *http.Request) {
			user := s.User()
			require.NoError(t, s.Invalidate())
			_, err := m.InvalidateUser(r.Context(), user)
			require.NoError(t, err)
			require.NoError(t, s.Login(user))
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			mux := http.NewServeMux()
			mux.Handle("/", testApp(t))
			mux.HandleFunc("/password", func(w http.ResponseWriter, r *http.Request) {
				// ... check the old password, store the new one ...
				tc.endOthers(t, h.m, FromContext(r.Context()), r)
			})
			h.handler = h.m.Handler(mux)

			laptop := setCookie(h.do("/login?user=alice", ""), DefaultCookieName).Value
			stolen := laptop
			phone := setCookie(h.do("/login?user=alice", ""), DefaultCookieName).Value
			h.do("/set?k=k&v=phone-data", phone)
			require.Equal(t, "alice", h.body("/user", stolen, from("203.0.113.66:1")), "the thief is in")

			c := setCookie(h.do("/password", phone), DefaultCookieName)
			require.NotNil(t, c, "the phone gets a new ID")
			require.NotEqual(t, phone, c.Value)

			assert.Empty(t, h.body("/user", stolen, from("203.0.113.66:1")), "the stolen copy is dead")
			assert.Empty(t, h.body("/user", laptop), "so is the laptop")
			assert.Empty(t, h.body("/user", phone), "and the phone's old ID")
			assert.Equal(t, "alice", h.body("/user", c.Value), "the phone stays logged in")
			if tc.keepsData {
				assert.Equal(t, "phone-data", h.body("/get?k=k", c.Value))
			}
			infos, err := h.m.UserSessions(context.Background(), "alice")
			require.NoError(t, err)
			assert.Len(t, infos, 1)
		})
	}
}
