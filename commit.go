package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
	"unique"
)

// maxIDAttempts bounds the retries after an ID collision (ErrExists), which
// with 256-bit IDs only a broken generator causes.
const maxIDAttempts = 3

// maxUserAgent bounds the User-Agent kept with a session.
const maxUserAgent = 512

// commitLocked writes the session's pending changes to the store: it creates
// a new session, renews, or updates by delta (a touch when only the idle
// deadline is due). Before the response has started it also sets the cookie.
func (s *Session) commitLocked(w http.ResponseWriter) error {
	ctx, now := s.r.Context(), s.m.cfg.clock()
	switch {
	case s.rec == nil:
		return s.createLocked(ctx, w, now)
	case s.renewal.to != "" && s.hijacked:
		return s.renewalUndeliverableLocked(ctx, w, now)
	case s.renewal.to != "":
		return s.renewStoredLocked(ctx, w, now)
	default:
		return s.updateLocked(ctx, w, now)
	}
}

// createLocked stores a new session if anything was written to it: a
// visitor who stores nothing gets no cookie and no record.
func (s *Session) createLocked(ctx context.Context, w http.ResponseWriter, now time.Time) error {
	if !s.pending.writes() {
		if s.expireCookie && s.cookieWritableLocked() {
			s.m.cookie.expire(w, s.https())
		}
		s.expireCookie = false
		s.resetPendingLocked()
		return nil
	}
	if !s.cookieWritableLocked() {
		s.m.log.WarnContext(ctx, "session: values of a new session were not saved: the response could no longer carry its ID")
		s.resetPendingLocked()
		return nil
	}
	values, err := s.pending.values(s.m.cfg.codec)
	if err != nil {
		return err
	}
	rec := &Record{
		Values:           values,
		User:             s.userLocked(),
		CreatedAt:        now,
		LastSeen:         now,
		IssuedAt:         now,
		IdleDeadline:     s.m.idleDeadline(now),
		AbsoluteDeadline: now.Add(s.m.cfg.absoluteTimeout),
		ClientIP:         s.clientAddr(),
		UserAgent:        cleanUserAgent(s.r.UserAgent()),
	}
	var id, key string
	for attempt := 1; ; attempt++ {
		if id, err = newID(s.m.cfg.idGenerator); err != nil {
			return err
		}
		key = storeKey(id)
		err = s.m.store.Create(ctx, key, rec)
		if !errors.Is(err, ErrExists) || attempt == maxIDAttempts {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("session: creating: %w", err)
	}
	s.id, s.key, s.rec, s.expireCookie = id, key, rec, false
	s.resetPendingLocked()
	if err := s.m.cookie.set(w, s.https(), id, rec.ExpiresAt()); err != nil {
		return err
	}
	if hook := s.m.cfg.hooks.Created; hook != nil {
		hook(ctx, s.eventLocked(key))
	}
	return s.m.enforceUserLimit(ctx, rec.User)
}

// renewStoredLocked moves the stored session to the new ID of the pending
// renewal, with the pending changes, leaving a tombstone at the old key. If
// another request renewed the session first and its grace period still
// runs, the changes follow it: a rotation then needs no second renewal,
// while a handler's Login or Renew moves the session on again, so that its
// response carries an ID that no other response did.
func (s *Session) renewStoredLocked(ctx context.Context, w http.ResponseWriter, now time.Time) error {
	d, err := s.pending.delta(s.m.cfg.codec)
	if err != nil {
		return err
	}
	d.LastSeen, d.IdleDeadline, d.IssuedAt = now, s.m.idleDeadline(now), now
	oldKey := s.key
	err = s.moveLocked(ctx, d, now)
	if errors.Is(err, ErrNotFound) && s.followRenewalLocked(ctx) {
		if s.renewal.rotation {
			return s.keepIDLocked(ctx, w, now)
		}
		oldKey = s.key
		err = s.moveLocked(ctx, d, now)
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound) && !s.renewal.rotation:
		return s.renewalLostLocked(ctx, w, now)
	case errors.Is(err, ErrNotFound):
		s.lostLocked(ctx)
		return nil
	case s.renewal.rotation:
		// A rotation is not the handler's request: when the store cannot
		// renew now, the session keeps its ID until a later request.
		s.m.log.WarnContext(ctx, "session: rotation postponed", "tag", tagOf(s.key), "error", err)
		return s.keepIDLocked(ctx, w, now)
	default:
		return fmt.Errorf("session: renewing: %w", err)
	}
	s.rec = d.Apply(s.rec)
	s.resetPendingLocked()
	if err := s.m.cookie.set(w, s.https(), s.id, s.rec.ExpiresAt()); err != nil {
		return err
	}
	if hook := s.m.cfg.hooks.Renewed; hook != nil {
		e := s.eventLocked(s.key)
		e.PreviousTag = tagOf(oldKey)
		hook(ctx, e)
	}
	if d.User != nil {
		return s.m.enforceUserLimit(ctx, s.rec.User)
	}
	return nil
}

// renewalLostLocked handles a handler's Login or Renew whose session another
// request ended meanwhile. A Login starts a new session for its user, with
// this request's changes; a Renew has no session left to renew, and fails
// rather than let the handler believe the privilege change was saved.
func (s *Session) renewalLostLocked(ctx context.Context, w http.ResponseWriter, now time.Time) error {
	if s.pending.user != nil {
		s.detachLocked()
		return s.createLocked(ctx, w, now)
	}
	s.lostLocked(ctx)
	return fmt.Errorf("session: renewing: the session ended during the request: %w", ErrNotFound)
}

// renewalUndeliverableLocked handles a renewal pending when the connection
// was hijacked: its response carries no cookie, so a new ID would lock the
// client out. A rotation is skipped and the session keeps its ID. A
// handler's Login or Renew (which Hijack refuses, unless it was asked for
// while Hijack ran) is dropped with every change of the request, since
// saving them under the old ID would raise that ID's privileges.
func (s *Session) renewalUndeliverableLocked(ctx context.Context, w http.ResponseWriter, now time.Time) error {
	if s.renewal.rotation {
		s.m.log.WarnContext(ctx, "session: rotation skipped: the connection was hijacked", "tag", tagOf(s.key))
		return s.keepIDLocked(ctx, w, now)
	}
	s.m.log.ErrorContext(ctx, "session: Login or Renew dropped with the request's changes: the connection was hijacked", "tag", tagOf(s.key))
	s.resetPendingLocked()
	return nil
}

// keepIDLocked drops the pending renewal and saves the changes under the
// session's current ID. Only a rotation may be dropped so.
func (s *Session) keepIDLocked(ctx context.Context, w http.ResponseWriter, now time.Time) error {
	s.renewal = renewal{}
	return s.updateLocked(ctx, w, now)
}

// moveLocked renews the stored session from s.id to s.renewal.to (or a
// fresh ID, should that one collide) and makes the new ID the session's.
func (s *Session) moveLocked(ctx context.Context, d Delta, now time.Time) error {
	// The tombstone outlives the grace period so that a later use of the
	// old ID is recognised as stale (a hijack signal), not just unknown.
	tomb := &Tombstone{GraceUntil: now.Add(s.renewal.grace), Expires: now.Add(s.m.cfg.idleTimeout)}
	if s.rec.AbsoluteDeadline.Before(tomb.Expires) {
		tomb.Expires = s.rec.AbsoluteDeadline
	}
	if tomb.Expires.Before(tomb.GraceUntil) {
		tomb.Expires = tomb.GraceUntil
	}
	id := s.renewal.to
	for attempt := 1; ; attempt++ {
		var err error
		if s.renewal.grace > 0 {
			if tomb.Successor, err = sealSuccessor(s.id, id); err != nil {
				return err
			}
		}
		tomb.Next = storeKey(id)
		err = s.m.store.Renew(ctx, s.key, tomb.Next, d, tomb)
		if err == nil {
			s.id, s.key = id, tomb.Next
			return nil
		}
		if !errors.Is(err, ErrExists) || attempt == maxIDAttempts {
			return err
		}
		if id, err = newID(s.m.cfg.idGenerator); err != nil {
			return err
		}
	}
}

// updateLocked sends the pending changes as a delta, together with a new
// idle deadline; with no changes, it only touches the session once per touch
// interval.
func (s *Session) updateLocked(ctx context.Context, w http.ResponseWriter, now time.Time) error {
	d, err := s.pending.delta(s.m.cfg.codec)
	if err != nil {
		return err
	}
	if d.IsZero() && now.Sub(s.rec.LastSeen) < s.m.cfg.touchInterval {
		return s.resendLocked(w)
	}
	d.LastSeen, d.IdleDeadline = now, s.m.idleDeadline(now)
	err = s.m.store.Update(ctx, s.key, d)
	if errors.Is(err, ErrNotFound) && s.followRenewalLocked(ctx) {
		err = s.m.store.Update(ctx, s.key, d)
	}
	if errors.Is(err, ErrNotFound) {
		s.lostLocked(ctx)
		return nil
	}
	if err != nil {
		return fmt.Errorf("session: saving: %w", err)
	}
	s.rec = d.Apply(s.rec)
	s.resetPendingLocked()
	if s.m.cfg.persistent && s.cookieWritableLocked() {
		return s.m.cookie.set(w, s.https(), s.id, s.rec.ExpiresAt())
	}
	return s.resendLocked(w)
}

// resendLocked sends the cookie again to a client that used an old ID within
// its grace period, so that it moves to the new one.
func (s *Session) resendLocked(w http.ResponseWriter) error {
	if !s.resendCookie || !s.cookieWritableLocked() {
		return nil
	}
	s.resendCookie = false
	return s.m.cookie.set(w, s.https(), s.id, s.rec.ExpiresAt())
}

// followRenewalLocked handles an update that found no session because
// another request renewed it meanwhile: within the grace period the changes
// go to the new session, whose ID is sent to this client too.
func (s *Session) followRenewalLocked(ctx context.Context) bool {
	rec, err := s.m.store.Load(ctx, s.key)
	if err != nil || rec.Tombstone == nil || rec.Tombstone.Successor == nil ||
		!s.m.cfg.clock().Before(rec.Tombstone.GraceUntil) {
		return false
	}
	id, err := openSuccessor(s.id, rec.Tombstone.Successor)
	if err != nil {
		return false
	}
	s.id, s.key, s.resendCookie = id, storeKey(id), true
	return true
}

// lostLocked handles a session that another request ended (or renewed past
// its grace) while this one ran: its changes are dropped, since writing them
// would bring the session back. The cookie is left alone, as the other
// response may have just set a new one.
func (s *Session) lostLocked(ctx context.Context) {
	s.m.log.InfoContext(ctx, "session: changes dropped: the session ended during the request", "tag", tagOf(s.key))
	s.forgetLocked()
}

// cookieWritableLocked reports whether the response can still carry a
// Set-Cookie: its headers are not out, and the connection was not hijacked.
func (s *Session) cookieWritableLocked() bool { return !s.started && !s.hijacked }

// https reports whether the request came over TLS (directly or through a
// trusted proxy), for the cookie's Secure attribute.
func (s *Session) https() bool { return s.m.proxies.isHTTPS(s.r) }

// cleanUserAgent makes a client's User-Agent fit to keep and to show: valid
// UTF-8 (stores may keep it as text) and at most maxUserAgent bytes, cut at a
// character boundary. It is interned: the sessions of clients with the same
// User-Agent, kept in process, share one copy instead of each holding on to
// its request's header.
func cleanUserAgent(ua string) string {
	ua = strings.ToValidUTF8(ua, "\uFFFD")
	if len(ua) > maxUserAgent {
		cut := maxUserAgent
		for cut > 0 && !utf8.RuneStart(ua[cut]) {
			cut--
		}
		ua = ua[:cut]
	}
	return unique.Make(ua).Value()
}
