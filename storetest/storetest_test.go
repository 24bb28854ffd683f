package storetest_test

import (
	"testing"

	"github.com/sessionid/session"
	"github.com/sessionid/session/storetest"
)

// newStoreForTest returns the store under test, fresh for each subtest: here
// the memory store, as a store of another package would return its own.
func newStoreForTest(t *testing.T) session.Store {
	s := session.NewMemoryStore()
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestConformance is how a store proves the Store contract (README.md shows
// it); the memory store passes it.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store { return newStoreForTest(t) })
}
