package session

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenReadsAndSaves: a session opened outside a request has the values
// the browser's requests saw, and the changes Save makes reach them.
func TestOpenReadsAndSaves(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	ctx := context.Background()
	s, err := h.m.Open(ctx, cookie)
	require.NoError(t, err)
	assert.Equal(t, cookie, s.ID())
	assert.False(t, s.IsNew())
	v, ok := Value[string](s, "k")
	assert.True(t, ok)
	assert.Equal(t, "v", v)
	require.NoError(t, s.Set("job", "done"))
	s.Delete("k")
	require.NoError(t, s.Save(ctx))
	assert.Equal(t, "done", h.body("/get?k=job", cookie))
	assert.Empty(t, h.body("/get?k=k", cookie))
	require.NoError(t, s.Set("again", "yes"))
	require.NoError(t, s.Save(ctx), "Save can be called again")
	assert.Equal(t, "yes", h.body("/get?k=again", cookie))
}

// TestOpenRefusesWhatTheMiddlewareRefuses: Open returns ErrNoSession for an
// ID the middleware would not adopt, after the browser's logout included.
func TestOpenRefusesWhatTheMiddlewareRefuses(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(10*time.Minute))
	ctx := context.Background()
	loggedOut := h.newSession()
	h.do("/invalidate", loggedOut)
	expired := h.newSession()
	h.clock.Advance(time.Hour)
	for name, id := range map[string]string{
		"logged out": loggedOut,
		"expired":    expired,
		"unknown":    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"malformed":  "not an id",
		"empty":      "",
	} {
		t.Run(name, func(t *testing.T) {
			s, err := h.m.Open(ctx, id)
			assert.ErrorIs(t, err, ErrNoSession)
			assert.Nil(t, s)
		})
	}
	h.store.failLoad = errStoreDown
	_, err := h.m.Open(ctx, randomID(t))
	assert.ErrorIs(t, err, errStoreDown, "a store failure is the store's error")
}

// randomID returns a well-formed ID, for a lookup that must reach the store.
func randomID(t *testing.T) string {
	id, err := newID(RandomIDGenerator{})
	require.NoError(t, err)
	return id
}

// TestOpenFollowsRenewalAndIgnoresBinding: Open follows a renewal within its
// grace period, and does not bind to a client address, as there is none.
func TestOpenFollowsRenewalAndIgnoresBinding(t *testing.T) {
	h := newHarness(t, WithRenewGrace(time.Minute), WithIPBinding(32, 128))
	old := h.newSession(from("192.0.2.1:1234"))
	renewed := setCookie(h.do("/renew", old, from("192.0.2.1:1234")), DefaultCookieName).Value
	s, err := h.m.Open(context.Background(), old)
	require.NoError(t, err)
	assert.Equal(t, renewed, s.ID())
	h.clock.Advance(2 * time.Minute)
	_, err = h.m.Open(context.Background(), old)
	assert.ErrorIs(t, err, ErrNoSession, "after the grace period the old ID is stale")
}

// TestOpenedLoginGivesNewIDAfterSave: Login on an opened session moves it to
// a new ID, which ID returns after Save; the old one is dead. A due
// rotation is not applied to an opened session.
func TestOpenedLoginGivesNewIDAfterSave(t *testing.T) {
	h := newHarness(t, WithRotation(time.Hour), WithIdleTimeout(2*time.Hour))
	cookie := h.newSession()
	h.clock.Advance(time.Hour)
	ctx := context.Background()
	s, err := h.m.Open(ctx, cookie)
	require.NoError(t, err)
	require.NoError(t, s.Save(ctx))
	assert.Equal(t, cookie, s.ID(), "no rotation: no client would get the new ID")
	require.NoError(t, s.Login("alice"))
	require.NoError(t, s.Save(ctx))
	fresh := s.ID()
	assert.NotEqual(t, cookie, fresh)
	assert.Equal(t, "alice", h.body("/user", fresh))
	assert.Empty(t, h.body("/user", cookie))
}

// TestSaveOnRequestSessionDoesNothing: Save on a request's own session
// returns nil and leaves the saving to the middleware.
func TestSaveOnRequestSessionDoesNothing(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	h.handler = h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		require.NoError(t, s.Set("k", "changed"))
		require.NoError(t, s.Save(r.Context()))
		_, _, updates, _, _ := h.store.counts()
		assert.Zero(t, updates, "nothing saved yet")
	}))
	h.do("/", cookie)
	h.handler = h.m.Handler(testApp(t))
	assert.Equal(t, "changed", h.body("/get?k=k", cookie), "the middleware saved it")
}

// TestOpenSessionEndedElsewhere: a long-lived handler holding an opened
// session learns of a logout elsewhere by opening it again, and a Save
// after the logout brings nothing back.
func TestOpenSessionEndedElsewhere(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession()
	ctx := context.Background()
	s, err := h.m.Open(ctx, cookie)
	require.NoError(t, err)
	h.do("/invalidate", cookie)
	_, err = h.m.Open(ctx, cookie)
	assert.ErrorIs(t, err, ErrNoSession)
	require.NoError(t, s.Set("late", "write"))
	require.NoError(t, s.Save(ctx))
	_, err = h.m.Open(ctx, cookie)
	assert.ErrorIs(t, err, ErrNoSession, "no resurrection")
	assert.Zero(t, h.mem.Len())
}
