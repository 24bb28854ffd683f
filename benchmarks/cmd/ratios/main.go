// Command ratios reads the raw output of the benchmark suite (go test -bench
// … -benchmem, any -count, several files or standard input) and prints, as
// Markdown, the median of every measurement per library and workload, each
// library's overhead over the bare floor, the ratio of this library's
// overhead to scs's, and where the project stands against its targets. The
// Redis workloads (BenchmarkRedisRead, BenchmarkRedisWrite) get a table of
// their own: their floor is "ping" (one PING per request), their ratio is of
// time per request, and they add round trips and writes per request. So do
// the SQL workloads (BenchmarkSQLiteRead/Write, BenchmarkMySQLRead/Write),
// one table per database: ratio of time per request to scs's store on the
// same database, and for MySQL round trips per request and the time beyond
// its floor, "ping" (one COM_PING per request).
//
//	go run ./cmd/ratios raw.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The columns: this library, the one its overheads are compared with, and
// the floor the overheads are measured from.
const (
	ours  = "session"
	other = "scs"
	floor = "bare"
)

// libraries lists the libraries in table order.
var libraries = []string{ours, other, "gorilla-cookie", "gorilla-fs", floor}

// The Redis workloads, in table order, their floor, and the units they
// report besides time and memory.
var (
	redisWorkloads = []string{"RedisRead", "RedisWrite", "RedisCreate", "RedisNewVisitorsHTTP"}
	redisFloor     = "ping"
	redisLibraries = []string{ours, cached, other, redisFloor, floor}
	// cached is this library with redisstore's local cache: its reads make
	// no round trip, so its floor is "bare".
	cached     = "session-cached"
	redisUnits = []string{"roundtrips/op", "writes/op", "server-us/op"}
)

// sqlSuite is the workloads on one SQL database: <server>Read and
// <server>Write, this library's store against scs's (scsStore), with a
// floor of one round trip per request if floor is not "".
type sqlSuite struct {
	server, scsStore, floor string
}

// sqlSuites are the SQL workloads, in table order.
var sqlSuites = []sqlSuite{{"SQLite", "sqlite3store", ""}, {"MySQL", "mysqlstore", "ping"}}

// sqlLimits are the targets of the SQL workloads, by operation: time per
// request at most this many times scs's on the same database.
var sqlLimits = map[string]float64{"Read": 1, "Write": 1.5}

// series identifies one benchmark: BenchmarkWorkload/library-procs.
type series struct {
	workload, library string
	procs             int
}

// results holds every sample of every unit of every benchmark.
type results map[series]map[string][]float64

func main() {
	res := results{}
	if len(os.Args) < 2 {
		if err := res.parse(os.Stdin); err != nil {
			fail(err)
		}
	}
	for _, name := range os.Args[1:] {
		f, err := os.Open(name)
		if err != nil {
			fail(err)
		}
		err = res.parse(f)
		f.Close()
		if err != nil {
			fail(fmt.Errorf("%s: %w", name, err))
		}
	}
	if len(res) == 0 {
		fail(fmt.Errorf("no benchmark results in the input"))
	}
	res.write(os.Stdout)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ratios:", err)
	os.Exit(1)
}

// parse adds the benchmark lines of r.
func (res results) parse(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		s, values, ok := parseLine(sc.Text())
		if !ok {
			continue
		}
		if res[s] == nil {
			res[s] = map[string][]float64{}
		}
		for unit, v := range values {
			res[s][unit] = append(res[s][unit], v)
		}
	}
	return sc.Err()
}

// parseLine parses "BenchmarkRead/session-2  1000  1234 ns/op  56 B/op …".
func parseLine(line string) (series, map[string]float64, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
		return series{}, nil, false
	}
	name, procs := f[0], 1
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if p, err := strconv.Atoi(name[i+1:]); err == nil {
			name, procs = name[:i], p
		}
	}
	workload, library, ok := strings.Cut(strings.TrimPrefix(name, "Benchmark"), "/")
	if !ok {
		return series{}, nil, false
	}
	values := map[string]float64{}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return series{}, nil, false
		}
		values[f[i+1]] = v
	}
	return series{workload, library, procs}, values, true
}

// median returns the median of the samples of unit, NaN if there are none.
func (res results) median(s series, unit string) float64 {
	xs := slices.Clone(res[s][unit])
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

// workloads returns the workloads measured against the floor, with their
// GOMAXPROCS, in a stable order.
func (res results) workloads() []series {
	var out []series
	for s := range res {
		if s.library == floor {
			out = append(out, series{workload: s.workload, procs: s.procs})
		}
	}
	order := []string{"Read", "Write", "Create", "ReadParallel", "WriteParallel"}
	slices.SortFunc(out, func(a, b series) int {
		ia, ib := slices.Index(order, a.workload), slices.Index(order, b.workload)
		if ia != ib {
			return ia - ib
		}
		if c := strings.Compare(a.workload, b.workload); c != 0 {
			return c
		}
		return a.procs - b.procs
	})
	return out
}

// overhead returns lib's median of unit minus the floor's.
func (res results) overhead(w series, lib, unit string) float64 {
	return res.median(series{w.workload, lib, w.procs}, unit) - res.median(series{w.workload, floor, w.procs}, unit)
}

func (res results) write(out io.Writer) {
	res.writeRequests(out)
	res.writeScaling(out)
	res.writeScale(out)
	res.writeRedis(out)
	res.writeSQL(out)
	res.writeTargets(out)
}

// writeRequests shows the request workloads measured against bare.
func (res results) writeRequests(out io.Writer) {
	if len(res.workloads()) == 0 {
		return
	}
	fmt.Fprintln(out, "Medians of every run. Overhead = library − bare, in ns/op and allocs/op;")
	fmt.Fprintf(out, "ratio = (%s − bare) / (%s − bare) in ns/op.\n\n", ours, other)
	fmt.Fprintln(out, "| workload | library | ns/op | B/op | allocs/op | overhead ns/op | overhead allocs/op | ratio to scs |")
	fmt.Fprintln(out, "|---|---|---:|---:|---:|---:|---:|---:|")
	for _, w := range res.workloads() {
		for _, lib := range libraries {
			s := series{w.workload, lib, w.procs}
			if res[s] == nil {
				continue
			}
			ratio := ""
			if lib != floor {
				ratio = num(res.overhead(w, lib, "ns/op") / res.overhead(w, other, "ns/op"))
			}
			oh, ohAllocs := "", ""
			if lib != floor {
				oh, ohAllocs = num(res.overhead(w, lib, "ns/op")), num(res.overhead(w, lib, "allocs/op"))
			}
			fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", label(w), lib,
				num(res.median(s, "ns/op")), num(res.median(s, "B/op")), num(res.median(s, "allocs/op")), oh, ohAllocs, ratio)
		}
	}
}

// label names a workload with its GOMAXPROCS.
func label(w series) string {
	return fmt.Sprintf("%s (%d CPU)", w.workload, w.procs)
}

// writeScaling shows how the parallel workloads' throughput grows with
// GOMAXPROCS, relative to one CPU.
func (res results) writeScaling(out io.Writer) {
	var rows []string
	for _, w := range res.workloads() {
		if w.procs == 1 || !strings.HasSuffix(w.workload, "Parallel") {
			continue
		}
		for _, lib := range libraries {
			one := res.median(series{w.workload, lib, 1}, "ns/op")
			n := res.median(series{w.workload, lib, w.procs}, "ns/op")
			if !math.IsNaN(one) && !math.IsNaN(n) {
				rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s× | %s |", w.workload, lib,
					num(1e9/one), num(1e9/n), num(one/n), num(one/n/res.speedup(w, floor))))
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(out, "\nThroughput of the parallel workloads (requests/s) on 1 and N CPUs; the last column")
	fmt.Fprintln(out, "divides a library's speed-up by bare's, the most the machine gave to the same plumbing:")
	fmt.Fprintln(out, "\n| workload | library | 1 CPU | N CPUs | speed-up | speed-up ÷ bare's |")
	fmt.Fprintln(out, "|---|---|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Fprintln(out, r)
	}
}

// speedup returns how much faster lib serves workload w at w.procs CPUs
// than at one.
func (res results) speedup(w series, lib string) float64 {
	return res.median(series{w.workload, lib, 1}, "ns/op") / res.median(series{w.workload, lib, w.procs}, "ns/op")
}

// scaleUnits are the metrics of BenchmarkMemoryStoreScale.
var scaleUnits = []string{"sessions", "B/session", "p50-ns", "p99-ns", "evicted", "ns/op", "allocs/op"}

func (res results) scaleSeries() []series {
	var out []series
	for s := range res {
		if s.workload == "MemoryStoreScale" {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b series) int { return strings.Compare(b.library, a.library) }) // steady, churn
	return out
}

func (res results) writeScale(out io.Writer) {
	ss := res.scaleSeries()
	if len(ss) == 0 {
		return
	}
	fmt.Fprintln(out, "\nMemory store at scale (medians):")
	fmt.Fprintf(out, "\n| scenario | %s |\n|---|%s\n", strings.Join(scaleUnits, " | "), strings.Repeat("---:|", len(scaleUnits)))
	for _, s := range ss {
		cells := make([]string, len(scaleUnits))
		for i, u := range scaleUnits {
			cells[i] = num(res.median(s, u))
		}
		fmt.Fprintf(out, "| %s | %s |\n", s.library, strings.Join(cells, " | "))
	}
}

// redisSeries returns the Redis workloads measured, with their GOMAXPROCS,
// in table order.
func (res results) redisSeries() []series { return res.seriesOf(redisWorkloads) }

// seriesOf returns the workloads of this library measured among workloads,
// with their GOMAXPROCS, in the order of workloads, then of GOMAXPROCS.
func (res results) seriesOf(workloads []string) []series {
	var out []series
	for s := range res {
		if s.library == ours && slices.Contains(workloads, s.workload) {
			out = append(out, series{workload: s.workload, procs: s.procs})
		}
	}
	slices.SortFunc(out, func(a, b series) int {
		if c := slices.Index(workloads, a.workload) - slices.Index(workloads, b.workload); c != 0 {
			return c
		}
		return a.procs - b.procs
	})
	return out
}

// writeRedis shows the Redis workloads: time and memory, what a request
// sends to Redis, and the ratio of time per request to scs's.
func (res results) writeRedis(out io.Writer) {
	ws := res.redisSeries()
	if len(ws) == 0 {
		return
	}
	fmt.Fprintf(out, "\nRedis workloads (medians); beyond %s = library − %s in ns/op; ratio = library ÷ %s in ns/op:\n", redisFloor, redisFloor, other)
	fmt.Fprintf(out, "\n| workload | library | ns/op | B/op | allocs/op | %s | beyond %s ns/op | ratio to scs |\n", strings.Join(redisUnits, " | "), redisFloor)
	fmt.Fprintf(out, "|---|---|%s\n", strings.Repeat("---:|", 5+len(redisUnits)))
	for _, w := range ws {
		for _, lib := range redisLibraries {
			s := series{w.workload, lib, w.procs}
			if res[s] == nil {
				continue
			}
			cells := []string{num(res.median(s, "ns/op")), num(res.median(s, "B/op")), num(res.median(s, "allocs/op"))}
			for _, u := range redisUnits {
				cells = append(cells, num(res.median(s, u)))
			}
			beyond, ratio := "", ""
			if lib != redisFloor {
				beyond = num(res.median(s, "ns/op") - res.median(series{w.workload, redisFloor, w.procs}, "ns/op"))
				ratio = num(res.median(s, "ns/op") / res.median(series{w.workload, other, w.procs}, "ns/op"))
			}
			cells = append(cells, beyond, ratio)
			fmt.Fprintf(out, "| %s | %s | %s |\n", label(w), lib, strings.Join(cells, " | "))
		}
	}
	res.writeRedisFloor(out)
}

// writeRedisFloor shows the lowest ratio to scs that any library could reach
// with scs's round trips: scs's round trips/op times the floor's time for
// one, divided by scs's time. Where it is above a target, no store that
// makes the same round trips as scs can meet that target on this machine.
func (res results) writeRedisFloor(out io.Writer) {
	fmt.Fprintf(out, "\nRound-trip floor: a library that made scs's round trips and did nothing else would take round trips/op × %s; ÷ scs:\n", redisFloor)
	fmt.Fprintf(out, "\n| workload | scs round trips/op | %s ns/op | floor ÷ scs |\n|---|---:|---:|---:|\n", redisFloor)
	for _, w := range res.redisSeries() {
		fmt.Fprintf(out, "| %s | %s | %s | %s |\n", label(w), num(res.median(series{w.workload, other, w.procs}, "roundtrips/op")),
			num(res.median(series{w.workload, redisFloor, w.procs}, "ns/op")), num(res.redisFloorRatio(w)))
	}
}

// redisFloorRatio is the ratio of writeRedisFloor for workload w.
func (res results) redisFloorRatio(w series) float64 {
	scs := series{w.workload, other, w.procs}
	return res.median(scs, "roundtrips/op") * res.median(series{w.workload, redisFloor, w.procs}, "ns/op") / res.median(scs, "ns/op")
}

// redisTargets checks this library on Redis: a read is one round trip and
// writes nothing; a write costs one round trip beyond the load (what a read
// costs); either takes at most half of scs's time with its go-redis store.
func (res results) redisTargets() []target {
	var ts []target
	for _, w := range res.redisSeries() {
		s := series{w.workload, ours, w.procs}
		switch w.workload {
		case "RedisRead":
			rt := res.median(s, "roundtrips/op")
			ts = append(ts, target{label(w) + ": round trips/op", "≤ 1", rt, rt <= 1})
			wr := res.median(s, "writes/op")
			ts = append(ts, target{label(w) + ": writes/op", "0", wr, wr == 0})
		case "RedisWrite":
			rt := res.median(s, "roundtrips/op")
			ts = append(ts, target{label(w) + ": round trips/op (load + update)", "≤ 2", rt, rt <= 2})
			if load := res.median(series{"RedisRead", ours, w.procs}, "roundtrips/op"); !math.IsNaN(load) {
				ts = append(ts, target{label(w) + ": round trips/op beyond the load (write − read)", "≤ 1", rt - load, rt-load <= 1})
			}
		}
		if w.workload == "RedisNewVisitorsHTTP" {
			rps := res.median(series{w.workload, other, w.procs}, "ns/op") / res.median(s, "ns/op")
			ts = append(ts, target{label(w) + ": whole-server requests per second ÷ scs's", "≥ 1.1", rps, rps >= 1.1})
			continue
		}
		if w.workload == "RedisCreate" || w.workload == "RedisWrite" {
			u := res.median(s, "server-us/op") / res.median(series{w.workload, other, w.procs}, "server-us/op")
			if !math.IsNaN(u) {
				ts = append(ts, target{label(w) + ": Redis execution time per request ÷ scs's", "≤ 1", u, u <= 1})
			}
		}
		if w.workload == "RedisCreate" {
			continue
		}
		r := res.median(s, "ns/op") / res.median(series{w.workload, other, w.procs}, "ns/op")
		ts = append(ts, target{label(w) + ": time per request ÷ scs's (goredisstore)", "≤ 0.5", r, r <= 0.5})
		c := series{w.workload, cached, w.procs}
		if w.workload == "RedisRead" && res[c] != nil {
			rt := res.median(c, "roundtrips/op")
			ts = append(ts, target{label(w) + ": round trips/op with the local cache", "0", rt, rt == 0})
			bare := res.median(series{w.workload, floor, w.procs}, "ns/op")
			o := (res.median(c, "ns/op") - bare) / (res.median(series{w.workload, other, w.procs}, "ns/op") - bare)
			ts = append(ts, target{label(w) + ": overhead beyond bare with the local cache ÷ scs's", "≤ 0.1", o, o <= 0.1})
		}
	}
	return ts
}

// sqlSeries returns the workloads of su measured, with their GOMAXPROCS, in
// table order: reads, then writes.
func (res results) sqlSeries(su sqlSuite) []series {
	return res.seriesOf([]string{su.server + "Read", su.server + "Write"})
}

// writeSQL shows the SQL workloads, a table per database: time and memory,
// for MySQL round trips and the time beyond the floor, and the ratio of
// time per request to scs's.
func (res results) writeSQL(out io.Writer) {
	for _, su := range sqlSuites {
		ws := res.sqlSeries(su)
		if len(ws) == 0 {
			continue
		}
		libs, extra := []string{ours, other}, []string{}
		if su.floor != "" {
			libs = append(libs, su.floor)
			extra = []string{"roundtrips/op", "beyond " + su.floor + " ns/op"}
		}
		fmt.Fprintf(out, "\n%s workloads (medians); ratio = library ÷ %s (%s) in ns/op", su.server, other, su.scsStore)
		if su.floor != "" {
			fmt.Fprintf(out, "; beyond %s = library − %s in ns/op", su.floor, su.floor)
		}
		fmt.Fprintln(out, ":")
		head := append(append([]string{"ns/op", "B/op", "allocs/op"}, extra...), "ratio to scs")
		fmt.Fprintf(out, "\n| workload | library | %s |\n|---|---|%s\n", strings.Join(head, " | "), strings.Repeat("---:|", len(head)))
		for _, w := range ws {
			for _, lib := range libs {
				s := series{w.workload, lib, w.procs}
				if res[s] == nil {
					continue
				}
				cells := []string{num(res.median(s, "ns/op")), num(res.median(s, "B/op")), num(res.median(s, "allocs/op"))}
				beyond, ratio := "", ""
				if lib != su.floor {
					beyond = num(res.median(s, "ns/op") - res.median(series{w.workload, su.floor, w.procs}, "ns/op"))
					ratio = num(res.median(s, "ns/op") / res.median(series{w.workload, other, w.procs}, "ns/op"))
				}
				if su.floor != "" {
					cells = append(cells, num(res.median(s, "roundtrips/op")), beyond)
				}
				cells = append(cells, ratio)
				fmt.Fprintf(out, "| %s | %s | %s |\n", label(w), lib, strings.Join(cells, " | "))
			}
		}
	}
}

// sqlTargets checks this library's SQL stores: time per request at most
// sqlLimits times scs's on the same database.
func (res results) sqlTargets() []target {
	var ts []target
	for _, su := range sqlSuites {
		for _, w := range res.sqlSeries(su) {
			limit := sqlLimits[strings.TrimPrefix(w.workload, su.server)]
			r := res.median(series{w.workload, ours, w.procs}, "ns/op") / res.median(series{w.workload, other, w.procs}, "ns/op")
			ts = append(ts, target{label(w) + ": time per request ÷ scs's (" + su.scsStore + ")", "≤ " + num(limit), r, r <= limit})
		}
	}
	return ts
}

// target is one of the project's goals, checked against the medians.
type target struct {
	name, goal string
	value      float64
	met        bool
}

func (res results) targets() []target {
	var ts []target
	limits := map[string]float64{"Read": 1.0 / 10, "Write": 1.0 / 5, "Create": 1.0 / 3}
	for _, w := range res.workloads() {
		limit, ok := limits[w.workload]
		if !ok {
			continue
		}
		r := res.overhead(w, ours, "ns/op") / res.overhead(w, other, "ns/op")
		ts = append(ts, target{label(w) + ": overhead ratio to scs", "≤ " + num(limit), r, r <= limit})
		if w.workload == "Read" {
			a := res.overhead(w, ours, "allocs/op")
			ts = append(ts, target{label(w) + ": allocs/op beyond bare", "≤ 10", a, a <= 10})
		}
	}
	for _, w := range res.workloads() {
		if w.procs == 1 || !strings.HasSuffix(w.workload, "Parallel") {
			continue
		}
		if s := res.speedup(w, ours); !math.IsNaN(s) {
			ts = append(ts, target{fmt.Sprintf("%s: throughput speed-up 1→%d CPUs", w.workload, w.procs), "> 1", s, s > 1})
		}
	}
	var steady, churn series
	for _, s := range res.scaleSeries() {
		switch s.library {
		case "steady":
			steady = s
		case "churn":
			churn = s
		}
	}
	if res[steady] != nil {
		b := res.median(steady, "B/session")
		ts = append(ts, target{"memory store: heap per session beyond its value (B)", "≤ 400", b, b <= 400})
	}
	if res[steady] != nil && res[churn] != nil {
		r := res.median(churn, "p99-ns") / res.median(steady, "p99-ns")
		ts = append(ts, target{"memory store: p99 with expiry churn / p99 without", "≤ 2", r, r <= 2})
	}
	ts = append(ts, res.redisTargets()...)
	return append(ts, res.sqlTargets()...)
}

func (res results) writeTargets(out io.Writer) {
	ts := res.targets()
	if len(ts) == 0 {
		return
	}
	fmt.Fprintln(out, "\nTargets:")
	fmt.Fprintln(out, "\n| target | goal | measured | met |")
	fmt.Fprintln(out, "|---|---|---:|---|")
	for _, t := range ts {
		met := "no"
		if t.met {
			met = "yes"
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s |\n", t.name, t.goal, num(t.value), met)
	}
}

// num formats v with three significant digits, or "–" for NaN.
func num(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}
