package redisstore

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// Tests that need Redis servers of their own (a cluster, one to kill) start
// redis-server processes on free loopback ports, and stop them when they end.

// requireRedisBinaries skips the test unless redis-server and redis-cli are
// on PATH.
func requireRedisBinaries(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not on PATH: install Redis (apt-get install redis-server) to run this test", bin)
		}
	}
}

var (
	portsMu sync.Mutex
	ports   = map[int]bool{} // handed out in this process
)

// freePort returns a loopback port that is free now, and so is its cluster
// bus port (port+10000), and that this process has not handed out before.
func freePort(t *testing.T) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		port := listenAndClose("127.0.0.1:0")
		if port == 0 || port >= 65535-10000 || ports[port] || listenAndClose(fmt.Sprint("127.0.0.1:", port+10000)) == 0 {
			continue
		}
		ports[port] = true
		return port
	}
	t.Fatal("no free port pair found")
	return 0
}

// listenAndClose returns the port it could listen on at addr, or 0.
func listenAndClose(addr string) int {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// server is a redis-server process owned by a test.
type server struct {
	t    *testing.T
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
}

// startServer starts redis-server on port with its files in dir, waits
// until it answers, and stops it when the test ends.
func startServer(t *testing.T, port int, dir string, args ...string) *server {
	t.Helper()
	s := &server{t: t, port: port, dir: dir, args: args}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *server) start() {
	s.t.Helper()
	args := append([]string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--dir", s.dir,
	}, s.args...)
	log, err := os.OpenFile(filepath.Join(s.dir, fmt.Sprintf("redis-%d.log", s.port)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(s.t, err)
	defer log.Close()
	s.cmd = exec.Command("redis-server", args...)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	require.NoError(s.t, s.cmd.Start())
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	require.Eventually(s.t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		return c.Ping(ctx).Err() == nil
	}, 10*time.Second, 20*time.Millisecond, "redis-server on port %d did not answer; see %s", s.port, s.dir)
}

// kill stops the server at once (SIGKILL) and waits for it; it does
// nothing if the server is not running.
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// privateClient starts a redis-server of the test's own, for tests that
// change what the whole server keeps (SCRIPT FLUSH), and returns a client of
// it. It skips the test without redis-server.
func privateClient(t *testing.T) *redis.Client {
	t.Helper()
	requireRedisBinaries(t)
	srv := startServer(t, freePort(t), t.TempDir())
	c := redis.NewClient(&redis.Options{Addr: srv.addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// startCluster starts three redis-server nodes in cluster mode, joins them
// into one cluster with every slot assigned, and returns their addresses.
func startCluster(t *testing.T) []string {
	t.Helper()
	requireRedisBinaries(t)
	dir := t.TempDir()
	var addrs []string
	for range 3 {
		port := freePort(t)
		conf := filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", port))
		s := startServer(t, port, dir, "--cluster-enabled", "yes", "--cluster-config-file", conf, "--cluster-node-timeout", "5000")
		addrs = append(addrs, s.addr())
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
