package redisstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/stretchr/testify/require"
)

// The local cache as an application fleet sees it: instances, each a
// Manager over a store with a local cache and a Redis client of its own,
// sharing one Redis. Requests go through each instance's middleware, in
// process.

type instance struct {
	m       *session.Manager
	store   *Store
	handler http.Handler
}

func newFleet(tb testing.TB, n int, maxStaleness time.Duration) []*instance {
	prefix := testPrefix(tb, testClient(tb))
	fleet := make([]*instance, n)
	for i := range fleet {
		s, err := New(testClient(tb), WithKeyPrefix(prefix), WithLocalCache(maxStaleness))
		require.NoError(tb, err)
		tb.Cleanup(func() { _ = s.Close() })
		m, err := session.New(session.WithStore(s))
		require.NoError(tb, err)
		mux := http.NewServeMux()
		mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, session.FromContext(r.Context()).User())
		})
		mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
			sess := session.FromContext(r.Context())
			if err := sess.Login(r.FormValue("user")); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		})
		mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
			sess := session.FromContext(r.Context())
			n, _ := session.Value[int](sess, "cart")
			_ = sess.Set("cart", n+1)
		})
		mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
			_ = session.FromContext(r.Context()).Invalidate()
		})
		fleet[i] = &instance{m: m, store: s, handler: m.Handler(mux)}
		waitFor(tb, "tracking", func() bool { return s.local.unhealthy.Load() == 0 })
	}
	return fleet
}

// do sends one request with cookie (nil for none) and returns the body and
// the session cookie the response set, if any.
func (in *instance) do(tb testing.TB, method, target string, cookie *http.Cookie) (string, *http.Cookie) {
	r := httptest.NewRequest(method, target, nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	in.handler.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		tb.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
	}
	var set *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.MaxAge >= 0 && c.Value != "" {
			set = c
		}
	}
	return w.Body.String(), set
}

// login logs user in on in and returns the session cookie.
func (in *instance) login(tb testing.TB, user string) *http.Cookie {
	_, cookie := in.do(tb, http.MethodPost, "/login?user="+user, nil)
	require.NotNil(tb, cookie)
	return cookie
}

// revocations measures how long instance b goes on accepting a session
// after instance a ended it, n times, cycling through the three ways to end
// one: logout, Revoke by handle, and InvalidateUser. Meanwhile load
// goroutines send other users' reads and writes to both. It returns the
// delays (from the end of a's call to the start of b's first refusal) and
// how many of b's requests accepted the session after the bound.
func revocations(tb testing.TB, n, load int, bound time.Duration) (delays []time.Duration, late int) {
	fleet := newFleet(tb, 2, bound)
	a, b := fleet[0], fleet[1]
	ctx := context.Background()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range load {
		wg.Go(func() {
			user := fmt.Sprintf("load-%d", i)
			cookie := fleet[i%2].login(tb, user)
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				in := fleet[j%2]
				if j%5 == 0 {
					in.do(tb, http.MethodPost, "/cart", cookie)
				} else if got, _ := in.do(tb, http.MethodGet, "/", cookie); got != user {
					tb.Errorf("load user %s read %q", user, got)
					return
				}
			}
		})
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	for i := range n {
		user := fmt.Sprintf("user-%d", i)
		cookie := a.login(tb, user)
		waitFor(tb, "b caching the session", func() bool {
			hits := b.store.local.hits.Load()
			got, _ := b.do(tb, http.MethodGet, "/", cookie)
			require.Equal(tb, user, got)
			return b.store.local.hits.Load() > hits
		})
		switch i % 3 {
		case 0:
			a.do(tb, http.MethodPost, "/logout", cookie)
		case 1:
			infos, err := a.m.UserSessions(ctx, user)
			require.NoError(tb, err)
			require.Len(tb, infos, 1)
			require.NoError(tb, a.m.Revoke(ctx, infos[0].Handle))
		case 2:
			_, err := a.m.InvalidateUser(ctx, user)
			require.NoError(tb, err)
		}
		ended := time.Now()
		for {
			start := time.Now()
			got, _ := b.do(tb, http.MethodGet, "/", cookie)
			if got != user {
				delays = append(delays, start.Sub(ended))
				break
			}
			if start.Sub(ended) >= bound {
				late++
			}
			if start.Sub(ended) > 10*bound {
				tb.Fatalf("revocation %d never reached b", i)
			}
		}
	}
	return delays, late
}

// TestLocalCacheRevocationUnderLoad: every revocation made on one instance
// reaches the other, under load, and no request is accepted after the
// bound.
func TestLocalCacheRevocationUnderLoad(t *testing.T) {
	delays, late := revocations(t, 150, 4, time.Second)
	require.Len(t, delays, 150)
	require.Zero(t, late, "requests accepted after the bound")
}

// BenchmarkLocalCacheRevocation reports the distribution of revocation
// delays across two instances under load, one revocation per iteration:
// run it with -benchtime 10000x.
func BenchmarkLocalCacheRevocation(b *testing.B) {
	const bound = time.Second
	delays, late := revocations(b, b.N, 4, bound)
	slices.Sort(delays)
	q := func(p float64) float64 {
		return float64(delays[min(len(delays)-1, int(p*float64(len(delays))))].Microseconds())
	}
	b.ReportMetric(q(0.5), "p50-us")
	b.ReportMetric(q(0.99), "p99-us")
	b.ReportMetric(q(0.999), "p99.9-us")
	b.ReportMetric(float64(delays[len(delays)-1].Microseconds()), "max-us")
	b.ReportMetric(float64(late), "late-accepts")
	b.ReportMetric(bound.Seconds(), "bound-s")
}

// BenchmarkLocalCacheHitRate reports the share of session reads that the
// local caches answer for a realistic mix: visits of a page and three
// follow-up requests (assets, API calls), sent round-robin to two
// instances, one visit in ten writing to the session, by 1,000 users each
// logged in once.
func BenchmarkLocalCacheHitRate(b *testing.B) {
	fleet := newFleet(b, 2, 2*time.Second)
	const users = 1000
	cookies := make([]*http.Cookie, users)
	for i := range cookies {
		cookies[i] = fleet[i%2].login(b, fmt.Sprintf("u%d", i))
	}
	var next atomic.Uint64
	hits := func() (h, m uint64) {
		for _, in := range fleet {
			h += in.store.local.hits.Load()
			m += in.store.local.miss.Load()
		}
		return h, m
	}
	var reads atomic.Uint64
	h0, _ := hits()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			visit := next.Add(1)
			cookie := cookies[rand.IntN(users)]
			for j := range uint64(4) {
				in := fleet[(visit+j)%2]
				if j == 0 && visit%10 == 0 {
					in.do(b, http.MethodPost, "/cart", cookie)
				} else {
					in.do(b, http.MethodGet, "/", cookie)
				}
				reads.Add(1)
			}
		}
	})
	b.StopTimer()
	h1, _ := hits()
	b.ReportMetric(100*float64(h1-h0)/float64(reads.Load()), "hit-%")
}
