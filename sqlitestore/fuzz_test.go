package sqlitestore

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sessionid/session"
)

// FuzzRoundTrip stores records made of arbitrary bytes and reads them back:
// the record is decoded from rows (one per value, joined to the session's),
// so whatever a key, value name, value, user agent or user holds must come
// back unchanged, through Create, Update and Load.
func FuzzRoundTrip(f *testing.F) {
	f.Add("key", "name", []byte("value"), "agent", "alice", "2001:db8::1")
	f.Add("", "", []byte{}, "", "", "")
	f.Add("\x00k\xff", "\x00", []byte{0, 0xff}, "\t\"é\xff", "bob, 'x'", "::ffff:192.0.2.1")
	f.Add("k", "a\x00b", []byte(nil), "a\x00gent", "üñï", "fe80::1%eth0")
	s := newTestStore(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, key, name string, value []byte, agent, user, ip string) {
		if !utf8.ValidString(user) || strings.ContainsRune(user, 0) {
			t.Skip("the manager only stores users that are valid UTF-8 without NUL")
		}
		if !utf8.ValidString(agent) {
			agent = strings.ToValidUTF8(agent, "\uFFFD")
		}
		addr, _ := netip.ParseAddr(ip)
		rec := liveRecord(user, map[string][]byte{name: value, name + "2": bytes.Repeat(value, 2)})
		rec.UserAgent, rec.ClientIP = agent, addr
		if err := s.Create(ctx, key, rec); err != nil {
			t.Fatalf("create: %v", err)
		}
		defer func() {
			if err := s.Delete(ctx, key); err != nil {
				t.Fatalf("delete: %v", err)
			}
		}()
		if err := s.Update(ctx, key, session.Delta{Set: map[string][]byte{name + "3": value}, Delete: []string{name + "2"}}); err != nil {
			t.Fatalf("update: %v", err)
		}
		got, err := s.Load(ctx, key)
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		if got.User != user || got.UserAgent != agent || got.ClientIP != addr {
			t.Fatalf("got user %q agent %q ip %v, want %q %q %v", got.User, got.UserAgent, got.ClientIP, user, agent, addr)
		}
		if got.Values.Len() != 2 {
			t.Fatalf("got %d values, want 2", got.Values.Len())
		}
		for _, n := range []string{name, name + "3"} {
			if v, ok := got.Values.Get(n); !ok || !bytes.Equal(v, value) {
				t.Fatalf("value %q: got %q, %v; want %q", n, v, ok, value)
			}
		}
	})
}
