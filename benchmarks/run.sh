#!/usr/bin/env bash
# run.sh runs the comparative benchmark suite and summarises it: benchstat
# tables with one column per library, and the overhead ratios against the
# project's targets (cmd/ratios). Everything lands in $OUT.
#
#   ./run.sh                          # -count 10, as documented in BENCHMARKS.md
#   COUNT=6 BENCHTIME=0.5s ./run.sh   # a shorter run
#   SESSION_TEST_REDIS_URL=redis://127.0.0.1:6379/0 ./run.sh   # with the Redis workloads
#   SESSION_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/test' ./run.sh   # with the MySQL workloads
#
# Settings (environment):
#   COUNT            runs of every benchmark (default 10)
#   BENCHTIME        -benchtime of the request workloads (default 1s)
#   SCALE_BENCHTIME  -benchtime of BenchmarkMemoryStoreScale, in reads
#                    (default 200000x)
#   SESSION_BENCH_SESSIONS  sessions in the scale benchmark (default 1000000)
#   CPUS             -cpu list of the parallel workloads (default "1,$(nproc)")
#   SESSION_TEST_REDIS_URL  the Redis of BenchmarkRedisRead/Write, which run
#                    only when it is set; they write under a random key
#                    prefix and delete it
#   REDIS_BENCHTIME  -benchtime of the Redis workloads (default $BENCHTIME)
#   SQLITE_BENCHTIME -benchtime of BenchmarkSQLiteRead/Write, which always
#                    run, each library on a database file of its own in a
#                    temporary directory (default $BENCHTIME)
#   SESSION_TEST_MYSQL_DSN  the MySQL or MariaDB server of
#                    BenchmarkMySQLRead/Write, which run only when it is set;
#                    they create a database per library instance and drop it
#   MYSQL_BENCHTIME  -benchtime of the MySQL workloads (default $BENCHTIME)
#   OUT              output directory (default results)
#   BENCHSTAT        benchstat command (default: go run …/benchstat@latest,
#                    or a go-installed one if that fails)
set -euo pipefail
cd "$(dirname "$0")"
export GOWORK=off

COUNT=${COUNT:-10}
BENCHTIME=${BENCHTIME:-1s}
SCALE_BENCHTIME=${SCALE_BENCHTIME:-200000x}
export SESSION_BENCH_SESSIONS=${SESSION_BENCH_SESSIONS:-1000000}
CPUS=${CPUS:-1,$(nproc)}
REDIS_BENCHTIME=${REDIS_BENCHTIME:-$BENCHTIME}
SQLITE_BENCHTIME=${SQLITE_BENCHTIME:-$BENCHTIME}
MYSQL_BENCHTIME=${MYSQL_BENCHTIME:-$BENCHTIME}
OUT=${OUT:-results}
BENCHSTAT_PKG=golang.org/x/perf/cmd/benchstat@latest
mkdir -p "$OUT"

benchstat() {
	if [ -n "${BENCHSTAT:-}" ]; then
		$BENCHSTAT "$@"
	elif go run "$BENCHSTAT_PKG" "$@" 2>/dev/null; then
		:
	else
		go install "$BENCHSTAT_PKG"
		"$(go env GOPATH)/bin/benchstat" "$@"
	fi
}

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "go: $(go version)"
	echo "nproc: $(nproc)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	cmdline="COUNT=$COUNT BENCHTIME=$BENCHTIME SQLITE_BENCHTIME=$SQLITE_BENCHTIME"
	if [ -n "${SESSION_TEST_REDIS_URL:-}" ]; then
		# The address only: the URL may hold a password.
		echo "redis: $(sed -E 's#^[a-z]+://([^@/]*@)?##; s#[/?].*$##' <<<"$SESSION_TEST_REDIS_URL")"
		cmdline="SESSION_TEST_REDIS_URL=… $cmdline REDIS_BENCHTIME=$REDIS_BENCHTIME"
	else
		echo "redis: SESSION_TEST_REDIS_URL not set, Redis workloads skipped"
	fi
	if [ -n "${SESSION_TEST_MYSQL_DSN:-}" ]; then
		# The address only: the DSN may hold a password.
		addr=$(sed -E 's#[?].*$##; s#^.*@##; s#/.*$##' <<<"$SESSION_TEST_MYSQL_DSN")
		echo "mysql: ${addr:-default address}"
		cmdline="SESSION_TEST_MYSQL_DSN=… $cmdline MYSQL_BENCHTIME=$MYSQL_BENCHTIME"
	else
		echo "mysql: SESSION_TEST_MYSQL_DSN not set, MySQL workloads skipped"
	fi
	echo "command: $cmdline SCALE_BENCHTIME=$SCALE_BENCHTIME SESSION_BENCH_SESSIONS=$SESSION_BENCH_SESSIONS CPUS=$CPUS ./run.sh"
} | tee "$OUT/machine.txt"

# cpu_ticks prints the machine's total and stolen CPU ticks: on a virtual
# machine, time the hypervisor gave to others is the main source of noise.
cpu_ticks() {
	awk '/^cpu /{t=0; for (i=2; i<=NF; i++) t+=$i; print t, $9}' /proc/stat
}
read -r total0 steal0 < <(cpu_ticks)

gotest() {
	echo "== go test $*" >&2
	go test -run '^$' -benchmem -timeout 0 "$@" .
}

# The request workloads at the default GOMAXPROCS and the parallel ones at
# each of $CPUS, in $COUNT passes over every library rather than with -count,
# so that a slow spell of a shared machine spreads over all the libraries
# instead of landing on one.
: >"$OUT/raw-requests.txt"
: >"$OUT/raw-redis.txt"
: >"$OUT/raw-sqlite.txt"
: >"$OUT/raw-mysql.txt"
for pass in $(seq 1 "$COUNT"); do
	echo "== pass $pass of $COUNT" >&2
	gotest -bench '^Benchmark(Read|Write|Create)$' -benchtime "$BENCHTIME" | tee -a "$OUT/raw-requests.txt"
	gotest -bench '^Benchmark(Read|Write)Parallel$' -benchtime "$BENCHTIME" -cpu "$CPUS" | tee -a "$OUT/raw-requests.txt"
	# The Redis workloads, at the default GOMAXPROCS, when there is a Redis.
	if [ -n "${SESSION_TEST_REDIS_URL:-}" ]; then
		gotest -bench '^BenchmarkRedis(Read|Write|Create|NewVisitorsHTTP)$' -benchtime "$REDIS_BENCHTIME" | tee -a "$OUT/raw-redis.txt"
	fi
	# The SQL workloads, at the default GOMAXPROCS: SQLite always, MySQL when
	# there is a server.
	gotest -bench '^BenchmarkSQLite(Read|Write)$' -benchtime "$SQLITE_BENCHTIME" | tee -a "$OUT/raw-sqlite.txt"
	if [ -n "${SESSION_TEST_MYSQL_DSN:-}" ]; then
		gotest -bench '^BenchmarkMySQL(Read|Write)$' -benchtime "$MYSQL_BENCHTIME" | tee -a "$OUT/raw-mysql.txt"
	fi
done
# The memory store at scale: filled once per scenario, then measured $COUNT
# times.
gotest -bench '^BenchmarkMemoryStoreScale$' -benchtime "$SCALE_BENCHTIME" -count "$COUNT" | tee "$OUT/raw-scale.txt"

read -r total1 steal1 < <(cpu_ticks)
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
echo "stolen CPU time during the run: $(awk -v t="$((total1 - total0))" -v s="$((steal1 - steal0))" 'BEGIN{printf "%.1f%%", t ? 100*s/t : 0}')" | tee -a "$OUT/machine.txt"

# benchstat makes a column of a sub-benchmark name only in key=value form.
sed -E 's#^(Benchmark[A-Za-z]+)/#\1/lib=#' "$OUT/raw-requests.txt" >"$OUT/benchstat-input-requests.txt"
sed -E 's#^(Benchmark[A-Za-z]+)/#\1/scenario=#' "$OUT/raw-scale.txt" >"$OUT/benchstat-input-scale.txt"
for db in redis sqlite mysql; do
	sed -E 's#^(Benchmark[A-Za-z]+)/#\1/lib=#' "$OUT/raw-$db.txt" >"$OUT/benchstat-input-$db.txt"
done
{
	benchstat -col /lib "$OUT/benchstat-input-requests.txt"
	echo
	benchstat -col /scenario "$OUT/benchstat-input-scale.txt"
	for db in redis sqlite mysql; do
		if grep -q '^Benchmark' "$OUT/raw-$db.txt"; then
			echo
			benchstat -col /lib "$OUT/benchstat-input-$db.txt"
		fi
	done
} >"$OUT/benchstat.txt"
go run ./cmd/ratios "$OUT/raw-requests.txt" "$OUT/raw-scale.txt" "$OUT/raw-redis.txt" "$OUT/raw-sqlite.txt" "$OUT/raw-mysql.txt" >"$OUT/ratios.md"

cat "$OUT/machine.txt" "$OUT/benchstat.txt" "$OUT/ratios.md"
echo "results in $OUT/: machine.txt raw-*.txt benchstat.txt ratios.md" >&2
