package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session/internal/testenv"
)

// Client returns a client, as Connect does, of the Redis named by
// SESSION_TEST_REDIS_URL, or skips tb saying how to run "the what tests".
func Client(tb testing.TB, what string) *redis.Client {
	tb.Helper()
	return Connect(tb, testenv.Redis.URL(tb, what))
}

// Connect returns a client of the Redis at url with ContextTimeoutEnabled,
// as redisstore's documentation advises, closed when tb ends. It fails tb
// unless the server answers a PING within five seconds. Its messages name
// the server's address, never url, which may hold a password.
func Connect(tb testing.TB, url string) *redis.Client {
	tb.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("parsing the Redis URL: %v", err)
	}
	opt.ContextTimeoutEnabled = true
	c := redis.NewClient(opt)
	tb.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("Redis at %s, database %d: %v", opt.Addr, opt.DB, err)
	}
	return c
}
