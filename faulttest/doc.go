// Package faulttest holds the fault-injection and soak tests of the session
// library and its stores; it has no API.
//
// # What runs
//
//   - TestRedisOutageUnderLoad kills a private, persistent redis-server
//     (kill -9) during a burst of requests and restarts it.
//   - TestPostgresConnectionLoss terminates the pool's PostgreSQL backends
//     during a burst of requests.
//   - TestSQLiteLockHeld has another connection to the SQLite file hold its
//     write lock during a burst of requests.
//   - TestSoak runs 32 clients against each store (memory, Redis,
//     PostgreSQL, SQLite, MySQL) for a while and checks that no request
//     fails, no write is lost and no client sees another's session.
//
// # Running
//
//	SESSION_TEST_REDIS_URL=redis://127.0.0.1:6379/0 \
//	SESSION_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//	SESSION_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/test' \
//	SESSION_SOAK_DURATION=5s \
//	go test -race ./...
//
// The outage test needs redis-server on PATH and skips without it; the
// PostgreSQL, Redis and MySQL parts skip without their variables; the
// SQLite parts need no server. -short skips the soak test;
// SESSION_SOAK_DURATION (default 30s) sets how long it runs per store. Load
// is only ever sent to loopback servers.
package faulttest
