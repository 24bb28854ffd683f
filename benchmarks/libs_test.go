package benchmarks

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gorilla/sessions"
	"github.com/sessionid/session"
)

// cookieName is the session cookie's name for every library.
const cookieName = "session"

// library is one session library as a handler sees it: its middleware, and
// reading and writing the int "n" the way the library's documentation does
// it. Every workload runs the same handler code on top of these.
type library struct {
	name string
	wrap func(http.Handler) http.Handler
	get  func(r *http.Request) (int, bool)
	set  func(w http.ResponseWriter, r *http.Request, n int) error
	// putString and getString store and read the string value key, for the
	// workloads whose sessions hold several values (see richValues); only
	// this library and scs have them.
	putString func(r *http.Request, key, v string)
	getString func(r *http.Request, key string) (string, bool)
	// floor marks a floor such as "bare": no sessions, so no cookie and
	// nothing to check.
	floor bool
}

// libraryNames lists the libraries in the order the tables show them; "bare"
// is the floor: the same handler and request plumbing with no sessions.
var libraryNames = []string{"session", "scs", "gorilla-cookie", "gorilla-fs", "bare"}

// newLibrary returns a fresh instance of the named library, closed at the
// end of b.
func newLibrary(b *testing.B, name string) *library {
	b.Helper()
	switch name {
	case "session":
		return newSession(b)
	case "scs":
		return newSCS(b, nil)
	case "gorilla-cookie":
		return newGorilla(name, sessions.NewCookieStore(authKey))
	case "gorilla-fs":
		return newGorilla(name, sessions.NewFilesystemStore(b.TempDir(), authKey))
	case "bare":
		return &library{
			name:  name,
			wrap:  func(h http.Handler) http.Handler { return h },
			get:   func(*http.Request) (int, bool) { return 1, true },
			set:   func(http.ResponseWriter, *http.Request, int) error { return nil },
			floor: true,
		}
	}
	b.Fatalf("unknown library %q", name)
	return nil
}

// newSession is this repository's library with its defaults (the memory
// store, unsigned cookies), or with opts.
func newSession(b *testing.B, opts ...session.Option) *library {
	m, err := session.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	return &library{
		name: "session",
		wrap: m.Handler,
		get: func(r *http.Request) (int, bool) {
			return session.Value[int](session.FromContext(r.Context()), "n")
		},
		set: func(_ http.ResponseWriter, r *http.Request, n int) error {
			return session.FromContext(r.Context()).Set("n", n)
		},
		putString: func(r *http.Request, key, v string) {
			_ = session.FromContext(r.Context()).Set(key, v) // a string always encodes
		},
		getString: func(r *http.Request, key string) (string, bool) {
			return session.Value[string](session.FromContext(r.Context()), key)
		},
	}
}

// newSCS is scs with its defaults: the memstore, LoadAndSave; or with store
// instead of the memstore, if not nil.
func newSCS(b *testing.B, store scs.Store) *library {
	sm := scs.New()
	if store == nil {
		b.Cleanup(sm.Store.(*memstore.MemStore).StopCleanup)
	} else {
		sm.Store.(*memstore.MemStore).StopCleanup()
		sm.Store = store
	}
	return &library{
		name: "scs",
		wrap: sm.LoadAndSave,
		get: func(r *http.Request) (int, bool) {
			n := sm.GetInt(r.Context(), "n") // 0 when missing; stored values are ≥ 1
			return n, n != 0
		},
		set: func(_ http.ResponseWriter, r *http.Request, n int) error {
			sm.Put(r.Context(), "n", n)
			return nil
		},
		putString: func(r *http.Request, key, v string) { sm.Put(r.Context(), key, v) },
		getString: func(r *http.Request, key string) (string, bool) {
			return sm.GetString(r.Context(), key), sm.Exists(r.Context(), key)
		},
	}
}

// authKey authenticates gorilla's cookies, as its README shows.
var authKey = bytes.Repeat([]byte("k"), 32)

// newGorilla is gorilla/sessions with store: store.Get in the handler,
// session.Save before the response is written. It has no middleware.
func newGorilla(name string, store sessions.Store) *library {
	return &library{
		name: name,
		wrap: func(h http.Handler) http.Handler { return h },
		get: func(r *http.Request) (int, bool) {
			s, err := store.Get(r, cookieName)
			if err != nil {
				return 0, false
			}
			n, ok := s.Values["n"].(int)
			return n, ok
		},
		set: func(w http.ResponseWriter, r *http.Request, n int) error {
			s, err := store.Get(r, cookieName) // the request's registry keeps it
			if err != nil {
				return err
			}
			s.Values["n"] = n
			return s.Save(r, w)
		},
	}
}

// body is every handler's response.
var body = []byte("ok\n")

// The workloads' handlers, the same for every library.

func readHandler(l *library) http.Handler {
	return l.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := l.get(r); !ok {
			http.Error(w, "no session value", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(body)
	}))
}

func writeHandler(l *library) http.Handler {
	return l.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, ok := l.get(r)
		if !ok {
			http.Error(w, "no session value", http.StatusInternalServerError)
			return
		}
		if err := l.set(w, r, n+1); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(body)
	}))
}

func createHandler(l *library) http.Handler {
	return l.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := l.set(w, r, 1); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(body)
	}))
}

// pingFloor is the floor of a workload on a server: no sessions, and one
// ping of the server per request, the network's and the client's share of
// a request that makes one round trip.
func pingFloor(name string, ping func(context.Context) error) *library {
	return &library{
		name: name,
		wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := ping(r.Context()); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				h.ServeHTTP(w, r)
			})
		},
		get:   func(*http.Request) (int, bool) { return 1, true },
		set:   func(http.ResponseWriter, *http.Request, int) error { return nil },
		floor: true,
	}
}

// serveTimed is the timed part of a request benchmark: it serves base with h
// b.N times, and fails b on the first answer that is not 200 (a library
// that lost the session answers 500: no value).
func serveTimed(b *testing.B, h http.Handler, base *http.Request) {
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if w := serve(h, base); w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
	b.StopTimer()
}

// serve runs one request: a shallow copy of base (gorilla caches its
// sessions in the request, so each request must be a new one) and a new
// recorder, as every library and the bare floor pay alike.
func serve(h http.Handler, base *http.Request) *httptest.ResponseRecorder {
	r := new(http.Request)
	*r = *base
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// request returns a GET request carrying cookie, if not nil.
func request(cookie *http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	return r
}

// sessionCookie returns the session cookie w sets, or nil.
func sessionCookie(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	return nil
}

// newVisitor creates a session holding n=1, as a first visit does, and
// returns its cookie. For a floor it returns nil.
func newVisitor(b *testing.B, l *library) *http.Cookie {
	b.Helper()
	w := serve(createHandler(l), request(nil))
	c := sessionCookie(w)
	if w.Code != http.StatusOK || (c == nil) != l.floor {
		b.Fatalf("%s: creating a session: status %d, cookie %v", l.name, w.Code, c)
	}
	return c
}

// stored returns the value of n that a request with cookie sees.
func stored(b *testing.B, l *library, cookie *http.Cookie) int {
	b.Helper()
	var n int
	var ok bool
	l.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, ok = l.get(r)
	})).ServeHTTP(httptest.NewRecorder(), request(cookie))
	if !ok {
		b.Fatalf("%s: no value for the session's cookie", l.name)
	}
	return n
}

// checkLoads makes sure that cookie leads to a stored session, and that h
// changes it by delta (following a new cookie as a browser would), so that a
// benchmark never measures a library that silently starts a new session.
func checkLoads(b *testing.B, l *library, h http.Handler, cookie *http.Cookie, delta int) {
	b.Helper()
	if l.floor {
		return
	}
	before := stored(b, l, cookie)
	if before != 1 {
		b.Fatalf("%s: read back n=%d, want the 1 stored at creation", l.name, before)
	}
	w := serve(h, request(cookie))
	if w.Code != http.StatusOK {
		b.Fatalf("%s: status %d", l.name, w.Code)
	}
	if c := sessionCookie(w); c != nil {
		if c.Value == "" || c.MaxAge < 0 {
			b.Fatalf("%s: the session cookie was removed", l.name)
		}
		cookie = c
	}
	if after := stored(b, l, cookie); after != before+delta {
		b.Fatalf("%s: n went from %d to %d, want +%d", l.name, before, after, delta)
	}
}
