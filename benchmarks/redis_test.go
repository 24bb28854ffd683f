package benchmarks

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/redistest"
	"github.com/sessionid/session/internal/testenv"
	"github.com/sessionid/session/redisstore"
)

// The Redis workloads: the requests of BenchmarkRead and BenchmarkWrite with
// the sessions in a real Redis,
// this library's redisstore against scs's goredisstore, both on go-redis
// clients with the same options. Besides time and allocations they report
// what each request sends to Redis, counted by a go-redis hook on the
// library's own client:
//
//   - roundtrips/op: one per command sent alone, one per pipeline;
//   - writes/op: commands that Redis's command table (COMMAND INFO) flags
//     "write", plus every script call (EVAL, EVALSHA, FCALL), which Redis
//     does not flag because a script may or may not write; the only scripts
//     these stores run write (redisstore's create and update scripts).
//
// The hook counts this client's commands only, where the server's INFO
// commandstats also counts whatever else uses the same Redis. The
// benchmarks read INFO commandstats before and after the timed loop as a
// cross-check: when the server counted exactly the calls the hook saw (of
// the commands the hook saw), nobody else ran those commands meanwhile, and
// the delta of their execution time, divided by b.N, is reported as
// server-us/op: the time Redis spent executing a request's commands, I/O
// not included. Otherwise that metric is left out.

// redisLibraryNames lists the libraries of the Redis workloads in table
// order. "session-cached" is this library with redisstore's local cache
// (WithLocalCache), warmed before the timed loop. "ping" is the floor: no
// sessions, and one PING per request, the network's and go-redis's share of
// a request that makes one round trip. "bare" is the handler with no
// sessions and no Redis, the floor of a read the local cache answers.
var redisLibraryNames = []string{"session", "session-cached", "scs", "ping", "bare"}

// BenchmarkRedisRead: an existing session in Redis; the handler reads one
// int.
func BenchmarkRedisRead(b *testing.B) { benchRedis(b, readHandler, 0, redisLibraryNames) }

// BenchmarkRedisWrite: an existing session in Redis; the handler increments
// the int.
//
// The local cache is left out: a store forgets what its own write changed,
// so a session written on every request is loaded from Redis every time.
func BenchmarkRedisWrite(b *testing.B) {
	benchRedis(b, writeHandler, 1, slices.DeleteFunc(slices.Clone(redisLibraryNames), func(name string) bool {
		return name == "session-cached"
	}))
}

// BenchmarkRedisCreate: a new visitor's first write, a new session in Redis
// on every request.
func BenchmarkRedisCreate(b *testing.B) {
	env := newRedisEnv(b)
	for _, name := range []string{"session", "scs", "ping"} {
		b.Run(name, func(b *testing.B) {
			c, cnt, prefix := env.client(b)
			l := newRedisLibrary(b, name, c, prefix)
			h := createHandler(l)
			base := request(nil)
			if w := serve(h, base); w.Code != http.StatusOK || (sessionCookie(w) == nil) != l.floor { // loads the scripts
				b.Fatalf("%s: creating a session: status %d", name, w.Code)
			}
			cnt.Take()
			stats0 := env.commandStats(b)
			serveTimed(b, h, base)
			sent := cnt.Take()
			b.ReportMetric(float64(sent.Trips)/float64(b.N), "roundtrips/op")
			if serverUS, clean := env.serverTime(b, stats0, sent.Calls); clean {
				b.ReportMetric(serverUS/float64(b.N), "server-us/op")
			}
		})
	}
}

// BenchmarkRedisNewVisitorsHTTP: whole servers, new visitors. Each library
// serves the create workload over real HTTP on loopback, and 16 clients
// send requests without cookies, each one a new session in the shared
// Redis. ns/op is the time per request of the server as a whole, so the
// ratio of two libraries' ns/op is the inverse of their requests per
// second.
func BenchmarkRedisNewVisitorsHTTP(b *testing.B) {
	env := newRedisEnv(b)
	for _, name := range []string{"session", "scs"} {
		b.Run(name, func(b *testing.B) {
			c, cnt, prefix := env.client(b)
			l := newRedisLibrary(b, name, c, prefix)
			srv := httptest.NewServer(createHandler(l))
			b.Cleanup(srv.Close)
			client := srv.Client()
			client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
			post := func() error {
				resp, err := client.Post(srv.URL, "text/plain", nil)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || len(resp.Cookies()) == 0 {
					return fmt.Errorf("status %d, %d cookies", resp.StatusCode, len(resp.Cookies()))
				}
				return nil
			}
			if err := post(); err != nil {
				b.Fatal(err)
			}
			cnt.Take()
			b.SetParallelism(8) // 16 clients on 2 CPUs
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := post(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(cnt.Take().Trips)/float64(b.N), "roundtrips/op")
		})
	}
}

func benchRedis(b *testing.B, mk func(*library) http.Handler, delta int, libraries []string) {
	env := newRedisEnv(b)
	for _, name := range libraries {
		b.Run(name, func(b *testing.B) {
			c, cnt, prefix := env.client(b)
			l := newRedisLibrary(b, name, c, prefix)
			h := mk(l)
			cookie := newVisitor(b, l)
			checkLoads(b, l, h, cookie, delta) // also loads the stores' scripts
			if name == "session-cached" {
				warmLocalCache(b, h, cookie, cnt)
			}
			before := 0
			if !l.floor {
				before = stored(b, l, cookie)
			}
			base := request(cookie)
			cnt.Take()
			stats0 := env.commandStats(b)
			serveTimed(b, h, base)
			sent := cnt.Take()
			trips, cmds := sent.Trips, sent.Calls
			serverUS, clean := env.serverTime(b, stats0, cmds)
			writes := 0
			for name, n := range cmds {
				if env.isWrite(b, name) {
					writes += n
				}
			}
			b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
			b.ReportMetric(float64(writes)/float64(b.N), "writes/op")
			if clean {
				b.ReportMetric(serverUS/float64(b.N), "server-us/op")
			}
			if testing.Verbose() {
				b.Logf("b.N=%d: %d round trips; commands: %s; INFO commandstats agrees: %v", b.N, trips, sent, clean)
			}
			if !l.floor {
				if after := stored(b, l, cookie); after != before+delta*b.N {
					b.Fatalf("%s: n went from %d to %d in %d requests, want +%d each", name, before, after, b.N, delta)
				}
			}
		})
	}
}

// redisEnv is one run of a Redis workload: the server's URL, a client of
// its own for setup and cleanup, and the run's key prefix.
type redisEnv struct {
	url    string
	admin  *redis.Client
	prefix string
	n      int             // instances created, for their key prefixes
	write  map[string]bool // command name → counted as a write
}

// newRedisEnv connects to the Redis named by SESSION_TEST_REDIS_URL, or
// skips b. The workloads write only under the run's key prefix, random per
// run, and every key under it is deleted when b ends.
func newRedisEnv(b *testing.B) *redisEnv {
	b.Helper()
	env := testenv.Redis
	url := os.Getenv(env.Env)
	if url == "" {
		b.Skipf("skipping the Redis workloads: %s is not set (e.g. %s=%s; the benchmarks write only under a random key prefix and delete it)", env.Env, env.Env, env.Example)
	}
	admin := redistest.Connect(b, url)
	return &redisEnv{
		url:    url,
		admin:  admin,
		prefix: redistest.Prefix(b, admin, "sessionbench:"),
		write:  map[string]bool{},
	}
}

// client returns a new client, with the same options as every other
// library's, its command counter and a key prefix of its own, for one
// library instance; its keys are deleted, and it is closed, when b ends.
func (e *redisEnv) client(b *testing.B) (*redis.Client, *redistest.Counter, string) {
	e.n++
	prefix := fmt.Sprintf("%s%d:", e.prefix, e.n)
	c := redistest.Connect(b, e.url)
	b.Cleanup(func() { redistest.DeleteKeys(b, e.admin, prefix) })
	cnt := &redistest.Counter{}
	c.AddHook(cnt)
	return c, cnt, prefix
}

// isWrite reports whether the command name counts as a write: Redis flags
// it "write" in its command table, or it runs a script.
func (e *redisEnv) isWrite(b *testing.B, name string) bool {
	if w, ok := e.write[name]; ok {
		return w
	}
	w := false
	switch name {
	case "eval", "evalsha", "fcall":
		w = true
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cmd := redis.NewCommandsInfoCmd(ctx, "command", "info", name)
		_ = e.admin.Process(ctx, cmd)
		infos, err := cmd.Result()
		if err != nil || infos[name] == nil {
			b.Fatalf("COMMAND INFO %s: %v, %v", name, infos, err)
		}
		w = slices.Contains(infos[name].Flags, "write")
	}
	e.write[name] = w
	return w
}

// cmdStat is one line of INFO commandstats.
type cmdStat struct {
	calls int
	usec  float64
}

// commandStats returns the server's INFO commandstats by command name.
func (e *redisEnv) commandStats(b *testing.B) map[string]cmdStat {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := e.admin.Info(ctx, "commandstats").Result()
	if err != nil {
		b.Fatalf("INFO commandstats: %v", err)
	}
	stats := map[string]cmdStat{}
	for line := range strings.Lines(info) {
		// cmdstat_get:calls=6,usec=9,usec_per_call=1.46,rejected_calls=0,…
		name, fields, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "cmdstat_")), ":")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		var st cmdStat
		for f := range strings.SplitSeq(fields, ",") {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "calls":
				st.calls, _ = strconv.Atoi(v)
			case "usec":
				st.usec, _ = strconv.ParseFloat(v, 64)
			}
		}
		stats[strings.ToLower(name)] = st
	}
	return stats
}

// serverTime returns the microseconds the server spent executing the
// commands in cmds since before was taken, and whether the server's call
// counts of those commands grew by exactly cmds (no one else ran them).
//
// EXEC's time includes the commands of its transaction, which Redis also
// counts on their own, so EXEC's is left out of the sum; a script's
// commands are counted only in the script's time, as the hook sees only
// the script.
func (e *redisEnv) serverTime(b *testing.B, before map[string]cmdStat, cmds map[string]int) (float64, bool) {
	after := e.commandStats(b)
	usec := 0.0
	for name, n := range cmds {
		if after[name].calls-before[name].calls != n {
			return 0, false
		}
		if name != "exec" {
			usec += after[name].usec - before[name].usec
		}
	}
	return usec, true
}

// newRedisLibrary returns the named library on client c, keeping its keys
// under prefix.
func newRedisLibrary(b *testing.B, name string, c *redis.Client, prefix string) *library {
	b.Helper()
	switch name {
	case "session":
		store, err := redisstore.New(c, redisstore.WithKeyPrefix(prefix))
		if err != nil {
			b.Fatal(err)
		}
		return newSession(b, session.WithStore(store))
	case "session-cached":
		store, err := redisstore.New(c, redisstore.WithKeyPrefix(prefix), redisstore.WithLocalCache(time.Minute))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = store.Close() })
		l := newSession(b, session.WithStore(store))
		l.name = name
		return l
	case "bare":
		return newLibrary(b, "bare")
	case "scs":
		return newSCS(b, goredisstore.NewWithPrefix(c, prefix))
	case "ping":
		return pingFloor(name, func(ctx context.Context) error { return c.Ping(ctx).Err() })
	}
	b.Fatalf("unknown library %q", name)
	return nil
}

// warmLocalCache sends requests with cookie to h until one is answered
// without a round trip to Redis: the local cache's tracking connection
// starts in the background.
func warmLocalCache(b *testing.B, h http.Handler, cookie *http.Cookie, cnt *redistest.Counter) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cnt.Take()
		if w := serve(h, request(cookie)); w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
		if cnt.Take().Trips == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("the local cache never answered a read")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
