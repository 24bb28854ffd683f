package session

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// handlerRenewals are the two ways a handler asks for a new ID.
var handlerRenewals = map[string]func(*Session) error{
	"login": func(s *Session) error { return s.Login("alice") },
	"renew": func(s *Session) error {
		s.Set("role", "admin") // the privilege the renewal is for
		return s.Renew()
	},
}

// privileged reports whether the session cookie names holds what a
// handler renewal wrote.
func privileged(h *harness, cookie string) bool {
	h.t.Helper()
	return h.body("/user", cookie) == "alice" || h.body("/get?k=role", cookie) == "admin"
}

// TestRenewalRacingRotationGetsItsOwnID: a Login or Renew in a request whose
// session another request rotated meanwhile still ends with an ID that only
// this response carries. Neither the ID from before the renewal (which an
// attacker may have planted) nor the ID the rotating request issued (which
// the planted one leads to during the rotation's grace period) reaches the
// privileged session.
func TestRenewalRacingRotationGetsItsOwnID(t *testing.T) {
	for name, renew := range handlerRenewals {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, WithRotation(time.Hour), WithIdleTimeout(2*time.Hour))
			planted := h.newSession()
			h.clock.Advance(time.Hour)
			var rotated string
			w := inFlight(h, planted, func() {
				c := setCookie(h.do("/noop", planted), DefaultCookieName)
				require.NotNil(t, c, "the other request rotated the ID")
				rotated = c.Value
			}, func(s *Session) { require.NoError(t, renew(s)) })
			require.Equal(t, http.StatusOK, w.Code)
			c := setCookie(w, DefaultCookieName)
			require.NotNil(t, c, "the renewal's response carries its new ID")
			assert.NotEqual(t, planted, c.Value)
			assert.NotEqual(t, rotated, c.Value, "an ID another response carried is not fresh")
			assert.True(t, privileged(h, c.Value))
			assert.Equal(t, "v", h.body("/get?k=k", c.Value), "the session's data moved with it")
			assert.False(t, privileged(h, planted), "the planted ID leads nowhere privileged")
			assert.False(t, privileged(h, rotated), "nor does the rotated one")
		})
	}
}

// TestRenewalFailureIsNotARotationPostponed: when the store cannot renew, a
// due rotation waits for a later request, but a handler's Login or Renew in
// the same request fails loudly: the error handler answers, and nothing of
// the renewal is saved under the old ID.
func TestRenewalFailureIsNotARotationPostponed(t *testing.T) {
	for name, renew := range handlerRenewals {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, WithRotation(time.Hour), WithIdleTimeout(2*time.Hour))
			planted := h.newSession()
			failing, err := New(WithStore(failingRenewStore{h.store}), WithClock(h.clock.Now),
				WithRotation(time.Hour), WithIdleTimeout(2*time.Hour), WithLogger(h.m.log))
			require.NoError(t, err)
			h.clock.Advance(time.Hour)
			w := httptest.NewRecorder()
			failing.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.NoError(t, renew(FromContext(r.Context())))
			})).ServeHTTP(w, requestWithCookie(planted))
			assert.Equal(t, http.StatusInternalServerError, w.Code)
			assert.Nil(t, setCookie(w, DefaultCookieName))
			assert.False(t, privileged(h, planted), "the old ID gained nothing")
			assert.Equal(t, "v", h.body("/get?k=k", planted), "the session itself is untouched")
		})
	}
}

// TestRenewalAfterRotationWasDue: with a rotation due, a handler's renewal
// is the handler's, with its own grace: Login leaves no way back from the
// old ID.
func TestRenewalAfterRotationWasDue(t *testing.T) {
	h := newHarness(t, WithRotation(time.Hour), WithIdleTimeout(2*time.Hour))
	planted := h.newSession()
	h.clock.Advance(time.Hour)
	c := setCookie(h.do("/login?user=alice", planted), DefaultCookieName)
	require.NotNil(t, c)
	assert.Equal(t, "alice", h.body("/user", c.Value))
	w := h.do("/user", planted)
	assert.Empty(t, w.Body.String(), "no rotation grace leads the planted ID to the login")
	assert.Nil(t, setCookie(w, DefaultCookieName), "nor sends it the new ID")
}

// TestLoginOnSessionEndedMeanwhileStartsFresh: a Login whose session was
// ended by another request while it ran starts a new session with a new ID;
// a Renew, which has nothing left to renew, fails loudly.
func TestLoginOnSessionEndedMeanwhileStartsFresh(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	w := inFlight(h, cookie, func() { h.do("/invalidate", cookie) },
		func(s *Session) { require.NoError(t, s.Login("alice")) })
	c := setCookie(w, DefaultCookieName)
	require.NotNil(t, c)
	assert.NotEqual(t, cookie, c.Value)
	assert.Equal(t, "alice", h.body("/user", c.Value))
	assert.Empty(t, h.body("/user", cookie))

	cookie = h.newSession()
	w = inFlight(h, cookie, func() { h.do("/invalidate", cookie) },
		func(s *Session) { require.NoError(t, handlerRenewals["renew"](s)) })
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.False(t, privileged(h, cookie))
}

// TestHijackRefusedWithRenewalPending: a connection hijacked after Login or
// Renew could never receive the new ID, so Hijack fails and hands nothing
// over; the handler's ordinary response then carries the new ID, and the
// ID from before the renewal stays unprivileged.
func TestHijackRefusedWithRenewalPending(t *testing.T) {
	for name, renew := range handlerRenewals {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			old := h.newSession()
			var hijackErr error
			srv := httptest.NewServer(h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.NoError(t, renew(FromContext(r.Context())))
				conn, _, err := http.NewResponseController(w).Hijack()
				if conn != nil {
					conn.Close()
				}
				hijackErr = err
				if err != nil {
					w.WriteHeader(http.StatusConflict)
				}
			})))
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: old})
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.ErrorIs(t, hijackErr, ErrHijackPendingRenewal)
			assert.Equal(t, http.StatusConflict, resp.StatusCode)
			assert.False(t, privileged(h, old), "the old ID gained nothing")
			var fresh string
			for _, c := range resp.Cookies() {
				if c.Name == DefaultCookieName {
					fresh = c.Value
				}
			}
			require.NotEmpty(t, fresh, "the ordinary response carries the new ID")
			assert.True(t, privileged(h, fresh))
		})
	}
}

// TestInvalidateForgetsPendingRenewal: Invalidate forgets everything the
// request had asked of the session, a due rotation included, so the values
// set after it start a plain new session.
func TestInvalidateForgetsPendingRenewal(t *testing.T) {
	h := newHarness(t, WithRotation(time.Hour), WithIdleTimeout(2*time.Hour))
	cookie := h.newSession()
	h.clock.Advance(time.Hour)
	w := inFlight(h, cookie, func() {}, func(s *Session) {
		require.NoError(t, s.Invalidate())
		s.Set("after", "x")
	})
	c := setCookie(w, DefaultCookieName)
	require.NotNil(t, c)
	assert.NotEqual(t, cookie, c.Value)
	assert.Equal(t, "x", h.body("/get?k=after", c.Value))
	assert.Empty(t, h.body("/get?k=k", c.Value), "nothing of the ended session")
}

func requestWithCookie(cookie string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: cookie})
	return r
}
