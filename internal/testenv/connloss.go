package testenv

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ConnectionLoss is the fault test of a database store: it serves h, an
// application with the GET /get and /set routes of testapp.Values, and
// drives clients browsers through a burst of requests each, while cut,
// called ten times, cuts the store's server-side connections and returns how
// many it cut. It requires that every request answers a 200 or the error
// handler's 500 within deadline, that no handler panics, that a read never
// sees another client's data, and that afterwards, with at most maxConns
// requests failing (one per connection cut while idle), every session works
// again with the data written before the burst.
func ConnectionLoss(t *testing.T, h http.Handler, clients, requests, maxConns int, deadline time.Duration, cut func() int64) {
	t.Helper()
	srv, serverErrors := StartServer(t, h) // a handler's panic is logged in serverErrors

	// do sends one request with its own deadline and returns the status and
	// body, or fails the test for anything but a 200 or a 500 in time.
	do := func(c *http.Client, path string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Errorf("%s: %v (a hang, or a panic that dropped the connection)", path, err)
			return 0, ""
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Errorf("%s: reading the body: %v", path, err)
		}
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("%s: status %d, want 200 or 500", path, resp.StatusCode)
		}
		return resp.StatusCode, string(body)
	}

	users := make([]*http.Client, clients)
	for i := range users {
		users[i] = NewBrowser()
		if status, _ := do(users[i], fmt.Sprintf("/set?k=before&v=data-%d", i)); status != http.StatusOK {
			t.Fatalf("client %d: status %d before the burst", i, status)
		}
	}

	var ok, failed, cuts atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		defer close(stop)
		for range 10 {
			cuts.Add(cut())
			time.Sleep(20 * time.Millisecond) // let the pool reconnect and the burst go on
		}
	}()
	for i, c := range users {
		wg.Go(func() {
			for j := range requests {
				path := fmt.Sprintf("/set?k=n%d&v=%d", j%3, j)
				if j%2 == 1 {
					path = "/get?k=before"
				}
				status, body := do(c, path)
				switch {
				case status == http.StatusOK && j%2 == 1 && body != fmt.Sprint("data-", i):
					t.Errorf("client %d read %q, want data-%d", i, body, i)
				case status == http.StatusOK:
					ok.Add(1)
				case status == http.StatusInternalServerError:
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	<-stop
	t.Logf("%d connections cut; %d requests succeeded, %d got a 500", cuts.Load(), ok.Load(), failed.Load())
	if cuts.Load() <= 0 {
		t.Fatal("the burst ran while no connection was cut")
	}
	if serverErrors.String() != "" {
		t.Fatalf("a handler panicked: %s", serverErrors.String())
	}

	// A connection cut while idle fails the one request that next uses it,
	// and is then replaced: at most maxConns failures in all, then every
	// session works, with its data.
	failures := 0
	for i, c := range users {
		for {
			status, body := do(c, "/get?k=before")
			if status == http.StatusOK {
				if want := fmt.Sprint("data-", i); body != want {
					t.Fatalf("client %d: data written before the burst is %q, want %q", i, body, want)
				}
				break
			}
			if failures++; failures > maxConns {
				t.Fatalf("%d failures after the burst: the pool does not recover from cut connections (at most %d)", failures, maxConns)
			}
		}
	}
	for i, c := range users {
		status, body := do(c, "/get?k=before")
		if want := fmt.Sprint("data-", i); status != http.StatusOK || body != want {
			t.Fatalf("client %d: status %d, body %q; want 200 and %q", i, status, body, want)
		}
	}
}
