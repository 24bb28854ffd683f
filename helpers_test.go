package session

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/sessionid/session/internal/testenv"

	"github.com/stretchr/testify/require"
)

// testClock is the tests' clock, which moves only when told to.
type testClock = testenv.Clock

func newTestClock() *testClock { return testenv.NewClock() }

// recordingStore wraps a Store, counting calls and keeping each Delta, and
// can be told to fail.
type recordingStore struct {
	Store
	mu                      sync.Mutex
	loads, creates, deletes int
	updates                 []Delta
	renews                  int
	failLoad, failWrite     error
}

func (s *recordingStore) Load(ctx context.Context, key string) (*Record, error) {
	s.mu.Lock()
	s.loads++
	err := s.failLoad
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.Store.Load(ctx, key)
}

func (s *recordingStore) Create(ctx context.Context, key string, rec *Record) error {
	s.mu.Lock()
	s.creates++
	err := s.failWrite
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.Store.Create(ctx, key, rec)
}

func (s *recordingStore) Update(ctx context.Context, key string, d Delta) error {
	s.mu.Lock()
	s.updates = append(s.updates, d)
	err := s.failWrite
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.Store.Update(ctx, key, d)
}

func (s *recordingStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	s.deletes++
	s.mu.Unlock()
	return s.Store.Delete(ctx, key)
}

func (s *recordingStore) Renew(ctx context.Context, oldKey, newKey string, d Delta, tomb *Tombstone) error {
	s.mu.Lock()
	s.renews++
	s.mu.Unlock()
	return s.Store.Renew(ctx, oldKey, newKey, d, tomb)
}

func (s *recordingStore) UserSessions(ctx context.Context, user string) ([]KeyedRecord, error) {
	return s.Store.(UserIndex).UserSessions(ctx, user)
}

func (s *recordingStore) DeleteUser(ctx context.Context, user string) (int, error) {
	return s.Store.(UserIndex).DeleteUser(ctx, user)
}

func (s *recordingStore) counts() (loads, creates, updates, deletes, renews int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads, s.creates, len(s.updates), s.deletes, s.renews
}

func (s *recordingStore) lastUpdate() Delta {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updates[len(s.updates)-1]
}

// harness is a Manager over a recording memory store with a test clock,
// driven through httptest.ResponseRecorder so tests can set RemoteAddr and
// cookies by hand.
type harness struct {
	t       *testing.T
	m       *Manager
	mem     *MemoryStore
	store   *recordingStore
	clock   *testClock
	handler http.Handler
	events  *eventLog
}

// eventLog keeps every hook event, by kind.
type eventLog struct {
	mu     sync.Mutex
	events []string
	list   []Event
}

func (l *eventLog) hooks() Hooks {
	add := func(kind string) func(context.Context, Event) {
		return func(_ context.Context, e Event) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.events = append(l.events, kind)
			l.list = append(l.list, e)
		}
	}
	return Hooks{Created: add("created"), Renewed: add("renewed"), Invalidated: add("invalidated"),
		Expired: add("expired"), Rejected: add("rejected")}
}

// kinds returns the kinds of events seen so far.
func (l *eventLog) kinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

// rejections returns the reasons of Rejected events seen so far.
func (l *eventLog) rejections() []RejectReason {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []RejectReason
	for i, k := range l.events {
		if k == "rejected" {
			out = append(out, l.list[i].Reason)
		}
	}
	return out
}

func newHarness(t *testing.T, opts ...Option) *harness {
	t.Helper()
	clock := newTestClock()
	mem := NewMemoryStore(WithMemoryClock(clock.Now), WithSweepInterval(0))
	h := &harness{t: t, mem: mem, store: &recordingStore{Store: mem}, clock: clock, events: &eventLog{}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	all := append([]Option{WithStore(h.store), WithClock(clock.Now), WithHooks(h.events.hooks()), WithLogger(quiet)}, opts...)
	m, err := New(all...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(); _ = mem.Close() })
	h.m = m
	h.handler = m.Handler(testApp(t))
	return h
}

// testApp is the application the harness wraps: each path exercises one
// Session method, and reports results in the body.
func testApp(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/noop", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		v, ok := FromContext(r.Context()).Get(r.URL.Query().Get("k"))
		if ok {
			fmt.Fprint(w, v)
		}
	})
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Set(r.URL.Query().Get("k"), r.URL.Query().Get("v"))
	})
	mux.HandleFunc("/inc", func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		n, _ := Value[int](s, "n")
		s.Set("n", n+1)
		fmt.Fprint(w, n+1)
	})
	mux.HandleFunc("/renew", func(w http.ResponseWriter, r *http.Request) {
		if err := FromContext(r.Context()).Renew(); err != nil {
			t.Errorf("Renew: %v", err)
		}
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := FromContext(r.Context()).Login(r.URL.Query().Get("user")); err != nil {
			t.Errorf("Login: %v", err)
		}
	})
	mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, FromContext(r.Context()).User())
	})
	mux.HandleFunc("/invalidate", func(w http.ResponseWriter, r *http.Request) {
		if err := FromContext(r.Context()).Invalidate(); err != nil {
			t.Errorf("Invalidate: %v", err)
		}
	})
	return mux
}

// do sends one request with the given cookie value ("" for none) from
// remoteAddr ("" for the recorder's default).
func (h *harness) do(path, cookie string, mutate ...func(*http.Request)) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: h.m.cookie.name, Value: cookie})
	}
	for _, f := range mutate {
		f(r)
	}
	w := httptest.NewRecorder()
	h.handler.ServeHTTP(w, r)
	return w
}

// from sets the request's RemoteAddr.
func from(addr string) func(*http.Request) {
	return func(r *http.Request) { r.RemoteAddr = addr }
}

// setCookie returns the session cookie a response set, or nil.
func setCookie(w *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// newSession creates a session holding k=v and returns its cookie value.
func (h *harness) newSession(mutate ...func(*http.Request)) string {
	h.t.Helper()
	w := h.do("/set?k=k&v=v", "", mutate...)
	require.Equal(h.t, http.StatusOK, w.Code)
	c := setCookie(w, h.m.cookie.name)
	require.NotNil(h.t, c, "a session that was written must get a cookie")
	return c.Value
}

// body returns the response body of a request.
func (h *harness) body(path, cookie string, mutate ...func(*http.Request)) string {
	h.t.Helper()
	w := h.do(path, cookie, mutate...)
	require.Equal(h.t, http.StatusOK, w.Code)
	return w.Body.String()
}

func itoa(n int) string { return strconv.Itoa(n) }
