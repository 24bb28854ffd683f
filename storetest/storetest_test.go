package storetest_test

import (
	"testing"

	"github.com/sessionid/session"
	"github.com/sessionid/session/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		s := session.NewMemoryStore()
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
