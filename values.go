package session

import (
	"encoding/binary"
	"iter"
	"math/bits"
	"slices"
	"unsafe"
)

// Values are a session's values as a store keeps them: each key with the
// bytes the manager's [Codec] made of its value. A Values is immutable, so it
// is cheap to copy and safe for concurrent use. The zero Values holds none.
//
// The bytes its methods return are shared: callers must not modify them.
type Values struct {
	// enc is the count, then each key and value, each preceded by its
	// length; count and lengths are uvarints. nil for none.
	enc []byte
}

// ValuesOf returns Values holding the keys and values of m, for a store
// that reads values one by one (the fields of a hash, rows). It copies what
// it keeps: m may be changed afterwards.
func ValuesOf(m map[string][]byte) Values {
	return Values{}.with(&Delta{Set: m})
}

// Len returns the number of values.
func (v Values) Len() int {
	n, _ := binary.Uvarint(v.enc)
	return int(n)
}

// Get returns the encoded value of key, and whether there is one.
func (v Values) Get(key string) ([]byte, bool) {
	for k, value := range v.All() {
		if k == key {
			return value, true
		}
	}
	return nil, false
}

// All yields every key and its encoded value, in no particular order.
func (v Values) All() iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		if len(v.enc) == 0 {
			return
		}
		n, i := binary.Uvarint(v.enc)
		for ; n > 0; n-- {
			var k, value []byte
			k, i = nextField(v.enc, i)
			value, i = nextField(v.enc, i)
			// enc is never written to again, so the key needs no copy.
			if !yield(unsafe.String(unsafe.SliceData(k), len(k)), value) {
				return
			}
		}
	}
}

// with returns v after d's Clear, Delete and Set, or v itself if d changes no
// value.
func (v Values) with(d *Delta) Values {
	if !d.Clear && len(d.Delete) == 0 && len(d.Set) == 0 {
		return v
	}
	if d.Clear {
		v = Values{}
	}
	kept := func(k string) bool {
		_, set := d.Set[k]
		return !set && !slices.Contains(d.Delete, k)
	}
	var b valuesBuilder
	for k, value := range v.All() {
		if kept(k) {
			b.size(k, value)
		}
	}
	for k, value := range d.Set {
		b.size(k, value)
	}
	b.start()
	for k, value := range v.All() {
		if kept(k) {
			b.add(k, value)
		}
	}
	for k, value := range d.Set {
		b.add(k, value)
	}
	return b.values()
}

// valuesBuilder makes Values in one allocation: size every pair, start, then
// add them.
type valuesBuilder struct {
	n, bytes int
	enc      []byte
}

func (b *valuesBuilder) size(k string, value []byte) {
	b.n++
	b.bytes += uvarintLen(len(k)) + len(k) + uvarintLen(len(value)) + len(value)
}

func (b *valuesBuilder) start() {
	if b.n > 0 {
		b.enc = binary.AppendUvarint(make([]byte, 0, uvarintLen(b.n)+b.bytes), uint64(b.n))
	}
}

func (b *valuesBuilder) add(k string, value []byte) {
	b.enc = append(binary.AppendUvarint(b.enc, uint64(len(k))), k...)
	b.enc = append(binary.AppendUvarint(b.enc, uint64(len(value))), value...)
}

func (b *valuesBuilder) values() Values { return Values{b.enc} }

func uvarintLen(n int) int { return (bits.Len(uint(n)|1) + 6) / 7 }

// nextField returns the length-prefixed field at enc[i:], capped so that an
// append cannot write over the next, and the position after it.
func nextField(enc []byte, i int) ([]byte, int) {
	l, w := binary.Uvarint(enc[i:])
	start := i + w
	end := start + int(l)
	return enc[start:end:end], end
}
