package session

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"
)

// errCommitFailed is what a handler's Write returns after the error handler
// answered for a failed save.
var errCommitFailed = errors.New("session: not written: the session could not be saved")

// Handler returns middleware that loads the request's session before next
// runs and saves it when the response starts. A store error while loading is
// answered by the error handler ([WithErrorHandler]), and next does not run.
// Every response gets "Vary: Cookie" (with [WithTokenHeader], Vary names the
// header instead).
func (m *Manager) Handler(next http.Handler) http.Handler {
	return &middleware{m: m, next: next}
}

type middleware struct {
	m    *Manager
	next http.Handler
}

func (h *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.m
	st := &requestState{}
	st.varyCookie(w.Header(), m.cookie.vary)
	s := &st.session
	s.m, s.r, s.isNew = m, r, true
	if err := s.load(); err != nil {
		m.cfg.errorHandler(w, r, err)
		return
	}
	st.writer = responseWriter{ResponseWriter: w, s: s}
	// WithContext's copy of r stays on the stack; st.req is the one kept.
	st.req = *r.WithContext(st.attach(r.Context()))
	h.next.ServeHTTP(&st.writer, &st.req)
	st.writer.finish()
}

// responseWriter saves the session before the first byte goes out, and
// never buffers the response.
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

func (w *responseWriter) Flush() { _ = w.FlushError() }

func (w *responseWriter) FlushError() error {
	if !w.begin() {
		return errCommitFailed
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands over the connection, then saves the session. A hijacked
// response carries no cookie, so no session is created and no rotation
// happens; a pending Login or Renew makes Hijack fail instead. When the
// underlying Hijack fails (HTTP/2, say), the session is left as it was.
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
		// No response can carry the error: close the connection.
		s.m.log.ErrorContext(s.r.Context(), "session: saving before a hijack", "tag", tagOf(s.key), "error", err)
		conn.Close()
		return nil, nil, errCommitFailed
	}
	return conn, rw, nil
}

// varyCookie adds name ("Cookie", or the token header's) to h's Vary, in
// st's room if h has no Vary yet; capped, so that a later append copies.
func (st *requestState) varyCookie(h http.Header, name string) {
	if v, ok := h["Vary"]; ok {
		h["Vary"] = append(v, name)
		return
	}
	st.vary[0] = name
	h["Vary"] = st.vary[:1:1]
}

// varyCookieAtStart adds name to Vary unless it is there (or "*"): the
// handler may have replaced the Vary that varyCookie set.
func varyCookieAtStart(h http.Header, name string) {
	for _, v := range h["Vary"] {
		for v != "" {
			var token string
			token, v, _ = strings.Cut(v, ",")
			token = strings.TrimSpace(token)
			if strings.EqualFold(token, name) || token == "*" {
				return
			}
		}
	}
	h["Vary"] = append(h["Vary"], name)
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// begin saves the session as the response starts and reports whether the
// handler's response may go out; if not, the error handler answered.
func (w *responseWriter) begin() bool {
	s := w.s
	committed, err := s.commitOnce(w.ResponseWriter)
	if !committed {
		return err == nil
	}
	h := w.ResponseWriter.Header()
	varyCookieAtStart(h, s.m.cookie.vary)
	if err != nil {
		// None of the application's headers may describe the error response.
		clear(h)
		h.Set("Vary", s.m.cookie.vary)
		if s.m.cfg.noStore { // a save failed: there was a session to save
			h.Set("Cache-Control", "no-store")
		}
		s.m.cfg.errorHandler(w.ResponseWriter, s.r, err)
		return false
	}
	if s.m.cfg.noStore && s.hasSession() {
		h.Set("Cache-Control", "no-store")
	}
	return true
}

// hasSession reports whether the request came with a live session, even one
// it ended since, or saved a new one.
func (s *Session) hasSession() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.isNew || s.rec != nil
}

// finish runs after the handler: it saves the session if nothing was
// written, or else the changes made since, which reach the store but no
// longer the cookie.
func (w *responseWriter) finish() {
	s := w.s
	s.mu.Lock()
	if !s.started {
		s.mu.Unlock()
		w.begin()
		return
	}
	defer s.mu.Unlock()
	if s.failed || !s.pending.changes() {
		return
	}
	if err := s.commitLocked(w.ResponseWriter); err != nil {
		s.m.log.ErrorContext(s.r.Context(), "session: saving changes made after the response started", "tag", tagOf(s.key), "error", err)
	}
}
