package benchmarks

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"math"
	mathrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/testenv"
)

// sessionsEnv overrides how many sessions BenchmarkMemoryStoreScale holds.
const sessionsEnv = "SESSION_BENCH_SESSIONS"

const (
	defaultScaleSessions = 1_000_000
	// smokeScaleSessions is the count under -benchtime=1x (CI's smoke run
	// of every benchmark), unless sessionsEnv says otherwise.
	smokeScaleSessions = 10_000
)

// scaleSessions returns how many sessions the scale benchmark fills the
// store with.
func scaleSessions(b *testing.B) int {
	if v := os.Getenv(sessionsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 {
			b.Fatalf("%s=%q: want a count of at least 10", sessionsEnv, v)
		}
		return n
	}
	if f := flag.Lookup("test.benchtime"); f != nil && f.Value.String() == "1x" {
		return smokeScaleSessions
	}
	return defaultScaleSessions
}

// The scale benchmark's timeline, on a fake clock. A session's idle
// deadline is the idle timeout plus the touch interval (idle/10) after it
// was last seen. Sessions that will expire during the measurement are
// created, spread over churnSpan, from t0; the others at liveAfter. The
// measured reads run from t0+idle (when the first doomed session expires)
// over churnSpan, while the store's sweeper evicts them. Live sessions were
// last seen less than a touch interval before any read, so that a read
// request writes nothing, with or without churn.
const (
	idle       = session.DefaultIdleTimeout + session.DefaultIdleTimeout/10
	churnSpan  = time.Minute
	liveAfter  = idle - 30*time.Second
	sweepEvery = time.Millisecond
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeClock is a clock the benchmark moves; safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time     { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) set(t time.Time)    { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) at(d time.Duration) { c.set(t0.Add(d)) }
func spread(i, n int, d time.Duration) time.Duration {
	return time.Duration(float64(d) * float64(i) / float64(n))
}

// seqIDs issues well-formed, distinct IDs from a counter, so that the
// benchmark can rebuild the cookie of the i-th session instead of holding a
// million of them (which would count as the store's memory). Safe for
// concurrent use.
type seqIDs struct {
	next atomic.Uint64
	salt [24]byte
}

func (g *seqIDs) NewID() (string, error) { return g.id(g.next.Add(1) - 1), nil }

func (g *seqIDs) id(i uint64) string {
	var b [32]byte
	binary.BigEndian.PutUint64(b[:8], i)
	copy(b[8:], g.salt[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// value is the one 16-byte value every session holds.
var value = []byte("0123456789abcdef")

// scaleStore is a manager on a memory store filled with sessions, reused by
// the runs of one sub-benchmark (the testing package calls it with growing
// b.N).
type scaleStore struct {
	clock   fakeClock
	ids     seqIDs
	store   *session.MemoryStore
	m       *session.Manager
	create  http.Handler
	total   int     // sessions held before the measured reads
	live    int     // sessions with IDs 0..live-1, which never expire here
	perSess float64 // heap bytes per session, its value excluded
}

func newScaleStore(b *testing.B, total, doomed int) *scaleStore {
	s := &scaleStore{total: total, live: total - doomed}
	if _, err := rand.Read(s.ids.salt[:]); err != nil {
		b.Fatal(err)
	}
	s.store = session.NewMemoryStore(session.WithMemoryClock(s.clock.now), session.WithSweepInterval(sweepEvery))
	m, err := session.New(session.WithStore(s.store), session.WithClock(s.clock.now), session.WithIDGenerator(&s.ids))
	if err != nil {
		b.Fatal(err)
	}
	s.m = m
	s.create = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("v", value)
	}))
	before := testenv.LiveHeap()
	s.clock.at(liveAfter)
	s.fill(b, s.live, func(int) {})
	s.refill(b)
	s.perSess = float64(testenv.LiveHeap()-before)/float64(total) - float64(len(value))
	return s
}

func (s *scaleStore) close() {
	_ = s.m.Close()
	_ = s.store.Close()
}

// refill brings the store back to its total by creating doomed sessions,
// spread over churnSpan from t0, in place of those a run evicted.
func (s *scaleStore) refill(b *testing.B) {
	missing := s.total - s.store.Len()
	s.fill(b, missing, func(i int) { s.clock.at(spread(i, missing, churnSpan)) })
}

// fill creates n sessions through the manager, calling before(i) ahead of
// the i-th.
func (s *scaleStore) fill(b *testing.B, n int, before func(i int)) {
	base := httptest.NewRequest(http.MethodGet, "/", nil)
	for i := range n {
		before(i)
		r := new(http.Request)
		*r = *base
		w := &testenv.DiscardWriter{}
		s.create.ServeHTTP(w, r)
		if w.Code != 0 && w.Code != http.StatusOK {
			b.Fatalf("creating session %d: status %d", i, w.Code)
		}
	}
}

// requestPool is how many distinct read requests the measured loop cycles
// through, each for a random live session: enough that the records read do
// not all sit in the CPU's caches.
const requestPool = 1 << 16

// BenchmarkMemoryStoreScale fills a memory store with a million sessions
// (sessionsEnv changes the count; CI's -benchtime=1x smoke run uses 10,000)
// each holding one 16-byte value, and reports the heap they take per session
// beyond the value (B/session), then measures read requests of random live
// sessions, their latency percentiles (p50-ns, p99-ns) and how many sessions
// the sweeper evicted meanwhile: "steady" with no session expiring, "churn"
// while 10% of them expire and the sweeper (every millisecond) evicts them.
func BenchmarkMemoryStoreScale(b *testing.B) {
	if testing.Short() {
		b.Skip("fills a store with a million sessions")
	}
	total := scaleSessions(b)
	for _, sc := range []struct {
		name   string
		doomed int
	}{{"steady", 0}, {"churn", total / 10}} {
		var s *scaleStore
		b.Run(sc.name, func(b *testing.B) {
			if s == nil {
				s = newScaleStore(b, total, sc.doomed)
			} else {
				s.refill(b)
			}
			benchScaleReads(b, s)
		})
		if s != nil {
			s.close()
		}
	}
}

func benchScaleReads(b *testing.B, s *scaleStore) {
	h := s.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v, ok := session.Value[[]byte](session.FromContext(r.Context()), "v"); !ok || len(v) != len(value) {
			http.Error(w, "no session value", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(body)
	}))
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	pool := make([]*http.Request, min(requestPool, s.live))
	for i := range pool {
		pool[i] = request(&http.Cookie{Name: cookieName, Value: s.ids.id(uint64(rng.IntN(s.live)))})
	}
	lat := make([]time.Duration, b.N)
	if s.store.Len() != s.total {
		b.Fatalf("store holds %d sessions, want %d", s.store.Len(), s.total)
	}
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s.clock.at(idle + spread(i, b.N, churnSpan))
		r := new(http.Request)
		*r = *pool[i%len(pool)]
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, r)
		lat[i] = time.Since(start)
		if w.Code != http.StatusOK || len(w.Header()["Set-Cookie"]) != 0 {
			b.Fatalf("read %d: status %d, Set-Cookie %q: the session was not read, or was rewritten", i, w.Code, w.Header()["Set-Cookie"])
		}
	}
	b.StopTimer()
	evicted := s.total - s.store.Len()
	if s.live < s.total && b.N >= 10_000 && evicted == 0 {
		// The doomed sessions' deadlines missed the measured span: the
		// churn scenario would measure no churn.
		b.Fatalf("no doomed session was evicted during %d reads", b.N)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
	b.ReportMetric(float64(lat[min(len(lat)-1, int(math.Ceil(float64(len(lat))*0.99))-1)]), "p99-ns")
	b.ReportMetric(s.perSess, "B/session")
	b.ReportMetric(float64(evicted), "evicted")
	b.ReportMetric(float64(s.total), "sessions")
}
