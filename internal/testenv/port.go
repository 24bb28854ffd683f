package testenv

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

var (
	portsMu sync.Mutex
	ports   = map[int]bool{} // handed out by FreePort in this process
)

// FreePort returns a loopback TCP port that is free now, as is port+offset
// for each offset (Redis Cluster also listens on its port+10000), and that
// no earlier call in this process returned, so that two servers of one test
// run never get the same port. It fails tb when 100 tries find none.
func FreePort(tb testing.TB, offsets ...int) int {
	tb.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		port := listenAndClose(0)
		if port == 0 || ports[port] || !allFree(port, offsets) {
			continue
		}
		ports[port] = true
		return port
	}
	tb.Fatal("no free loopback port found")
	return 0
}

// allFree reports whether port+offset is a port, and free, for each offset.
func allFree(port int, offsets []int) bool {
	for _, off := range offsets {
		if p := port + off; p > 65535 || listenAndClose(p) != p {
			return false
		}
	}
	return true
}

// listenAndClose returns the loopback port it could listen on, port itself
// or any free one for 0, and 0 if it could not.
func listenAndClose(port int) int {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
