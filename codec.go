package session

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"time"
)

// Codec turns session values into bytes for the store and back. Values are
// encoded one key at a time, which is what lets the manager send the store
// only the keys that changed.
//
// Implementations must be safe for concurrent use, and Decode must return an
// error, never panic, on bytes it did not produce.
type Codec interface {
	Encode(v any) ([]byte, error)
	Decode(data []byte) (any, error)
}

// ErrBadValue is returned (wrapped) by [DefaultCodec.Decode] for bytes it
// cannot decode.
var ErrBadValue = errors.New("session: malformed encoded value")

// DefaultCodec is the [Codec] used unless [WithCodec] says otherwise. It
// encodes string, int, int64, uint64, bool, float64, []byte, []string and
// time.Time in a compact tagged form without reflection, and any other type
// with encoding/gob, so those types must be registered with [gob.Register]. A
// time.Time comes back at the same instant with the same zone name and
// offset, as a fixed zone (UTC stays UTC): rules such as daylight saving
// time are not kept.
//
// Its zero value is ready to use and safe for concurrent use.
type DefaultCodec struct{}

// Tags of DefaultCodec's encoded forms: the first byte of every value.
const (
	tagGob byte = iota
	tagString
	tagInt
	tagInt64
	tagUint64
	tagBool
	tagFloat64
	tagBytes
	tagStrings
	tagTime
)

// Encode encodes v.
func (DefaultCodec) Encode(v any) ([]byte, error) {
	out, err := appendDefault(make([]byte, 0, encodedSizeHint(v)), v)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// encodedSizeHint bounds the encoded size of a tagged value, so that Encode
// allocates once; 0 for the types gob encodes.
func encodedSizeHint(v any) int {
	switch x := v.(type) {
	case string:
		return 1 + len(x)
	case []byte:
		return 1 + len(x)
	case []string:
		n := 1 + binary.MaxVarintLen64
		for _, s := range x {
			n += binary.MaxVarintLen64 + len(s)
		}
		return n
	case int, int64, uint64, bool, float64:
		return 1 + binary.MaxVarintLen64
	case time.Time:
		return 1 + 3*binary.MaxVarintLen64 + len("ABCDEF")
	}
	return 0
}

// appendEncoded appends codec's encoding of v to dst. DefaultCodec writes
// into dst directly, so a caller's stack buffer saves an allocation.
func appendEncoded(dst []byte, codec Codec, v any) ([]byte, error) {
	if _, ok := codec.(DefaultCodec); ok {
		return appendDefault(dst, v)
	}
	data, err := codec.Encode(v)
	if err != nil {
		return dst, err
	}
	return append(dst, data...), nil
}

func appendDefault(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return append(append(dst, tagString), x...), nil
	case int:
		return binary.AppendVarint(append(dst, tagInt), int64(x)), nil
	case int64:
		return binary.AppendVarint(append(dst, tagInt64), x), nil
	case uint64:
		return binary.AppendUvarint(append(dst, tagUint64), x), nil
	case bool:
		if x {
			return append(dst, tagBool, 1), nil
		}
		return append(dst, tagBool, 0), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(dst, tagFloat64), math.Float64bits(x)), nil
	case []byte:
		return append(append(dst, tagBytes), x...), nil
	case []string:
		out := binary.AppendUvarint(append(dst, tagStrings), uint64(len(x)))
		for _, s := range x {
			out = binary.AppendUvarint(out, uint64(len(s)))
			out = append(out, s...)
		}
		return out, nil
	case time.Time:
		return appendTime(dst, x), nil
	}
	return appendGob(dst, v)
}

// appendGob is apart from appendDefault so that only gob's values escape to
// the heap.
func appendGob(dst []byte, v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(tagGob)
	if err := gob.NewEncoder(&buf).Encode(&v); err != nil {
		return dst, fmt.Errorf("session: encoding %T (register it with gob.Register): %w", v, err)
	}
	if len(dst) == 0 {
		return buf.Bytes(), nil
	}
	return append(dst, buf.Bytes()...), nil
}

// Decode decodes data produced by Encode. Malformed data fails with an error
// wrapping [ErrBadValue].
func (DefaultCodec) Decode(data []byte) (any, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadValue)
	}
	tag, body := data[0], data[1:]
	switch tag {
	case tagString:
		return string(body), nil
	case tagInt:
		n, err := exactVarint(body)
		if err != nil || n != int64(int(n)) {
			return nil, fmt.Errorf("%w: int", ErrBadValue)
		}
		return int(n), nil
	case tagInt64:
		n, err := exactVarint(body)
		if err != nil {
			return nil, fmt.Errorf("%w: int64", ErrBadValue)
		}
		return n, nil
	case tagUint64:
		n, k := binary.Uvarint(body)
		if k <= 0 || k != len(body) {
			return nil, fmt.Errorf("%w: uint64", ErrBadValue)
		}
		return n, nil
	case tagBool:
		if len(body) != 1 || body[0] > 1 {
			return nil, fmt.Errorf("%w: bool", ErrBadValue)
		}
		return body[0] == 1, nil
	case tagFloat64:
		if len(body) != 8 {
			return nil, fmt.Errorf("%w: float64", ErrBadValue)
		}
		return math.Float64frombits(binary.BigEndian.Uint64(body)), nil
	case tagBytes:
		return bytes.Clone(body), nil
	case tagStrings:
		return decodeStrings(body)
	case tagTime:
		return decodeTime(body)
	case tagGob:
		var v any
		if err := gob.NewDecoder(bytes.NewReader(body)).Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: gob: %v", ErrBadValue, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("%w: unknown tag %d", ErrBadValue, tag)
}

func exactVarint(b []byte) (int64, error) {
	n, k := binary.Varint(b)
	if k <= 0 || k != len(b) {
		return 0, ErrBadValue
	}
	return n, nil
}

// decodeStrings and decodeTime return any, as Decode does, so that an error
// comes with a nil interface.
func decodeStrings(body []byte) (any, error) {
	count, k := binary.Uvarint(body)
	// Each string takes at least a byte: the input's size bounds the
	// allocation, whatever count claims.
	if k <= 0 || count > uint64(len(body)) {
		return nil, fmt.Errorf("%w: []string", ErrBadValue)
	}
	body = body[k:]
	out := make([]string, 0, count)
	for i := uint64(0); i < count; i++ {
		n, k := binary.Uvarint(body)
		if k <= 0 || n > uint64(len(body)-k) {
			return nil, fmt.Errorf("%w: []string", ErrBadValue)
		}
		out = append(out, string(body[k:k+int(n)]))
		body = body[k+int(n):]
	}
	if len(body) != 0 {
		return nil, fmt.Errorf("%w: []string trailing bytes", ErrBadValue)
	}
	return out, nil
}

// appendTime appends the tag, seconds and nanoseconds since 1970 and, unless
// t is in UTC, its zone's offset in seconds and name. (MarshalBinary loses
// the seconds of an offset that is negative and not whole minutes.)
func appendTime(dst []byte, t time.Time) []byte {
	out := binary.AppendVarint(append(dst, tagTime), t.Unix())
	out = binary.AppendUvarint(out, uint64(t.Nanosecond()))
	if t.Location() == time.UTC {
		return out
	}
	name, offset := t.Zone()
	out = binary.AppendVarint(out, int64(offset))
	return append(out, name...)
}

func decodeTime(body []byte) (any, error) {
	sec, k := binary.Varint(body)
	if k <= 0 {
		return nil, fmt.Errorf("%w: time seconds", ErrBadValue)
	}
	body = body[k:]
	nsec, k := binary.Uvarint(body)
	if k <= 0 || nsec >= 1e9 {
		return nil, fmt.Errorf("%w: time nanoseconds", ErrBadValue)
	}
	body = body[k:]
	t := time.Unix(sec, int64(nsec)).UTC()
	if len(body) == 0 {
		return t, nil
	}
	offset, k := binary.Varint(body)
	if k <= 0 || offset != int64(int32(offset)) {
		return nil, fmt.Errorf("%w: time zone offset", ErrBadValue)
	}
	return t.In(time.FixedZone(string(body[k:]), int(offset))), nil
}
