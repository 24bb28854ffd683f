package mysqlstore

import (
	"testing"

	"github.com/sessionid/session"
	"github.com/sessionid/session/storetest"
)

func TestConformance(t *testing.T) {
	s := newTestStore(t)
	// Keys are random, so the subtests share one store and its tables.
	storetest.Run(t, func(*testing.T) session.Store { return s })
}
