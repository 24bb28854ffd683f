package faulttest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/pgtest"
	"github.com/sessionid/session/internal/redistest"
	"github.com/sessionid/session/internal/testapp"
	"github.com/sessionid/session/internal/testenv"
	"github.com/sessionid/session/mysqlstore"
	"github.com/sessionid/session/pgstore"
	"github.com/sessionid/session/redisstore"
	"github.com/sessionid/session/sqlitestore"
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
	mux := testapp.Values()
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

// newTransport returns a transport that keeps up to conns idle connections
// to the test server, so that load does not churn through ports, and closes
// them when the test ends.
func newTransport(t *testing.T, conns int) *http.Transport {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxIdleConns: conns}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// newBrowser returns a client with a cookie jar of its own, as a browser,
// that gives up on an answer after guardTimeout.
func newBrowser(tr http.RoundTripper) *http.Client {
	c := testenv.NewBrowser()
	c.Transport, c.Timeout = tr, guardTimeout
	return c
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

// postgresURL returns SESSION_TEST_POSTGRES_URL, or skips the test.
func postgresURL(t *testing.T) string {
	t.Helper()
	url := testenv.Postgres.URL(t, "PostgreSQL")
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	requireLoopback(t, testenv.Postgres.Env, cfg.Host)
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
	schema := pgtest.Schema(t, admin, "faulttest_")
	s, err := pgstore.New(pool, pgstore.WithTable(schema+".sessions"), pgstore.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(context.Background()))
	return s
}

// newPool returns a pool on url with at most maxConns connections, closed
// when the test ends. A non-empty app becomes its application_name.
func newPool(t *testing.T, url, app string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	return pgtest.Pool(t, url, func(cfg *pgxpool.Config) {
		cfg.MaxConns = maxConns
		if app != "" {
			cfg.ConnConfig.RuntimeParams["application_name"] = app
		}
	})
}

// newRedisStore returns a store on the Redis named by SESSION_TEST_REDIS_URL,
// under a key prefix of its own whose keys are deleted when the test ends,
// or skips the test.
func newRedisStore(t *testing.T) *redisstore.Store {
	t.Helper()
	url := testenv.Redis.URL(t, "Redis")
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	host, _, err := net.SplitHostPort(opt.Addr)
	require.NoError(t, err)
	requireLoopback(t, testenv.Redis.Env, host)
	c := redistest.Connect(t, url)
	s, err := redisstore.New(c, redisstore.WithKeyPrefix(redistest.Prefix(t, c, "faulttest:")))
	require.NoError(t, err)
	return s
}

// newSQLiteStore returns a store on a file in a directory of the test's own,
// closed when the test ends.
func newSQLiteStore(t *testing.T) *sqlitestore.Store {
	t.Helper()
	return openSQLiteStore(t, filepath.Join(t.TempDir(), "sessions.db"))
}

// openSQLiteStore returns a store on the file at path, closed when the test
// ends.
func openSQLiteStore(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(path, sqlitestore.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// mysqlConfig returns the configuration that SESSION_TEST_MYSQL_DSN holds,
// or skips the test.
func mysqlConfig(t *testing.T) *mysql.Config {
	t.Helper()
	cfg, err := mysql.ParseDSN(testenv.MySQL.URL(t, "MySQL"))
	require.NoError(t, err, "parsing %s", testenv.MySQL.Env)
	host := cfg.Addr
	if cfg.Net == "tcp" {
		host, _, err = net.SplitHostPort(cfg.Addr)
		require.NoError(t, err)
	}
	requireLoopback(t, testenv.MySQL.Env, host)
	return cfg
}

// newMySQLStore returns a migrated store on the server named by
// SESSION_TEST_MYSQL_DSN, with a pool of at most 8 connections, on tables
// with a random name that are dropped, with everything in them, when the
// test ends; or skips the test.
func newMySQLStore(t *testing.T) *mysqlstore.Store {
	t.Helper()
	cfg := mysqlConfig(t)
	table := testenv.RandomName("faulttest_")
	s, err := mysqlstore.New(cfg, mysqlstore.WithTable(table), mysqlstore.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	// Runs before Close: the values table first, as it refers to the other.
	t.Cleanup(func() {
		_, err := s.DB().Exec("DROP TABLE IF EXISTS `" + table + "_values`, `" + table + "`")
		require.NoError(t, err)
	})
	s.DB().SetMaxOpenConns(8)
	s.DB().SetMaxIdleConns(8)
	require.NoError(t, s.Migrate(context.Background()))
	return s
}
