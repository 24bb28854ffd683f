// Package redistest holds the test helpers that need go-redis, shared by
// the tests of redisstore, faulttest and the benchmarks: a client of the
// Redis the environment names, key prefixes that clean up after
// themselves, redis-server processes of a test's own, and a hook that
// counts what a client sends.
//
// It is a module of its own, so that the core module never requires
// go-redis; internal/ keeps it to this repository's modules.
package redistest
