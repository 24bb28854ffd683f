package redisstore

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/stretchr/testify/require"
)

// fuzzHash turns fuzz input into a session hash: NUL-separated alternating
// fields and values, as HGETALL could return them from a tampered store.
func fuzzHash(data []byte) map[string]string {
	parts := bytes.Split(data, []byte{0})
	h := make(map[string]string, len(parts)/2)
	for i := 0; i+1 < len(parts); i += 2 {
		h[string(parts[i])] = string(parts[i+1])
	}
	return h
}

// hashBytes is fuzzHash's inverse, for seeds.
func hashBytes(pairs []any) []byte {
	var out []byte
	for field, value := range hashOf(pairs) {
		out = append(out, field...)
		out = append(out, 0)
		out = append(out, value...)
		out = append(out, 0)
	}
	return out
}

// FuzzDecodeRecord feeds decodeRecord hashes that no store wrote: it must
// return a record or an error, never panic, and a record it accepts must
// survive another encode and decode unchanged.
func FuzzDecodeRecord(f *testing.F) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Add(hashBytes(encodeRecord(&session.Record{
		Values: session.ValuesOf(map[string][]byte{"a": []byte("1")}), User: "alice", CreatedAt: at, LastSeen: at, IssuedAt: at,
		IdleDeadline: at.Add(time.Hour), AbsoluteDeadline: at.Add(time.Hour), ClientIP: netip.MustParseAddr("192.0.2.1"),
		Remember: true,
	}, "7")))
	f.Add(hashBytes(tombstoneRecord(&session.Tombstone{Next: "k", Successor: []byte{1, 2}, GraceUntil: at, Expires: at})))
	f.Add([]byte("mc\x00not-a-number\x00"))
	f.Add([]byte("mp\x00999.1.1.1\x00"))
	f.Add([]byte("mt\x00\x00mw\x00-1\x00"))
	f.Add([]byte("mr\x000\x00mu\x00bob\x00"))
	f.Add([]byte("mr\x00true\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, version, err := decodeRecord(fuzzHash(data))
		if err != nil {
			return
		}
		again, version2, err := decodeRecord(hashOf(encodeRecord(rec, version)))
		require.NoError(t, err, "a record the store accepted must encode back")
		require.Equal(t, version, version2)
		require.Equal(t, rec.User, again.User)
		require.Equal(t, rec.ClientIP, again.ClientIP)
		require.Equal(t, rec.UserAgent, again.UserAgent)
		require.Equal(t, rec.Remember, again.Remember)
		require.Equal(t, rec.Tombstone == nil, again.Tombstone == nil)
		if rec.Tombstone == nil {
			require.Equal(t, rec.Values.Len(), again.Values.Len())
			for name, v := range rec.Values.All() {
				v2, ok := again.Values.Get(name)
				require.True(t, ok && bytes.Equal(v, v2), "value %q", name)
			}
		}
		require.True(t, rec.IdleDeadline.Equal(again.IdleDeadline))
		require.True(t, rec.AbsoluteDeadline.Equal(again.AbsoluteDeadline))
	})
}
