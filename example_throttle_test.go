package session_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"time"

	"github.com/sessionid/session"
)

// guessThrottle counts the session cookies refused per client address in a
// fixed window, and answers 429 to an address over its limit until the
// window ends. The map is emptied at every new window, so it holds at most
// the addresses seen in one window. It is safe for concurrent use.
type guessThrottle struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu     sync.Mutex
	start  time.Time
	counts map[netip.Addr]int
}

// rejected is the manager's Rejected hook. Expired and stale IDs, and IP
// mismatches, are what honest users send after a timeout or a network
// change; unknown, forged and malformed cookies are what guessing looks like.
func (g *guessThrottle) rejected(_ context.Context, e session.Event) {
	switch e.Reason {
	case session.RejectUnknownID, session.RejectBadSignature, session.RejectMalformedCookie:
		g.mu.Lock()
		defer g.mu.Unlock()
		g.rollLocked()
		g.counts[e.ClientIP]++
	}
}

func (g *guessThrottle) over(addr netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.rollLocked()
	return g.counts[addr] > g.limit
}

func (g *guessThrottle) rollLocked() {
	if now := g.now(); g.counts == nil || now.Sub(g.start) >= g.window {
		g.start, g.counts = now, map[netip.Addr]int{}
	}
}

// middleware goes in front of Manager.Handler. The address must be the one
// the manager puts in Event.ClientIP: RemoteAddr here; behind proxies, the
// address WithTrustedProxies makes the manager use.
func (g *guessThrottle) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr, err := netip.ParseAddrPort(r.RemoteAddr)
		if err == nil && g.over(addr.Addr().Unmap()) {
			w.Header().Set("Retry-After", fmt.Sprint(int(g.window.Seconds())))
			http.Error(w, "too many requests", http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// This example throttles a client that guesses session IDs, with the
// standard library only: a Rejected hook counts refused cookies per client
// address, and a middleware in front of the manager answers 429 to an
// address with more than 3 in the current minute.
func ExampleHooks_throttle() {
	clock := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	g := &guessThrottle{limit: 3, window: time.Minute, now: func() time.Time { return clock }}
	m, err := session.New(session.WithHooks(session.Hooks{Rejected: g.rejected}))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := g.middleware(m.Handler(app))

	guess := func(client, id string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = client
		r.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: id})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(client, w.Code)
	}
	for i := 0; i < 5; i++ {
		guess("203.0.113.9:4000", fmt.Sprintf("guess%038d", i))
	}
	guess("198.51.100.7:5000", "someone-else-entirely-0123456789") // another client is not affected
	clock = clock.Add(time.Minute)
	guess("203.0.113.9:4000", "the-next-window-starts-afresh-0000")
	// Output:
	// 203.0.113.9:4000 200
	// 203.0.113.9:4000 200
	// 203.0.113.9:4000 200
	// 203.0.113.9:4000 200
	// 203.0.113.9:4000 429
	// 198.51.100.7:5000 200
	// 203.0.113.9:4000 200
}
