// Package pgtest holds the test helpers that need pgx, shared by the tests
// of pgstore and faulttest: pools on the test database and schemas of a
// test's own that are dropped when it ends.
//
// It is a module of its own, so that the core module never requires pgx;
// internal/ keeps it to this repository's modules.
package pgtest
