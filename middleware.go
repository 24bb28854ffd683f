package session

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"
)

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

// middleware is the handler Manager.Handler returns.
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
	if err := s.load(); err != nil {
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

// varyCookie adds "Vary: Cookie" to h. When h has no Vary yet, the value
// lives in st rather than in an allocation of its own; its slice is capped,
// so a Vary the handler adds later goes to a copy.
func (st *requestState) varyCookie(h http.Header) {
	if v, ok := h["Vary"]; ok {
		h["Vary"] = append(v, "Cookie")
		return
	}
	st.vary[0] = "Cookie"
	h["Vary"] = st.vary[:1:1]
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
