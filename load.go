package session

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
)

// maxTombstoneHops bounds how many renewals within their grace periods one
// old ID may be followed through.
const maxTombstoneHops = 2

// load makes s the session the request's cookie names, or leaves it new
// when the cookie names none that may be adopted. Only a store failure is an
// error. It runs before the handler, so s is not shared yet.
func (s *Session) load() error {
	found, reason := s.m.cookie.read(s.r)
	if reason != 0 {
		s.reject(reason, "")
	}
	for _, id := range found.ids[:found.n] {
		if err := s.adopt(id, 0); err != nil {
			return err
		}
		if !s.isNew {
			break
		}
	}
	if !s.isNew || found.copies > 1 {
		// Adopted; or several cookies of our name came, and removing "ours"
		// could delete the owner's live cookie rather than a tossed one.
		s.expireCookie = false
	}
	return nil
}

// adopt makes the session stored for id the request's session, if it is
// live, not expired by the manager's clock and bound to this client. hops
// counts the tombstones followed to reach id.
func (s *Session) adopt(id string, hops int) error {
	m, ctx := s.m, s.r.Context()
	key := storeKey(id)
	rec, err := m.store.Load(ctx, key)
	if errors.Is(err, ErrNotFound) {
		s.reject(RejectUnknownID, key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("session: loading: %w", err)
	}
	now := m.cfg.clock()
	if rec.Tombstone != nil {
		return s.follow(id, key, rec.Tombstone, hops)
	}
	if !now.Before(rec.ExpiresAt()) {
		if err := m.store.Delete(ctx, key); err != nil {
			m.log.WarnContext(ctx, "session: deleting expired session", "tag", tagOf(key), "error", err)
		}
		fire(m.cfg.hooks.Expired, ctx, Event{Tag: tagOf(key), User: rec.User, ClientIP: s.clientAddr()})
		s.reject(RejectExpired, key)
		return nil
	}
	if m.cfg.v4Bits != 0 && !m.bound(rec.ClientIP, s.clientAddr()) {
		s.reject(RejectIPMismatch, key)
		return nil
	}
	s.id, s.key, s.rec, s.isNew, s.resendCookie = id, key, rec, false, hops > 0
	if m.cfg.rotation > 0 && now.Sub(rec.IssuedAt) >= m.cfg.rotation {
		if err := s.renewLocked(max(m.cfg.renewGrace, DefaultRotationGrace), true); err != nil {
			m.log.WarnContext(ctx, "session: rotation postponed", "tag", tagOf(key), "error", err)
		}
	}
	return nil
}

// follow handles a request that presents an ID replaced by Renew: within the
// grace period it leads to the new session, after it the ID is stale.
func (s *Session) follow(oldID, oldKey string, t *Tombstone, hops int) error {
	if t.Successor == nil || !s.m.cfg.clock().Before(t.GraceUntil) || hops >= maxTombstoneHops {
		s.reject(RejectStaleID, oldKey)
		return nil
	}
	newID, err := openSuccessor(oldID, t.Successor)
	if err != nil {
		s.reject(RejectStaleID, oldKey)
		return nil
	}
	return s.adopt(newID, hops+1)
}

// bound reports whether a client at addr may use a session created from
// created, under WithIPBinding.
func (m *Manager) bound(created, addr netip.Addr) bool {
	if !created.IsValid() || !addr.IsValid() || created.Is4() != addr.Is4() {
		return created == addr
	}
	bits := m.cfg.v6Bits
	if created.Is4() {
		bits = m.cfg.v4Bits
	}
	prefix, err := created.Prefix(bits)
	return err == nil && prefix.Contains(addr)
}

// reject reports a cookie that was not adopted to the Rejected hook and the
// debug log; the request goes on with a new, empty session. A cookie that can
// never work again is removed from the browser (unless the response sets a
// new one), so that a logged-out client stops presenting it. A stale ID or an
// IP mismatch keeps its cookie: the response may be racing one that carries
// the client's new ID, or the request may not come from the cookie's owner.
func (s *Session) reject(reason RejectReason, key string) {
	s.expireCookie = reason != RejectStaleID && reason != RejectIPMismatch
	m, ctx := s.m, s.r.Context()
	if m.cfg.hooks.Rejected == nil && !m.log.Enabled(ctx, slog.LevelDebug) {
		return // neither would see the event: spare its tag and address
	}
	e := Event{Reason: reason, ClientIP: s.clientAddr()}
	if key != "" {
		e.Tag = tagOf(key)
	}
	m.log.DebugContext(ctx, "session: cookie rejected", "reason", reason.String(), "tag", e.Tag, "client", e.ClientIP)
	fire(m.cfg.hooks.Rejected, ctx, e)
}
