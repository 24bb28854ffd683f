package session

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// memRoundTrip returns values encoded, then decoded.
func memRoundTrip(values map[string][]byte) map[string][]byte {
	return decodeValues(applyValues(nil, &Delta{Set: values}))
}

func TestMemValuesRoundTrip(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	many := make(map[string][]byte)
	for i := range 300 { // more than a one-byte uvarint count
		many[fmt.Sprint("key", i)] = []byte(fmt.Sprint(i))
	}
	tests := []struct {
		name   string
		values map[string][]byte
	}{
		{"nil", nil},
		{"empty", map[string][]byte{}},
		{"one", map[string][]byte{"v": []byte("0123456789abcdef")}},
		{"empty key and empty value", map[string][]byte{"": []byte("x"), "e": {}}},
		{"binary key and value", map[string][]byte{"\x00\xff{k}": all, "üñï": []byte("\x00")}},
		{"long value", map[string][]byte{"big": bytes.Repeat([]byte("ab"), 70_000), "small": []byte("1")}},
		{"many values", many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := memRoundTrip(tt.values)
			require.Len(t, got, len(tt.values))
			for k, v := range tt.values {
				require.Contains(t, got, k)
				require.True(t, bytes.Equal(v, got[k]), "value of %q", k)
			}
			if len(tt.values) == 0 {
				require.Nil(t, got, "no values decode to a nil map")
			}
		})
	}
	t.Run("nil value", func(t *testing.T) {
		got := memRoundTrip(map[string][]byte{"a": nil})
		require.Contains(t, got, "a")
		require.Empty(t, got["a"])
	})
}

// TestMemValuesApplyMatchesDelta checks applyValues against Delta.Apply on
// Values maps, with random deltas.
func TestMemValuesApplyMatchesDelta(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	key := func() string { return fmt.Sprint("k", rng.IntN(12)) }
	value := func() []byte { return bytes.Repeat([]byte{byte(rng.IntN(256))}, rng.IntN(200)) }
	want := &Record{}
	enc := applyValues(nil, &Delta{})
	require.Nil(t, enc)
	for step := range 2000 {
		d := Delta{Clear: rng.IntN(20) == 0}
		for range rng.IntN(3) {
			d.Delete = append(d.Delete, key())
		}
		if n := rng.IntN(4); n > 0 {
			d.Set = make(map[string][]byte, n)
			for range n {
				d.Set[key()] = value()
			}
		}
		before := enc
		snapshot := bytes.Clone(before)
		want = d.Apply(want)
		enc = applyValues(enc, &d)
		require.Equal(t, snapshot, before, "step %d: the old encoding must not change", step)
		got := decodeValues(enc)
		require.Len(t, got, len(want.Values), "step %d", step)
		for k, v := range want.Values {
			require.True(t, bytes.Equal(v, got[k]), "step %d: value of %q", step, k)
		}
		if !d.Clear && len(d.Delete) == 0 && len(d.Set) == 0 {
			require.Equal(t, unsafe.SliceData(before), unsafe.SliceData(enc), "a delta without value changes keeps the encoding")
		}
	}
}

// TestMemValuesAppendStaysInside: a caller appending to a value it loaded
// (which the contract forbids, but which must not corrupt the store) gets a
// copy, not a write over the next key or value.
func TestMemValuesAppendStaysInside(t *testing.T) {
	enc := applyValues(nil, &Delta{Set: map[string][]byte{"a": []byte("1"), "b": []byte("2")}})
	snapshot := bytes.Clone(enc)
	for _, v := range decodeValues(enc) {
		require.Equal(t, len(v), cap(v))
		_ = append(v, "overwrite"...)
	}
	require.Equal(t, snapshot, enc)
}

func TestMemNanos(t *testing.T) {
	paris := time.FixedZone("Paris", 3600)
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"zero", time.Time{}, time.Time{}},
		{"nanoseconds kept", time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
		{"time zone dropped", time.Date(2026, 1, 2, 4, 4, 5, 0, paris), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"Unix epoch", time.Unix(0, 0), time.Unix(0, 0).UTC()},
		{"before the epoch", time.Date(1960, 5, 6, 7, 8, 9, 10, time.UTC), time.Date(1960, 5, 6, 7, 8, 9, 10, time.UTC)},
		{"after 2262 clamped", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, math.MaxInt64).UTC()},
		{"before 1678 clamped", time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, math.MinInt64+1).UTC()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fromNanos(nanos(tt.in))
			require.True(t, tt.want.Equal(got), "got %v, want %v", got, tt.want)
			require.Equal(t, tt.want.Location(), got.Location())
		})
	}
	t.Run("monotonic reading dropped", func(t *testing.T) {
		now := time.Now()
		got := fromNanos(nanos(now))
		require.True(t, now.Equal(got))
		require.Equal(t, now.Round(0).UTC(), got)
	})
	t.Run("order kept", func(t *testing.T) {
		base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		require.Less(t, nanos(time.Time{}), nanos(base.AddDate(-500, 0, 0)))
		require.Less(t, nanos(base.AddDate(-500, 0, 0)), nanos(base))
		require.Less(t, nanos(base), nanos(base.Add(1)))
		require.Less(t, nanos(base), nanos(base.AddDate(500, 0, 0)))
	})
}

func TestMemRecordRoundTrip(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		name string
		rec  *Record
	}{
		{"session", &Record{
			Values:           map[string][]byte{"a": []byte("1"), "b": {}},
			User:             "alice",
			CreatedAt:        now,
			LastSeen:         now.Add(time.Minute),
			IssuedAt:         now.Add(2 * time.Minute),
			IdleDeadline:     now.Add(time.Hour),
			AbsoluteDeadline: now.Add(12 * time.Hour),
			ClientIP:         netip.MustParseAddr("192.0.2.7"),
			UserAgent:        "agent/1.0",
		}},
		{"IPv6 with zone, no values", &Record{
			CreatedAt:        now,
			IdleDeadline:     now.Add(time.Hour),
			AbsoluteDeadline: now.Add(time.Minute),
			ClientIP:         netip.MustParseAddr("fe80::1%eth0"),
		}},
		{"tombstone", &Record{
			Tombstone:        &Tombstone{Successor: []byte("sealed"), Next: "next", GraceUntil: now},
			IdleDeadline:     now,
			AbsoluteDeadline: now,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newMemRecord(tt.rec)
			require.Equal(t, tt.rec.ExpiresAt().UnixNano(), r.expires())
			got := &r.build().Record
			want := *tt.rec
			if len(want.Values) == 0 {
				want.Values = nil
			}
			require.Equal(t, &want, got)
			require.NotSame(t, got, &r.build().Record, "each call builds a new Record")
		})
	}
	t.Run("user agents are shared", func(t *testing.T) {
		ra, rb := newMemRecord(&Record{UserAgent: strings.Repeat("agent ", 20)}), newMemRecord(&Record{UserAgent: strings.Repeat("agent ", 20)})
		a, b := ra.build(), rb.build()
		require.Equal(t, a.UserAgent, b.UserAgent)
		require.Equal(t, unsafe.StringData(a.UserAgent), unsafe.StringData(b.UserAgent))
	})
}

func TestMemRecordApply(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := memRec(now, time.Hour, "alice", "a", "1", "b", "2")
	bob, later := "bob", now.Add(time.Minute)
	deltas := []Delta{
		{},
		{Set: map[string][]byte{"c": []byte("3")}, Delete: []string{"a"}},
		{Clear: true, User: &bob},
		{LastSeen: later, IdleDeadline: later.Add(time.Hour), IssuedAt: later},
	}
	for i, d := range deltas {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			old := newMemRecord(rec)
			before := old
			applied := old.apply(&d)
			got := &applied.build().Record
			require.Equal(t, before, old, "apply must not modify the record")
			want := d.Apply(rec)
			require.Equal(t, memValues(want), memValues(got))
			want.Values, got.Values = nil, nil
			require.Equal(t, want, got)
		})
	}
}

// TestMemoryStoreHeapPerSession bounds the heap a session of one 16-byte
// value takes in the store, shaped like the manager's (a 43-character key),
// beyond its value.
func TestMemoryStoreHeapPerSession(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a store")
	}
	const n, budget = 20_000, 400
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	value := []byte("0123456789abcdef")
	before := memHeapInUse()
	for i := range n {
		rec := memRec(clock.Now(), time.Hour, "")
		rec.Values = map[string][]byte{"v": bytes.Clone(value)}
		require.NoError(t, s.Create(ctx, storeKey(fmt.Sprint("heap-test-id-", i)), rec))
	}
	perSession := float64(memHeapInUse()-before)/n - float64(len(value))
	t.Logf("%.0f bytes of heap per session beyond its value", perSession)
	require.Less(t, perSession, float64(budget))
	require.Equal(t, n, s.Len())
}

func memHeapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestMemoryStoreCopiesWhatItKeeps: the store keeps a copy of the values
// given to Create and Update, not the caller's maps and slices.
func TestMemoryStoreCopiesWhatItKeeps(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := memNewStore(t, clock)
	rec := memRec(clock.Now(), time.Hour, "alice", "a", "1")
	require.NoError(t, s.Create(ctx, "key", rec))
	set := map[string][]byte{"b": []byte("2")}
	require.NoError(t, s.Update(ctx, "key", Delta{Set: set}))

	rec.Values["a"][0] = 'X'
	rec.Values["new"] = []byte("N")
	set["b"][0] = 'Y'
	got, err := s.Load(ctx, "key")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "1", "b": "2"}, memValues(got))
}
