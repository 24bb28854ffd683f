package session

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMemoryStoreRecentRecords(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	require.NoError(t, s.Create(ctx, "key", memRec(clock.Now(), time.Hour, "", "a", "1")))

	first, err := s.Load(ctx, "key")
	require.NoError(t, err)
	again, err := s.Load(ctx, "key")
	require.NoError(t, err)
	require.Same(t, first, again, "a record read again is not built again")

	require.NoError(t, s.Update(ctx, "key", Delta{Set: map[string][]byte{"a": []byte("2")}}))
	updated, err := s.Load(ctx, "key")
	require.NoError(t, err)
	require.NotSame(t, first, updated)
	require.Equal(t, map[string]string{"a": "2"}, memValues(updated))
	require.Equal(t, map[string]string{"a": "1"}, memValues(first), "a returned record never changes")

	require.NoError(t, s.Delete(ctx, "key"))
	require.Nil(t, s.locate(s.hash("key")).slot.Load(), "a removed record's values are not kept")
	_, err = s.Load(ctx, "key")
	require.ErrorIs(t, err, ErrNotFound)
}

// TestMemoryStoreRecentSlotShared: keys that share a slot each get their
// own record.
func TestMemoryStoreRecentSlotShared(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	var keys []string
	for i := 0; len(keys) < 3; i++ {
		if k := fmt.Sprint("k", i); len(keys) == 0 || s.locate(s.hash(k)).slot == s.locate(s.hash(keys[0])).slot {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		require.NoError(t, s.Create(ctx, k, memRec(clock.Now(), time.Hour, "", "k", k)))
	}
	for range 3 {
		for _, k := range keys {
			got, err := s.Load(ctx, k)
			require.NoError(t, err)
			require.Equal(t, map[string]string{"k": k}, memValues(got))
		}
	}
}

// BenchmarkMemoryStoreLoadRecent loads one session again and again, as a
// page and the requests it makes do; BenchmarkMemoryStoreLoad reads more
// sessions than the store keeps Records of.
func BenchmarkMemoryStoreLoadRecent(b *testing.B) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(b, clock)
	key := storeKey("benchmark-session-id")
	if err := s.Create(ctx, key, memRec(clock.Now(), time.Hour, "", "k", "v")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}
