package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkRead/session-2   	 100	 1100 ns/op	 1952 B/op	 14 allocs/op
BenchmarkRead/session-2   	 100	 1300 ns/op	 1952 B/op	 14 allocs/op
BenchmarkRead/scs-2       	 100	 10100 ns/op	 10408 B/op	 207 allocs/op
BenchmarkRead/bare-2      	 100	 100 ns/op	 1328 B/op	 10 allocs/op
BenchmarkReadParallel/session     	 100	 2000 ns/op	 1952 B/op	 14 allocs/op
BenchmarkReadParallel/session-2   	 100	 1000 ns/op	 1952 B/op	 14 allocs/op
BenchmarkReadParallel/bare     	 100	 100 ns/op	 1328 B/op	 10 allocs/op
BenchmarkReadParallel/bare-2   	 100	 100 ns/op	 1328 B/op	 10 allocs/op
BenchmarkMemoryStoreScale/steady-2 	 1	 900 ns/op	 300.5 B/session	 0 evicted	 500 p50-ns	 1000 p99-ns	 10 sessions	 1992 B/op	 16 allocs/op
BenchmarkMemoryStoreScale/churn-2  	 1	 900 ns/op	 300.5 B/session	 1 evicted	 500 p50-ns	 3000 p99-ns	 10 sessions	 1992 B/op	 16 allocs/op
BenchmarkRedisRead/session-2 	 100	 40000 ns/op	 1.000 roundtrips/op	 3.0 server-us/op	 0 writes/op	 3400 B/op	 43 allocs/op
BenchmarkRedisRead/scs-2     	 100	 100000 ns/op	 1.000 roundtrips/op	 0 writes/op	 10848 B/op	 215 allocs/op
BenchmarkRedisRead/ping-2    	 100	 30000 ns/op	 1.000 roundtrips/op	 0 writes/op	 1516 B/op	 16 allocs/op
BenchmarkRedisWrite/session-2 	 100	 90000 ns/op	 2.000 roundtrips/op	 1.000 writes/op	 5564 B/op	 80 allocs/op
BenchmarkRedisWrite/scs-2     	 100	 150000 ns/op	 2.000 roundtrips/op	 1.000 writes/op	 13508 B/op	 259 allocs/op
BenchmarkRedisWrite/ping-2    	 100	 20000 ns/op	 1.000 roundtrips/op	 0 writes/op	 1516 B/op	 16 allocs/op
BenchmarkSQLiteRead/session-2 	 100	 30000 ns/op	 7000 B/op	 150 allocs/op
BenchmarkSQLiteRead/scs-2     	 100	 40000 ns/op	 14000 B/op	 260 allocs/op
BenchmarkSQLiteWrite/session-2 	 100	 90000 ns/op	 10000 B/op	 220 allocs/op
BenchmarkSQLiteWrite/scs-2     	 100	 50000 ns/op	 17000 B/op	 310 allocs/op
BenchmarkMySQLRead/session-2 	 100	 60000 ns/op	 1.000 roundtrips/op	 10000 B/op	 150 allocs/op
BenchmarkMySQLRead/scs-2     	 100	 80000 ns/op	 2.000 roundtrips/op	 13000 B/op	 260 allocs/op
BenchmarkMySQLRead/ping-2    	 100	 20000 ns/op	 1.000 roundtrips/op	 1400 B/op	 13 allocs/op
BenchmarkMySQLWrite/session-2 	 100	 300000 ns/op	 2.000 roundtrips/op	 15000 B/op	 200 allocs/op
BenchmarkMySQLWrite/scs-2     	 100	 200000 ns/op	 4.000 roundtrips/op	 17000 B/op	 320 allocs/op
BenchmarkMySQLWrite/ping-2    	 100	 20000 ns/op	 1.000 roundtrips/op	 1400 B/op	 13 allocs/op
PASS
`

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want series
		ok   bool
	}{
		{"BenchmarkRead/gorilla-cookie-2 	 1	 5 ns/op", series{"Read", "gorilla-cookie", 2}, true},
		{"BenchmarkRead/bare 	 1	 5 ns/op", series{"Read", "bare", 1}, true},
		{"BenchmarkRead 	 1	 5 ns/op", series{}, false},
		{"ok  	github.com/x	0.5s", series{}, false},
		{"BenchmarkRead/bare 	 1	 x ns/op", series{}, false},
	} {
		got, _, ok := parseLine(tc.line)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseLine(%q) = %v, %v; want %v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTargets(t *testing.T) {
	res := results{}
	if err := res.parse(strings.NewReader(sample)); err != nil {
		t.Fatal(err)
	}
	if got := res.median(series{"Read", "session", 2}, "ns/op"); got != 1200 {
		t.Errorf("median = %v, want 1200", got)
	}
	want := map[string]string{
		"Read (2 CPU): overhead ratio to scs":                               "0.11 no",
		"Read (2 CPU): allocs/op beyond bare":                               "4 yes",
		"ReadParallel: throughput speed-up 1→2 CPUs":                        "2 yes",
		"memory store: heap per session beyond its value (B)":               "300 yes", // 300.5 shown as 300
		"memory store: p99 with expiry churn / p99 without":                 "3 no",
		"RedisRead (2 CPU): round trips/op":                                 "1 yes",
		"RedisRead (2 CPU): writes/op":                                      "0 yes",
		"RedisRead (2 CPU): time per request ÷ scs's (goredisstore)":        "0.4 yes",
		"RedisWrite (2 CPU): round trips/op (load + update)":                "2 yes",
		"RedisWrite (2 CPU): round trips/op beyond the load (write − read)": "1 yes",
		"RedisWrite (2 CPU): time per request ÷ scs's (goredisstore)":       "0.6 no",
		"SQLiteRead (2 CPU): time per request ÷ scs's (sqlite3store)":       "0.75 yes",
		"SQLiteWrite (2 CPU): time per request ÷ scs's (sqlite3store)":      "1.8 no",
		"MySQLRead (2 CPU): time per request ÷ scs's (mysqlstore)":          "0.75 yes",
		"MySQLWrite (2 CPU): time per request ÷ scs's (mysqlstore)":         "1.5 yes",
	}
	got := map[string]string{}
	for _, tg := range res.targets() {
		met := "no"
		if tg.met {
			met = "yes"
		}
		got[tg.name] = num(tg.value) + " " + met
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: got %q, want %q", name, got[name], w)
		}
	}
	var out strings.Builder
	res.write(&out)
	for _, s := range []string{"| Read (2 CPU) | session | 1200 | 1952 | 14 | 1100 | 4 | 0.11 |", "| churn | 10 |",
		"| RedisRead (2 CPU) | session | 40000 | 3400 | 43 | 1 | 0 | 3 | 10000 | 0.4 |",
		"| RedisWrite (2 CPU) | scs | 150000 | 13508 | 259 | 2 | 1 | – | 130000 | 1 |",
		"| RedisRead (2 CPU) | 1 | 30000 | 0.3 |",    // 1 × 30000 ÷ 100000
		"| RedisWrite (2 CPU) | 2 | 20000 | 0.267 |", // 2 × 20000 ÷ 150000
		"| SQLiteRead (2 CPU) | session | 30000 | 7000 | 150 | 0.75 |",
		"| SQLiteWrite (2 CPU) | scs | 50000 | 17000 | 310 | 1 |",
		"| MySQLRead (2 CPU) | session | 60000 | 10000 | 150 | 1 | 40000 | 0.75 |",
		"| MySQLWrite (2 CPU) | ping | 20000 | 1400 | 13 | 1 |  |  |"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
	// Every table's separator row has as many columns as its header.
	lines := strings.Split(out.String(), "\n")
	for i := 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "|---") && strings.Count(lines[i], "|") != strings.Count(lines[i-1], "|") {
			t.Errorf("separator %q does not match header %q", lines[i], lines[i-1])
		}
	}
}
