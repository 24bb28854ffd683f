package redisstore

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session/internal/redistest"
	"github.com/stretchr/testify/require"
)

// Tests that need Redis servers of their own (a cluster, one to kill) start
// redis-server processes on free loopback ports, and stop them when they end.

// privateClient starts a redis-server of the test's own, for tests that
// change what the whole server keeps (SCRIPT FLUSH), and returns a client of
// it. It skips the test without redis-server.
func privateClient(t *testing.T) *redis.Client {
	t.Helper()
	srv := redistest.NewServer(t, t.TempDir())
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// startCluster starts three redis-server nodes in cluster mode, joins them
// into one cluster with every slot assigned, and returns their addresses.
func startCluster(t *testing.T) []string {
	t.Helper()
	redistest.RequireBinaries(t, "redis-server", "redis-cli")
	var addrs []string
	for range 3 {
		dir := t.TempDir()
		s := redistest.NewServer(t, dir, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--cluster-node-timeout", "5000")
		addrs = append(addrs, s.Addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	require.NoError(t, err, "redis-cli --cluster create: %s", out)
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		require.Eventually(t, func() bool {
			info, err := c.ClusterInfo(context.Background()).Result()
			return err == nil && containsLine(info, "cluster_state:ok")
		}, 30*time.Second, 50*time.Millisecond, "cluster node %s never reached cluster_state:ok", addr)
		_ = c.Close()
	}
	return addrs
}

// containsLine reports whether text, a reply like CLUSTER INFO's, has line.
func containsLine(text, line string) bool {
	return slices.Contains(strings.Split(strings.ReplaceAll(text, "\r", ""), "\n"), line)
}
