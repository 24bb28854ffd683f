package faulttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
	"github.com/sessionid/session/pgstore"
	"github.com/sessionid/session/redisstore"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

const (
	// storeErrorBody is what the error handler answers, with a 500, for a
	// request whose session could not be loaded or saved.
	storeErrorBody = "session store unavailable\n"
	// guardTimeout ends a request that hangs, so that a hang fails the test
	// instead of blocking it.
	guardTimeout = 10 * time.Second
	// leakGrace is how long goroutines may take to end once their owners
	// were closed.
	leakGrace = 5 * time.Second
)

// verifyNoLeaks checks, when the test ends and after every cleanup
// registered later has run, that the test left no goroutine behind. Call it
// first in a test.
//
// Some goroutines end a moment after what owns them was closed: go-redis's
// dial prober, started while Redis was down, sleeps up to a second before it
// sees its pool closed. So it waits up to leakGrace for the goroutines to
// end, then reports those left.
func verifyNoLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		deadline := time.Now().Add(leakGrace)
		for goleak.Find(ignore) != nil && time.Now().Before(deadline) { // Find itself retries for about half a second
		}
		goleak.VerifyNone(t, ignore)
	})
}

// appHandler is the application behind the manager:
//
//	GET  /get?k=K        the session's string value K
//	GET  /set?k=K&v=V    sets K to V, answers "ok"
//	POST /login user=U   logs the session in as U (a new ID)
//	POST /incr           adds one to the counter "n", answers its new value
//	GET  /whoami         "user|n": the session's user and counter
//	POST /renew          gives the session a new ID
//	POST /logout         ends the session
func appHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		v, _ := session.Value[string](session.FromContext(r.Context()), r.URL.Query().Get("k"))
		_, _ = io.WriteString(w, v)
	})
	mux.HandleFunc("GET /set", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set(r.URL.Query().Get("k"), r.URL.Query().Get("v"))
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		answer(w, session.FromContext(r.Context()).Login(r.PostFormValue("user")))
	})
	mux.HandleFunc("POST /incr", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := session.Value[int](s, "n")
		s.Set("n", n+1)
		_, _ = io.WriteString(w, strconv.Itoa(n+1))
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := session.Value[int](s, "n")
		_, _ = fmt.Fprintf(w, "%s|%d", s.User(), n)
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		answer(w, session.FromContext(r.Context()).Renew())
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		answer(w, session.FromContext(r.Context()).Invalidate())
	})
	return mux
}

// answer writes "ok", or a 500 naming err.
func answer(w http.ResponseWriter, err error) {
	if err != nil {
		http.Error(w, "handler: "+err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

// newManager returns a manager with a quiet logger and an error handler that
// answers storeErrorBody, closed when the test ends.
func newManager(t *testing.T, opts ...session.Option) *session.Manager {
	t.Helper()
	m, err := session.New(append([]session.Option{
		session.WithLogger(slog.New(slog.DiscardHandler)),
		session.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, _ error) {
			http.Error(w, strings.TrimSuffix(storeErrorBody, "\n"), http.StatusInternalServerError)
		}),
	}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m
}

// withDeadline gives every request's context a deadline of d, which bounds
// the store calls made for it.
func withDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// startApp serves h on a loopback httptest server, closed when the test
// ends, and returns it with the buffer its ErrorLog writes to: net/http logs
// a handler's panic there.
func startApp(t *testing.T, h http.Handler) (*httptest.Server, *syncBuffer) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	errs := &syncBuffer{}
	srv.Config.ErrorLog = log.New(errs, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, errs
}

// syncBuffer is a bytes.Buffer that is safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTransport returns a transport that keeps up to conns idle connections
// to the test server, so that load does not churn through ports, and closes
// them when the test ends.
func newTransport(t *testing.T, conns int) *http.Transport {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxIdleConns: conns}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// newBrowser returns a client with a cookie jar of its own, as a browser.
func newBrowser(t *testing.T, tr http.RoundTripper) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Transport: tr, Timeout: guardTimeout}
}

// do sends one request and returns its status, its body and how long the
// answer took; err is a transport error (a hang that hit guardTimeout, or a
// connection dropped by a panic).
func do(c *http.Client, method, url string) (status int, body string, took time.Duration, err error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return 0, "", 0, err
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", time.Since(start), err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), time.Since(start), err
}

// randomName returns prefix followed by random hex, a valid SQL identifier.
func randomName(t testing.TB, prefix string) string {
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return prefix + hex.EncodeToString(b[:])
}

// requireLoopback skips the test unless host names this machine: the tests
// only send load to loopback servers.
func requireLoopback(t *testing.T, env, host string) {
	t.Helper()
	if strings.HasPrefix(host, "/") || host == "localhost" {
		return
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return
	}
	t.Skipf("%s points at %q: these tests only send load to a server on 127.0.0.1", env, host)
}

// serverURL returns the URL in the environment variable env, or skips the
// test, saying how to run it: example is such a URL, what names the server.
func serverURL(t *testing.T, env, example, what string) string {
	t.Helper()
	url := os.Getenv(env)
	if url == "" {
		t.Skipf("set %s=%s to run the %s tests", env, example, what)
	}
	return url
}

// postgresURL returns SESSION_TEST_POSTGRES_URL, or skips the test.
func postgresURL(t *testing.T) string {
	t.Helper()
	url := serverURL(t, "SESSION_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test", "PostgreSQL")
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	requireLoopback(t, "SESSION_TEST_POSTGRES_URL", cfg.Host)
	return url
}

// adminConn returns a connection of its own to the test database, outside
// any pool, closed when the test ends.
func adminConn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// newPGStore returns a migrated store on pool, in a schema with a random
// name that admin drops, with everything in it, when the test ends.
func newPGStore(t *testing.T, admin *pgx.Conn, pool *pgxpool.Pool) *pgstore.Store {
	t.Helper()
	schema := randomName(t, "faulttest_")
	ctx := context.Background()
	_, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		require.NoError(t, err)
	})
	s, err := pgstore.New(pool, pgstore.WithTable(schema+".sessions"), pgstore.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(ctx))
	return s
}

// newPool returns a pool on url with at most maxConns connections, closed
// when the test ends. A non-empty app becomes its application_name.
func newPool(t *testing.T, url, app string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.MaxConns = maxConns
	if app != "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = app
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// newRedisStore returns a store on the Redis named by SESSION_TEST_REDIS_URL,
// under a key prefix of its own whose keys are deleted when the test ends,
// or skips the test.
func newRedisStore(t *testing.T) *redisstore.Store {
	t.Helper()
	url := serverURL(t, "SESSION_TEST_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis")
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	host, _, err := net.SplitHostPort(opt.Addr)
	require.NoError(t, err)
	requireLoopback(t, "SESSION_TEST_REDIS_URL", host)
	opt.ContextTimeoutEnabled = true
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Ping(context.Background()).Err(), "Redis at %s", url)
	prefix := randomName(t, "faulttest:") + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			require.NoError(t, c.Del(ctx, iter.Val()).Err())
		}
		require.NoError(t, iter.Err())
	})
	s, err := redisstore.New(c, redisstore.WithKeyPrefix(prefix))
	require.NoError(t, err)
	return s
}
