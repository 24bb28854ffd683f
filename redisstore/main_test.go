package redisstore_test

import (
	"flag"
	"fmt"
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
		skipExamples()
	}
	os.Exit(m.Run())
}

// skipExamples adds the examples to -test.skip, keeping the patterns the
// user gave, and says how to run them.
func skipExamples() {
	skip := flag.Lookup("test.skip").Value.String()
	if skip != "" {
		skip += "|"
	}
	_ = flag.Set("test.skip", skip+"^Example") // never fails: it is a string flag
	fmt.Printf("redisstore: skipped the examples, which need Redis: set %s=%s to run them\n",
		testenv.Redis.Env, testenv.Redis.Example)
}
