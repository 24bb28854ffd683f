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

const (
	// maxIDAttempts bounds the retries after an ID collision (ErrExists),
	// which with 256-bit IDs only a broken generator causes.
	maxIDAttempts = 3
	maxUserAgent  = 512 // see Record.UserAgent
)

// commitLocked writes the pending changes to the store, and the cookie if the
// response can still carry it.
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

// createLocked stores a new session, if anything was written to it.
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
	remember := s.rememberedLocked()
	rec := &Record{
		Values:           s.pending.values(),
		User:             s.userLocked(),
		Remember:         remember,
		CreatedAt:        now,
		LastSeen:         now,
		IssuedAt:         now,
		IdleDeadline:     s.m.idleDeadline(now, remember),
		AbsoluteDeadline: s.m.absoluteDeadline(now),
		ClientIP:         s.clientAddr(),
		UserAgent:        cleanUserAgent(s.r.UserAgent()),
	}
	var id, key string
	var err error
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
	if err := s.m.cookie.set(w, s.https(), id, s.cookieExpiresLocked()); err != nil {
		return err
	}
	if hook := s.m.cfg.hooks.Created; hook != nil {
		hook(ctx, s.eventLocked(key))
	}
	return s.m.enforceUserLimit(ctx, rec.User)
}

// renewStoredLocked moves the session to the pending renewal's ID with the
// pending changes. If another request renewed it first, within its grace, a
// rotation saves under that ID instead, while a Login or Renew moves the
// session on again, so that its response carries an ID no other response did.
func (s *Session) renewStoredLocked(ctx context.Context, w http.ResponseWriter, now time.Time) error {
	d := s.pending.delta()
	d.LastSeen, d.IdleDeadline, d.IssuedAt = now, s.m.idleDeadline(now, s.rememberedLocked()), now
	oldKey := s.key
	err := s.moveLocked(ctx, d, now)
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
	case s.renewal.rotation: // not asked for by the handler: postpone it
		s.m.log.WarnContext(ctx, "session: rotation postponed", "tag", tagOf(s.key), "error", err)
		return s.keepIDLocked(ctx, w, now)
	default:
		return fmt.Errorf("session: renewing: %w", err)
	}
	s.rec = d.Apply(s.rec)
	s.resetPendingLocked()
	if err := s.m.cookie.set(w, s.https(), s.id, s.cookieExpiresLocked()); err != nil {
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

// renewalLostLocked handles a Login or Renew whose session another request
// ended. A Login starts a new session; a Renew fails rather than let the
// handler believe the privilege change was saved.
func (s *Session) renewalLostLocked(ctx context.Context, w http.ResponseWriter, now time.Time) error {
	if s.pending.user != nil {
		s.detachLocked()
		return s.createLocked(ctx, w, now)
	}
	s.lostLocked(ctx)
	return fmt.Errorf("session: renewing: the session ended during the request: %w", ErrNotFound)
}

// renewalUndeliverableLocked handles a renewal pending when the connection
// was hijacked, which no cookie can deliver. A rotation is skipped. A Login
// or Renew (asked for while Hijack ran) is dropped with all the request's
// changes: saving them under the old ID would raise that ID's privileges.
func (s *Session) renewalUndeliverableLocked(ctx context.Context, w http.ResponseWriter, now time.Time) error {
	if s.renewal.rotation {
		s.m.log.WarnContext(ctx, "session: rotation skipped: the connection was hijacked", "tag", tagOf(s.key))
		return s.keepIDLocked(ctx, w, now)
	}
	s.m.log.ErrorContext(ctx, "session: Login or Renew dropped with the request's changes: the connection was hijacked", "tag", tagOf(s.key))
	s.resetPendingLocked()
	return nil
}

// keepIDLocked drops a pending rotation and saves under the current ID.
func (s *Session) keepIDLocked(ctx context.Context, w http.ResponseWriter, now time.Time) error {
	s.renewal = renewal{}
	return s.updateLocked(ctx, w, now)
}

// moveLocked renews the stored session to s.renewal.to (or a fresh ID,
// should that one collide). The tombstone outlives the grace so that a later
// use of the old ID is recognised as stale, not just unknown.
func (s *Session) moveLocked(ctx context.Context, d Delta, now time.Time) error {
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

// updateLocked sends the pending changes with a new idle deadline; with no
// changes, only once per touch interval.
func (s *Session) updateLocked(ctx context.Context, w http.ResponseWriter, now time.Time) error {
	d := s.pending.delta()
	if d.IsZero() && !s.m.touchDue(s.rec, now) {
		return s.resendLocked(w)
	}
	d.LastSeen, d.IdleDeadline = now, s.m.idleDeadline(now, s.rememberedLocked())
	err := s.m.store.Update(ctx, s.key, d)
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
	if (s.persistentLocked() || d.Remember != nil) && !s.m.cookie.header && s.cookieWritableLocked() {
		// The deadline moved, or the cookie switches between persistent and
		// browser-session; a token header has no expiry to send.
		return s.m.cookie.set(w, s.https(), s.id, s.cookieExpiresLocked())
	}
	return s.resendLocked(w)
}

// resendLocked sends the new ID to a client that used an old one within its
// grace period.
func (s *Session) resendLocked(w http.ResponseWriter) error {
	if !s.resendCookie || !s.cookieWritableLocked() {
		return nil
	}
	s.resendCookie = false
	return s.m.cookie.set(w, s.https(), s.id, s.cookieExpiresLocked())
}

// followRenewalLocked moves s to the session another request renewed it to,
// if the grace period still runs; the new ID is sent to this client too.
func (s *Session) followRenewalLocked(ctx context.Context) bool {
	rec, err := s.m.store.Load(ctx, s.key)
	if err != nil {
		return false
	}
	id, ok := s.successor(s.id, rec.Tombstone)
	if ok {
		s.id, s.key, s.resendCookie = id, storeKey(id), true
	}
	return ok
}

// lostLocked drops the changes to a session another request ended (or
// renewed past its grace): writing them would bring the session back. The
// cookie is left alone, as the other response may have just set a new one.
func (s *Session) lostLocked(ctx context.Context) {
	s.m.log.InfoContext(ctx, "session: changes dropped: the session ended during the request", "tag", tagOf(s.key))
	s.forgetLocked()
}

func (s *Session) cookieWritableLocked() bool { return !s.started && !s.hijacked }

func (s *Session) https() bool { return s.m.proxies.isHTTPS(s.r) }

// cleanUserAgent makes ua valid UTF-8 of at most maxUserAgent bytes. It is
// interned, so that in-process sessions share one copy per User-Agent rather
// than each holding on to its request's header.
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
