package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLazySessionWritesNothing(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/noop", "/get?k=x", "/user"} {
		w := h.do(path, "")
		assert.Nil(t, setCookie(w, DefaultCookieName), path)
	}
	_, creates, updates, _, _ := h.store.counts()
	assert.Zero(t, creates+updates)
	assert.Zero(t, h.mem.Len())
}

func TestValuesPersistAcrossRequests(t *testing.T) {
	h := newHarness(t)
	w := h.do("/inc", "")
	c := setCookie(w, DefaultCookieName)
	require.NotNil(t, c)
	for want := 2; want <= 4; want++ {
		assert.Equal(t, itoa(want), h.body("/inc", c.Value))
	}
}

func TestSessionAccessors(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	var got struct {
		id      string
		isNew   bool
		keys    []string
		created time.Time
		typed   string
		typedOK bool
		wrongOK bool
	}
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		s.Set("b", 2)
		s.Set("a", "x")
		s.Delete("k")
		got.id, got.isNew, got.keys, got.created = s.ID(), s.IsNew(), s.Keys(), s.CreatedAt()
		got.typed, got.typedOK = Value[string](s, "a")
		_, got.wrongOK = Value[string](s, "b")
	}))
	h.do("/", cookie)
	assert.Equal(t, cookie, got.id)
	assert.False(t, got.isNew)
	assert.Equal(t, []string{"a", "b"}, got.keys)
	assert.Equal(t, h.clock.Now(), got.created)
	assert.Equal(t, "x", got.typed)
	assert.True(t, got.typedOK)
	assert.False(t, got.wrongOK, "Value must report a value of another type as missing")

	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		assert.True(t, s.IsNew())
		assert.Empty(t, s.ID(), "a new session has no ID until it exists")
		s.Clear()
		assert.Empty(t, s.Keys())
	}))
	h.do("/", "")
}

func TestStrictModeNeverAdoptsUnknownIDs(t *testing.T) {
	h := newHarness(t)
	invalidated := h.newSession()
	h.do("/invalidate", invalidated)
	expired := h.newSession()
	h.clock.Advance(DefaultIdleTimeout + DefaultIdleTimeout/10 + time.Second) // idle timeout plus touch interval
	cases := map[string]string{
		"unknown":     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"chosen":      "attacker-chosen-session-id-0123456789",
		"invalidated": invalidated,
		"expired":     expired,
	}
	for name, id := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Empty(t, h.body("/get?k=k", id), "no data may come from an ID the server did not issue")
			w := h.do("/set?k=k&v=mine", id)
			c := setCookie(w, DefaultCookieName)
			require.NotNil(t, c)
			assert.NotEqual(t, id, c.Value, "a new session always gets a new server-issued ID")
			_, err := h.mem.Load(context.Background(), storeKey(id))
			assert.ErrorIs(t, err, ErrNotFound, "the presented ID must not become a session")
		})
	}
}

func TestStoreNeverHoldsRawIDs(t *testing.T) {
	h := newHarness(t)
	ids := map[string]bool{}
	for i := 0; i < 20; i++ {
		ids[h.newSession()] = true
	}
	var keys []string
	for _, e := range h.mem.allEntries() {
		keys = append(keys, e.key)
		dump := fmt.Sprintf("%+v", e.rec)
		for id := range ids {
			assert.NotContains(t, dump, id)
			assert.NotEqual(t, id, e.key)
		}
	}
	require.Len(t, keys, 20)
	for _, key := range keys {
		assert.Empty(t, h.body("/get?k=k", key), "a store key must not work as a cookie")
	}
}

func TestIdleTimeoutEnforcedByManager(t *testing.T) {
	// The store's own clock is frozen, so only the manager can expire.
	clock := newTestClock()
	frozen := NewMemoryStore(WithMemoryClock(newTestClock().Now), WithSweepInterval(0))
	h := newHarness(t, WithStore(frozen), WithClock(clock.Now), WithIdleTimeout(10*time.Minute))
	cookie := h.newSession()
	clock.Advance(9 * time.Minute)
	assert.Equal(t, "v", h.body("/get?k=k", cookie), "just inside the idle timeout")
	clock.Advance(9 * time.Minute)
	assert.Equal(t, "v", h.body("/get?k=k", cookie), "the read above pushed the idle deadline")
	clock.Advance(11 * time.Minute)
	assert.Empty(t, h.body("/get?k=k", cookie), "idle for the idle timeout plus the touch interval")
	_, err := frozen.Load(context.Background(), storeKey(cookie))
	assert.ErrorIs(t, err, ErrNotFound, "an expired session is deleted")
	assert.Contains(t, h.events.kinds(), "expired")
	assert.Contains(t, h.events.rejections(), RejectExpired)
}

func TestAbsoluteTimeoutEnforcedByManager(t *testing.T) {
	clock := newTestClock()
	frozen := NewMemoryStore(WithMemoryClock(newTestClock().Now), WithSweepInterval(0))
	h := newHarness(t, WithStore(frozen), WithClock(clock.Now),
		WithIdleTimeout(10*time.Minute), WithAbsoluteTimeout(time.Hour))
	cookie := h.newSession()
	for i := 0; i < 6; i++ {
		clock.Advance(9*time.Minute + 50*time.Second)
		assert.Equal(t, "v", h.body("/get?k=k", cookie), "active session within its absolute timeout")
	}
	clock.Advance(time.Minute) // 60 minutes after creation, 1 idle
	assert.Empty(t, h.body("/get?k=k", cookie), "past the absolute timeout, however active")
	assert.Contains(t, h.events.rejections(), RejectExpired)
}

func TestTouchWritesAtMostOncePerInterval(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(10*time.Minute), WithTouchInterval(time.Minute))
	cookie := h.newSession()
	for i := 0; i < 5; i++ {
		h.clock.Advance(10 * time.Second)
		h.do("/get?k=k", cookie)
	}
	_, _, updates, _, _ := h.store.counts()
	assert.Zero(t, updates, "read-only requests inside the touch interval write nothing")

	h.clock.Advance(15 * time.Second) // 65 s since creation
	h.do("/get?k=k", cookie)
	_, _, updates, _, _ = h.store.counts()
	require.Equal(t, 1, updates)
	d := h.store.lastUpdate()
	assert.Empty(t, d.Set, "a touch rewrites no values")
	assert.Empty(t, d.Delete)
	assert.False(t, d.Clear)
	assert.Equal(t, h.clock.Now().Add(10*time.Minute+time.Minute), d.IdleDeadline,
		"the idle timeout plus the touch interval")
	assert.Nil(t, setCookie(h.do("/get?k=k", cookie), DefaultCookieName), "a touch sends no cookie")
}

func TestDeltaWritesOnlyChangedKeys(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	h.do("/set?k=other&v=1", cookie)
	h.do("/set?k=k&v=changed", cookie)
	d := h.store.lastUpdate()
	assert.Equal(t, []string{"k"}, keysOf(d.Set))
	assert.Empty(t, d.Delete)
	assert.Equal(t, "1", h.body("/get?k=other", cookie))
}

func keysOf(m map[string][]byte) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func TestConcurrentRequestsKeepEachOthersChanges(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	const n = 64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.do(fmt.Sprintf("/set?k=key%d&v=%d", i, i), cookie)
		}()
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		assert.Equal(t, itoa(i), h.body(fmt.Sprintf("/get?k=key%d", i), cookie))
	}
}

// inFlight starts a request with cookie whose handler waits, after its
// session has loaded, until meanwhile has run; then it calls then on the
// session and the request completes. It returns the finished response.
func inFlight(h *harness, cookie string, meanwhile func(), then func(*Session)) *httptest.ResponseRecorder {
	loaded, release := make(chan struct{}), make(chan struct{})
	slow := h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(loaded)
		<-release
		then(FromContext(r.Context()))
	}))
	done := make(chan *httptest.ResponseRecorder)
	go func() {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: cookie})
		w := httptest.NewRecorder()
		slow.ServeHTTP(w, r)
		done <- w
	}()
	<-loaded
	meanwhile()
	close(release)
	return <-done
}

func TestNoResurrection(t *testing.T) {
	cases := map[string]string{"invalidate": "/invalidate", "renew": "/renew", "login": "/login?user=u"}
	for name, ender := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			cookie := h.newSession()
			w := inFlight(h, cookie, func() { h.do(ender, cookie) },
				func(s *Session) { s.Set("late", "write") })
			assert.Equal(t, http.StatusOK, w.Code)
			rec, err := h.mem.Load(context.Background(), storeKey(cookie))
			if err == nil {
				assert.NotNil(t, rec.Tombstone, "only a tombstone may remain at the old key")
				assert.Empty(t, rec.Values)
			} else {
				assert.ErrorIs(t, err, ErrNotFound)
			}
			assert.Empty(t, h.body("/get?k=k", cookie), "the old ID must not lead to data")
		})
	}
}

func TestRenewKeepsDataAndRetiresOldID(t *testing.T) {
	h := newHarness(t)
	old := h.newSession()
	w := h.do("/renew", old)
	c := setCookie(w, DefaultCookieName)
	require.NotNil(t, c)
	assert.NotEqual(t, old, c.Value)
	assert.Equal(t, "v", h.body("/get?k=k", c.Value), "data survives renewal")
	assert.Empty(t, h.body("/get?k=k", old), "the old ID is dead at once without grace")
	assert.Contains(t, h.events.rejections(), RejectStaleID)
	assert.Contains(t, h.events.kinds(), "renewed")
}

func TestRenewGracePointsToNewSession(t *testing.T) {
	h := newHarness(t, WithRenewGrace(10*time.Second))
	old := h.newSession()
	newID := setCookie(h.do("/renew", old), DefaultCookieName).Value

	h.clock.Advance(5 * time.Second)
	w := h.do("/get?k=k", old)
	assert.Equal(t, "v", w.Body.String(), "within grace the old ID leads to the new session")
	c := setCookie(w, DefaultCookieName)
	require.NotNil(t, c, "the client is sent the new ID again")
	assert.Equal(t, newID, c.Value)

	h.do("/set?k=k&v=via-old", old)
	assert.Equal(t, "via-old", h.body("/get?k=k", newID), "a write through the old ID reaches the new session")

	h.clock.Advance(6 * time.Second)
	assert.Empty(t, h.body("/get?k=k", old), "after grace the old ID is stale")
	assert.Equal(t, RejectStaleID, h.events.rejections()[len(h.events.rejections())-1])
	assert.Equal(t, "via-old", h.body("/get?k=k", newID))
}

func TestInFlightWriteFollowsRenewalWithinGrace(t *testing.T) {
	h := newHarness(t, WithRenewGrace(10*time.Second))
	cookie := h.newSession()
	var newID string
	w := inFlight(h, cookie, func() { newID = setCookie(h.do("/renew", cookie), DefaultCookieName).Value },
		func(s *Session) { s.Set("late", "kept") })
	assert.Equal(t, "kept", h.body("/get?k=late", newID), "no lost update across a renewal in grace")
	c := setCookie(w, DefaultCookieName)
	require.NotNil(t, c)
	assert.Equal(t, newID, c.Value)
}

func TestLoginRenewsAndRecordsUser(t *testing.T) {
	h := newHarness(t)
	anon := h.newSession()
	w := h.do("/login?user=alice", anon)
	c := setCookie(w, DefaultCookieName)
	require.NotNil(t, c)
	assert.NotEqual(t, anon, c.Value, "login must issue a new ID (fixation defence)")
	assert.Equal(t, "alice", h.body("/user", c.Value))
	assert.Equal(t, "v", h.body("/get?k=k", c.Value))
	assert.Empty(t, h.body("/user", anon))

	fresh := setCookie(h.do("/login?user=bob", ""), DefaultCookieName)
	require.NotNil(t, fresh, "login on a new session creates it")
	assert.Equal(t, "bob", h.body("/user", fresh.Value))
}

func TestLoginRejectsInvalidUser(t *testing.T) {
	for name, user := range map[string]string{"empty": "", "invalid UTF-8": "al\xffice", "NUL": "al\x00ice"} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			var err error
			h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				err = FromContext(r.Context()).Login(user)
			}))
			w := h.do("/", "")
			assert.ErrorIs(t, err, ErrInvalidUser)
			assert.Nil(t, setCookie(w, DefaultCookieName), "no session for a refused login")
		})
	}
}

func TestInvalidate(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	w := h.do("/invalidate", cookie)
	c := setCookie(w, DefaultCookieName)
	require.NotNil(t, c, "the response must expire the cookie")
	assert.Equal(t, -1, c.MaxAge)
	assert.Empty(t, c.Value)
	_, err := h.mem.Load(context.Background(), storeKey(cookie))
	assert.ErrorIs(t, err, ErrNotFound, "deleted from the store at once")
	assert.Empty(t, h.body("/get?k=k", cookie))
	assert.Contains(t, h.events.kinds(), "invalidated")
}

func TestInvalidateThenWriteStartsNewSession(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		require.NoError(t, s.Invalidate())
		s.Set("flash", "logged out")
	}))
	c := setCookie(h.do("/", cookie), DefaultCookieName)
	require.NotNil(t, c)
	assert.NotEqual(t, cookie, c.Value)
	h.handler = h.m.Handler(testApp(t))
	assert.Equal(t, "logged out", h.body("/get?k=flash", c.Value))
	assert.Empty(t, h.body("/get?k=k", c.Value), "nothing of the old session carries over")
}

func TestRenewAfterResponseStartedFails(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	var err error
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "body first")
		err = FromContext(r.Context()).Renew()
	}))
	h.do("/", cookie)
	assert.ErrorIs(t, err, ErrResponseStarted)
}

func TestMaxSessionsPerUserEndsOldest(t *testing.T) {
	h := newHarness(t, WithMaxSessionsPerUser(2))
	var cookies []string
	for i := 0; i < 3; i++ {
		c := setCookie(h.do("/login?user=alice", ""), DefaultCookieName)
		require.NotNil(t, c)
		cookies = append(cookies, c.Value)
		h.clock.Advance(time.Second)
	}
	assert.Empty(t, h.body("/user", cookies[0]), "the oldest session ended")
	assert.Equal(t, "alice", h.body("/user", cookies[1]))
	assert.Equal(t, "alice", h.body("/user", cookies[2]))
	infos, err := h.m.UserSessions(context.Background(), "alice")
	require.NoError(t, err)
	assert.Len(t, infos, 2)
}

func TestMaxSessionsPerUserNeedsUserIndex(t *testing.T) {
	_, err := New(WithStore(struct{ Store }{NewMemoryStore()}), WithMaxSessionsPerUser(1))
	assert.ErrorIs(t, err, ErrNoUserIndex)
}

func TestUserSessionsAndRevoke(t *testing.T) {
	h := newHarness(t)
	ua := func(agent string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("User-Agent", agent); r.RemoteAddr = "203.0.113.9:1234" }
	}
	first := setCookie(h.do("/login?user=alice", "", ua("phone")), DefaultCookieName).Value
	h.clock.Advance(time.Minute)
	second := setCookie(h.do("/login?user=alice", "", ua("laptop")), DefaultCookieName).Value
	h.do("/login?user=bob", "")

	infos, err := h.m.UserSessions(context.Background(), "alice")
	require.NoError(t, err)
	require.Len(t, infos, 2)
	assert.Equal(t, "laptop", infos[0].UserAgent, "most recently seen first")
	assert.Equal(t, "203.0.113.9", infos[0].ClientIP.String())
	for _, info := range infos {
		assert.NotContains(t, info.Handle, first)
		assert.NotContains(t, info.Handle, second)
		assert.NotContains(t, info.Handle, storeKey(first))
	}

	require.NoError(t, h.m.Revoke(context.Background(), infos[1].Handle))
	assert.Empty(t, h.body("/user", first), "the revoked session ended")
	assert.Equal(t, "alice", h.body("/user", second))
	assert.ErrorIs(t, h.m.Revoke(context.Background(), infos[1].Handle), ErrUnknownHandle)
	assert.ErrorIs(t, h.m.Revoke(context.Background(), "garbage"), ErrUnknownHandle)

	n, err := h.m.InvalidateUser(context.Background(), "alice")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Empty(t, h.body("/user", second))
	bobs, err := h.m.UserSessions(context.Background(), "bob")
	require.NoError(t, err)
	assert.Len(t, bobs, 1, "other users keep their sessions")
}

func TestSessionHandleMatchesInfo(t *testing.T) {
	h := newHarness(t)
	cookie := setCookie(h.do("/login?user=alice", ""), DefaultCookieName).Value
	var handle string
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle = FromContext(r.Context()).Handle()
	}))
	h.do("/", cookie)
	infos, err := h.m.UserSessions(context.Background(), "alice")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.Equal(t, infos[0].Handle, handle)
}

func TestUserFunctionsNeedUserIndex(t *testing.T) {
	m, err := New(WithStore(struct{ Store }{NewMemoryStore()}))
	require.NoError(t, err)
	_, err = m.UserSessions(context.Background(), "a")
	assert.ErrorIs(t, err, ErrNoUserIndex)
	_, err = m.InvalidateUser(context.Background(), "a")
	assert.ErrorIs(t, err, ErrNoUserIndex)
	assert.ErrorIs(t, m.Revoke(context.Background(), handleOf("a", "k")), ErrNoUserIndex)
}

func TestIPBinding(t *testing.T) {
	cases := []struct {
		name         string
		owner, other string
		stranger     string
		v4, v6       int
	}{
		{"IPv4 /24", "198.51.100.7:1000", "198.51.100.200:2000", "198.51.101.7:1000", 24, 64},
		{"IPv4 exact", "198.51.100.7:1000", "198.51.100.7:3000", "198.51.100.8:1000", 32, 128},
		{"IPv6 /64", "[2001:db8:1:2::7]:1000", "[2001:db8:1:2:ffff::1]:2000", "[2001:db8:1:3::7]:1000", 24, 64},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, WithIPBinding(tc.v4, tc.v6))
			cookie := h.newSession(from(tc.owner))
			assert.Equal(t, "v", h.body("/get?k=k", cookie, from(tc.other)), "same prefix keeps the session")
			assert.Empty(t, h.body("/get?k=k", cookie, from(tc.stranger)), "another prefix does not get it")
			assert.Equal(t, RejectIPMismatch, h.events.rejections()[0])
			h.do("/set?k=k&v=stranger", cookie, from(tc.stranger))
			assert.Equal(t, "v", h.body("/get?k=k", cookie, from(tc.owner)), "the owner's session stays valid and untouched")
		})
	}
}

func TestIPBindingThroughTrustedProxy(t *testing.T) {
	h := newHarness(t, WithIPBinding(32, 128), WithTrustedProxies("10.0.0.0/8"))
	via := func(client string) func(*http.Request) {
		return func(r *http.Request) {
			r.RemoteAddr = "10.1.2.3:5555"
			r.Header.Set("X-Forwarded-For", "6.6.6.6, "+client)
		}
	}
	cookie := h.newSession(via("192.0.2.10"))
	assert.Equal(t, "v", h.body("/get?k=k", cookie, via("192.0.2.10")))
	assert.Empty(t, h.body("/get?k=k", cookie, via("192.0.2.11")))
	spoof := func(r *http.Request) {
		r.RemoteAddr = "192.0.2.99:1"
		r.Header.Set("X-Forwarded-For", "192.0.2.10")
	}
	assert.Empty(t, h.body("/get?k=k", cookie, spoof), "headers from an untrusted peer are ignored")
	otherHeader := func(r *http.Request) {
		via("192.0.2.66")(r)
		r.Header.Set("Forwarded", "for=192.0.2.10") // passed through from the client
	}
	assert.Empty(t, h.body("/get?k=k", cookie, otherHeader), "only the configured header is read")
}

func TestIPBindingWithForwardedHeader(t *testing.T) {
	h := newHarness(t, WithIPBinding(32, 128), WithTrustedProxies("10.0.0.0/8"), WithProxyHeader("forwarded"))
	via := func(forwarded, xff string) func(*http.Request) {
		return func(r *http.Request) {
			r.RemoteAddr = "10.1.2.3:5555"
			r.Header.Set("Forwarded", forwarded)
			r.Header.Set("X-Forwarded-For", xff)
		}
	}
	cookie := h.newSession(via(`for="[2001:db8::7]:1234";proto=https`, ""))
	assert.Equal(t, "v", h.body("/get?k=k", cookie, via(`for="[2001:db8::7]"`, "")))
	assert.Empty(t, h.body("/get?k=k", cookie, via("for=192.0.2.1", "2001:db8::7")))
}

var errStoreDown = errors.New("store down")

func TestStoreFailureOnLoadStopsRequest(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	h.store.failLoad = errStoreDown
	ran := false
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran = true }))
	w := h.do("/", cookie)
	assert.False(t, ran, "the handler must not run with a silently empty session")
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Equal(t, "Internal Server Error\n", w.Body.String())
	assert.NotContains(t, w.Body.String(), errStoreDown.Error(), "store details stay in the log")
}

func TestStoreFailureOnSaveAnswersWithErrorHandler(t *testing.T) {
	var handled error
	h := newHarness(t, WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		handled = err
		http.Error(w, "try later", http.StatusServiceUnavailable)
	}))
	cookie := h.newSession()
	h.store.failWrite = errStoreDown
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Set("k", "lost?")
		fmt.Fprint(w, "saved!")
	}))
	w := h.do("/", cookie)
	assert.ErrorIs(t, handled, errStoreDown)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.NotContains(t, w.Body.String(), "saved!", "the handler's response must not claim success")
	h.store.failWrite = nil
	h.handler = h.m.Handler(testApp(t))
	assert.Equal(t, "v", h.body("/get?k=k", cookie), "the stored data is intact")
}

// TestUnencodableValueFailsAtSet: a value the codec cannot encode fails at
// Set, leaves the session as it was, and the handler's response goes out.
func TestUnencodableValueFailsAtSet(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	var setErr error
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		setErr = s.Set("k", func() {})
		v, _ := s.Get("k")
		fmt.Fprint(w, v)
	}))
	w := h.do("/", cookie)
	require.Error(t, setErr)
	assert.Equal(t, http.StatusOK, w.Code, "the handler's response is not discarded")
	assert.Equal(t, "v", w.Body.String(), "the session is unchanged")
	h.handler = h.m.Handler(testApp(t))
	assert.Equal(t, "v", h.body("/get?k=k", cookie))
}

// TestSessionSizeLimit: a Set that would take the session's keys and
// encoded values past WithMaxSessionBytes fails with ErrTooLarge and changes
// nothing; replacing or deleting values makes room again.
func TestSessionSizeLimit(t *testing.T) {
	h := newHarness(t, WithMaxSessionBytes(100))
	cookie := h.newSession() // k=v: 1 + 2 bytes
	enc := func(v string) int { b, _ := DefaultCodec{}.Encode(v); return len(b) }
	big := strings.Repeat("x", 100-3-len("big")-enc("")) // exactly fills the limit
	var errs []error
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		errs = append(errs, s.Set("big", big))     // 100 bytes in all: allowed
		errs = append(errs, s.Set("more", "x"))    // over
		errs = append(errs, s.Set("big", big+"y")) // over, replacing
		errs = append(errs, s.Set("k", "w"))       // same size
		s.Delete("big")
		errs = append(errs, s.Set("more", "x")) // fits again
	}))
	h.do("/", cookie)
	require.Len(t, errs, 5)
	assert.NoError(t, errs[0])
	assert.ErrorIs(t, errs[1], ErrTooLarge)
	assert.ErrorIs(t, errs[2], ErrTooLarge)
	assert.NoError(t, errs[3])
	assert.NoError(t, errs[4])
	h.handler = h.m.Handler(testApp(t))
	assert.Equal(t, "w", h.body("/get?k=k", cookie))
	assert.Equal(t, "x", h.body("/get?k=more", cookie))
	assert.Empty(t, h.body("/get?k=big", cookie))

	_, err := New(WithMaxSessionBytes(-1))
	assert.Error(t, err)
	unlimited := newHarness(t, WithMaxSessionBytes(0))
	unlimited.handler = unlimited.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, FromContext(r.Context()).Set("big", strings.Repeat("x", 2*DefaultMaxSessionBytes)))
	}))
	unlimited.do("/", "")
	defaults := newHarness(t)
	defaults.handler = defaults.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.ErrorIs(t, FromContext(r.Context()).Set("big", strings.Repeat("x", DefaultMaxSessionBytes)), ErrTooLarge)
	}))
	defaults.do("/", "")
}

// TestPop: Pop reads a value once; the next request no longer has it.
func TestPop(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	h.do("/set?k=flash&v=saved", cookie)
	var first, second string
	var ok1, ok2 bool
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		first, ok1 = Pop[string](s, "flash")
		second, ok2 = Pop[string](s, "flash")
	}))
	h.do("/", cookie)
	assert.True(t, ok1)
	assert.Equal(t, "saved", first)
	assert.False(t, ok2, "popped once")
	assert.Empty(t, second)
	h.handler = h.m.Handler(testApp(t))
	assert.Empty(t, h.body("/get?k=flash", cookie), "the deletion was saved")
	assert.Equal(t, "v", h.body("/get?k=k", cookie), "other values stay")
}

func TestRotation(t *testing.T) {
	h := newHarness(t, WithRotation(time.Hour), WithIdleTimeout(2*time.Hour))
	old := h.newSession()
	h.clock.Advance(30 * time.Minute)
	assert.Nil(t, setCookie(h.do("/get?k=k", old), DefaultCookieName), "too young to rotate")
	h.clock.Advance(29*time.Minute + 59*time.Second)
	h.do("/noop", old) // touch, keeps it alive
	h.clock.Advance(2 * time.Second)
	w := h.do("/get?k=k", old)
	c := setCookie(w, DefaultCookieName)
	require.NotNil(t, c, "an hour-old ID is rotated")
	assert.NotEqual(t, old, c.Value)
	assert.Equal(t, "v", w.Body.String())
	h.clock.Advance(DefaultRotationGrace / 2)
	assert.Equal(t, "v", h.body("/get?k=k", old), "rotation leaves a grace period")
	h.clock.Advance(DefaultRotationGrace)
	assert.Empty(t, h.body("/get?k=k", old))
	assert.Equal(t, "v", h.body("/get?k=k", c.Value))
}

func TestGetOfUndecodableValueIsMissing(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	require.NoError(t, h.mem.Update(context.Background(), storeKey(cookie),
		Delta{Set: map[string][]byte{"bad": {0xff}}}))
	assert.Empty(t, h.body("/get?k=bad", cookie))
	assert.Equal(t, "v", h.body("/get?k=k", cookie))
}

func TestCreateRetriesOnCollision(t *testing.T) {
	gen := &sequenceIDs{ids: []string{strings.Repeat("a", 43), strings.Repeat("a", 43), strings.Repeat("b", 43)}}
	h := newHarness(t, WithIDGenerator(gen))
	first := h.newSession()
	second := h.newSession()
	assert.Equal(t, strings.Repeat("a", 43), first)
	assert.Equal(t, strings.Repeat("b", 43), second, "a colliding ID is never shared")
}

// sequenceIDs hands out fixed IDs in order.
type sequenceIDs struct {
	mu  sync.Mutex
	ids []string
}

func (g *sequenceIDs) NewID() (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.ids) == 0 {
		return "", errors.New("out of IDs")
	}
	id := g.ids[0]
	g.ids = g.ids[1:]
	return id, nil
}

func TestIDGeneratorErrorIsNotHidden(t *testing.T) {
	var handled error
	h := newHarness(t, WithIDGenerator(&sequenceIDs{}), WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		handled = err
		w.WriteHeader(http.StatusInternalServerError)
	}))
	w := h.do("/set?k=k&v=v", "")
	assert.Error(t, handled)
	assert.Nil(t, setCookie(w, DefaultCookieName), "no cookie without a good ID")
	assert.Zero(t, h.mem.Len())
}

func TestDeadCookieIsRemoved(t *testing.T) {
	h := newHarness(t, WithIPBinding(32, 128), WithRenewGrace(time.Second))
	ended := h.newSession()
	h.do("/invalidate", ended)
	stale := h.newSession(from("192.0.2.1:1"))
	h.do("/renew", stale, from("192.0.2.1:1"))
	h.clock.Advance(2 * time.Second)
	bound := h.newSession(from("192.0.2.1:1"))
	cases := []struct {
		name, cookie string
		from         string
		removed      bool
	}{
		{"unknown ID", ended, "192.0.2.1:1", true},
		{"malformed", "!!", "192.0.2.1:1", true},
		{"stale ID keeps the cookie: a newer response may carry the new ID", stale, "192.0.2.1:1", false},
		{"IP mismatch keeps the owner's cookie", bound, "192.0.2.9:1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := setCookie(h.do("/get?k=k", tc.cookie, from(tc.from)), DefaultCookieName)
			if !tc.removed {
				assert.Nil(t, c)
				return
			}
			require.NotNil(t, c, "a cookie that can never work again is removed")
			assert.Equal(t, -1, c.MaxAge)
			c = setCookie(h.do("/set?k=k&v=v", tc.cookie, from(tc.from)), DefaultCookieName)
			require.NotNil(t, c)
			assert.NotEmpty(t, c.Value, "a new session replaces the dead cookie instead")
		})
	}
}

func TestInvalidateUserFiresHooks(t *testing.T) {
	h := newHarness(t)
	h.do("/login?user=alice", "")
	h.do("/login?user=alice", "")
	n, err := h.m.InvalidateUser(context.Background(), "alice")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	count := 0
	for _, k := range h.events.kinds() {
		if k == "invalidated" {
			count++
		}
	}
	assert.Equal(t, 2, count)
}

func TestHandleAfterLoginInSameRequest(t *testing.T) {
	h := newHarness(t)
	anon := h.newSession()
	var handle string
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		require.NoError(t, s.Login("alice"))
		handle = s.Handle()
	}))
	h.do("/", anon)
	infos, err := h.m.UserSessions(context.Background(), "alice")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.Equal(t, infos[0].Handle, handle)
}

func TestLoginIgnoresRenewGrace(t *testing.T) {
	h := newHarness(t, WithRenewGrace(30*time.Second))
	planted := h.newSession() // the attacker's ID, fixed in the victim's browser
	victim := setCookie(h.do("/login?user=alice", planted), DefaultCookieName)
	require.NotNil(t, victim)
	h.clock.Advance(time.Second)
	w := h.do("/user", planted)
	assert.Empty(t, w.Body.String(), "the planted ID must not lead to the logged-in session")
	assert.Nil(t, setCookie(w, DefaultCookieName), "nor be sent the victim's new ID")
	assert.Equal(t, "alice", h.body("/user", victim.Value))
}

func TestInvalidateFollowsConcurrentRenewal(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	var renewed string
	inFlight(h, cookie, func() { renewed = setCookie(h.do("/login?user=alice", cookie), DefaultCookieName).Value },
		func(s *Session) { require.NoError(t, s.Invalidate()) })
	assert.Empty(t, h.body("/user", renewed), "logging out ends the session wherever a renewal moved it")
	infos, err := h.m.UserSessions(context.Background(), "alice")
	require.NoError(t, err)
	assert.Empty(t, infos)
}

func TestConcurrentRotationsKeepBothChanges(t *testing.T) {
	h := newHarness(t, WithRotation(time.Hour), WithIdleTimeout(2*time.Hour))
	cookie := h.newSession()
	h.clock.Advance(time.Hour)
	var other string
	w := inFlight(h, cookie, func() { other = setCookie(h.do("/set?k=b&v=2", cookie), DefaultCookieName).Value },
		func(s *Session) { s.Set("a", "1") })
	require.NotEmpty(t, other, "the first request rotated the ID")
	c := setCookie(w, DefaultCookieName)
	require.NotNil(t, c, "the second request is sent the rotated ID")
	assert.Equal(t, other, c.Value, "one rotation, not two")
	assert.Equal(t, "1", h.body("/get?k=a", other))
	assert.Equal(t, "2", h.body("/get?k=b", other))
}

func TestErrorResponseDropsApplicationHeaders(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	h.store.failWrite = errStoreDown
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Set("k", "x")
		w.Header().Set("Location", "/done")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.WriteHeader(http.StatusSeeOther)
	}))
	w := h.do("/", cookie)
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Empty(t, w.Header().Get("Location"))
	assert.Empty(t, w.Header().Get("Content-Encoding"))
	assert.Empty(t, w.Header().Get("Cache-Control"), "an error must not be cached as public")
	assert.Equal(t, "Cookie", w.Header().Get("Vary"))
}

func TestUserAgentIsKeptAsValidUTF8(t *testing.T) {
	cases := map[string]struct{ ua, want string }{
		"plain":             {"Mozilla/5.0", "Mozilla/5.0"},
		"invalid bytes":     {"bad\xff\xfeagent", "bad\uFFFDagent"},
		"cut at a boundary": {strings.Repeat("a", maxUserAgent-1) + "é and more", strings.Repeat("a", maxUserAgent-1)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			cookie := h.newSession(func(r *http.Request) { r.Header.Set("User-Agent", tc.ua) })
			rec, err := h.mem.Load(context.Background(), storeKey(cookie))
			require.NoError(t, err)
			assert.Equal(t, tc.want, rec.UserAgent)
		})
	}
}

// failingRenewStore refuses every renewal with a transient error.
type failingRenewStore struct{ *recordingStore }

func (s failingRenewStore) Renew(context.Context, string, string, Delta, *Tombstone) error {
	return errStoreDown
}

func TestRotationPostponedWhenStoreCannotRenew(t *testing.T) {
	h := newHarness(t, WithRotation(time.Hour), WithIdleTimeout(2*time.Hour))
	cookie := h.newSession()
	failing, err := New(WithStore(failingRenewStore{h.store}), WithClock(h.clock.Now), WithRotation(time.Hour),
		WithIdleTimeout(2*time.Hour), WithLogger(h.m.log))
	require.NoError(t, err)
	h.handler = failing.Handler(testApp(t))
	h.clock.Advance(time.Hour)
	w := h.do("/set?k=k&v=changed", cookie)
	assert.Equal(t, http.StatusOK, w.Code, "a rotation the store cannot do is not the client's error")
	assert.Nil(t, setCookie(w, DefaultCookieName), "the session keeps its ID")
	h.handler = h.m.Handler(testApp(t))
	assert.Equal(t, "changed", h.body("/get?k=k", cookie), "and the request's changes are saved")
}

// TestIdleTimeoutCountsFromLastRequest: a read inside the touch interval
// writes nothing, yet the session still lives the whole idle timeout after
// it, and no longer than the idle timeout plus the touch interval.
func TestIdleTimeoutCountsFromLastRequest(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(30*time.Minute), WithTouchInterval(3*time.Minute))
	cookie := h.newSession()
	h.clock.Advance(2 * time.Minute)
	require.Equal(t, "v", h.body("/get?k=k", cookie))
	_, _, updates, _, _ := h.store.counts()
	require.Zero(t, updates, "the read was not a touch")
	h.clock.Advance(30*time.Minute - time.Second)
	assert.Equal(t, "v", h.body("/get?k=k", cookie), "idle for less than the idle timeout since the last request")

	cookie = h.newSession()
	h.clock.Advance(2 * time.Minute)
	require.Equal(t, "v", h.body("/get?k=k", cookie))
	h.clock.Advance(31 * time.Minute) // 33 minutes after the last touch
	assert.Empty(t, h.body("/get?k=k", cookie), "idle timeout plus touch interval after the last touch")
}

// TestSimultaneousLoginsKeepTheLater: at WithMaxSessionsPerUser(1), two
// logins that both list the user's sessions after both stored theirs agree
// on which session stays: the later login's, not neither.
func TestSimultaneousLoginsKeepTheLater(t *testing.T) {
	h := newHarness(t, WithMaxSessionsPerUser(1))
	racing := &overlappingListStore{recordingStore: h.store, bListed: make(chan struct{}), aListed: make(chan struct{})}
	m, err := New(WithStore(racing), WithClock(h.clock.Now), WithMaxSessionsPerUser(1), WithLogger(h.m.log))
	require.NoError(t, err)
	login := func() string {
		w := httptest.NewRecorder()
		m.Handler(testApp(t)).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/login?user=alice", nil))
		c := setCookie(w, DefaultCookieName)
		require.NotNil(t, c)
		return c.Value
	}
	var later string
	laterDone := make(chan struct{})
	racing.startB = func() {
		h.clock.Advance(time.Second)
		go func() { defer close(laterDone); later = login() }()
	}
	earlier := login()
	<-laterDone
	assert.Equal(t, "alice", h.body("/user", later), "the later login survives")
	assert.Empty(t, h.body("/user", earlier), "the earlier one ended")
	infos, err := h.m.UserSessions(context.Background(), "alice")
	require.NoError(t, err)
	assert.Len(t, infos, 1)
}

// overlappingListStore makes two logins' limit checks overlap: the first
// login's listing starts the second login (startB), and each listing is
// taken after both sessions were stored and returned only once both were
// taken.
type overlappingListStore struct {
	*recordingStore
	calls            atomic.Int32
	startB           func()
	bListed, aListed chan struct{}
}

func (s *overlappingListStore) UserSessions(ctx context.Context, user string) ([]KeyedRecord, error) {
	switch s.calls.Add(1) {
	case 1:
		s.startB()
		<-s.bListed
		recs, err := s.recordingStore.UserSessions(ctx, user)
		close(s.aListed)
		return recs, err
	case 2:
		recs, err := s.recordingStore.UserSessions(ctx, user)
		close(s.bListed)
		<-s.aListed
		return recs, err
	}
	return s.recordingStore.UserSessions(ctx, user)
}

// TestTimeoutReportedAsExpiryWithDefaultStore: with the default store, which
// shares the manager's clock, a session that timed out is reported as
// expired (not as an unknown ID, which looks like guessing), deleted, and
// stays dead when the clock then steps back.
func TestTimeoutReportedAsExpiryWithDefaultStore(t *testing.T) {
	clock := newTestClock()
	events := &eventLog{}
	m, err := New(WithClock(clock.Now), WithHooks(events.hooks()), WithIdleTimeout(10*time.Minute))
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	h := &harness{t: t, m: m, clock: clock, events: events, handler: m.Handler(testApp(t))}
	cookie := h.newSession()
	clock.Advance(time.Hour)
	assert.Empty(t, h.body("/get?k=k", cookie))
	assert.Contains(t, events.kinds(), "expired")
	assert.Equal(t, []RejectReason{RejectExpired}, events.rejections())
	assert.Zero(t, m.Store().(*MemoryStore).Len(), "the expired record is deleted")
	clock.Advance(-time.Hour) // the clock steps back, as after an NTP correction
	assert.Empty(t, h.body("/get?k=k", cookie), "an expired session stays dead")
}

// TestUserAgentIsShared: sessions of clients with the same User-Agent keep
// one copy of it, not each its own request's header.
func TestUserAgentIsShared(t *testing.T) {
	h := newHarness(t)
	ua := func(r *http.Request) { r.Header.Set("User-Agent", strings.Repeat("agent ", 8)) }
	first, second := h.newSession(ua), h.newSession(ua)
	a, err := h.mem.Load(context.Background(), storeKey(first))
	require.NoError(t, err)
	b, err := h.mem.Load(context.Background(), storeKey(second))
	require.NoError(t, err)
	require.Equal(t, a.UserAgent, b.UserAgent)
	assert.Same(t, unsafe.StringData(a.UserAgent), unsafe.StringData(b.UserAgent))
}

// TestExpiresAt: the moment the session ends unless used again, exact under
// the manager's clock: as if created now for a new session, pushed by a
// request that writes or falls due for a touch, left alone by a read inside
// the touch interval, and capped by the absolute deadline.
func TestExpiresAt(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(30*time.Minute), WithTouchInterval(3*time.Minute), WithAbsoluteTimeout(time.Hour))
	var got time.Time
	expiresAt := func(set bool) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			s := FromContext(r.Context())
			if set {
				require.NoError(t, s.Set("k", "v"))
			}
			got = s.ExpiresAt()
		}
	}
	h.handler = h.m.Handler(http.HandlerFunc(expiresAt(false)))
	h.do("/", "")
	assert.True(t, got.IsZero(), "a new session with nothing to save")

	start := h.clock.Now()
	h.handler = h.m.Handler(http.HandlerFunc(expiresAt(true)))
	w := h.do("/", "")
	cookie := setCookie(w, DefaultCookieName).Value
	assert.Equal(t, start.Add(33*time.Minute), got, "created now: idle timeout plus touch interval")

	h.handler = h.m.Handler(http.HandlerFunc(expiresAt(false)))
	h.clock.Advance(time.Minute)
	h.do("/", cookie)
	assert.Equal(t, start.Add(33*time.Minute), got, "a read inside the touch interval moves nothing")
	h.clock.Advance(3 * time.Minute)
	h.do("/", cookie)
	assert.Equal(t, h.clock.Now().Add(33*time.Minute), got, "a touch is due")
	h.clock.Advance(time.Minute)
	h.handler = h.m.Handler(http.HandlerFunc(expiresAt(true)))
	h.do("/", cookie)
	assert.Equal(t, h.clock.Now().Add(33*time.Minute), got, "a write pushes it")

	h.clock.Advance(30 * time.Minute) // 35 minutes after creation
	h.do("/", cookie)
	assert.Equal(t, start.Add(time.Hour), got, "capped by the absolute deadline")
	assert.Equal(t, got, h.m.Store().(*recordingStore).Store.(*MemoryStore).mustExpiry(t, storeKey(cookie)), "as the store has it")
}

func (s *MemoryStore) mustExpiry(t *testing.T, key string) time.Time {
	t.Helper()
	rec, err := s.Load(context.Background(), key)
	require.NoError(t, err)
	return rec.ExpiresAt()
}

// TestInvalidateOthers: signing out other devices leaves only the caller's
// session of the user, fires the Invalidated hook for each, and does
// nothing for an anonymous session.
func TestInvalidateOthers(t *testing.T) {
	h := newHarness(t)
	var cookies []string
	for range 3 {
		cookies = append(cookies, setCookie(h.do("/login?user=alice", ""), DefaultCookieName).Value)
	}
	bob := setCookie(h.do("/login?user=bob", ""), DefaultCookieName).Value
	anon := h.newSession()
	var n int
	var err error
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err = FromContext(r.Context()).InvalidateOthers()
	}))
	h.do("/", anon)
	require.NoError(t, err)
	assert.Zero(t, n, "an anonymous session has no others")
	before := len(h.events.kinds())
	h.do("/", cookies[1])
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, []string{"invalidated", "invalidated"}, h.events.kinds()[before:])
	h.handler = h.m.Handler(testApp(t))
	assert.Equal(t, "alice", h.body("/user", cookies[1]), "the caller stays")
	assert.Empty(t, h.body("/user", cookies[0]))
	assert.Empty(t, h.body("/user", cookies[2]))
	assert.Equal(t, "bob", h.body("/user", bob), "other users are untouched")
	infos, err := h.m.UserSessions(context.Background(), "alice")
	require.NoError(t, err)
	assert.Len(t, infos, 1)

	noIndex, err := New(WithStore(struct{ Store }{NewMemoryStore(WithSweepInterval(0))}))
	require.NoError(t, err)
	var got error
	noIndex.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		require.NoError(t, s.Login("carol"))
		_, got = s.InvalidateOthers()
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	assert.ErrorIs(t, got, ErrNoUserIndex)
}
