// Package benchmarks compares the session library with scs and
// gorilla/sessions; see BENCHMARKS.md.
package benchmarks
