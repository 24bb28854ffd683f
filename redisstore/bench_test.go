package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/stretchr/testify/require"
)

// benchStore returns a store holding one session with a few small values,
// like a typical logged-in session, and its key.
func benchStore(b *testing.B) (*Store, string) {
	s := newTestStore(b, testClient(b))
	k := newKey(b)
	rec := liveRecord("alice", "cart", "apple,bread,cheese", "csrf", "0123456789abcdef0123456789abcdef", "theme", "dark")
	require.NoError(b, s.Create(context.Background(), k, rec))
	return s, k
}

func BenchmarkLoad(b *testing.B) {
	s, k := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdate(b *testing.B) {
	s, k := benchStore(b)
	ctx := context.Background()
	d := session.Delta{Set: map[string][]byte{"cart": []byte("apple,bread")}}
	b.ReportAllocs()
	for b.Loop() {
		d.LastSeen = time.Now()
		d.IdleDeadline = d.LastSeen.Add(30 * time.Minute)
		if err := s.Update(ctx, k, d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadParallel(b *testing.B) {
	s, k := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Load(ctx, k); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRoundTrip is one PING: the floor under any store call, for
// reading the other benchmarks.
func BenchmarkRoundTrip(b *testing.B) {
	c := testClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
	}
}
