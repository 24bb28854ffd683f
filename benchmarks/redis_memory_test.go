package benchmarks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
)

// BenchmarkRedisMemoryPerSession reports the bytes Redis keeps per session
// (MEMORY USAGE, averaged over a sample of the keys) for sessions created
// through each library's middleware by a browser's request: a User-Agent of
// 70 bytes and one small value. It creates SESSION_BENCH_REDIS_SESSIONS
// sessions per library (default 10,000; BENCHMARKS.md quotes 1,000,000)
// under the run's key prefix and deletes them afterwards. MEMORY USAGE
// depends on a key's encoding, not on how many keys there are; the count
// only has to be large enough for the sample to be typical. Run it once:
// -benchtime 1x.
//
// Redis keeps a hash compactly only while every field fits in
// hash-max-listpack-value bytes; the User-Agent does not fit the default of
// 64, so run it twice on a server of its own, with CONFIG SET
// hash-max-listpack-value 64 and 256.
func BenchmarkRedisMemoryPerSession(b *testing.B) {
	env := newRedisEnv(b)
	n := 10_000
	if v := os.Getenv("SESSION_BENCH_REDIS_SESSIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("SESSION_BENCH_REDIS_SESSIONS=%q: want a positive count", v)
		}
	}
	ctx := context.Background()
	limit, err := env.admin.ConfigGet(ctx, "hash-max-listpack-value").Result()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("hash-max-listpack-value %s", limit["hash-max-listpack-value"])
	for _, name := range []string{"session", "scs"} {
		b.Run(name, func(b *testing.B) {
			c, _, prefix := env.client(b)
			l := newRedisLibrary(b, name, c, prefix)
			h := l.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := l.set(w, r, 3); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
				}
			}))
			for b.Loop() {
				for range n {
					r := httptest.NewRequest(http.MethodPost, "/", nil)
					r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d", w.Code)
					}
				}
			}
			var keys []string
			iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) && len(keys) < 1000 {
				keys = append(keys, iter.Val())
			}
			if err := iter.Err(); err != nil || len(keys) == 0 {
				b.Fatalf("no session keys under %s: %v", prefix, err)
			}
			var sum int64
			for _, k := range keys {
				used, err := c.MemoryUsage(ctx, k, 0).Result()
				if err != nil {
					b.Fatal(err)
				}
				sum += used
			}
			b.ReportMetric(float64(sum)/float64(len(keys)), "B/session")
			b.ReportMetric(0, "ns/op")
		})
	}
}
