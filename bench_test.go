package session

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchHandlers are the workloads: read one int, increment it, or store one
// value in a new session.
var benchHandlers = map[string]http.HandlerFunc{
	"read": func(w http.ResponseWriter, r *http.Request) {
		n, _ := Value[int](FromContext(r.Context()), "n")
		_ = n
	},
	"write": func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		n, _ := Value[int](s, "n")
		s.Set("n", n+1)
	},
}

func benchManager(b *testing.B) *Manager {
	m, err := New(WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	return m
}

// benchCookie creates a session holding n=1 and returns its cookie.
func benchCookie(b *testing.B, m *Manager) *http.Cookie {
	w := httptest.NewRecorder()
	m.Handler(benchHandlers["write"]).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	return w.Result().Cookies()[0]
}

func BenchmarkMiddleware(b *testing.B) {
	for _, name := range []string{"read", "write"} {
		b.Run(name, func(b *testing.B) {
			m := benchManager(b)
			h := m.Handler(benchHandlers[name])
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(benchCookie(b, m))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
		})
	}
	b.Run("create", func(b *testing.B) {
		m := benchManager(b)
		h := m.Handler(benchHandlers["write"])
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
	})
	b.Run("bare", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
	})
	b.Run("read-parallel", func(b *testing.B) {
		m := benchManager(b)
		h := m.Handler(benchHandlers["read"])
		cookie := benchCookie(b, m)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(cookie)
			for pb.Next() {
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
		})
	})
}

// TestReadAllocations holds the read path to the allocation budget of the
// performance targets (BENCHMARKS.md): at most 10 allocations per request
// beyond the same request without the middleware.
func TestReadAllocations(t *testing.T) {
	m, err := New(WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	read := benchHandlers["read"]
	w := httptest.NewRecorder()
	m.Handler(benchHandlers["write"]).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(w.Result().Cookies()[0])
	h := m.Handler(read)
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	bare := testing.AllocsPerRun(200, func() { noop.ServeHTTP(httptest.NewRecorder(), r) })
	with := testing.AllocsPerRun(200, func() { h.ServeHTTP(httptest.NewRecorder(), r) })
	t.Logf("allocations per read: %v bare, %v with the middleware", bare, with)
	if with-bare > 10 {
		t.Errorf("a read allocates %v times beyond bare; the budget is 10", with-bare)
	}
}
