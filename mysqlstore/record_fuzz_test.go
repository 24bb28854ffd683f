package mysqlstore

import (
	"net/netip"
	"testing"
	"time"
)

// FuzzDecodeRecord feeds the decoding of stored rows with arbitrary column
// contents: it never panics, rejects only a client address that does not
// parse, and keeps every value of a session but none of a tombstone.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte("192.0.2.7"), []byte("alice"), []byte("agent"), false, []byte("k"), []byte("v"), []byte("k2"), []byte{})
	f.Add([]byte("2001:db8::7%eth0"), []byte{}, []byte{0xff}, true, []byte{0}, []byte{0, 1}, []byte{0}, []byte("x"))
	f.Add([]byte("not an address"), []byte("bob"), []byte(nil), false, []byte(""), []byte(""), []byte("b"), []byte("c"))
	f.Fuzz(func(t *testing.T, ip, user, agent []byte, tomb bool, n1, v1, n2, v2 []byte) {
		now := time.Now().UTC()
		rows := []recordRow{
			{id: 1, key: []byte("k"), user: user, clientIP: ip, userAgent: agent, tombstone: tomb,
				idleDeadline: now, absDeadline: now, hasValue: true, name: n1, value: v1},
			{id: 1, key: []byte("k"), user: user, clientIP: ip, userAgent: agent, tombstone: tomb,
				idleDeadline: now, absDeadline: now, hasValue: true, name: n2, value: v2},
		}
		var b recordBuilder
		if err := b.start(&rows[0]); err != nil {
			if _, perr := netip.ParseAddr(string(ip)); perr == nil {
				t.Fatalf("a valid address %q was rejected: %v", ip, err)
			}
			return
		}
		for i := range rows {
			b.add(&rows[i])
		}
		rec := b.keyed().Record
		if rec.User != string(user) || rec.UserAgent != string(agent) {
			t.Fatalf("user %q, agent %q: got %q, %q", user, agent, rec.User, rec.UserAgent)
		}
		if ip != nil && rec.ClientIP.String() != netip.MustParseAddr(string(ip)).String() {
			t.Fatalf("address %q read as %v", ip, rec.ClientIP)
		}
		if tomb {
			if rec.Values.Len() != 0 || rec.Tombstone == nil {
				t.Fatalf("a tombstone has %d values", rec.Values.Len())
			}
			return
		}
		want := map[string]string{string(n1): string(v1), string(n2): string(v2)}
		if rec.Values.Len() != len(want) {
			t.Fatalf("%d values, want %d", rec.Values.Len(), len(want))
		}
		for k, v := range want {
			got, ok := rec.Values.Get(k)
			if !ok || string(got) != v {
				t.Fatalf("value of %q: %q, want %q", k, got, v)
			}
		}
	})
}
