package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
)

// maxTombstoneHops bounds how many renewals within their grace periods one
// old ID may be followed through.
const maxTombstoneHops = 2

// load makes s the session the request's cookie names, if it may be
// adopted; only a store failure is an error. s is not shared yet.
func (s *Session) load() error {
	found, reason := s.m.cookie.read(s.r)
	if reason != 0 {
		s.reject(reason, "")
	}
	for _, id := range found.ids[:found.n] {
		if err := s.adopt(s.r.Context(), id, 0); err != nil {
			return err
		}
		if !s.isNew {
			break
		}
	}
	if !s.isNew || found.copies > 1 {
		// With several cookies, removing "ours" could hit the owner's live
		// one rather than a tossed one.
		s.expireCookie = false
	}
	return nil
}

// adopt makes the session stored for id the request's, if it is live by the
// manager's clock and bound to this client. hops counts tombstones followed;
// ctx is the request's, or made by WithoutCache for a second look.
func (s *Session) adopt(ctx context.Context, id string, hops int) error {
	m := s.m
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
		return s.follow(ctx, id, key, rec.Tombstone, hops)
	}
	if !now.Before(m.expiresAt(rec)) {
		if CacheAllowed(ctx) {
			// The store may have answered from a cache, with a copy that
			// another instance has touched since: ask it again, past it.
			return s.adopt(WithoutCache(ctx), id, hops)
		}
		if err := m.store.Delete(ctx, key); err != nil {
			m.log.WarnContext(ctx, "session: deleting expired session", "tag", tagOf(key), "error", err)
		}
		fire(m.cfg.hooks.Expired, ctx, Event{Tag: tagOf(key), User: rec.User, ClientIP: s.clientAddr()})
		s.reject(RejectExpired, key)
		return nil
	}
	if m.cfg.v4Bits != 0 && !s.opened && !m.bound(rec.ClientIP, s.clientAddr()) {
		s.reject(RejectIPMismatch, key)
		return nil
	}
	s.id, s.key, s.rec, s.isNew, s.resendCookie = id, key, rec, false, hops > 0
	// An opened session's new ID would reach no client: it is not rotated.
	if m.cfg.rotation > 0 && !s.opened && now.Sub(rec.IssuedAt) >= m.cfg.rotation {
		if err := s.renewLocked(max(m.cfg.renewGrace, DefaultRotationGrace), true); err != nil {
			m.log.WarnContext(ctx, "session: rotation postponed", "tag", tagOf(key), "error", err)
		}
	}
	return nil
}

// follow leads an ID replaced by Renew to the new session within its grace
// period; after it, the ID is stale.
func (s *Session) follow(ctx context.Context, oldID, oldKey string, t *Tombstone, hops int) error {
	if hops < maxTombstoneHops {
		if id, ok := s.successor(oldID, t); ok {
			return s.adopt(ctx, id, hops+1)
		}
	}
	s.reject(RejectStaleID, oldKey)
	return nil
}

// successor returns the ID that t leads oldID to, if its grace period runs.
func (s *Session) successor(oldID string, t *Tombstone) (string, bool) {
	if t == nil || t.Successor == nil || !s.m.cfg.clock().Before(t.GraceUntil) {
		return "", false
	}
	id, err := openSuccessor(oldID, t.Successor)
	return id, err == nil
}

// bound reports whether WithIPBinding lets addr use a session created from
// created.
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
// debug log, and removes it from the browser unless the response sets a new
// one. A stale ID or an IP mismatch keeps its cookie: the response may race
// one that carries the client's new ID, or the request not be the owner's.
func (s *Session) reject(reason RejectReason, key string) {
	s.expireCookie = reason != RejectStaleID && reason != RejectIPMismatch
	m, ctx := s.m, s.r.Context()
	if m.cfg.hooks.Rejected == nil && !m.log.Enabled(ctx, slog.LevelDebug) {
		return // spare the tag and address no one would see
	}
	e := s.eventLocked(key) // s is not shared yet, and has no user
	e.Reason = reason
	m.log.DebugContext(ctx, "session: cookie rejected", "reason", reason.String(), "tag", e.Tag, "client", e.ClientIP)
	fire(m.cfg.hooks.Rejected, ctx, e)
}
