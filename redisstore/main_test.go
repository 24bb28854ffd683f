package redisstore_test

import (
	"flag"
	"os"
	"testing"

	"github.com/sessionid/session/internal/testenv"
)

// TestMain runs the examples against the Redis of SESSION_TEST_REDIS_URL,
// which they find, as an application does, in REDIS_URL. An example cannot
// skip: where the variable is unset, the examples are left out of the run,
// and a line says so.
func TestMain(m *testing.M) {
	flag.Parse()
	if url := os.Getenv(testenv.Redis.Env); url != "" {
		os.Setenv("REDIS_URL", url)
	} else {
		testenv.Redis.SkipExamples("redisstore", "Redis")
	}
	os.Exit(m.Run())
}
