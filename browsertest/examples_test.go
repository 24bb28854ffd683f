package browsertest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// binDir holds the example binaries, built once per test run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "browsertest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "browsertest:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildExamples builds examples/cart and examples/login into binDir, once:
// the tests run the binaries users run. It builds only when a test gets
// that far, so that a machine without Chromium skips at no cost.
var buildExamples = sync.OnceValue(func() error {
	root, err := filepath.Abs("..") // the core module, holding examples/
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", binDir+string(filepath.Separator), "./examples/cart", "./examples/login")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build of the examples in %s: %v\n%s", root, err, out)
	}
	return nil
})

// startExample runs the example binary name on a free loopback port until t
// ends and returns its base URL, such as http://127.0.0.1:34567.
func startExample(t *testing.T, name string) string {
	t.Helper()
	require.NoError(t, buildExamples())
	var err error
	// The port is free when chosen but could be taken before the example
	// binds it; then the example exits, and another port is tried.
	for range 3 {
		var base string
		if base, err = tryStartExample(t, name); err == nil {
			return base
		}
	}
	require.NoError(t, err, "starting %s", name)
	return ""
}

func tryStartExample(t *testing.T, name string) (string, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
	output := &testenv.SyncBuffer{}
	cmd := exec.Command(filepath.Join(binDir, name), "-addr", addr)
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		if cmd.Process.Kill() == nil {
			<-exited
		}
	}

	base := "http://" + addr
	if err := waitServing(base, exited); err != nil {
		stop()
		return "", fmt.Errorf("%s on %s: %w; its output:\n%s", name, addr, err, output.String())
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s's output:\n%s", name, output.String())
		}
	})
	return base, nil
}

// waitServing polls base until it answers, the process exits, or 15 s pass.
func waitServing(base string, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("exited before serving (the port may have been taken): %v", err)
		case <-ctx.Done():
			return fmt.Errorf("not serving after 15s: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// statusWithCookie requests u presenting only the cookie name=value, as a
// copy of that cookie replayed outside the browser would, and returns the
// status without following redirects.
func statusWithCookie(t *testing.T, u, name, value string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: name, Value: value})
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}
