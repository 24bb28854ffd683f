package session

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rememberApp is testApp with /remember?on=… and /remembered.
func rememberApp(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", testApp(t))
	mux.HandleFunc("/remember", func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		s.RememberMe(r.URL.Query().Get("on") == "1")
		if user := r.URL.Query().Get("user"); user != "" {
			require.NoError(t, s.Login(user))
		}
	})
	mux.HandleFunc("/remembered", func(w http.ResponseWriter, r *http.Request) {
		if FromContext(r.Context()).Remembered() {
			w.Write([]byte("yes"))
		}
	})
	return mux
}

func newRememberHarness(t *testing.T, opts ...Option) *harness {
	h := newHarness(t, append([]Option{WithIdleTimeout(30 * time.Minute), WithAbsoluteTimeout(12 * time.Hour)}, opts...)...)
	h.handler = h.m.Handler(rememberApp(t))
	return h
}

// TestRememberMeOutlivesTheNormalIdleTimeout: a remembered session survives
// two hours of inactivity under a 30-minute normal idle timeout, with a
// persistent cookie that follows its deadline; a normal one does not.
func TestRememberMeOutlivesTheNormalIdleTimeout(t *testing.T) {
	h := newRememberHarness(t, WithRememberMe(30*24*time.Hour, 90*24*time.Hour))
	w := h.do("/remember?on=1&user=alice", "")
	c := setCookie(w, DefaultCookieName)
	require.NotNil(t, c)
	assert.Equal(t, h.clock.Now().Add(30*24*time.Hour+3*time.Minute).UTC(), c.Expires.UTC(),
		"a persistent cookie, expiring with the remembered idle deadline")
	normal := setCookie(h.do("/login?user=bob", ""), DefaultCookieName)
	require.NotNil(t, normal)
	assert.True(t, normal.Expires.IsZero(), "a normal session's cookie follows WithPersistentCookie")

	h.clock.Advance(2 * time.Hour)
	assert.Equal(t, "alice", h.body("/user", c.Value), "remembered: alive after two idle hours")
	assert.Equal(t, "yes", h.body("/remembered", c.Value))
	assert.Empty(t, h.body("/user", normal.Value), "normal: ended after 30 minutes")

	h.clock.Advance(29 * 24 * time.Hour) // a touch two hours in pushed the deadline
	assert.Equal(t, "alice", h.body("/user", c.Value))
	h.clock.Advance(31 * 24 * time.Hour)
	assert.Empty(t, h.body("/user", c.Value), "the remembered idle timeout ends it")
}

// TestRememberMeAbsoluteTimeout: a remembered session ends at its own
// absolute timeout however active; a normal session keeps the normal one
// although the store holds both for the longer.
func TestRememberMeAbsoluteTimeout(t *testing.T) {
	h := newRememberHarness(t, WithRememberMe(2*time.Hour, 24*time.Hour))
	remembered := setCookie(h.do("/remember?on=1&user=alice", ""), DefaultCookieName).Value
	normal := setCookie(h.do("/login?user=bob", ""), DefaultCookieName).Value
	for range 12 { // active for 12 hours
		h.clock.Advance(time.Hour)
		h.do("/user", remembered)
		h.do("/user", normal)
	}
	assert.Empty(t, h.body("/user", normal), "normal: 12-hour absolute timeout")
	assert.Equal(t, "alice", h.body("/user", remembered))
	for range 12 {
		h.clock.Advance(time.Hour)
		h.do("/user", remembered)
	}
	assert.Empty(t, h.body("/user", remembered), "remembered: 24-hour absolute timeout")
}

// TestRememberMeSurvivesRenewalAndCanBeUndone: the choice is stored with the
// session, kept by Login, Renew and rotation, and RememberMe(false) brings
// back the normal policy and a browser-session cookie.
func TestRememberMeSurvivesRenewalAndCanBeUndone(t *testing.T) {
	h := newRememberHarness(t, WithRememberMe(30*24*time.Hour, 90*24*time.Hour), WithRotation(time.Hour))
	cookie := h.newSession()
	w := h.do("/remember?on=1", cookie)
	c := setCookie(w, DefaultCookieName)
	require.NotNil(t, c, "switching policy resends the cookie, now persistent")
	assert.False(t, c.Expires.IsZero())
	assert.Equal(t, "yes", h.body("/remembered", cookie))

	c = setCookie(h.do("/login?user=alice", cookie), DefaultCookieName)
	require.NotNil(t, c)
	assert.False(t, c.Expires.IsZero(), "Login keeps the choice")
	cookie = c.Value
	assert.Equal(t, "yes", h.body("/remembered", cookie))
	c = setCookie(h.do("/renew", cookie), DefaultCookieName)
	require.NotNil(t, c)
	cookie = c.Value
	assert.Equal(t, "yes", h.body("/remembered", cookie), "Renew keeps it")
	h.clock.Advance(2 * time.Hour)
	c = setCookie(h.do("/user", cookie), DefaultCookieName)
	require.NotNil(t, c, "rotated")
	cookie = c.Value
	assert.Equal(t, "yes", h.body("/remembered", cookie), "rotation keeps it")

	c = setCookie(h.do("/remember?on=0", cookie), DefaultCookieName)
	require.NotNil(t, c)
	assert.True(t, c.Expires.IsZero(), "back to a browser-session cookie")
	assert.Empty(t, h.body("/remembered", cookie))
	h.clock.Advance(time.Hour)
	assert.Empty(t, h.body("/user", cookie), "and to the normal idle timeout")
}

// TestRememberMeWithoutOption: without WithRememberMe, a remembered session
// gets a persistent cookie and keeps the normal timeouts.
func TestRememberMeWithoutOption(t *testing.T) {
	h := newRememberHarness(t)
	c := setCookie(h.do("/remember?on=1&user=alice", ""), DefaultCookieName)
	require.NotNil(t, c)
	assert.Equal(t, h.clock.Now().Add(33*time.Minute).UTC(), c.Expires.UTC())
	h.clock.Advance(34 * time.Minute)
	assert.Empty(t, h.body("/user", c.Value))
}

// TestRememberMeExpiresAtAndInfo: ExpiresAt and Info.ExpiresAt follow the
// session's policy.
func TestRememberMeExpiresAtAndInfo(t *testing.T) {
	h := newRememberHarness(t, WithRememberMe(2*time.Hour, 4*time.Hour))
	var got time.Time
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		s.RememberMe(true)
		require.NoError(t, s.Login("alice"))
		got = s.ExpiresAt()
	}))
	start := h.clock.Now()
	h.do("/", "")
	assert.Equal(t, start.Add(2*time.Hour+3*time.Minute), got)
	infos, err := h.m.UserSessions(context.Background(), "alice")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.Equal(t, start.Add(2*time.Hour+3*time.Minute), infos[0].ExpiresAt)
	assert.True(t, infos[0].Remembered)
}

func TestRememberMeOptionChecked(t *testing.T) {
	for name, opt := range map[string]Option{
		"zero idle":            WithRememberMe(0, time.Hour),
		"zero absolute":        WithRememberMe(time.Hour, 0),
		"idle beyond absolute": WithRememberMe(2*time.Hour, time.Hour),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(opt)
			assert.Error(t, err)
		})
	}
	m, err := New(WithRememberMe(24*time.Hour, 30*24*time.Hour))
	require.NoError(t, err)
	require.NoError(t, m.Close())
}
