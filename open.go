package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// ErrNoSession is returned (wrapped) by [Manager.Open] when the ID leads to
// no live session: unknown, ended, expired, or not an ID at all.
var ErrNoSession = errors.New("session: no live session has that ID")

// Open returns the live session with ID id, outside any request: for a
// WebSocket or server-sent-events handler that checks its session is still
// alive, a gRPC call, a background job. It makes the checks of the
// middleware (strict mode, timeouts by the manager's clock, a renewal
// followed within its grace period) but for client-address binding, as
// there is no client; a session due for rotation is not rotated, since no
// client would receive its new ID. An ID that leads to no live session
// gives an error wrapping [ErrNoSession]; a store failure, the store's
// error. Hooks see the events as in a request, with no client address.
//
// When id was renewed within its grace period, the Session has the new ID
// ([Session.ID]): a long-lived checker should go on with that one, since the
// old ID stops leading anywhere once the grace period ends. Save the
// Session's changes with [Session.Save]. Its methods are safe for concurrent
// use, as in a request. [Session.ExpiresAt] on an opened Session says when
// it ends once [Session.Save] has run: without a Save, the store keeps the
// deadline it had.
func (m *Manager) Open(ctx context.Context, id string) (*Session, error) {
	s := &Session{m: m, r: openRequest(ctx), isNew: true, opened: true}
	if !wellFormedID(id) {
		return nil, fmt.Errorf("%w: not a well-formed ID", ErrNoSession)
	}
	if err := s.adopt(ctx, id, 0); err != nil {
		return nil, err
	}
	if s.isNew {
		return nil, ErrNoSession
	}
	return s, nil
}

// Save saves the changes made to a session from [Manager.Open], as the
// middleware does when a response starts: a delta of the keys that changed,
// a touch once per touch interval, and never bringing back a session that
// was ended meanwhile (its changes are then dropped, as in a request). A
// [Session.Login] or [Session.Renew] moves the session to a new ID, which
// [Session.ID] returns after Save: the client holding the old ID no longer
// has a session unless it is given the new one. Save may be called again
// after more changes.
//
// On a request's own session (from [FromContext]) Save does nothing and
// returns nil: the middleware saves it when the response starts.
func (s *Session) Save(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opened {
		return nil
	}
	s.r = openRequest(ctx)
	return s.commitLocked(discardResponse{})
}

// openRequest is the stand-in request of an opened session: it carries ctx,
// and no client address, header or TLS state.
func openRequest(ctx context.Context) *http.Request {
	return (&http.Request{Header: http.Header{}}).WithContext(ctx)
}

// discardResponse is the response an opened session's save writes its
// cookie to: there is none to send.
type discardResponse struct{}

func (discardResponse) Header() http.Header         { return http.Header{} }
func (discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (discardResponse) WriteHeader(int)             {}
