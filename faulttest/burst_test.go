package faulttest

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// burst is a group of browsers sending requests while a test injects a
// fault into the store. Each browser's session holds "data", written before
// the fault; during the burst each alternates writes of its counter "n"
// (1, 3, 5, ...) with reads of "data".
type burst struct {
	t         *testing.T
	url       string
	maxAnswer time.Duration // the longest any answer may take
	clients   []*burstClient

	ok, failed atomic.Int64 // 200s, and the error handler's 500s
	slowest    atomic.Int64 // the longest answer, in nanoseconds
	stop       chan struct{}
	wg         sync.WaitGroup
}

// burstClient is one browser of a burst. attempted and acked are the last
// value of "n" it sent and the last one answered with a 200; only its own
// goroutine touches them until the burst ends.
type burstClient struct {
	c                *http.Client
	data             string
	attempted, acked int
}

// newBurst creates n browsers of the app at url, each with a session holding
// "data".
func newBurst(t *testing.T, url string, n int, maxAnswer time.Duration) *burst {
	t.Helper()
	b := &burst{t: t, url: url, maxAnswer: maxAnswer, stop: make(chan struct{})}
	tr := newTransport(t, n)
	for i := range n {
		bc := &burstClient{c: newBrowser(tr), data: fmt.Sprint("data-", i)}
		status, body := b.request(bc, "/set?k=data&v="+bc.data)
		require.Equal(t, http.StatusOK, status, "%s", body)
		b.clients = append(b.clients, bc)
	}
	return b
}

// start sends each browser's requests, at most perClient of them and for at
// most limit, until finish.
func (b *burst) start(perClient int, limit time.Duration) {
	end := time.Now().Add(limit)
	for _, bc := range b.clients {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for j := 1; j <= perClient && time.Now().Before(end); j++ {
				select {
				case <-b.stop:
					return
				default:
				}
				b.step(bc, j)
			}
		}()
	}
}

// step sends a browser's j-th request of the burst.
func (b *burst) step(bc *burstClient, j int) {
	if j%2 == 1 {
		bc.attempted = j
		if status, _ := b.request(bc, "/set?k=n&v="+strconv.Itoa(j)); status == http.StatusOK {
			bc.acked = j
		}
		return
	}
	if status, body := b.request(bc, "/get?k=data"); status == http.StatusOK && body != bc.data {
		b.t.Errorf("%s read %q: another session's data, or lost data", bc.data, body)
	}
}

// waitFor checks cond every few milliseconds, in the calling goroutine,
// until it holds, and fails the test if it does not within 20 seconds.
func (b *burst) waitFor(cond func() bool, what string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		require.True(b.t, time.Now().Before(deadline), "waited 20s for %s (%d ok, %d failed)", what, b.ok.Load(), b.failed.Load())
		time.Sleep(5 * time.Millisecond) // the polling interval
	}
}

// finish stops the burst and waits for its last requests.
func (b *burst) finish() {
	close(b.stop)
	b.wg.Wait()
	b.t.Logf("burst: %d answered 200, %d the error handler's 500; slowest answer %v",
		b.ok.Load(), b.failed.Load(), time.Duration(b.slowest.Load()).Round(time.Millisecond))
}

// request sends a GET of path and returns the status and body. It fails the
// test, without stopping it, for anything but a 200 or the error handler's
// 500 answered within maxAnswer.
func (b *burst) request(bc *burstClient, path string) (int, string) {
	status, body, took, err := do(bc.c, http.MethodGet, b.url+path)
	for {
		old := b.slowest.Load()
		if int64(took) <= old || b.slowest.CompareAndSwap(old, int64(took)) {
			break
		}
	}
	switch {
	case err != nil:
		b.t.Errorf("GET %s: %v after %v (a hang, or a panic that dropped the connection)", path, err, took)
	case took > b.maxAnswer:
		b.t.Errorf("GET %s: answered %d after %v, longer than %v: the request's deadline did not bound it", path, status, took, b.maxAnswer)
	}
	switch {
	case err != nil:
	case status == http.StatusOK:
		b.ok.Add(1)
	case status == http.StatusInternalServerError && body == storeErrorBody:
		b.failed.Add(1)
	default:
		b.t.Errorf("GET %s: status %d, body %q; want 200 or the error handler's 500", path, status, body)
	}
	return status, body
}

// requireIntact waits until every browser reaches its session again, then
// checks that it holds the data written before the fault and no
// acknowledged write of "n" was lost: "n" is at least the last value
// answered with a 200, and at most the last one sent.
func (b *burst) requireIntact() {
	b.t.Helper()
	for _, bc := range b.clients {
		var body string
		b.waitFor(func() bool {
			var status int
			status, body = b.request(bc, "/get?k=data")
			return status == http.StatusOK
		}, bc.data+"'s session to answer again")
		require.Equal(b.t, bc.data, body, "data written before the fault is intact")
		status, n := b.request(bc, "/get?k=n")
		require.Equal(b.t, http.StatusOK, status)
		if bc.acked == 0 {
			continue
		}
		got, err := strconv.Atoi(n)
		require.NoError(b.t, err, "%s: n = %q, but %d was acknowledged", bc.data, n, bc.acked)
		require.GreaterOrEqual(b.t, got, bc.acked, "%s: an acknowledged write was lost", bc.data)
		require.LessOrEqual(b.t, got, bc.attempted, "%s: n was never sent", bc.data)
	}
}

// requireNewSessionsWork checks that a new browser gets a session that keeps
// what it writes.
func (b *burst) requireNewSessionsWork() {
	b.t.Helper()
	bc := &burstClient{c: newBrowser(newTransport(b.t, 1)), data: "fresh"}
	status, body := b.request(bc, "/set?k=data&v=fresh")
	require.Equal(b.t, http.StatusOK, status, "%s", body)
	status, body = b.request(bc, "/get?k=data")
	require.Equal(b.t, http.StatusOK, status, "%s", body)
	require.Equal(b.t, "fresh", body, "a new session keeps its data")
}
