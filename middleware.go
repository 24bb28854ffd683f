package session

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxTombstoneHops bounds how many renewals within their grace periods one
// old ID may be followed through.
const maxTombstoneHops = 2

// errCommitFailed is what a handler's Write returns after the session could
// not be saved and the error handler answered instead.
var errCommitFailed = errors.New("session: not written: the session could not be saved")

// Handler returns middleware that loads the request's session before next
// runs and saves it when the response starts. A store error while loading is
// answered by the error handler, and next does not run. Every response gets
// "Vary: Cookie".
func (m *Manager) Handler(next http.Handler) http.Handler {
	return &middleware{m: m, next: next}
}

// middleware is the handler Manager.Handler returns. A method rather than a
// closure, it is compiled once, here, whatever the caller's package inlines.
type middleware struct {
	m    *Manager
	next http.Handler
}

func (h *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.m
	st := &requestState{}
	st.varyCookie(w.Header())
	s := &st.session
	s.m, s.r, s.isNew = m, r, true
	if err := m.load(s); err != nil {
		m.cfg.errorHandler(w, r, err)
		return
	}
	st.writer = responseWriter{ResponseWriter: w, s: s}
	// WithContext is inlined here, so its copy of r stays on the stack: the
	// handler's request is st.req, allocated with the rest of st.
	st.req = *r.WithContext(st.attach(r.Context()))
	h.next.ServeHTTP(&st.writer, &st.req)
	st.writer.finish()
}

// load makes s the session the request's cookie names, or leaves it new
// when the cookie names none that may be adopted. Only a store failure is an
// error.
func (m *Manager) load(s *Session) error {
	found, reason := m.cookie.read(s.r)
	if reason != 0 {
		m.reject(s, reason, "")
	}
	for _, id := range found.ids[:found.n] {
		if err := m.adopt(s, id, 0); err != nil {
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
func (m *Manager) adopt(s *Session, id string, hops int) error {
	ctx := s.r.Context()
	key := storeKey(id)
	rec, err := m.store.Load(ctx, key)
	if errors.Is(err, ErrNotFound) {
		m.reject(s, RejectUnknownID, key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("session: loading: %w", err)
	}
	now := m.cfg.clock()
	if rec.Tombstone != nil {
		return m.follow(s, id, key, rec.Tombstone, hops)
	}
	if !now.Before(rec.ExpiresAt()) {
		if err := m.store.Delete(ctx, key); err != nil {
			m.log.WarnContext(ctx, "session: deleting expired session", "tag", tagOf(key), "error", err)
		}
		fire(m.cfg.hooks.Expired, ctx, Event{Tag: tagOf(key), User: rec.User, ClientIP: s.clientAddr()})
		m.reject(s, RejectExpired, key)
		return nil
	}
	if m.cfg.v4Bits != 0 && !m.bound(rec.ClientIP, s.clientAddr()) {
		m.reject(s, RejectIPMismatch, key)
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
func (m *Manager) follow(s *Session, oldID, oldKey string, t *Tombstone, hops int) error {
	if t.Successor == nil || !m.cfg.clock().Before(t.GraceUntil) || hops >= maxTombstoneHops {
		m.reject(s, RejectStaleID, oldKey)
		return nil
	}
	newID, err := openSuccessor(oldID, t.Successor)
	if err != nil {
		m.reject(s, RejectStaleID, oldKey)
		return nil
	}
	return m.adopt(s, newID, hops+1)
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
func (m *Manager) reject(s *Session, reason RejectReason, key string) {
	s.expireCookie = reason != RejectStaleID && reason != RejectIPMismatch
	ctx := s.r.Context()
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

// responseWriter saves the session at the first WriteHeader, Write, Flush or
// Hijack, before any byte goes out, and never buffers the response.
type responseWriter struct {
	http.ResponseWriter
	s *Session
}

func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational: the response has not started
		return
	}
	if w.begin() {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.begin() {
		return 0, errCommitFailed
	}
	return w.ResponseWriter.Write(p)
}

// Flush saves the session, then flushes, so streaming works.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush for http.ResponseController.
func (w *responseWriter) FlushError() error {
	if !w.begin() {
		return errCommitFailed
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands over the connection, then saves the session. The response
// written on a hijacked connection carries no cookie, so a new session is
// not created and a due rotation does not happen. A pending Login or Renew
// needs its new ID delivered: Hijack then fails with ErrHijackPendingRenewal
// and hands nothing over. When the underlying Hijack fails (HTTP/2, say),
// the session is left as it was, for the handler's ordinary response.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		if s.failed {
			return nil, nil, errCommitFailed
		}
		return http.NewResponseController(w.ResponseWriter).Hijack()
	}
	if s.handlerRenewalLocked() {
		return nil, nil, ErrHijackPendingRenewal
	}
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	s.hijacked = true
	if err := s.commitOnceLocked(w.ResponseWriter); err != nil {
		// No response can tell the client: the connection is closed.
		s.m.log.ErrorContext(s.r.Context(), "session: saving before a hijack", "tag", tagOf(s.key), "error", err)
		conn.Close()
		return nil, nil, errCommitFailed
	}
	return conn, rw, nil
}

// varyCookieAtStart adds "Cookie" to Vary as the response starts, unless
// Vary names it (or "*") already: the middleware added it before the
// handler ran, but a handler may have replaced Vary since.
func varyCookieAtStart(h http.Header) {
	for _, v := range h["Vary"] {
		for v != "" {
			var token string
			token, v, _ = strings.Cut(v, ",")
			token = strings.TrimSpace(token)
			if strings.EqualFold(token, "Cookie") || token == "*" {
				return
			}
		}
	}
	h["Vary"] = append(h["Vary"], "Cookie")
}

// Unwrap gives http.ResponseController the underlying writer, for deadlines
// and other controls.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// begin saves the session the first time the response starts and reports
// whether the handler's response may go out. If saving fails, the error
// handler answers the request instead.
func (w *responseWriter) begin() bool {
	s := w.s
	committed, err := s.commitOnce(w.ResponseWriter)
	if !committed {
		return err == nil
	}
	varyCookieAtStart(w.ResponseWriter.Header())
	if err != nil {
		// The error handler answers instead of the application: none of the
		// application's headers (a Location, a Content-Encoding, a caching
		// directive) may describe the error response.
		h := w.ResponseWriter.Header()
		clear(h)
		h.Set("Vary", "Cookie")
		s.m.cfg.errorHandler(w.ResponseWriter, s.r, err)
		return false
	}
	return true
}

// finish runs after the handler: it saves a session whose handler wrote
// nothing, and saves changes made after the response started, which can
// reach the store but no longer the cookie.
func (w *responseWriter) finish() {
	s := w.s
	s.mu.Lock()
	started, failed := s.started, s.failed
	s.mu.Unlock()
	if !started {
		w.begin()
		return
	}
	if failed {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.pending.changes() {
		return // nothing happened to the session since it was saved
	}
	if err := s.commitLocked(w.ResponseWriter); err != nil {
		s.m.log.ErrorContext(s.r.Context(), "session: saving changes made after the response started", "tag", tagOf(s.key), "error", err)
	}
}
