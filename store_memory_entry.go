package session

import (
	"encoding/binary"
	"iter"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"time"
	"unique"
	"unsafe"
)

// memRecord is a record of a MemoryStore in a compact form: about 130 bytes
// beyond its values, where a Record with a Values map of one value takes
// about 600. It lives inside its memEntry, and Load copies it under the
// shard's lock. Its values are never modified, only replaced (Update encodes
// new ones), so the copies and the Records built from them (see build) can
// share them.
type memRecord struct {
	values []byte     // the values, encoded by applyValues; nil for none
	user   string     // the record's user; "" for none
	agent  userAgent  // the record's UserAgent
	ip     netip.Addr // the record's ClientIP
	tomb   *Tombstone // the record's Tombstone, never modified

	// The record's times as Unix nanoseconds (see nanos).
	created, lastSeen, issued, idle, absolute int64

	// version is given by the shard each time it stores a record: no two
	// records of one shard share a version, so a Record built from one is
	// recognised by it (see memLocation.record).
	version uint64
}

// newMemRecord returns the compact form of rec, sharing nothing with it but
// its Tombstone.
func newMemRecord(rec *Record) memRecord {
	return newMemRecordValues(rec, applyValues(nil, &Delta{Set: rec.Values}))
}

// newMemRecordValues returns the compact form of rec with values, encoded
// as applyValues does, in place of rec.Values.
func newMemRecordValues(rec *Record, values []byte) memRecord {
	return memRecord{
		values:   values,
		user:     rec.User,
		agent:    makeUserAgent(rec.UserAgent),
		ip:       rec.ClientIP,
		tomb:     rec.Tombstone,
		created:  nanos(rec.CreatedAt),
		lastSeen: nanos(rec.LastSeen),
		issued:   nanos(rec.IssuedAt),
		idle:     nanos(rec.IdleDeadline),
		absolute: nanos(rec.AbsoluteDeadline),
	}
}

// newMemTombstone returns the record Renew leaves at the old key.
func newMemTombstone(tomb *Tombstone, expires time.Time) memRecord {
	exp := nanos(expires)
	return memRecord{tomb: tomb, created: zeroNanos, lastSeen: zeroNanos, issued: zeroNanos, idle: exp, absolute: exp}
}

// expires returns the moment, in Unix nanoseconds, from which the record is
// dead (Record.ExpiresAt).
func (r *memRecord) expires() int64 { return min(r.idle, r.absolute) }

// expiresAfterRead returns when r would expire had a Load at read pushed
// its idle deadline forward as a write does: its idle span (idle −
// lastSeen) after read, or its absolute deadline if that comes first. It is
// r's expiry if read is not after lastSeen, or r is a tombstone or has no
// lastSeen. It orders evictions; it never decides expiry.
func (r *memRecord) expiresAfterRead(read int64) int64 {
	if r.tomb != nil || r.lastSeen == zeroNanos || read <= r.lastSeen {
		return r.expires()
	}
	idle := r.idle + (read - r.lastSeen)
	if idle < r.idle { // overflowed
		idle = math.MaxInt64
	}
	return min(idle, r.absolute)
}

// apply returns a copy of r with d applied, as Delta.Apply does to a Record.
func (r *memRecord) apply(d *Delta) memRecord {
	out := *r
	out.values = applyValues(r.values, d)
	if d.User != nil {
		out.user = *d.User
	}
	if !d.LastSeen.IsZero() {
		out.lastSeen = nanos(d.LastSeen)
	}
	if !d.IdleDeadline.IsZero() {
		out.idle = nanos(d.IdleDeadline)
	}
	if !d.IssuedAt.IsZero() {
		out.issued = nanos(d.IssuedAt)
	}
	return out
}

// build returns a new Record holding r, with r. Its Values is nil when r has
// none, and otherwise a new map whose keys and values share r's encoded
// values: callers must not modify them, as the Store contract says of every
// Record that Load returns.
func (r *memRecord) build() *builtRecord {
	return &builtRecord{
		version: r.version,
		Record: Record{
			Values:           decodeValues(r.values),
			User:             r.user,
			CreatedAt:        fromNanos(r.created),
			LastSeen:         fromNanos(r.lastSeen),
			IssuedAt:         fromNanos(r.issued),
			IdleDeadline:     fromNanos(r.idle),
			AbsoluteDeadline: fromNanos(r.absolute),
			ClientIP:         r.ip,
			UserAgent:        r.agent.String(),
			Tombstone:        r.tomb,
		},
	}
}

// builtRecord is a Record built from a memRecord, with that one's version.
type builtRecord struct {
	Record
	version uint64
}

// userAgent is a User-Agent interned with package unique: the sessions of
// clients with the same User-Agent share one copy of it. The zero value is
// the empty User-Agent.
type userAgent struct {
	h unique.Handle[string]
}

func makeUserAgent(s string) userAgent {
	if s == "" {
		return userAgent{}
	}
	return userAgent{unique.Make(s)}
}

func (u userAgent) String() string {
	if u == (userAgent{}) {
		return ""
	}
	return u.h.Value()
}

// zeroNanos stands for the zero time.Time.
const zeroNanos = math.MinInt64

// The range of seconds whose times have Unix nanoseconds in an int64, with
// a second of margin at each end.
const (
	minNanosSec = math.MinInt64/int64(time.Second) + 1
	maxNanosSec = math.MaxInt64/int64(time.Second) - 1
)

// nanos returns t as Unix nanoseconds, and the zero time as zeroNanos. The
// few times Unix nanoseconds cannot hold (before the year 1678 or after
// 2262) are clamped to the nearest that they can: a deadline after 2262 is
// kept as one in 2262.
func nanos(t time.Time) int64 {
	switch sec := t.Unix(); {
	case t.IsZero():
		return zeroNanos
	case sec < minNanosSec:
		return zeroNanos + 1
	case sec > maxNanosSec:
		return math.MaxInt64
	}
	return t.UnixNano()
}

// fromNanos returns the time nanos encoded as ns, in UTC: the time zone of
// the times given to the store is not kept.
func fromNanos(ns int64) time.Time {
	if ns == zeroNanos {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Values are encoded in one immutable byte slice: the number of values, then
// for each value the length of its key, the key, the length of the value and
// the value, every length as a uvarint. Nil stands for no values.

// applyValues returns the encoding of the values of old after the changes
// of d to values (Clear, Delete, then Set), or old itself if d changes no
// value. old is not modified.
func applyValues(old []byte, d *Delta) []byte {
	if !d.Clear && len(d.Delete) == 0 && len(d.Set) == 0 {
		return old
	}
	if d.Clear {
		old = nil
	}
	kept := func(k string) bool {
		_, set := d.Set[k]
		return !set && !slices.Contains(d.Delete, k)
	}
	n, size := 0, 0
	for k, v := range allValues(old) {
		if kept(k) {
			n, size = n+1, size+pairLen(k, v)
		}
	}
	for k, v := range d.Set {
		n, size = n+1, size+pairLen(k, v)
	}
	if n == 0 {
		return nil
	}
	out := startValues(n, size)
	for k, v := range allValues(old) {
		if kept(k) {
			out = appendPair(out, k, v)
		}
	}
	for k, v := range d.Set {
		out = appendPair(out, k, v)
	}
	return out
}

// startValues returns the start of an encoding of n values whose pairs
// take size bytes (see pairLen), with room for the pairs, which appendPair
// adds.
func startValues(n, size int) []byte {
	return binary.AppendUvarint(make([]byte, 0, uvarintLen(n)+size), uint64(n))
}

func pairLen(k string, v []byte) int {
	return uvarintLen(len(k)) + len(k) + uvarintLen(len(v)) + len(v)
}

func appendPair(out []byte, k string, v []byte) []byte {
	out = append(binary.AppendUvarint(out, uint64(len(k))), k...)
	return append(binary.AppendUvarint(out, uint64(len(v))), v...)
}

func uvarintLen(n int) int { return (bits.Len(uint(n)|1) + 6) / 7 }

// decodeValues returns the values encoded in enc as a new map, nil for none,
// sharing enc's memory (see allValues).
func decodeValues(enc []byte) map[string][]byte {
	if len(enc) == 0 {
		return nil
	}
	n, _ := binary.Uvarint(enc)
	values := make(map[string][]byte, n)
	for k, v := range allValues(enc) {
		values[k] = v
	}
	return values
}

// allValues yields the keys and values encoded in enc. They share enc's
// memory, which must therefore never be modified: each value's capacity ends
// with it, so that an append to it cannot write over what follows, and the
// keys are strings over bytes that nothing writes to.
func allValues(enc []byte) iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		if len(enc) == 0 {
			return
		}
		n, i := binary.Uvarint(enc)
		for ; n > 0; n-- {
			var k, v []byte
			k, i = nextField(enc, i)
			v, i = nextField(enc, i)
			if !yield(unsafe.String(unsafe.SliceData(k), len(k)), v) {
				return
			}
		}
	}
}

// nextField returns the length-prefixed field of enc at i, and the
// position after it.
func nextField(enc []byte, i int) ([]byte, int) {
	l, w := binary.Uvarint(enc[i:])
	start := i + w
	end := start + int(l)
	return enc[start:end:end], end
}
