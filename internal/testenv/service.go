package testenv

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// Service is a server the tests reach through an environment variable that
// holds its URL. Tests that need it skip where the variable is unset, so
// that the suite runs, with less coverage, on a machine without it.
type Service struct {
	Env     string // the environment variable
	Example string // a URL for the server CI starts, shown when a test skips
}

// Redis and Postgres are the servers of the store tests, the fault tests and
// the benchmarks; CI starts them, and MySQL, on 127.0.0.1.
var (
	Redis    = Service{Env: "SESSION_TEST_REDIS_URL", Example: "redis://127.0.0.1:6379/0"}
	Postgres = Service{Env: "SESSION_TEST_POSTGRES_URL", Example: "postgres://postgres@127.0.0.1:5432/test"}
	// MySQL is the server of the MySQL store's tests (MariaDB in CI); its
	// variable holds a go-sql-driver DSN rather than a URL.
	MySQL = Service{Env: "SESSION_TEST_MYSQL_DSN", Example: "root@tcp(127.0.0.1:3306)/test"}
)

// URL returns the service's URL, or skips tb saying how to run "the what
// tests", such as "set SESSION_TEST_REDIS_URL=redis://127.0.0.1:6379/0 to
// run the Redis store tests".
func (s Service) URL(tb testing.TB, what string) string {
	tb.Helper()
	url := os.Getenv(s.Env)
	if url == "" {
		tb.Skipf("set %s=%s to run the %s tests", s.Env, s.Example, what)
	}
	return url
}

// SkipExamples leaves the Example functions of the package out of the run,
// as they cannot skip themselves, by adding them to -test.skip (keeping the
// patterns given), and prints a line saying they need the service: pkg and
// what name the package and the server. Call it from TestMain, after
// flag.Parse, where the service's variable is unset.
func (s Service) SkipExamples(pkg, what string) {
	skip := flag.Lookup("test.skip").Value.String()
	if skip != "" {
		skip += "|"
	}
	_ = flag.Set("test.skip", skip+"^Example") // never fails: it is a string flag
	fmt.Printf("%s: skipped the examples, which need %s: set %s=%s to run them\n", pkg, what, s.Env, s.Example)
}
