package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
	"github.com/stretchr/testify/require"
)

// envURL names the variable that points the tests at a Redis they may write
// to (under random key prefixes, which they delete afterwards).
const envURL = "SESSION_TEST_REDIS_URL"

// testClient returns a client of the Redis named by SESSION_TEST_REDIS_URL,
// or skips the test.
func testClient(t testing.TB) *redis.Client {
	t.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		t.Skip("set SESSION_TEST_REDIS_URL=redis://127.0.0.1:6379/0 to run the Redis store tests")
	}
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	opt.ContextTimeoutEnabled = true
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Ping(context.Background()).Err(), "Redis at %s", url)
	return c
}

// testPrefix returns a key prefix of its own for one test and deletes the
// test's keys when it ends, so that runs never collide.
func testPrefix(t testing.TB, c redis.UniversalClient) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "storetest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() { deleteKeys(t, c, prefix) })
	return prefix
}

// deleteKeys deletes every key under prefix, on every primary of a cluster.
func deleteKeys(t testing.TB, c redis.UniversalClient, prefix string) {
	ctx := context.Background()
	del := func(ctx context.Context, node redis.UniversalClient) error {
		iter := node.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := node.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return del(ctx, node) })
	} else {
		err = del(ctx, c)
	}
	if err != nil {
		t.Logf("deleting test keys under %s: %v", prefix, err)
	}
}

// newTestStore returns a store with a key prefix of its own.
func newTestStore(t testing.TB, c redis.UniversalClient, opts ...Option) *Store {
	t.Helper()
	s, err := New(c, append([]Option{WithKeyPrefix(testPrefix(t, c))}, opts...)...)
	require.NoError(t, err)
	return s
}

// newKey returns a fresh key shaped like the manager's.
func newKey(t testing.TB) string {
	var b [32]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// liveRecord returns a record that lives for half an hour.
func liveRecord(user string, kv ...string) *session.Record {
	now := time.Now()
	rec := &session.Record{
		Values:    map[string][]byte{},
		User:      user,
		CreatedAt: now, LastSeen: now, IssuedAt: now,
		IdleDeadline:     now.Add(30 * time.Minute),
		AbsoluteDeadline: now.Add(12 * time.Hour),
		ClientIP:         netip.MustParseAddr("2001:db8::1"),
		UserAgent:        "redisstore-test",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		rec.Values[kv[i]] = []byte(kv[i+1])
	}
	return rec
}

// counter is a go-redis hook that records the commands a client sends and
// its round trips: one per command, one per pipeline.
type counter struct {
	mu    sync.Mutex
	trips int
	names []string
}

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.record(cmd)
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.record(cmds...)
		return next(ctx, cmds)
	}
}

func (c *counter) record(cmds ...redis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trips++
	for _, cmd := range cmds {
		c.names = append(c.names, cmd.Name())
	}
}

// take returns the round trips and command names since the last take.
func (c *counter) take() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	trips, names := c.trips, strings.Join(c.names, " ")
	c.trips, c.names = 0, nil
	return trips, names
}
