package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/stretchr/testify/require"
)

// benchValues and benchSize shape the session of the benchmarks: 20 values
// of 1 KiB.
const benchValues, benchSize = 20, 1024

// benchStore returns a store holding one session of benchValues values, and
// its key.
func benchStore(b *testing.B) (*Store, string) {
	s := newTestStore(b, testPool(b))
	key := newKey(b)
	require.NoError(b, s.Create(context.Background(), key, bigRecord(b, "alice", benchValues, benchSize)))
	return s, key
}

func BenchmarkLoad(b *testing.B) {
	s, key := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdate changes one value of the session, with its idle deadline,
// as a request that writes one key does.
func BenchmarkUpdate(b *testing.B) {
	s, key := benchStore(b)
	ctx := context.Background()
	// Two values in turn: writing the value a row holds already would let
	// PostgreSQL log only the change of the row.
	values := [2][]byte{randomBytes(b, benchSize), randomBytes(b, benchSize)}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		now := time.Now()
		n++
		d := session.Delta{Set: map[string][]byte{"v07": values[n%2]}, LastSeen: now, IdleDeadline: now.Add(30 * time.Minute)}
		if err := s.Update(ctx, key, d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTouch pushes the idle deadline, as a read-only request does once
// per touch interval.
func BenchmarkTouch(b *testing.B) {
	s, key := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		if err := s.Update(ctx, key, session.Delta{LastSeen: now, IdleDeadline: now.Add(30 * time.Minute)}); err != nil {
			b.Fatal(err)
		}
	}
}
