package redisstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// tracker keeps the local cache's invalidation channel to one Redis node: a
// connection of its own on which the node pushes the name of every key under
// the store's session prefix that any client writes (CLIENT TRACKING in
// broadcast mode, RESP3). Broadcast mode needs no tracking on the
// connections that read, so the store reads through the application's own
// client.
//
// The tracker sends ROLE every probe interval. A reply that does not come
// within the probe timeout, a node that is no longer a primary, a read
// error: each breaks the channel, and the cache is dropped at once (see
// localCache.down) until a new connection tracks again. Replies arrive in
// order after the pushes the node queued before them, which makes a probe
// also a barrier: once it returns, every write that finished before it was
// sent has been applied to the cache (see sync).
type tracker struct {
	cache  *localCache
	opt    *redis.Options // how to reach and authenticate to the node
	prefix string         // the keys to be told of
	probe  time.Duration
	stop   chan struct{}
	done   chan struct{}
	id     atomic.Int64 // the connection's CLIENT ID, for tests and operators

	mu      sync.Mutex
	conn    net.Conn        // nil while the channel is down
	waiters []chan struct{} // one per probe sent and not yet answered
}

// newTracker starts a tracker of node; it counts as down until it tracks.
func newTracker(cache *localCache, node *redis.Options, prefix string, probe time.Duration) *tracker {
	cache.unhealthy.Add(1)
	t := &tracker{cache: cache, opt: node, prefix: prefix, probe: probe, stop: make(chan struct{}), done: make(chan struct{})}
	go t.run()
	return t
}

// close stops the tracker and waits for it; it leaves the cache's health
// count as if the tracker had never been.
func (t *tracker) close() {
	close(t.stop)
	<-t.done
	t.cache.unhealthy.Add(-1)
}

// run keeps a channel open, retrying with a growing pause, until close.
func (t *tracker) run() {
	defer close(t.done)
	pause := 10 * time.Millisecond
	for {
		if tracked := t.session(); tracked {
			pause = 10 * time.Millisecond
		}
		select {
		case <-t.stop:
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}

// session opens one channel and serves it until it breaks or the tracker
// stops. It reports whether the channel ever tracked.
func (t *tracker) session() (tracked bool) {
	conn, r, err := t.connect()
	if err != nil {
		return false
	}
	t.mu.Lock()
	t.conn = conn
	t.mu.Unlock()
	t.cache.up()
	defer func() {
		t.cache.down()
		t.mu.Lock()
		t.conn = nil
		for _, w := range t.waiters {
			close(w) // the cache is dropped: their barrier holds
		}
		t.waiters = nil
		t.mu.Unlock()
		conn.Close()
	}()

	broken := make(chan struct{})
	go func() {
		defer close(broken)
		t.read(r)
	}()
	tick := time.NewTicker(t.probe)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			conn.Close()
			<-broken
			return true
		case <-broken:
			return true
		case <-tick.C:
			if !t.probeAnswered(t.sendProbe(), t.probe) {
				conn.Close()
				<-broken
				return true
			}
		}
	}
}

// connect dials the node and turns tracking on.
func (t *tracker) connect() (net.Conn, *bufio.Reader, error) {
	ctx, cancel := context.WithTimeout(context.Background(), max(t.opt.DialTimeout, time.Second))
	defer cancel()
	conn, err := t.opt.Dialer(ctx, t.opt.Network, t.opt.Addr)
	if err != nil {
		return nil, nil, err
	}
	hello, err := t.hello(ctx)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	cmds := appendCommand(nil, hello...)
	cmds = appendCommand(cmds, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", t.prefix)
	cmds = appendCommand(cmds, "ROLE")
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	r := bufio.NewReader(conn)
	_, err = conn.Write(cmds)
	for i := 0; i < 3 && err == nil; i++ {
		var v any
		if v, err = readRESP(r); err != nil {
			break
		}
		if e, ok := v.(respError); ok {
			err = e
		} else if i == 0 {
			t.id.Store(helloID(v))
		} else if i == 2 && !isPrimary(v) {
			err = errors.New("not a primary")
		}
	}
	if err == nil {
		err = conn.SetDeadline(time.Time{})
	}
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("redisstore: turning tracking on at %s: %w", t.opt.Addr, err)
	}
	return conn, r, nil
}

// hello returns the HELLO command that selects RESP3 and authenticates as
// the application's client does.
func (t *tracker) hello(ctx context.Context) ([]string, error) {
	user, pass := t.opt.Username, t.opt.Password
	switch {
	case t.opt.CredentialsProviderContext != nil:
		var err error
		if user, pass, err = t.opt.CredentialsProviderContext(ctx); err != nil {
			return nil, err
		}
	case t.opt.CredentialsProvider != nil:
		user, pass = t.opt.CredentialsProvider()
	}
	if pass == "" {
		return []string{"HELLO", "3"}, nil
	}
	if user == "" {
		user = "default"
	}
	return []string{"HELLO", "3", "AUTH", user, pass}, nil
}

// read applies the node's pushes and answers probes until the connection
// fails.
func (t *tracker) read(r *bufio.Reader) {
	for {
		v, err := readRESP(r)
		if err != nil {
			return
		}
		if push, ok := v.(respPush); ok {
			t.invalidated(push)
			continue
		}
		if !isPrimary(v) {
			return // a replica now, or an error: this channel tells nothing
		}
		t.mu.Lock()
		if len(t.waiters) > 0 {
			close(t.waiters[0])
			t.waiters = t.waiters[1:]
		}
		t.mu.Unlock()
	}
}

// invalidated applies an invalidation push: the keys written, or nil when
// the node was flushed.
func (t *tracker) invalidated(push respPush) {
	if len(push) != 2 || push[0] != "invalidate" {
		return
	}
	keys, ok := push[1].([]any)
	if !ok {
		t.cache.dropAll()
		return
	}
	for _, k := range keys {
		if s, ok := k.(string); ok {
			t.cache.invalidate(s)
		}
	}
}

// helloID returns the connection ID in HELLO's reply, a map, or 0.
func helloID(v any) int64 {
	m, _ := v.([]any)
	for i := 0; i+1 < len(m); i += 2 {
		if m[i] == "id" {
			id, _ := m[i+1].(int64)
			return id
		}
	}
	return 0
}

// isPrimary reports whether v is ROLE's reply of a primary.
func isPrimary(v any) bool {
	role, ok := v.([]any)
	return ok && len(role) > 0 && role[0] == "master"
}

// sendProbe sends ROLE and returns the channel its reply closes; a closed
// channel if the channel is down.
func (t *tracker) sendProbe() chan struct{} {
	w := make(chan struct{})
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil {
		close(w)
		return w
	}
	_ = t.conn.SetWriteDeadline(time.Now().Add(t.probe))
	if _, err := t.conn.Write(appendCommand(nil, "ROLE")); err != nil {
		t.conn.Close()
		close(w)
		return w
	}
	t.waiters = append(t.waiters, w)
	return w
}

// probeAnswered waits up to timeout for w.
func (t *tracker) probeAnswered(w chan struct{}, timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-w:
		return true
	case <-timer.C:
		return false
	}
}

// sync returns once every write that finished before it was called has been
// applied to the cache, or the cache was dropped, or ctx is done.
func (t *tracker) sync(ctx context.Context) error {
	w := t.sendProbe()
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		// The cache may still hold what the writes changed: drop it.
		t.cache.dropAll()
		return ctx.Err()
	}
}

// errNoCache is returned by New for a client the local cache cannot track.
var errNoCache = errors.New("redisstore: WithLocalCache needs a *redis.Client or a *redis.ClusterClient")

// trackers keeps a tracker for each primary the client writes to: one for
// a *redis.Client, and for a *redis.ClusterClient one per primary, following
// the cluster's topology.
type trackers struct {
	cache   *localCache
	prefix  string
	probe   time.Duration
	cluster *redis.ClusterClient // nil for one node
	stop    chan struct{}
	done    chan struct{}

	mu     sync.Mutex
	byAddr map[string]*tracker
}

func startTrackers(client redis.UniversalClient, cache *localCache, prefix string, probe time.Duration) (*trackers, error) {
	ts := &trackers{cache: cache, prefix: prefix, probe: probe, stop: make(chan struct{}), done: make(chan struct{}), byAddr: map[string]*tracker{}}
	switch c := client.(type) {
	case *redis.Client:
		opt := c.Options()
		ts.byAddr[opt.Addr] = newTracker(cache, opt, prefix, probe)
		close(ts.done)
	case *redis.ClusterClient:
		ts.cluster = c
		cache.unhealthy.Add(1) // until the first look at the topology
		go ts.watch()
	default:
		return nil, errNoCache
	}
	return ts, nil
}

// watch follows the cluster's primaries: a tracker for each, and the cache
// dropped while the set changes.
func (ts *trackers) watch() {
	defer close(ts.done)
	known := false
	tick := time.NewTicker(ts.probe)
	defer tick.Stop()
	for {
		if ts.refresh() && !known {
			known = true
			ts.cache.up()
		}
		select {
		case <-ts.stop:
			if !known {
				ts.cache.up()
			}
			return
		case <-tick.C:
		}
	}
}

// refresh starts and stops trackers to match the cluster's primaries. It
// reports whether it could see them.
func (ts *trackers) refresh() bool {
	ctx, cancel := context.WithTimeout(context.Background(), max(ts.probe, time.Second))
	defer cancel()
	if ts.cache.unhealthy.Load() != 0 {
		// A tracker is down: perhaps its node is a replica now.
		ts.cluster.ReloadState(ctx)
	}
	var mu sync.Mutex
	primaries := map[string]*redis.Options{}
	err := ts.cluster.ForEachMaster(ctx, func(_ context.Context, node *redis.Client) error {
		opt := node.Options()
		mu.Lock()
		primaries[opt.Addr] = opt
		mu.Unlock()
		return nil
	})
	if err != nil || len(primaries) == 0 {
		return false
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	same := len(primaries) == len(ts.byAddr)
	for addr := range primaries {
		if ts.byAddr[addr] == nil {
			same = false
		}
	}
	if same {
		return true
	}
	ts.cache.down() // a primary the cache has not heard from may have written
	for addr, t := range ts.byAddr {
		if primaries[addr] == nil {
			t.close()
			delete(ts.byAddr, addr)
		}
	}
	for addr, opt := range primaries {
		if ts.byAddr[addr] == nil {
			ts.byAddr[addr] = newTracker(ts.cache, opt, ts.prefix, ts.probe)
		}
	}
	ts.cache.up()
	return true
}

// sync waits until every write that finished before it was called has been
// applied to the cache (see tracker.sync).
func (ts *trackers) sync(ctx context.Context) error {
	ts.mu.Lock()
	all := make([]*tracker, 0, len(ts.byAddr))
	for _, t := range ts.byAddr {
		all = append(all, t)
	}
	ts.mu.Unlock()
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, t := range all {
		wg.Go(func() { errs[i] = t.sync(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// close stops every tracker.
func (ts *trackers) close() {
	close(ts.stop)
	<-ts.done
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for addr, t := range ts.byAddr {
		t.close()
		delete(ts.byAddr, addr)
	}
}
