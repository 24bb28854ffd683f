package otelsession_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sessionid/session"
	"github.com/sessionid/session/otelsession"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// A manager whose life events are counted and whose store calls are traced
// and timed. A program would give a MeterProvider with an exporter (see the
// Prometheus example) and a TracerProvider with a span exporter; nil means
// the global ones (otel.SetMeterProvider, otel.SetTracerProvider).
func Example() {
	reader := sdkmetric.NewManualReader() // a program: an exporter's reader
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tp := sdktrace.NewTracerProvider()

	memory := session.NewMemoryStore()
	defer memory.Close()
	store, err := otelsession.WrapStore(memory, tp, mp)
	if err != nil {
		log.Fatal(err)
	}
	counted, err := otelsession.Hooks(mp)
	if err != nil {
		log.Fatal(err)
	}
	logged := session.Hooks{Rejected: func(ctx context.Context, e session.Event) {
		log.Printf("session cookie rejected: %s, client %s", e.Reason, e.ClientIP)
	}}
	m, err := session.New(session.WithStore(store), session.WithHooks(otelsession.Chain(logged, counted)))
	if err != nil {
		log.Fatal(err)
	}

	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login("alice"); err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/login", nil))

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch data := m.Data.(type) {
		case metricdata.Sum[int64]:
			fmt.Println(m.Name, data.DataPoints[0].Value)
		case metricdata.Histogram[float64]:
			p := data.DataPoints[0]
			fmt.Println(m.Name, p.Attributes.Encoded(attribute.DefaultEncoder()), p.Count)
		}
	}
	// Output:
	// sessionid.store.operation.duration sessionid.store.operation.name=create,sessionid.store.operation.outcome=ok 1
	// sessionid.session.created 1
}

// newApp stands for an application's routes behind its manager, as in
// examples/login.
func newApp(m *session.Manager) http.Handler {
	return m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("visited", true)
	}))
}

// Metrics served to Prometheus at /metrics, next to the application: the
// counters of the hooks, the store's durations and its number of records.
func Example_prometheus() {
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry), otelprom.WithoutScopeInfo())
	if err != nil {
		log.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())

	memory := session.NewMemoryStore()
	defer memory.Close()
	store, err := otelsession.WrapStore(memory, nil, mp) // nil: spans to otel.GetTracerProvider()
	if err != nil {
		log.Fatal(err)
	}
	hooks, err := otelsession.Hooks(mp)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := otelsession.ObserveLen(mp, memory); err != nil {
		log.Fatal(err)
	}
	m, err := session.New(session.WithStore(store), session.WithHooks(hooks))
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/", newApp(m))
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux) // a program: http.ListenAndServe(addr, mux)
	defer srv.Close()

	get := func(path string, cookie *http.Cookie) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		return resp
	}
	get("/", nil).Body.Close()                                                           // a new session
	get("/", &http.Cookie{Name: "session", Value: strings.Repeat("A", 43)}).Body.Close() // an unknown ID: rejected, and a new session

	resp := get("/metrics", nil)
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if line := lines.Text(); strings.HasPrefix(line, "sessionid_session_") ||
			strings.HasPrefix(line, "sessionid_store_record_count ") ||
			strings.HasPrefix(line, "sessionid_store_operation_duration_seconds_count") {
			fmt.Println(line)
		}
	}
	// Output:
	// sessionid_session_created_total 2
	// sessionid_session_rejected_total{sessionid_session_reject_reason="unknown_id"} 1
	// sessionid_store_operation_duration_seconds_count{sessionid_store_operation_name="create",sessionid_store_operation_outcome="ok"} 2
	// sessionid_store_operation_duration_seconds_count{sessionid_store_operation_name="load",sessionid_store_operation_outcome="not_found"} 1
	// sessionid_store_record_count 2
}
