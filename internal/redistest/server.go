package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// clusterBusOffset is how far above its port a Redis Cluster node listens
// for the other nodes.
const clusterBusOffset = 10000

// Server is a redis-server process owned by one test, on a loopback port of
// its own, for tests that kill Redis or change what the whole server keeps.
// It saves nothing unless its arguments ask for it. It is not safe for
// concurrent use.
type Server struct {
	tb   testing.TB
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
}

// NewServer starts redis-server on a free loopback port, whose cluster bus
// port is free too, with its files in dir and the extra args, waits until
// it answers, and kills it when tb ends. It skips tb when redis-server is
// not on PATH.
func NewServer(tb testing.TB, dir string, args ...string) *Server {
	tb.Helper()
	RequireBinaries(tb, "redis-server")
	s := &Server{tb: tb, port: testenv.FreePort(tb, clusterBusOffset), dir: dir, args: args}
	tb.Cleanup(s.Kill)
	s.Start()
	return s
}

// RequireBinaries skips tb unless each of the named Redis programs, such as
// redis-server and redis-cli, is on PATH.
func RequireBinaries(tb testing.TB, names ...string) {
	tb.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			tb.Skipf("%s is not on PATH: install Redis (apt-get install redis-server) to run this test", name)
		}
	}
}

// Addr returns the server's address, 127.0.0.1:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Start runs redis-server, with the same port, directory and arguments
// every time, and waits until it answers PING: NewServer starts it, and a
// test starts it again after Kill. Its output goes to redis-PORT.log in
// the directory.
func (s *Server) Start() {
	s.tb.Helper()
	require.Nil(s.tb, s.cmd, "redis-server is already running")
	args := append([]string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "",
		"--daemonize", "no", "--dir", s.dir}, s.args...)
	logPath := filepath.Join(s.dir, fmt.Sprintf("redis-%d.log", s.port))
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(s.tb, err)
	defer log.Close()
	s.cmd = exec.Command("redis-server", args...)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	require.NoError(s.tb, s.cmd.Start())
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	require.Eventually(s.tb, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		return c.Ping(ctx).Err() == nil
	}, 10*time.Second, 20*time.Millisecond, "redis-server on %s did not answer; see %s", s.Addr(), logPath)
}

// Kill stops the server at once (SIGKILL, no chance to save anything) and
// waits for it; it does nothing if the server is not running.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
