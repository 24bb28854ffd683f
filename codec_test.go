package session

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// codecPoint is a struct that goes through DefaultCodec's gob fallback.
type codecPoint struct {
	X, Y int
	Name string
}

// codecUnregistered is never registered with gob.
type codecUnregistered struct{ A int }

func init() {
	gob.Register(codecPoint{})
	gob.Register(map[string]int{})
}

// codecEqual reports whether two decoded values are the same value. It
// compares floats by bits (so NaN equals itself and -0 differs from 0) and
// times by instant and zone offset, since locations are pointers.
func codecEqual(t *testing.T, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case float64:
		g, ok := got.(float64)
		require.True(t, ok, "got %T, want float64", got)
		require.Equal(t, math.Float64bits(w), math.Float64bits(g), "want %v, got %v", w, g)
	case time.Time:
		g, ok := got.(time.Time)
		require.True(t, ok, "got %T, want time.Time", got)
		require.True(t, w.Equal(g), "want %v, got %v", w, g)
		_, wOff := w.Zone()
		_, gOff := g.Zone()
		require.Equal(t, wOff, gOff, "zone offset")
		require.Equal(t, w.Location() == time.UTC, g.Location() == time.UTC, "UTC-ness")
		require.Equal(t, g, g.Round(0), "a decoded time has no monotonic reading")
	case []byte:
		g, ok := got.([]byte)
		require.True(t, ok, "got %T, want []byte", got)
		require.True(t, bytes.Equal(w, g), "want %q, got %q", w, g)
	case []string:
		g, ok := got.([]string)
		require.True(t, ok, "got %T, want []string", got)
		require.Len(t, g, len(w))
		for i := range w {
			require.Equal(t, w[i], g[i])
		}
	default:
		require.Equal(t, want, got)
	}
}

func TestDefaultCodecRoundTrip(t *testing.T) {
	withMono := time.Now() // carries a monotonic reading
	require.NotEqual(t, withMono, withMono.Round(0), "time.Now must have a monotonic reading for this test")
	tests := []struct {
		name    string
		value   any
		wantTag byte
	}{
		{"empty string", "", tagString},
		{"string", "hello, world", tagString},
		{"string with NUL and invalid UTF-8", "a\x00b\xff\xfe", tagString},
		{"long string", strings.Repeat("x", 1<<16), tagString},
		{"int zero", 0, tagInt},
		{"int positive", 42, tagInt},
		{"int negative", -42, tagInt},
		{"int max", math.MaxInt, tagInt},
		{"int min", math.MinInt, tagInt},
		{"int64 zero", int64(0), tagInt64},
		{"int64 max", int64(math.MaxInt64), tagInt64},
		{"int64 min", int64(math.MinInt64), tagInt64},
		{"int64 negative", int64(-1), tagInt64},
		{"uint64 zero", uint64(0), tagUint64},
		{"uint64 max", uint64(math.MaxUint64), tagUint64},
		{"bool true", true, tagBool},
		{"bool false", false, tagBool},
		{"float64", 3.25, tagFloat64},
		{"float64 negative zero", math.Copysign(0, -1), tagFloat64},
		{"float64 +Inf", math.Inf(1), tagFloat64},
		{"float64 -Inf", math.Inf(-1), tagFloat64},
		{"float64 NaN", math.NaN(), tagFloat64},
		{"float64 smallest", math.SmallestNonzeroFloat64, tagFloat64},
		{"float64 max", math.MaxFloat64, tagFloat64},
		{"empty []byte", []byte{}, tagBytes},
		{"[]byte", []byte{0, 1, 2, 0xff}, tagBytes},
		{"empty []string", []string{}, tagStrings},
		{"[]string", []string{"a", "bc", "def"}, tagStrings},
		{"[]string of empty strings", []string{"", "", ""}, tagStrings},
		{"[]string mixed", []string{"", "x", "", strings.Repeat("y", 300)}, tagStrings},
		{"time UTC", time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), tagTime},
		{"time with fixed zone", time.Date(2026, 7, 8, 9, 10, 11, 12, time.FixedZone("IST", 5*3600+30*60)), tagTime},
		{"time with negative zone", time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("X", -8*3600)), tagTime},
		{"time with second-offset zone", time.Date(1880, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 3600+23*60+17)), tagTime},
		// America/New_York's local mean time, -4:56:02: a zone west of
		// Greenwich whose offset is not a whole number of minutes.
		{"time with negative second-offset zone", time.Date(1870, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", -(4*3600+56*60+2))), tagTime},
		{"time with one-minute-west zone", time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("odd", -60)), tagTime},
		{"time with a zone beyond MarshalBinary's range", time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 40000*60)), tagTime},
		{"time with an unnamed zone", time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 2*3600)), tagTime},
		{"time before 1970", time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), tagTime},
		{"time far in the future", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), tagTime},
		{"zero time", time.Time{}, tagTime},
		{"time with monotonic reading", withMono, tagTime},
		{"registered struct", codecPoint{X: -1, Y: 2, Name: "p"}, tagGob},
		{"map[string]int", map[string]int{"a": 1, "b": -2}, tagGob},
		{"int32 via gob", int32(-7), tagGob},
		{"float32 via gob", float32(1.5), tagGob},
		{"[]int via gob", []int{1, 2, 3}, tagGob},
	}
	var c DefaultCodec
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := c.Encode(tt.value)
			require.NoError(t, err)
			require.NotEmpty(t, data)
			require.Equal(t, tt.wantTag, data[0], "tag of %T", tt.value)

			got, err := c.Decode(data)
			require.NoError(t, err)
			want := tt.value
			if tm, ok := want.(time.Time); ok {
				want = tm.Round(0)
			}
			codecEqual(t, want, got)

			again, err := c.Encode(got)
			require.NoError(t, err)
			if tt.wantTag != tagGob {
				require.Equal(t, data, again, "re-encoding a decoded value gives the same bytes")
				// Appending gives the same bytes after what was there.
				appended, err := appendEncoded([]byte("prefix"), c, got)
				require.NoError(t, err)
				require.Equal(t, append([]byte("prefix"), data...), appended)
			}
		})
	}
}

// TestDefaultCodecEncodeAllocatesOnce: Encode sizes its result up front for
// the tagged types.
func TestDefaultCodecEncodeAllocatesOnce(t *testing.T) {
	values := []any{"a session value", 123456, int64(-1), uint64(1 << 60), true, 2.5, []byte("bytes"),
		[]string{"a", strings.Repeat("b", 200)}, time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("Europe/Zurich", 3600))}
	for _, v := range values {
		allocs := testing.AllocsPerRun(50, func() {
			_, _ = DefaultCodec{}.Encode(v)
		})
		assert.Equal(t, 1.0, allocs, "%T", v)
	}
}

// TestAppendEncodedOtherCodec: a codec other than DefaultCodec is asked to
// Encode, and its bytes are appended; its error comes back.
func TestAppendEncodedOtherCodec(t *testing.T) {
	out, err := appendEncoded([]byte("x"), upperCodec{}, "abc")
	require.NoError(t, err)
	assert.Equal(t, []byte("xABC"), out)
	_, err = appendEncoded(nil, upperCodec{}, 1)
	require.Error(t, err)
}

// upperCodec encodes strings as their upper case, and nothing else.
type upperCodec struct{}

func (upperCodec) Encode(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("upperCodec: %T", v)
	}
	return []byte(strings.ToUpper(s)), nil
}

func (upperCodec) Decode(data []byte) (any, error) { return string(data), nil }

func TestDefaultCodecNilSlices(t *testing.T) {
	var c DefaultCodec
	tests := []struct {
		name  string
		value any
	}{
		{"nil []byte", []byte(nil)},
		{"nil []string", []string(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := c.Encode(tt.value)
			require.NoError(t, err)
			got, err := c.Decode(data)
			require.NoError(t, err)
			require.IsType(t, tt.value, got)
			require.Empty(t, got)
		})
	}
}

func TestDefaultCodecDecodedBytesDoNotAliasInput(t *testing.T) {
	var c DefaultCodec
	data, err := c.Encode([]byte("secret"))
	require.NoError(t, err)
	got, err := c.Decode(data)
	require.NoError(t, err)
	for i := range data {
		data[i] = 'X'
	}
	require.Equal(t, []byte("secret"), got, "the decoded []byte must not share the input's memory")
}

func TestDefaultCodecEncodeErrors(t *testing.T) {
	var c DefaultCodec
	tests := []struct {
		name  string
		value any
	}{
		{"func", func() {}},
		{"chan", make(chan int)},
		{"unregistered struct", codecUnregistered{A: 1}},
		{"map with func values", map[string]func(){"f": func() {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var data []byte
			var err error
			require.NotPanics(t, func() { data, err = c.Encode(tt.value) })
			require.Error(t, err)
			require.Nil(t, data)
			require.Contains(t, err.Error(), "session: encoding")
		})
	}
}

func TestDefaultCodecDecodeGarbage(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"unknown tag", []byte{tagTime + 1, 1, 2, 3}},
		{"unknown tag 0xff", []byte{0xff}},
		{"int without body", []byte{tagInt}},
		{"int truncated varint", []byte{tagInt, 0x80}},
		{"int trailing bytes", []byte{tagInt, 0x02, 0x00}},
		{"int varint overflow", append([]byte{tagInt}, bytes.Repeat([]byte{0xff}, 10)...)},
		{"int64 without body", []byte{tagInt64}},
		{"int64 truncated varint", []byte{tagInt64, 0xff, 0xff}},
		{"int64 varint overflow", append([]byte{tagInt64}, bytes.Repeat([]byte{0x80}, 11)...)},
		{"uint64 without body", []byte{tagUint64}},
		{"uint64 truncated varint", []byte{tagUint64, 0x80, 0x80}},
		{"uint64 trailing bytes", []byte{tagUint64, 0x01, 0x01}},
		{"uint64 overflow", append(append([]byte{tagUint64}, bytes.Repeat([]byte{0xff}, 9)...), 0x02)},
		{"bool without body", []byte{tagBool}},
		{"bool value 2", []byte{tagBool, 2}},
		{"bool two bytes", []byte{tagBool, 1, 0}},
		{"float64 short", []byte{tagFloat64, 1, 2, 3, 4, 5, 6, 7}},
		{"float64 long", []byte{tagFloat64, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"[]string without count", []byte{tagStrings}},
		{"[]string truncated count", []byte{tagStrings, 0x80}},
		{"[]string huge count", binary.AppendUvarint([]byte{tagStrings}, math.MaxUint64)},
		{"[]string count above input size", binary.AppendUvarint([]byte{tagStrings}, 1<<40)},
		{"[]string fewer strings than count", []byte{tagStrings, 2, 1, 'a'}},
		{"[]string length past end", []byte{tagStrings, 1, 5, 'a', 'b'}},
		{"[]string huge length", binary.AppendUvarint([]byte{tagStrings, 1}, math.MaxUint64)},
		{"[]string truncated length", []byte{tagStrings, 1, 0x80}},
		{"[]string trailing bytes", []byte{tagStrings, 1, 1, 'a', 'z'}},
		{"time without body", []byte{tagTime}},
		{"time truncated seconds", []byte{tagTime, 0x80}},
		{"time seconds varint overflow", append([]byte{tagTime}, bytes.Repeat([]byte{0xff}, 10)...)},
		{"time without nanoseconds", []byte{tagTime, 0x02}},
		{"time truncated nanoseconds", []byte{tagTime, 0x02, 0x80}},
		{"time nanoseconds of a whole second", binary.AppendUvarint([]byte{tagTime, 0x02}, 1_000_000_000)},
		{"time huge nanoseconds", binary.AppendUvarint([]byte{tagTime, 0x02}, math.MaxUint64)},
		{"time truncated zone offset", []byte{tagTime, 0x02, 0x00, 0x80}},
		{"time zone offset beyond int32", binary.AppendVarint([]byte{tagTime, 0x02, 0x00}, 1<<40)},
		{"gob without body", []byte{tagGob}},
		{"gob garbage", []byte{tagGob, 0xde, 0xad, 0xbe, 0xef}},
		{"gob truncated", codecTruncatedGob()},
		{"gob of an unregistered type name", codecGobWithName()},
	}
	var c DefaultCodec
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			var err error
			require.NotPanics(t, func() { v, err = c.Decode(tt.data) })
			require.ErrorIs(t, err, ErrBadValue)
			require.Nil(t, v)
		})
	}
}

// codecTruncatedGob returns a valid gob encoding with its end cut off.
func codecTruncatedGob() []byte {
	data, err := DefaultCodec{}.Encode(codecPoint{X: 1, Y: 2, Name: "truncated"})
	if err != nil {
		panic(err)
	}
	return data[:len(data)-3]
}

// codecGobWithName returns a gob encoding whose interface type name is
// changed to one that was never registered.
func codecGobWithName() []byte {
	data, err := DefaultCodec{}.Encode(codecPoint{X: 1})
	if err != nil {
		panic(err)
	}
	name := []byte("codecPoint")
	i := bytes.Index(data, name)
	if i < 0 {
		panic("gob encoding does not name its type")
	}
	out := bytes.Clone(data)
	copy(out[i:], "codecPoinX")
	return out
}

// codecIsFastPath reports whether v is of a type DefaultCodec encodes
// without gob, for which decoded values are comparable with codecEqual.
func codecIsFastPath(v any) bool {
	switch v.(type) {
	case string, int, int64, uint64, bool, float64, []byte, []string, time.Time:
		return true
	}
	return false
}

func FuzzDefaultCodecDecode(f *testing.F) {
	var c DefaultCodec
	seeds := []any{
		"", "hello", 0, -1, math.MaxInt, math.MinInt, int64(-5), uint64(math.MaxUint64),
		true, false, 1.5, math.NaN(), math.Inf(-1), []byte{}, []byte("bytes"),
		[]string{}, []string{"", "a", "bc"}, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("", 3600+17)),
		codecPoint{X: 1, Name: "n"}, map[string]int{"a": 1}, []int{1, 2},
	}
	for _, v := range seeds {
		data, err := c.Encode(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, garbage := range [][]byte{
		nil, {0xff}, {tagInt, 0x80}, {tagStrings, 0xff, 0xff, 0xff, 0xff, 0x0f},
		{tagStrings, 2, 1, 'a'}, {tagBool, 7}, {tagGob, 0x03, 0x04}, {tagTime, 2},
	} {
		f.Add(garbage)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := c.Decode(data)
		if err != nil {
			require.ErrorIs(t, err, ErrBadValue)
			require.Nil(t, v)
			return
		}
		if !codecIsFastPath(v) {
			return // gob values need not be comparable; not panicking is enough
		}
		enc, err := c.Encode(v)
		require.NoError(t, err, "a value Decode returned (%T %v) must be encodable", v, v)
		again, err := c.Decode(enc)
		require.NoError(t, err)
		codecEqual(t, v, again)
		enc2, err := c.Encode(again)
		require.NoError(t, err)
		require.Equal(t, enc, enc2, "encoding is canonical once decoded")
	})
}

func BenchmarkDefaultCodec(b *testing.B) {
	var c DefaultCodec
	values := []struct {
		name  string
		value any
	}{
		{"string", "some session value"},
		{"int", 123456},
		{"[]string", []string{"a", "bb", "ccc"}},
		{"gob struct", codecPoint{X: 1, Y: 2, Name: "p"}},
	}
	for _, v := range values {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := c.Encode(v.value)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
