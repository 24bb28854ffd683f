package otelsession_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sessionid/session/internal/testenv"

	"github.com/sessionid/session"
	"github.com/sessionid/session/otelsession"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// telemetry holds the SDK's in-memory metric reader and span recorder.
type telemetry struct {
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	t.Cleanup(func() {
		require.NoError(t, tel.mp.Shutdown(context.Background()))
		require.NoError(t, tel.tp.Shutdown(context.Background()))
	})
	return tel
}

// collect returns every metric collected now.
func (tel *telemetry) collect(t *testing.T) []metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.reader.Collect(context.Background(), &rm))
	var out []metricdata.Metrics
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, otelsession.ScopeName, sm.Scope.Name)
		out = append(out, sm.Metrics...)
	}
	return out
}

// points returns the data points of the metric name, each under its
// attributes ("k=v,k=v", sorted by key): a sum's value, a histogram's count.
func (tel *telemetry) points(t *testing.T, name string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, m := range tel.collect(t) {
		if m.Name != name {
			continue
		}
		switch data := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, p := range data.DataPoints {
				out[encode(p.Attributes)] = p.Value
			}
		case metricdata.Histogram[float64]:
			for _, p := range data.DataPoints {
				out[encode(p.Attributes)] = int64(p.Count)
			}
		default:
			t.Fatalf("metric %s: unexpected data %T", name, m.Data)
		}
	}
	return out
}

func encode(s attribute.Set) string { return s.Encoded(attribute.DefaultEncoder()) }

// attr returns the value of the span's attribute key, "" if absent.
func attr(s sdktrace.ReadOnlySpan, key attribute.Key) string {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value.String()
		}
	}
	return ""
}

// testClock is the tests' clock, which moves only when told to.
type testClock = testenv.Clock

func newTestClock() *testClock { return testenv.NewClock() }

// keySpy is a MemoryStore that notes every key it is called with.
type keySpy struct {
	*session.MemoryStore
	mu   sync.Mutex
	keys map[string]bool
}

func newKeySpy(clock func() time.Time) *keySpy {
	return &keySpy{
		MemoryStore: session.NewMemoryStore(session.WithMemoryClock(clock), session.WithSweepInterval(0)),
		keys:        map[string]bool{},
	}
}

func (s *keySpy) note(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		s.keys[k] = true
	}
}

func (s *keySpy) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *keySpy) Load(ctx context.Context, key string) (*session.Record, error) {
	s.note(key)
	return s.MemoryStore.Load(ctx, key)
}

func (s *keySpy) Create(ctx context.Context, key string, rec *session.Record) error {
	s.note(key)
	return s.MemoryStore.Create(ctx, key, rec)
}

func (s *keySpy) Update(ctx context.Context, key string, d session.Delta) error {
	s.note(key)
	return s.MemoryStore.Update(ctx, key, d)
}

func (s *keySpy) Delete(ctx context.Context, key string) error {
	s.note(key)
	return s.MemoryStore.Delete(ctx, key)
}

func (s *keySpy) Renew(ctx context.Context, oldKey, newKey string, d session.Delta, tomb *session.Tombstone) error {
	s.note(oldKey, newKey)
	return s.MemoryStore.Renew(ctx, oldKey, newKey, d, tomb)
}

// testApp returns the test application behind m, under a server span per
// request from tp, as an instrumented handler (otelhttp, say) in front of
// the manager would start it:
//
//	GET /set                  sets a value, which creates a session
//	GET /get                  reads a value
//	GET /login?user=U         logs in as U (a new ID)
//	GET /renew                renews the ID
//	GET /logout               invalidates the session
//	GET /logout-everywhere    ends every session of the user
func testApp(m *session.Manager, tp trace.TracerProvider) http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}
	mux.HandleFunc("GET /set", func(w http.ResponseWriter, r *http.Request) {
		fail(w, m.FromContext(r.Context()).Set("n", 1))
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		session.Value[int](m.FromContext(r.Context()), "n")
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		fail(w, m.FromContext(r.Context()).Login(r.FormValue("user")))
	})
	mux.HandleFunc("GET /renew", func(w http.ResponseWriter, r *http.Request) {
		fail(w, m.FromContext(r.Context()).Renew())
	})
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		fail(w, m.FromContext(r.Context()).Invalidate())
	})
	mux.HandleFunc("GET /logout-everywhere", func(w http.ResponseWriter, r *http.Request) {
		_, err := m.InvalidateUser(r.Context(), m.FromContext(r.Context()).User())
		fail(w, err)
	})
	sessions := m.Handler(mux)
	tracer := tp.Tracer("test")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracer.Start(r.Context(), "GET "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		sessions.ServeHTTP(w, r.WithContext(ctx))
	})
}

// browser is an HTTP client with a cookie jar that notes every cookie value
// the server sets.
type browser struct {
	t       *testing.T
	url     string
	c       *http.Client
	mu      sync.Mutex
	cookies []string
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	b := &browser{t: t, url: srv.URL}
	b.c = &http.Client{Jar: jar, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := srv.Client().Transport.RoundTrip(r)
		if err == nil {
			b.mu.Lock()
			for _, c := range resp.Cookies() {
				b.cookies = append(b.cookies, c.Value)
			}
			b.mu.Unlock()
		}
		return resp, err
	})}
	return b
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// get requests path, with cookie added if not nil, and returns the status.
func (b *browser) get(path string, cookie *http.Cookie) int {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.url+path, nil)
	require.NoError(b.t, err)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	require.NoError(b.t, resp.Body.Close())
	return resp.StatusCode
}

// mustGet requests path and requires a 200.
func (b *browser) mustGet(path string) {
	b.t.Helper()
	require.Equal(b.t, http.StatusOK, b.get(path, nil), "GET %s", path)
}

// setCookies returns the non-empty cookie values the server set.
func (b *browser) setCookies() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, v := range b.cookies {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// dataPointAttributes returns the attributes of each data point of m.
func dataPointAttributes(t *testing.T, m metricdata.Metrics) []attribute.Set {
	t.Helper()
	var out []attribute.Set
	switch data := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range data.DataPoints {
			out = append(out, p.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, p := range data.DataPoints {
			out = append(out, p.Attributes)
		}
	default:
		t.Fatalf("metric %s: unexpected data %T", m.Name, m.Data)
	}
	return out
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
