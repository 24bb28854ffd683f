package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session/internal/testenv"
)

// Prefix returns a key prefix of the test's own, name followed by random hex
// and a colon, and deletes every key under it through c when tb ends, so
// that tests sharing one Redis never see each other's keys nor leave any
// behind.
func Prefix(tb testing.TB, c redis.UniversalClient, name string) string {
	prefix := testenv.RandomName(name) + ":"
	tb.Cleanup(func() { DeleteKeys(tb, c, prefix) })
	return prefix
}

// DeleteKeys deletes every key under prefix, on every primary of a cluster.
// A failure is logged, not fatal: it leaves keys behind that no other test
// reads.
func DeleteKeys(tb testing.TB, c redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return deleteOn(ctx, node, prefix)
		})
	} else {
		err = deleteOn(ctx, c, prefix)
	}
	if err != nil {
		tb.Logf("deleting the test keys under %s: %v", prefix, err)
	}
}

// deleteOn deletes the keys under prefix that node holds, a thousand to a
// round trip, one UNLINK each: a cluster node refuses one command on keys
// of different slots.
func deleteOn(ctx context.Context, node redis.UniversalClient, prefix string) error {
	iter := node.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	pipe := node.Pipeline()
	for iter.Next(ctx) {
		pipe.Unlink(ctx, iter.Val())
		if pipe.Len() == 1000 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	_, err := pipe.Exec(ctx)
	return err
}
