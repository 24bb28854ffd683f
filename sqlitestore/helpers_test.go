package sqlitestore

import (
	"net/netip"
	"time"

	"github.com/sessionid/session"
)

// liveRecord returns a record of user with values, live for half an hour.
func liveRecord(user string, values map[string][]byte) *session.Record {
	n := time.Now().Truncate(time.Microsecond)
	return &session.Record{
		Values:           session.ValuesOf(values),
		User:             user,
		CreatedAt:        n,
		LastSeen:         n,
		IssuedAt:         n,
		IdleDeadline:     n.Add(30 * time.Minute),
		AbsoluteDeadline: n.Add(12 * time.Hour),
		ClientIP:         netip.MustParseAddr("192.0.2.7"),
		UserAgent:        "test/1.0",
	}
}
