// Package testenv holds the test helpers that the tests of every module of
// this repository share and that need only the standard library: the
// servers the environment points the tests at, names and ports no other
// test takes, a server whose error log a test can read, a browser-like
// client, a buffer other goroutines write, and a response writer and a heap
// measure for floods and benchmarks.
//
// It imports neither the session package, whose own tests use it, nor any
// driver: helpers that need go-redis or pgx live in the redistest and
// pgtest modules beside it.
package testenv
