package session

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Errors of [Session] methods.
var (
	// ErrResponseStarted is returned by [Session.Renew] and [Session.Login]
	// once the response's headers are out: a new ID could no longer reach
	// the client.
	ErrResponseStarted = errors.New("session: response already started; the new ID could not be sent")
	// ErrInvalidUser is returned by [Session.Login] for an empty user, or one
	// that is not valid UTF-8 or holds a NUL byte (stores may keep users as
	// text).
	ErrInvalidUser = errors.New("session: Login needs a non-empty, valid UTF-8 user without NUL")
	// ErrHijackPendingRenewal is returned when the handler hijacks the
	// connection after [Session.Login] or [Session.Renew], whose new ID only
	// the response's cookie can deliver. Finish the login with an ordinary
	// response first.
	ErrHijackPendingRenewal = errors.New("session: cannot hijack the connection: a Login or Renew waits for the response to carry its new ID")
	// ErrTooLarge is returned (wrapped) by [Session.Set] when the value
	// would make the session's encoded values exceed [WithMaxSessionBytes].
	ErrTooLarge = errors.New("session: the session's values would exceed the size limit")
)

// Session is one request's view of its session: the values it read, the
// changes it made, and what it asked for (renewal, invalidation). Changes
// reach the store as a delta of the keys that changed when the response
// starts (or when the handler returns, if it wrote nothing).
//
// Get it with [FromContext] inside the Manager's middleware. Its methods are
// safe for concurrent use by the goroutines of one request; a Session must
// not outlive its request.
type Session struct {
	m  *Manager
	r  *http.Request
	mu sync.Mutex

	id, key string  // the live ID and its store key; "" for a new session
	rec     *Record // as last loaded or written; nil if none
	isNew   bool    // the request came without a live session
	opened  bool    // made by Manager.Open, outside the middleware

	pending pending // changes to values and user, sent at the next commit
	renewal renewal // the new ID the session moves to at the next commit

	expireCookie bool // the cookie names no session: remove it unless replaced
	resendCookie bool // the client used an old ID within its grace period
	started      bool // the response's headers are out
	hijacked     bool // the handler took over the connection
	failed       bool // saving failed and the error handler answered

	clientIP      netip.Addr
	clientIPKnown bool
}

// renewal is a pending change of the session's ID, always set or cleared as
// a whole so that nothing of one renewal survives into another.
type renewal struct {
	to       string        // the new ID; "" for none
	grace    time.Duration // how long the old ID keeps leading to the new one
	rotation bool          // WithRotation's: may be postponed, unlike Login or Renew
}

// ID returns the session's ID, as carried by its cookie (or token header):
// "" until the session exists in the store. After Renew or Login it is the
// new ID.
func (s *Session) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.renewal.to != "" {
		return s.renewal.to
	}
	return s.id
}

// IsNew reports whether the request came without a live session.
func (s *Session) IsNew() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isNew
}

// Get returns the value of key and whether it is set. A value that cannot be
// decoded is logged and reported as not set.
func (s *Session) Get(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.getLocked(key)
}

func (s *Session) getLocked(key string) (any, bool) {
	if v, ok := s.pending.value(key); ok {
		return v, true
	}
	data, ok := s.storedLocked(key)
	if !ok {
		return nil, false
	}
	v, err := s.m.cfg.codec.Decode(data)
	if err != nil {
		s.m.log.WarnContext(s.r.Context(), "session: undecodable value", "key", key, "tag", tagOf(s.key), "error", err)
		return nil, false
	}
	return v, true
}

// storedLocked returns the stored bytes of key, unless a pending change
// removed them.
func (s *Session) storedLocked(key string) ([]byte, bool) {
	if s.rec == nil || s.pending.hides(key) {
		return nil, false
	}
	return s.rec.Values.Get(key)
}

// Value returns the value of key in s as a T, and false if it is not set or
// is not a T.
func Value[T any](s *Session, key string) (T, bool) {
	v, ok := s.Get(key)
	t, isT := v.(T)
	return t, ok && isT
}

// Set sets key to v. The value is encoded at once, so a value the codec
// cannot encode fails here, with the codec's error, and so does one that
// would make the session's encoded values (every key and value) exceed
// [WithMaxSessionBytes], with an error wrapping [ErrTooLarge]; either way the
// session is left unchanged. Until the session is saved, Get returns v
// itself: to change a slice or map, copy it and Set the copy.
func (s *Session) Set(key string, v any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	enc, err := s.pending.encode(s.m.cfg.codec, v)
	if err != nil {
		return fmt.Errorf("session: encoding the value of %q: %w", key, err)
	}
	if limit := s.m.cfg.maxSessionBytes; limit > 0 {
		var stored Values
		if s.rec != nil {
			stored = s.rec.Values
		}
		if size := s.pending.size(stored, key, enc); size > limit {
			return fmt.Errorf("%w: %d bytes with %q, limit %d", ErrTooLarge, size, key, limit)
		}
	}
	s.pending.put(key, v, enc)
	return nil
}

// Pop returns the value of key in s as a T, as [Value] does, and deletes
// key: a flash message shown once.
func Pop[T any](s *Session, key string) (T, bool) {
	v, ok := s.pop(key)
	t, isT := v.(T)
	return t, ok && isT
}

func (s *Session) pop(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.getLocked(key)
	_, stored := s.storedLocked(key)
	s.pending.remove(key, stored)
	return v, ok
}

// Delete removes key.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, stored := s.storedLocked(key)
	s.pending.remove(key, stored)
}

// Clear removes every key.
func (s *Session) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending.clear()
}

// Keys returns the session's keys, sorted.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.pending.set))
	for _, pv := range s.pending.set {
		keys = append(keys, pv.key)
	}
	if s.rec != nil {
		for k := range s.rec.Values.All() {
			if _, set := s.pending.value(k); !set && !s.pending.hides(k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// User returns the session's user, "" for an anonymous session.
func (s *Session) User() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userLocked()
}

func (s *Session) userLocked() string {
	if s.pending.user != nil {
		return *s.pending.user
	}
	if s.rec != nil {
		return s.rec.User
	}
	return ""
}

// CreatedAt returns when the session was created; the zero Time until it
// exists in the store.
func (s *Session) CreatedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec == nil {
		return time.Time{}
	}
	return s.rec.CreatedAt
}

// ExpiresAt returns the moment the session ends unless it is used again, as
// of this request: the earlier of its idle and absolute deadlines once this
// request is saved (a request that writes, renews, or falls due for a touch
// pushes the idle deadline). For a session this request creates, it is as
// if the session were created now; for a new session with nothing to save,
// the zero Time. It reads the manager's clock, so an "expires in 5 minutes"
// warning can be computed from it.
func (s *Session) ExpiresAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.m.cfg.clock()
	// The record as this request's save will leave it, so far as deadlines
	// go; expiresAt then applies the session's policy as the middleware does.
	var rec Record
	switch {
	case s.rec == nil && !s.pending.writes():
		return time.Time{}
	case s.rec == nil:
		rec = Record{CreatedAt: now, AbsoluteDeadline: s.m.absoluteDeadline(now)}
	default:
		rec = *s.rec
	}
	rec.Remember = s.rememberedLocked()
	if s.rec == nil || s.pending.changes() || s.renewal.to != "" || s.m.touchDue(s.rec, now) {
		rec.IdleDeadline = s.m.idleDeadline(now, rec.Remember)
	}
	return s.m.expiresAt(&rec)
}

// RememberMe switches the session between the normal policy and the
// remembered one ("remember me" at login): the timeouts of [WithRememberMe],
// and a persistent cookie whatever [WithPersistentCookie] says. The choice is
// saved with the session, at the next save, and survives [Session.Renew],
// [Session.Login] and rotation; [Session.Invalidate] forgets it.
func (s *Session) RememberMe(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending.remember = &on
}

// Remembered reports whether the session is under the remembered policy
// (see [Session.RememberMe]), counting a choice not saved yet.
func (s *Session) Remembered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rememberedLocked()
}

func (s *Session) rememberedLocked() bool {
	if s.pending.remember != nil {
		return *s.pending.remember
	}
	return s.rec != nil && s.rec.Remember
}

// persistentLocked reports whether the session's cookie outlives the
// browser.
func (s *Session) persistentLocked() bool { return s.m.cfg.persistent || s.rememberedLocked() }

// cookieExpiresLocked is the Expires of the session's cookie: its end, for
// a persistent cookie; zero for a browser-session one.
func (s *Session) cookieExpiresLocked() time.Time {
	if !s.persistentLocked() {
		return time.Time{}
	}
	return s.m.expiresAt(s.rec)
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// InvalidateOthers ends every session of [Session.User] but this one ("sign
// out other devices") and returns how many it ended; (0, nil) for a session
// with no user. It needs a store with a [UserIndex], and returns
// [ErrNoUserIndex] otherwise. The Invalidated hook sees each session ended.
func (s *Session) InvalidateOthers() (int, error) {
	s.mu.Lock()
	user, own := s.userLocked(), s.key
	s.mu.Unlock()
	if user == "" {
		return 0, nil
	}
	ctx := s.r.Context()
	recs, err := s.m.liveUserSessions(ctx, user)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, kr := range recs {
		if kr.Key == own {
			continue
		}
		if err := s.m.store.Delete(ctx, kr.Key); err != nil {
			return n, fmt.Errorf("session: ending another session of user: %w", err)
		}
		n++
		s.m.endedByManager(ctx, user, kr)
	}
	return n, nil
}

// Handle returns the session's [Info.Handle], so that an "active sessions"
// page can mark the current one; "" for an anonymous session or one not yet
// in the store. After Login or Renew it is the handle of the new ID.
func (s *Session) Handle() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	user := s.userLocked()
	if s.rec == nil || user == "" {
		return ""
	}
	if s.renewal.to != "" {
		return handleOf(user, storeKey(s.renewal.to))
	}
	return handleOf(user, s.key)
}

// Renew gives the session a new ID and keeps its data; the old ID stops
// working (after the [WithRenewGrace] period, if set). Call it whenever the
// session's privilege changes. The new ID is issued when the response starts;
// Renew fails with [ErrResponseStarted] after that, and with the ID
// generator's error if it has one. Renewing a session that does not exist in
// the store yet does nothing: it gets a fresh ID when created.
func (s *Session) Renew() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.renewLocked(s.m.cfg.renewGrace, false)
}

// renewLocked replaces any pending renewal with one to a new ID.
func (s *Session) renewLocked(grace time.Duration, rotation bool) error {
	if s.started {
		return ErrResponseStarted
	}
	if s.rec == nil {
		return nil
	}
	id, err := newID(s.m.cfg.idGenerator)
	if err != nil {
		return err
	}
	s.renewal = renewal{to: id, grace: grace, rotation: rotation}
	return nil
}

// Login renews the session's ID and records user as its user: the defence
// against session fixation. It ignores [WithRenewGrace]: an ID from before
// the login never leads to the logged-in session, or whoever planted it would
// be logged in too. A new session is created with user even if it holds no
// values. Login fails with [ErrInvalidUser] or as Renew does.
func (s *Session) Login(user string) error {
	if user == "" || !utf8.ValidString(user) || strings.IndexByte(user, 0) >= 0 {
		return ErrInvalidUser
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.renewLocked(0, false); err != nil {
		return err
	}
	s.pending.user = &user
	return nil
}

// Invalidate ends the session now: it is deleted from the store (wherever a
// concurrent renewal moved it), and a response that has not started yet
// carries a cookie that removes it. Later requests with its ID get a fresh,
// empty session. Values set after Invalidate start a new session with a new
// ID. It returns the store's error, if any.
func (s *Session) Invalidate() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec != nil {
		if err := s.m.store.Delete(s.r.Context(), s.key); err != nil {
			return err
		}
		e := s.eventLocked(s.key)
		e.User = s.rec.User // not a pending Login's user, which was never stored
		fire(s.m.cfg.hooks.Invalidated, s.r.Context(), e)
		s.expireCookie = true
	}
	s.forgetLocked()
	return nil
}

// forgetLocked makes s a session that is not in the store and has nothing
// pending.
func (s *Session) forgetLocked() {
	s.detachLocked()
	s.pending.reset()
}

// detachLocked makes s a session that is not in the store, keeping the
// pending changes for a new one.
func (s *Session) detachLocked() {
	s.rec, s.id, s.key = nil, "", ""
	s.renewal = renewal{}
	s.resendCookie = false
}

// commitOnce saves the session unless the response started already. It
// reports whether it saved, and the error of the first save.
func (s *Session) commitOnce(w http.ResponseWriter) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		if s.failed {
			return false, errCommitFailed
		}
		return false, nil
	}
	return true, s.commitOnceLocked(w)
}

func (s *Session) commitOnceLocked(w http.ResponseWriter) error {
	err := s.commitLocked(w)
	s.started, s.failed = true, err != nil
	return err
}

// handlerRenewalLocked reports whether a Login or Renew waits for the
// response to carry its new ID.
func (s *Session) handlerRenewalLocked() bool {
	if s.rec == nil {
		return s.pending.user != nil // a Login of a session not stored yet
	}
	return s.renewal.to != "" && !s.renewal.rotation
}

// eventLocked describes the session stored at key for a hook.
func (s *Session) eventLocked(key string) Event {
	e := Event{User: s.userLocked(), ClientIP: s.clientAddr()}
	if key != "" {
		e.Tag = tagOf(key)
	}
	return e
}

// clientAddr returns the request's client address, worked out once.
func (s *Session) clientAddr() netip.Addr {
	if !s.clientIPKnown {
		s.clientIP, s.clientIPKnown = s.m.proxies.clientAddr(s.r), true
	}
	return s.clientIP
}

func (s *Session) resetPendingLocked() {
	s.pending.reset()
	s.renewal = renewal{}
}
