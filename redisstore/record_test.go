package redisstore

import (
	"fmt"
	"maps"
	"net/netip"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/stretchr/testify/require"
)

// hashOf turns HSET's field/value pairs into what HGETALL returns.
func hashOf(pairs []any) map[string]string {
	h := make(map[string]string, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		h[pairs[i].(string)] = fmt.Sprintf("%s", pairs[i+1])
	}
	return h
}

func TestRecordEncoding(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600))
	full := &session.Record{
		Values:    session.ValuesOf(map[string][]byte{"a": []byte("1"), "": []byte("empty name"), "mc": {0, 0xff}}),
		User:      "alice",
		CreatedAt: at, LastSeen: at.Add(time.Second), IssuedAt: at.Add(2 * time.Second),
		IdleDeadline: at.Add(time.Hour), AbsoluteDeadline: at.Add(12 * time.Hour),
		ClientIP:  netip.MustParseAddr("2001:db8::7"),
		UserAgent: "agent",
		Remember:  true,
	}
	tests := []struct {
		name string
		rec  *session.Record
	}{
		{"full", full},
		{"anonymous, no address, no values", &session.Record{Values: session.ValuesOf(map[string][]byte{}), CreatedAt: at, IdleDeadline: at, AbsoluteDeadline: at}},
		{"zero times", &session.Record{Values: session.ValuesOf(map[string][]byte{})}},
		{"tombstone", &session.Record{Tombstone: &session.Tombstone{Next: "next", Successor: []byte{0, 1}, GraceUntil: at}, IdleDeadline: at, AbsoluteDeadline: at}},
		{"tombstone without grace", &session.Record{Tombstone: &session.Tombstone{Next: "next"}, IdleDeadline: at, AbsoluteDeadline: at}},
		{"tombstone with an empty successor", &session.Record{Tombstone: &session.Tombstone{Next: "", Successor: []byte{}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, version, err := decodeRecord(hashOf(encodeRecord(tc.rec, "42")))
			require.NoError(t, err)
			require.Equal(t, "42", version)
			require.Equal(t, maps.Collect(tc.rec.Values.All()), maps.Collect(got.Values.All()))
			require.Equal(t, tc.rec.User, got.User)
			require.Equal(t, tc.rec.ClientIP, got.ClientIP)
			require.Equal(t, tc.rec.UserAgent, got.UserAgent)
			require.Equal(t, tc.rec.Remember, got.Remember)
			for _, pair := range [][2]time.Time{
				{tc.rec.CreatedAt, got.CreatedAt}, {tc.rec.LastSeen, got.LastSeen}, {tc.rec.IssuedAt, got.IssuedAt},
				{tc.rec.IdleDeadline, got.IdleDeadline}, {tc.rec.AbsoluteDeadline, got.AbsoluteDeadline},
			} {
				require.True(t, pair[0].Truncate(time.Microsecond).Equal(pair[1]), "kept to the microsecond: %v, %v", pair[0], pair[1])
				require.Equal(t, pair[0].IsZero(), pair[1].IsZero())
			}
			if tc.rec.Tombstone == nil {
				require.Nil(t, got.Tombstone)
				return
			}
			require.Equal(t, tc.rec.Tombstone.Next, got.Tombstone.Next)
			require.Equal(t, tc.rec.Tombstone.Successor, got.Tombstone.Successor, "nil stays nil, empty stays empty")
			require.True(t, tc.rec.Tombstone.GraceUntil.Truncate(time.Microsecond).Equal(got.Tombstone.GraceUntil))
			require.True(t, got.Tombstone.Expires.Equal(got.ExpiresAt()), "a tombstone expires with its record")
		})
	}
}

// TestDecodeRemember: a hash without the remember field, as every release
// before it wrote, is a session not remembered, and so is one an update
// cleared it in.
func TestDecodeRemember(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    map[string]string
		want bool
	}{
		{"absent", map[string]string{"mu": "alice"}, false},
		{"cleared by an update", map[string]string{"mr": "0"}, false},
		{"set", map[string]string{"mr": "1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, _, err := decodeRecord(tc.h)
			require.NoError(t, err)
			require.Equal(t, tc.want, rec.Remember)
		})
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	for name, h := range map[string]map[string]string{
		"time":         {"md": "soon"},
		"address":      {"mp": "not an address"},
		"grace period": {"mt": "next", "mw": "later"},
		"remember":     {"mr": "yes"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := decodeRecord(h)
			require.ErrorIs(t, err, errCorrupt)
		})
	}
}
