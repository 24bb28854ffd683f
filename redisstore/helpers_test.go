package redisstore

import (
	"crypto/rand"
	"encoding/base64"
	"net/netip"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/redistest"
	"github.com/stretchr/testify/require"
)

// testClient returns a client of the Redis named by SESSION_TEST_REDIS_URL,
// or skips the test.
func testClient(tb testing.TB) *redis.Client {
	tb.Helper()
	return redistest.Client(tb, "Redis store")
}

// testPrefix returns a key prefix of its own for one test and deletes the
// test's keys when it ends, so that runs never collide.
func testPrefix(tb testing.TB, c redis.UniversalClient) string {
	return redistest.Prefix(tb, c, "storetest:")
}

// newTestStore returns a store with a key prefix of its own.
func newTestStore(t testing.TB, c redis.UniversalClient, opts ...Option) *Store {
	t.Helper()
	s, err := New(c, append([]Option{WithKeyPrefix(testPrefix(t, c))}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
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
	values := map[string][]byte{}
	for i := 0; i+1 < len(kv); i += 2 {
		values[kv[i]] = []byte(kv[i+1])
	}
	return &session.Record{
		Values:    session.ValuesOf(values),
		User:      user,
		CreatedAt: now, LastSeen: now, IssuedAt: now,
		IdleDeadline:     now.Add(30 * time.Minute),
		AbsoluteDeadline: now.Add(12 * time.Hour),
		ClientIP:         netip.MustParseAddr("2001:db8::1"),
		UserAgent:        "redisstore-test",
	}
}
