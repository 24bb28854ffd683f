package session

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// valuesMap returns v as a map, for comparisons.
func valuesMap(v Values) map[string][]byte {
	return maps.Collect(v.All())
}

func TestValuesRoundTrip(t *testing.T) {
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
		{"nil value", map[string][]byte{"a": nil}},
		{"binary key and value", map[string][]byte{"\x00\xff{k}": all, "üñï": []byte("\x00")}},
		{"long value", map[string][]byte{"big": bytes.Repeat([]byte("ab"), 70_000), "small": []byte("1")}},
		{"many values", many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := ValuesOf(tt.values)
			require.Equal(t, len(tt.values), v.Len())
			got := valuesMap(v)
			require.Len(t, got, len(tt.values))
			for k, want := range tt.values {
				value, ok := v.Get(k)
				require.True(t, ok, "Get(%q)", k)
				require.True(t, bytes.Equal(want, value), "value of %q", k)
				require.True(t, bytes.Equal(want, got[k]), "value of %q in All", k)
			}
			_, ok := v.Get("absent")
			require.False(t, ok)
		})
	}
	t.Run("copies the map's bytes", func(t *testing.T) {
		m := map[string][]byte{"a": []byte("1")}
		v := ValuesOf(m)
		m["a"][0] = 'X'
		m["b"] = []byte("2")
		require.Equal(t, map[string][]byte{"a": []byte("1")}, valuesMap(v))
	})
}

// TestValuesWithMatchesMapModel checks Values.with, the way every Delta
// changes values, against a plain map, with random deltas; the Values a
// delta started from never change.
func TestValuesWithMatchesMapModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	key := func() string { return fmt.Sprint("k", rng.IntN(12)) }
	value := func() []byte { return bytes.Repeat([]byte{byte(rng.IntN(256))}, rng.IntN(200)) }
	model := map[string][]byte{}
	var v Values
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
		before, snapshot := v, bytes.Clone(v.enc)
		if d.Clear {
			clear(model)
		}
		for _, k := range d.Delete {
			delete(model, k)
		}
		maps.Copy(model, d.Set)
		v = v.with(&d)
		require.Equal(t, snapshot, before.enc, "step %d: the old values must not change", step)
		require.Equal(t, len(model), v.Len(), "step %d", step)
		for k, want := range model {
			got, ok := v.Get(k)
			require.True(t, ok && bytes.Equal(want, got), "step %d: value of %q", step, k)
		}
	}
}

// TestValuesAppendStaysInside: a caller appending to a value it got (which
// the contract forbids, but which must not corrupt the values) gets a copy,
// not a write over the next key or value.
func TestValuesAppendStaysInside(t *testing.T) {
	v := ValuesOf(map[string][]byte{"a": []byte("1"), "b": []byte("2")})
	snapshot := bytes.Clone(v.enc)
	for _, value := range v.All() {
		require.Equal(t, len(value), cap(value))
		_ = append(value, "overwrite"...)
	}
	require.Equal(t, snapshot, v.enc)
}

// TestNanos: the memory store's integer times keep the order of the times
// they stand for, clamped where Unix nanoseconds cannot hold them.
func TestNanos(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	require.Equal(t, base.UnixNano(), nanos(base))
	require.Equal(t, base.UnixNano(), nanos(base.In(time.FixedZone("Paris", 3600))), "the zone does not matter")
	require.Equal(t, int64(math.MaxInt64), nanos(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)), "after 2262 clamped")
	require.Equal(t, int64(math.MinInt64), nanos(time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)), "before 1678 clamped")
	require.Equal(t, int64(math.MinInt64), nanos(time.Time{}), "the zero time is the earliest")
	require.Less(t, nanos(base.AddDate(-200, 0, 0)), nanos(base))
	require.Less(t, nanos(base), nanos(base.Add(1)))
	require.Less(t, nanos(base), nanos(base.AddDate(200, 0, 0)))
}
